// The plugins on PostgreSQL (issue 17): every plugin's migrations and statements, translated from their SQLite SQL
// (src/store/pg/dialect.ts), run on a real PostgreSQL 15 through PgDatabase's synchronous bridge; the members' and
// the news server's real operations give on PostgreSQL what they give on SQLite; a PostgreSQL restarted under use
// costs a quick temporary error, not a hang; a statement past its time fails as temporary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { PluginContext, PluginStore, Post, StoredPost } from '../../src/plugin.js';
import { isTemporaryPgError, PgDatabase } from '../../src/store/pg/database.js';
import { memoryPluginStore } from '../helpers/memory-store.js';
import { openPg, pgPluginStore, startPostgres, type PgPeer } from '../helpers/pg.js';
import { ListStore } from '../../plugins/mail/subscribe.js';
import { MemberStore } from '../../plugins/mail/members.js';
import { ModerationStore } from '../../plugins/mail/bans.js';
import { AttachmentStore } from '../../plugins/mail/attachments.js';
import { ProblemLog } from '../../plugins/mail/problems.js';
import { Digests } from '../../plugins/mail/digest.js';
import { OUTBOUND_MIGRATIONS, outboundStatements, queueSummary } from '../../plugins/mail/outbound/state.js';
import { OwnerAuth } from '../../plugins/web/owners.js';
import { startLocal } from '../../plugins/nntp/local.js';
import { listenAccount, type ListenConfig } from '../../plugins/nntp/schema.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const log = pino({ level: 'silent' });
let pg: PgPeer;
let db: PgDatabase;

before(async () => {
  pg = await startPostgres();
  db = openPg(pg);
});
after(() => {
  db?.close();
  pg?.destroy();
});

/** Every state class of the plugins that has tables of its own, on one plugin store. */
function constructAll(store: PluginStore) {
  const lists = new ListStore(store, 'mail.lists');
  const members = new MemberStore(store, 'mail.lists');
  const moderation = new ModerationStore(store, 'mail.lists');
  const attachments = new AttachmentStore(store);
  const problems = new ProblemLog(store, 'mail.lists');
  const digests = new Digests({
    account: 'mail.lists',
    store,
    posts: { get: () => undefined },
    members,
    log,
    hostname: 'news.example.org',
    options: () => undefined,
    words: () => undefined,
  } as unknown as ConstructorParameters<typeof Digests>[0]);
  store.migrate(OUTBOUND_MIGRATIONS, 'outbound');
  const outbound = outboundStatements(store);
  return { lists, members, moderation, attachments, problems, digests, outbound };
}

/** The `.migrate(` calls in the plugins' sources: each must be one of the parts applied here. */
function migrateCallsInPlugins(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts'))
        for (const _ of readFileSync(p, 'utf8').matchAll(/\.migrate\(/g)) found.push(p.slice(ROOT.length));
    }
  };
  walk(join(ROOT, 'plugins'));
  return found;
}

