/**
 * The outbox's delivery window (AccountHandle.deliveryWindow): a few rows of one endpoint in flight at once,
 * the next started when the previous says it is written, outcomes applied strictly in row order.
 * A fake deliver (no sockets): each try calls to.written() and then waits for the test to answer it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, settle, line, type Fixture } from '../helpers/core-fixture.js';
import type { DeliveryTarget, Outcome, Post } from '../../src/plugin.js';

const accounts = { 'irc.a': 'chat', 'irc.b': 'chat' } as const;
const bridges = { commons: { endpoints: ['irc.a/#c', 'irc.b/#c'] } };
const B = 'irc.b/#c';

/** A deliver for B that says "written" at once (unless told not to) and answers when the test says. */
function held(f: Fixture, opts: { written?: (body: string) => boolean } = {}) {
  const open = new Map<string, { to: DeliveryTarget; answer: (o: Outcome) => void }>();
  const started: string[] = [];
  f.deliverers.set(
    B,
    (post: Post, to: DeliveryTarget) =>
      new Promise<Outcome>((answer) => {
        started.push(post.body);
        open.set(post.body, { to, answer });
        if (opts.written?.(post.body) ?? true) to.written?.();
      }),
  );
  const answer = (body: string, o: Outcome) => {
    const h = open.get(body);
    assert.ok(h, `${body} is in flight`);
    open.delete(body);
    h.answer(o);
  };
  return { open, started, answer };
}

const pending = (f: Fixture) => f.store.listOutbox({ endpoint: B, state: 'pending' }).map((r) => r.postId);
const bodyOf = (f: Fixture) => new Map(f.store.listOutbox({ endpoint: B }).map((r) => [r.postId, r]));

async function ingest(f: Fixture, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = await f.core.ingest('irc.a', line('#c', 'alice', `line ${i}`));
    assert.equal(v.status, 'accepted');
    if (v.status === 'accepted') ids.push(v.id);
  }
  return ids;
}

test('window 3: three rows in flight at once, started in row order, never a fourth', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.windows.set(B, 3);
  const h = held(f);
  await ingest(f, 10);
  await settle();
  assert.deepEqual(h.started, ['line 0', 'line 1', 'line 2']);
  h.answer('line 0', { result: 'delivered' });
  await settle();
  assert.deepEqual(h.started, ['line 0', 'line 1', 'line 2', 'line 3'], 'one slot freed, one row started');
  for (let i = 1; i < 10; i++) {
    h.answer(`line ${i}`, { result: 'delivered' });
    await settle();
  }
  assert.deepEqual(
    h.started,
    Array.from({ length: 10 }, (_, i) => `line ${i}`),
  );
  assert.equal(f.store.listOutbox({ endpoint: B }).length, 0, 'every row delivered');
});

test('outcomes are applied in row order: a later row confirmed first stays pending until the earlier one is', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.windows.set(B, 4);
  const delivered: string[] = [];
  f.outbox.on('delivered', (row) => {
    if (row.endpoint === B) delivered.push(row.postId);
  });
  const h = held(f);
  const ids = await ingest(f, 3);
  await settle();
  h.answer('line 2', { result: 'delivered' });
  h.answer('line 1', { result: 'delivered' });
  await settle();
  assert.deepEqual(pending(f), ids, 'nothing is recorded while the first row is unanswered');
  assert.deepEqual(delivered, []);
  h.answer('line 0', { result: 'delivered' });
  await settle();
  assert.deepEqual(delivered, ids, 'recorded in row order');
  assert.deepEqual(pending(f), []);
});

test('a plugin that never calls written() gets one row at a time, whatever the window', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.windows.set(B, 8);
  const h = held(f, { written: () => false });
  await ingest(f, 3);
  await settle();
  assert.deepEqual(h.started, ['line 0']);
  h.answer('line 0', { result: 'delivered' });
  await settle();
  assert.deepEqual(h.started, ['line 0', 'line 1']);
});

test('a row cut short before it is written holds back the next: nothing after it starts', async (t) => {
  const f = fixture(accounts, bridges, { retryFirstMs: 60_000 });
  t.after(() => f.close());
  f.windows.set(B, 4);
  // line 1 is not written (flood control stops it part way): the outbox must not start line 2 behind it.
  const h = held(f, { written: (b) => b !== 'line 1' });
  const ids = await ingest(f, 4);
  await settle();
  assert.deepEqual(h.started, ['line 0', 'line 1']);
  h.answer('line 1', { result: 'retry', reason: 'flood control' });
  await settle();
  assert.deepEqual(h.started, ['line 0', 'line 1'], 'line 2 waits behind the row that was not written');
  assert.equal(bodyOf(f).get(ids[1]!)!.attempts, 0, 'not applied before line 0 is');
  h.answer('line 0', { result: 'delivered' });
  await settle();
  assert.deepEqual(pending(f), ids.slice(1));
  const r1 = bodyOf(f).get(ids[1]!)!;
  assert.equal(r1.attempts, 1);
  assert.equal(r1.lastError, 'flood control');
  assert.deepEqual(h.started, ['line 0', 'line 1'], 'the endpoint waits for the retried row');
});

