/**
 * The core: ingest (dedup, loop guard, bridge filters, routing, one store
 * transaction) and the digest keeper that turns buffered chat lines into
 * conversation articles. Delivery is the outbox's.
 */
import type { Logger } from 'pino';
import type { PeerpostConfig, Style } from './config/types.js';
import type { IncomingPost, Post, StoredPost } from './post.js';
import { POST_KINDS, bareId, idProblem, mintId, normaliseBody } from './post.js';
import type { IngestVerdict } from './plugin.js';
import type { Router, RoutePlan } from './router.js';
import type { Outbox } from './outbox.js';
import { Store, isTemporaryStoreError, describeStoreError } from './store.js';
import { renderDigest, participantsLabel } from './shape.js';

/** How many ancestors a digest keeps in References. */
const MAX_REFERENCES = 20;
/** A group commit this long after the last one is "idle": it runs at once (a microtask), not a loop turn later. */
const IDLE_MS = 10;

export interface IngestStats {
  accepted: number;
  duplicate: number;
  ignored: number;
  rejected: number;
  tempfail: number;
}

interface PendingPost {
  post: Post;
  plan: RoutePlan;
  account: string;
  resolve: (v: IngestVerdict) => void;
}

interface DigestState {
  n: number;
  first: number;
  last: number;
  timer?: NodeJS.Timeout;
}

export class Core {
  private closing = false;
  /** Posts checked and routed, waiting for the next group commit. */
  private readonly pending: PendingPost[] = [];
  private flushScheduled = false;
  /** performance.now() of the last group commit. */
  private lastFlush = -Infinity;
  private readonly digests = new Map<string, DigestState>();
  /** Per origin account. */
  readonly stats = new Map<string, IngestStats>();
  /** Told of every post after it is committed (ctx.onPost). */
  private readonly listeners = new Set<(post: StoredPost) => void>();

