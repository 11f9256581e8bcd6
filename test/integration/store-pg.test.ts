/**
 * The core's store on a real PostgreSQL 15 (issue 17): the store scenario (test/helpers/store-scenarios.ts: every
 * operation the core asks of its store, searches included) gives the same record as on SQLite; a plugin's
 * migrations and statements run through the same store; two stores (two processes' worth) on one database number
 * their posts in commit order without a gap or a clash.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pgClient from 'pg';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/store.js';
import { removePosts } from '../../src/archive/removal.js';
import { pluginStoreFor } from '../../src/runtime/accounts.js';
import { PgDatabase } from '../../src/store/pg/database.js';
import { PG_MIGRATIONS, POSTS_LOCK } from '../../src/store/pg/schema.js';
import { EXPECTED, scenarioPost, storeScenario } from '../helpers/store-scenarios.js';
import { startPostgres, type PgPeer } from '../helpers/pg.js';
import { fixture, line, settle } from '../helpers/core-fixture.js';

let pg: PgPeer;
before(async () => {
  pg = await startPostgres('core');
});
after(() => pg?.destroy());

const openPg = () => Store.postgres(new PgDatabase(pg.url), pg.url);

test('the store scenario on PostgreSQL gives the record it gives on SQLite', () => {
  const store = openPg();
  try {
    assert.deepEqual(storeScenario(store), EXPECTED);
  } finally {
    store.close();
  }
});

test('opening the store again keeps it: the schema is not applied twice, posts and kv are there', () => {
  const a = openPg();
  const before = a.countPostsByBridge();
  a.close();
  const b = openPg();
  try {
    assert.deepEqual(b.countPostsByBridge(), before);
    assert.deepEqual(b.kvKeys('irc.test'), ['other', 'seen:#b']);
  } finally {
    b.close();
  }
});

test("a plugin's migrations and statements run on the PostgreSQL store (ctx.store)", () => {
  const store = openPg();
  try {
    const ctx = pluginStoreFor(store, 'gopher.test', 'gopher');
    ctx.migrate([
      `CREATE TABLE gopher_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER, body BLOB, at INTEGER NOT NULL);
       CREATE INDEX gopher_items_by_at ON gopher_items (at);`,
    ]);
    ctx.migrate([
      `CREATE TABLE gopher_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER, body BLOB, at INTEGER NOT NULL);
       CREATE INDEX gopher_items_by_at ON gopher_items (at);`,
    ]); // applied once
    const add = ctx.prepare('INSERT OR IGNORE INTO gopher_items (name, size, body, at) VALUES (?, ?, ?, ?)');
    const first = add.run('a', 3, Buffer.from([0, 1, 2]), Date.UTC(2026, 0, 1));
    assert.equal(first.changes, 1);
    assert.equal(add.run('a', 4, Buffer.from([9]), 1).changes, 0);
    const second = add.run('b', null, null, 2);
    // A later row's id is higher (PostgreSQL's identity may skip the value an ignored insert drew; SQLite's does not).
    assert.ok(Number(second.lastInsertRowid) > Number(first.lastInsertRowid));
    const row = ctx.prepare('SELECT name, size, body, at FROM gopher_items WHERE name = ?').get('a') as {
      body: Buffer;
      at: number;
      size: number;
    };
    assert.deepEqual([...row.body], [0, 1, 2]);
    assert.equal(row.at, Date.UTC(2026, 0, 1));
    assert.equal(ctx.prepare('SELECT count(*) FROM gopher_items').pluck().get(), 2);
    ctx.set('cursor', { n: 7 });
    assert.deepEqual(ctx.get('cursor'), { n: 7 });
    ctx.ids.set('a@x', 'hole', '12');
    assert.equal(ctx.ids.post('hole', '12'), 'a@x');
  } finally {
    store.close();
  }
});

test('two stores on one database (as two processes) number posts in commit order, none lost, none twice', () => {
  const one = openPg();
  const two = openPg();
  try {
    const start = one.countPostsByBridge().race ?? 0;
    const ids: string[] = [];
    // Interleaved transactions: one holds the posts lock while the other waits for it (its own connection).
    for (let i = 0; i < 50; i++) {
      const s = i % 2 ? one : two;
      const id = `race${i}@x`;
      ids.push(id);
      s.transaction(() => s.insertPost(scenarioPost(id, { bridge: 'race' }), Date.now()));
      // The same post offered by the other process: a duplicate, not a second copy.
      const other = s === one ? two : one;
      assert.equal(other.insertPost(scenarioPost(id, { bridge: 'race' }), Date.now()), undefined);
    }
    const seqs = one
      .latestPosts('race', 100)
      .map((p) => p.seq)
      .reverse();
    assert.equal(seqs.length, start + 50);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, 'no gap in the seqs');
    assert.deepEqual(
      two.postsSince('race', 0, 100).map((p) => p.id),
      ids,
    );
  } finally {
    one.close();
    two.close();
  }
});

test("an outbox row names a post (schema entry 5: checked once a statement): refused for a missing post, a post named by one is not deleted, and a removal racing a new row waits for that row's commit", async () => {
  const store = openPg();
  const c1 = new pgClient.Client(pg.url);
  const c2 = new pgClient.Client(pg.url);
  await c1.connect();
  await c2.connect();
  const code = (e: unknown) => (e as { code?: string }).code;
  /** A statement that may wait for another transaction: whether it has settled yet, and how (`ok`, or its SQLSTATE). */
  const blocking = (q: Promise<unknown>, ok: string) => {
    const w: { settled: boolean; outcome?: Promise<string | undefined> } = { settled: false };
    w.outcome = q
      .finally(() => (w.settled = true))
      .then(
        () => ok,
        (e: unknown) => code(e),
      );
    return w as { settled: boolean; outcome: Promise<string | undefined> };
  };
  try {
    assert.equal(
      store.db.prepare(`SELECT count(*) FROM pg_constraint WHERE conname = 'outbox_post_seq_fkey'`).pluck().get(),
      0,
      'the row-by-row foreign key is gone',
    );
    const seq = store.insertPost(scenarioPost('fk1@x', { bridge: 'fk' }), Date.now())!;
    const none = seq + 1000;
    // A statement naming a missing post among others is refused whole (SQLSTATE 23503), as the foreign key refused it.
    assert.throws(
      () => store.addDelivery(none, 'irc.test/#fk', 'stream', Date.now()),
      (e) => {
        assert.equal(code(e), 'PG_CONSTRAINT_FOREIGNKEY');
        return true;
      },
    );
    await assert.rejects(
      c1.query(
        `INSERT INTO outbox (post_seq, endpoint, shape, created_at) VALUES ($1, 'a', 'stream', 0), ($2, 'b', 'stream', 0)`,
        [seq, none],
      ),
      (e) => code(e) === '23503',
    );
    assert.equal(store.db.prepare('SELECT count(*) FROM outbox WHERE post_seq = ?').pluck().get(seq), 0);
    // A post an outbox row names is not deleted; once its rows are gone, it is.
    const row = store.addDelivery(seq, 'irc.test/#fk', 'stream', Date.now());
    await assert.rejects(c1.query('DELETE FROM posts WHERE seq = $1', [seq]), (e) => code(e) === '23503');
    // A row written while a removal deletes its post: the removal waits for that row's commit, then is refused.
    await c1.query('DELETE FROM outbox WHERE row = $1', [row]);
    await c1.query('BEGIN');
    await c1.query(`INSERT INTO outbox (post_seq, endpoint, shape, created_at) VALUES ($1, 'a', 'stream', 0)`, [seq]);
    const removal = blocking(c2.query('DELETE FROM posts WHERE seq = $1', [seq]), 'deleted');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(removal.settled, false, 'the removal waits for the commit of the row naming the post');
    await c1.query('COMMIT');
    assert.equal(await removal.outcome, '23503');
    // The other way round: a row naming a post a removal has deleted (not committed yet) waits, then is refused.
    await c2.query('BEGIN');
    await c2.query('DELETE FROM outbox WHERE post_seq = $1', [seq]);
    await c2.query('DELETE FROM posts WHERE seq = $1', [seq]);
    const late = blocking(
      c1.query(`INSERT INTO outbox (post_seq, endpoint, shape, created_at) VALUES ($1, 'a', 'stream', 0)`, [seq]),
      'inserted',
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(late.settled, false, 'the row waits for the removal');
    await c2.query('COMMIT');
    assert.equal(await late.outcome, '23503');
    assert.equal(store.getPost('fk1@x'), undefined);
  } finally {
    await c1.end();
    await c2.end();
    store.close();
  }
});

