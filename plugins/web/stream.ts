/**
 * WS /api/stream?bridge=NAME&since=CURSOR — every client gets every post of
 * its bridge, in order, from its own position: there is no shared buffer.
 *
 * A client starts in replay: it reads the store (posts.since) from its cursor
 * in batches, each batch sent only once the previous one has drained. When a
 * read comes back empty it turns live in the same tick, so a post committed
 * after that read reaches it through onPost, and one committed before it was
 * in the read: no gap, and `seq <= last` drops any repeat.
 *
 * A live client whose unread bytes (bufferedAmount) pass `maxBuffered` is
 * closed with 4008 rather than kept growing; a replaying client that does not
 * drain within `stallMs` likewise. Heartbeats: a ping every `heartbeatMs`; a
 * client that has not answered the previous one is cut.
 *
 * The stream is what arrives: posts carried in by `peerpost import` (an old
 * archive) are not in it, live or replayed; the pages and the API list them in
 * their place by date.
 */
import type { WebSocket } from 'ws';
import type { Logger, PostReader, RemovedPost, StoredPost } from '../../src/plugin.js';
import { publicRemoval } from '../../src/plugin.js';

export const CLOSE_SLOW = 4008;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_UNSUPPORTED = 1003;

const REPLAY_BATCH = 200;

export interface StreamOptions {
  posts: PostReader;
  log: Logger;
  maxBuffered: number;
  heartbeatMs: number;
  /** A replaying client that does not drain within this is cut (4008). */
  stallMs: number;
  /** How a post looks on the wire (and in the API). */
  toJson(p: StoredPost): Record<string, unknown>;
  /** A message a client sent (not a post of ours): answer it, or undefined for nothing. */
  onMessage(c: StreamClient, msg: unknown): Promise<Record<string, unknown> | undefined>;
}

export interface StreamClient {
  ws: WebSocket;
  /** The bridge name in the store. */
  bridge: string;
  /** Its name on the web (/b/NAME). */
  name: string;
  live: boolean;
  /** seq of the last post sent. */
  last: number;
  alive: boolean;
  closed: boolean;
}

export class Stream {
  readonly clients = new Set<StreamClient>();
  slowCuts = 0;
  private readonly beat: NodeJS.Timeout;
  private wire: { seq: number; data: Buffer } | undefined;

  constructor(private readonly o: StreamOptions) {
    this.beat = setInterval(() => this.heartbeat(), o.heartbeatMs);
    this.beat.unref();
  }

