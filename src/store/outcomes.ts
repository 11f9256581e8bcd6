/**
 * The outbox's writes of an outcome (a delivery landed, a retry, a dead letter): their SQL, the fence a lease
 * holder's writes carry (several processes on one PostgreSQL database), and on PostgreSQL the deliveries that wait in
 * memory to be written together (Landing: a turn's deliveries in one round trip instead of three each). Used by Store
 * (src/store.ts), which owns the statements and the transactions.
 */

/**
 * Several processes on one PostgreSQL database (src/runtime/leases.ts): what an outbox write of a lease holder
 * carries. The write succeeds only if, in the same statement, pp_leases still shows `holder` holding `lease` at
 * `epoch` (not expired); otherwise it changes nothing (Store.onFenced is told). Epochs start at 1: a fence of epoch 0
 * (a lease this process does not hold) is always refused.
 */
export interface Fence {
  lease: string;
  holder: string;
  epoch: number;
}

/** Which outbox write a fence refused. */
export type FencedWrite = 'delivered' | 'retry' | 'dead';

/** A native id kept with a delivery (Store.landDelivery). */
export type LandedId = { account: string; target: string; nativeId: string; postId: string };

/**
 * A fence's check (Fence), the first CTE of a fenced write; its three parameters come first: lease, holder, epoch.
 * FOR SHARE: a takeover (an UPDATE of this row) waits for the write's commit, or the write waits for the takeover's
 * and then finds no row (READ COMMITTED reads the row again after the wait).
 */
const FENCE_SQL = `SELECT 1 FROM pp_leases WHERE name = CAST(? AS TEXT) AND holder = CAST(? AS TEXT)
  AND epoch = CAST(? AS BIGINT) AND expires > now() FOR SHARE`;

/**
 * The condition of a lease holder's writes (fencedSql); `TRUE` is anyone's. Each write below is written once and
 * made under one or the other.
 */
export const FENCE_HOLDS = 'EXISTS (SELECT 1 FROM fence)';

export const outcomeSql = {
  /** PostgreSQL: the delivered rows (a JSON array of row numbers). */
  gone: (when: string) =>
    `DELETE FROM outbox WHERE row IN (SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(CAST(? AS JSONB))) AND ${when}`,
  /** PostgreSQL: their native ids (a JSON array); of one given twice, the last wins (as setNativeId one after another). */
  ids: (when: string) =>
    `INSERT INTO native_ids (account, target, native_id, post_id)
     SELECT DISTINCT ON (i.a, i.t, i.x) i.a, i.t, i.x, i.p
     FROM jsonb_to_recordset(CAST(? AS JSONB)) AS i (n BIGINT, a TEXT, t TEXT, x TEXT, p TEXT)
     WHERE ${when}
     ORDER BY i.a, i.t, i.x, i.n DESC
     ON CONFLICT (account, target, native_id) DO UPDATE SET post_id = excluded.post_id`,
  retry: (when: string) => `UPDATE outbox SET attempts = ?, next_at = ?, last_error = ? WHERE row = ? AND ${when}`,
  dead: (when: string) =>
    `UPDATE outbox SET state = 'dead', attempts = ?, last_error = ?, dead_at = ? WHERE row = ? AND ${when}`,
};

/**
 * PostgreSQL, a lease holder's (Fence) writes: done only if the lease row, locked FOR SHARE in the statement, still
 * names this holder at this epoch, unexpired. The lock makes a takeover's UPDATE of that row wait for this write's
 * commit (or this write see the takeover and change nothing): never both. The answer says whether the fence held.
 */
export const fencedSql = (...writes: string[]) =>
  `WITH fence AS (${FENCE_SQL}), ${writes.map((w, i) => `w${i} AS (${w})`).join(', ')}
   SELECT ${FENCE_HOLDS} AS held`;

/** Deliveries waiting for their write under one fence (or none). */
export interface LandingGroup {
  fence?: Fence;
  rows: number[];
  ids: LandedId[];
}

const fenceKey = (f: Fence | undefined) => (f ? `${f.lease}\u0000${f.holder}\u0000${f.epoch}` : '');

/**
 * PostgreSQL: deliveries recorded (Store.landDelivery) and not yet written (Store.flushDelivered), grouped by their
 * fence: one statement per group.
 */
export class Landing {
  private groups = new Map<string, LandingGroup>();

  add(row: number, id: LandedId | undefined, fence: Fence | undefined): void {
    const key = fenceKey(fence);
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { ...(fence ? { fence } : {}), rows: [], ids: [] }));
    g.rows.push(row);
    if (id) g.ids.push(id);
  }

  get empty(): boolean {
    return this.groups.size === 0;
  }

  /** Deliveries waiting. */
  get size(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.rows.length;
    return n;
  }

  /** The groups, for their write; call taken() once it is done (a failed write leaves them for the next). */
  waiting(): LandingGroup[] {
    return [...this.groups.values()];
  }

  /** The groups given by waiting() are written (or refused by their fence): forget them. */
  taken(): void {
    this.groups = new Map();
  }
}
