/**
 * What each place already shows, for digests (docs/design.md, "Loop guard", "Two
 * nodes"): a memory per endpoint of the digest lines it shows, so that a second
 * copy of a line is not sent where the first already arrived by another path.
 *
 * The case it exists for: two peerpost nodes bridge the same IRC channel and
 * the same newsgroup on a shared server (two communities sharing a channel).
 * Both hear every line said in the channel, so both close a digest of the same
 * conversation; each also holds lines only it put there (its own web, CLI, …).
 * Without this memory the shared group gets the conversation twice, and each
 * node's own list gets it twice too (its own digest, then the other node's,
 * taken in from the group).
 *
 * What it does:
 * - a digest is a list of lines, each known by its minute, author and normalised text: our own digest's lines are
 *   the posts it holds (kept by the keeper when it closed: store.digestPosts); another node's are read back
 *   from its text (parseDigest), the one place a digest's text is parsed;
 * - delivering a digest to an endpoint records its lines as shown there; a
 *   digest that arrives *from* an endpoint (another node's, read in a shared
 *   group) records its lines as shown there, and that its node writes there;
 * - a digest delivered to an endpoint carries only the lines the endpoint does
 *   not show yet (with a note naming where the rest is); a digest all of whose
 *   lines are shown there is delivered by sending nothing;
 * - where other nodes are known to write digests to the same endpoint (from their
 *   digests read there) or to hear the same channel (an IRC relay's real name
 *   "peerpost relay on HOST": ctx.peerNode), the nodes take turns by hostname: the n-th waits n × `digest.settle` after closing,
 *   looks at the place again (the plugin's refresh: an NNTP peer polls the
 *   group), then sends what is left. So the first node's digest is there before
 *   the second sends, and the second sends only its own lines.
 *
 * Limits (documented in README.md): nodes that do not share a channel (or hide
 * their hostname) learn of each other only from a digest read in the shared
 * place, so their first conversation there can show twice; a line counts as the
 * same line only when both nodes saw the same minute, author name and text.
 */
import { createHash } from 'node:crypto';
import type { SqlDatabase } from '../sql.js';
import type { Post } from '../post.js';
import { placesTag, renderDigest } from './shape.js';

/** One line of a digest: a post it holds (ours), or a line parsed back from its text (another node's). */
export interface DigestLine {
  date: string;
  author: string;
  kind: 'message' | 'action' | 'notice';
  body: string;
}

/**
 * A line's identity: the minute it was said (UTC), its author (any case) and its text with whitespace folded.
 * The minute keeps apart the same words said again later ("ok", "thanks"): without it a later conversation's
 * line would count as shown and be left out. Two nodes that heard a line either side of a minute's turn see two
 * lines: the place then shows it twice, which is the safe side.
 */
export function lineKey(line: Pick<DigestLine, 'date' | 'author' | 'body'>): string {
  const norm = (s: string) => s.normalize('NFC').replace(/\s+/g, ' ').trim();
  const minute = new Date(line.date).toISOString().slice(0, 16);
  return createHash('sha256')
    .update(`${minute}\u0000${norm(line.author).toLowerCase()}\u0000${norm(line.body)}`)
    .digest('base64url')
    .slice(0, 22);
}

/** The lines of a digest of ours, from the posts it holds. */
export function linesOf(posts: readonly Pick<Post, 'date' | 'author' | 'body' | 'kind'>[]): DigestLine[] {
  return posts.map((p) => ({
    date: p.date,
    author: p.author.name,
    kind: p.kind === 'action' || p.kind === 'notice' ? p.kind : 'message',
    body: p.body,
  }));
}

const DAY = /^(\d{4}-\d{2}-\d{2}) UTC$/;
const LINE = /^(\d{2}):(\d{2}) (?:<(.+?)>|\* (\S+)|-(.+?)-) (.*)$/;
const MORE = /^ {6}(.*)$/;

