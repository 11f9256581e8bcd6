// The SQLite → PostgreSQL translator of the PostgreSQL store (src/store/pg/dialect.ts): what the plugins write
// comes out as PostgreSQL means the same; what has no faithful translation is refused with the statement named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  translateDdl,
  translateStatement,
  UnsupportedSqlError,
  type Catalog,
  type TableInfo,
} from '../../src/store/pg/dialect.js';

const tables: Record<string, TableInfo> = {
  mail_out_deliveries: {
    columns: ['row', 'post_id', 'list', 'total', 'created_at', 'done_at', 'bounced'],
    primaryKey: ['row'],
    identity: 'row',
    unique: [],
  },
  mail_decisions: {
    columns: ['account', 'held_id', 'list', 'action', 'by', 'rowid'],
    primaryKey: ['account', 'held_id'],
    identity: 'rowid',
    unique: [],
  },
  kv: { columns: ['scope', 'key', 'value'], primaryKey: ['scope', 'key'], unique: [] },
  two_keys: { columns: ['a', 'b', 'c'], primaryKey: ['a'], unique: [['b']] },
  no_key: { columns: ['a', 'b'], primaryKey: [], unique: [] },
};
const catalog: Catalog = { table: (name) => tables[name] };
const pg = (sql: string) => translateStatement(sql, catalog);
const refused = (f: () => unknown, why: RegExp) =>
  assert.throws(
    f,
    (e: Error) => e instanceof UnsupportedSqlError && why.test(e.message) && /\n {2}in: /.test(e.message),
  );

test('parameters: ? and @name/:name/$name become $n (a name used twice is one parameter)', () => {
  assert.deepEqual(pg('SELECT a FROM kv WHERE scope = ? AND key >= ? AND key < ?'), {
    text: 'SELECT a FROM kv WHERE scope = $1 AND key >= $2 AND key < $3',
    positional: 3,
    names: [],
    reader: true,
  });
  const n = pg(
    'SELECT placed_at FROM posts WHERE seq = @seq UNION ALL SELECT placed_at FROM t WHERE seq = @seq AND x = :x AND y = $y',
  );
  assert.equal(
    n.text,
    'SELECT placed_at FROM posts WHERE seq = $1 UNION ALL SELECT placed_at FROM t WHERE seq = $1 AND x = $2 AND y = $3',
  );
  assert.deepEqual(n.names, ['seq', 'x', 'y']);
  // Inside strings and quoted names nothing changes.
  assert.equal(
    pg(`SELECT '?', "a?b" FROM kv WHERE key = ? AND value = 'it''s @x'`).text,
    `SELECT '?', "a?b" FROM kv WHERE key = $1 AND value = 'it''s @x'`,
  );
  refused(() => pg('SELECT ?1'), /numbered parameters/);
  refused(() => pg('SELECT a FROM kv WHERE a = ? AND b = @b'), /positional \(\?\) and named/);
});