test('a database at schema 4 moves to entry 5 at the next open: its outbox rows kept, the check by statement in place of the foreign key', async () => {
  const admin = new pgClient.Client(pg.url);
  await admin.connect();
  await admin.query('CREATE SCHEMA v4');
  const url = `${pg.url}?options=${encodeURIComponent('-c search_path=v4')}`;
  const old = new PgDatabase(url);
  try {
    old.transaction(() => {
      for (const entry of PG_MIGRATIONS.slice(0, 4)) old.exec(entry);
      old.exec('UPDATE peerpost_schema SET version = 4');
    })();
    old.exec(`SELECT * FROM pp_insert_posts('[{"n":0,"id":"old@x","bridge":"b","data":"{}","placed_at":0,"imported":0,"indexed":false}]', 0);
              INSERT INTO outbox (post_seq, endpoint, shape, created_at) VALUES (1, 'irc.test/#b', 'stream', 0)`);
    assert.equal(
      old.prepare(`SELECT count(*) FROM pg_constraint WHERE conname = 'outbox_post_seq_fkey'`).pluck().get(),
      1,
    );
  } finally {
    old.close();
  }
  const store = Store.postgres(new PgDatabase(url), 'v4');
  try {
    assert.equal(store.db.prepare('SELECT version FROM peerpost_schema').pluck().get(), PG_MIGRATIONS.length);
    assert.equal(
      store.db.prepare(`SELECT count(*) FROM pg_constraint WHERE conname = 'outbox_post_seq_fkey'`).pluck().get(),
      0,
    );
    assert.deepEqual(
      store.queue('irc.test/#b', 10).map((r) => r.postId),
      ['old@x'],
    );
    assert.throws(() => store.db.prepare('DELETE FROM posts WHERE seq = 1').run(), /outbox_post_seq_fkey/);
    assert.throws(() => store.addDelivery(2, 'irc.test/#b', 'stream', 0), /outbox_post_seq_fkey/);
  } finally {
    store.close();
    await admin.query('DROP SCHEMA v4 CASCADE');
    await admin.end();
  }
});

