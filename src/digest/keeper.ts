/**
 * The digest keeper (docs/design.md, "Chat meets mail"): chat lines bound for mail and news wait in the store's
 * buffer, one open conversation per bridge; the keeper closes it into one digest post when it is quiet
 * (digest.quiet), old (digest.maxAge) or long (digest.maxLines), threads each digest as a reply to the
 * bridge's previous one, keeps which posts it holds (store.digestPosts: its lines, never read back from its text),
 * and hands the digest to the outbox for every endpoint that takes digests.
 * Rendering is src/digest/shape.ts; what each shared place already shows is src/digest/shown.ts.
 */
import { plural } from '../util.js';
import type { Logger } from 'pino';
import type { PeerpostConfig } from '../config/types.js';
import type { Post } from '../post.js';
import { mintId } from '../post.js';
import type { Router } from '../ingest/router.js';
import type { DeliveryQueue, DigestBuffer } from '../ingest/core.js';
import type { PostListeners } from '../ingest/post-listeners.js';
import type { Store } from '../store.js';
import { renderDigest, participantsLabel } from './shape.js';

/** How many ancestors a digest keeps in References. */
const MAX_REFERENCES = 20;
/** After a close that failed (the store), the lines stay buffered and the close is tried again this much later. */
const RETRY_MS = 60_000;

interface OpenConversation {
  n: number;
  first: number;
  last: number;
  timer?: NodeJS.Timeout;
}

/** What a closed digest goes on to: its outbox rows, and the post listeners. */
export interface KeeperSinks {
  deliveries: DeliveryQueue;
  listeners: PostListeners;
}

export class DigestKeeper implements DigestBuffer {
  private closing = false;
  /** Whether this process closes conversations (the digests lease; always on SQLite). */
  private held = true;
  private readonly open = new Map<string, OpenConversation>();

  constructor(
    private readonly store: Store,
    private router: Router,
    private config: PeerpostConfig,
    private readonly sinks: KeeperSinks,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** New bridges and digest settings: every open conversation's close is scheduled again. */
  setRouting(router: Router, config: PeerpostConfig): void {
    this.router = router;
    this.config = config;
    for (const bridge of this.open.keys()) this.schedule(bridge);
  }

  /**
   * Several processes on one database (src/runtime/leases.ts): only the holder of the digests lease closes
   * conversations (once); the others buffer lines only. Taking the lease picks up every buffered conversation.
   */
  setHolder(held: boolean): void {
    this.held = held;
    if (!held) for (const d of this.open.values()) clearTimeout(d.timer);
    else this.refresh();
  }

  /** The holder's view of the conversations other processes buffered: each is scheduled from what the store holds. */
  refresh(): void {
    if (!this.held || this.closing) return;
    for (const s of this.store.digestSummary()) {
      const d = this.open.get(s.bridge);
      if (d && d.n === s.n && d.first === s.first && d.last === s.last) continue;
      if (d) clearTimeout(d.timer);
      this.open.set(s.bridge, { n: s.n, first: s.first, last: s.last });
      this.schedule(s.bridge);
    }
  }

  /** Pick up conversations buffered before a restart. */
  start(): void {
    for (const s of this.store.digestSummary()) {
      this.open.set(s.bridge, { n: s.n, first: s.first, last: s.last });
      this.schedule(s.bridge);
    }
  }

  /** Stop closing conversations (shutdown): their lines stay buffered for the next start. */
  close(): void {
    this.closing = true;
    for (const d of this.open.values()) clearTimeout(d.timer);
  }

  buffer(post: Post, seq: number, now: number): void {
    this.store.addDigestLine(post.bridge, seq, now);
  }

  grew(bridge: string, at: number): void {
    const d = this.open.get(bridge) ?? { n: 0, first: at, last: at };
    d.n++;
    d.last = at;
    this.open.set(bridge, d);
    const cfg = this.router.bridge(bridge)?.digest;
    if (cfg && d.n >= cfg.maxLines) this.closeNow(bridge);
    else this.schedule(bridge);
  }

  private schedule(bridge: string): void {
    const d = this.open.get(bridge);
    if (!d || this.closing || !this.held) return;
    clearTimeout(d.timer);
    const cfg = this.router.bridge(bridge)?.digest ?? { quietMs: 600_000, maxAgeMs: 7_200_000, maxLines: 100 };
    const due = Math.min(d.last + cfg.quietMs, d.first + cfg.maxAgeMs);
    const delay = Math.max(0, due - this.now());
    d.timer = setTimeout(() => this.closeNow(bridge), Math.min(delay, 2 ** 31 - 1));
    d.timer.unref();
  }

  /** Close the bridge's open conversation into one digest post, now. Returns its id, if one was made. */
  closeNow(bridge: string): string | undefined {
    if (!this.held) return undefined;
    const d = this.open.get(bridge);
    if (d) clearTimeout(d.timer);
    this.open.delete(bridge);
    const targets = this.router.digestEndpoints(bridge);
    try {
      const made = this.store.transaction(() => {
        const lines = this.store.digestLines(bridge);
        if (lines.length === 0) return undefined;
        const lastId = lines[lines.length - 1]!.id;
        if (targets.length === 0) {
          this.store.clearDigestLines(bridge, lastId);
          this.log.info(
            { bridge, lines: lines.length },
            `bridge ${bridge} no longer has digest endpoints; ${plural(lines.length, 'buffered line')} stay${lines.length === 1 ? 's' : ''} in the archive only`,
          );
          return undefined;
        }
        const text = renderDigest(lines.map((l) => l.post));
        const prev = this.store.kvGet<{ id: string; references: string[] }>('core', `digest:${bridge}`);
        const first = lines[0]!.post;
        const post: Post = {
          id: mintId(this.config.node.hostname),
          bridge,
          origin: { account: first.origin.account, target: first.origin.target },
          author: { name: participantsLabel(text.participants), via: first.author.via },
          subject: text.subject,
          body: text.body,
          kind: 'digest',
          ...(prev ? { inReplyTo: prev.id } : {}),
          references: prev ? [...prev.references, prev.id].slice(-MAX_REFERENCES) : [],
          hops: 0,
          date: new Date(this.now()).toISOString(),
          attachments: [],
        };
        const now = this.now();
        const seq = this.store.insertPost(post, now)!;
        const start = this.sinks.deliveries.enqueue(
          post,
          seq,
          targets.map((endpoint) => ({ endpoint, shape: 'digest' as const })),
          now,
        );
        this.store.setDigestPosts(
          seq,
          lines.map((l) => l.post.seq),
        );
        this.store.clearDigestLines(bridge, lastId);
        this.store.kvSet('core', `digest:${bridge}`, { id: post.id, references: post.references });
        return { post, seq, now, start };
      });
      if (!made) return undefined;
      this.sinks.listeners.tell(made.post, made.seq, made.now);
      this.log.info({ bridge, post: made.post.id, subject: made.post.subject }, `digest closed: ${made.post.subject}`);
      made.start();
      return made.post.id;
    } catch (err) {
      this.log.error(
        { err, bridge },
        `closing the digest of ${bridge} failed; the lines stay buffered and it is tried again in a minute`,
      );
      this.open.set(bridge, { n: 0, first: this.now(), last: this.now() - 1 });
      const t = setTimeout(() => this.closeNow(bridge), RETRY_MS);
      t.unref();
      this.open.get(bridge)!.timer = t;
      return undefined;
    }
  }

  /** Number of lines waiting in each bridge's open conversation. */
  lines(): Record<string, number> {
    return Object.fromEntries([...this.open].map(([b, d]) => [b, d.n]));
  }
}
