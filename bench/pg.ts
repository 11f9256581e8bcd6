/**
 * The store on PostgreSQL (issue 17) beside SQLite, in one run: durable ingest through the real core (64 senders at
 * once, each waiting for its post's commit as SMTP and NNTP clients wait for 250/240; a post to 4 endpoints), the
 * bare `pg` ceiling for the same rows (bare `pg`, async, no worker thread, no core, writing the rows the core writes
 * into the store's schema, every waiting post in one statement: pp_insert_posts with search rows and every index,
 * and the outbox rows), the same bare `pg` writing a post and its 4 outbox rows alone into two plain tables (no
 * search rows, no other index: between the two, what the schema costs), the round trips per post and the main
 * thread's wait for them, and ingest→deliver latency at 1,000 posts/s (bench/core.ts's latency test) on both.
 * Starts its own PostgreSQL 15 (test/peers/postgres.sh) on a free port.
 *
 *   npm run bench -- pg            (or node dist/bench/pg.js)
 *
 * Prints figures; asserts nothing about time (every post is checked stored).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Store } from '../src/store.js';
import { PgDatabase } from '../src/store/pg/database.js';
import { startPostgres, type PgPeer } from '../test/helpers/pg.js';
import { FIVE_ENDPOINTS, LATENCY_RATE, LATENCY_WARMUP_SECONDS, POOL, ingestRun, latencyRun, poolPost } from './core.js';
import { summarise, table, machine, type Result } from './lib/result.js';
import { postRow } from '../src/store/pg/post-rows.js';

export const title = 'pg: the store on PostgreSQL beside SQLite';
/** Needs PostgreSQL 15 installed: run when named (`npm run bench -- pg`). */
export const onlyWhenNamed = true;

const POSTS = Number(process.env.PG_BENCH_POSTS ?? 10_000);
const RUNS = Number(process.env.PG_BENCH_RUNS ?? 3);
const SENDERS = 64;

/** The connection of the latest fresh store, whose round trips a run counts. */
let latest: PgDatabase | undefined;

/** A fresh store on the bench's database: its schema dropped and made again. */
function freshPgStore(peer: PgPeer): () => Store {
  return () => {
    const db = new PgDatabase(peer.url);
    db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    const store = Store.postgres(db, 'bench');
    latest = db;
    return store;
  };
}

type Stats = PgDatabase['stats'];
const NO_STATS: Stats = { roundTrips: 0, waitMs: 0, laneTrips: 0 };

/**
 * Round trips to PostgreSQL from `from` on, per post: on both connections, and of them on the ingest lane (the group
 * commits, which the main thread does not wait for); and the main thread's wait for the others.
 */
function perPost(from: Stats, posts: number): { trips: number; lane: number; waitMs: number } {
  const s = latest!.stats;
  const lane = s.laneTrips - from.laneTrips;
  return {
    trips: (s.roundTrips - from.roundTrips + lane) / posts,
    lane: lane / posts,
    waitMs: (s.waitMs - from.waitMs) / posts,
  };
}

/**
 * 64 senders, each waiting for its post's commit; every post waiting at a moment written by one call of `write`
 * (one statement: group commit at its cheapest, async `pg`, no worker thread), and, as the core does on its ingest
 * lane, up to two statements under way (the second queued on the connection behind the first; an idle connection's
 * batch of 32 or more split in two). Returns posts/s.
 */
async function groupCommitRun(
  posts: number,
  write: (batch: { id: string; now: number; inc: (typeof POOL)[number] }[]) => Promise<void>,
): Promise<number> {
  let waiting: { id: string; now: number; inc: (typeof POOL)[number]; done: () => void }[] = [];
  let flying = 0;
  const send = (batch: typeof waiting) => {
    flying++;
    void write(batch).then(() => {
      flying--;
      for (const b of batch) b.done();
      setImmediate(flush);
    });
  };
  const flush = () => {
    if (flying >= 2 || waiting.length === 0) return;
    const batch = waiting;
    waiting = [];
    if (flying === 0 && batch.length >= 32) {
      const half = Math.ceil(batch.length / 2);
      send(batch.slice(0, half));
      send(batch.slice(half));
    } else send(batch);
  };
  let next = 0;
  const t0 = performance.now();
  const sender = async () => {
    while (next < posts) {
      const inc = POOL[next++ & 1023]!;
      const now = Date.now();
      const id = `${randomUUID()}@bench.example`;
      await new Promise<void>((done) => {
        waiting.push({ id, now, inc, done });
        setImmediate(flush);
      });
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, sender));
  return posts / ((performance.now() - t0) / 1000);
}

