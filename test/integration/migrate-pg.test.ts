/**
 * `peerpost migrate` (issue 17) as an operator runs it: a real daemon on SQLite (a news server, the web, a sink
 * endpoint) fills its store; `peerpost migrate --to URL` (the CLI, a child process) moves it into a real
 * PostgreSQL 15; the daemon started again with node.database set shows what it showed: the same articles under the
 * same numbers to a newsreader (Python's nntplib), the same search answers on /api/search, the deliveries that were
 * waiting delivered, once; a new post takes the next seq and the next article number. Migrate refuses while the
 * daemon runs, refuses a database that is not empty, and says where a bad URL or an unreachable server failed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { world, startDaemon, until, cli, cliPost, type Running, type World } from '../helpers/daemon.js';
import { openPg, startPostgres, type PgPeer } from '../helpers/pg.js';
import { requirePeer } from '../peers/require.js';
import { nntplib } from './nntp-helpers.js';
import { listeningPort } from '../peers/finger.js';
import { scenarioPost } from '../helpers/store-scenarios.js';
import { Store } from '../../src/store.js';
import { openConfiguredStore } from '../../src/store/open.js';
import { pluginStoreFor } from '../../src/runtime/accounts.js';
import { searchArchive } from '../../src/archive/search.js';
import { ListStore } from '../../plugins/mail/subscribe.js';
import { MemberStore } from '../../plugins/mail/members.js';

const PG_SCRIPT = fileURLToPath(new URL('../../../test/peers/postgres.sh', import.meta.url));
const NOW = Date.UTC(2026, 11, 1);

let pg: PgPeer;
let w: World;
before(async () => {
  requirePeer('python3');
  pg = await startPostgres('mig');
  w = world();
});
after(() => {
  delete process.env.PGPASSWORD;
  pg?.destroy();
  w?.cleanup();
});

/** Operations on one nntplib connection; each result's value (failing the test on an error). */
async function nntp(port: number, ops: (string | number)[][]): Promise<any[]> {
  const rs = await nntplib(port, ops);
  for (const r of rs) assert.ok(r.ok, `nntplib: ${r.error}`);
  return rs.map((r) => r.value);
}

const config = (database = '') => `${database ? `  database: ${database}\n` : ''}accounts:
  nntp.t: { listen: 127.0.0.1:0 }
  web.t: { listen: 127.0.0.1:0, title: Migrated commons }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    endpoints: [nntp.t/peerpost.commons, web.t/commons, sink.s/out]
`;

/** Article number → Message-ID, as a newsreader's OVER shows them (empty while the group is). */
const overview = async (p: number): Promise<Map<number, string>> => {
  try {
    const [, over] = await nntp(p, [
      ['group', 'peerpost.commons'],
      ['over', '1-'],
    ]);
    return new Map((over as [number, Record<string, string>][]).map(([n, o]) => [n, o['message-id']!] as const));
  } catch {
    return new Map();
  }
};

const search = async (webPort: number, q: string) => {
  const r = await fetch(`http://127.0.0.1:${webPort}/api/search?q=${encodeURIComponent(`${q} sort:date`)}`);
  assert.equal(r.status, 200);
  return ((await r.json()) as { results: { id: string }[] }).results.map((h) => `<${h.id}>`);
};

const sinkIds = () => w.delivered('s').map((d) => d.id);

