/**
 * `peerpost migrate [--to postgres://USER@HOST/DB]`: move the SQLite store of a config (node.data) into PostgreSQL
 * (issue 17), with the daemon stopped.
 *
 * How:
 * - The target gets the core schema (Store.postgres) and must hold nothing else: no row in a core table, no other
 *   table. An operator empties it by creating the database again.
 * - Everything is copied in ONE PostgreSQL transaction, from one read transaction of SQLite (a consistent snapshot):
 *   a failure anywhere (a row PostgreSQL refuses, the connection lost, the check at the end) rolls everything back,
 *   and the target is as empty as it was: run it again. The SQLite store is only read (its schema brought up to date
 *   first, as any command does), and stays as it was: the way back.
 * - The core tables, in an order their references allow, with every column as it is (a post's seq, date, placed_at,
 *   imported; outbox rows with their row ids), in multi-row INSERTs of up to 1,000 rows.
 * - The search index: SQLite's archive_fts is contentless (it cannot be read back), so it is written again from each
 *   post's data by the Store's own code (Store.indexPosts, as insertPost writes it).
 * - The plugins' tables: every other table of SQLite (not its own, not a full-text index or its shadow tables),
 *   created from its CREATE statement in sqlite_master (the shape every applied migration left, ALTERs included)
 *   through translateDdl, as a plugin's migrations are applied on PostgreSQL; rows copied (BLOBs as bytea, a rowid
 *   table's implicit rowid into the rowid column translateDdl adds); then the indexes, then the triggers (after
 *   the rows, so no trigger fires on the copy). plugin_migrations comes along, so no plugin applies a migration again.
 * - Every identity column (outbox.row, digest_lines.id, a plugin's INTEGER PRIMARY KEY or rowid) restarts after the
 *   largest id copied.
 * - Checked before the commit: every table's row count, the newest post's seq, and a search for a word of the newest
 *   post giving the same posts on both.
 */
import { findConfig } from '../config/find.js';
import type { PeerpostConfig } from '../config/types.js';
import { EXIT, type Post } from '../plugin.js';
import { ask, socketPath } from '../runtime/control.js';
import { Store } from '../store.js';
import { PgDatabase, describeTarget } from '../store/pg/database.js';
import { translateDdl } from '../store/pg/dialect.js';
import { searchArchive } from '../archive/search.js';
import { termWords } from '../archive/marks.js';
import { formatDuration, plural } from '../util.js';
import { parse, out, err, loadOrReport, hasStore, NoStoreHere, UsageError } from './common.js';
import type { CliCommand } from './index.js';
import type Database from 'better-sqlite3';

const HELP = `Usage: peerpost migrate [-c FILE] [--to postgres://USER[:PASSWORD]@HOST[:PORT]/DB]

Move the SQLite store of this config (in node.data) into a PostgreSQL database:
every post, tombstone, outbox row, id map, digest and every plugin's table (the
members of a list, the news server's article numbers...), the search index
built again. Stop peerpost first; create the database (empty) first:
  createdb -O USER DB
--to: the database (default: node.database of the config, when set). A
password is better given in the environment (PGPASSWORD) than in the URL.

All is copied in one transaction and checked (row counts, the newest post,
a search) before it is committed: a failure leaves the database as it was.
The SQLite store is left as it was. At the end, the line to put in the config.

Exit: 0 moved; 2 the command line is wrong; 4 nothing moved (peerpost is running,
the database is not empty or cannot be reached, a row was refused: the reason
is printed); 7 no store where the config points.
`;

/** The core's tables, in the order they are copied (a post before what refers to it; posts before tombstones). */
export const CORE_TABLES = [
  'posts',
  'tombstones',
  'outbox',
  'native_ids',
  'kv',
  'digest_lines',
  'digest_posts',
  'shown',
  'shown_nodes',
  'plugin_migrations',
] as const;

/**
 * Tables of the core that are not copied as rows: the schema's version, SQLite's search indexes, and PostgreSQL's
 * processes and leases (who runs now: src/runtime/leases.ts), removal log (what the running processes tell each
 * other: src/archive/removal-log.ts) and posts per bridge (kept by triggers as the posts are copied).
 */
const NOT_ROWS = new Set([
  'peerpost_schema',
  'archive_fts',
  'pp_processes',
  'pp_leases',
  'pp_removals',
  'pp_post_counts',
]);

/**
 * Rows a statement. Not more: PostgreSQL plans a statement of many parameters slowly (20,000 posts rows with bare
 * `pg`: 1.8 s at 1,000 rows a statement, 0.7 s at 100).
 */
