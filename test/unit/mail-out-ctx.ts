/**
 * A minimal PluginContext for the mail plugin's sending side, built from the
 * real Store (in memory or in a directory): what ListSender uses (store, log,
 * node, deliveryTimeoutMs). Used by the mail-out unit tests, the mail-send
 * integration tests and bench/mail.ts.
 */
import { pino } from 'pino';
import type { PluginContext, PluginStore, Post, DeliveryTarget } from '../../src/plugin.js';
import { Store } from '../../src/store.js';

export function pluginStore(store: Store, protocol = 'mail'): PluginStore {
  const scope = `plugin:${protocol}:test`;
  return {
    get: (key) => store.kvGet(scope, key) as never,
    set: (key, value) => store.kvSet(scope, key, value),
    delete: (key) => store.kvDelete(scope, key),
    keys: (prefix) => store.kvKeys(scope, prefix),
    ids: {
      set: (postId, target, nativeId) => store.setNativeId('mail.test', target, nativeId, postId),
      post: (target, nativeId) => store.postForNative('mail.test', target, nativeId),
      native: (postId, target) => store.nativeForPost(postId, 'mail.test', target),
    },
    migrate: ((migrations: readonly string[], part?: string) =>
      store.migratePlugin(
        part ? `plugin:${protocol}:${part}` : `plugin:${protocol}`,
        `${protocol}_`,
        migrations,
      )) as PluginStore['migrate'],
    prepare: (sql) => store.db.prepare(sql),
    transaction: (fn) => store.transaction(fn),
  };
}

export interface TestCtx {
  ctx: PluginContext<any>;
  store: Store;
  close(): void;
}

export function mailCtx(
  opts: { dir?: string; store?: Store; deliveryTimeoutMs?: number; hostname?: string; logLevel?: string } = {},
): TestCtx {
  const own = !opts.store;
  const store = opts.store ?? Store.open(opts.dir ?? ':memory:');
  const abort = new AbortController();
  const ctx = {
    account: 'mail.lists',
    protocol: 'mail',
    instance: 'lists',
    config: {},
    node: { hostname: opts.hostname ?? 'node.test.example', version: 'test' },
    log: pino({ level: opts.logLevel ?? 'silent' }),
    signal: abort.signal,
    store: pluginStore(store),
    deliveryTimeoutMs: () => opts.deliveryTimeoutMs ?? 60_000,
  } as unknown as PluginContext<any>;
  return {
    ctx,
    store,
    close: () => {
      abort.abort();
      if (own) store.close();
    },
  };
}

let rowSeq = 1000;
export function target(row = rowSeq++, attempt = 1): DeliveryTarget {
  return {
    row,
    endpoint: 'mail.lists/commons',
    target: 'commons',
    bridge: 'commons',
    shape: 'stream',
    announceLines: 4,
    options: {},
    attempt,
  };
}

export function post(over: Partial<Post> = {}): Post {
  return {
    id: 'p1.abc@node.test.example',
    bridge: 'commons',
    origin: { account: 'irc.libera', target: '#commons' },
    author: { name: 'alice', via: 'irc' },
    subject: 'hello',
    body: 'Hello, list.\n',
    kind: 'message',
    references: [],
    hops: 1,
    date: '2026-11-27T07:30:00.000Z',
    attachments: [],
    ...over,
  };
}

export const LIST = {
  name: 'commons',
  address: 'commons@lists.example.org',
  bridge: 'commons',
  description: 'The commons',
  subjectTag: '[commons]' as string | false,
  owners: ['owner@example.org'],
  attachments: 'pass' as const,
};
