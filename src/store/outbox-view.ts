/**
 * The outbox as an operator sees and mends it (`peerpost outbox`, `peerpost status`, `peerpost retry`): its rows with
 * their posts, its depth and age per endpoint, and a row put back in line. Read through Store, which first writes the
 * deliveries still waiting in memory (PostgreSQL: Store.landDelivery) so that none shows as pending that is done.
 */
import type { SqlDatabase, SqlDialect } from '../sql.js';
import { OUTBOX_CHANNEL } from './pg/schema.js';
import { toRow, type OutboxRow, type RawOutbox } from './outbox-row.js';

/** Which rows `peerpost outbox` lists (all by default, the first 1,000). */
export interface OutboxFilter {
  bridge?: string;
  state?: 'pending' | 'dead';
  endpoint?: string;
  limit?: number;
}

/** One endpoint's line of the outbox's depth and age. */
export interface OutboxStat {
  endpoint: string;
  pending: number;
  dead: number;
  oldest: number | null;
}

const ROWS = 'SELECT o.*, p.id AS post_id, p.bridge AS bridge FROM outbox o JOIN posts p ON p.seq = o.post_seq';

/** Rows, oldest first. */
export function listOutbox(db: SqlDatabase, filter: OutboxFilter): OutboxRow[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.bridge !== undefined) {
    where.push('p.bridge = ?');
    args.push(filter.bridge);
  }
  if (filter.state !== undefined) {
    where.push('o.state = ?');
    args.push(filter.state);
  }
  if (filter.endpoint !== undefined) {
    where.push('o.endpoint = ?');
    args.push(filter.endpoint);
  }
  const sql = `${ROWS} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY o.row LIMIT ?`;
  return (db.prepare(sql).all(...args, filter.limit ?? 1000) as RawOutbox[]).map(toRow);
}

export function outboxRow(db: SqlDatabase, row: number): OutboxRow | undefined {
  const r = db.prepare(`${ROWS} WHERE o.row = ?`).get(row) as RawOutbox | undefined;
  return r && toRow(r);
}

/** Depth and age of the outbox, per endpoint. */
export function outboxStats(db: SqlDatabase): OutboxStat[] {
  return db
    .prepare(
      `SELECT endpoint, sum(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending,
                            sum(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead,
                            min(CASE WHEN state = 'pending' THEN created_at END) AS oldest
                          FROM outbox GROUP BY endpoint ORDER BY endpoint`,
    )
    .all() as OutboxStat[];
}

/**
 * Put a dead (or waiting) row back in line, to be tried at once; false when there is no such row. PostgreSQL: the
 * process that delivers its endpoint (maybe another) is woken at the commit (NOTIFY pp_outbox, as for a new row).
 */
export function requeue(db: SqlDatabase, dialect: SqlDialect, row: number): boolean {
  const put = `UPDATE outbox SET state = 'pending', attempts = 0, next_at = 0, dead_at = NULL WHERE row = ?`;
  if (dialect === 'postgres')
    return (
      db
        .prepare(`WITH put AS (${put} RETURNING endpoint) SELECT pg_notify('${OUTBOX_CHANNEL}', endpoint) FROM put`)
        .all(row).length > 0
    );
  return db.prepare(put).run(row).changes > 0;
}