const BATCH = 100;
/** PostgreSQL takes at most 65,535 parameters in a statement. */
const MAX_PARAMS = 60_000;

/** The URL as it may be shown (and put in the config): its password replaced by ${PGPASSWORD}. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const params = [...u.searchParams].map(([k, v]) =>
      k === 'password' ? `${k}=\${PGPASSWORD}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`,
    );
    const user = u.username ? `${u.username}${u.password ? ':${PGPASSWORD}' : ''}@` : '';
    return `${u.protocol}//${user}${u.host}${u.pathname}${params.length ? `?${params.join('&')}` : ''}`;
  } catch {
    return '(an unreadable URL)';
  }
}

const hasPassword = (url: string) => {
  const u = new URL(url);
  return u.password !== '' || u.searchParams.has('password');
};

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

interface Plan {
  /** SQLite's name (as written) and PostgreSQL's (lower case, as unquoted names fold). */
  table: string;
  pgTable: string;
  /** PostgreSQL's columns to fill, and what SQLite gives for each (a column, or its rowid). */
  pgColumns: string[];
  select: string[];
  order: string;
}

class MigrateError extends Error {}
/** The target holds something already. */
class NotEmpty extends MigrateError {}

/** Matches SQLite's columns of a table to PostgreSQL's (those it lets be written: no generated column). */
function planTable(src: Database.Database, dst: PgDatabase, table: string): Plan {
  const pgTable = table.toLowerCase();
  const pgCols = (
    dst.query(
      `SELECT attname AS name FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1::text) AND attnum > 0
       AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
      [q(pgTable)],
    ) as { name: string }[]
  ).map((r) => r.name);
  const info = src.prepare(`PRAGMA table_xinfo(${q(table)})`).all() as { name: string; hidden: number }[];
  const sqliteCols = new Map(info.filter((c) => c.hidden === 0).map((c) => [c.name.toLowerCase(), c.name]));
  // SQLite's generated columns (hidden 2: virtual, 3: stored) are read too, for a column PostgreSQL has plain: posts.thread,
  // which pp_insert_posts writes there (schema entry 5), copied as SQLite computed it (the same expression).
  const generated = new Map(
    info.filter((c) => c.hidden === 2 || c.hidden === 3).map((c) => [c.name.toLowerCase(), c.name]),
  );
  const sql = (src.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`).pluck().get(table) ??
    '') as string;
  const rowidTable = !/\bWITHOUT\s+ROWID\b/i.test(sql);
  const select = pgCols.map((c) => {
    const s = sqliteCols.get(c) ?? generated.get(c);
    if (s !== undefined) return q(s);
    if (c === 'rowid' && rowidTable) return 'rowid';
    throw new MigrateError(
      `the table ${table} has a column ${c} on PostgreSQL that the SQLite store lacks: is the SQLite store from another version of peerpost?`,
    );
  });
  for (const [lower, name] of sqliteCols)
    if (!pgCols.includes(lower))
      throw new MigrateError(
        `the column ${name} of the table ${table} in the SQLite store has no place on PostgreSQL: is the SQLite store from another version of peerpost?`,
      );
  return { table, pgTable, pgColumns: pgCols, select, order: rowidTable ? 'ORDER BY rowid' : '' };
}