/** Bare `pg` into tables of its own, a post and its 4 outbox rows alone (no search rows, no other index). */
async function bareRun(peer: PgPeer, posts: number): Promise<number> {
  const c = new pg.Client(peer.url);
  await c.connect();
  try {
    await c.query(`DROP TABLE IF EXISTS bare_outbox; DROP TABLE IF EXISTS bare_posts;
      CREATE TABLE bare_posts (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, id TEXT UNIQUE NOT NULL,
        bridge TEXT NOT NULL, received_at BIGINT NOT NULL, data TEXT NOT NULL);
      CREATE TABLE bare_outbox (row BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        post_seq BIGINT NOT NULL REFERENCES bare_posts (seq), endpoint TEXT NOT NULL, shape TEXT NOT NULL,
        created_at BIGINT NOT NULL);`);
    const targets = FIVE_ENDPOINTS.slice(1);
    const rate = await groupCommitRun(posts, async (batch) => {
      await c.query(
        `WITH p AS (INSERT INTO bare_posts (id, bridge, received_at, data)
           SELECT id, 'commons', at, d FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t (id, at, d)
           RETURNING seq, received_at)
         INSERT INTO bare_outbox (post_seq, endpoint, shape, created_at)
           SELECT p.seq, e, 'stream', p.received_at FROM p CROSS JOIN unnest($4::text[]) AS e`,
        [
          batch.map((b) => b.id),
          batch.map((b) => b.now),
          batch.map((b) =>
            JSON.stringify({ id: b.id, bridge: 'commons', author: b.inc.author, body: b.inc.body, kind: 'message' }),
          ),
          targets,
        ],
      );
    });
    const n = Number((await c.query('SELECT count(*) AS n FROM bare_outbox')).rows[0].n);
    if (n !== posts * targets.length) throw new Error(`bare run wrote ${n} outbox rows, expected ${posts * 4}`);
    return rate;
  } finally {
    await c.end();
  }
}

/**
 * The ceiling: the store's own writes at their cheapest, bare `pg` (async, no worker thread, one statement a group commit) into
 * the store's schema, through its pp_insert_posts (posts with every index, search rows, the posts lock) and the same
 * outbox rows. Between it and the posts and outbox rows alone: what the schema costs; between the core and it: the
 * worker thread, the synchronous bridge and the core.
 */
