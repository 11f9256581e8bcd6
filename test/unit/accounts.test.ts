import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountRuntime, ServiceRegistry, listenErrorMessage } from '../../src/runtime/accounts.js';
import { definePlugin, z, delivered } from '../../src/plugin.js';
import { Store } from '../../src/store.js';
import { Router } from '../../src/ingest/router.js';
import { Removals } from '../../src/archive/removal.js';
import { makeConfig, silent } from '../helpers/core-fixture.js';
import type { DaemonStatus, DaemonMetrics, StoredPost, PluginContext } from '../../src/plugin.js';

function runtime(
  def: ReturnType<typeof definePlugin>,
  settings: Record<string, unknown> = {},
  services = new ServiceRegistry(),
  name = 'x.a',
) {
  const store = Store.open(':memory:');
  const listeners = new Set<(p: StoredPost) => void>();
  const config = makeConfig({ 'x.a': 'chat', 'x.b': 'chat' }, { commons: { endpoints: ['x.a/one', 'x.b/two'] } });
  const router = new Router(
    config,
    new Map([
      ['x.a', 'chat'],
      ['x.b', 'chat'],
    ]),
  );
  const woken: string[][] = [];
  const rt = new AccountRuntime({ name, protocol: 'x', instance: name.slice(2), settings }, def, {
    store,
    router: () => router,
    ingest: async () => ({ status: 'rejected', code: 'invalid', reason: 'test' }),
    wake: (e) => woken.push(e),
    hostname: 'test.example',
    log: silent,
    status: () => ({}) as DaemonStatus,
    deliveryTimeoutMs: () => 60_000,
    bridges: () => [],
    secret: () => Buffer.alloc(32),
    services,
    onPost: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    removals: new Removals(store),
    metrics: () => ({}) as DaemonMetrics,
    storeWritable: () => store.writable(),
    peerNode: () => {},
  });
  return { rt, store, woken, listeners };
}

