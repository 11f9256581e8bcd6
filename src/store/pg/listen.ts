/**
 * PgListener: the cross-process wake-ups of several peerpost processes on one PostgreSQL database (issue 17).
 *
 * One `pg` connection of its own, on the main thread (the store's connection lives in a worker thread and is busy
 * with statements; a LISTEN needs a connection that waits), that LISTENs on the channels asked for
 * (src/store/pg/schema.ts: pp_posts, pp_outbox: the inserting transaction NOTIFYs them at its commit) and hands
 * each notification to its channel's handler with the pid of the backend that sent it.
 *
 * A notification is a hint, never the data: what it announces is read from the tables, from where the reader stood.
 * So a lost connection loses nothing: PostgreSQL restarted, the network cut, the listener connects again with
 * backoff (first 200 ms, doubling to 5 s) and then calls `reconnected`, after which the callers read what they
 * may have missed; meanwhile their slow poll carries on (`connected` says whether the wake-ups come).
 */
import pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import { Backoff } from '../../delivery/backoff.js';

export interface PgListenerOptions {
  url: string;
  ssl?: boolean | ConnectionOptions;
  log: Logger;
  /** Called once the connection is up after a loss or a failed attempt (not at a first connect that worked): read what was missed. */
  reconnected?: () => void;
  /** The backoff of the reconnection: first and longest wait (default 200 ms, 5 s). */
  backoff?: { firstMs: number; maxMs: number };
  connectTimeoutMs?: number;
}

export type NotifyHandler = (payload: string, pid: number) => void;

const NAME = /^[a-z_][a-z0-9_]*$/;

export class PgListener {
  private client?: pg.Client;
  private readonly handlers = new Map<string, NotifyHandler>();
  private closed = false;
  private timer?: NodeJS.Timeout;
  /** The reconnection's waits: the project's one backoff policy (src/delivery/backoff.ts). */
  private readonly backoff: Backoff;
  private lostAt = 0;
  private connecting?: Promise<void>;
  /** Connections made (the first and each after a loss): for tests and status. */
  connects = 0;

  constructor(private readonly o: PgListenerOptions) {
    this.backoff = new Backoff({ firstMs: o.backoff?.firstMs ?? 200, maxMs: o.backoff?.maxMs ?? 5000 });
  }

  /** Whether the connection is up and LISTENs now: wake-ups come. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Take the notifications of `channel` (now if connected, else once connected). */
  listen(channel: string, fn: NotifyHandler): void {
    if (!NAME.test(channel)) throw new TypeError(`not a channel name: ${channel}`);
    const had = this.handlers.has(channel);
    this.handlers.set(channel, fn);
    if (!had && this.client) void this.client.query(`LISTEN ${channel}`).catch((err: Error) => this.lost(err));
  }

  /** Stop taking the notifications of `channel`. */
  unlisten(channel: string): void {
    if (!this.handlers.delete(channel)) return;
    if (this.client) void this.client.query(`UNLISTEN ${channel}`).catch((err: Error) => this.lost(err));
  }

  /** Connect (resolves once the first attempt is over, connected or not: then it keeps trying in the background). */
  start(): Promise<void> {
    return this.connect();
  }

  private connect(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const c = new pg.Client({
      connectionString: this.o.url,
      ...(this.o.ssl !== undefined ? { ssl: this.o.ssl } : {}),
      connectionTimeoutMillis: this.o.connectTimeoutMs ?? 5000,
      application_name: 'peerpost listen',
      keepAlive: true,
    });
    c.on('error', (err) => this.lost(err, c));
    c.on('end', () => this.lost(new Error('the connection was closed'), c));
    c.on('notification', (n) => {
      const fn = this.handlers.get(n.channel);
      if (!fn) return;
      try {
        fn(n.payload ?? '', n.processId);
      } catch (err) {
        this.o.log.error({ err, channel: n.channel }, `a wake-up from PostgreSQL failed: ${(err as Error).message}`);
      }
    });
    try {
      await c.connect();
      for (const ch of this.handlers.keys()) await c.query(`LISTEN ${ch}`);
    } catch (err) {
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => {});
      void c.end().catch(() => {});
      this.retry(err as Error);
      return;
    }
    if (this.closed) {
      void c.end().catch(() => {});
      return;
    }
    this.client = c;
    this.connects++;
    this.backoff.succeed();
    if (this.lostAt) {
      this.o.log.info(
        `the wake-up connection to PostgreSQL is back after ${Math.round((Date.now() - this.lostAt) / 100) / 10} s; reading what other processes wrote meanwhile`,
      );
      try {
        this.o.reconnected?.();
      } catch (err) {
        this.o.log.error({ err }, `reading after the wake-up connection came back failed: ${(err as Error).message}`);
      }
    }
    this.lostAt = 0;
  }

  private lost(err: Error, c: pg.Client | undefined = this.client): void {
    if (!c || c !== this.client) return;
    this.client = undefined;
    c.removeAllListeners('end');
    c.removeAllListeners('error');
    c.on('error', () => {});
    void c.end().catch(() => {});
    if (this.closed) return;
    this.lostAt = Date.now();
    this.o.log.warn(
      `the wake-up connection to PostgreSQL was lost (${err.message}): what other processes write is found by the slow poll until it is back; connecting again`,
    );
    this.retry(err);
  }

  private retry(err: Error): void {
    if (this.closed || this.timer) return;
    if (!this.lostAt) this.lostAt = Date.now();
    const wait = this.backoff.fail();
    this.o.log.debug({ err }, `the wake-up connection to PostgreSQL failed; trying again in ${wait} ms`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, wait);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.connecting?.catch(() => {});
    const c = this.client;
    this.client = undefined;
    if (c) {
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => {});
      await c.end().catch(() => {});
    }
  }
}
