/**
 * Several peerpost processes on one PostgreSQL database (issue 17): leases, renewed by heartbeat, decide which
 * process runs what must run once (a connection account, an endpoint's deliveries, closing digests).
 *
 * Tables (src/store/pg/schema.ts): pp_processes (every live process, its heartbeat) and pp_leases (name, holder,
 * epoch, since, expires). Every time is the database's clock (now()); a process's own clock only measures how long
 * ago it renewed (performance.now(), monotonic).
 *
 * Each tick (node.failover / 3) a process:
 * - beats its heart (pp_processes), and forgets processes silent for three failovers;
 * - renews the leases it holds (expires = now() + failover);
 * - takes every lease it wants that has no holder or has expired (epoch + 1: the epoch counts the holders), and
 *   ticks again right when the nearest one held by another expires (a takeover costs failover, not failover + tick).
 *
 * A process that cannot renew (the database lost, the event loop stalled) stops acting as the holder at its local
 * deadline: the start of its last successful renewal + failover − margin (failover / 5). The database's expiry is
 * at least failover after that same start, so the holder has stopped before another can take over. `holds()` reads
 * the deadline itself (not a timer), so that a delivery about to start after a long stall sees the loss at once.
 *
 * On an orderly stop the process hands its leases back (holder = NULL, expired now): the others take them at their
 * next tick instead of waiting a failover. A process restarted after a crash on the same host and node.data (one live
 * daemon per data directory: the control socket refuses a second) expires its dead predecessor's leases at start.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Fence, FencedWrite } from '../store.js';
import type { ProcessView } from '../plugin/status.js';

/** The raw PostgreSQL side of the store (PgDatabase.query). */
export interface LeaseDb {
  query(text: string, values?: unknown[]): unknown[];
}

export interface HeldLease {
  epoch: number;
  /** ms since the epoch (the database's clock) when this process took it. */
  since: number;
  /** performance.now() after which this process no longer counts as holding it. */
  deadline: number;
}

export interface LeaseKeeperOptions {
  db: LeaseDb;
  /**
   * node.data: with the host, the slot of this process (one live daemon per data directory: its control socket
   * refuses a second). A process starting in the slot of a dead one (restarted after kill -9) expires that one's
   * leases at once instead of waiting a failover.
   */
  data: string;
  failoverMs: number;
  log: Logger;
  /** The leases this process wants now (asked at each tick: the config may have been reloaded). */
  wanted: () => string[];
  /** A lease was taken: start what it guards. */
  gained: (name: string, epoch: number) => void | Promise<void>;
  /** A lease was lost (or given back): stop what it guards. */
  lost: (name: string) => void | Promise<void>;
}

export type { ProcessView };

/** Ms to ms-since-epoch as float8: PostgreSQL's bigint comes back as a string. */
const MS = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