  constructor(
    private readonly store: Store,
    private router: Router,
    private config: PeerpostConfig,
    /** Told when an endpoint has new rows (the outbox; a no-op when nothing delivers, as in `peerpost post` offline). */
    private readonly outbox: Pick<Outbox, 'kick'>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Call fn after commit for every accepted post, in commit order. Returns the way to stop. */
  onPost(fn: (post: StoredPost) => void): () => void {
    const entry = (p: StoredPost) => fn(p);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  private committed(post: Post, seq: number, at: number): void {
    if (this.listeners.size === 0) return;
    const stored: StoredPost = { ...post, seq, receivedAt: new Date(at).toISOString() };
    for (const fn of this.listeners) {
      try {
        fn(stored);
      } catch (err) {
        this.log.error({ err, post: post.id }, `a post listener failed: ${(err as Error).message}`);
      }
    }
  }

  get hostname(): string {
    return this.config.node.hostname;
  }

  setRouting(router: Router, config: PeerpostConfig): void {
    this.router = router;
    this.config = config;
    for (const bridge of this.digests.keys()) this.scheduleDigest(bridge);
  }

  /** Refuse new posts from now on (shutdown): senders are told to try later. */
  close(): void {
    this.closing = true;
    for (const d of this.digests.values()) clearTimeout(d.timer);
  }

  /** Pick up conversations buffered before a restart. */
  startDigests(): void {
    for (const s of this.store.digestSummary()) {
      this.digests.set(s.bridge, { n: s.n, first: s.first, last: s.last });
      this.scheduleDigest(s.bridge);
    }
  }

  /**
   * A post arriving at an account's target (a plugin's ingest). Resolves once
   * the post is committed (accepted) or refused. Posts that arrive in the same
   * turn of the event loop are committed together in one transaction (group
   * commit), in the order they arrived. When idle (no commit for IDLE_MS), the
   * commit runs as soon as the caller's synchronous code is done (posts it hands
   * over together still share it), not a loop turn later.
   */
  ingest(account: string, inc: IncomingPost): Promise<IngestVerdict> {
    const endpoint = this.router.endpointAt(account, inc.target);
    if (!endpoint)
      return this.done(account, {
        status: 'rejected',
        reason: `${account}/${inc.target} is not an endpoint of any bridge`,
      });
    if (endpoint.direction === 'out')
      return this.done(account, {
        status: 'rejected',
        reason: `${endpoint.key} only receives (direction: out); what arrives there is not relayed`,
      });
    return this.accept(account, endpoint.bridge, inc, endpoint.key, this.router.styleOf(account));
  }

  /** A post injected into a bridge from outside any endpoint (peerpost post, the web API). */
  inject(bridge: string, inc: IncomingPost, via = 'cli'): Promise<IngestVerdict> {
    if (!this.router.bridge(bridge))
      return this.done(via, { status: 'rejected', reason: `there is no bridge "${bridge}"` });
    return this.accept(via, bridge, inc, undefined, undefined);
  }

  private done(account: string, v: IngestVerdict): Promise<IngestVerdict> {
    return Promise.resolve(this.count(account, v));
  }

  private accept(
    account: string,
    bridgeName: string,
    inc: IncomingPost,
    originEndpoint: string | undefined,
    style: Style | undefined,
  ): Promise<IngestVerdict> {
    const v = this.prepare(account, bridgeName, inc, originEndpoint, style);
    if ('status' in v) return Promise.resolve(v);
    return new Promise((resolve) => {
      this.pending.push({ ...v, account, resolve });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Idle (no commit in the last IDLE_MS): commit when the code that called us is done (a microtask), not a
        // loop turn later — a line relayed at a calm pace does not wait. Busy: wait for the turn, so that the posts
        // arriving in it share one transaction (group commit).
        if (performance.now() - this.lastFlush > IDLE_MS) queueMicrotask(() => this.flush());
        else setImmediate(() => this.flush());
      }
    });
  }

  /** Check and route a post; a verdict when it is refused here, else what to commit. */
  private prepare(
    account: string,
    bridgeName: string,
    inc: IncomingPost,
    originEndpoint: string | undefined,
    style: Style | undefined,
  ): IngestVerdict | { post: Post; plan: RoutePlan } {
    if (this.closing)
      return this.count(account, { status: 'tempfail', reason: 'peerpost is shutting down; try again in a moment' });
    const bridge = this.router.bridge(bridgeName)!;
    const minted = inc.id === undefined || inc.id.trim() === '';
    const id = minted ? mintId(this.hostname) : bareId(inc.id!);
    const problem = idProblem(id);
    if (problem) return this.count(account, { status: 'rejected', reason: problem });
    const hops = inc.hops ?? 0;
    if (!Number.isInteger(hops) || hops < 0)
      return this.count(account, { status: 'rejected', reason: `hops must be a whole number, got ${hops}` });
    if (hops > this.config.node.maxHops)
      return this.count(account, {
        status: 'rejected',
        reason: `the post crossed ${hops} relays (node.maxHops is ${this.config.node.maxHops}): refused as a probable loop`,
      });
    // A freshly minted id (a UUID) cannot be held yet: no lookup (an IRC line's relay latency).
    if (!minted && this.store.hasPost(id)) return this.count(account, { status: 'duplicate', id });
    const kind = inc.kind ?? 'message';
    if (!POST_KINDS.includes(kind))
      return this.count(account, { status: 'rejected', reason: `unknown post kind "${kind}"` });

    const nick = inc.author.name.toLowerCase();
    if (bridge.ignore.nicks.includes(nick))
      return this.ignore(account, id, `${inc.author.name} is in bridges.${bridgeName}.ignore.nicks`);
    let body = normaliseBody(inc.body);
    for (const re of bridge.ignore.patterns) {
      re.lastIndex = 0;
      if (re.test(body))
        return this.ignore(account, id, `the text matches bridges.${bridgeName}.ignore.patterns ${re}`);
    }
    for (const r of bridge.replace) body = body.replace(r.pattern, r.with);

    const date = inc.date === undefined ? new Date(this.now()) : new Date(inc.date);
    const post: Post = {
      id,
      bridge: bridgeName,
      origin: { account, target: inc.target },
      author: {
        name: inc.author.name || 'unknown',
        via: inc.author.via,
        ...(inc.author.address ? { address: inc.author.address } : {}),
        ...(inc.author.account ? { account: inc.author.account } : {}),
      },
      ...(inc.subject !== undefined && inc.subject !== '' ? { subject: inc.subject } : {}),
      body,
      kind,
      ...(inc.inReplyTo ? { inReplyTo: bareId(inc.inReplyTo) } : {}),
      references: (inc.references ?? []).map(bareId),
      hops,
      date: (Number.isNaN(date.getTime()) ? new Date(this.now()) : date).toISOString(),
      attachments: inc.attachments ?? [],
    };
    return { post, plan: this.router.plan(post, originEndpoint, style) };
  }

  /** Commit every post waiting since the last turn in one transaction, then answer each. */
  private flush(): void {
    this.flushScheduled = false;
    this.lastFlush = performance.now();
    const batch = this.pending.splice(0, this.pending.length);
    if (batch.length === 0) return;
    const now = this.now();
    // The outbox row of each delivery, by item: handed to the outbox with the kick (it need not read them back).
    const rowsOf = new Map<PendingPost, number[]>();
    const write = (items: PendingPost[]) =>
      this.store.transaction(() =>
        items.map((item) => {
          const { post, plan } = item;
          const seq = this.store.insertPost(post, now);
          if (seq === undefined) return undefined;
          rowsOf.set(
            item,
            plan.deliveries.map((d) => this.store.addDelivery(seq, d.endpoint.key, d.shape, now)),
          );
          if (plan.digest.length > 0) this.store.addDigestLine(post.bridge, seq, now);
          return seq;
        }),
      );
    let seqs: (number | undefined | Error)[];
    try {
      seqs = write(batch);
    } catch (err) {
      rowsOf.clear(); // rolled back
      // One by one, so that one post that cannot be written does not take the others with it.
      if (batch.length === 1) seqs = [err as Error];
      else
        seqs = batch.map((item) => {
          try {
            return write([item])[0];
          } catch (e) {
            return e as Error;
          }
        });
    }
    const touched: string[] = [];
    batch.forEach((item, i) => {
      const seq = seqs[i];
      const { post, plan, account } = item;
      if (seq instanceof Error) {
        const e = describeStoreError(seq, this.store.file);
        const temporary = isTemporaryStoreError(seq);
        this.log.error(
          { err: seq, post: post.id },
          `a post could not be stored; the sender is told ${temporary ? 'to try later' : 'it failed'}: ${e.message}`,
        );
        item.resolve(
          this.count(
            account,
            temporary
              ? { status: 'tempfail', reason: e.message }
              : { status: 'tempfail', reason: `the store failed: ${e.message}` },
          ),
        );
        return;
      }
      if (seq === undefined) {
        item.resolve(this.count(account, { status: 'duplicate', id: post.id }));
        return;
      }
      this.log.debug(
        {
          account,
          post: post.id,
          bridge: post.bridge,
          to: plan.deliveries.map((d) => d.endpoint.key),
          digest: plan.digest.length > 0,
        },
        'post accepted',
      );
      const rows = rowsOf.get(item);
      // As the store gives it back (the same JSON), and not shared with the post listeners below.
      const stored = rows && rows.length > 0 ? (JSON.parse(JSON.stringify(post)) as Post) : post;
      plan.deliveries.forEach((d, j) => {
        const row = rows?.[j];
        this.outbox.kick(
          d.endpoint.key,
          row === undefined
            ? undefined
            : {
                row,
                postSeq: seq,
                postId: post.id,
                bridge: post.bridge,
                endpoint: d.endpoint.key,
                shape: d.shape,
                state: 'pending',
                attempts: 0,
                nextAt: 0,
                createdAt: now,
                lastError: null,
                deadAt: null,
                post: stored,
              },
        );
      });
      if (plan.digest.length > 0) touched.push(post.bridge);
      item.resolve(this.count(account, { status: 'accepted', id: post.id, seq }));
      this.committed(post, seq, now);
    });
    // After every post of the batch is told, so a digest this closes comes after them (commit order).
    for (const bridge of touched) this.touchDigest(bridge, now);
  }

  private ignore(account: string, id: string, reason: string): IngestVerdict {
    this.log.info({ account, post: id, reason }, `not relayed: ${reason}`);
    return this.count(account, { status: 'ignored', id, reason });
  }

  private count(account: string, v: IngestVerdict): IngestVerdict {
    let s = this.stats.get(account);
    if (!s) this.stats.set(account, (s = { accepted: 0, duplicate: 0, ignored: 0, rejected: 0, tempfail: 0 }));
    s[v.status]++;
    if (v.status === 'rejected') this.log.info({ account, reason: v.reason }, `refused a post: ${v.reason}`);
    return v;
  }

  // ---- digests ----

  private touchDigest(bridge: string, at: number): void {
    const d = this.digests.get(bridge) ?? { n: 0, first: at, last: at };
    d.n++;
    d.last = at;
    this.digests.set(bridge, d);
    const cfg = this.router.bridge(bridge)?.digest;
    if (cfg && d.n >= cfg.maxLines) this.closeDigest(bridge);
    else this.scheduleDigest(bridge);
  }

  private scheduleDigest(bridge: string): void {
    const d = this.digests.get(bridge);
    if (!d || this.closing) return;
    clearTimeout(d.timer);
    const cfg = this.router.bridge(bridge)?.digest ?? { quietMs: 600_000, maxAgeMs: 7_200_000, maxLines: 100 };
    const due = Math.min(d.last + cfg.quietMs, d.first + cfg.maxAgeMs);
    const delay = Math.max(0, due - this.now());
    d.timer = setTimeout(() => this.closeDigest(bridge), Math.min(delay, 2 ** 31 - 1));
    d.timer.unref();
  }

  /** Close the bridge's open conversation into one digest post, now. Returns its id, if one was made. */
  closeDigest(bridge: string): string | undefined {
    const d = this.digests.get(bridge);
    if (d) clearTimeout(d.timer);
    this.digests.delete(bridge);
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
            `bridge ${bridge} no longer has digest endpoints; ${lines.length} buffered lines stay in the archive only`,
          );
          return undefined;
        }
        const text = renderDigest(lines.map((l) => l.post));
        const prev = this.store.kvGet<{ id: string; references: string[] }>('core', `digest:${bridge}`);
        const first = lines[0]!.post;
        const post: Post = {
          id: mintId(this.hostname),
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
        for (const e of targets) this.store.addDelivery(seq, e.key, 'digest', now);
        this.store.clearDigestLines(bridge, lastId);
        this.store.kvSet('core', `digest:${bridge}`, { id: post.id, references: post.references });
        return { post, seq, now };
      });
      if (!made) return undefined;
      this.committed(made.post, made.seq, made.now);
      this.log.info({ bridge, post: made.post.id, subject: made.post.subject }, `digest closed: ${made.post.subject}`);
      for (const e of targets) this.outbox.kick(e.key);
      return made.post.id;
    } catch (err) {
      this.log.error(
        { err, bridge },
        `closing the digest of ${bridge} failed; the lines stay buffered and it is tried again in a minute`,
      );
      this.digests.set(bridge, { n: 0, first: this.now(), last: this.now() - 1 });
      const t = setTimeout(() => this.closeDigest(bridge), 60_000);
      t.unref();
      this.digests.get(bridge)!.timer = t;
      return undefined;
    }
  }

  /** Number of lines waiting in each bridge's open conversation. */
  openDigests(): Record<string, number> {
    return Object.fromEntries([...this.digests].map(([b, d]) => [b, d.n]));
  }
}
