/**
 * What the store's PostgreSQL schema costs the ingest, lever by lever (issue 17): the store's own group commit (64
 * posts, each with its 4 outbox rows: pp_insert_posts and the outbox rows in one statement, as bench/pg.ts's "bare
 * pg into the store's schema") into one database per variant of the schema, variants taking turns in small units
 * (8 group commits, 512 posts, and what a variant writes after them), so that a shared, noisy machine's load falls
 * on all of them alike; the median unit gives each variant's time per post. One commit at a time (no concurrency):
 * what each variant costs PostgreSQL per post, not a throughput under load (bench/pg.ts measures that).
 *
 *   node dist/bench/pg-levers.js         (or npm run bench -- pg-levers)
 *
 * The variants are measurements, not options: the store ships the first. Prints figures; asserts nothing about time.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Store } from '../src/store.js';
import { PgDatabase } from '../src/store/pg/database.js';
import { PG_MIGRATIONS } from '../src/store/pg/schema.js';
import { startPostgres, type PgPeer } from '../test/helpers/pg.js';
import { FIVE_ENDPOINTS, POOL, poolPost } from './core.js';
import { summarise, table, machine, type Result } from './lib/result.js';
import { termWords } from '../src/archive/marks.js';
import { postRow } from '../src/store/pg/post-rows.js';
import { indexText } from '../src/migrations.js';

export const title = 'pg-levers: what each part of the PostgreSQL schema costs the ingest';
/** Needs PostgreSQL 15 installed: run when named. */
export const onlyWhenNamed = true;

const UNITS = Number(process.env.PG_LEVERS_UNITS ?? 40);
/** Group commits per unit, posts per group commit. */
const COMMITS = 8;
const BATCH = 64;

interface Variant {
  name: string;
  /** Applied after the store's schema (its every entry). */
  sql?: string;
  /** How the search rows are written: in the posts' statement (as shipped), a statement of their own after each unit, or not at all. */
  search?: 'inline' | 'after' | 'none';
  /** The search fields as plain words for PostgreSQL's to_tsvector (entries 1-5), not tsvector text (entry 6). */
  parsed?: boolean;
  /** No thread given with the posts: pp_insert_posts reads it from each post's JSON (as entries 1-5 did). */
  noThread?: boolean;
}

/** Entry 5's pp_insert_posts: the search words parsed by to_tsvector('simple', …) in the statement. */
function parsedWords(): string {
  const entry5 = PG_MIGRATIONS[4]!;
  return entry5.slice(entry5.indexOf('CREATE OR REPLACE FUNCTION pp_insert_posts'));
}

/** Entry 3's pp_notify_outbox (NOTIFY only) and the foreign key of entry 1: the outbox as before entry 5. */
function rowByRowKey(): string {
  const entry3 = PG_MIGRATIONS[2]!;
  const fn = entry3.slice(
    entry3.indexOf('CREATE FUNCTION pp_notify_outbox'),
    entry3.indexOf('CREATE TRIGGER outbox_notify'),
  );
  return `DROP TRIGGER posts_unsent ON posts;
    ${fn.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION')}
    ALTER TABLE outbox ADD CONSTRAINT outbox_post_seq_fkey FOREIGN KEY (post_seq) REFERENCES posts (seq);`;
}

/** posts.thread generated from the JSON again, and entry 1's pp_insert_posts (which leaves it to the column). */
function threadGenerated(): string {
  const entry1 = PG_MIGRATIONS[0]!;
  const fn = entry1.slice(entry1.indexOf('CREATE FUNCTION pp_insert_posts'));
  return `ALTER TABLE posts DROP COLUMN thread;
    ALTER TABLE posts ADD COLUMN thread TEXT GENERATED ALWAYS AS
      (coalesce((data::jsonb) -> 'references' ->> 0, (data::jsonb) ->> 'inReplyTo', id)) STORED;
    CREATE INDEX posts_by_thread ON posts (thread, placed_at, seq);
    ${fn.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION')}`;
}

const BY_BRIDGE = 'CREATE INDEX posts_by_bridge ON posts (bridge, seq);';

const gin = (setting: string) =>
  `ALTER INDEX archive_fts_public SET (${setting}); ALTER INDEX archive_fts_whole SET (${setting});`;

const VARIANTS: Variant[] = [
  { name: 'as shipped (schema entry 7)' },
  { name: 'posts not counted by triggers (as entries 1-6)', sql: 'DROP TRIGGER posts_counted_in ON posts;' },
  { name: 'search words parsed by to_tsvector, thread from the JSON (as entry 5)', sql: parsedWords(), parsed: true },
  { name: 'thread read from the JSON (as entries 1-5)', noThread: true },
  {
    name: 'before entry 5 (entries 1-4)',
    sql: `${rowByRowKey()} ${BY_BRIDGE} ${threadGenerated()}`,
    parsed: true,
  },
  { name: 'outbox foreign key, a query per row (as entries 1-4)', sql: rowByRowKey() },
  { name: 'posts_by_bridge kept (as entries 1-4)', sql: BY_BRIDGE },
  {
    name: 'thread generated, the JSON parsed twice, words by to_tsvector (as entries 1-4)',
    sql: threadGenerated(),
    parsed: true,
  },
  { name: 'search rows after each 512 posts, a statement apart', search: 'after' },
  { name: 'no search rows (the bound of moving them out)', search: 'none' },
  { name: 'no tombstone trigger', sql: 'DROP TRIGGER posts_tombstoned ON posts;' },
  { name: 'GIN pending list 64 MB', sql: gin('gin_pending_list_limit = 65536') },
  { name: 'GIN fastupdate off', sql: gin('fastupdate = off') },
];

type Item = Record<string, unknown> & { s?: string };

