/**
 * The irc plugin's flood control (a token bucket), no sockets. (Its reconnect backoff is the plugin API's: backoff.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../plugins/irc/bucket.js';

test('a burst goes at once, then one token per interval, in the order asked', async () => {
  const b = new TokenBucket(3, 40);
  const t0 = Date.now();
  const at: [number, number][] = [];
  await Promise.all(Array.from({ length: 7 }, (_, i) => b.take().then(() => at.push([i, Date.now() - t0]))));
  assert.deepEqual(
    at.map(([i]) => i),
    [0, 1, 2, 3, 4, 5, 6],
    'first come, first served',
  );
  for (let i = 0; i < 3; i++) assert.ok(at[i]![1] < 20, `burst token ${i} at ${at[i]![1]} ms`);
  // Token k (k ≥ burst) comes no sooner than (k − burst + 1) intervals after the start.
  for (let i = 3; i < 7; i++) assert.ok(at[i]![1] >= (i - 2) * 40 - 3, `token ${i} at ${at[i]![1]} ms, too early`);
  assert.ok(at[6]![1] < 4 * 40 + 150, `token 6 at ${at[6]![1]} ms, too late`);
});

test('estimate() tells how long a take() made now would wait', async () => {
  let now = 0;
  const b = new TokenBucket(2, 100, () => now);
  assert.equal(b.estimate(), 0);
  await b.take();
  await b.take();
  assert.equal(b.estimate(), 100);
  now = 50;
  assert.equal(b.estimate(), 50);
  now = 1000;
  assert.equal(b.estimate(), 0, 'refilled, up to the burst');
  await b.take();
  await b.take();
  assert.equal(b.estimate(), 100, 'never more than the burst in hand');
});

test('nothing is dropped: 50 takers all get a token, in order', async () => {
  const b = new TokenBucket(5, 2);
  const order: number[] = [];
  await Promise.all(Array.from({ length: 50 }, (_, i) => b.take().then(() => order.push(i))));
  assert.deepEqual(
    order,
    Array.from({ length: 50 }, (_, i) => i),
  );
});

test('an aborted taker leaves the queue and the next one moves up; close() rejects the rest', async () => {
  const b = new TokenBucket(1, 30);
  await b.take();
  const ac = new AbortController();
  const first = b.take(ac.signal);
  const second = b.take();
  assert.equal(b.waiting, 2);
  ac.abort();
  await assert.rejects(first, /aborted/);
  const t0 = Date.now();
  await second;
  assert.ok(Date.now() - t0 < 60);
  const third = b.take();
  b.close();
  await assert.rejects(third, /closed/);
  await assert.rejects(b.take(AbortSignal.abort()), /aborted/);
});

test('configure() changes the rate in place', async () => {
  const b = new TokenBucket(1, 10_000);
  await b.take();
  const waiting = b.take();
  b.configure(1, 5);
  const t0 = Date.now();
  await waiting;
  assert.ok(Date.now() - t0 < 200);
});