/** A value of better-sqlite3 (safe integers) as the pg client takes it. */
const pgValue = (v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

/** The tables of SQLite that are a plugin's: not the core's, not SQLite's own, not a full-text index or its shadows. */
function pluginTables(src: Database.Database): { name: string; sql: string }[] {
  const tables = src
    .prepare(
      `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid`,
    )
    .all() as { name: string; sql: string }[];
  const virtual = tables.filter((t) => /^CREATE\s+VIRTUAL\b/i.test(t.sql)).map((t) => t.name);
  return tables.filter(
    (t) =>
      !(CORE_TABLES as readonly string[]).includes(t.name) &&
      !NOT_ROWS.has(t.name) &&
      !virtual.some((v) => t.name === v || t.name.startsWith(`${v}_`)),
  );
}

export interface MigrateReport {
  tables: { name: string; rows: number }[];
  rows: number;
  posts: number;
  indexed: number;
  ms: number;
}

/**
 * Copy the store `src` (SQLite) into `dst` (PostgreSQL, its schema applied, empty), as said at the top. `progress`
 * is told each table's count as it goes.
 */
export function migrateStore(
  src: Store,
  dst: Store,
  progress: (table: string, rows: number, done: boolean) => void = () => {},
): MigrateReport {
  const sqlite = src.sqlite;
  const pg = dst.db as unknown as PgDatabase;
  if (!sqlite || dst.dialect !== 'postgres')
    throw new Error('migrateStore copies a SQLite store into a PostgreSQL one');
  const started = performance.now();
  const tables: { name: string; rows: number }[] = [];

  const copy = (plan: Plan): number => {
    const per = Math.max(1, Math.min(BATCH, Math.floor(MAX_PARAMS / plan.pgColumns.length)));
    const head = `INSERT INTO ${q(plan.pgTable)} (${plan.pgColumns.map(q).join(', ')}) VALUES `;
    const width = plan.pgColumns.length;
    const tuple = (k: number) => `(${plan.pgColumns.map((_, i) => `$${k * width + i + 1}`).join(', ')})`;
    const texts = new Map<number, string>();
    let values: unknown[] = [];
    let n = 0;
    let rows = 0;
    const flush = () => {
      if (!n) return;
      let text = texts.get(n);
      if (!text) texts.set(n, (text = head + Array.from({ length: n }, (_, k) => tuple(k)).join(', ')));
      try {
        pg.query(text, values);
      } catch (e) {
        throw new MigrateError(
          `PostgreSQL refused rows ${rows - n + 1}–${rows} of the table ${plan.table}: ${(e as Error).message}`,
        );
      }
      values = [];
      n = 0;
      progress(plan.table, rows, false);
    };
    const stmt = sqlite
      .prepare(`SELECT ${plan.select.join(', ')} FROM ${q(plan.table)} ${plan.order}`)
      .raw()
      .safeIntegers();
    for (const row of stmt.iterate() as Iterable<unknown[]>) {
      for (const v of row) values.push(pgValue(v));
      n++;
      rows++;
      if (n === per) flush();
    }
    flush();
    progress(plan.table, rows, true);
    tables.push({ name: plan.table, rows });
    return rows;
  };

  /** Identity columns restart after the largest id copied. */
  const restartIdentities = (pgTable: string) => {
    const ids = pg.query(
      `SELECT attname AS name FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1::text) AND attidentity <> ''`,
      [q(pgTable)],
    ) as { name: string }[];
    for (const { name } of ids)
      pg.query(
        `SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT max(${q(name)}) AS m FROM ${q(pgTable)}) AS t WHERE m IS NOT NULL`,
        [q(pgTable), name],
      );
  };

  let indexed = 0;
  let posts = 0;
  sqlite.exec('BEGIN'); // one snapshot of SQLite, whatever else reads it meanwhile
  try {
    pg.transaction(() => {
      // Bulk loading: the core's secondary indexes are built once at the end rather than row by row (the full-text
      // ones above all), and the trigger keeping tombstoned ids out of posts rests (SQLite's own kept them out).
      const indexes = pg.query(
        `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_catalog.pg_index i
         JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid)`,
        [[...CORE_TABLES, 'archive_fts']],
      ) as { name: string; def: string }[];
      for (const x of indexes) pg.exec(`DROP INDEX ${q(x.name)}`);
      pg.exec('ALTER TABLE posts DISABLE TRIGGER posts_tombstoned');
      for (const t of CORE_TABLES) {
        const rows = copy(planTable(sqlite, pg, t));
        if (t === 'posts') posts = rows;
        restartIdentities(t);
      }
      // The search index, from each post's data, as the Store writes it.
      let batch: { seq: number; post: Post }[] = [];
      const flushIndex = () => {
        dst.indexPosts(batch);
        indexed += batch.length;
        batch = [];
        progress('search index', indexed, false);
      };
      for (const r of sqlite.prepare('SELECT seq, data FROM posts ORDER BY seq').iterate() as Iterable<{
        seq: number;
        data: string;
      }>) {
        batch.push({ seq: r.seq, post: JSON.parse(r.data) as Post });
        if (batch.length === BATCH) flushIndex();
      }
      flushIndex();
      progress('search index', indexed, true);
      pg.exec('ALTER TABLE posts ENABLE TRIGGER posts_tombstoned');
      for (const x of indexes) pg.exec(x.def);
      progress('indexes', indexes.length, true);
      // The plugins' tables: created, filled, then their indexes and triggers.
      const plugins = pluginTables(sqlite);
      const ddl = (sql: string, what: string) => {
        try {
          pg.exec(translateDdl(sql));
        } catch (e) {
          throw new MigrateError(`cannot create ${what} on PostgreSQL: ${(e as Error).message}`);
        }
      };
      for (const t of plugins) ddl(t.sql, `the plugin table ${t.name}`);
      for (const t of plugins) {
        copy(planTable(sqlite, pg, t.name));
        restartIdentities(t.name.toLowerCase());
      }
      const names = plugins.map((t) => t.name);
      const extras = sqlite
        .prepare(
          `SELECT type, name, tbl_name AS tbl, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, rowid`,
        )
        .all() as { type: string; name: string; tbl: string; sql: string }[];
      for (const x of extras) if (names.includes(x.tbl)) ddl(x.sql, `the ${x.type} ${x.name} of ${x.tbl}`);
      const views = sqlite.prepare(`SELECT name FROM sqlite_master WHERE type = 'view'`).pluck().all() as string[];
      if (views.length)
        throw new MigrateError(`the SQLite store has views (${views.join(', ')}), which migrate does not move`);
      verify(sqlite, pg, src, dst, tables);
    })();
  } finally {
    sqlite.exec('COMMIT');
  }
  return {
    tables,
    rows: tables.reduce((a, t) => a + t.rows, 0) + indexed,
    posts,
    indexed,
    ms: performance.now() - started,
  };
}

/** Before the commit: the same rows, the same newest post, the same answer to a search. */
function verify(
  sqlite: Database.Database,
  pg: PgDatabase,
  src: Store,
  dst: Store,
  tables: { name: string; rows: number }[],
) {
  for (const t of tables) {
    const a = Number(
      sqlite
        .prepare(`SELECT count(*) FROM ${q(t.name)}`)
        .pluck()
        .get(),
    );
    const b = Number((pg.query(`SELECT count(*) AS n FROM ${q(t.name.toLowerCase())}`)[0] as { n: number }).n);
    if (a !== b) throw new MigrateError(`the check failed: ${t.name} has ${a} rows in SQLite, ${b} on PostgreSQL`);
  }
  const newest = (db: { prepare(s: string): { pluck(): { get(): unknown } } }) =>
    Number(db.prepare('SELECT coalesce(max(seq), 0) FROM posts').pluck().get());
  const [ns, np] = [newest(sqlite), newest(dst.db)];
  if (ns !== np)
    throw new MigrateError(`the check failed: the newest post is seq ${ns} in SQLite, ${np} on PostgreSQL`);
  const indexedCount = Number((pg.query('SELECT count(*) AS n FROM archive_fts')[0] as { n: number }).n);
  const events = Number(
    sqlite.prepare(`SELECT count(*) FROM posts WHERE json_extract(data, '$.kind') = 'event'`).pluck().get(),
  );
  const all = Number(sqlite.prepare('SELECT count(*) FROM posts').pluck().get());
  if (indexedCount !== all - events)
    throw new MigrateError(`the check failed: ${all - events} posts to index, ${indexedCount} in PostgreSQL's index`);
  // A word of the newest post that is not an event, searched on both: the same posts, newest first.
  const data = sqlite
    .prepare(
      `SELECT data FROM posts WHERE coalesce(json_extract(data, '$.kind'), '') <> 'event' ORDER BY seq DESC LIMIT 1`,
    )
    .pluck()
    .get() as string | undefined;
  if (data === undefined) return;
  const post = JSON.parse(data) as Post;
  const word = termWords(`${post.subject ?? ''} ${post.body}`).find((w) => w.length >= 3 && /^\p{L}+$/u.test(w));
  if (!word) return;
  const ids = (s: Store) => searchArchive(s.db, `${word} sort:date`, { limit: 100 }).hits.map((h) => h.post.id);
  const [a, b] = [ids(src), ids(dst)];
  if (a.join('\n') !== b.join('\n'))
    throw new MigrateError(
      `the check failed: a search for "${word}" finds ${a.length} posts in SQLite, ${b.length} on PostgreSQL${a.length === b.length ? ' (not the same ones)' : ''}`,
    );
}

/** The target must hold nothing but the core schema: no row in the core's tables, no other table. */
function refuseNonEmpty(pg: PgDatabase, label: string): void {
  const core = new Set<string>([...CORE_TABLES, ...NOT_ROWS]);
  const full = CORE_TABLES.filter(
    (t) => (pg.query(`SELECT EXISTS (SELECT 1 FROM ${q(t)}) AS e`)[0] as { e: number }).e,
  );
  const others = (
    pg.query(`SELECT tablename AS name FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY 1`) as {
      name: string;
    }[]
  )
    .map((r) => r.name)
    .filter((n) => !core.has(n));
  if (!full.length && !others.length) return;
  const t = describeTarget(label);
  throw new NotEmpty(
    `the database ${label} is not empty (${[
      ...(full.length ? [`rows in ${full.join(', ')}`] : []),
      ...(others.length ? [`the tables ${others.slice(0, 8).join(', ')}${others.length > 8 ? '…' : ''}`] : []),
    ].join('; ')}); nothing was copied. Migrate moves a store into an empty database only: if what is there may go, ` +
      `create the database again (dropdb -h ${t.host} -p ${t.port} -U ${t.user} ${t.database} && createdb -h ${t.host} -p ${t.port} -U ${t.user} -O ${t.user} ${t.database}) and run peerpost migrate again.`,
  );
}

async function run(args: string[]): Promise<number> {
  const { values } = parse(args, { to: { type: 'string' } });
  if (values.help) {
    out(HELP);
    return EXIT.OK;
  }
  const found = findConfig({ given: values.config });
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  const url = values.to ?? config.node.database;
  if (!url) throw new UsageError('where to? give --to postgres://USER@HOST/DB (or set node.database in the config)');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError('--to takes a URL such as postgres://USER@HOST:5432/DB');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new UsageError(
      `--to ${redactUrl(url)}: a PostgreSQL URL starts with postgres:// (postgres://USER@HOST:5432/DB)`,
    );
  return migrate(config, found.file, url);
}

async function migrate(config: PeerpostConfig, configFile: string, url: string): Promise<number> {
  const running = await ask(config.node.data, { cmd: 'status' }, 5000).catch(() => true);
  if (running !== undefined) {
    err(
      `peerpost migrate: peerpost is running (it answers on ${socketPath(config.node.data)}); stop it first, so that the store does not change while it is copied, then run peerpost migrate again. Nothing was copied.`,
    );
    return EXIT.FAILED;
  }
  if (!hasStore(config.node.data)) throw new NoStoreHere(findConfig({ given: configFile }), config);
  const t = describeTarget(url);
  const label = `postgres://${t.user}@${t.host}:${t.port}/${t.database}`;
  const src = Store.open(config.node.data, { create: false });
  let dst: Store | undefined;
  try {
    const db = new PgDatabase(url, { applicationName: 'peerpost migrate', queryTimeoutMs: 600_000 });
    try {
      dst = Store.postgres(db, label);
    } catch (e) {
      db.close();
      throw e;
    }
    refuseNonEmpty(db, label);
    err(`peerpost migrate: ${src.file} → ${label}`);
    const tty = process.stderr.isTTY;
    const started = performance.now();
    const rate = (n: number) => Math.round(n / Math.max(0.001, (performance.now() - started) / 1000));
    let total = 0;
    let last = started;
    const report = migrateStore(src, dst, (table, rows, done) => {
      if (done) {
        total += rows;
        if (tty) process.stderr.write('\r\x1b[K');
        const now = performance.now();
        const what = table === 'indexes' ? plural(rows, 'index', 'indexes') + ' built again' : plural(rows, 'row');
        err(`  ${table}: ${what} (${formatDuration(now - last)})`);
        last = now;
      } else if (tty) process.stderr.write(`\r\x1b[K  ${table}: ${rows} rows · ${rate(total + rows)} rows/s`);
    });
    const plugins = report.tables.length - CORE_TABLES.length;
    out(
      `moved ${plural(report.rows, 'row')} (${plural(report.posts, 'post')}, ${plural(report.tables.length, 'table')} of which ${plural(plugins, 'plugin table')}, ${plural(report.indexed, 'post')} indexed for search) ` +
        `into ${label} in ${formatDuration(report.ms)} (${Math.round(report.rows / (report.ms / 1000))} rows/s); checked: row counts, the newest post, a search.`,
    );
    out(
      `The SQLite store ${src.file} is left as it was. Put this in ${configFile}, under node: (node.data stays: it holds the control socket), then start peerpost:\n` +
        `  database: ${redactUrl(url)}` +
        (hasPassword(url)
          ? `\n(and set PGPASSWORD in peerpost's environment: the config never needs the password itself)`
          : ''),
    );
    return EXIT.OK;
  } catch (e) {
    // Whatever failed once the target was open (a row refused, the connection lost, the check): rolled back whole.
    const copied = dst !== undefined && !(e instanceof NotEmpty);
    err(
      `peerpost migrate: ${(e as Error).message}${copied ? `\nNothing was committed: ${label} is as empty as before; correct the cause and run peerpost migrate again.` : ''}`,
    );
    return EXIT.FAILED;
  } finally {
    src.close();
    dst?.close();
  }
}

export const migrateCommand: CliCommand = {
  name: 'migrate',
  summary: 'move the SQLite store into PostgreSQL (peerpost stopped)',
  help: HELP,
  run,
};
