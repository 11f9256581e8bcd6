import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, line } from '../helpers/core-fixture.js';
import { Removals, listTombstones, tombstoneOf, type RemovedPost } from '../../src/archive/removal.js';
import { withoutText, type LoggedRemoval } from '../../src/archive/removal-log.js';
import { Retention } from '../../src/archive/retention.js';
import type { Post } from '../../src/post.js';

const accounts = { 'irc.a': 'chat', 'mail.l': 'article', 'web.w': 'feed' } as const;
const bridges = { commons: { endpoints: ['irc.a/#commons', 'mail.l/commons', 'web.w/commons'] } };

const mail = (id: string, from: string, body: string) => ({
  target: 'commons',
  id,
  subject: `about ${body}`,
  author: { name: from, address: `${from}@example.org`, via: 'mail' },
  body,
});

const found = (f: ReturnType<typeof fixture>, word: string) =>
  f.store.db.prepare('SELECT count(*) FROM archive_fts WHERE archive_fts MATCH ?').pluck().get(word) as number;

test('remove: in one transaction the post goes, its undelivered rows go, a tombstone stays, accounts are told', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.outbox.kick = () => undefined; // the rows wait undelivered
  assert.equal((await f.core.ingest('mail.l', mail('<spam@x.example>', 'spammer', 'cheapwatches'))).status, 'accepted');
  assert.equal((await f.core.ingest('mail.l', mail('<ok@x.example>', 'alice', 'gardening'))).status, 'accepted');
  assert.equal(f.store.listOutbox().length, 4, 'two rows each (irc and web)');
  assert.equal(found(f, 'cheapwatches'), 1);

  const removals = new Removals(f.store);
  const told: RemovedPost[] = [];
  removals.onRemoved((r) => told.push(...r));
  const r = removals.remove(
    { ids: ['<spam@x.example>'] },
    { reason: 'spam', by: 'admin', cause: 'removed', now: 1000 },
  );
  assert.deepEqual(
    r.removed.map((x) => [x.id, x.bridge, x.dropped]),
    [['spam@x.example', 'commons', 2]],
  );
  assert.equal(f.store.getPost('spam@x.example'), undefined, 'the post is gone');
  assert.ok(f.store.getPost('ok@x.example'), 'the other post stays');
  assert.deepEqual(
    f.store.listOutbox().map((row) => row.postId),
    ['ok@x.example', 'ok@x.example'],
    'only the removed post’s rows are dropped',
  );
  assert.equal(found(f, 'cheapwatches'), 0, 'search no longer finds it');
  assert.equal(found(f, 'gardening'), 1);
  assert.deepEqual(tombstoneOf(f.store, 'spam@x.example'), {
    id: 'spam@x.example',
    bridge: 'commons',
    reason: 'spam',
    by: 'admin',
    at: 1000,
    cause: 'removed',
  });
  assert.equal(told.length, 1);
  assert.equal(told[0]!.post.author.address, 'spammer@example.org', 'listeners get the post as it was');
});

test('a removed id is refused at ingest with code removed, and an insert by any other path is ignored', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  await f.core.ingest('mail.l', mail('<spam@x.example>', 'spammer', 'cheapwatches'));
  new Removals(f.store).remove({ ids: ['spam@x.example'] }, { reason: 'spam', by: 'admin', cause: 'removed', now: 1 });
  const again = await f.core.ingest('irc.a', line('#commons', 'spammer', 'cheapwatches', { id: '<spam@x.example>' }));
  assert.equal(again.status, 'rejected');
  assert.equal((again as { code: string }).code, 'removed');
  assert.match((again as { reason: string }).reason, /spam@x\.example was removed .*spam/);
  const imported: Post = {
    id: 'spam@x.example',
    bridge: 'commons',
    kind: 'message',
    author: { name: 'spammer', via: 'mail' },
    body: 'cheapwatches',
    references: [],
    hops: 0,
    date: new Date(0).toISOString(),
    attachments: [],
  } as unknown as Post;
  assert.equal(f.store.insertPost(imported, 5), undefined, 'an import straight into the store adds nothing');
  assert.equal(f.store.getPost('spam@x.example'), undefined);
});