  /** A new connection: hello, then replay from `since` (or live from now when since is undefined). */
  attach(ws: WebSocket, bridge: string, name: string, since: number | undefined): StreamClient {
    const newest = this.o.posts.latest(bridge, { limit: 1 })[0]?.seq ?? 0;
    const c: StreamClient = { ws, bridge, name, live: false, last: since ?? newest, alive: true, closed: false };
    this.clients.add(c);
    ws.on('pong', () => (c.alive = true));
    ws.on('close', () => {
      c.closed = true;
      this.clients.delete(c);
    });
    ws.on('error', (err) => this.o.log.debug({ err }, `stream client error: ${err.message}`));
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.close(CLOSE_UNSUPPORTED, 'send JSON text frames');
        return;
      }
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        this.send(c, { type: 'error', error: 'not JSON: send {"type":"post","token":"…","body":"…"}' });
        return;
      }
      this.o.onMessage(c, msg).then(
        (answer) => answer && this.send(c, answer),
        (err: Error) => {
          this.o.log.error({ err }, `a stream message failed: ${err.message}`);
          this.send(c, { type: 'error', error: 'the message could not be handled; nothing was kept' });
        },
      );
    });
    this.send(c, { type: 'hello', bridge: name, cursor: c.last, replay: since !== undefined });
    void this.replay(c);
    return c;
  }

  /**
   * Every committed post (all bridges, in seq order): to each live client of its bridge. An imported post (an old
   * archive carried in, even with --deliver) is not news: it stays out of the stream, as posts.since leaves it out.
   */
  onPost(p: StoredPost): void {
    if (p.imported) return;
    let data: Buffer | undefined;
    for (const c of this.clients) {
      if (!c.live || c.closed || c.bridge !== p.bridge || p.seq <= c.last) continue;
      if (c.ws.bufferedAmount > this.o.maxBuffered) {
        this.cut(
          c,
          `too slow: ${c.ws.bufferedAmount} bytes sent and not read (limit ${this.o.maxBuffered}); reconnect with since=${c.last}`,
        );
        continue;
      }
      data ??= this.encode(p);
      c.ws.send(data, { binary: false });
      c.last = p.seq;
    }
  }

  /**
   * Posts removed from the archive: each client of their bridge gets {type: "removed", id, reason} (the page
   * takes the post away), whatever its position: a client replaying from before it simply never reads it.
   */
  onRemoved(removed: readonly RemovedPost[]): void {
    for (const r of removed) {
      const msg = { type: 'removed', id: r.id, seq: r.post.seq, reason: publicRemoval(r) };
      for (const c of this.clients) if (c.bridge === r.bridge) this.send(c, msg);
    }
  }

  /** Close the clients of bridges no longer served (after a reload changed the bridges). */
  prune(served: (bridge: string) => boolean): void {
    for (const c of this.clients) {
      if (served(c.bridge)) continue;
      c.closed = true;
      c.ws.close(CLOSE_GOING_AWAY, `bridge ${c.name} is no longer served here`);
    }
  }

  /** Tell every client (1001, with its cursor), give them `graceMs` to answer, then cut what is left. */
  async close(graceMs = 1000): Promise<void> {
    clearInterval(this.beat);
    for (const c of this.clients) {
      c.closed = true;
      c.ws.close(CLOSE_GOING_AWAY, 'the server is stopping; reconnect with since=' + c.last);
    }
    const end = Date.now() + graceMs;
    while (this.clients.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.clients) c.ws.terminate();
  }

  private encode(p: StoredPost): Buffer {
    if (this.wire?.seq === p.seq) return this.wire.data;
    const data = Buffer.from(JSON.stringify({ type: 'post', post: this.o.toJson(p) }));
    this.wire = { seq: p.seq, data };
    return data;
  }

  private send(c: StreamClient, msg: Record<string, unknown>): void {
    if (!c.closed && c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify(msg));
  }

  private cut(c: StreamClient, reason: string): void {
    if (c.closed) return;
    c.closed = true;
    this.slowCuts++;
    this.o.log.warn({ bridge: c.bridge, last: c.last }, `stream client cut (close ${CLOSE_SLOW}): ${reason}`);
    // A close reason is at most 123 bytes.
    c.ws.close(CLOSE_SLOW, reason.length > 120 ? reason.slice(0, 120) : reason);
  }

  private async replay(c: StreamClient): Promise<void> {
    const low = Math.floor(this.o.maxBuffered / 2);
    for (;;) {
      if (c.closed) return;
      const batch = this.o.posts.since(c.bridge, c.last, REPLAY_BATCH);
      if (batch.length === 0) {
        // Same tick as the empty read: from here on onPost brings every newer post.
        c.live = true;
        this.send(c, { type: 'live', cursor: c.last });
        return;
      }
      for (const p of batch) {
        c.ws.send(this.encode(p), { binary: false });
        c.last = p.seq;
      }
      if (c.ws.bufferedAmount > low) {
        const t0 = Date.now();
        while (!c.closed && c.ws.bufferedAmount > low) {
          if (Date.now() - t0 > this.o.stallMs) {
            this.cut(
              c,
              `too slow: the replay did not drain in ${Math.round(this.o.stallMs / 1000)} s; reconnect with since=${c.last}`,
            );
            return;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      } else {
        await new Promise((r) => setImmediate(r));
      }
    }
  }

  private heartbeat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.o.log.debug({ bridge: c.bridge }, 'stream client did not answer a ping; cut');
        c.closed = true;
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}
