import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountRuntime, listenErrorMessage } from '../../src/accounts.js';
import { definePlugin, z, delivered } from '../../src/plugin.js';
import { Store } from '../../src/store.js';
import { Router } from '../../src/router.js';
import { makeConfig, silent } from '../helpers/core-fixture.js';
import type { DaemonStatus } from '../../src/plugin.js';

function runtime(def: ReturnType<typeof definePlugin>, settings: Record<string, unknown> = {}) {
  const store = Store.open(':memory:');
  const config = makeConfig({ 'x.a': 'chat', 'x.b': 'chat' }, { commons: { endpoints: ['x.a/one', 'x.b/two'] } });
  const router = new Router(config, new Map([['x.a', 'chat'], ['x.b', 'chat']]));
  const woken: string[][] = [];
  const rt = new AccountRuntime({ name: 'x.a', protocol: 'x', instance: 'a', settings }, def, {
    store, router: () => router, ingest: async () => ({ status: 'rejected', reason: 'test' }), wake: (e) => woken.push(e),
    hostname: 'test.example', log: silent, status: () => ({}) as DaemonStatus, deliveryTimeoutMs: () => 60_000, bridges: () => [], secret: () => Buffer.alloc(32),
  });
  return { rt, store, woken };
}

test('start() is bounded by the plugin\'s timeout, and a hung start is reported, not waited on forever', async () => {
  const closed: string[] = [];
  const def = definePlugin({
    protocol: 'x', style: 'chat', account: z.strictObject({}), startTimeoutMs: 50,
    start: (ctx) => {
      ctx.onClose(() => { closed.push('first'); });
      ctx.onClose(() => { closed.push('second'); });
      return new Promise(() => undefined);
    },
  });
  const { rt } = runtime(def);
  await assert.rejects(rt.start(), /starting account x\.a did not finish within 50ms/);
  assert.equal(rt.state, 'down');
  assert.deepEqual(closed, ['second', 'first'], 'what it opened is closed, in reverse order');
});

test('a plugin gets its frozen config, its endpoints, its own store slice, and an AbortSignal that fires at stop', async () => {
  let seen: { signal?: AbortSignal; frozen?: boolean; endpoints?: string[] } = {};
  const def = definePlugin({
    protocol: 'x', style: 'chat', account: z.strictObject({ n: z.number() }),
    start: (ctx) => {
      ctx.store.set('k', { v: 1 });
      ctx.store.ids.set('p@x', 'one', '7');
      seen = { signal: ctx.signal, frozen: Object.isFrozen(ctx.config), endpoints: ctx.endpoints().map((e) => e.key) };
      ctx.resume('one');
      return { deliver: async () => delivered() };
    },
  });
  const { rt, store, woken } = runtime(def, Object.freeze({ n: 1 }));
  await rt.start();
  assert.equal(rt.state, 'connected');
  assert.equal(seen.frozen, true);
  assert.deepEqual(seen.endpoints, ['x.a/one']);
  assert.deepEqual(store.kvGet('x.a', 'k'), { v: 1 });
  assert.equal(store.kvGet('x.b', 'k'), undefined, 'slices are per account');
  assert.equal(store.postForNative('x.a', 'one', '7'), 'p@x');
  assert.deepEqual(woken, [['x.a/one']]);
  assert.equal(seen.signal!.aborted, false);
  await rt.stop();
  assert.equal(seen.signal!.aborted, true);
  assert.equal(rt.state, 'stopped');
});

test('plugin tables must carry the plugin\'s prefix, and migrations apply once', async () => {
  const def = definePlugin({
    protocol: 'x', style: 'chat', account: z.strictObject({}),
    start: (ctx) => {
      ctx.store.migrate(['CREATE TABLE x_things (id INTEGER PRIMARY KEY, name TEXT)']);
      ctx.store.migrate(['CREATE TABLE x_things (id INTEGER PRIMARY KEY, name TEXT)']);
      ctx.store.prepare('INSERT INTO x_things (name) VALUES (?)').run('a');
      return { deliver: async () => delivered() };
    },
  });
  await runtime(def).rt.start();
  const bad = definePlugin({
    protocol: 'x', style: 'chat', account: z.strictObject({}),
    start: (ctx) => {
      ctx.store.migrate(['CREATE TABLE posts2 (id INTEGER)']);
      return { deliver: async () => delivered() };
    },
  });
  await assert.rejects(runtime(bad).rt.start(), /plugin tables must be named x_/);
});

test('listen errors name the account, the address and what to do', () => {
  const e = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(listenErrorMessage('nntp.local', { host: '127.0.0.1', port: 1119 }, e('EADDRINUSE')),
    'account nntp.local cannot listen on 127.0.0.1:1119: the port is already in use (another peerpost, or another server, listens there); choose another port in the config or stop the other program');
  assert.match(listenErrorMessage('finger.local', { host: '::1', port: 79 }, e('EACCES')), /\[::1\]:79: permission denied \(ports below 1024 need root/);
});