test('remove --author takes every post of one sender; an unknown id is tombstoned so it never arrives', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  await f.core.ingest('mail.l', mail('<a1@x.example>', 'spammer', 'one'));
  await f.core.ingest('mail.l', mail('<a2@x.example>', 'spammer', 'two'));
  await f.core.ingest('mail.l', mail('<b1@x.example>', 'alice', 'three'));
  const removals = new Removals(f.store);
  const r = removals.remove(
    { author: 'SPAMMER@example.org' },
    { reason: 'spam', by: 'admin', cause: 'removed', now: 2 },
  );
  assert.deepEqual(r.removed.map((x) => x.id).sort(), ['a1@x.example', 'a2@x.example']);
  assert.ok(f.store.getPost('b1@x.example'));
  const pre = removals.remove(
    { ids: ['<later@x.example>', 'a1@x.example'] },
    { reason: 'known spam', by: 'admin', cause: 'removed', now: 3 },
  );
  assert.deepEqual(pre.blocked, ['later@x.example']);
  assert.deepEqual(pre.already, ['a1@x.example']);
  const v = await f.core.ingest('mail.l', mail('<later@x.example>', 'spammer', 'four'));
  assert.equal((v as { code: string }).code, 'removed');
  assert.deepEqual(
    listTombstones(f.store).map((x) => [x.id, x.bridge]),
    [
      ['later@x.example', null],
      ['a1@x.example', 'commons'],
      ['a2@x.example', 'commons'],
    ],
  );
  assert.throws(
    () => removals.remove({ ids: ['b1@x.example'] }, { reason: ' ', by: 'a', cause: 'removed', now: 4 }),
    /reason/,
  );
  assert.ok(f.store.getPost('b1@x.example'), 'no reason, nothing removed');
});

test('retention: a sweep with a fake clock removes what is older than keep, in batches, and a peer cannot bring it back', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const day = 86_400_000;
  const start = f.clock.now;
  for (let i = 0; i < 7; i++) {
    f.clock.now = start + i * day;
    await f.core.ingest('mail.l', mail(`<d${i}@x.example>`, 'alice', `day${i}`));
  }
  const removals = new Removals(f.store);
  let batches = 0;
  const retention = new Retention({
    removals: {
      remove: (target, opts) => {
        batches++;
        return removals.remove(target, opts);
      },
    },
    bridges: () => [{ name: 'commons', keepMs: 3 * day }, { name: 'other' }],
    now: () => f.clock.now,
    batch: 2,
  });
  f.clock.now = start + 6 * day - 1;
  assert.equal(await retention.sweep(), 3, 'posts of days 0, 1, 2 are older than 3 days');
  assert.equal(batches, 2, 'two batches of at most 2');
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((i) => f.store.hasPost(`d${i}@x.example`)),
    [false, false, false, true, true, true, true],
  );
  assert.equal(tombstoneOf(f.store, 'd0@x.example')?.cause, 'retention');
  const back = await f.core.ingest('mail.l', mail('<d0@x.example>', 'alice', 'day0'));
  assert.equal((back as { code: string }).code, 'removed');
  assert.match((back as { reason: string }).reason, /older than the bridge keeps/);
  assert.equal(await retention.sweep(), 0, 'nothing more to do');
});

test('a removal without a daemon is kept for the accounts, and told once at the next start', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  await f.core.ingest('mail.l', mail('<spam@x.example>', 'spammer', 'cheapwatches'));
  const offline = new Removals(f.store, { offline: true });
  const heardOffline: string[] = [];
  offline.onRemoved((r) => heardOffline.push(...r.map((x) => x.id)));
  offline.remove({ ids: ['spam@x.example'] }, { reason: 'spam', by: 'admin', cause: 'removed', now: 1 });
  assert.deepEqual(heardOffline, [], 'nobody runs to hear it');
  assert.equal(f.store.getPost('spam@x.example'), undefined);

  const daemon = new Removals(f.store);
  const told: RemovedPost[] = [];
  daemon.onRemoved((r) => told.push(...r));
  assert.equal(daemon.tellUntold(), 1);
  assert.deepEqual(
    told.map((x) => [x.id, x.reason, x.post.author.address]),
    [['spam@x.example', 'spam', 'spammer@example.org']],
  );
  assert.equal(daemon.tellUntold(), 0, 'told once');
});

test('a removed newest post’s seq is never given again (stream cursors stay true)', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const a = await f.core.ingest('mail.l', mail('<a@x.example>', 'alice', 'one'));
  const b = await f.core.ingest('mail.l', mail('<b@x.example>', 'alice', 'two'));
  assert.equal(a.status, 'accepted');
  assert.equal(b.status, 'accepted');
  const bSeq = (b as { seq: number }).seq;
  new Removals(f.store).remove({ ids: ['b@x.example'] }, { reason: 'x', by: 'a', cause: 'removed', now: 1 });
  const c = await f.core.ingest('mail.l', mail('<c@x.example>', 'alice', 'three'));
  assert.equal((c as { seq: number }).seq, bSeq + 1);
});

