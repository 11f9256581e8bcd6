/**
 * The outbox: one row per post per endpoint until the endpoint has it.
 * One worker per endpoint delivers its rows strictly in order (FIFO); endpoints
 * run concurrently. An account may let a few rows of one endpoint be in flight
 * at once (AccountHandle.deliveryWindow): the next row starts when the plugin
 * says the previous one is written (to.written(): its lines are on their way,
 * in order) and is waiting only for the server's confirmation; outcomes are
 * applied strictly in row order (see landOne for what happens behind a retry). A retry blocks only its own endpoint, with
 * the one backoff policy (delivery/backoff.ts: delivery.retry.first doubling up to .max, with jitter); a permanent failure, or a row older than
 * delivery.giveUpAfter, becomes a dead letter with its reason. Nothing is
 * dropped silently: every row ends delivered, dead (visible in `peerpost
 * outbox`), or dropped by an operator's explicit command.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { DeliveryConfig, EndpointConfig } from '../config/types.js';
import { backoffDelay } from './backoff.js';
import type { Post } from '../post.js';
import type { DeliveryTarget, FirstTarget, Outcome } from '../plugin.js';
import type { ErrorCode } from '../errors.js';
import { stripCommand, type Route } from '../ingest/router.js';
import type { DeliveryQueue } from '../ingest/core.js';
import type { Fence, QueuedDelivery, Store } from '../store.js';
import type { DeliveryStage } from './stages.js';
import { formatDuration, plural } from '../util.js';

/** What the outbox needs to know about an endpoint to deliver to it now: the delivery stages' answer (stages.ts). */
export type Resolution =
  | {
      ready: true;
      endpoint: EndpointConfig;
      deliver: (post: Post, to: DeliveryTarget) => Promise<Outcome>;
      /** How many rows of the endpoint may be in flight at once (AccountHandle.deliveryWindow); 1 when unset. */
      window?: number;
      /**
       * Say a post first, before its commit (AccountHandle.sayFirst), where the stages would hand it straight to the
       * plugin: a chat endpoint, no turn to take with other nodes. Absent: never said first here.
       */
      first?: (post: Post, to: FirstTarget) => boolean;
    }
  /** Held back by a delivery stage (delivery/stages.ts): which one, and why. */
  | { ready: false; reason: string; stage?: DeliveryStage };

export interface OutboxEvents {
  delivered: [row: QueuedDelivery, account: string, latencyMs: number];
  retry: [row: QueuedDelivery, reason: string, delayMs: number];
  dead: [row: QueuedDelivery, reason: string, code: ErrorCode];
}

/** One try of one row, started and not yet applied. */
interface Flight {
  row: QueuedDelivery;
  res: Extract<Resolution, { ready: true }>;
  attempt: number;
  started: number;
  /** Resolves when the plugin calls to.written(). */
  written: Promise<void>;
  /** The plugin's answer (a throw or a timeout is a retry); never rejects. */
  outcome: Promise<Outcome>;
  settled: boolean;
}

interface Worker {
  endpoint: string;
  running: boolean;
  /** A kick arrived while running: look at the queue again. */
  dirty: boolean;
  /** wake() arrived while running: a retry answered now is tried again at once. */
  woken: boolean;
  timer?: NodeJS.Timeout;
  /** Set while the worker waits for rows in flight with nothing new to start: kick() calls it. */
  poke?: () => void;
  /**
   * The store held no pending row of this endpoint when the worker last stopped, and no kick came since: the row
   * a kick hands over is then the only one, and the worker starts with it instead of a query.
   */
  empty: boolean;
  /** Rows handed over by kick(), for the next run. */
  handed?: QueuedDelivery[];
  /**
   * The highest row number this worker has read from the store. A row handed over with a number not above it was
   * read already: committed on PostgreSQL's ingest lane, it can be in the store (and found by a read) before the
   * core hands it over; it is not handed again (an endpoint's rows are numbered in commit order, under the posts
   * lock, so a read that found a later row found it too). PostgreSQL only: its row numbers are never used again
   * (SQLite's can be, once the outbox is empty; and there a row is handed over in the turn of its commit).
   */
  read: number;
}

const BATCH = 64;
const SWEEP_MS = 60_000;