test('every plugin migration applies on PostgreSQL, and every statement of the plugins prepares there', async () => {
  const mail = pgPluginStore(db, 'mail.lists', 'mail');
  const all = constructAll(mail);
  assert.ok(all.lists && all.outbound.due);
  const web = pgPluginStore(db, 'web.site', 'web');
  new OwnerAuth(web, Buffer.alloc(32, 1));
  const nntp = await runNntp(pgPluginStore(db, 'nntp.local', 'nntp'), []);
  nntp.close();
  // The parts applied: one per .migrate( call in the plugins (the nntp server's under plain "plugin:nntp").
  const parts = new Set([...mail.scopes, ...web.scopes, 'plugin:nntp']);
  assert.deepEqual([...parts].sort(), [
    'plugin:mail:attachments',
    'plugin:mail:digests',
    'plugin:mail:lists',
    'plugin:mail:members',
    'plugin:mail:moderation',
    'plugin:mail:outbound',
    'plugin:mail:problems',
    'plugin:nntp',
    'plugin:web:owners',
  ]);
  assert.equal(
    migrateCallsInPlugins().length,
    parts.size,
    `a plugin migrates a part this test does not construct: ${migrateCallsInPlugins().join(', ')}`,
  );
  // The tables they made, with SQLite's 64-bit INTEGER as BIGINT and BLOB as BYTEA.
  const types = db.query(
    `SELECT table_name || '.' || column_name AS c, data_type AS t FROM information_schema.columns
     WHERE table_schema = current_schema() AND (table_name LIKE 'mail\\_%' OR table_name LIKE 'nntp\\_%' OR table_name LIKE 'web\\_%')`,
  ) as { c: string; t: string }[];
  const typeOf = new Map(types.map((r) => [r.c, r.t]));
  assert.equal(typeOf.get('nntp_articles.added'), 'bigint');
  assert.equal(typeOf.get('mail_out_queue.raw'), 'bytea');
  assert.equal(typeOf.get('mail_out_queue.body'), 'bigint');
  assert.ok(![...typeOf.values()].includes('integer'), 'no 32-bit column');
  // sqlite_master, as the CLI's queue summary asks it.
  assert.deepEqual(queueSummary(mail), []);
  // Applying them again changes nothing (each is applied once).
  constructAll(mail);
});

test("the mail lists' and members' operations give on PostgreSQL what they give on SQLite", () => {
  db.exec(
    'DELETE FROM mail_subscribers; DELETE FROM mail_member_settings; DELETE FROM mail_digest_last; DELETE FROM mail_held',
  );
  const NOW = Date.UTC(2026, 11, 1, 10);
  const run = (store: PluginStore) => {
    const { lists, members, moderation, attachments, outbound } = constructAll(store);
    const out: unknown[] = [];
    for (const a of [
      'each@example.org',
      'digest@example.org',
      'paused@example.org',
      'me@example.org',
      'gone@example.org',
    ])
      out.push(lists.add('commons', a, a.split('@')[0]!, NOW));
    out.push(lists.add('commons', 'each@example.org', 'again', NOW));
    members.set('commons', 'digest@example.org', { mode: 'digest' }, NOW);
    members.set('commons', 'paused@example.org', { mode: 'nomail', nomailUntil: '2026-12-03' }, NOW);
    members.set('commons', 'me@example.org', { ownPosts: false }, NOW);
    members.set('commons', 'gone@example.org', { mode: 'digest', digestFormat: 'plain' }, NOW);
    members.set('commons', 'digest@example.org', { mode: 'each' }, NOW + 1); // leaves digest mode: one last digest
    out.push(lists.remove('commons', 'gone@example.org')); // the triggers drop its settings
    out.push(members.eachRecipients('commons', 'me@example.org', NOW));
    out.push(members.digestRecipients('commons', 'mime'), members.digestRecipients('commons', 'plain'));
    out.push(members.get('commons', 'gone@example.org', NOW), members.get('commons', 'paused@example.org', NOW));
    out.push(members.wake(Date.UTC(2026, 11, 3, 1)), members.get('commons', 'paused@example.org', NOW));
    out.push(lists.members('commons'));
    const held = lists.hold(
      'commons',
      { sender: 'x@example.org', subject: 'held', reason: 'not a member', messageId: '<h@x>' },
      Buffer.from('raw mail\r\n'),
      NOW,
    );
    out.push(held, lists.held(), lists.heldOne(held));
    out.push(
      moderation.ban('commons', '*@spam.example', 'owner@example.org', NOW),
      moderation.ban('commons', '*@spam.example', 'owner@example.org', NOW),
    );
    attachments.put(
      '<p1@x>',
      [{ n: 0, filename: 'a.txt', contentType: 'text/plain', content: Buffer.from([0, 1, 2, 255]) }],
      NOW,
    );
    out.push(attachments.file('<p1@x>', 0));
    const q = outbound.enqueue.run(
      'robot',
      'commons',
      'a@example.org',
      '["b@example.org"]',
      Buffer.from('mail'),
      NOW,
      NOW,
    );
    const body = outbound.insertBody.run(Buffer.from('shared body'), NOW);
    const shared = outbound.enqueueShared.run(
      'digest',
      'commons',
      'a@example.org',
      '[]',
      body.lastInsertRowid,
      NOW,
      NOW + 5,
    );
    out.push(q.changes, shared.changes, Number(shared.lastInsertRowid) - Number(q.lastInsertRowid));
    out.push(outbound.due.all(NOW + 10, 10).map((r) => ({ ...(r as object), id: undefined })));
    outbound.insertDelivery.run(7, '<p1@x>', 'commons', 2, NOW);
    outbound.doneDelivery.run(NOW + 1, 1, 7);
    outbound.insertDelivery.run(7, '<p2@x>', 'commons', 3, NOW + 2); // OR REPLACE: done_at and bounced back to their defaults
    out.push(outbound.delivery.get(7), queueSummary(store));
    return out;
  };
  const onSqlite = run(memoryPluginStore('mail', 'mail.lists'));
  const onPg = run(pgPluginStore(db, 'mail.lists', 'mail'));
  assert.deepEqual(onPg, onSqlite);
  if (process.env.PG_TEST_SHOW) console.log(JSON.stringify(onPg, null, 1));
});

