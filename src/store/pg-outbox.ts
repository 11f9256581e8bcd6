/**
 * The outbox's writes gathered on PostgreSQL (the Store's addDeliveries, batch, landDelivery and flushDelivered
 * there): a group commit's outbox rows written with one statement sent with its COMMIT, and the deliveries done
 * (their rows deleted, their native ids kept) written on the outbox's next turn, one statement per fence, in one
 * round trip. SQLite writes each at once and has none of this.
 */
import type { SqlDatabase } from '../sql.js';
import type { PgStatement } from './pg/database.js';
import type { StoreStatements } from './statements.js';
import { Landing, type Fence, type FencedWrite, type LandedId } from './outcomes.js';

/** An outbox row waiting for the end of batch(). */
interface WaitingRow {
  k: number;
  post_seq: number;
  endpoint: string;
  shape: string;
  at: number;
  /** Where its row number goes: the array addDeliveries gave back, at i. */
  out: number[];
  i: number;
}

export class PgOutboxWrites {
  /** batch(): under way; outbox rows waiting for its end. */
  private batching = false;
  private waitingRows: WaitingRow[] = [];
  /** Deliveries recorded (land) and not yet written (flush), by fence. */
  private readonly landing = new Landing();

  constructor(
    private readonly db: SqlDatabase,
    private readonly q: StoreStatements,
    private readonly tx: <T>(fn: () => T) => T,
    private readonly onFenced: (fence: Fence, what: FencedWrite, rows: readonly number[]) => void,
  ) {}

  /** Inside batch(): the post's rows wait for its end, their numbers filled in then; undefined outside one. */
  add(postSeq: number, routes: readonly { endpoint: string; shape: string }[], now: number): number[] | undefined {
    if (!this.batching) return undefined;
    const rows: number[] = [];
    routes.forEach((r, i) =>
      this.waitingRows.push({
        k: this.waitingRows.length + 1,
        post_seq: postSeq,
        endpoint: r.endpoint,
        shape: r.shape,
        at: now,
        out: rows,
        i,
      }),
    );
    return rows;
  }

  /** Run fn with the outbox rows it adds written together at its end (with the transaction's COMMIT when in one). */
  batch<T>(fn: () => T): T {
    if (this.batching) return fn();
    this.batching = true;
    try {
      const r = fn();
      const waiting = this.waitingRows;
      if (waiting.length > 0) {
        const stmt = this.q.insertOutboxRows!;
        const args = [waiting.length, JSON.stringify(waiting.map(({ out: _o, i: _i, ...row }) => row))];
        const fill = (rows: unknown[]) => {
          for (const x of rows as { k: number; row: number }[]) {
            const w = waiting[x.k - 1]!;
            w.out[w.i] = x.row;
          }
        };
        const later = (stmt as Partial<PgStatement>).later;
        if (this.db.inTransaction && later) later.call(stmt, args, fill);
        else fill(stmt.all(...args));
      }
      return r;
    } finally {
      this.batching = false;
      this.waitingRows = [];
    }
  }

  /** A delivery done, to be written by flush(). */
  land(row: number, id?: LandedId, fence?: Fence): void {
    this.landing.add(row, id, fence);
  }

  /** Deliveries waiting for flush(). */
  get waiting(): number {
    return this.landing.size;
  }

  /**
   * Write the deliveries waiting in one transaction, committed by itself (the Store's flushDelivered says what
   * happens when it fails, inside a transaction, and to a refused fence).
   */
  flush(): void {
    if (this.landing.empty) return;
    if (this.db.inTransaction || !this.db.open) return;
    const groups = this.landing.waiting();
    const refused: typeof groups = [];
    // One round trip (BEGIN, the setting, the statements, COMMIT), committed without waiting for the disk
    // (synchronous_commit off for this transaction alone): losing it in a crash of PostgreSQL or of its machine means
    // the posts are sent again, which is what a crash before this write means anyway; nobody was acknowledged.
    const [noWait, land, fenced] = [this.q.landNoWait, this.q.landDeliveries, this.q.landFenced] as PgStatement[];
    this.tx(() => {
      noWait!.later([]);
      for (const g of groups) {
        // Of native ids given twice, the last wins (as setNativeId one after another).
        const ids = JSON.stringify(g.ids.map((i, n) => ({ n, a: i.account, t: i.target, x: i.nativeId, p: i.postId })));
        const rows = JSON.stringify(g.rows);
        const f = g.fence;
        if (!f) land!.later([rows, ids]);
        else
          fenced!.later([f.lease, f.holder, f.epoch, rows, ids], (r) => {
            if (!(r[0] as { held?: boolean } | undefined)?.held) refused.push(g);
          });
      }
    });
    this.landing.taken();
    for (const g of refused) this.onFenced(g.fence!, 'delivered', g.rows);
  }
}