test("start() is bounded by the plugin's timeout, and a hung start is reported, not waited on forever", async () => {
  const closed: string[] = [];
  const def = definePlugin({
    protocol: 'x',
    style: 'chat',
    account: z.strictObject({}),
    startTimeoutMs: 50,
    start: (ctx) => {
      ctx.onClose(() => {
        closed.push('first');
      });
      ctx.onClose(() => {
        closed.push('second');
      });
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
    protocol: 'x',
    style: 'chat',
    account: z.strictObject({ n: z.number() }),
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

test("plugin tables must carry the plugin's prefix, and migrations apply once", async () => {
  const def = definePlugin({
    protocol: 'x',
    style: 'chat',
    account: z.strictObject({}),
    start: (ctx) => {
      ctx.store.migrate(['CREATE TABLE x_things (id INTEGER PRIMARY KEY, name TEXT)']);
      ctx.store.migrate(['CREATE TABLE x_things (id INTEGER PRIMARY KEY, name TEXT)']);
      ctx.store.prepare('INSERT INTO x_things (name) VALUES (?)').run('a');
      return { deliver: async () => delivered() };
    },
  });
  await runtime(def).rt.start();
  const bad = definePlugin({
    protocol: 'x',
    style: 'chat',
    account: z.strictObject({}),
    start: (ctx) => {
      ctx.store.migrate(['CREATE TABLE posts2 (id INTEGER)']);
      return { deliver: async () => delivered() };
    },
  });
  await assert.rejects(runtime(bad).rt.start(), /plugin tables must be named x_/);
  // A virtual table (the core's own FTS indexes are ones) is a table too.
  const virtual = definePlugin({
    protocol: 'x',
    style: 'chat',
    account: z.strictObject({}),
    start: (ctx) => {
      ctx.store.migrate(['CREATE VIRTUAL TABLE posts_fts_public2 USING fts5(body)']);
      return { deliver: async () => delivered() };
    },
  });
  await assert.rejects(runtime(virtual).rt.start(), /creates "posts_fts_public2": plugin tables must be named x_/);
});

test('listen errors name the account, the address and what to do', () => {
  const e = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(
    listenErrorMessage('nntp.local', { host: '127.0.0.1', port: 1119 }, e('EADDRINUSE')),
    'account nntp.local cannot listen on 127.0.0.1:1119: the port is already in use (another peerpost, or another server, listens there); choose another port in the config or stop the other program',
  );
  assert.match(
    listenErrorMessage('finger.local', { host: '::1', port: 79 }, e('EACCES')),
    /\[::1\]:79: permission denied \(ports below 1024 need root/,
  );
});

declare module '../../src/plugin.js' {
  interface Services {
    /** A service of this test only: typed at provide and at use like every other. */
    'x.echo': (text: string) => string;
  }
}

test('one plugin calls what another provides by name, typed; the name is withdrawn when the provider stops', async () => {
  const services = new ServiceRegistry();
  let callerCtx: PluginContext | undefined;
  const provider = definePlugin({
    protocol: 'x',
    style: 'chat',
    account: z.strictObject({}),
    provides: ['x.echo'],
    start: (ctx) => {
      ctx.provide('x.echo', (text) => `echo ${text}`);
      return { deliver: async () => delivered() };
    },
  });
  const caller = definePlugin({
    protocol: 'x',
    style: 'chat',
    account: z.strictObject({}),
    provides: ['x.echo'],
    uses: [{ service: 'x.echo' }],
    start: (ctx) => {
      callerCtx = ctx;
      return { deliver: async () => delivered() };
    },
  });
  const a = runtime(provider, {}, services, 'x.a');
  const b = runtime(caller, {}, services, 'x.b');
  await a.rt.start();
  await b.rt.start();
  const fn = callerCtx!.service('x.echo');
  assert.equal(fn?.('abc'), 'echo abc');
  assert.equal(services.providerOf('x.echo'), 'x.a');
  assert.throws(
    () => callerCtx!.provide('x.echo', () => 'two'),
    /account x\.b cannot provide "x\.echo": account x\.a already provides it/,
  );
  await a.rt.stop();
  assert.equal(callerCtx!.service('x.echo'), undefined, 'a stopped account provides nothing');
  await b.rt.stop();
});

test('a plugin provides and uses only what its definition declares', async () => {
  let seen: PluginContext | undefined;
  const def = definePlugin({
    protocol: 'x',
    style: 'chat',
    account: z.strictObject({}),
    start: (ctx) => {
      seen = ctx;
      return { deliver: async () => delivered() };
    },
  });
  const { rt } = runtime(def);
  await rt.start();
  assert.throws(
    () => seen!.provide('x.echo', (t) => t),
    /the x plugin provides "x\.echo" without declaring it: add it to its definition's provides/,
  );
  assert.throws(
    () => seen!.service('x.echo'),
    /the x plugin uses "x\.echo" without declaring it: add \{ service: 'x\.echo' \} to its definition's uses/,
  );
  await rt.stop();
});

test('onPost listeners end with the account; migrate(part) keeps a separate sequence; storeWritable answers', async () => {
  let ctxSeen: PluginContext | undefined;
  const def = definePlugin({
    protocol: 'x',
    style: 'chat',
    account: z.strictObject({}),
    start: (ctx) => {
      ctxSeen = ctx;
      ctx.onPost(() => undefined);
      ctx.store.migrate(['CREATE TABLE x_one (a INTEGER)']);
      ctx.store.migrate(['CREATE TABLE x_two (b INTEGER)'], 'second');
      return { deliver: async () => delivered() };
    },
  });
  const { rt, store, listeners } = runtime(def);
  await rt.start();
  assert.equal(listeners.size, 1);
  const tables = store.db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'x_%' ORDER BY name")
    .pluck()
    .all();
  assert.deepEqual(tables, ['x_one', 'x_two'], 'both sequences applied their first migration');
  assert.equal(ctxSeen!.storeWritable(), true);
  await rt.stop();
  assert.equal(listeners.size, 0, 'the listener went with the account');
});