const post = (n: number, group: string): Post => ({
  id: `n${n}@example.org`,
  bridge: 'commons',
  origin: { account: 'cli', target: group },
  author: { name: 'Alice Example', address: 'alice@example.org', via: 'mail' },
  subject: `post ${n}`,
  body: `Post number ${n}.\n`,
  kind: 'message',
  references: n > 1 ? ['n1@example.org'] : [],
  hops: 0,
  date: `2026-12-01T10:0${n}:00.000Z`,
  attachments: [],
});

/** One NNTP exchange: each command and the lines of its answer (multi-line answers to their dot). */
async function nntpTalk(port: number, commands: string[]): Promise<string[]> {
  const sock = connect(port, '127.0.0.1');
  sock.setEncoding('utf8');
  let buf = '';
  const waiters: (() => void)[] = [];
  sock.on('data', (d: string) => {
    buf += d;
    waiters.splice(0).forEach((w) => w());
  });
  const line = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 2);
        return l;
      }
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const out = [await line()];
  for (const c of commands) {
    sock.write(`${c}\r\n`);
    const first = await line();
    out.push(`${c} -> ${first}`);
    if (
      /^(211 .*list follows|224|215|230|231|220|221|222|101)/i.test(first) ||
      (c.startsWith('LISTGROUP') && first.startsWith('211'))
    )
      for (let l = await line(); l !== '.'; l = await line()) out.push(`  ${l}`);
  }
  sock.end('QUIT\r\n');
  return out.slice(1);
}