/**
 * The lines of another node's digest, read back from its text as renderDigest wrote it ("YYYY-MM-DD UTC",
 * then "14:02 <alice> hello", "14:03 * alice waves", "14:04 -bot- notice", continuation lines indented by six
 * spaces). Undefined when the text is not a digest of that form (a digest written by hand, or by another tool):
 * it is then delivered as it is. Our own digests' lines are never read back: they are stored (linesOf).
 */
export function parseDigest(body: string): DigestLine[] | undefined {
  const out: DigestLine[] = [];
  let day: string | undefined;
  for (const raw of body.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (line.startsWith('(') && out.length === 0) continue; // the note of a shortened digest
    const d = DAY.exec(line);
    if (d) {
      day = d[1];
      continue;
    }
    const m = LINE.exec(line);
    if (m && day) {
      const [, hh, mm, msg, act, notice, text] = m;
      out.push({
        date: `${day}T${hh}:${mm}:00.000Z`,
        author: (msg ?? act ?? notice)!,
        kind: msg !== undefined ? 'message' : act !== undefined ? 'action' : 'notice',
        body: text!,
      });
      continue;
    }
    const c = MORE.exec(line);
    if (c && out.length > 0) {
      out[out.length - 1]!.body += `\n${c[1]}`;
      continue;
    }
    return undefined;
  }
  return out.length > 0 ? out : undefined;
}

/** The node a post was minted on: the domain of its Message-ID. */
export const nodeOf = (id: string): string => id.slice(id.lastIndexOf('@') + 1).toLowerCase();

/**
 * The digest with only `keep` of its lines, for a place that shows the others already: same id, same thread,
 * its subject's place tag kept, the span and count of what it now holds, and a first line saying where the rest is.
 * `places`: the whole conversation's places (placesTag of the posts it holds), known for a digest of ours; for
 * another node's, they are taken from its subject.
 */
export function shortenDigest(post: Post, keep: DigestLine[], shownIn: string[], total: number, places?: string): Post {
  const text = renderDigest(
    keep.map((l) => ({
      date: l.date,
      author: { name: l.author, via: post.author.via },
      body: l.body,
      kind: l.kind,
      origin: post.origin,
    })),
  );
  const tag = places !== undefined ? `[${places}]` : /^(\[[^\]]*\]) conversation, /.exec(post.subject ?? '')?.[1];
  const subject = tag ? text.subject.replace(/^\[[^\]]*\]/, tag) : text.subject;
  const other = total - keep.length;
  const where = shownIn.length
    ? `, in ${shownIn
        .slice(0, 3)
        .map((i) => `<${i}>`)
        .join(', ')}`
    : '';
  const note = `(${other} more ${other === 1 ? 'line' : 'lines'} of this conversation ${other === 1 ? 'is' : 'are'} here already${where}.)\n\n`;
  return { ...post, subject, body: note + text.body };
}

const KEEP_MS = 7 * 24 * 3600_000;
const NODES_KEEP_MS = 30 * 24 * 3600_000;

/** The memory itself: rows of (endpoint, line key) with the post that showed the line there. */
export class ShownMemory {
  private readonly q;

  constructor(private readonly db: SqlDatabase) {
    this.q = {
      get: db.prepare('SELECT post_id FROM shown WHERE endpoint = ? AND key = ?').pluck(),
      put: db.prepare(
        'INSERT INTO shown (endpoint, key, post_id, at) VALUES (?, ?, ?, ?) ON CONFLICT (endpoint, key) DO UPDATE SET at = excluded.at',
      ),
      prune: db.prepare('DELETE FROM shown WHERE at < ?'),
      node: db.prepare(
        'INSERT INTO shown_nodes (endpoint, node, at) VALUES (?, ?, ?) ON CONFLICT (endpoint, node) DO UPDATE SET at = excluded.at',
      ),
      nodes: db.prepare('SELECT node FROM shown_nodes WHERE endpoint = ? AND at >= ? ORDER BY node').pluck(),
      pruneNodes: db.prepare('DELETE FROM shown_nodes WHERE at < ?'),
    };
  }

