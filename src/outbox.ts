/**
 * The outbox: one row per post per endpoint until the endpoint has it.
 * One worker per endpoint delivers its rows strictly in order (FIFO); endpoints
 * run concurrently. A retry blocks only its own endpoint, with exponential
 * backoff and jitter up to a cap; a permanent failure, or a row older than
 * delivery.giveUpAfter, becomes a dead letter with its reason. Nothing is
 * dropped silently: every row ends delivered, dead (visible in `peerpost
 * outbox`), or dropped by an operator's explicit command.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { DeliveryConfig, EndpointConfig } from './config/types.js';
import type { Post } from './post.js';
import type { DeliveryTarget, Outcome } from './plugin.js';
import { stripCommand } from './router.js';
import type { QueuedDelivery, Store } from './store.js';
import { formatDuration } from './util.js';

/** What the outbox needs to know about an endpoint to deliver to it now. */
export type Resolution =
  | { ready: true; endpoint: EndpointConfig; deliver: (post: Post, to: DeliveryTarget) => Promise<Outcome> }
  | { ready: false; reason: string };

export interface OutboxEvents {
  delivered: [row: QueuedDelivery, account: string, latencyMs: number];
  retry: [row: QueuedDelivery, reason: string, delayMs: number];
  dead: [row: QueuedDelivery, reason: string];
}