/** The built-in news server on this plugin store: `posts` delivered to it (numbered), then read back over NNTP. */
async function runNntp(store: PluginStore, posts: Post[]): Promise<{ transcript: string[]; close: () => void }> {
  const closers: (() => unknown)[] = [];
  const servers: import('node:net').Server[] = [];
  const known = new Map(posts.map((p) => [p.id, { ...p, seq: 0, receivedAt: 0 } as unknown as StoredPost]));
  const config = listenAccount.parse({ listen: '127.0.0.1:1119', posting: { allow: 'none' } }) as ListenConfig;
  const ctx = {
    account: 'nntp.local',
    protocol: 'nntp',
    instance: 'nntp.local',
    config,
    node: { hostname: 'news.example.org', version: 'test' },
    log,
    signal: new AbortController().signal,
    store,
    posts: { get: (id: string) => known.get(id), latest: () => [], removed: () => undefined },
    endpoints: () => [
      {
        key: 'nntp.local/local.commons',
        target: 'local.commons',
        bridge: 'commons',
        direction: 'inout',
        options: {},
        description: 'the commons',
      },
    ],
    ingest: () => Promise.reject(new Error('not in this test')),
    setState: () => {},
    onClose: (fn: () => unknown) => closers.push(fn),
    onPost: () => () => {},
    onRemoved: () => () => {},
    listen: (server: import('node:net').Server) =>
      new Promise((resolve) => {
        servers.push(server);
        server.listen(0, '127.0.0.1', () => resolve(server.address()));
      }),
    storeWritable: () => true,
    service: () => undefined,
  } as unknown as PluginContext<ListenConfig>;
  const handle = await startLocal(ctx);
  const numbers: unknown[] = [];
  for (const p of posts) numbers.push(await handle.deliver!(p, { target: 'local.commons' } as never));
  if (posts.length) numbers.push(await handle.deliver!(posts[0]!, { target: 'local.commons' } as never)); // again: the same number
  const port = (servers[0]!.address() as { port: number }).port;
  const transcript = posts.length
    ? [
        ...numbers.map((n) => JSON.stringify(n)),
        ...(await nntpTalk(port, [
          'GROUP local.commons',
          'LISTGROUP local.commons',
          'OVER 1-',
          'ARTICLE 2',
          'STAT <n3@example.org>',
        ])),
      ]
    : [];
  return {
    transcript,
    close: () => {
      closers.forEach((f) => f());
      servers.forEach((s) => s.close());
    },
  };
}

test("the news server's article store numbers and reads back on PostgreSQL as on SQLite", async () => {
  const posts = [1, 2, 3].map((n) => post(n, 'local.commons'));
  const onSqlite = await runNntp(memoryPluginStore('nntp', 'nntp.local'), posts);
  onSqlite.close();
  const onPg = await runNntp(pgPluginStore(db, 'nntp.local', 'nntp'), posts);
  onPg.close();
  assert.ok(
    onPg.transcript.some((l) => l.startsWith('GROUP local.commons -> 211 3 1 3 local.commons')),
    onPg.transcript.join('\n'),
  );
  assert.deepEqual(onPg.transcript, onSqlite.transcript);
  if (process.env.PG_TEST_SHOW) console.log(onPg.transcript.join('\n'));
  // Numbered rows as PostgreSQL holds them: the ms timestamp needs the 64 bits.
  const rows = db.query('SELECT number, added FROM nntp_articles ORDER BY number') as {
    number: number;
    added: number;
  }[];
  assert.deepEqual(
    rows.map((r) => r.number),
    [1, 2, 3],
  );
  assert.ok(rows.every((r) => r.added > 2 ** 32));
});

test('PostgreSQL restarted during use: a call in the gap fails at once with a temporary error; after it, calls work', () => {
  const d = openPg(pg, { queryTimeoutMs: 2000 });
  try {
    const store = pgPluginStore(d, 'mail.lists', 'mail');
    const lists = new ListStore(store, 'mail.lists');
    assert.equal(lists.add('restart', 'before@example.org', '', 1), true);
    pg.stop();
    for (const attempt of [1, 2]) {
      const t = performance.now();
      assert.throws(
        () => lists.add('restart', `gap${attempt}@example.org`, '', 2),
        (e: Error & { code?: string }) => {
          assert.ok(isTemporaryPgError(e), `temporary: ${e.code} ${e.message}`);
          assert.match(e.message, /cannot be reached/);
          return true;
        },
      );
      assert.ok(performance.now() - t < 1000, `failed quickly (${(performance.now() - t).toFixed(0)} ms), not a hang`);
    }
    // A transaction whose connection is lost fails as a whole and leaves nothing behind.
    const both = () =>
      store.transaction(
        () => (lists.add('restart', 'tx1@example.org', '', 3), lists.add('restart', 'tx2@example.org', '', 3)),
      );
    assert.throws(both, (e: Error) => isTemporaryPgError(e));
    pg.start();
    assert.equal(lists.add('restart', 'after@example.org', '', 4), true);
    both();
    // The connection lost in the middle of a transaction, PostgreSQL back before its next statement: that statement
    // must not run outside the transaction (on a new connection); the transaction fails whole, temporary.
    assert.throws(
      () =>
        store.transaction(() => {
          lists.add('restart', 'mid1@example.org', '', 5);
          pg.stop();
          pg.start();
          lists.add('restart', 'mid2@example.org', '', 5);
        }),
      (e: Error) => isTemporaryPgError(e),
    );
    assert.deepEqual(
      lists.members('restart').map((m) => m.address),
      ['after@example.org', 'before@example.org', 'tx1@example.org', 'tx2@example.org'],
    );
  } finally {
    d.close();
  }
});

