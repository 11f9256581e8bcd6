/**
 * The finger listener (RFC 1288): one query line, the answer, close.
 * Guards: the query is capped at MAX_QUERY_BYTES, an idle client is closed,
 * each address gets `rate` queries per window, at most `maxClients` at once.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { MAX_QUERY_BYTES, parseQuery, type Query } from './query.js';
import { oneLineAnswer } from './render.js';

export interface ServerOptions {
  idleTimeoutMs: number;
  /** Queries per address per window; 0 turns the limit off. */
  rateQueries: number;
  rateWindowMs: number;
  maxClients: number;
  /** Answer a parsed query (never throws for a client's input; an exception is answered as an error line). */
  answer(q: Query, remote: string): string | Promise<string>;
  onError?(err: Error): void;
}

/** A sliding-window counter per address: at most `limit` events per `windowMs`. */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  private sweepAt = 0;
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count one event for `key`; false when it is over the limit (an event refused does not count). */
  take(key: string): boolean {
    if (this.limit <= 0) return true;
    const t = this.now();
    const from = t - this.windowMs;
    if (t >= this.sweepAt) this.sweep(from, t);
    const list = (this.hits.get(key) ?? []).filter((x) => x > from);
    if (list.length >= this.limit) {
      this.hits.set(key, list);
      return false;
    }
    list.push(t);
    this.hits.set(key, list);
    return true;
  }

  private sweep(from: number, t: number): void {
    for (const [k, list] of this.hits) if (list[list.length - 1]! <= from) this.hits.delete(k);
    this.sweepAt = t + this.windowMs;
  }
}

export function fingerServer(opts: ServerOptions): Server {
  const limiter = new RateLimiter(opts.rateQueries, opts.rateWindowMs);
  let clients = 0;
  const server = createServer({ allowHalfOpen: false }, (sock: Socket) => {
    clients++;
    sock.once('close', () => clients--);
    sock.on('error', () => sock.destroy());
    const remote = sock.remoteAddress ?? '?';
    const reply = (text: string) => {
      sock.removeAllListeners('data');
      sock.setTimeout(0);
      sock.end(text);
    };
    if (clients > opts.maxClients) {
      reply(oneLineAnswer('Too many connections; try again later.'));
      return;
    }
    sock.setTimeout(opts.idleTimeoutMs, () => sock.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    sock.on('data', (d: Buffer) => {
      if (done) return;
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        if (buf.length > MAX_QUERY_BYTES + 2) {
          done = true;
          reply(oneLineAnswer(`Query too long (at most ${MAX_QUERY_BYTES} bytes).`));
        }
        return;
      }
      done = true;
      sock.pause();
      const line = buf.subarray(0, nl + 1);
      if (!limiter.take(remote)) {
        reply(oneLineAnswer('Too many queries from your address; try again later.'));
        return;
      }
      const q: Query =
        line.length > MAX_QUERY_BYTES + 2 || line.toString('latin1').replace(/\r?\n$/, '').length > MAX_QUERY_BYTES
          ? { kind: 'bad', why: 'query too long' }
          : parseQuery(line);
      if (q.kind === 'bad' && q.why === 'query too long') {
        reply(oneLineAnswer(`Query too long (at most ${MAX_QUERY_BYTES} bytes).`));
        return;
      }
      Promise.resolve()
        .then(() => opts.answer(q, remote))
        .then(
          (text) => reply(text),
          (err: Error) => {
            opts.onError?.(err);
            reply(oneLineAnswer('Sorry: the plan could not be read; try again later.'));
          },
        );
    });
  });
  server.maxConnections = opts.maxClients * 2;
  return server;
}