test('INSERT OR IGNORE → ON CONFLICT DO NOTHING; RETURNING the identity column for lastInsertRowid', () => {
  assert.equal(
    pg('INSERT OR IGNORE INTO kv (scope, key, value) VALUES (?, ?, ?)').text,
    'INSERT INTO kv (scope, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  );
  const r = pg('INSERT INTO mail_decisions (account, held_id, list, action, by) VALUES (?, ?, ?, ?, ?)');
  assert.equal(
    r.text,
    'INSERT INTO mail_decisions (account, held_id, list, action, by) VALUES ($1, $2, $3, $4, $5) RETURNING rowid',
  );
  assert.equal(r.returning, 'rowid');
  assert.equal(r.reader, false);
  // A RETURNING of its own is left as it is, and makes the statement one that gives rows.
  const own = pg('INSERT INTO mail_decisions (account) VALUES (?) RETURNING held_id');
  assert.equal(own.returning, undefined);
  assert.equal(own.reader, true);
});

test('INSERT OR REPLACE → an upsert on the primary key setting every other column (as delete-and-insert would)', () => {
  assert.equal(
    pg('INSERT OR REPLACE INTO mail_out_deliveries (row, post_id, list, total, created_at) VALUES (?, ?, ?, ?, ?)')
      .text,
    'INSERT INTO mail_out_deliveries (row, post_id, list, total, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (row) DO UPDATE SET ' +
      'post_id = EXCLUDED.post_id, list = EXCLUDED.list, total = EXCLUDED.total, created_at = EXCLUDED.created_at, ' +
      'done_at = EXCLUDED.done_at, bounced = EXCLUDED.bounced RETURNING row',
  );
  assert.match(
    pg('REPLACE INTO kv (scope, key, value) VALUES (?, ?, ?)').text,
    /^INSERT INTO kv .* ON CONFLICT \(scope, key\) DO UPDATE SET value = EXCLUDED.value$/,
  );
  refused(
    () => pg('INSERT OR REPLACE INTO two_keys (a, b, c) VALUES (?, ?, ?)'),
    /unique constraints besides its primary key/,
  );
  refused(() => pg('INSERT OR REPLACE INTO no_key (a, b) VALUES (?, ?)'), /no primary key/);
  refused(() => pg('INSERT OR REPLACE INTO nowhere (a) VALUES (?)'), /does not have/);
  refused(() => translateStatement('INSERT OR REPLACE INTO kv (scope) VALUES (?)'), /needs the table/);
  refused(() => pg('INSERT OR ABORT INTO kv (scope) VALUES (?)'), /INSERT OR ABORT/);
  refused(() => pg('INSERT OR IGNORE INTO kv (scope) VALUES (?) ON CONFLICT DO NOTHING'), /ON CONFLICT or RETURNING/);
});

test("blob literals, camelCase aliases and sqlite_master come out as PostgreSQL's", () => {
  assert.equal(
    pg(`INSERT INTO kv (scope, key, value) VALUES (?, X'', x'0aFF')`).text,
    `INSERT INTO kv (scope, key, value) VALUES ($1, '\\x'::bytea, '\\x0aff'::bytea)`,
  );
  assert.equal(
    pg('SELECT list, min(next_at) AS nextAt, content_type AS contentType, count(*) AS n FROM t').text,
    'SELECT list, min(next_at) AS "nextAt", content_type AS "contentType", count(*) AS n FROM t',
  );
  const m = pg(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mail_out_queue'`).text;
  assert.match(
    m,
    /^SELECT 1 FROM \(SELECT 'table'::text AS type, tablename::text AS name.*pg_catalog\.pg_tables.*\) AS sqlite_master WHERE type = 'table' AND name = 'mail_out_queue'$/,
  );
  assert.equal(pg('SELECT a FROM t WHERE a == ?').text, 'SELECT a FROM t WHERE a = $1');
});

test('what has no faithful translation is refused, naming the statement', () => {
  refused(() => pg('SELECT ifnull(a, 0) FROM t'), /ifnull\(\)/);
  refused(() => pg("SELECT a FROM t WHERE name LIKE 'x%'"), /LIKE ignores case/);
  refused(() => pg('SELECT a FROM t WHERE a IS ?'), /IS NOT DISTINCT FROM/);
  refused(() => pg('PRAGMA user_version'), /PRAGMA/);
  refused(() => pg('SELECT value FROM json_each(?)'), /json_each/);
  refused(() => pg('SELECT 1; SELECT 2'), /more than one statement/);
  refused(() => pg('SELECT * FROM sqlite_sequence'), /SQLite's own/);
  refused(() => pg("SELECT X'abc'"), /odd number/);
  // ...while what only looks alike passes: a column named like a function, IS NULL, IS NOT NULL.
  assert.equal(
    pg('SELECT t.date, a FROM t WHERE b IS NULL AND c IS NOT NULL').text,
    'SELECT t.date, a FROM t WHERE b IS NULL AND c IS NOT NULL',
  );
});

test('migrations: INTEGER → BIGINT, INTEGER PRIMARY KEY → identity, BLOB → BYTEA, WITHOUT ROWID, a rowid where SQLite has one', () => {
  const out = translateDdl(`CREATE TABLE mail_out_queue (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     raw BLOB NOT NULL,
     score REAL,
     attempts INTEGER NOT NULL DEFAULT 0,
     note TEXT NOT NULL DEFAULT ''
   );
   CREATE TABLE mail_out_recipients (
     row INTEGER NOT NULL,
     address TEXT NOT NULL,
     PRIMARY KEY (row, address)
   ) WITHOUT ROWID;
   CREATE TABLE mail_digest_posts (post_id TEXT NOT NULL, added INTEGER NOT NULL, PRIMARY KEY (post_id));
   CREATE TABLE mail_x (n INTEGER, PRIMARY KEY (n));
   CREATE INDEX mail_out_queue_body ON mail_out_queue (raw) WHERE raw IS NOT NULL;
   ALTER TABLE mail_out_queue ADD COLUMN body INTEGER;
   DROP TABLE IF EXISTS mail_fanout;`);
  assert.equal(
    out,
    [
      'CREATE TABLE mail_out_queue (\n  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n  raw BYTEA NOT NULL,\n' +
        "  score DOUBLE PRECISION,\n  attempts BIGINT NOT NULL DEFAULT 0,\n  note TEXT NOT NULL DEFAULT ''\n)",
      'CREATE TABLE mail_out_recipients (\n  row BIGINT NOT NULL,\n  address TEXT NOT NULL,\n  PRIMARY KEY (row, address)\n)',
      'CREATE TABLE mail_digest_posts (\n  post_id TEXT NOT NULL,\n  added BIGINT NOT NULL,\n  PRIMARY KEY (post_id),\n' +
        '  rowid BIGINT GENERATED BY DEFAULT AS IDENTITY\n)',
      'CREATE TABLE mail_x (\n  n BIGINT GENERATED BY DEFAULT AS IDENTITY,\n  PRIMARY KEY (n)\n)',
      'CREATE INDEX mail_out_queue_body ON mail_out_queue (raw) WHERE raw IS NOT NULL',
      'ALTER TABLE mail_out_queue ADD COLUMN body BIGINT',
      'DROP TABLE IF EXISTS mail_fanout',
    ].join(';\n'),
  );
});

test('migrations: a SQLite trigger becomes a PL/pgSQL function and its trigger; what SQLite alone has is refused', () => {
  const out = translateDdl(`CREATE TABLE mail_a (k TEXT PRIMARY KEY);
   CREATE TRIGGER mail_a_gone AFTER DELETE ON mail_subscribers BEGIN
     DELETE FROM mail_a WHERE k = old.address;
     DELETE FROM mail_b WHERE k = old.address AND issue IS NULL;
   END;`);
  assert.match(
    out,
    /CREATE OR REPLACE FUNCTION mail_a_gone_fn\(\) RETURNS trigger LANGUAGE plpgsql AS \$peerpost\$\nBEGIN\n {2}DELETE FROM mail_a WHERE k = old\.address;\n {2}DELETE FROM mail_b WHERE k = old\.address AND issue IS NULL;\n {2}RETURN NULL;\nEND\n\$peerpost\$;\nCREATE OR REPLACE TRIGGER mail_a_gone AFTER DELETE ON mail_subscribers FOR EACH ROW EXECUTE FUNCTION mail_a_gone_fn\(\)$/,
  );
  refused(() => translateDdl('CREATE TABLE mail_c (a, b TEXT)'), /column a has no type/);
  refused(() => translateDdl('CREATE TABLE mail_c (a VARCHAR(10))'), /VARCHAR has no translation/);
  refused(() => translateDdl('CREATE TABLE mail_c (a TEXT COLLATE NOCASE)'), /collations/);
  refused(() => translateDdl('CREATE TABLE mail_c (a TEXT) STRICT'), /STRICT has no translation/);
  refused(() => translateDdl('CREATE VIRTUAL TABLE mail_fts USING fts5(a)'), /VIRTUAL/);
  refused(
    () => translateDdl('CREATE TRIGGER mail_t AFTER INSERT ON mail_a WHEN new.k IS NULL BEGIN DELETE FROM mail_a; END'),
    /WHEN/,
  );
  refused(() => translateDdl('CREATE TABLE mail_c (a INTEGER UNIQUE ON CONFLICT REPLACE)'), /ON CONFLICT/);
  refused(() => translateDdl('PRAGMA foreign_keys = ON'), /PRAGMA/);
});

test('whether a statement gives rows is read from its own words, not from its CTEs or subqueries', () => {
  const cte = pg(
    'WITH p AS (INSERT INTO posts (id) VALUES (?), (?) RETURNING seq) INSERT INTO outbox (post_seq) SELECT seq FROM p',
  );
  assert.equal(cte.reader, false);
  assert.equal(pg('WITH x AS (SELECT 1 AS a) SELECT a FROM x').reader, true);
  assert.equal(pg('DELETE FROM t WHERE id IN (SELECT id FROM u)').reader, false);
  assert.equal(pg('UPDATE t SET a = 1 RETURNING a').reader, true);
});