  /** These lines are shown at the endpoint now, by the post `postId`. */
  record(endpoint: string, lines: readonly DigestLine[], postId: string, at: number): void {
    this.db.transaction(() => {
      for (const l of lines) this.q.put.run(endpoint, lineKey(l), postId, at);
    })();
  }

  /** For each line: the post that shows it at the endpoint already, if one does. */
  shownBy(endpoint: string, lines: readonly DigestLine[]): (string | undefined)[] {
    return lines.map((l) => this.q.get.get(endpoint, lineKey(l)) as string | undefined);
  }

  /** Nodes by endpoint, read once (a chat delivery asks on every post: no query on that path). */
  private nodeCache = new Map<string, { at: number; nodes: string[] }>();

  /** Another node writes digests to this endpoint (seen now). True when it was not known (lately). */
  noteNode(endpoint: string, node: string, at: number): boolean {
    const known = this.nodes(endpoint, at).includes(node.toLowerCase());
    this.q.node.run(endpoint, node.toLowerCase(), at);
    this.nodeCache.delete(endpoint);
    return !known;
  }

  /** The other nodes seen writing digests to this endpoint lately, by name (read again at most once a minute). */
  nodes(endpoint: string, now: number): string[] {
    const c = this.nodeCache.get(endpoint);
    if (c && now - c.at < 60_000 && now >= c.at) return c.nodes;
    const nodes = this.q.nodes.all(endpoint, now - NODES_KEEP_MS) as string[];
    this.nodeCache.set(endpoint, { at: now, nodes });
    return nodes;
  }

  /** Forget what is older than a week (nodes: a month). */
  prune(now: number): void {
    this.q.prune.run(now - KEEP_MS);
    this.q.pruneNodes.run(now - NODES_KEEP_MS);
    this.nodeCache.clear();
  }
}

/** This node's turn among the nodes writing digests to one place: 0 goes first. */
export function turnOf(self: string, others: readonly string[]): number {
  const me = self.toLowerCase();
  return [...new Set([...others.map((o) => o.toLowerCase()), me])].sort().indexOf(me);
}

/** What a digest delivery needs from the daemon. */
export interface SharedDeliveryDeps {
  memory: ShownMemory;
  /**
   * The posts a digest of ours holds, in order, as kept when it closed (store.digestPosts); empty for a digest
   * closed before they were kept (an older peerpost), whose text is then read back as another node's would be.
   */
  heldBy: (
    digestId: string,
  ) => readonly (Pick<Post, 'date' | 'author' | 'body' | 'kind' | 'origin'> & { bridge?: string })[];
  hostname: () => string;
  /** digest.settle of the post's bridge. */
  settleMs: (bridge: string) => number;
  /** The chat endpoints of a bridge (where other nodes hear the lines a digest holds). */
  chatEndpoints: (bridge: string) => string[];
  /** The longest a deliver() may take (delivery.timeout): a turn never waits half of it or more. */
  timeoutMs: () => number;
  now: () => number;
  log: import('pino').Logger;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** The account side of one delivery: the plugin's deliver, and its refresh if it has one. */
export interface SharedPlace {
  endpoint: string;
  /** The endpoint is a chat place (its plugin remembers what other relays said there: IRC). */
  chat?: boolean;
  /** The endpoint the post came in at, if it came in at one. */
  origin?: string;
  /**
   * The post came in at a place other nodes may read too: its account can look at it again (refresh: a group on
   * a news server, which two nodes may both poll). Undefined or false for places that are this node's own.
   */
  originShared?: boolean;
  /** The delivery's attempt number (1 = the first). */
  attempt?: number;
  deliver: (post: Post) => Promise<import('../plugin.js').Outcome>;
  refresh?: () => Promise<void>;
}

const pause = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Deliveries to places shared with other peerpost nodes. A digest goes through the memory: it waits this node's
 * turn where other nodes write digests to the place, lets the plugin look at the place again, sends only what
 * the place does not show, and records what it shows after a delivery. A post read from a shared place, going to
 * a chat place, waits this node's turn once (the chat plugin's own memory then keeps a second copy out).
 * Anything else goes straight through.
 */
