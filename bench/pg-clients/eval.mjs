// Which PostgreSQL client for issue 17: node-postgres (`pg`) and postgres.js (`postgres`) side by side, on Node 20,
// against a real PostgreSQL 15 (test/peers/postgres.sh), with the shape of peerpost's ingest: a post row and its
// four outbox rows, 64 senders at once. Not part of `npm run bench` (neither client is a dependency yet):
//
//   cd bench/pg-clients && npm install --no-save pg postgres
//   PID=$(bash ../../test/peers/postgres.sh start 15432 /tmp/pgc | tail -1)
//   bash ../../test/peers/postgres.sh createdb 15432 pp
//   N=4000 node eval.mjs; bash ../../test/peers/postgres.sh stop $PID
//
// Prints posts/s and per-post latency p50/p99 for: a transaction per post, one CTE statement per post, and
// group commit (every waiting post in one multi-row statement, as the core's ingest batches its commits).
import pg from 'pg';
import postgres from 'postgres';
const URL = 'postgres://pp@127.0.0.1:15432/pp';
const N = Number(process.env.N ?? 4000),
  SENDERS = 64;
const body = 'x'.repeat(400);
async function setup() {
  const c = new pg.Client(URL);
  await c.connect();
  await c.query(`DROP TABLE IF EXISTS outbox; DROP TABLE IF EXISTS posts;
    CREATE TABLE posts (seq BIGSERIAL PRIMARY KEY, id TEXT UNIQUE NOT NULL, bridge TEXT NOT NULL, received_at BIGINT NOT NULL, data JSONB NOT NULL);
    CREATE TABLE outbox (row BIGSERIAL PRIMARY KEY, post_seq BIGINT NOT NULL REFERENCES posts(seq), endpoint TEXT NOT NULL, created_at BIGINT NOT NULL, delivered_at BIGINT);
    CREATE INDEX outbox_pending ON outbox(endpoint, row) WHERE delivered_at IS NULL;`);
  await c.end();
}
const eps = ['irc.a/#c', 'mail.l/list', 'nntp.l/g', 'web.w/b'];
async function run(name, one) {
  let next = 0;
  const lat = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        const s = performance.now();
        await one(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(44)} ${(N / secs).toFixed(0).padStart(6)} posts/s  p50 ${lat[lat.length >> 1].toFixed(1)} ms  p99 ${lat[Math.floor(lat.length * 0.99)].toFixed(1)} ms`,
  );
}
const tag = () => Math.random().toString(36).slice(2);
// node-postgres, a pool of 10, one transaction per post: 6 round trips
{
  await setup();
  const pool = new pg.Pool({ connectionString: URL, max: 10 });
  const t = tag();
  await run('pg Pool(10), txn per post', async (i) => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const r = await c.query('INSERT INTO posts (id, bridge, received_at, data) VALUES ($1,$2,$3,$4) RETURNING seq', [
        `${t}-${i}`,
        'b',
        Date.now(),
        { body },
      ]);
      await c.query('INSERT INTO outbox (post_seq, endpoint, created_at) SELECT $1, unnest($2::text[]), $3', [
        r.rows[0].seq,
        eps,
        Date.now(),
      ]);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  });
  await pool.end();
}
// node-postgres, one statement per post (CTE): 1 round trip, autocommit
{
  await setup();
  const pool = new pg.Pool({ connectionString: URL, max: 10 });
  const t = tag();
  await run('pg Pool(10), one CTE statement per post', async (i) => {
    await pool.query(
      'WITH p AS (INSERT INTO posts (id, bridge, received_at, data) VALUES ($1,$2,$3,$4) RETURNING seq) INSERT INTO outbox (post_seq, endpoint, created_at) SELECT p.seq, e, $3 FROM p, unnest($5::text[]) e',
      [`${t}-${i}`, 'b', Date.now(), { body }, eps],
    );
  });
  await pool.end();
}
// postgres.js, max 10, txn per post (sql.begin)
{
  await setup();
  const sql = postgres(URL, { max: 10, onnotice: () => {} });
  const t = tag();
  await run('postgres.js max 10, txn per post', async (i) => {
    await sql.begin(async (tx) => {
      const [r] =
        await tx`INSERT INTO posts (id, bridge, received_at, data) VALUES (${`${t}-${i}`}, 'b', ${Date.now()}, ${tx.json({ body })}) RETURNING seq`;
      await tx`INSERT INTO outbox (post_seq, endpoint, created_at) SELECT ${r.seq}, unnest(${eps}::text[]), ${Date.now()}`;
    });
  });
  await sql.end();
}
{
  await setup();
  const sql = postgres(URL, { max: 10, onnotice: () => {} });
  const t = tag();
  await run('postgres.js max 10, one CTE statement per post', async (i) => {
    await sql`WITH p AS (INSERT INTO posts (id, bridge, received_at, data) VALUES (${`${t}-${i}`}, 'b', ${Date.now()}, ${sql.json({ body })}) RETURNING seq) INSERT INTO outbox (post_seq, endpoint, created_at) SELECT p.seq, e, ${Date.now()} FROM p, unnest(${eps}::text[]) e`;
  });
  await sql.end();
}
// group commit: senders' posts batched (all waiting), one multi-row statement per batch, pg single client
{
  await setup();
  const c = new pg.Client(URL);
  await c.connect();
  const t = tag();
  let q = [];
  let busy = false;
  const flush = async () => {
    if (busy || !q.length) return;
    busy = true;
    const b = q;
    q = [];
    try {
      await c.query(
        'WITH p AS (INSERT INTO posts (id, bridge, received_at, data) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::jsonb[]) RETURNING seq) INSERT INTO outbox (post_seq, endpoint, created_at) SELECT p.seq, e, $5 FROM p, unnest($6::text[]) e',
        [
          b.map((x) => x.id),
          b.map(() => 'b'),
          b.map(() => Date.now()),
          b.map(() => JSON.stringify({ body })),
          Date.now(),
          eps,
        ],
      );
      b.forEach((x) => x.res());
    } catch (e) {
      b.forEach((x) => x.rej(e));
    } finally {
      busy = false;
      if (q.length) flush();
    }
  };
  await run(
    'pg 1 client, group commit (batched)',
    (i) =>
      new Promise((res, rej) => {
        q.push({ id: `${t}-${i}`, res, rej });
        setImmediate(flush);
      }),
  );
  await c.end();
}
