import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, settle, line } from '../helpers/core-fixture.js';
import { Store } from '../../src/store.js';

const accounts = { 'irc.a': 'chat', 'irc.b': 'chat', 'irc.c': 'chat' } as const;
const bridges = { commons: { endpoints: ['irc.a/#c', 'irc.b/#c', 'irc.c/#c'] } };

const bodies = (f: ReturnType<typeof fixture>, endpoint: string) =>
  f.attempts.filter((a) => a.endpoint === endpoint).map((a) => a.post.body);

test('each endpoint gets its posts in order; a slow endpoint does not hold up the others', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  f.deliverers.set('irc.b/#c', async () => {
    await gate;
    return { result: 'delivered' };
  });
  for (let i = 0; i < 50; i++) await f.core.ingest('irc.a', line('#c', 'alice', `line ${i}`));
  await settle(200);
  assert.equal(bodies(f, 'irc.c/#c').length, 50, 'irc.c got everything while irc.b hangs');
  assert.deepEqual(
    bodies(f, 'irc.c/#c'),
    Array.from({ length: 50 }, (_, i) => `line ${i}`),
  );
  assert.equal(bodies(f, 'irc.b/#c').length, 1, 'irc.b has one delivery in flight, not 50');
  release();
  await settle(200);
  assert.deepEqual(
    bodies(f, 'irc.b/#c'),
    Array.from({ length: 50 }, (_, i) => `line ${i}`),
  );
  assert.equal(f.store.listOutbox().length, 0, 'delivered rows leave the outbox');
});

test('a retry blocks only its endpoint, keeps the order, and is tried again after the backoff', async (t) => {
  const f = fixture(accounts, bridges, { retryFirstMs: 1000, retryMaxMs: 8000 });
  t.after(() => f.close());
  let down = true;
  f.deliverers.set('irc.b/#c', () => (down ? { result: 'retry', reason: 'disconnected' } : { result: 'delivered' }));
  await f.core.ingest('irc.a', line('#c', 'alice', 'one'));
  await f.core.ingest('irc.a', line('#c', 'alice', 'two'));
  await settle();
  assert.deepEqual(bodies(f, 'irc.b/#c'), ['one'], 'the second waits behind the first');
  const [row] = f.store.listOutbox({ endpoint: 'irc.b/#c' });
  assert.equal(row!.attempts, 1);
  assert.equal(row!.lastError, 'disconnected');
  assert.ok(
    row!.nextAt - f.clock.now >= 500 && row!.nextAt - f.clock.now <= 1000,
    `backoff between 0.5 s and 1 s, got ${row!.nextAt - f.clock.now}`,
  );
  f.outbox.kick('irc.b/#c');
  await settle();
  assert.deepEqual(bodies(f, 'irc.b/#c'), ['one'], 'not before its time');
  down = false;
  f.clock.now += 1000;
  f.outbox.kick('irc.b/#c');
  await settle();
  assert.deepEqual(bodies(f, 'irc.b/#c'), ['one', 'one', 'two']);
  assert.equal(f.attempts.filter((a) => a.endpoint === 'irc.b/#c')[1]!.to.attempt, 2);
});

test('wake() (a reconnect) retries at once, without waiting out the backoff', async (t) => {
  const f = fixture(accounts, bridges, { retryFirstMs: 60_000 });
  t.after(() => f.close());
  let down = true;
  f.deliverers.set('irc.b/#c', () => (down ? { result: 'retry', reason: 'disconnected' } : { result: 'delivered' }));
  await f.core.ingest('irc.a', line('#c', 'alice', 'one'));
  await settle();
  down = false;
  f.outbox.wake(['irc.b/#c']);
  await settle();
  assert.equal(f.store.listOutbox({ endpoint: 'irc.b/#c' }).length, 0);
});

