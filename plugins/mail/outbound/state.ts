/**
 * The sending side's own tables (migration part "outbound", so it keeps its own
 * append-only list beside the list side's):
 *
 *   mail_out_deliveries  one row per outbox row delivered to a list: which post, how many recipients; kept a
 *                        week after it is done, so a late retry of the same row (after delivery.timeout)
 *                        sends nothing again
 *   mail_out_recipients  the recipients snapshotted at the first attempt, each pending / sent / bounced
 *   mail_out_queue       robot mail and forwarded owner mail, durable, retried with backoff
 */
import type { PluginStore } from '../../../src/plugin.js';

export const OUTBOUND_MIGRATIONS: readonly string[] = [
  `CREATE TABLE mail_out_deliveries (
     row INTEGER PRIMARY KEY,
     post_id TEXT NOT NULL,
     list TEXT NOT NULL,
     total INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     done_at INTEGER,
     bounced INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE mail_out_recipients (
     row INTEGER NOT NULL,
     address TEXT NOT NULL,
     token TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending',
     attempts INTEGER NOT NULL DEFAULT 0,
     code INTEGER,
     reply TEXT,
     updated_at INTEGER,
     PRIMARY KEY (row, address)
   ) WITHOUT ROWID;
   CREATE TABLE mail_out_queue (
     id INTEGER PRIMARY KEY,
     kind TEXT NOT NULL,
     list TEXT NOT NULL,
     sender TEXT NOT NULL,
     recipients TEXT NOT NULL,
     raw BLOB NOT NULL,
     created_at INTEGER NOT NULL,
     next_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT
   );
   CREATE INDEX mail_out_queue_due ON mail_out_queue (next_at);`,
  // One stored copy of a message that goes to many queue rows (a digest: one row per transaction of recipients);
  // a row with a body has an empty raw of its own. The body goes with the last row that uses it.
  `CREATE TABLE mail_out_bodies (
     id INTEGER PRIMARY KEY,
     raw BLOB NOT NULL,
     created_at INTEGER NOT NULL
   );
   ALTER TABLE mail_out_queue ADD COLUMN body INTEGER;
   CREATE INDEX mail_out_queue_body ON mail_out_queue (body) WHERE body IS NOT NULL;`,
];

export type RecipientState = 'pending' | 'sent' | 'bounced';

export interface RecipientResult {
  address: string;
  state: RecipientState;
  code: number | null;
  reply: string | null;
}

export interface QueueRow {
  id: number;
  kind: string;
  list: string;
  sender: string;
  recipients: string;
  raw: Buffer;
  /** The shared copy in mail_out_bodies when raw is empty (digests), else null. */
  body: number | null;
  created_at: number;
  next_at: number;
  attempts: number;
  last_error: string | null;
}

export function outboundStatements(store: PluginStore) {
  const s = {
    delivery: store.prepare('SELECT post_id, list, total, done_at, bounced FROM mail_out_deliveries WHERE row = ?'),
    insertDelivery: store.prepare(
      'INSERT OR REPLACE INTO mail_out_deliveries (row, post_id, list, total, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    doneDelivery: store.prepare('UPDATE mail_out_deliveries SET done_at = ?, bounced = ? WHERE row = ?'),
    pruneDeliveries: store.prepare('DELETE FROM mail_out_deliveries WHERE done_at IS NOT NULL AND done_at < ?'),
    insertRecipient: store.prepare('INSERT OR IGNORE INTO mail_out_recipients (row, address, token) VALUES (?, ?, ?)'),
    deleteRecipients: store.prepare('DELETE FROM mail_out_recipients WHERE row = ?'),
    pending: store.prepare(`SELECT address, token FROM mail_out_recipients WHERE row = ? AND state = 'pending'`),
    countPending: store.prepare(`SELECT count(*) FROM mail_out_recipients WHERE row = ? AND state = 'pending'`).pluck(),
    counts: store.prepare('SELECT state, count(*) AS n FROM mail_out_recipients WHERE row = ? GROUP BY state'),
    setRecipient: store.prepare(
      'UPDATE mail_out_recipients SET state = ?, code = ?, reply = ?, attempts = attempts + 1, updated_at = ? WHERE row = ? AND address = ?',
    ),
    enqueue: store.prepare(
      'INSERT INTO mail_out_queue (kind, list, sender, recipients, raw, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    enqueueShared: store.prepare(
      `INSERT INTO mail_out_queue (kind, list, sender, recipients, raw, body, created_at, next_at) VALUES (?, ?, ?, ?, X'', ?, ?, ?)`,
    ),
    insertBody: store.prepare('INSERT INTO mail_out_bodies (raw, created_at) VALUES (?, ?)'),
    body: store.prepare('SELECT raw FROM mail_out_bodies WHERE id = ?').pluck(),
    dropBodyIfUnused: store.prepare(
      'DELETE FROM mail_out_bodies WHERE id = ? AND NOT EXISTS (SELECT 1 FROM mail_out_queue WHERE body = ?)',
    ),
    dropUnusedBodies: store.prepare(
      'DELETE FROM mail_out_bodies WHERE id NOT IN (SELECT body FROM mail_out_queue WHERE body IS NOT NULL)',
    ),
    due: store.prepare('SELECT * FROM mail_out_queue WHERE next_at <= ? ORDER BY next_at, id LIMIT ?'),
    nextDue: store.prepare('SELECT min(next_at) FROM mail_out_queue').pluck(),
    reschedule: store.prepare(
      'UPDATE mail_out_queue SET recipients = ?, next_at = ?, attempts = ?, last_error = ? WHERE id = ?',
    ),
    dequeue: store.prepare('DELETE FROM mail_out_queue WHERE id = ?'),
    queueLength: store.prepare('SELECT count(*) FROM mail_out_queue').pluck(),
  };
  return s;
}

export type OutboundStatements = ReturnType<typeof outboundStatements>;

/** The robot-mail queue of one list, as `waiting()` reports it. */
export interface QueueSummary {
  list: string;
  count: number;
  /** ms since the epoch */
  oldest: number;
  nextAt: number;
  /** The reason of the latest deferral among the list's waiting mail, if any. */
  lastError: string | null;
  /** When that deferral's retry is due (the latest failure is the one rescheduled furthest ahead). */
  lastErrorAt: number | null;
}

/**
 * What waits in mail_out_queue, per list: read straight from the store, so the CLI can tell with the daemon
 * stopped. Nothing when the table does not exist yet (no mail account has started on this store).
 */
export function queueSummary(store: Pick<PluginStore, 'prepare'>): QueueSummary[] {
  const exists = store
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mail_out_queue'`)
    .pluck()
    .get();
  if (!exists) return [];
  const rows = store
    .prepare(
      `SELECT list, count(*) AS count, min(created_at) AS oldest, min(next_at) AS nextAt FROM mail_out_queue GROUP BY list ORDER BY list`,
    )
    .all() as Omit<QueueSummary, 'lastError' | 'lastErrorAt'>[];
  const errors = store.prepare(
    `SELECT last_error AS lastError, next_at AS at FROM mail_out_queue WHERE list = ? AND last_error IS NOT NULL ORDER BY next_at DESC, id DESC LIMIT 1`,
  );
  return rows.map((r) => {
    const e = errors.get(r.list) as { lastError: string; at: number } | undefined;
    return { ...r, lastError: e?.lastError ?? null, lastErrorAt: e?.at ?? null };
  });
}