test('the core on PostgreSQL: a group commit in one round trip, deliveries landed together, duplicates and removed ids answered as on SQLite', async (t) => {
  const store = openPg();
  const db = store.db as PgDatabase;
  const f = fixture(
    { 'irc.a': 'chat', 'irc.b': 'chat', 'irc.c': 'chat' },
    {
      pgcore: { endpoints: ['irc.a/#pg', 'irc.b/#pg', 'irc.c/#pg'] },
    },
    {},
    { store },
  );
  t.after(() => f.close());
  db.exec(`INSERT INTO tombstones (id, bridge, reason, by, at) VALUES ('gone@x', 'pgcore', 'spam', 'op', 1)`);
  const kick = f.outbox.kick.bind(f.outbox);
  f.outbox.kick = () => undefined; // the commit's round trips alone
  const before = { ...db.stats };
  const verdicts = await Promise.all([
    f.core.ingest('irc.a', line('#pg', 'alice', 'one', { id: 'one@x' })),
    f.core.ingest('irc.a', line('#pg', 'alice', 'two', { id: 'two@x' })),
  ]);
  // One statement, committed by itself: the posts (passed over when held or removed: no lookup per post before) and
  // their outbox rows. A few posts: on the store's connection (the ingest lane takes many at once).
  assert.equal(db.stats.roundTrips - before.roundTrips, 1);
  assert.equal(db.stats.laneTrips - before.laneTrips, 0);
  assert.deepEqual(
    verdicts.map((v) => v.status),
    ['accepted', 'accepted'],
  );
  // Given twice in one group commit: the first is stored, the second is a duplicate (asked why after the commit).
  const twice = await Promise.all([
    f.core.ingest('irc.a', line('#pg', 'alice', 'three', { id: 'three@x' })),
    f.core.ingest('irc.b', line('#pg', 'bob', 'three', { id: 'three@x' })),
  ]);
  assert.deepEqual(twice[1], { status: 'duplicate', id: 'three@x' });
  assert.deepEqual(await f.core.ingest('irc.b', line('#pg', 'bob', 'again', { id: 'two@x' })), {
    status: 'duplicate',
    id: 'two@x',
  });
  const removed = await f.core.ingest('irc.b', line('#pg', 'bob', 'back', { id: 'gone@x' }));
  assert.equal(removed.status, 'rejected');
  assert.match(removed.status === 'rejected' ? removed.reason : '', /gone@x was removed from the archive \(spam\)/);
  // Deliveries: each post to the two other endpoints, once; landed (rows deleted) on the next turn, together.
  f.outbox.kick = kick;
  f.outbox.kickAll();
  await settle();
  assert.deepEqual(f.attempts.map((a) => `${a.endpoint} ${a.post.id}`).sort(), [
    'irc.b/#pg one@x',
    'irc.b/#pg three@x',
    'irc.b/#pg two@x',
    'irc.c/#pg one@x',
    'irc.c/#pg three@x',
    'irc.c/#pg two@x',
  ]);
  assert.equal(store.deliveriesWaiting, 0);
  assert.deepEqual(store.listOutbox({ bridge: 'pgcore' }), []);
  // A post whose rows are handed to the idle endpoints with their numbers (no read): delivered once to each, and the
  // rows those numbers name are the ones landed (none left pending).
  const four = await f.core.ingest('irc.a', line('#pg', 'alice', 'four', { id: 'four@x' }));
  assert.equal(four.status, 'accepted');
  await settle();
  const rows = f.attempts.filter((a) => a.post.id === 'four@x').map((a) => a.to.row);
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => Number.isInteger(r) && r > 0));
  assert.deepEqual(store.listOutbox({ bridge: 'pgcore' }), []);
});