/** Backoff before attempt n+1 after n failures: first·2^(n-1), capped, with jitter in [½, 1]. */
export function backoff(failures: number, cfg: Pick<DeliveryConfig, 'retryFirstMs' | 'retryMaxMs'>, random = Math.random): number {
  const exp = Math.min(cfg.retryMaxMs, cfg.retryFirstMs * 2 ** Math.max(0, failures - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}

interface Worker {
  endpoint: string;
  running: boolean;
  /** A kick arrived while running: look at the queue again. */
  dirty: boolean;
  /** wake() arrived while running: a retry answered now is tried again at once. */
  woken: boolean;
  timer?: NodeJS.Timeout;
}

const BATCH = 64;
const SWEEP_MS = 60_000;

export class Outbox extends EventEmitter<OutboxEvents> {
  private readonly workers = new Map<string, Worker>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopping = false;
  private sweepTimer?: NodeJS.Timeout;
  /** Last reason an endpoint is waiting, for status. */
  readonly waiting = new Map<string, { reason: string; since: number }>();

  constructor(
    private readonly store: Store,
    private cfg: DeliveryConfig,
    private readonly resolve: (endpoint: string) => Resolution,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  setConfig(cfg: DeliveryConfig): void {
    this.cfg = cfg;
  }

  /** Start delivering what the store holds, and sweep now and then for rows waiting on a missing account. */
  start(): void {
    this.stopping = false;
    this.kickAll();
    this.sweepTimer = setInterval(() => this.kickAll(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  kickAll(): void {
    for (const e of this.store.pendingEndpoints()) this.kick(e);
  }

  /** New rows for this endpoint, or a reason to look again: run its worker unless it runs. */
  kick(endpoint: string): void {
    if (this.stopping) return;
    let w = this.workers.get(endpoint);
    if (!w) {
      w = { endpoint, running: false, dirty: false, woken: false };
      this.workers.set(endpoint, w);
    }
    if (w.running) {
      w.dirty = true;
      return;
    }
    if (w.timer) {
      clearTimeout(w.timer);
      w.timer = undefined;
    }
    void this.run(w);
  }

  /** Retry now whatever waits on these endpoints (after a reconnect, an operator's retry). */
  wake(endpoints: Iterable<string>): void {
    for (const e of endpoints) {
      this.store.wakeEndpoint(e);
      const w = this.workers.get(e);
      if (w?.running) w.woken = true;
      this.kick(e);
    }
  }

  /** Stop starting deliveries; wait up to graceMs for those in flight. Resolves with how many were still running. */
  async stop(graceMs: number): Promise<number> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const w of this.workers.values()) if (w.timer) clearTimeout(w.timer);
    if (this.inFlight.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((r) => { timer = setTimeout(r, graceMs); }),
    ]);
    clearTimeout(timer);
    return this.inFlight.size;
  }

  private schedule(w: Worker, delayMs: number): void {
    if (this.stopping) return;
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      w.timer = undefined;
      this.kick(w.endpoint);
    }, Math.max(0, Math.min(delayMs, 2 ** 31 - 1)));
    w.timer.unref();
  }

  private async run(w: Worker): Promise<void> {
    w.running = true;
    try {
      outer: for (;;) {
        w.dirty = false;
        const rows = this.store.queue(w.endpoint, BATCH);
        if (rows.length === 0) {
          this.waiting.delete(w.endpoint);
          break;
        }
        for (const row of rows) {
          if (this.stopping) break outer;
          const now = this.now();
          if (now - row.createdAt > this.cfg.giveUpAfterMs) {
            const reason = `gave up after ${formatDuration(now - row.createdAt)} and ${row.attempts} attempt${row.attempts === 1 ? '' : 's'}` + (row.lastError ? `; last error: ${row.lastError}` : '');
            this.kill(row, row.attempts, reason);
            continue;
          }
          if (row.nextAt > now) {
            this.schedule(w, row.nextAt - now);
            if (w.dirty) continue outer;
            break outer;
          }
          const res = this.resolve(w.endpoint);
          if (!res.ready) {
            // Waits for the account to start (start() kicks its endpoints) or for the sweep.
            if (!this.waiting.has(w.endpoint)) this.log.info({ endpoint: w.endpoint, reason: res.reason }, `deliveries to ${w.endpoint} wait: ${res.reason}`);
            this.waiting.set(w.endpoint, { reason: res.reason, since: now });
            break outer;
          }
          w.woken = false;
          const ok = await this.attempt(row, res, w);
          if (!ok) {
            if (w.dirty) continue outer;
            break outer;
          }
        }
      }
    } catch (err) {
      // A store failure: leave the rows where they are and look again later.
      this.log.error({ err, endpoint: w.endpoint }, `delivery to ${w.endpoint} stopped by a store error; retrying in 10s`);
      this.schedule(w, 10_000);
    } finally {
      w.running = false;
    }
  }

  /** One try of one row. Returns false when the endpoint must wait (retry). */
  private async attempt(row: QueuedDelivery, res: Extract<Resolution, { ready: true }>, w: Worker): Promise<boolean> {
    const e = res.endpoint;
    const attempt = row.attempts + 1;
    const target: DeliveryTarget = {
      row: row.row, endpoint: e.key, target: e.target, bridge: e.bridge, shape: row.shape as DeliveryTarget['shape'],
      announceLines: e.announceLines, options: e.options, attempt,
    };
    const post = row.shape === 'command' ? { ...row.post, body: stripCommand(row.post.body, e.prefix) } : row.post;
    let outcome: Outcome;
    const started = this.now();
    let timer: NodeJS.Timeout | undefined;
    const p = Promise.race([
      res.deliver(post, target),
      new Promise<Outcome>((r) => {
        timer = setTimeout(() => r({ result: 'retry', reason: `no answer within ${formatDuration(this.cfg.timeoutMs)} (delivery.timeout)` }), this.cfg.timeoutMs);
      }),
    ]);
    this.inFlight.add(p);
    try {
      outcome = await p;
    } catch (err) {
      outcome = { result: 'retry', reason: `the ${e.protocol} plugin threw: ${(err as Error)?.message ?? String(err)}` };
      this.log.error({ err, endpoint: e.key, row: row.row }, `delivery to ${e.key} threw; it will be retried`);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(p);
    }
    const now = this.now();
    switch (outcome?.result) {
      case 'delivered':
        this.store.transaction(() => {
          this.store.markDelivered(row.row);
          if (outcome.result === 'delivered' && outcome.nativeId !== undefined) this.store.setNativeId(e.account, e.target, outcome.nativeId, row.postId);
        });
        this.waiting.delete(e.key);
        this.emit('delivered', row, e.account, now - row.createdAt);
        this.log.debug({ endpoint: e.key, post: row.postId, ms: now - started }, 'delivered');
        return true;
      case 'failed':
        this.kill(row, attempt, outcome.reason);
        return true;
      case 'retry': {
        // Woken (the account reconnected) while this attempt ran: try again at once.
        const delay = w.woken ? 0 : outcome.delayMs ?? backoff(attempt, this.cfg);
        this.store.markRetry(row.row, attempt, now + delay, outcome.reason);
        this.schedule(w, delay);
        this.waiting.set(e.key, { reason: outcome.reason, since: this.waiting.get(e.key)?.since ?? now });
        this.emit('retry', row, outcome.reason, delay);
        this.log.warn({ endpoint: e.key, post: row.postId, attempt, delayMs: delay, reason: outcome.reason }, `delivery to ${e.key} will be retried in ${formatDuration(delay)}: ${outcome.reason}`);
        return false;
      }
      default: {
        const reason = `the ${e.protocol} plugin returned no outcome (expected delivered, retry or failed)`;
        const delay = backoff(attempt, this.cfg);
        this.store.markRetry(row.row, attempt, now + delay, reason);
        this.schedule(w, delay);
        this.log.error({ endpoint: e.key, post: row.postId }, reason);
        return false;
      }
    }
  }

  private kill(row: QueuedDelivery, attempts: number, reason: string): void {
    this.store.markDead(row.row, attempts, reason, this.now());
    this.emit('dead', row, reason);
    this.log.error({ endpoint: row.endpoint, post: row.postId, row: row.row, reason },
      `delivery of ${row.postId} to ${row.endpoint} failed for good: ${reason}. It is kept as a dead letter: see \`peerpost outbox --dead\`, retry with \`peerpost outbox --retry ${row.row}\``);
  }
}