export class Outbox extends EventEmitter<OutboxEvents> {
  private readonly workers = new Map<string, Worker>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Workers running now: stop() waits for them too, so the outcomes of the last tries are recorded. */
  private readonly runs = new Set<Promise<void>>();
  /** Posts removed from the archive (src/archive/removal.ts) whose rows a worker may hold in memory: not delivered. */
  private readonly removed = new Set<number>();
  private stopping = false;
  /** start() ran: every endpoint with rows in the store then has a worker (kickAll). */
  private started = false;
  private sweepTimer?: NodeJS.Timeout;
  /** PostgreSQL: the next write of the deliveries recorded (landSoon). */
  private landTimer?: NodeJS.Immediate | NodeJS.Timeout;
  /** Last reason an endpoint is waiting, for status. */
  readonly waiting = new Map<string, { reason: string; since: number }>();
  /**
   * Several processes on one database (src/runtime/leases.ts): whether this process delivers the endpoint now (it
   * holds the lease of the endpoint's account). Checked when a worker would start and before each row it starts;
   * unset (SQLite, one process): every endpoint.
   */
  gate?: (endpoint: string) => boolean;
  /**
   * Several processes: the fence the endpoint's outbox writes carry (the lease of its account and this process's
   * epoch of it): the store refuses them once another process holds the lease. Unset (SQLite): no fence.
   */
  fence?: (endpoint: string) => Fence;

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

  /** The wait before a row's next try after `attempt` tries that failed: the one backoff policy, delivery.retry. */
  private backoff(attempt: number): number {
    return backoffDelay(attempt, { firstMs: this.cfg.retryFirstMs, maxMs: this.cfg.retryMaxMs });
  }