/** The core on `store` with one bridge of two IRC channels (irc.a and irc.b), and the seqs its listeners are told. */
function chatCore(t: { after(fn: () => unknown): void }, store: Store, bridge: string, channel: string) {
  const f = fixture(
    { 'irc.a': 'chat', 'irc.b': 'chat' },
    { [bridge]: { endpoints: [`irc.a/${channel}`, `irc.b/${channel}`] } },
    {},
    { store },
  );
  t.after(() => f.close());
  const told: number[] = [];
  f.core.onPost((p) => told.push(p.seq));
  return { store, db: store.db as PgDatabase, f, told };
}

/** Until `check` holds (every 20 ms, at most 5 s). */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (const end = Date.now() + 5000; !(await check());) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("the core's group commits on the ingest lane: many posts at once go there, two commits under way, the daemon's thread going on meanwhile; a few stay on the store's connection; answered, told and delivered in order", async (t) => {
  const { store, db, f, told } = chatCore(t, openPg(), 'lane', '#l');
  // Another session holds the posts lock: the lane's statements wait for it.
  const other = new pgClient.Client(pg.url);
  await other.connect();
  t.after(() => other.end());
  await other.query('BEGIN');
  await other.query('SELECT pg_advisory_xact_lock($1)', [POSTS_LOCK]);
  const waitingOnLock = async () =>
    Number(
      (await other.query(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rows[0].n,
    ) === 1;
  // Started when first asked for (the first busy moment), in the background; up before the posts come here.
  assert.equal(store.laneReady(), false);
  await until('the ingest lane is up', async () => store.laneReady());
  const before = { ...db.stats };
  let answered = 0;
  const ids = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i + 1}`);
  const take = (id: string) => {
    const v = f.core.ingest('irc.a', line('#l', 'alice', `said ${id}`, { id: `${id}@lane` }));
    void v.then(() => answered++);
    return v;
  };
  // 40 posts at once: two group commits of 20, the second queued on the lane's connection behind the first.
  const first = ids('f', 40).map(take);
  await until('the lane waits for the posts lock', waitingOnLock);
  assert.equal(db.stats.laneTrips - before.laneTrips, 2);
  // Meanwhile the daemon's thread goes on: timers run, the store answers on its own connection, posts are taken.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(store.countPosts('lane'), 0);
  const second = ids('s', 20).map(take);
  await settle();
  assert.equal(answered, 0, 'no post is answered before its commit');
  assert.equal(db.stats.laneTrips - before.laneTrips, 2, 'two under way at most: the next 20 wait');
  await other.query('COMMIT');
  const verdicts = await Promise.all([...first, ...second]);
  assert.deepEqual(new Set(verdicts.map((v) => v.status)), new Set(['accepted']));
  const seqs = verdicts.map((v) => (v.status === 'accepted' ? v.seq : 0));
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
    'numbered in the order taken',
  );
  assert.deepEqual(told, seqs, 'the listeners told each once, in commit order');
  // The next 20: on the lane behind the second, or on the store's connection once both were answered.
  assert.ok([2, 3].includes(db.stats.laneTrips - before.laneTrips));
  await settle();
  assert.deepEqual(
    f.attempts.map((a) => `${a.endpoint} ${a.post.id}`),
    [...ids('f', 40), ...ids('s', 20)].map((id) => `irc.b/#l ${id}@lane`),
  );
  // A few posts (a person's pace, a moderate load): committed on the store's connection, one round trip.
  const fromHere = { ...db.stats };
  f.outbox.kick = () => undefined; // the commit's round trips alone
  const few = await Promise.all(ids('p', 3).map(take));
  assert.deepEqual(new Set(few.map((v) => v.status)), new Set(['accepted']));
  assert.equal(db.stats.laneTrips - fromHere.laneTrips, 0);
  assert.equal(db.stats.roundTrips - fromHere.roundTrips, 1);
  // Both connections' backends are this process's own (a NOTIFY the lane's commit sends is not taken for another
  // process's: src/runtime/daemon.ts).
  const pids = (
    await other.query(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'peerpost'`,
    )
  ).rows.map((r: { pid: number }) => r.pid);
  assert.equal(pids.length, 2);
  assert.ok(pids.every((pid) => db.ownBackend(pid)));
});

/** Another process holding the posts lock for `ms` (its own, so that it lets go while this one's thread waits). */
function lockHolder(ms: number): Promise<{ done: Promise<void> }> {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const script = `const pg = require('pg'); (async () => { const c = new pg.Client(${JSON.stringify(pg.url)});
    await c.connect(); await c.query('BEGIN'); await c.query('SELECT pg_advisory_xact_lock(${POSTS_LOCK})');
    console.log('locked'); await new Promise((r) => setTimeout(r, ${ms})); await c.query('COMMIT'); await c.end(); })()`;
  const child = spawn(process.execPath, ['-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<void>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the lock holder exited ${code}`)))),
  );
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve({ done });
    });
    done.catch(reject);
  });
}