test("the connection lost inside a transaction, its ROLLBACK racing the socket's end: the next statement outside a transaction connects again and runs", () => {
  // PostgreSQL ends the backend (as a restart does) during a transaction's statement; the transaction rolls back at
  // once, so its ROLLBACK may reach the worker before or after the socket's end. Either way the transaction is over:
  // a statement after it must not be refused as "lost inside a transaction" (it was, for good, until some later
  // transaction failed: a daemon whose writes run outside transactions stayed refused).
  const d = openPg(pg, { queryTimeoutMs: 2000 });
  const other = openPg(pg);
  try {
    const one = d.prepare('SELECT 1 AS x').pluck();
    const pid = d.prepare('SELECT pg_backend_pid() AS p').pluck();
    for (let round = 0; round < 25; round++) {
      const backend = pid.get() as number;
      assert.throws(
        () =>
          d.transaction(() => {
            one.get();
            if (round % 2) other.query('SELECT pg_terminate_backend($1::int)', [backend]);
            else d.query('SELECT pg_terminate_backend(pg_backend_pid())');
            one.get();
          })(),
        (e: Error) => isTemporaryPgError(e),
      );
      let last: unknown;
      let ok = false;
      for (let attempt = 0; attempt < 3 && !ok; attempt++)
        try {
          ok = one.get() === 1;
        } catch (err) {
          last = err;
        }
      assert.ok(ok, `round ${round}: a statement after the rolled-back transaction ran (${String(last)})`);
    }
  } finally {
    d.close();
    other.close();
  }
});

test('a statement past queryTimeoutMs fails as temporary and the connection goes on; a silent server is given up on too', () => {
  const d = openPg(pg, { queryTimeoutMs: 500 });
  try {
    const slow = d.prepare('SELECT count(*) FROM pg_sleep(?)').pluck();
    let t = performance.now();
    assert.throws(
      () => slow.get(3),
      (e: Error & { code?: string }) => e.code === 'PG_TIMEOUT' && isTemporaryPgError(e),
    );
    assert.ok(performance.now() - t < 1500, `within its bound: ${(performance.now() - t).toFixed(0)} ms`);
    assert.equal(slow.get(0), 1);
    // The server process stops answering (SIGSTOP): statement_timeout cannot fire; the worker's own bound does.
    const backend = d.query('SELECT pg_backend_pid() AS pid')[0] as { pid: number };
    process.kill(backend.pid, 'SIGSTOP');
    try {
      t = performance.now();
      assert.throws(
        () => slow.get(0),
        (e: Error & { code?: string }) => e.code === 'PG_TIMEOUT' && isTemporaryPgError(e),
      );
      assert.ok(performance.now() - t < 4000, `given up within its bound: ${(performance.now() - t).toFixed(0)} ms`);
    } finally {
      process.kill(backend.pid, 'SIGCONT');
    }
    assert.equal(slow.get(0), 1, 'a new connection');
    assert.notEqual((d.query('SELECT pg_backend_pid() AS pid')[0] as { pid: number }).pid, backend.pid);
  } finally {
    d.close();
  }
});