test('migrate moves a SQLite store into PostgreSQL: same articles and numbers, same search, waiting deliveries delivered', async () => {
  const secretUrl = pg.url.replace('mig@', 'mig:s3cret@'); // the test cluster trusts 127.0.0.1: the password is not checked
  w.writeConfig(config());
  const d1 = await startDaemon(w.config);
  let d2: Running | undefined;
  try {
    const nntpPort = await listeningPort(d1.waitForLog, 'nntp.t');
    const webPort = await listeningPort(d1.waitForLog, 'web.t');
    const live: string[] = [];
    for (let i = 0; i < 5; i++)
      live.push(
        `<${await cliPost(w, 'commons', `author${i}`, `${i % 2 ? 'compost' : 'harvest'} notes number ${i}`, `Garden ${i}`)}>`,
      );
    await until(() => sinkIds().length === 5, 'the sink to get the 5 posts');
    const numbersBefore = await until(async () => {
      const m = await overview(nntpPort);
      return m.size === 5 && m;
    }, 'the news server to number the 5 posts');
    const compostBefore = await search(webPort, 'compost');
    assert.equal(compostBefore.length, 2);

    // The daemon runs: migrate refuses, and creates nothing on PostgreSQL.
    const busy = await cli(['migrate', '-c', w.config, '--to', pg.url]);
    assert.equal(busy.code, 4, busy.stderr);
    assert.match(busy.stderr, /peerpost is running .*stop it first/);
    const probe = openPg(pg);
    assert.equal(probe.tableExists('posts'), false, 'nothing was created while the daemon ran');
    probe.close();

    assert.equal(await d1.stop(), 0);
    // Posted with the daemon stopped: stored with its deliveries waiting in the outbox (sink, news server).
    const waiting = [
      `<${await cliPost(w, 'commons', 'late', 'compost waits in the outbox', 'Waiting 1')}>`,
      `<${await cliPost(w, 'commons', 'late', 'harvest waits too', 'Waiting 2')}>`,
    ];
    const outboxRows = async (extra: string[] = []) => {
      const r = await cli(['outbox', '-c', w.config, ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split('\n')
        .filter((l) => /^\d+\t/.test(l))
        .map((l) => l.split('\t'))
        .map((c) => `${c[0]} ${c[3]} ${c[4]}`);
    };
    const pendingBefore = await outboxRows();
    assert.ok(pendingBefore.length >= 2, `the outbox holds the waiting deliveries: ${pendingBefore.join('; ')}`);
    const sqliteFile = join(w.data, 'peerpost.db');
    const sizeBefore = statSync(sqliteFile).size;

    // A bad URL, an unreachable server: said where, nothing moved.
    const bad = await cli(['migrate', '-c', w.config, '--to', 'http://db.example/x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /a PostgreSQL URL starts with postgres:\/\//);
    const down = await cli(['migrate', '-c', w.config, '--to', `postgres://mig@127.0.0.1:1/mig`]);
    assert.equal(down.code, 4);
    assert.match(
      down.stderr,
      /cannot connect to PostgreSQL at 127\.0\.0\.1:1, database mig as user mig: .*ECONNREFUSED/,
    );

    // The migration.
    const m = await cli(['migrate', '-c', w.config, '--to', secretUrl]);
    assert.equal(m.code, 0, m.stderr + m.stdout);
    assert.match(
      m.stdout,
      /moved \d+ rows \(7 posts, \d+ tables of which \d+ plugin tables, 7 posts indexed for search\)/,
    );
    assert.match(m.stderr, /^ {2}posts: 7 rows \([\d.]+m?s\)$/m);
    assert.match(m.stderr, /^ {2}nntp_articles: 5 rows \([\d.]+m?s\)$/m);
    const line = /^ {2}database: (.+)$/m.exec(m.stdout)?.[1];
    assert.equal(line, `postgres://mig:\${PGPASSWORD}@127.0.0.1:${pg.port}/mig`);
    assert.doesNotMatch(m.stdout + m.stderr, /s3cret/, 'the password is never printed');
    assert.equal(statSync(sqliteFile).size, sizeBefore, 'the SQLite store is left as it was');
    // Each post's thread as SQLite computed it (on PostgreSQL a plain column since schema entry 5: copied here, then
    // written by pp_insert_posts; the store scenario checks the threads of replies).
    const lite = new Database(sqliteFile, { readonly: true });
    const threadsBefore = lite.prepare('SELECT id, thread FROM posts ORDER BY seq').all();
    // And the posts per bridge (on PostgreSQL kept by triggers as the posts were copied: schema entry 7).
    const countsBefore = lite.prepare('SELECT bridge, count(*) AS n FROM posts GROUP BY bridge ORDER BY bridge').all();
    lite.close();
    const threads = openPg(pg);
    try {
      assert.deepEqual(threads.query('SELECT id, thread FROM posts ORDER BY seq'), threadsBefore);
      assert.deepEqual(threads.query('SELECT bridge, n FROM pp_post_counts WHERE n > 0 ORDER BY bridge'), countsBefore);
    } finally {
      threads.close();
    }

    // Again: the database is not empty now, and migrate says how to empty it.
    const again = await cli(['migrate', '-c', w.config, '--to', pg.url]);
    assert.equal(again.code, 4);
    assert.match(
      again.stderr,
      /is not empty \(rows in posts.*\).*dropdb .*createdb .* and run peerpost migrate again/s,
    );

    // The daemon on PostgreSQL, with the line migrate printed (the password from the environment). First, with it
    // stopped, `peerpost outbox` lists the same waiting rows under the same row numbers; a new row comes after them.
    w.writeConfig(config(line!));
    process.env.PGPASSWORD = 's3cret'; // for every command from here on (peerpost post, outbox)
    assert.deepEqual(await outboxRows(), pendingBefore);
    const probe2 = openPg(pg);
    try {
      const [{ next }] = probe2.query(`SELECT nextval(pg_get_serial_sequence('outbox', 'row')) AS next`) as {
        next: number;
      }[];
      assert.ok(next > Math.max(...pendingBefore.map((r) => Number(r.split(' ')[0]))), `the next outbox row, ${next}`);
    } finally {
      probe2.close();
    }
    d2 = await startDaemon(w.config, []);
    assert.match(d2.logs.join('\n'), new RegExp(`postgres://mig@127\\.0\\.0\\.1:${pg.port}/mig`));
    const nntp2 = await listeningPort(d2.waitForLog, 'nntp.t');
    const web2 = await listeningPort(d2.waitForLog, 'web.t');
    // What waited in the outbox is delivered, once; nothing delivered before comes again.
    await until(() => sinkIds().length >= 7, 'the sink to get the 2 waiting posts');
    assert.deepEqual(
      sinkIds().map((id) => `<${id}>`),
      [...live, ...waiting],
    );
    // A newsreader's numbers have not moved; the waiting posts take the next ones.
    const numbersAfter = await until(async () => {
      const m2 = await overview(nntp2);
      return m2.size === 7 && m2;
    }, 'the news server on PostgreSQL to show 7 articles');
    for (const [n, id] of numbersBefore) assert.equal(numbersAfter.get(n), id, `article ${n} keeps its number`);
    assert.deepEqual(new Set([numbersAfter.get(6), numbersAfter.get(7)]), new Set(waiting));
    // The same search, and the waiting post found too.
    const compostAfter = await search(web2, 'compost');
    assert.deepEqual(compostAfter.slice(1), compostBefore);
    assert.equal(compostAfter[0], waiting[0]);
    assert.deepEqual(await search(web2, 'harvest'), [waiting[1], live[4], live[2], live[0]]);

    // A new post: the next seq after the 7 moved, the next article number, delivered.
    const fresh = `<${await cliPost(w, 'commons', 'new', 'compost on PostgreSQL', 'After the move')}>`;
    await until(() => sinkIds().length === 8, 'the sink to get the new post');
    const db = openPg(pg);
    try {
      assert.deepEqual(db.query('SELECT seq FROM posts WHERE id = $1', [fresh.slice(1, -1)]), [{ seq: 8 }]);
    } finally {
      db.close();
    }
    const numbersNew = await until(async () => {
      const m3 = await overview(nntp2);
      return m3.size === 8 && m3;
    }, 'the new post to be numbered');
    assert.equal(numbersNew.get(8), fresh);
  } finally {
    await d1.stop();
    await d2?.stop();
  }
});

test("plugin tables of every shape move whole: a list's members (their trigger works after), BLOBs, an INTEGER PRIMARY KEY and a rowid that go on counting, WITHOUT ROWID, a column ALTER added", async () => {
  const target = 'mig2';
  execFileSync('bash', [PG_SCRIPT, 'createdb', String(pg.port), target], { stdio: 'ignore' });
  const url = `postgres://${target}@127.0.0.1:${pg.port}/${target}`;
  const w2 = world();
  try {
    w2.writeConfig('');
    const src = Store.open(w2.data);
    const seq = src.insertPost(
      scenarioPost('one@x', { subject: 'Members meeting', body: 'the members meet on Friday' }),
      NOW,
    )!;
    const mail = pluginStoreFor(src, 'mail.lists', 'mail');
    const lists = new ListStore(mail, 'mail.lists');
    const members = new MemberStore(mail, 'mail.lists');
    for (const a of ['ann@example.org', 'bo@example.org', 'gone@example.org'])
      lists.add('commons', a, a.split('@')[0]!, NOW);
    members.set('commons', 'bo@example.org', { mode: 'digest' }, NOW);
    members.set('commons', 'gone@example.org', { mode: 'digest', digestFormat: 'plain' }, NOW);
    const gopher = pluginStoreFor(src, 'gopher.t', 'gopher');
    gopher.migrate([
      `CREATE TABLE gopher_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, body BLOB);
       CREATE TABLE gopher_log (line TEXT NOT NULL, PRIMARY KEY (line)) ;
       CREATE TABLE gopher_seen (k TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;`,
      `ALTER TABLE gopher_log ADD COLUMN at INTEGER NOT NULL DEFAULT 0;`,
    ]);
    const blob = Buffer.from([0, 1, 2, 255, 0x27, 0x5c]);
    gopher.prepare('INSERT INTO gopher_items (id, name, body) VALUES (?, ?, ?)').run(41, 'a', blob);
    gopher.prepare('INSERT INTO gopher_items (name, body) VALUES (?, ?)').run('b', null);
    gopher.prepare('INSERT INTO gopher_log (line, at) VALUES (?, ?)').run('first', 5);
    gopher.prepare('INSERT INTO gopher_log (line) VALUES (?)').run('second');
    gopher.prepare('DELETE FROM gopher_log WHERE line = ?').run('first'); // rowids 2.. only
    gopher.prepare('INSERT INTO gopher_seen (k, n) VALUES (?, ?)').run('x', 9007199254740993n);
    src.close();

    const m = await cli(['migrate', '-c', w2.config, '--to', url]);
    assert.equal(m.code, 0, m.stderr + m.stdout);
    assert.match(m.stdout, /moved \d+ rows \(1 post,/);

    const dst = openConfiguredStore({ data: w2.data, durability: 'process', database: url }, { create: false });
    try {
      assert.equal(dst.getPost('one@x')?.seq, seq);
      const lists2 = new ListStore(pluginStoreFor(dst, 'mail.lists', 'mail'), 'mail.lists');
      const members2 = new MemberStore(pluginStoreFor(dst, 'mail.lists', 'mail'), 'mail.lists');
      assert.deepEqual(lists2.recipients('commons'), ['ann@example.org', 'bo@example.org', 'gone@example.org']);
      assert.deepEqual(members2.digestRecipients('commons', 'mime'), ['bo@example.org']);
      assert.deepEqual(members2.digestRecipients('commons', 'plain'), ['gone@example.org']);
      // The members' trigger came along: a member who leaves takes their settings along, as on SQLite.
      assert.equal(lists2.remove('commons', 'gone@example.org'), true);
      assert.deepEqual(members2.digestRecipients('commons', 'plain'), []);
      // No migration is applied twice (plugin_migrations came along); the rows are as they were.
      const g = pluginStoreFor(dst, 'gopher.t', 'gopher');
      g.migrate([`CREATE TABLE gopher_items (never TEXT)`, `ALTER TABLE gopher_log ADD COLUMN at INTEGER`]);
      const items = g.prepare('SELECT id, name, body FROM gopher_items ORDER BY id').all() as { body: Buffer | null }[];
      assert.deepEqual(items, [
        { id: 41, name: 'a', body: blob },
        { id: 42, name: 'b', body: null },
      ]);
      assert.deepEqual(g.prepare('SELECT line, at FROM gopher_log ORDER BY rowid').all(), [{ line: 'second', at: 0 }]);
      assert.deepEqual(g.prepare('SELECT k, CAST(n AS TEXT) AS n FROM gopher_seen').all(), [
        { k: 'x', n: '9007199254740993' },
      ]);
      // Identities go on counting after what was copied.
      const r = g.prepare('INSERT INTO gopher_items (name) VALUES (?)').run('c');
      assert.equal(Number(r.lastInsertRowid), 43);
      const l = g.prepare('INSERT INTO gopher_log (line) VALUES (?)').run('third');
      assert.equal(Number(l.lastInsertRowid), 3);
      // A new post takes the next seq, and is found with the moved one.
      const next = dst.insertPost(scenarioPost('two@x', { subject: 'Members again', body: 'members' }), NOW + 1);
      assert.equal(next, seq + 1);
      assert.deepEqual(
        searchArchive(dst.db, 'members sort:date').hits.map((h) => h.post.id),
        ['two@x', 'one@x'],
      );
    } finally {
      dst.close();
    }
  } finally {
    w2.cleanup();
  }
});

test('a row PostgreSQL refuses midway: nothing is committed, migrate says which row and table, and runs again once mended', async () => {
  const target = 'mig3';
  execFileSync('bash', [PG_SCRIPT, 'createdb', String(pg.port), target], { stdio: 'ignore' });
  const url = `postgres://${target}@127.0.0.1:${pg.port}/${target}`;
  const w3 = world();
  try {
    w3.writeConfig('');
    const src = Store.open(w3.data);
    for (let i = 0; i < 250; i++) src.insertPost(scenarioPost(`p${i}@x`), NOW + i);
    const g = pluginStoreFor(src, 'gopher.t', 'gopher');
    g.migrate([`CREATE TABLE gopher_sizes (name TEXT NOT NULL, size INTEGER NOT NULL)`]);
    for (let i = 0; i < 150; i++) g.prepare('INSERT INTO gopher_sizes (name, size) VALUES (?, ?)').run(`f${i}`, i);
    // SQLite keeps a text where an INTEGER column was declared; PostgreSQL's BIGINT does not.
    g.prepare(`UPDATE gopher_sizes SET size = 'big' WHERE name = 'f120'`).run();
    src.close();

    const bad = await cli(['migrate', '-c', w3.config, '--to', url]);
    assert.equal(bad.code, 4, bad.stdout);
    assert.match(
      bad.stderr,
      /PostgreSQL refused rows 101–150 of the table gopher_sizes: .*invalid input syntax for type bigint: "big"/,
    );
    assert.match(
      bad.stderr,
      /Nothing was committed: .* is as empty as before; correct the cause and run peerpost migrate again/,
    );
    const db = openPg({ ...pg, url } as PgPeer);
    try {
      assert.deepEqual(
        db.query('SELECT count(*)::int AS n FROM posts'),
        [{ n: 0 }],
        'the posts copied before were rolled back',
      );
      assert.equal(db.tableExists('gopher_sizes'), false);
    } finally {
      db.close();
    }

    const fix = Store.open(w3.data);
    fix.db.prepare(`UPDATE gopher_sizes SET size = 0 WHERE name = 'f120'`).run();
    fix.close();
    const good = await cli(['migrate', '-c', w3.config, '--to', url]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stderr, /^ {2}posts: 250 rows/m);
    assert.match(good.stderr, /^ {2}gopher_sizes: 150 rows/m);
  } finally {
    w3.cleanup();
  }
});
