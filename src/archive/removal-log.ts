/**
 * The removal log (issue 17: several processes on one PostgreSQL database). A removal is told to the accounts of
 * the process that made it (Removals.tell); the other processes learn of it here: the removing transaction writes
 * one row (pp_removals, src/store/pg/schema.ts) whose insert NOTIFYs pp_removed at the commit, and each process
 * reads the rows after the last it read (on the wake-up, on the slow poll, after a lost connection comes back) and
 * tells the listeners that asked for other processes' removals (ctx.onRemoved(fn, { fromOtherProcesses: true })).
 *
 * A row holds what a view needs to forget a post (its id, bridge, seq, cause and the reason shown), never its text:
 * a removed post's subject and body are kept nowhere. Rows are numbered in commit order (the writer takes an
 * advisory lock first), so a reader that goes by number misses none. They are pruned after a day (KEEP_MS); a
 * process that could not read the database for longer than that is restarted by its operator anyway.
 *
 * SQLite (one process): no log; every listener is told by the one process.
 */
import type { Store } from '../store.js';
import type { RemovedPost } from './removal.js';

/** The advisory lock (pg_advisory_xact_lock) that orders the transactions writing the log. */
export const REMOVALS_LOCK = 0x70707276; // "pprv"

/** How long a row is kept for a process that could not read it yet. */
export const KEEP_MS = 24 * 3600_000;

/** A removal read back from the log. */
export interface LoggedRemoval {
  n: number;
  /** The process that made it (Removals' origin): 'offline' for `peerpost remove` with no daemon to ask. */
  origin: string;
  removed: RemovedPost[];
}

/** What the log keeps of a removed post: no subject, no body (the text leaves with the post). */
export function withoutText(r: RemovedPost): RemovedPost {
  const { subject: _s, ...post } = r.post;
  return { ...r, post: { ...post, body: '' } };
}

export class RemovalLog {
  constructor(private readonly store: Store) {}

  /** Whether this store has the log (PostgreSQL: several processes may share it). */
  get kept(): boolean {
    return this.store.dialect === 'postgres';
  }

  /** In the removing transaction: one row of what it removed, numbered after every row committed before it. */
  write(origin: string, removed: readonly RemovedPost[], at: number): void {
    if (!this.kept || removed.length === 0) return;
    const db = this.store.db;
    db.prepare('SELECT pg_advisory_xact_lock(?)').get(REMOVALS_LOCK);
    db.prepare('INSERT INTO pp_removals (at, origin, removed) VALUES (?, ?, ?)').run(
      at,
      origin,
      JSON.stringify(removed.map(withoutText)),
    );
  }

  /** The rows after `n`, oldest first. */
  after(n: number, limit: number): LoggedRemoval[] {
    if (!this.kept) return [];
    const rows = this.store.db
      .prepare('SELECT n, origin, removed FROM pp_removals WHERE n > ? ORDER BY n LIMIT ?')
      .all(n, limit) as { n: number | string; origin: string; removed: string }[];
    return rows.map((r) => ({ n: Number(r.n), origin: r.origin, removed: JSON.parse(r.removed) as RemovedPost[] }));
  }

  /** The newest row's number (0 when none). */
  newest(): number {
    if (!this.kept) return 0;
    return Number(this.store.db.prepare('SELECT coalesce(max(n), 0) FROM pp_removals').pluck().get());
  }

  /** Drop the rows older than KEEP_MS; returns how many. */
  prune(now: number): number {
    if (!this.kept) return 0;
    return this.store.db.prepare('DELETE FROM pp_removals WHERE at < ?').run(now - KEEP_MS).changes;
  }
}