export class LeaseKeeper {
  readonly id: string;
  readonly host = hostname();
  readonly pid = process.pid;
  private readonly held = new Map<string, HeldLease>();
  /**
   * What each lease's gained/lost callbacks are doing (starting or stopping an account can take seconds): run one
   * after the other per lease, outside the round, so that a slow start never delays the renewals.
   */
  private readonly work = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;
  private failing = false;
  private readonly tickMs: number;
  private readonly marginMs: number;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.id = `${this.host}:${this.pid}:${randomBytes(4).toString('hex')}`;
    this.tickMs = Math.max(200, Math.floor(o.failoverMs / 3));
    this.marginMs = Math.floor(o.failoverMs / 5);
  }

  /** Whether this process holds the lease now (its local deadline not passed). */
  holds(name: string): boolean {
    const h = this.held.get(name);
    return h !== undefined && performance.now() < h.deadline;
  }

  /**
   * The fence an outbox write of what this lease guards carries (Store: landDelivery, markRetry, markDead): this
   * process and the epoch it took the lease at. The database decides (its local deadline aside: a write already under
   * way when it passes still counts if the database says the lease holds). A lease not held gives epoch 0, which no
   * holder has: the write is refused.
   */
  fence(name: string): Fence {
    return { lease: name, holder: this.id, epoch: this.held.get(name)?.epoch ?? 0 };
  }

  /**
   * The store refused a write carrying this fence: another process holds the lease now (or it expired). The rows stay
   * for the holder; if this process still counts itself the holder of that epoch, it stops what the lease guards now,
   * without waiting for its next round.
   */
  fenced(fence: Fence, what: FencedWrite, rows: readonly number[]): void {
    const h = this.held.get(fence.lease);
    const mine = h !== undefined && h.epoch === fence.epoch;
    const writes = { delivered: 'delivery', retry: 'retry', dead: 'dead letter' }[what];
    const n = rows.length === 1 ? `outbox row ${rows[0]}` : `${rows.length} outbox rows`;
    this.o.log.warn(
      { lease: fence.lease, epoch: fence.epoch, write: what, rows },
      `the database refused to record the ${writes} of ${n} under lease ${fence.lease} (epoch ${fence.epoch}): ` +
        `${fence.epoch === 0 ? 'this process does not hold it' : 'another process holds it now, or it expired'}. ` +
        `Nothing was changed: the row${rows.length === 1 ? ' stays' : 's stay'} pending for the lease's holder` +
        (what === 'delivered' ? ', which sends it again (this process had sent it)' : '') +
        (mine ? `; this process stops what ${fence.lease} guards` : ''),
    );
    if (mine) void this.lose(fence.lease);
  }

  heldLeases(): ReadonlyMap<string, HeldLease> {
    return this.held;
  }

  /** Register, take back what a dead process in this slot held, take what is free, and tick on. */
  async start(): Promise<void> {
    try {
      const gone = this.o.db.query(`DELETE FROM pp_processes WHERE host = $1 AND data = $2 AND id <> $3 RETURNING id`, [
        this.host,
        this.o.data,
        this.id,
      ]) as { id: string }[];
      if (gone.length > 0) {
        const freed = this.o.db.query(
          `UPDATE pp_leases SET expires = now() WHERE holder = ANY($1::text[]) AND expires > now() RETURNING name`,
          [gone.map((g) => g.id)],
        ) as { name: string }[];
        if (freed.length > 0)
          this.o.log.info(
            { leases: freed.map((f) => f.name) },
            `the previous peerpost on this data directory stopped without handing back ${freed.length === 1 ? 'its lease' : `its ${freed.length} leases`}: taken back now`,
          );
      }
    } catch (err) {
      this.o.log.warn(
        { err },
        `could not look for a previous peerpost on this data directory: ${(err as Error).message}`,
      );
    }
    await this.tick();
    await this.settled();
  }

  /** One round: heartbeat, renew, take. Rounds never overlap. */
  tick(): Promise<void> {
    const run = this.ticking.then(() => this.round());
    this.ticking = run.catch(() => undefined);
    return run;
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.timer);
    let next = this.tickMs;
    const startedAt = performance.now();
    const { db, failoverMs } = this.o;
    try {
      db.query(
        `INSERT INTO pp_processes (id, host, pid, data) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET heartbeat = now()`,
        [this.id, this.host, this.pid, this.o.data],
      );
      db.query(`DELETE FROM pp_processes WHERE heartbeat < now() - $1 * interval '1 millisecond'`, [3 * failoverMs]);
      const wanted = this.o.wanted();
      const mine = [...this.held.keys()].filter((n) => wanted.includes(n));
      // Renew: only what this process still holds in the database.
      const renewed = new Set(
        (
          db.query(
            `UPDATE pp_leases SET expires = now() + $2 * interval '1 millisecond'
             WHERE name = ANY($3::text[]) AND holder = $1 RETURNING name`,
            [this.id, failoverMs, mine],
          ) as { name: string }[]
        ).map((r) => r.name),
      );
      const deadline = startedAt + failoverMs - this.marginMs;
      for (const name of mine) if (renewed.has(name)) this.held.get(name)!.deadline = deadline;
      this.failing = false;
      // Leases held no more (taken by another after a stall), or no longer wanted (reload): stop what they guard.
      for (const name of [...this.held.keys()])
        if (!renewed.has(name)) {
          if (wanted.includes(name))
            this.o.log.warn(
              { lease: name },
              `lease ${name} was taken by another process; stopping what it guards here`,
            );
          else
            db.query(`UPDATE pp_leases SET holder = NULL, expires = now() WHERE name = $1 AND holder = $2`, [
              name,
              this.id,
            ]);
          await this.lose(name);
        }
      // Take what is free or expired.
      const free = wanted.filter((n) => !this.held.has(n));
      if (free.length > 0) {
        db.query(`INSERT INTO pp_leases (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING`, [free]);
        const taken = db.query(
          `UPDATE pp_leases SET holder = $1, epoch = epoch + 1, since = now(),
             expires = now() + $2 * interval '1 millisecond'
           WHERE name = ANY($3::text[]) AND (holder IS NULL OR holder = $1 OR expires < now())
           RETURNING name, epoch::float8 AS epoch, ${MS('since')} AS since`,
          [this.id, failoverMs, free],
        ) as { name: string; epoch: number; since: number }[];
        for (const t of taken) {
          this.held.set(t.name, { epoch: t.epoch, since: t.since, deadline });
          this.o.log.info({ lease: t.name, epoch: t.epoch }, `this process now holds ${t.name} (epoch ${t.epoch})`);
          this.then(t.name, 'starting', () => this.o.gained(t.name, t.epoch));
        }
        // Tick again right when the nearest lease held elsewhere expires.
        const left = this.held.size < wanted.length ? this.nearestExpiry(free) : undefined;
        if (left !== undefined) next = Math.min(next, Math.max(20, left + 20));
      }
    } catch (err) {
      if (!this.failing)
        this.o.log.error(
          { err },
          `the leases could not be renewed (${(err as Error).message}); what this process holds stops at its deadline unless the database answers before`,
        );
      this.failing = true;
      next = Math.min(next, 1000);
    }
    await this.expireLocal();
    this.armDeadline();
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.tick(), next);
      this.timer.unref();
    }
  }

  private nearestExpiry(names: string[]): number | undefined {
    const rows = this.o.db.query(
      `SELECT ${MS('min(expires)')} - ${MS('now()')} AS left FROM pp_leases
       WHERE name = ANY($1::text[]) AND holder IS DISTINCT FROM $2`,
      [names, this.id],
    ) as { left: number | null }[];
    const left = rows[0]?.left;
    return left === null || left === undefined ? undefined : left;
  }

  /** Leases whose local deadline passed: stop acting as their holder. */
  private async expireLocal(): Promise<void> {
    const now = performance.now();
    for (const [name, h] of [...this.held])
      if (now >= h.deadline) {
        this.o.log.error(
          { lease: name },
          `lease ${name} could not be renewed in time; this process stops what it guards (another process takes it over)`,
        );
        await this.lose(name);
      }
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    if (this.stopped || this.held.size === 0) return;
    const first = Math.min(...[...this.held.values()].map((h) => h.deadline));
    // A timer counts from the event loop's cached clock, which lags performance.now() by the work done since the loop
    // last woke (the rounds' statements block it): it may fire a few ms before the deadline. Then it waits again for
    // what is left (a stopped keeper, whose round would not arm it again, too) rather than find nothing expired.
    const due = () => {
      const left = first - performance.now();
      if (left > 0) {
        this.deadlineTimer = setTimeout(due, Math.ceil(left) + 1);
        this.deadlineTimer.unref();
        return;
      }
      void this.ticking.then(() => this.expireLocal()).then(() => this.armDeadline());
    };
    this.deadlineTimer = setTimeout(due, Math.max(0, Math.ceil(first - performance.now())) + 1);
    this.deadlineTimer.unref();
  }

  private async lose(name: string): Promise<void> {
    if (!this.held.delete(name)) return;
    this.then(name, 'stopping', () => this.o.lost(name));
  }

  /** Run a lease's callback after its earlier ones; a failure is logged. */
  private then(name: string, what: string, fn: () => void | Promise<void>): void {
    const run = (this.work.get(name) ?? Promise.resolve()).then(fn).catch((err: unknown) => {
      this.o.log.error({ err, lease: name }, `${what} what ${name} guards failed: ${(err as Error).message}`);
    });
    this.work.set(name, run);
    void run.finally(() => {
      if (this.work.get(name) === run) this.work.delete(name);
    });
  }

  /** Resolves when every gained/lost callback started so far has finished. */
  async settled(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work.values()]);
  }

  /** Stop ticking and hand the leases back (the caller stopped what they guard). Never throws. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadlineTimer);
    await this.ticking;
    await this.settled();
    this.held.clear();
    try {
      this.o.db.query(`UPDATE pp_leases SET holder = NULL, expires = now() WHERE holder = $1`, [this.id]);
      this.o.db.query(`DELETE FROM pp_processes WHERE id = $1`, [this.id]);
    } catch (err) {
      this.o.log.warn(
        { err },
        `the leases could not be handed back (${(err as Error).message}); the other processes take them when they expire`,
      );
    }
  }
}

/** Every live process on the database and what it holds (for `peerpost status`). */
export function processesOf(db: LeaseDb, failoverMs: number, self?: string): ProcessView[] {
  const procs = db.query(
    `SELECT id, host, pid::float8 AS pid, ${MS('started')} AS started, ${MS('heartbeat')} AS heartbeat
     FROM pp_processes WHERE heartbeat > now() - $1 * interval '1 millisecond' ORDER BY started, id`,
    [failoverMs],
  ) as Omit<ProcessView, 'self' | 'leases'>[];
  const leases = db.query(
    `SELECT name, holder, epoch::float8 AS epoch, ${MS('since')} AS since, ${MS('expires')} AS expires
     FROM pp_leases WHERE holder IS NOT NULL AND expires > now() ORDER BY name`,
  ) as { name: string; holder: string; epoch: number; since: number; expires: number }[];
  return procs.map((p) => ({
    ...p,
    self: p.id === self,
    leases: leases
      .filter((l) => l.holder === p.id)
      .map((l) => ({ name: l.name, epoch: l.epoch, since: l.since, expires: l.expires })),
  }));
}

/** The lease that guards an account: its connection (when single-holder) and its endpoints' deliveries. */
export const accountLease = (account: string) => `account:${account}`;
/** The lease that guards closing digests (once, not once per process). */
export const DIGESTS_LEASE = 'digests';
