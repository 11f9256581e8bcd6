/**
 * The one backoff policy (src/delivery/backoff.ts): growth, cap, jitter range, reset. No sockets, no timers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffDelay, spread } from '../../src/delivery/backoff.js';
import * as api from '../../src/plugin.js';

const top = () => 1;
const bottom = () => 0;
const o = { firstMs: 1000, maxMs: 10_000 };

test('the wait doubles from first with each failure in a row', () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => backoffDelay(n, o, top)),
    [1000, 2000, 4000, 8000],
  );
  assert.equal(backoffDelay(0, o, top), 1000, 'no failure yet counts as the first');
});

test('the wait never passes max, even after very many failures', () => {
  assert.equal(backoffDelay(5, o, top), 10_000);
  assert.equal(backoffDelay(50, o, top), 10_000);
  assert.equal(
    backoffDelay(1_000_000, o, () => 0.5),
    7500,
    'no overflow to Infinity or NaN',
  );
  assert.equal(backoffDelay(3, { firstMs: 5000, maxMs: 2000 }, top), 2000, 'max below first: max wins');
});

test('jitter keeps each wait between half and all of the doubled wait', () => {
  assert.equal(backoffDelay(1, o, bottom), 500);
  assert.equal(backoffDelay(3, o, bottom), 2000);
  assert.equal(
    backoffDelay(3, o, () => 0.5),
    3000,
  );
  assert.equal(backoffDelay(50, o, bottom), 5000);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(4, o);
    assert.ok(d >= 4000 && d <= 8000, `${d} is outside [4000, 8000]`);
    seen.add(d);
  }
  assert.ok(seen.size > 10, 'Math.random() by default: the waits differ');
});

test('a steady poll is spread by ±10 %', () => {
  assert.equal(spread(60_000, bottom), 54_000);
  assert.equal(spread(60_000, top), 66_000);
  assert.equal(
    spread(60_000, () => 0.5),
    60_000,
  );
});

test('Backoff counts failures in a row, and a success starts it over', () => {
  const b = new Backoff(o, top);
  assert.equal(b.failures, 0);
  assert.deepEqual([b.fail(), b.fail(), b.fail()], [1000, 2000, 4000]);
  assert.equal(b.failures, 3);
  b.succeed();
  assert.equal(b.failures, 0);
  assert.equal(b.fail(), 1000, 'after a success, the next failure waits first again');
});

test('Backoff reads its options at every failure (a reload applies at the next one)', () => {
  let opts = { firstMs: 1000, maxMs: 60_000 };
  const b = new Backoff(() => opts, top);
  assert.equal(b.fail(), 1000);
  opts = { firstMs: 100, maxMs: 150 };
  assert.equal(b.fail(), 150);
});

test('the plugin API exports the policy, so plugins import only from src/plugin.ts', () => {
  assert.equal(api.backoffDelay, backoffDelay);
  assert.equal(api.Backoff, Backoff);
  assert.equal(api.spread, spread);
});