async function storeSqlRun(peer: PgPeer, posts: number): Promise<number> {
  freshPgStore(peer)().close();
  const c = new pg.Client(peer.url);
  await c.connect();
  try {
    const targets = FIVE_ENDPOINTS.slice(1);
    const rate = await groupCommitRun(posts, async (batch) => {
      const items = batch.map((b, n) => postRow(poolPost(b.inc, b.id, b.now), n, b.now));
      await c.query(
        `WITH p AS (SELECT n, seq FROM pp_insert_posts($1::jsonb, $2::bigint))
         INSERT INTO outbox (post_seq, endpoint, shape, created_at)
           SELECT p.seq, e, 'stream', $2::bigint FROM p CROSS JOIN unnest($3::text[]) AS e`,
        [JSON.stringify(items), batch[0]!.now, targets],
      );
    });
    const n = Number((await c.query('SELECT count(*) AS n FROM outbox')).rows[0].n);
    if (n !== posts * targets.length) throw new Error(`store SQL run wrote ${n} outbox rows, expected ${posts * 4}`);
    return rate;
  } finally {
    await c.end();
  }
}

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  pg: ${s}\n`);
  const peer = await startPostgres('bench');
  try {
    const open = freshPgStore(peer);
    progress(`warm-up`);
    await ingestRun('process', 2000, SENDERS, undefined, undefined, open);
    const onPg: number[] = [];
    const onSqlite: number[] = [];
    const bare: number[] = [];
    const storeSql: number[] = [];
    const trips: number[] = [];
    const laneTrips: number[] = [];
    const waits: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      progress(
        `run ${r + 1}/${RUNS}: ${POSTS} posts from ${SENDERS} senders on PostgreSQL, on SQLite, bare pg, bare pg into the store's schema`,
      );
      let from = NO_STATS;
      onPg.push(
        await ingestRun(
          'process',
          POSTS,
          SENDERS,
          (st) => (from = { ...(st.db as PgDatabase).stats }),
          undefined,
          open,
        ),
      );
      const p = perPost(from, POSTS);
      trips.push(p.trips);
      laneTrips.push(p.lane);
      waits.push(p.waitMs);
      onSqlite.push(await ingestRun('process', POSTS, SENDERS));
      bare.push(await bareRun(peer, POSTS));
      storeSql.push(await storeSqlRun(peer, POSTS));
    }
    progress(`latency at 1,000 posts/s on PostgreSQL, then on SQLite`);
    let from = NO_STATS;
    const latPg = await latencyRun('process', (st) => void (from = { ...(st.db as PgDatabase).stats }), open);
    // Every post offered, the warm-up's included.
    const latTrips = perPost(from, latPg.offered + LATENCY_WARMUP_SECONDS * LATENCY_RATE);
    const latSqlite = await latencyRun('process');
    const ratios = onPg.map((p, i) => p / bare[i]!);
    return [
      summarise(`durable ingest on PostgreSQL, core, ${SENDERS} senders, 4 endpoints`, 'posts/s', onPg, {
        target: { atLeast: 5000 },
      }),
      summarise(`durable ingest on SQLite, core, ${SENDERS} senders`, 'posts/s', onSqlite),
      // Issue 17's ceiling is "bare pg inserts of the same rows": the rows the core writes (posts, their search rows,
      // their outbox rows) into the tables that hold them, by bare pg (README, "PostgreSQL"). The other bare run writes
      // fewer rows into plainer tables: between the two is what the schema costs (bench/pg-levers.ts, part by part).
      summarise(
        `bare pg, the same rows: the store's schema (pp_insert_posts, search rows, every index)`,
        'posts/s',
        storeSql,
      ),
      summarise(
        `PostgreSQL core / bare pg, the same rows`,
        'ratio',
        onPg.map((p, i) => p / storeSql[i]!),
        { target: { atLeast: 0.6 }, digits: 2 },
      ),
      summarise(
        `bare pg, posts and outbox rows alone (no search rows, two indexes), ${SENDERS} senders`,
        'posts/s',
        bare,
      ),
      summarise('PostgreSQL core / bare pg, posts and outbox rows alone', 'ratio', ratios, { digits: 2 }),
      summarise('PostgreSQL ingest: round trips per post', 'trips', trips, { digits: 3 }),
      summarise('PostgreSQL ingest: of them group commits on the ingest lane', 'trips', laneTrips, { digits: 3 }),
      summarise('PostgreSQL ingest: main thread waiting per post', 'ms', waits, { digits: 3 }),
      { figure: 'ingest→deliver p50 on PostgreSQL, 1,000 posts/s', value: latPg.p50, unit: 'ms', digits: 2 },
      { figure: 'ingest→deliver p99 on PostgreSQL', value: latPg.p99, unit: 'ms', digits: 2 },
      { figure: 'latency run on PostgreSQL: round trips per post', value: latTrips.trips, unit: 'trips', digits: 2 },
      { figure: 'ingest→deliver p50 on SQLite', value: latSqlite.p50, unit: 'ms', digits: 2 },
      { figure: 'ingest→deliver p99 on SQLite', value: latSqlite.p99, unit: 'ms', digits: 2 },
    ];
  } finally {
    peer.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(machine());
  console.log(table([{ title, results: await run() }]));
}