test('a permanent failure is a dead letter with its reason; the next row goes on', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.deliverers.set('irc.b/#c', (post) =>
    post.body === 'bad'
      ? { result: 'failed', code: 'refused-by-peer', reason: 'channel is invite-only (473)' }
      : { result: 'delivered' },
  );
  const codes: string[] = [];
  f.outbox.on('dead', (_row, _reason, code) => codes.push(code));
  await f.core.ingest('irc.a', line('#c', 'alice', 'bad'));
  await f.core.ingest('irc.a', line('#c', 'alice', 'good'));
  await settle();
  assert.deepEqual(bodies(f, 'irc.b/#c'), ['bad', 'good']);
  assert.deepEqual(codes, ['refused-by-peer'], "the dead letter carries the plugin's code");
  const dead = f.store.listOutbox({ state: 'dead' });
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.endpoint, 'irc.b/#c');
  assert.equal(dead[0]!.lastError, 'channel is invite-only (473)');
  // The operator retries it: it goes through once the cause is fixed.
  f.deliverers.delete('irc.b/#c');
  assert.equal(f.store.requeue(dead[0]!.row), true);
  f.outbox.kick('irc.b/#c');
  await settle();
  assert.equal(f.store.listOutbox({ state: 'dead' }).length, 0);
  assert.deepEqual(bodies(f, 'irc.b/#c'), ['bad', 'good', 'bad']);
});

test('a row older than delivery.giveUpAfter becomes a dead letter saying so', async (t) => {
  const f = fixture(accounts, bridges, { giveUpAfterMs: 3_600_000 });
  t.after(() => f.close());
  f.deliverers.set('irc.b/#c', () => ({ result: 'retry', reason: 'server unreachable' }));
  const codes: string[] = [];
  f.outbox.on('dead', (_row, _reason, code) => codes.push(code));
  await f.core.ingest('irc.a', line('#c', 'alice', 'x'));
  await settle();
  f.clock.now += 3_600_001;
  f.outbox.kick('irc.b/#c');
  await settle();
  const [dead] = f.store.listOutbox({ state: 'dead' });
  assert.match(dead!.lastError!, /^gave up after 1h and 1 attempt; last error: server unreachable$/);
  assert.deepEqual(codes, ['expired']);
});

test('a plugin that throws or hangs does not lose the post: it is retried', async (t) => {
  const f = fixture(accounts, bridges, { timeoutMs: 30 });
  t.after(() => f.close());
  f.deliverers.set('irc.b/#c', () => {
    throw new Error('boom');
  });
  f.deliverers.set('irc.c/#c', () => new Promise(() => undefined));
  await f.core.ingest('irc.a', line('#c', 'alice', 'x'));
  await settle();
  await new Promise((r) => setTimeout(r, 60));
  const rows = Object.fromEntries(f.store.listOutbox().map((r) => [r.endpoint, r]));
  assert.match(rows['irc.b/#c']!.lastError!, /plugin threw: boom/);
  assert.match(rows['irc.c/#c']!.lastError!, /no answer within 30ms/);
  assert.equal(rows['irc.b/#c']!.state, 'pending');
});

test('a native id reported on delivery lands in the id map', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.deliverers.set('irc.b/#c', () => ({ result: 'delivered', nativeId: '42' }));
  const v = await f.core.ingest('irc.a', line('#c', 'alice', 'x', { id: 'n@x' }));
  await settle();
  assert.equal(v.status, 'accepted');
  assert.equal(f.store.postForNative('irc.b', '#c', '42'), 'n@x');
  assert.equal(f.store.nativeForPost('n@x', 'irc.b', '#c'), '42');
});

test('the command shape hands the line over without its prefix', async (t) => {
  const f = fixture(
    { 'irc.a': 'chat', 'mail.l': 'article' },
    { commons: { endpoints: ['irc.a/#c', { key: 'mail.l/c', shape: 'command', prefix: '!post' }] } },
  );
  t.after(() => f.close());
  await f.core.ingest('irc.a', line('#c', 'alice', 'chatter'));
  await f.core.ingest('irc.a', line('#c', 'alice', '!post The meeting is at 8'));
  await settle();
  assert.deepEqual(
    f.attempts.map((a) => [a.endpoint, a.to.shape, a.post.body]),
    [['mail.l/c', 'command', 'The meeting is at 8']],
  );
});