export class SharedDeliveries {
  private readonly abort = new AbortController();

  constructor(private readonly d: SharedDeliveryDeps) {}

  stop(): void {
    this.abort.abort();
  }

  /** Another peerpost node is at this endpoint (an IRC relay in the channel, told by the plugin). */
  peerNode(endpoint: string, hostname: string): void {
    const node = hostname.toLowerCase();
    if (node === this.d.hostname().toLowerCase()) return;
    try {
      if (this.d.memory.noteNode(endpoint, node, this.d.now()))
        this.d.log.info(
          { endpoint, node },
          `the peerpost node ${node} is at ${endpoint} too: where both may send the same digest or post, they take turns`,
        );
    } catch (err) {
      this.d.log.warn(
        { err, endpoint, node },
        `could not note the peerpost node ${node} at ${endpoint}: ${(err as Error).message}`,
      );
    }
  }

  /** A post committed into the store: another node's digest read from a place tells what that place shows. */
  observed(post: Pick<Post, 'id' | 'kind' | 'body'>, fromEndpoint: string | undefined, at: number): void {
    if (post.kind !== 'digest' || !fromEndpoint) return;
    const node = nodeOf(post.id);
    if (node === this.d.hostname().toLowerCase()) return;
    const lines = parseDigest(post.body);
    if (!lines) return;
    this.d.memory.record(fromEndpoint, lines, post.id, at);
    if (this.d.memory.noteNode(fromEndpoint, node, at)) {
      const all = [...this.d.memory.nodes(fromEndpoint, at), this.d.hostname().toLowerCase()].sort();
      this.d.log.info(
        { endpoint: fromEndpoint, node, nodes: all },
        `the peerpost node ${node} also sends digests to ${fromEndpoint}: digests there now take turns (${all.join(', ')}; digest.settle apart), and each sends only lines not there yet`,
      );
    }
  }

  /**
   * A digest's lines: ours as stored when it closed, with the places it was said in; another node's (or an old
   * one of ours) read from its text.
   */
  private linesOfDigest(post: Post, own: boolean): { lines: DigestLine[]; places?: string } | undefined {
    const held = own ? this.d.heldBy(post.id) : [];
    if (held.length > 0) return { lines: linesOf(held), places: placesTag(held) };
    const lines = parseDigest(post.body);
    return lines && { lines };
  }

  /** Wait this node's turn among those known at `shared` (0 = first: no wait), until `from` + turn × settle. */
  private async turn(post: Post, shared: string | string[], from: number, what: string): Promise<boolean> {
    const others = [
      ...new Set((Array.isArray(shared) ? shared : [shared]).flatMap((e) => this.d.memory.nodes(e, this.d.now()))),
    ];
    const turn = turnOf(this.d.hostname(), others);
    if (turn === 0) return true;
    const wait = Math.min(
      from + turn * this.d.settleMs(post.bridge) - this.d.now(),
      Math.floor(this.d.timeoutMs() / 2) - 1000,
    );
    if (wait <= 0) return true;
    this.d.log.info(
      { post: post.id, shared, turn, others, waitMs: wait },
      `${what} <${post.id}> waits its turn for ${shared}: ${(wait / 1000).toFixed(1)} s (node ${turn + 1} of ${others.length + 1}; ${others.join(', ')} first)`,
    );
    await (this.d.sleep ?? pause)(wait, this.abort.signal);
    return !this.abort.signal.aborted;
  }