/** The removal log of a PostgreSQL database shared by "processes" (Removals on one store), kept in memory. */
function sharedLog() {
  const rows: LoggedRemoval[] = [];
  return {
    rows,
    kept: true,
    write(origin: string, removed: readonly RemovedPost[]) {
      if (removed.length > 0) rows.push({ n: rows.length + 1, origin, removed: removed.map(withoutText) });
    },
    after: (n: number, limit: number) => rows.filter((r) => r.n > n).slice(0, limit),
    newest: () => rows.length,
    prune: () => 0,
  };
}

test('several processes: a removal reaches the views of the others (from the log, without its text), the once-listeners only in its own', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  for (const [id, body] of [
    ['<a@x.example>', 'one'],
    ['<b@x.example>', 'two'],
    ['<c@x.example>', 'three'],
  ] as const)
    await f.core.ingest('mail.l', mail(id, 'alice', body));
  const log = sharedLog();
  const claimed: string[] = [];
  const proc = (name: string) => {
    const r = new Removals(f.store, { log, origin: name, onClaimed: (x) => claimed.push(`${name}:${x[0]!.id}`) });
    const views: RemovedPost[] = [];
    const once: string[] = [];
    r.onRemoved((x) => views.push(...x), { fromOtherProcesses: true });
    r.onRemoved((x) => once.push(...x.map((p) => p.id)));
    r.startFeed();
    return { r, views, once };
  };
  const A = proc('A');
  const B = proc('B');
  const C = proc('C');
  A.r.remove({ ids: ['a@x.example'] }, { reason: 'spam', by: 'admin', cause: 'removed', now: 1 });
  assert.deepEqual(A.once, ['a@x.example'], "the removing process's once-listener hears it");
  assert.equal(A.views[0]!.post.body, 'one', 'its views get the post as it was');
  for (const P of [A, B, C]) P.r.catchUp();
  assert.deepEqual(A.views.length, 1, 'A does not hear its own removal again from the log');
  for (const P of [B, C]) {
    assert.deepEqual(
      P.views.map((x) => [x.id, x.reason, x.post.seq, x.post.body, x.post.subject]),
      [['a@x.example', 'spam', A.views[0]!.post.seq, '', undefined]],
      'the other processes’ views hear it, with the seq and reason but not the text',
    );
    assert.deepEqual(P.once, [], 'their once-listeners (a news cancel) do not');
  }

  // Offline (peerpost remove with no daemon to ask): each running process's views hear it; one claims it for the node.
  new Removals(f.store, { offline: true, log }).remove(
    { ids: ['b@x.example'] },
    { reason: 'asked', by: 'admin', cause: 'removed', now: 2 },
  );
  for (const P of [B, A, C]) P.r.catchUp();
  for (const P of [A, B, C]) assert.equal(P.views.at(-1)!.id, 'b@x.example');
  assert.deepEqual(claimed, ['B:b@x.example'], 'the first to read it claims it, once');
  assert.deepEqual(B.once, ['b@x.example']);
  assert.deepEqual([...A.once, ...C.once], ['a@x.example']);
  const D = proc('D');
  assert.equal(D.r.tellUntold(), 0, 'nothing left for the next start');
  D.r.catchUp();
  assert.deepEqual(D.views, [], 'a process started later reads the log from its start');

  // The rows are read in batches, each once, however many there are.
  for (let i = 0; i < 250; i++)
    log.rows.push({ n: log.rows.length + 1, origin: 'A', removed: [withoutText(A.views[0]!)] });
  B.r.nudge();
  await new Promise((r) => setImmediate(r));
  assert.equal(B.views.length, 2 + 250, 'every row read once');
  assert.equal(
    log.rows.some((r) => r.removed.some((p) => p.post.body !== '')),
    false,
    'the log holds no text',
  );
});

test('on SQLite (one process) there is no removal log: every listener hears the removal once', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  await f.core.ingest('mail.l', mail('<a@x.example>', 'alice', 'one'));
  const r = new Removals(f.store);
  const heard: string[] = [];
  r.onRemoved((x) => heard.push(`view ${x[0]!.id}`), { fromOtherProcesses: true });
  r.onRemoved((x) => heard.push(`once ${x[0]!.id}`));
  r.startFeed();
  assert.equal(r.log.kept, false);
  r.remove({ ids: ['a@x.example'] }, { reason: 'x', by: 'a', cause: 'removed', now: 1 });
  r.catchUp();
  assert.deepEqual(heard, ['once a@x.example', 'view a@x.example']);
  assert.equal(f.store.db.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'pp_removals'`).pluck().get(), 0);
});