test('connecting to a server that never answers fails within connectTimeoutMs, saying where and what to do', async () => {
  const { createServer } = await import('node:net');
  const held: import('node:net').Socket[] = [];
  const silent = createServer((s) => held.push(s)); // accepts, never speaks
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  try {
    const t = performance.now();
    assert.throws(
      () => new PgDatabase(`postgres://pp@127.0.0.1:${port}/pp`, { connectTimeoutMs: 500 }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'PG_UNAVAILABLE');
        assert.ok(isTemporaryPgError(e));
        assert.match(
          e.message,
          new RegExp(
            `^cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}, database pp as user pp: .*pg_isready -h 127\\.0\\.0\\.1 -p ${port}`,
          ),
        );
        return true;
      },
    );
    assert.ok(performance.now() - t < 2500, `within its bound: ${(performance.now() - t).toFixed(0)} ms`);
  } finally {
    held.forEach((s) => s.destroy());
    silent.close();
  }
});

test("PgDatabase keeps better-sqlite3's contract: prepare-time errors, parameters, codes, nested transactions, types", () => {
  db.exec(`DROP TABLE IF EXISTS mail_contract;
           CREATE TABLE mail_contract (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, k TEXT UNIQUE, at BIGINT, b BYTEA)`);
  // Bad SQL fails when prepared, as SQLite's prepare does; a name PostgreSQL does not know too.
  assert.throws(
    () => db.prepare('SELEC 1'),
    (e: Error & { code?: string }) => e.code === 'PG_SQL' && /syntax error/.test(e.message),
  );
  assert.throws(
    () => db.prepare('SELECT nope FROM mail_contract'),
    (e: Error & { code?: string }) => e.code === 'PG_SQL',
  );
  const ins = db.prepare('INSERT INTO mail_contract (k, at, b) VALUES (@k, @at, @b)');
  assert.deepEqual(ins.run({ k: 'a', at: 2 ** 41, b: Buffer.from([0, 255]) }), { changes: 1, lastInsertRowid: 1 });
  assert.deepEqual(ins.run({ k: 'b', at: undefined, b: null }), { changes: 1, lastInsertRowid: 2 }); // undefined binds NULL, as there
  assert.throws(() => ins.run({ k: 'c', at: 1 }), /Missing named parameter "b"/);
  assert.throws(() => ins.run({ k: 'c', at: true, b: null }), TypeError);
  const get = db.prepare('SELECT id, k, at, b FROM mail_contract WHERE k = ?');
  assert.throws(() => get.get('a', 'b'), /Too many parameter values/);
  assert.throws(() => get.get(), /Too few parameter values/);
  assert.deepEqual(get.get('a'), { id: 1, k: 'a', at: 2 ** 41, b: Buffer.from([0, 255]) });
  assert.equal(get.get('zz'), undefined);
  assert.throws(() => ins.get({ k: 'x', at: 1, b: null }), /does not return data/);
  assert.throws(
    () => ins.run({ k: 'a', at: 1, b: null }),
    (e: Error & { code?: string; sqlstate?: string }) => e.code === 'PG_CONSTRAINT_UNIQUE' && e.sqlstate === '23505',
  );
  // Nested transactions: the inner one's failure rolls back to its savepoint; the outer one commits the rest.
  const add = db.prepare('INSERT INTO mail_contract (k) VALUES (?)');
  const inner = db.transaction((k: string) => {
    add.run(k);
    throw new Error('inner fails');
  });
  const outer = db.transaction(() => {
    add.run('outer1');
    assert.throws(() => inner('inner'), /inner fails/);
    add.run('outer2');
    return 'done';
  });
  assert.equal(outer(), 'done');
  const keys = db.prepare('SELECT k FROM mail_contract ORDER BY id').pluck();
  assert.deepEqual(keys.all(), ['a', 'b', 'outer1', 'outer2']);
  // A whole transaction that throws leaves nothing.
  assert.throws(
    () => db.transaction(() => (add.run('gone'), add.run('a')))(),
    (e: Error & { code?: string }) => e.code === 'PG_CONSTRAINT_UNIQUE',
  );
  assert.deepEqual(keys.all(), ['a', 'b', 'outer1', 'outer2']);
  assert.equal(db.inTransaction, false);
  assert.equal(db.tableExists('mail_contract'), true);
  assert.equal(db.tableExists('mail_nothing'), false);
});
