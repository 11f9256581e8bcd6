/**
 * Epoch fencing (issue 17) without a database: the lease keeper's fences and what it does when the store refuses one
 * (src/runtime/leases.ts), and the outbox carrying the fence of each endpoint into its writes and taking a refusal as
 * "the row stays for the lease's holder" (src/delivery/outbox.ts). The database's side (the fenced statements on a
 * real PostgreSQL) is test/integration/leases-pg.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { LeaseKeeper, type HeldLease } from '../../src/runtime/leases.js';
import type { Fence } from '../../src/store.js';
import { fixture, settle, line } from '../helpers/core-fixture.js';

function keeperWith(held: Record<string, number>) {
  const said: { msg: string; lease?: string; epoch?: number }[] = [];
  const lost: string[] = [];
  const k = new LeaseKeeper({
    db: {
      query: () => {
        throw new Error('no database in this test');
      },
    },
    data: '/nowhere',
    failoverMs: 15_000,
    log: pino({ level: 'warn' }, { write: (l: string) => void said.push(JSON.parse(l) as (typeof said)[0]) }),
    wanted: () => Object.keys(held),
    gained: () => {},
    lost: (name) => {
      lost.push(name);
    },
  });
  const map = (k as unknown as { held: Map<string, HeldLease> }).held;
  for (const [name, epoch] of Object.entries(held))
    map.set(name, { epoch, since: 0, deadline: performance.now() + 60_000 });
  return { k, said, lost };
}

test('a fence names this process and the epoch it holds the lease at; a lease not held gives epoch 0', () => {
  const { k } = keeperWith({ 'account:irc.a': 7 });
  assert.deepEqual(k.fence('account:irc.a'), { lease: 'account:irc.a', holder: k.id, epoch: 7 });
  assert.deepEqual(k.fence('account:irc.b'), { lease: 'account:irc.b', holder: k.id, epoch: 0 });
});

test('a refused fence of the epoch held: a warning for people, and the lease is lost at once', async () => {
  const { k, said, lost } = keeperWith({ 'account:irc.a': 7, digests: 2 });
  k.fenced(k.fence('account:irc.a'), 'retry', [41]);
  assert.equal(k.holds('account:irc.a'), false, 'no longer counted as held, before any round');
  assert.equal(k.holds('digests'), true, 'the other leases are kept');
  await k.settled();
  assert.deepEqual(lost, ['account:irc.a'], 'what it guards is stopped');
  assert.equal(said.length, 1);
  assert.equal(said[0]!.lease, 'account:irc.a');
  assert.equal(said[0]!.epoch, 7);
  assert.match(said[0]!.msg, /refused to record the retry of outbox row 41 under lease account:irc\.a \(epoch 7\)/);
  assert.match(said[0]!.msg, /Nothing was changed: the row stays pending for the lease's holder/);
  assert.match(said[0]!.msg, /this process stops what account:irc\.a guards/);
});

test('a refused fence of an older epoch (the lease was lost and taken again since) leaves the lease held', async () => {
  const { k, said, lost } = keeperWith({ 'account:irc.a': 9 });
  const old: Fence = { lease: 'account:irc.a', holder: k.id, epoch: 8 };
  k.fenced(old, 'delivered', [1, 2, 3]);
  await k.settled();
  assert.equal(k.holds('account:irc.a'), true);
  assert.deepEqual(lost, []);
  assert.match(said[0]!.msg, /delivery of 3 outbox rows .*\(epoch 8\).*the rows stay pending.*sends it again/);
});

test("the outbox's writes carry the endpoint's fence; a refused retry or dead letter is neither scheduled nor reported as done", async (t) => {
  const f = fixture({ 'irc.a': 'chat', 'irc.b': 'chat' }, { commons: { endpoints: ['irc.a/#c', 'irc.b/#c'] } });
  t.after(() => f.close());
  const fenceOf = (endpoint: string): Fence => ({ lease: `account:${endpoint.split('/')[0]}`, holder: 'me', epoch: 3 });
  f.outbox.fence = fenceOf;
  // The store's writes as the outbox calls them; this store refuses every fenced retry and dead letter (the lease
  // went to another process), as PostgreSQL's fenced statements would.
  const writes: [string, number, Fence | undefined][] = [];
  const store = f.store;
  const land = store.landDelivery.bind(store);
  store.landDelivery = (row, id, fence) => {
    writes.push(['delivered', row, fence]);
    return land(row, id);
  };
  // A refusal closes the gate (the daemon's: LeaseKeeper.fenced stops counting the lease held).
  const lost = new Set<string>();
  store.markRetry = (row, _attempts, _nextAt, _reason, fence) => {
    writes.push(['retry', row, fence]);
    lost.add(fence!.lease);
    return false;
  };
  store.markDead = (row, _attempts, _reason, _now, fence) => {
    writes.push(['dead', row, fence]);
    lost.add(fence!.lease);
    return false;
  };
  f.outbox.gate = (endpoint) => !lost.has(fenceOf(endpoint).lease);
  const dead: number[] = [];
  const retried: number[] = [];
  f.outbox.on('dead', (row) => dead.push(row.row));
  f.outbox.on('retry', (row) => retried.push(row.row));
  f.deliverers.set('irc.a/#c', () => ({ result: 'retry', reason: 'server busy' }));
  f.deliverers.set('irc.b/#c', () => ({ result: 'failed', reason: 'no such channel', code: 'bad-target' }));
  await f.core.ingest('irc.a', line('#c', 'alice', 'one')); // to irc.b/#c: failed for good
  await f.core.ingest('irc.b', line('#c', 'bob', 'two')); // to irc.a/#c: a retry
  await settle();
  assert.deepEqual(writes.map(([what, , fence]) => [what, fence]).sort(), [
    ['dead', fenceOf('irc.b/#c')],
    ['retry', fenceOf('irc.a/#c')],
  ]);
  assert.deepEqual(dead, [], 'a refused dead letter is not reported as one');
  assert.deepEqual(retried, [], 'nor a refused retry');
  assert.deepEqual(
    store
      .listOutbox()
      .map((r) => [r.endpoint, r.state, r.attempts, r.nextAt, r.lastError])
      .sort(),
    [
      ['irc.a/#c', 'pending', 0, 0, null],
      ['irc.b/#c', 'pending', 0, 0, null],
    ],
    'the rows stay as they were, for the holder',
  );
  // Nothing was scheduled for the refused retry: a later kick, with the gate closed, tries nothing.
  const tried = f.attempts.length;
  f.clock.now += 120_000;
  f.outbox.kickAll();
  await settle();
  assert.equal(f.attempts.length, tried);
  // A delivery carries its fence too.
  lost.clear();
  f.deliverers.set('irc.a/#c', () => ({ result: 'delivered' }));
  f.outbox.kick('irc.a/#c');
  await settle();
  assert.deepEqual(
    writes.filter(([what]) => what === 'delivered').map(([, , fence]) => fence),
    [fenceOf('irc.a/#c')],
  );
});

test("a stopped keeper's deadline timer that fires before the deadline (setTimeout rounds to whole ms) waits again: the lease is still lost", async () => {
  // Twenty keepers, deadlines at fractions of a millisecond: a timer set for the fraction left fires up to a
  // millisecond early for some of them.
  const ks = Array.from({ length: 20 }, (_, i) => {
    const x = keeperWith({ 'account:irc.a': 1 });
    const h = (x.k as unknown as { held: Map<string, HeldLease> }).held.get('account:irc.a')!;
    h.deadline = performance.now() + 5.5 + i * 0.37;
    (x.k as unknown as { armDeadline(): void }).armDeadline();
    // No rounds any more (a frozen process, in the leases tests): only the deadline timer can stop what it guards.
    (x.k as unknown as { stopped: boolean }).stopped = true;
    return x;
  });
  await new Promise((r) => setTimeout(r, 150));
  for (const { k, lost } of ks) {
    await k.settled();
    assert.equal(k.holds('account:irc.a'), false);
    assert.deepEqual(lost, ['account:irc.a'], 'what the lease guards was stopped at the deadline');
  }
});
