/**
 * The Store's statements (src/store.ts), prepared once when it opens: the same names on SQLite and PostgreSQL, a
 * statement undefined where a dialect has no use for it (the Store chooses by which are there).
 */
import { indexedBy, type SqlDatabase } from '../sql.js';
import { FENCE_HOLDS, fencedSql, outcomeSql } from './outcomes.js';

export type StoreStatements = ReturnType<typeof prepareStatements>;

/** pg: the store is on PostgreSQL. */
export function prepareStatements(db: SqlDatabase, pg: boolean) {
  return {
    // seq: the next after every post held or removed (SQLite alone would give a removed newest post's seq again).
    insertPost: pg
      ? undefined
      : db.prepare(
          `INSERT OR IGNORE INTO posts (seq, id, bridge, received_at, data, date, placed_at, imported) VALUES (
         max(coalesce((SELECT max(seq) FROM posts), 0), coalesce((SELECT max(seq) FROM tombstones WHERE seq IS NOT NULL), 0)) + 1,
         ?, ?, ?, ?, ?, ?, ?)`,
        ),
    // PostgreSQL: a batch of posts in one round trip (src/store/pg/schema.ts, pp_insert_posts).
    insertPosts: pg ? db.prepare('SELECT n, seq FROM pp_insert_posts(CAST(? AS JSONB), CAST(? AS BIGINT))') : undefined,
    // PostgreSQL, batch(): a group commit's outbox rows in one statement, numbered from the outbox's sequence in
    // their order (k), under the posts lock its posts' insert took: numbered in commit order across processes.
    insertOutboxRows: pg
      ? db.prepare(
          `WITH drawn AS (
             SELECT nextval(q.s) AS row FROM (SELECT CAST(pg_get_serial_sequence('outbox', 'row') AS REGCLASS) AS s) AS q,
               generate_series(1, CAST(? AS INTEGER))
           ), numbered AS (
             SELECT d.row, row_number() OVER (ORDER BY d.row) AS k FROM drawn d
           ), stored AS (
             INSERT INTO outbox (row, post_seq, endpoint, shape, created_at)
             SELECT x.row, r.post_seq, r.endpoint, r.shape, r.at
             FROM jsonb_to_recordset(CAST(? AS JSONB)) AS r (k BIGINT, post_seq BIGINT, endpoint TEXT, shape TEXT, at BIGINT)
             JOIN numbered x ON x.k = r.k
           )
           SELECT k, row FROM numbered`,
        )
      : undefined,
    // PostgreSQL, ingestPosts: a group commit in one statement, committed by itself: the posts (pp_insert_posts:
    // the posts lock, search rows) and the outbox rows of those inserted, in the batch's order (post n, then route
    // i): an INSERT … SELECT … ORDER BY draws each row's number (the outbox's identity) as it inserts the sorted
    // rows, so the numbers follow that order, as batch() numbers them. One row back per outbox row (a post without
    // routes: one row, its number null), flat: the core groups them (a jsonb_agg of each post's numbers, and
    // drawing the numbers apart first, made the statement 1.16x slower: bench/RESULTS.md, issue 17).
    ingestPosts: pg
      ? db.prepare(
          `WITH ins AS (
             SELECT p.n, p.seq FROM pp_insert_posts(CAST(? AS JSONB), CAST(? AS BIGINT)) AS p
           ), routes AS (
             SELECT * FROM jsonb_to_recordset(CAST(? AS JSONB)) AS r (n BIGINT, i BIGINT, e TEXT, s TEXT)
           ), stored AS (
             INSERT INTO outbox (post_seq, endpoint, shape, created_at)
             SELECT i.seq, r.e, r.s, CAST(? AS BIGINT) FROM ins i JOIN routes r ON r.n = i.n ORDER BY i.n, r.i
             RETURNING row, post_seq
           )
           SELECT i.n, i.seq, s.row FROM ins i LEFT JOIN stored s ON s.post_seq = i.seq ORDER BY i.n, s.row`,
        )
      : undefined,
    // SQLite: a post's row of the search index. PostgreSQL writes them with the posts (pp_insert_posts) or, for
    // posts stored already, by indexPosts.
    indexPost: pg
      ? undefined
      : db.prepare(
          'INSERT INTO archive_fts (rowid, subject, body, author, author_address, addresses) VALUES (?, ?, ?, ?, ?, ?)',
        ),
    // PostgreSQL, indexPosts: the search rows of posts stored already, each field's tsvector text as
    // pp_insert_posts takes it (src/store/pg/tsvector.ts): public = s || a || b, whole = public || aa || ad.
    indexPosts: pg
      ? db.prepare(
          `INSERT INTO archive_fts (seq, public, whole)
           SELECT x.seq, x.s || x.a || x.b, x.s || x.a || x.b || x.aa || x.ad
           FROM jsonb_to_recordset(CAST(? AS JSONB))
             AS x (seq BIGINT, s TSVECTOR, b TSVECTOR, a TSVECTOR, aa TSVECTOR, ad TSVECTOR)`,
        )
      : undefined,
    insertOutbox: db.prepare('INSERT INTO outbox (post_seq, endpoint, shape, created_at) VALUES (?, ?, ?, ?)'),
    insertDigestLine: db.prepare('INSERT INTO digest_lines (bridge, post_seq, at) VALUES (?, ?, ?)'),
    hasPost: db.prepare('SELECT 1 FROM posts WHERE id = ?').pluck(),
    seen: db.prepare(
      `SELECT 1 AS held, NULL AS id, NULL AS bridge, NULL AS reason, NULL AS by, NULL AS at, NULL AS cause
       FROM posts WHERE id = ?
       UNION ALL SELECT 0, id, bridge, reason, by, at, cause FROM tombstones WHERE id = ? LIMIT 1`,
    ),
    idAtSeq: db.prepare('SELECT id FROM posts WHERE seq = ?').pluck(),
    postById: db.prepare('SELECT seq, received_at, data, imported FROM posts WHERE id = ?'),
    postBySeq: db.prepare('SELECT seq, received_at, data, imported FROM posts WHERE seq = ?'),
    // Newest first by place (migration 10), from a position (placed_at, seq) exclusive: posts_by_place.
    latest: db.prepare(
      `SELECT seq, received_at, data, imported FROM posts ${indexedBy(db, 'posts_by_place')}
       WHERE bridge = @bridge AND (placed_at, seq) < (@at, @seq) ORDER BY placed_at DESC, seq DESC LIMIT @limit`,
    ),
    // Where a page cursor (a seq) stands: its post's place, or its tombstone's (a removed post's).
    placeOfSeq: db
      .prepare(
        `SELECT placed_at FROM posts WHERE seq = @seq
         UNION ALL SELECT placed_at FROM tombstones WHERE seq = @seq AND placed_at IS NOT NULL LIMIT 1`,
      )
      .pluck(),
    // A cursor whose place is not known (a post removed before migration 10): the place of the post before it, read
    // from posts_search (seq first, bridge and place beside it: posts_by_bridge is gone, migration 13).
    placeBeforeSeq: db
      .prepare(
        `SELECT placed_at FROM posts ${indexedBy(db, 'posts_search')} WHERE bridge = ? AND seq < ? ORDER BY seq DESC LIMIT 1`,
      )
      .pluck(),
    since: db.prepare(
      `SELECT seq, received_at, data, imported FROM posts ${indexedBy(db, 'posts_live')} WHERE bridge = ? AND seq > ? AND imported = 0 ORDER BY seq LIMIT ?`,
    ),
    // Every bridge, by seq: the posts other processes commit (PostListeners' feed, several processes on PostgreSQL).
    after: db.prepare('SELECT seq, received_at, data, imported FROM posts WHERE seq > ? ORDER BY seq LIMIT ?'),
    newestSeq: db.prepare('SELECT coalesce(max(seq), 0) FROM posts').pluck(),
    thread: db.prepare(
      'SELECT seq, received_at, data, imported FROM posts WHERE thread = ? ORDER BY placed_at, seq LIMIT ?',
    ),
    head: db.prepare(`SELECT o.*, p.id AS post_id, p.bridge AS bridge, p.data AS data FROM outbox o JOIN posts p ON p.seq = o.post_seq
                      WHERE o.endpoint = ? AND o.state = 'pending' AND o.row > ? ORDER BY o.row LIMIT ?`),
    pendingEndpoints: db.prepare(`SELECT DISTINCT endpoint FROM outbox WHERE state = 'pending'`).pluck(),
    deleteRow: db.prepare('DELETE FROM outbox WHERE row = ?'),
    landNoWait: pg ? db.prepare(`SELECT set_config('synchronous_commit', 'off', true)`) : undefined,
    // PostgreSQL: delivered rows deleted and native ids set in one statement (flushDelivered).
    landDeliveries: pg ? db.prepare(`WITH gone AS (${outcomeSql.gone('TRUE')}) ${outcomeSql.ids('TRUE')}`) : undefined,
    // PostgreSQL, a lease holder's (Fence): the same writes, fenced.
    landFenced: pg ? db.prepare(fencedSql(outcomeSql.gone(FENCE_HOLDS), outcomeSql.ids(FENCE_HOLDS))) : undefined,
    retryFenced: pg ? db.prepare(fencedSql(outcomeSql.retry(FENCE_HOLDS))) : undefined,
    killFenced: pg ? db.prepare(fencedSql(outcomeSql.dead(FENCE_HOLDS))) : undefined,
    retryRow: db.prepare(outcomeSql.retry('TRUE')),
    killRow: db.prepare(outcomeSql.dead('TRUE')),
    wakeEndpoint: db.prepare(`UPDATE outbox SET next_at = 0 WHERE endpoint = ? AND state = 'pending'`),
    kvGet: db.prepare('SELECT value FROM kv WHERE scope = ? AND key = ?').pluck(),
    kvSet: db.prepare(
      'INSERT INTO kv (scope, key, value) VALUES (?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value',
    ),
    kvDelete: db.prepare('DELETE FROM kv WHERE scope = ? AND key = ?'),
    kvKeys: db.prepare(`SELECT key FROM kv WHERE scope = ? AND key >= ? AND key < ? ORDER BY key`).pluck(),
    idSet: db.prepare(
      `INSERT INTO native_ids (account, target, native_id, post_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (account, target, native_id) DO UPDATE SET post_id = excluded.post_id`,
    ),
    idPost: db.prepare('SELECT post_id FROM native_ids WHERE account = ? AND target = ? AND native_id = ?').pluck(),
    idNative: db
      .prepare('SELECT native_id FROM native_ids WHERE post_id = ? AND account = ? AND target = ? LIMIT 1')
      .pluck(),
    digestLines: db.prepare(
      `SELECT d.id, d.at, p.seq, p.received_at, p.data FROM digest_lines d JOIN posts p ON p.seq = d.post_seq WHERE d.bridge = ? ORDER BY d.id`,
    ),
    digestSummary: db.prepare(
      `SELECT bridge, count(*) AS n, min(at) AS first, max(at) AS last FROM digest_lines GROUP BY bridge`,
    ),
    digestDelete: db.prepare('DELETE FROM digest_lines WHERE bridge = ? AND id <= ?'),
    insertDigestPost: db.prepare('INSERT INTO digest_posts (digest_seq, position, post_seq) VALUES (?, ?, ?)'),
    digestPosts: db.prepare(
      `SELECT p.seq, p.received_at, p.data FROM digest_posts d JOIN posts p ON p.seq = d.post_seq
       WHERE d.digest_seq = (SELECT seq FROM posts WHERE id = ?) ORDER BY d.position`,
    ),
  };
}
