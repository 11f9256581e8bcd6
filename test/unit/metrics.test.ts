import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryMetrics, LATENCY_BOUNDS } from '../../src/runtime/metrics.js';
import { Store } from '../../src/store.js';
import { fixture, line } from '../helpers/core-fixture.js';

test('delivery latency lands in the right bucket; counts, sums and retries add up per account', () => {
  const m = new DeliveryMetrics();
  m.delivered('irc.a', 0.5); // 0.0005 s: first bucket
  m.delivered('irc.a', 40); // 0.04 s: the 0.05 bucket
  m.delivered('irc.a', 7_200_000); // two hours: past the last bound
  m.retried('irc.a');
  m.failed('mail.l');
  const a = m.account('irc.a', 'irc', 'connected', { accepted: 2, duplicate: 0, ignored: 1, rejected: 0, tempfail: 0 });
  const h = a.deliveryLatency;
  assert.equal(h.counts.length, LATENCY_BOUNDS.length + 1);
  assert.equal(h.counts[0], 1);
  assert.equal(h.counts[h.bounds.indexOf(0.05)], 1);
  assert.equal(h.counts[h.counts.length - 1], 1, 'two hours is past every bound');
  assert.equal(h.count, 3);
  assert.ok(Math.abs(h.sum - (0.0005 + 0.04 + 7200)) < 1e-9);
  assert.deepEqual([a.delivered, a.retried, a.failed], [3, 1, 0]);
  assert.equal(a.ingested.accepted, 2);
  assert.equal(m.account('mail.l', 'mail', 'connected', undefined).failed, 1);
});

test('the store counts posts per bridge and says whether it can be written', async (t) => {
  const f = fixture(
    { 'irc.a': 'chat', 'irc.b': 'chat' },
    { commons: { endpoints: ['irc.a/#c', 'irc.b/#c'] }, other: { endpoints: ['irc.a/#o', 'irc.b/#o'] } },
  );
  t.after(() => f.close());
  await f.core.ingest('irc.a', line('#c', 'alice', 'one'));
  await f.core.ingest('irc.a', line('#c', 'alice', 'two'));
  await f.core.ingest('irc.a', line('#o', 'alice', 'three'));
  assert.deepEqual(f.store.countPostsByBridge(), { commons: 2, other: 1 });
  assert.equal(f.store.writable(), true);
  const ro = Store.open(':memory:');
  ro.sqlite!.pragma('query_only = ON');
  assert.equal(ro.writable(), false, 'a store that refuses writes is reported, not thrown');
  ro.close();
});