  /** Start delivering what the store holds, and sweep now and then for rows waiting on a missing account. */
  start(): void {
    this.stopping = false;
    this.kickAll();
    this.started = true;
    this.sweepTimer = setInterval(() => this.kickAll(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** Posts removed from the archive: their rows are gone from the store; a worker holding one skips it. */
  forget(postSeqs: readonly number[]): void {
    if (this.removed.size > 100_000) this.removed.clear(); // rows read before a removal are few (a batch an endpoint)
    for (const s of postSeqs) this.removed.add(s);
  }

  kickAll(): void {
    for (const e of this.store.pendingEndpoints()) this.kick(e);
  }

  /**
   * New rows for this endpoint, or a reason to look again: run its worker unless it runs.
   * `fresh`: the row just committed (the core's ingest). When the worker is idle and knows the endpoint had
   * nothing else pending, it delivers that row without reading the store first (a relayed line's latency).
   */
  kick(endpoint: string, fresh?: QueuedDelivery): void {
    if (this.stopping) return;
    if (this.gate && !this.gate(endpoint)) return;
    let w = this.workers.get(endpoint);
    if (!w) {
      w = { endpoint, running: false, dirty: false, woken: false, empty: false, read: 0 };
      this.workers.set(endpoint, w);
    }
    if (w.running) {
      w.dirty = true;
      w.poke?.();
      return;
    }
    if (w.timer) {
      clearTimeout(w.timer);
      w.timer = undefined;
    }
    if (fresh && w.empty && fresh.endpoint === endpoint && fresh.row > w.read) w.handed = [fresh];
    w.empty = false;
    const run = this.run(w);
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
  }

  /**
   * Before a volatile post's commit (the core's `first`): each `stream` route whose endpoint has nothing else to
   * deliver (its worker idle, the store holding no row of it: the post is next there anyway) and whose stages hand
   * it straight to a plugin that can say it now says it first. Its row, once committed, is delivered as usual: the
   * plugin then only confirms. True when at least one endpoint said it. Never with several processes (a gate).
   */
  first(post: Post, routes: readonly Route[]): boolean {
    if (this.stopping || this.gate) return false;
    let said = false;
    for (const r of routes) {
      if (r.shape !== 'stream') continue;
      const e = r.endpoint;
      const w = this.workers.get(e.key);
      // No worker yet: the store held no row of the endpoint at start() (kickAll made one for each that had) and
      // nothing was kicked there since.
      if (w ? w.running || !w.empty || w.timer || w.handed : !this.started) continue;
      const res = this.resolve(e.key);
      if (!res.ready || !res.first) continue;
      try {
        if (res.first(post, targetOf(e, r.shape))) said = true;
      } catch (err) {
        this.log.warn(
          { err, endpoint: e.key, post: post.id },
          `saying ${post.id} first in ${e.key} failed: ${(err as Error).message}; it is delivered after its commit`,
        );
      }
    }
    return said;
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
    if (this.inFlight.size > 0 || this.runs.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight, ...this.runs]),
        new Promise((r) => {
          timer = setTimeout(r, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.landNow();
    return this.inFlight.size;
  }

  /** The deliveries recorded and not yet written, written now (stop). */
  private landNow(): void {
    if (this.landTimer) {
      clearTimeout(this.landTimer as NodeJS.Timeout);
      clearImmediate(this.landTimer as NodeJS.Immediate);
      this.landTimer = undefined;
    }
    try {
      this.store.flushDelivered();
    } catch (err) {
      this.log.error(
        { err, waiting: this.store.deliveriesWaiting },
        `could not record ${plural(this.store.deliveriesWaiting, 'delivery', 'deliveries')} done in the store: they stay pending and are sent again at the next start`,
      );
    }
  }

  private schedule(w: Worker, delayMs: number): void {
    if (this.stopping) return;
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(
      () => {
        w.timer = undefined;
        this.kick(w.endpoint);
      },
      Math.max(0, Math.min(delayMs, 2 ** 31 - 1)),
    );
    w.timer.unref();
  }

  private async run(w: Worker): Promise<void> {
    w.running = true;
    // Tries started and not yet applied, oldest first (at most the endpoint's window).
    const flights: Flight[] = [];
    // Rows handed over by kick(): the first pass starts with them instead of a query.
    let handed = w.handed;
    w.handed = undefined;
    let fromHand = false;
    try {
      outer: for (;;) {
        // Every pending row of the endpoint was handed over (and started), and no kick came since.
        const known = fromHand && !w.dirty;
        if (known && flights.length === 0) {
          // The handed rows are done: the store holds nothing else for this endpoint.
          w.empty = true;
          this.waiting.delete(w.endpoint);
          break;
        }
        w.dirty = false;
        let rows: QueuedDelivery[];
        if (handed) {
          rows = handed;
          handed = undefined;
          fromHand = true;
        } else if (known) {
          rows = [];
        } else {
          // Rows in flight are still pending in the store: ask only for those after the last one started.
          rows = this.store.queue(w.endpoint, BATCH, flights.at(-1)?.row.row ?? 0);
          fromHand = false;
          if (rows.length > 0 && this.store.dialect === 'postgres') w.read = Math.max(w.read, rows.at(-1)!.row);
        }
        if (rows.length === 0) {
          if (flights.length > 0) {
            // Rows in flight and none new: wait for the oldest to answer, or for new rows (kick()), whichever first.
            if (!w.dirty)
              await new Promise<void>((r) => {
                w.poke = r;
                void flights[0]!.outcome.then(() => r());
              });
            w.poke = undefined;
            if (!(await this.landSettled(flights, w))) {
              if (w.dirty) continue outer;
              break outer;
            }
            continue outer;
          }
          this.waiting.delete(w.endpoint);
          w.empty = true;
          break;
        }
        for (const row of rows) {
          if (this.stopping) break outer;
          if (this.gate && !this.gate(w.endpoint)) break outer; // the lease went to another process
          if (this.removed.has(row.postSeq)) continue; // removed after this batch was read: its row is gone
          const now = this.now();
          if (now - row.createdAt > this.cfg.giveUpAfterMs) {
            // Outcomes are applied in row order: the rows before this one first.
            if (!(await this.land(flights, w))) {
              if (w.dirty) continue outer;
              break outer;
            }
            const reason =
              `gave up after ${formatDuration(now - row.createdAt)} and ${plural(row.attempts, 'attempt')}` +
              (row.lastError ? `; last error: ${row.lastError}` : '');
            if (!this.kill(row, row.attempts, reason, 'expired')) break outer; // fenced: the lease is another's
            continue;
          }
          if (row.nextAt > now) {
            if (!(await this.land(flights, w))) {
              if (w.dirty) continue outer;
              break outer;
            }
            this.schedule(w, row.nextAt - now);
            if (w.dirty) continue outer;
            break outer;
          }
          const res = this.resolve(w.endpoint);
          if (!res.ready) {
            if (!(await this.land(flights, w))) {
              if (w.dirty) continue outer;
              break outer;
            }
            // Waits for the account to start (start() kicks its endpoints) or for the sweep.
            if (!this.waiting.has(w.endpoint))
              this.log.info(
                { endpoint: w.endpoint, stage: res.stage, reason: res.reason },
                `deliveries to ${w.endpoint} wait: ${res.reason}`,
              );
            this.waiting.set(w.endpoint, { reason: res.reason, since: now });
            break outer;
          }
          // Room in the window: the oldest tries are applied first (in row order).
          const window = Math.max(1, Math.floor(res.window ?? 1));
          while (flights.length >= window) {
            if (await this.landOne(flights, w)) continue;
            if (w.dirty) continue outer;
            break outer;
          }
          if (this.stopping) break outer;
          // A wake() from now on means: a retry answered by any of these tries is tried again at once.
          if (flights.length === 0) w.woken = false;
          const f = this.launch(row, res);
          flights.push(f);
          // The next row starts once the plugin says this one is written (its lines are on their way, in order),
          // or once this one has its outcome: a plugin that never calls written() delivers one row at a time.
          await Promise.race([f.written, f.outcome]);
          if (!f.settled && !(await this.landSettled(flights, w))) {
            if (w.dirty) continue outer;
            break outer;
          }
          if (f.settled && !(await this.land(flights, w))) {
            if (w.dirty) continue outer;
            break outer;
          }
        }
      }
    } catch (err) {
      // A store failure: leave the rows where they are and look again later.
      this.log.error(
        { err, endpoint: w.endpoint },
        `delivery to ${w.endpoint} stopped by a store error; retrying in 10s`,
      );
      this.schedule(w, 10_000);
    } finally {
      // Stopping (or a store error) with tries in flight: they finish, and what they answer is kept.
      if (flights.length > 0) {
        try {
          await this.land(flights, w);
        } catch (err) {
          this.log.error(
            { err, endpoint: w.endpoint },
            `could not record the outcome of deliveries to ${w.endpoint}; they stay pending and are tried again`,
          );
        }
      }
      w.running = false;
    }
  }

  /** Start one try of one row. Its outcome promise never rejects (a throw or a timeout is a retry). */
  private launch(row: QueuedDelivery, res: Extract<Resolution, { ready: true }>): Flight {
    const e = res.endpoint;
    const attempt = row.attempts + 1;
    let markWritten!: () => void;
    const written = new Promise<void>((r) => (markWritten = r));
    const target: DeliveryTarget = {
      ...targetOf(e, row.shape as DeliveryTarget['shape']),
      row: row.row,
      attempt,
      written: () => markWritten(),
    };
    const post = row.shape === 'command' ? { ...row.post, body: stripCommand(row.post.body, e.prefix) } : row.post;
    const started = this.now();
    let timer: NodeJS.Timeout | undefined;
    const raced = Promise.race([
      res.deliver(post, target),
      new Promise<Outcome>((r) => {
        timer = setTimeout(
          () =>
            r({ result: 'retry', reason: `no answer within ${formatDuration(this.cfg.timeoutMs)} (delivery.timeout)` }),
          this.cfg.timeoutMs,
        );
      }),
    ]);
    const f: Flight = {
      row,
      res,
      attempt,
      started,
      written,
      settled: false,
      outcome: undefined as unknown as Promise<Outcome>,
    };
    f.outcome = raced
      .then(
        (o) => o,
        (err: unknown) => {
          this.log.error({ err, endpoint: e.key, row: row.row }, `delivery to ${e.key} threw; it will be retried`);
          return {
            result: 'retry',
            reason: `the ${e.protocol} plugin threw: ${(err as Error)?.message ?? String(err)}`,
          } as Outcome;
        },
      )
      .finally(() => {
        clearTimeout(timer);
        f.settled = true;
        this.inFlight.delete(f.outcome);
      });
    this.inFlight.add(f.outcome);
    return f;
  }

  /** Apply the oldest tries that have answered, in row order (stopping at the first still running). */
  private async landSettled(flights: Flight[], w: Worker): Promise<boolean> {
    while (flights.length > 0 && flights[0]!.settled) if (!(await this.landOne(flights, w))) return false;
    return true;
  }

  /** Apply every try in flight, in row order. False when one answered retry (the endpoint waits). */
  private async land(flights: Flight[], w: Worker): Promise<boolean> {
    while (flights.length > 0) if (!(await this.landOne(flights, w))) return false;
    return true;
  }

  /**
   * Apply the oldest try in flight. When it answers retry, the tries after it (started because it was written)
   * are waited for and applied too, and false is returned: the endpoint waits for the retried row. Of those later
   * tries, a retry or a failure is recorded as such (pending after the retried row, or a dead letter); one the
   * plugin reports delivered is recorded as delivered, although an earlier row still waits. The endpoint has it
   * (the IRC server confirmed its lines while it refused an earlier post's, e.g. a line with colours in a +c
   * channel): marking it pending would show it twice, which is worse than once ahead of the row that waits.
   */
  private async landOne(flights: Flight[], w: Worker): Promise<boolean> {
    const head = flights.shift()!;
    const outcome = await head.outcome;
    const next = this.record(head, outcome, w, undefined);
    if (next === true) return true;
    while (flights.length > 0) {
      const f = flights.shift()!;
      this.record(f, await f.outcome, w, { row: head.row, nextAt: next });
    }
    return false;
  }

  /**
   * Record one try's outcome. Returns true when the endpoint goes on, else the time the retried row is due.
   * `behind`: this try was in flight behind a row that answered retry (it is due with that row, not scheduled).
   */
  private record(
    f: Flight,
    outcome: Outcome,
    w: Worker,
    behind: { row: QueuedDelivery; nextAt: number } | undefined,
  ): true | number {
    const { row, res, attempt } = f;
    const e = res.endpoint;
    const now = this.now();
    switch (outcome?.result) {
      case 'delivered':
        // SQLite: written now. PostgreSQL: written with the other deliveries of this turn, on the next (landSoon).
        if (
          this.store.landDelivery(
            row.row,
            outcome.nativeId !== undefined
              ? { account: e.account, target: e.target, nativeId: outcome.nativeId, postId: row.postId }
              : undefined,
            this.fence?.(row.endpoint),
          )
        )
          this.landSoon();
        if (behind)
          this.log.warn(
            { endpoint: e.key, post: row.postId, waiting: behind.row.postId },
            `${e.key} took ${row.postId} while ${behind.row.postId}, an earlier post, waits: ${row.postId} counts as delivered (sending it again would show it twice)`,
          );
        else this.waiting.delete(e.key);
        this.emit('delivered', row, e.account, now - row.createdAt);
        this.log.debug({ endpoint: e.key, post: row.postId, ms: now - f.started }, 'delivered');
        return true;
      case 'failed':
        // Refused by the fence: the endpoint stops here (the row is the lease holder's now).
        return this.kill(row, attempt, outcome.reason, outcome.code) || now;
      case 'retry': {
        // Woken (the account reconnected) while this attempt ran: try again at once.
        const delay = behind
          ? Math.max(0, behind.nextAt - now)
          : w.woken
            ? 0
            : (outcome.delayMs ?? this.backoff(attempt));
        // Refused by the fence (another process holds the lease now): the row stays as it was, for the holder; the
        // gate stops this endpoint here (the lease is lost).
        if (!this.store.markRetry(row.row, attempt, now + delay, outcome.reason, this.fence?.(row.endpoint)))
          return now + delay;
        if (!behind) {
          this.schedule(w, delay);
          this.waiting.set(e.key, { reason: outcome.reason, since: this.waiting.get(e.key)?.since ?? now });
        }
        this.emit('retry', row, outcome.reason, delay);
        this.log.warn(
          { endpoint: e.key, post: row.postId, attempt, delayMs: delay, reason: outcome.reason },
          `delivery to ${e.key} will be retried in ${formatDuration(delay)}: ${outcome.reason}`,
        );
        return now + delay;
      }
      default: {
        const reason = `the ${e.protocol} plugin returned no outcome (expected delivered, retry or failed)`;
        const delay = behind ? Math.max(0, behind.nextAt - now) : this.backoff(attempt);
        if (!this.store.markRetry(row.row, attempt, now + delay, reason, this.fence?.(row.endpoint)))
          return now + delay;
        if (!behind) this.schedule(w, delay);
        this.log.error({ endpoint: e.key, post: row.postId }, reason);
        return now + delay;
      }
    }
  }

  /**
   * PostgreSQL: write the deliveries recorded in this turn (across endpoints) on the next, in one statement
   * (Store.flushDelivered). A failure (PostgreSQL unreachable) keeps them waiting in memory: written by the next
   * try, a second later, or before the store next reads the outbox; a crash meanwhile sends them again at the next
   * start (at least once).
   */
  private landSoon(delayMs = 0): void {
    if (this.landTimer) return;
    const flush = () => {
      this.landTimer = undefined;
      try {
        this.store.flushDelivered();
      } catch (err) {
        this.log.error(
          { err, waiting: this.store.deliveriesWaiting },
          `could not record ${plural(this.store.deliveriesWaiting, 'delivery', 'deliveries')} done in the store; trying again in 1s (after a crash meanwhile they would be sent again)`,
        );
        this.landSoon(1000);
      }
    };
    // A retry does not keep the process alive (the store writes what waits when it closes, or it is sent again).
    this.landTimer = delayMs > 0 ? setTimeout(flush, delayMs).unref() : setImmediate(flush);
  }

  /** Make the row a dead letter; false when the fence refused it (it stays pending for the lease's holder). */
  private kill(row: QueuedDelivery, attempts: number, reason: string, code: ErrorCode): boolean {
    // Refused by the fence: the refusal is logged by the leases, which stop the endpoint (the gate).
    if (!this.store.markDead(row.row, attempts, reason, this.now(), this.fence?.(row.endpoint))) return false;
    this.emit('dead', row, reason, code);
    this.log.error(
      { endpoint: row.endpoint, post: row.postId, row: row.row, reason, code },
      `delivery of ${row.postId} to ${row.endpoint} failed for good: ${reason}. It is kept as a dead letter: see \`peerpost outbox --dead\`, retry with \`peerpost outbox --retry ${row.row}\``,
    );
    return true;
  }
}

/** Where a post goes at an endpoint, as the plugin is told it (its row and try added for a delivery). */
function targetOf(e: EndpointConfig, shape: DeliveryTarget['shape']): FirstTarget {
  return {
    endpoint: e.key,
    target: e.target,
    bridge: e.bridge,
    shape,
    announceLines: e.announceLines,
    options: e.options,
  };
}

/**
 * The outbox's part of a commit (the core's ingest, the digest keeper's close): one row per delivery, written in
 * the caller's transaction; once committed, each row is handed to its endpoint's worker with its post (so that the
 * worker need not read it back: a relayed line's latency). Without an outbox (`peerpost post` with no daemon
 * running), the rows wait in the store for the next start.
 */
export function outboxQueue(
  store: Store,
  outbox?: Pick<Outbox, 'kick'> & Partial<Pick<Outbox, 'first'>>,
): DeliveryQueue {
  const queue: DeliveryQueue = {
    first(post, routes) {
      return outbox?.first?.(post, routes) ?? false;
    },
    enqueue(post, seq, routes, now) {
      const rows = store.addDeliveries(
        seq,
        routes.map((r) => ({ endpoint: r.endpoint.key, shape: r.shape })),
        now,
      );
      return queue.written!(post, seq, routes, now, rows);
    },
    written(post, seq, routes, now, rows) {
      return () => {
        if (!outbox || rows.length === 0) return;
        // As the store gives it back (the same JSON), and not shared with the post listeners.
        const stored = JSON.parse(JSON.stringify(post)) as Post;
        routes.forEach((r, j) =>
          outbox.kick(r.endpoint.key, {
            row: rows[j]!,
            postSeq: seq,
            postId: post.id,
            bridge: post.bridge,
            endpoint: r.endpoint.key,
            shape: r.shape,
            state: 'pending',
            attempts: 0,
            nextAt: 0,
            createdAt: now,
            lastError: null,
            deadAt: null,
            post: stored,
          }),
        );
      };
    },
  };
  return queue;
}