  /**
   * Whether a post's first try goes straight to the plugin here (no digest to shorten, no turn to take with other
   * nodes): where it does, it may be said before its commit (the outbox's `first`).
   */
  straight(post: Post, place: Pick<SharedPlace, 'chat' | 'origin' | 'originShared'>): boolean {
    return post.kind !== 'digest' && !(place.chat && this.sharedOrigin(place));
  }

  /**
   * A post read from a place other nodes read too (a shared group) reaches each of them. The origin counts as shared
   * when its account can look at it again (a news peer) or other nodes are known there (their articles or digests
   * read there).
   */
  private sharedOrigin(place: Pick<SharedPlace, 'origin' | 'originShared'>): boolean {
    return (
      place.origin !== undefined &&
      (place.originShared === true || this.d.memory.nodes(place.origin, this.d.now()).length > 0)
    );
  }

  async deliver(post: Post, place: SharedPlace): Promise<import('../plugin.js').Outcome> {
    const stopping = { result: 'retry', reason: 'peerpost is stopping; the post waits in the outbox' } as const;
    const self = this.d.hostname();
    const own = nodeOf(post.id) === self.toLowerCase();
    const digest = post.kind === 'digest' ? this.linesOfDigest(post, own) : undefined;
    const lines = digest?.lines;
    if (!lines) {
      // A post read from a place other nodes read too (a shared group, sharedOrigin) reaches each of them: in a chat
      // place they share, the first in turn says it, and the others' relay memory then sees it said (IRC: "already
      // said here by node_one"). Waits once, on the first attempt. The nodes whose turn comes first are those
      // heard in this chat place (their relay's real name): a node that is not here will not say it here.
      if (
        place.chat &&
        this.sharedOrigin(place) &&
        (place.attempt ?? 1) === 1 &&
        !(await this.turn(post, place.endpoint, this.d.now(), 'a post from a shared place'))
      )
        return stopping;
      return place.deliver(post);
    }
    // The nodes known to write digests here; and, where the place may be shared (the plugin can look at it again:
    // a news server), also those heard in the bridge's channels: they digest the same lines.
    const shared = place.refresh ? [place.endpoint, ...this.d.chatEndpoints(post.bridge)] : [place.endpoint];
    if (own && !(await this.turn(post, shared, Date.parse(post.date), 'digest'))) return stopping;
    if (place.refresh) {
      try {
        await place.refresh();
      } catch (err) {
        this.d.log.warn(
          { err, endpoint: place.endpoint },
          `could not look at ${place.endpoint} before sending a digest there: ${(err as Error).message}; sending it whole`,
        );
      }
    }
    const by = this.d.memory.shownBy(place.endpoint, lines);
    const keep = lines.filter((_, i) => by[i] === undefined);
    const elsewhere = [...new Set(by.filter((x): x is string => x !== undefined && x !== post.id))];
    if (keep.length === 0) {
      this.d.log.info(
        { post: post.id, endpoint: place.endpoint, shownIn: elsewhere },
        `digest ${post.id}: ${place.endpoint} shows every line of it already${elsewhere.length ? ` (in ${elsewhere.join(', ')})` : ''}; nothing sent`,
      );
      return { result: 'delivered' };
    }
    const sent =
      keep.length === lines.length ? post : shortenDigest(post, keep, elsewhere, lines.length, digest?.places);
    if (sent !== post)
      this.d.log.info(
        { post: post.id, endpoint: place.endpoint, lines: lines.length, sending: keep.length, shownIn: elsewhere },
        `digest ${post.id}: ${place.endpoint} shows ${lines.length - keep.length} of its ${lines.length} lines already; sending the other ${keep.length}`,
      );
    const outcome = await place.deliver(sent);
    if (outcome.result === 'delivered') this.d.memory.record(place.endpoint, lines, post.id, this.d.now());
    return outcome;
  }
}
