/**
 * The plugin API's shared helpers for reload() (which keys changed, applied or restart) and for showing an
 * address (host:port, an IPv6 address in brackets). No sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changedKeys, formatAddress, reloadPlan, sameSetting } from '../../src/plugin.js';
import { parseListen } from '../../src/config/schema-helpers.js';

const base = { listen: { host: '127.0.0.1', port: 79 }, poll: 60_000, tokens: ['a', 'b'], ignore: /spam/i };

test('changedKeys names the keys whose values differ, deeply, both ways', () => {
  assert.deepEqual(changedKeys(base, { ...base }), []);
  assert.deepEqual(changedKeys(base, { ...base, poll: 30_000 }), ['poll']);
  assert.deepEqual(changedKeys(base, { ...base, listen: { host: '127.0.0.1', port: 80 } }), ['listen']);
  assert.deepEqual(changedKeys(base, { ...base, tokens: ['b', 'a'] }), ['tokens'], 'order in a list matters');
  const { poll: _, ...withoutPoll } = base;
  assert.deepEqual(changedKeys(base, withoutPoll as typeof base), ['poll'], 'a key only the old block has');
  assert.deepEqual(changedKeys(base, { ...base, ignore: /spam/ }), ['ignore'], 'a pattern by source and flags');
});

test('sameSetting: key order and undefined keys do not count as changes', () => {
  assert.ok(sameSetting({ host: 'a', port: 1 }, { port: 1, host: 'a' }));
  assert.ok(sameSetting({ a: 1, b: undefined }, { a: 1 }));
  assert.ok(!sameSetting({ a: 1 }, { a: '1' }));
  assert.ok(sameSetting(/x/g, /x/g));
});

test('reloadPlan with restartOn: a fixed key restarts, any other change applies in place', () => {
  const rule = { restartOn: ['listen'] as const };
  assert.equal(reloadPlan(base, { ...base }, rule), 'applied');
  assert.equal(reloadPlan(base, { ...base, poll: 1 }, rule), 'applied');
  assert.equal(reloadPlan(base, { ...base, listen: { host: '::1', port: 79 } }, rule), 'restart');
});

test('reloadPlan with inPlace: only the named keys apply in place, a change to any other key restarts', () => {
  const rule = { inPlace: ['poll', 'tokens'] as const };
  assert.equal(reloadPlan(base, { ...base, poll: 1, tokens: [] }, rule), 'applied');
  assert.equal(reloadPlan(base, { ...base, ignore: /ham/ }, rule), 'restart');
  assert.equal(reloadPlan(base, { ...base, extra: true } as typeof base, rule), 'restart', 'a key new to the block');
});

test('formatAddress writes host:port, an IPv6 address in brackets, and parseListen reads it back', () => {
  assert.equal(formatAddress('127.0.0.1', 1119), '127.0.0.1:1119');
  assert.equal(formatAddress('news.example', 119), 'news.example:119');
  assert.equal(formatAddress('::1', 1119), '[::1]:1119');
  assert.equal(formatAddress('::', 0), '[::]:0');
  for (const [host, port] of [
    ['::1', 1119],
    ['fe80::1', 79],
    ['localhost', 8080],
  ] as const)
    assert.deepEqual(parseListen(formatAddress(host, port)), { host, port });
});