/**
 * A group commit's posts as pp_insert_posts takes them (the Store's rows: src/store/pg/post-rows.ts); `parsed`: the
 * search fields as plain words (entries 1-5); `thread` false: none given.
 */
function items(inline: boolean, parsed: boolean, thread: boolean): Item[] {
  const words = (t: string | null | undefined) => termWords(t ?? '').join(' ');
  return Array.from({ length: BATCH }, (_, n) => {
    const inc = POOL[(n * 7 + Math.floor(Math.random() * 1024)) & 1023]!;
    const now = Date.now();
    const post = poolPost(inc, `${randomUUID()}@bench.example`, now);
    const { thread: given, ...row } = postRow(post, n, now);
    const [s, b, a, aa, ad] = indexText(post);
    return {
      ...row,
      ...(thread ? { thread: given } : {}),
      indexed: inline,
      ...(parsed ? { s: words(s), b: words(b), a: words(a), aa: words(aa), ad: words(ad) } : {}),
    };
  });
}

const INGEST = `WITH p AS (SELECT n, seq FROM pp_insert_posts($1::jsonb, $2::bigint))
  INSERT INTO outbox (post_seq, endpoint, shape, created_at)
  SELECT p.seq, e, 'stream', $2::bigint FROM p CROSS JOIN unnest($3::text[]) AS e
  RETURNING post_seq`;
/** The search rows of posts stored already, in one statement (what a deferred writer would send). */
const SEARCH_ROWS = `INSERT INTO archive_fts (seq, public, whole)
  SELECT x.seq, v.v, v.v || x.aa || x.ad
  FROM jsonb_to_recordset($1::jsonb) AS x (seq BIGINT, s TSVECTOR, b TSVECTOR, a TSVECTOR, aa TSVECTOR, ad TSVECTOR)
  CROSS JOIN LATERAL (SELECT x.s || x.a || x.b AS v) AS v`;

/** A database of its own for a variant: the store's schema, then the variant's SQL; a client on it. */
async function prepare(peer: PgPeer, admin: pg.Client, i: number, v: Variant): Promise<pg.Client> {
  const name = `lever${i}`;
  await admin.query(`CREATE ROLE ${name} LOGIN`);
  await admin.query(`CREATE DATABASE ${name} OWNER ${name}`);
  const url = peer.url.replace(/\/\/[^@]+@([^/]+)\/.*$/, `//${name}@$1/${name}`);
  Store.postgres(new PgDatabase(url), name).close();
  const c = new pg.Client(url);
  await c.connect();
  if (v.sql) await c.query(v.sql);
  return c;
}

/** One unit: COMMITS group commits, then (search: 'after') their search rows. Returns ms per post. */
async function unit(c: pg.Client, v: Variant): Promise<number> {
  const targets = FIVE_ENDPOINTS.slice(1);
  const search = v.search ?? 'inline';
  const batches = Array.from({ length: COMMITS }, () =>
    items(search === 'inline', v.parsed ?? false, !v.parsed && !v.noThread),
  );
  const t0 = performance.now();
  const later: Item[] = [];
  for (const batch of batches) {
    const r = await c.query(INGEST, [JSON.stringify(batch), Date.now(), targets]);
    if (r.rowCount !== BATCH * targets.length) throw new Error(`a group commit wrote ${r.rowCount} outbox rows`);
    if (search === 'after') {
      // The seqs the posts were given, in their order (RETURNING gives each post's 4 rows together).
      const seqs = [...new Set(r.rows.map((x: { post_seq: string }) => Number(x.post_seq)))].sort((a, b) => a - b);
      batch.forEach((it, n) => later.push({ seq: seqs[n], s: it.s, b: it.b, a: it.a, aa: it.aa, ad: it.ad }));
    }
  }
  if (later.length) {
    // Committed without waiting for the disk: no one was acknowledged on it (a crash would have it written again).
    await c.query('BEGIN');
    await c.query(`SET LOCAL synchronous_commit = off`);
    await c.query(SEARCH_ROWS, [JSON.stringify(later)]);
    await c.query('COMMIT');
  }
  return (performance.now() - t0) / (COMMITS * BATCH);
}

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  pg-levers: ${s}\n`);
  const peer = await startPostgres('bench');
  const admin = new pg.Client(peer.url.replace(/\/\/[^@]+@([^/]+)\/.*$/, '//postgres@$1/postgres'));
  await admin.connect();
  const clients: pg.Client[] = [];
  try {
    for (const [i, v] of VARIANTS.entries()) clients.push(await prepare(peer, admin, i, v));
    progress(`warm-up: 5 units each`);
    for (let u = 0; u < 5; u++) for (const [i, v] of VARIANTS.entries()) await unit(clients[i]!, v);
    const ms: number[][] = VARIANTS.map(() => []);
    for (let u = 0; u < UNITS; u++) {
      if (u % 10 === 0)
        progress(`units ${u + 1}-${Math.min(u + 10, UNITS)} of ${UNITS}, ${VARIANTS.length} variants in turn`);
      const order = [...VARIANTS.keys()];
      if (u % 2) order.reverse();
      for (const i of order) ms[i]!.push(await unit(clients[i]!, VARIANTS[i]!));
    }
    const med = (a: readonly number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    const base = med(ms[0]!);
    return VARIANTS.flatMap((v, i) => [
      summarise(`${v.name}: per post`, 'ms', ms[i]!, { digits: 4 }),
      {
        figure: `${v.name}: speed, as shipped = 1`,
        value: base / med(ms[i]!),
        unit: '×',
        digits: 3,
      },
    ]);
  } finally {
    for (const c of clients) await c.end().catch(() => {});
    await admin.end().catch(() => {});
    peer.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(machine());
  console.log(table([{ title, results: await run() }]));
}