test('behind a retry: later rows in flight are waited for; a retry stays pending, a delivered one counts (the documented choice)', async (t) => {
  const f = fixture(accounts, bridges, { retryFirstMs: 60_000 });
  t.after(() => f.close());
  f.windows.set(B, 4);
  const h = held(f);
  const ids = await ingest(f, 6);
  await settle();
  assert.deepEqual(h.started, ['line 0', 'line 1', 'line 2', 'line 3']);
  h.answer('line 0', { result: 'delivered' });
  await settle();
  assert.deepEqual(h.started.length, 5, 'line 4 started in the freed slot');
  // line 1 refused by the server; line 2 refused too; line 3 confirmed (the server took it); line 4 lost.
  h.answer('line 1', { result: 'retry', reason: '404 cannot send to channel' });
  await settle();
  assert.deepEqual(pending(f), ids.slice(1), 'nothing recorded while the rows behind the retry are in flight');
  h.answer('line 2', { result: 'retry', reason: '404 cannot send to channel' });
  h.answer('line 3', { result: 'delivered' });
  h.answer('line 4', { result: 'retry', reason: 'disconnected' });
  await settle();
  const rows = bodyOf(f);
  assert.deepEqual(
    pending(f),
    [ids[1], ids[2], ids[4], ids[5]],
    'line 3 counts as delivered; the others wait, in order',
  );
  assert.equal(rows.get(ids[1]!)!.lastError, '404 cannot send to channel');
  assert.equal(rows.get(ids[2]!)!.lastError, '404 cannot send to channel');
  assert.equal(rows.get(ids[4]!)!.lastError, 'disconnected');
  assert.equal(rows.get(ids[5]!)!.attempts, 0, 'line 5 never started');
  assert.equal(rows.get(ids[2]!)!.nextAt, rows.get(ids[1]!)!.nextAt, 'the rows behind are due with the retried row');
  assert.equal(h.started.length, 5, 'no new row starts while the endpoint waits');
  // The retry's time comes: the waiting rows go again from the first, in order.
  f.clock.now = rows.get(ids[1]!)!.nextAt;
  f.outbox.kick(B);
  await settle();
  assert.deepEqual(h.started.slice(5), ['line 1', 'line 2', 'line 4', 'line 5']);
  for (const b of ['line 1', 'line 2', 'line 4', 'line 5']) h.answer(b, { result: 'delivered' });
  await settle();
  assert.deepEqual(pending(f), []);
});

test('a failure in the window is a dead letter and the endpoint goes on', async (t) => {
  const f = fixture(accounts, bridges, { retryFirstMs: 60_000 });
  t.after(() => f.close());
  f.windows.set(B, 3);
  const h = held(f);
  const ids = await ingest(f, 4);
  await settle();
  h.answer('line 0', { result: 'failed', code: 'bad-target', reason: 'not a channel' });
  h.answer('line 1', { result: 'delivered' });
  await settle();
  assert.deepEqual(
    f.store.listOutbox({ endpoint: B, state: 'dead' }).map((r) => [r.postId, r.lastError]),
    [[ids[0], 'not a channel']],
    'line 0 is a dead letter',
  );
  assert.deepEqual(pending(f), [ids[2], ids[3]], 'line 1 delivered; line 3 started in the freed slot');
  assert.deepEqual(h.started, ['line 0', 'line 1', 'line 2', 'line 3']);
  h.answer('line 2', { result: 'delivered' });
  h.answer('line 3', { result: 'delivered' });
  await settle();
  assert.deepEqual(pending(f), []);
});

test('stop() waits for the rows in flight and records what they answered', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.windows.set(B, 3);
  const h = held(f);
  const ids = await ingest(f, 5);
  await settle();
  assert.equal(h.open.size, 3);
  const stopped = f.outbox.stop(5_000);
  h.answer('line 1', { result: 'delivered' });
  h.answer('line 0', { result: 'delivered' });
  h.answer('line 2', { result: 'retry', reason: 'stopping' });
  assert.equal(await stopped, 0, 'nothing left running');
  assert.deepEqual(pending(f), ids.slice(2), 'line 0 and 1 delivered, line 2 retried, 3 and 4 never started');
  assert.deepEqual(h.started, ['line 0', 'line 1', 'line 2']);
});

test('with a window, a row handed over by the core is delivered without reading the store, also while it awaits its confirmation', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.windows.set(B, 3);
  const h = held(f);
  let reads = 0;
  const queue = f.store.queue.bind(f.store);
  f.store.queue = (endpoint, limit, after) => {
    if (endpoint === B) reads++;
    return queue(endpoint, limit, after);
  };
  await ingest(f, 1);
  await settle();
  h.answer('line 0', { result: 'delivered' });
  await settle();
  const base = reads;
  for (let i = 1; i <= 3; i++) {
    await f.core.ingest('irc.a', line('#c', 'alice', `next ${i}`));
    await settle();
    assert.deepEqual(h.started.at(-1), `next ${i}`);
    h.answer(`next ${i}`, { result: 'delivered' });
    await settle();
  }
  assert.equal(reads, base, 'no read of the outbox for rows handed over');
  assert.deepEqual(pending(f), []);
});