test('a digest closed on the main connection while group commits wait on the ingest lane: the listeners are told every post in seq order', async (t) => {
  const store = openPg();
  const f = fixture(
    { 'irc.a': 'chat', 'irc.b': 'chat', 'mail.l': 'article' },
    { quick: { endpoints: ['irc.a/#q', 'irc.b/#q'] }, talk: { endpoints: ['irc.a/#d', 'mail.l/talk'] } },
    {},
    { store },
  );
  t.after(() => f.close());
  assert.equal((await f.core.ingest('irc.a', line('#d', 'alice', 'a line for the digest'))).status, 'accepted');
  const told: { seq: number; kind: string }[] = [];
  f.core.onPost((p) => told.push({ seq: p.seq, kind: p.kind }));
  const watcher = new pgClient.Client(pg.url);
  await watcher.connect();
  t.after(() => watcher.end());
  await until('the ingest lane is up', async () => store.laneReady());
  const holder = await lockHolder(400);
  // Many posts at once: on the lane, two group commits of 16.
  const posts = Array.from({ length: 32 }, (_, i) =>
    f.core.ingest('irc.a', line('#q', 'alice', `q${i}`, { id: `q${i}@quick` })),
  );
  await until(
    'the lane waits for the posts lock',
    async () =>
      Number(
        (await watcher.query(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rows[0]
          .n,
      ) === 1,
  );
  // The digest's commit waits behind the lane's for the lock (this thread blocked meanwhile) and gets the higher
  // seq; it is told at once here, before the lane's answer is read.
  const digestId = f.keeper.closeNow('talk');
  assert.ok(digestId);
  await holder.done;
  const verdicts = await Promise.all(posts);
  await settle();
  const seqs = verdicts.map((v) => (v.status === 'accepted' ? v.seq : 0));
  // The digest's place among them is where its commit came (between the lane's two, or after both).
  assert.equal(told.length, 33);
  assert.equal(told.filter((p) => p.kind === 'digest').length, 1);
  assert.deepEqual(
    told.map((p) => p.seq),
    [...told.map((p) => p.seq)].sort((a, b) => a - b),
    'in seq order',
  );
  assert.deepEqual(
    told.filter((p) => p.kind === 'message').map((p) => p.seq),
    seqs,
  );
});

test('a row committed on the ingest lane and read by the outbox before the core hands it over (a kick from elsewhere in between) is delivered once', async (t) => {
  const store = openPg();
  const f = fixture(
    { 'irc.a': 'chat', 'irc.b': 'chat' },
    { once: { endpoints: ['irc.a/#o', 'irc.b/#o'] } },
    {},
    { store },
  );
  t.after(() => f.close());
  assert.equal((await f.core.ingest('irc.a', line('#o', 'alice', 'first', { id: 'first@once' }))).status, 'accepted');
  await settle();
  // The worker of irc.b/#o is idle and knows nothing waits. A commit lands (as on the lane, not handed over yet) ...
  const got = store.ingestPosts(
    [{ post: scenarioPost('second@once', { bridge: 'once' }), routes: [{ endpoint: 'irc.b/#o', shape: 'stream' }] }],
    Date.now(),
  )!;
  assert.equal(got[0]?.rows.length, 1);
  const [fresh] = store.queue('irc.b/#o', 1, 0);
  assert.equal(fresh?.postId, 'second@once');
  // ... a kick from elsewhere (another process's NOTIFY, the slow poll) reads it and delivers it ...
  f.outbox.kick('irc.b/#o');
  await settle();
  // ... and then the core's answer hands the same row over.
  f.outbox.kick('irc.b/#o', fresh);
  await settle();
  assert.deepEqual(
    f.attempts.map((a) => `${a.endpoint} ${a.post.id}`),
    ['irc.b/#o first@once', 'irc.b/#o second@once'],
  );
  assert.deepEqual(store.listOutbox({ bridge: 'once' }), []);
});

test("group commits that fail on the ingest lane (the posts lock held past the query timeout) are written again post by post on the store's connection once none is under way: every post stored once, answered in order", async (t) => {
  const { store, db, f, told } = chatCore(
    t,
    Store.postgres(new PgDatabase(pg.url, { queryTimeoutMs: 1000 }), pg.url),
    'late',
    '#t',
  );
  // Held 2.2 s: both of the lane's statements give up waiting (1 s each, one after the other); the posts written
  // again one by one wait much less than that for what is left of it.
  await until('the ingest lane is up', async () => store.laneReady());
  const holder = await lockHolder(2200);
  const before = { ...db.stats };
  const ids = Array.from({ length: 32 }, (_, i) => `t${i + 1}`);
  const verdicts = await Promise.all(
    ids.map((id) => f.core.ingest('irc.a', line('#t', 'alice', `said ${id}`, { id: `${id}@late` }))),
  );
  await holder.done;
  assert.equal(db.stats.laneTrips - before.laneTrips, 2, 'two group commits on the lane, both failed');
  assert.ok(db.stats.roundTrips - before.roundTrips >= 32, 'then one statement a post on the store connection');
  assert.deepEqual(new Set(verdicts.map((v) => v.status)), new Set(['accepted']));
  const seqs = verdicts.map((v) => (v.status === 'accepted' ? v.seq : 0));
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
  );
  assert.deepEqual(told, seqs);
  assert.equal(store.countPosts('late'), 32);
});

test("a group commit's outbox rows are numbered in the batch's order, post by post and route by route; a post held already gets none", () => {
  const store = openPg();
  try {
    store.transaction(() => store.insertPost(scenarioPost('held@order', { bridge: 'order' }), Date.now()));
    const routes = (...eps: string[]) => eps.map((endpoint) => ({ endpoint, shape: 'stream' }));
    const now = Date.now();
    // Routes given in an order that is not the endpoints' sort order, and a post with none in the middle.
    const got = store.ingestPosts(
      [
        { post: scenarioPost('a@order', { bridge: 'order' }), routes: routes('irc.z/#o', 'irc.a/#o', 'irc.m/#o') },
        { post: scenarioPost('held@order', { bridge: 'order' }), routes: routes('irc.a/#o') },
        { post: scenarioPost('b@order', { bridge: 'order' }), routes: [] },
        { post: scenarioPost('c@order', { bridge: 'order' }), routes: routes('irc.m/#o', 'irc.z/#o') },
      ],
      now,
    )!;
    assert.equal(got[1], undefined, 'the post held already is passed over, with no outbox row');
    assert.deepEqual(got[2]?.rows, []);
    const rows = [got[0]!, got[3]!].flatMap((g) => g.rows);
    assert.equal(rows.length, 5);
    for (let i = 1; i < rows.length; i++)
      assert.ok(rows[i]! > rows[i - 1]!, `row numbers rise in the batch's order: ${rows}`);
    // Each number names the route given at its place.
    const db = store.db as PgDatabase;
    const named = (row: number) =>
      (db
        .prepare('SELECT p.id, o.endpoint FROM outbox o JOIN posts p ON p.seq = o.post_seq WHERE o.row = ?')
        .get(row) as {
        id: string;
        endpoint: string;
      }) ?? {};
    assert.deepEqual(
      rows.map((r) => {
        const n = named(r);
        return `${n.id} ${n.endpoint}`;
      }),
      ['a@order irc.z/#o', 'a@order irc.a/#o', 'a@order irc.m/#o', 'c@order irc.m/#o', 'c@order irc.z/#o'],
    );
  } finally {
    store.close();
  }
});

test("a post's thread is the first of its References, else what it answers, else its own id, given by the Store or (from an earlier version's process) read from its JSON", () => {
  const store = openPg();
  try {
    const now = Date.now();
    store.insertPosts(
      [
        { post: scenarioPost('root@thr', { bridge: 'thr' }) },
        { post: scenarioPost('answer@thr', { bridge: 'thr', inReplyTo: 'root@thr' }) },
        {
          post: scenarioPost('deep@thr', {
            bridge: 'thr',
            inReplyTo: 'answer@thr',
            references: ['root@thr', 'answer@thr'],
          }),
        },
      ],
      now,
    );
    const db = store.db as PgDatabase;
    // As a process of an earlier version sends it: no thread given.
    const old = { ...scenarioPost('old@thr', { bridge: 'thr', inReplyTo: 'deep@thr' }), references: [] };
    db.prepare('SELECT n, seq FROM pp_insert_posts(CAST(? AS JSONB), CAST(? AS BIGINT))').all(
      JSON.stringify([
        {
          n: 0,
          id: old.id,
          bridge: 'thr',
          data: JSON.stringify(old),
          date: old.date,
          placed_at: now,
          imported: 0,
          indexed: false,
        },
      ]),
      now,
    );
    const rows = db
      .prepare(
        `SELECT id, thread, coalesce(CAST(data AS JSONB) -> 'references' ->> 0, CAST(data AS JSONB) ->> 'inReplyTo', id) AS from_json
         FROM posts WHERE bridge = 'thr' ORDER BY seq`,
      )
      .all() as { id: string; thread: string; from_json: string }[];
    assert.deepEqual(
      rows.map((r) => `${r.id} ${r.thread}`),
      ['root@thr root@thr', 'answer@thr root@thr', 'deep@thr root@thr', 'old@thr deep@thr'],
    );
    for (const r of rows) assert.equal(r.thread, r.from_json, r.id);
  } finally {
    store.close();
  }
});

test('posts per bridge on PostgreSQL: kept by the database through inserts, a removal, a rollback and a second process, without counting the archive', () => {
  const one = openPg();
  const two = openPg();
  const db = one.db as PgDatabase;
  // The truth, and what the store says (every bridge, and each one alone), for the bridges of this test.
  const mine = (r: Record<string, number>) =>
    Object.fromEntries(Object.entries(r).filter(([b]) => b.startsWith('cnt-')));
  const truth = () =>
    mine(
      Object.fromEntries(
        (
          db.prepare('SELECT bridge, count(*) AS n FROM posts GROUP BY bridge').all() as { bridge: string; n: number }[]
        ).map((r) => [r.bridge, Number(r.n)]),
      ),
    );
  const counts = (s: Store) => {
    const all = mine(s.countPostsByBridge());
    for (const [b, n] of Object.entries(all)) assert.equal(s.countPosts(b), n, `countPosts(${b})`);
    return all;
  };
  try {
    const ids: string[] = [];
    const now = Date.now();
    one.insertPosts(
      Array.from({ length: 12 }, (_, i) => {
        const p = scenarioPost(`cnt${i}@pg`, { bridge: i % 3 ? 'cnt-a' : 'cnt-b' });
        ids.push(p.id);
        return { post: p };
      }),
      now,
    );
    assert.deepEqual(counts(one), { 'cnt-a': 8, 'cnt-b': 4 });
    // Another process's insert and removal are seen by the first at once.
    two.insertPosts([{ post: scenarioPost('cnt-two@pg', { bridge: 'cnt-a' }) }], now);
    assert.deepEqual(counts(one), { 'cnt-a': 9, 'cnt-b': 4 });
    removePosts(two, { ids: [ids[0]!, ids[3]!, ids[1]!] }, { reason: 'test', by: 'test', cause: 'removed', now });
    assert.deepEqual(counts(one), { 'cnt-a': 8, 'cnt-b': 2 });
    assert.deepEqual(counts(one), truth());
    // Rolled back: not counted.
    assert.throws(() =>
      one.transaction(() => {
        one.insertPosts([{ post: scenarioPost('cnt-gone@pg', { bridge: 'cnt-c' }) }], now);
        assert.deepEqual(counts(one), { 'cnt-a': 8, 'cnt-b': 2, 'cnt-c': 1 });
        throw new Error('roll back');
      }),
    );
    assert.deepEqual(counts(one), { 'cnt-a': 8, 'cnt-b': 2 });
    assert.equal(one.countPosts('cnt-c'), 0);
    // Every post of a bridge removed: the bridge is not listed (as a count over the posts would not list it).
    removePosts(one, { ids: [ids[6]!, ids[9]!] }, { reason: 'test', by: 'test', cause: 'removed', now });
    assert.deepEqual(counts(one), { 'cnt-a': 8 });
    assert.deepEqual(counts(two), truth());
  } finally {
    one.close();
    two.close();
  }
});