test('what was committed survives a restart and is delivered then, once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-outbox-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store1 = Store.open(dir);
  const f1 = fixture(accounts, bridges, {}, { store: store1 });
  f1.outbox.kick = () => undefined; // "crash" before anything is delivered
  await f1.core.ingest('irc.a', line('#c', 'alice', 'survives', { id: 's@x' }));
  store1.close();
  const f2 = fixture(accounts, bridges, {}, { store: Store.open(dir) });
  t.after(() => f2.close());
  f2.outbox.start();
  await settle();
  assert.deepEqual(f2.attempts.map((a) => [a.endpoint, a.post.id]).sort(), [
    ['irc.b/#c', 's@x'],
    ['irc.c/#c', 's@x'],
  ]);
  assert.equal((await f2.core.ingest('irc.a', line('#c', 'alice', 'survives', { id: 's@x' }))).status, 'duplicate');
});

test('a wake() that arrives while an attempt runs makes its retry immediate (reconnected meanwhile)', async (t) => {
  const f = fixture(accounts, bridges, { retryFirstMs: 60_000 });
  t.after(() => f.close());
  let calls = 0;
  f.deliverers.set('irc.b/#c', async () => {
    if (++calls > 1) return { result: 'delivered' };
    f.outbox.wake(['irc.b/#c']); // the plugin reconnects before this attempt answers
    return { result: 'retry', reason: 'disconnected' };
  });
  await f.core.ingest('irc.a', line('#c', 'alice', 'x'));
  await settle();
  assert.equal(calls, 2);
  assert.equal(f.store.listOutbox({ endpoint: 'irc.b/#c' }).length, 0);
});

test('a retry is tried again by itself once its delay is over, with no other event', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  let calls = 0;
  f.deliverers.set('irc.b/#c', () =>
    ++calls === 1 ? { result: 'retry', reason: 'flood control', delayMs: 30 } : { result: 'delivered' },
  );
  await f.core.ingest('irc.a', line('#c', 'alice', 'x'));
  await settle();
  assert.equal(calls, 1);
  f.clock.now += 30; // the fixture's clock; the timer itself is real
  await new Promise((r) => setTimeout(r, 80));
  await settle();
  assert.equal(calls, 2);
  assert.equal(f.store.listOutbox({ endpoint: 'irc.b/#c' }).length, 0);
});

test('an idle endpoint is handed the row just committed: delivered without reading the outbox back, order kept behind a waiting row', async (t) => {
  const f = fixture(accounts, bridges, { retryFirstMs: 1000, retryMaxMs: 1000 });
  t.after(() => f.close());
  const queries: string[] = [];
  const queue = f.store.queue.bind(f.store);
  f.store.queue = (endpoint, limit, after) => {
    queries.push(endpoint);
    return queue(endpoint, limit, after);
  };
  const readsOfB = () => queries.filter((e) => e === 'irc.b/#c').length;
  await f.core.ingest('irc.a', line('#c', 'alice', 'one'));
  await settle();
  assert.deepEqual(bodies(f, 'irc.b/#c'), ['one']);
  const after1 = readsOfB();
  await f.core.ingest('irc.a', line('#c', 'alice', 'two'));
  await settle();
  assert.deepEqual(bodies(f, 'irc.b/#c'), ['one', 'two']);
  assert.equal(readsOfB(), after1, 'the second row was handed over, not read back');
  // A row that waits (retry) makes the endpoint not empty: the next one is read from the store, behind it.
  let down = true;
  f.deliverers.set('irc.b/#c', () => (down ? { result: 'retry', reason: 'disconnected' } : { result: 'delivered' }));
  await f.core.ingest('irc.a', line('#c', 'alice', 'three'));
  await settle();
  await f.core.ingest('irc.a', line('#c', 'alice', 'four'));
  await settle();
  assert.deepEqual(bodies(f, 'irc.b/#c'), ['one', 'two', 'three'], 'four waits behind three');
  down = false;
  f.clock.now += 1000;
  f.outbox.kick('irc.b/#c');
  await settle();
  assert.deepEqual(bodies(f, 'irc.b/#c'), ['one', 'two', 'three', 'three', 'four']);
  assert.equal(f.store.listOutbox({ endpoint: 'irc.b/#c' }).length, 0);
  // Rows that come by another way (an operator's retry, a restart) are found by a kick without a row.
  const before = readsOfB();
  f.outbox.kick('irc.b/#c');
  await settle();
  assert.ok(readsOfB() > before, 'a kick without a row reads the store');
});
