/**
 * What the daemon and the CLI show and hand to plugins, built once in src/runtime/: an account's endpoints, the
 * accounts a plugin command sees (in the daemon and offline against the store), the bridge views, status and
 * metrics, the operator's outbox actions, and the accounts' reload. No sockets: an in-memory store, fake accounts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store.js';
import { Router } from '../../src/ingest/router.js';
import { endpointViews, bridgeViews } from '../../src/runtime/views.js';
import { commandAccounts, findCommand, lazySecret, nodeSecret, secretFor } from '../../src/runtime/commands.js';
import { buildStatus, type AccountLike } from '../../src/runtime/status.js';
import { buildMetrics, DeliveryMetrics } from '../../src/runtime/metrics.js';
import { outboxAction } from '../../src/runtime/requests.js';
import { AccountSet } from '../../src/runtime/account-set.js';
import type { AccountRuntime } from '../../src/runtime/accounts.js';
import type { AccountConfig, PeerpostConfig } from '../../src/config/types.js';
import { definePlugin, delivered, z, type AccountHandle, type QueueWaiting } from '../../src/plugin.js';
import type { OutboxRow } from '../../src/store.js';
import { makeConfig } from '../helpers/core-fixture.js';

const MIN = 60_000;

function world() {
  const config = makeConfig(
    { 'irc.libera': 'chat', 'mail.lists': 'article', 'mail.other': 'article' },
    {
      commons: { endpoints: ['irc.libera/#commons', { key: 'mail.lists/commons', shape: 'digest' }] },
      quiet: { endpoints: ['mail.other/quiet', { key: 'irc.libera/#quiet', direction: 'out' }] },
    },
  );
  config.bridges.commons!.description = 'the commons';
  const router = new Router(
    config,
    new Map([
      ['irc.libera', 'chat'],
      ['mail.lists', 'article'],
      ['mail.other', 'article'],
    ]),
  );
  return { config, router, store: Store.open(':memory:') };
}

test("an account's endpoints as a plugin sees them: its bridge's description, a shape only where the config sets one", () => {
  const { router } = world();
  assert.deepEqual(endpointViews(router, 'irc.libera'), [
    {
      key: 'irc.libera/#commons',
      target: '#commons',
      bridge: 'commons',
      direction: 'inout',
      options: {},
      description: 'the commons',
    },
    { key: 'irc.libera/#quiet', target: '#quiet', bridge: 'quiet', direction: 'out', options: {}, description: '' },
  ]);
  assert.equal(endpointViews(router, 'mail.lists')[0]!.shape, 'digest');
  assert.deepEqual(endpointViews(router, 'nntp.gone'), [], 'an account not in the config has no endpoints');
});

test('offline, a command sees every account of its protocol, no handle, and the secret the daemon would use', () => {
  const { config, router, store } = world();
  const accounts = commandAccounts(
    { config, store, endpoints: (a) => endpointViews(router, a), secret: lazySecret(store) },
    'mail',
  );
  assert.deepEqual(
    accounts.map((a) => a.account),
    ['mail.lists', 'mail.other'],
  );
  const [lists] = accounts;
  assert.equal(lists!.handle, undefined);
  assert.equal(lists!.ingest, undefined);
  assert.deepEqual(lists!.node, { hostname: 'test.example', version: lists!.node.version });
  assert.deepEqual(
    lists!.endpoints().map((e) => e.key),
    ['mail.lists/commons'],
  );
  assert.equal(store.kvGet('core', 'secret'), undefined, 'listing the accounts writes no secret');
  const token = lists!.secret('unsubscribe');
  assert.ok(store.kvGet('core', 'secret'), 'the secret is made at first use');
  assert.deepEqual(token, secretFor(nodeSecret(store), 'unsubscribe'), "the daemon's secret for that purpose");
  assert.notDeepEqual(token, lists!.secret('confirm'), 'each purpose has its own');
  lists!.store.set('k', 1);
  assert.equal(store.kvGet('mail.lists', 'k'), 1, "the account's own slice of the store");
});

test("inside the daemon, a running account's command environment has its handle and ingests as that account", async () => {
  const { config, router, store } = world();
  const handle = { deliver: async () => delivered() } as AccountHandle;
  const ingested: string[] = [];
  const [lists, other] = commandAccounts(
    {
      config,
      store,
      endpoints: (a) => endpointViews(router, a),
      secret: (p) => secretFor(Buffer.from('x'), p),
      live: (a) =>
        a === 'mail.lists'
          ? {
              handle,
              ingest: async () => {
                ingested.push(a);
                return { status: 'accepted' as const, id: 'p@x', seq: 1 };
              },
            }
          : undefined,
    },
    'mail',
  );
  assert.equal(lists!.handle, handle);
  await lists!.ingest!({ target: 'commons', author: { name: 'a', via: 'mail' }, body: 'hi' });
  assert.deepEqual(ingested, ['mail.lists']);
  assert.equal(other!.handle, undefined, 'an account that does not run has no handle');
});

test("a plugin's command is found by name with its protocol", () => {
  const run = async () => ({ exit: 0 });
  const mail = definePlugin({
    protocol: 'mail',
    style: 'article',
    account: z.object({}),
    start: () => ({ deliver: async () => delivered() }),
    commands: [{ name: 'held', summary: 's', usage: 'u', run }],
  });
  const defs = new Map([['mail', mail]]);
  assert.equal(findCommand(defs, 'held')?.protocol, 'mail');
  assert.equal(findCommand(defs, 'subscribers'), undefined);
});

test('bridge views: how to join each place, and whether its account runs', () => {
  const { config } = world();
  const hint = definePlugin({
    protocol: 'irc',
    style: 'chat',
    account: z.object({}),
    start: () => ({ deliver: async () => delivered() }),
    joinHint: (target, _cfg, node) => {
      if (target === '#quiet') throw new Error('no hint');
      return `${target} on ${node.hostname}`;
    },
  });
  const states: Record<string, 'connected' | 'down'> = { 'irc.libera': 'connected', 'mail.lists': 'down' };
  const views = bridgeViews(config, new Map([['irc', hint]]), (a) => states[a]);
  assert.deepEqual(views[0], {
    name: 'commons',
    description: 'the commons',
    endpoints: [
      {
        key: 'irc.libera/#commons',
        account: 'irc.libera',
        protocol: 'irc',
        target: '#commons',
        direction: 'inout',
        join: '#commons on test.example',
        running: true,
      },
      {
        key: 'mail.lists/commons',
        account: 'mail.lists',
        protocol: 'mail',
        target: 'commons',
        direction: 'inout',
        running: false,
      },
    ],
    archive: { addresses: 'obfuscate' },
  });
  const quiet = views[1]!.endpoints;
  assert.equal(quiet[0]!.running, false, 'an account that is not running at all');
  assert.equal(quiet[1]!.join, undefined, 'a joinHint that throws gives no hint');
});

const account = (name: string, over: Partial<AccountLike> = {}): AccountLike => ({
  name,
  cfg: { protocol: name.split('.')[0]! },
  state: 'connected',
  since: 1000,
  endpoints: () => [{ key: `${name}/x` }],
  delivered: { count: 2 },
  ...over,
});

test('status: each account, the outbox with why an endpoint waits, and what has waited too long', () => {
  const now = 10 * 3600_000;
  const { config } = world();
  const robot: QueueWaiting = {
    account: 'mail.lists',
    name: 'robot_mail',
    what: 'robot mail waiting for the smarthost',
    count: 1,
    oldest: now - 5 * MIN,
    lastError: null,
    nextAt: null,
  };
  const s = buildStatus({
    now,
    pid: 42,
    version: '9.9',
    startedAt: now - 90_000,
    config,
    accounts: [
      account('irc.libera', { detail: 'irc.example:6667' }),
      account('mail.lists', { state: 'retrying', lastError: { message: 'refused', at: 5 } }),
    ],
    ingested: (a) =>
      a === 'irc.libera' ? { accepted: 3, duplicate: 0, ignored: 0, rejected: 0, tempfail: 0 } : undefined,
    outbox: [
      { endpoint: 'mail.lists/commons', pending: 4, dead: 1, oldest: now - 2 * 3600_000 },
      { endpoint: 'irc.libera/#commons', pending: 0, dead: 0, oldest: null },
    ],
    outboxWaiting: (e) =>
      e === 'mail.lists/commons' ? { reason: 'account mail.lists is retrying', since: now - MIN } : undefined,
    digests: { commons: 2 },
    conversations: [],
    waiting: [robot],
  });
  assert.equal(s.uptimeMs, 90_000);
  assert.equal(s.pid, 42);
  assert.equal(s.data, ':memory:');
  assert.deepEqual(s.accounts[0], {
    name: 'irc.libera',
    protocol: 'irc',
    state: 'connected',
    since: 1000,
    detail: 'irc.example:6667',
    lastError: null,
    endpoints: ['irc.libera/x'],
    delivered: 2,
    ingested: { accepted: 3, duplicate: 0, ignored: 0, rejected: 0, tempfail: 0 },
  });
  assert.deepEqual(s.accounts[1]!.lastError, { message: 'refused', at: 5 });
  assert.equal(s.accounts[1]!.ingested, null);
  assert.deepEqual(s.outbox[0]!.waiting, { reason: 'account mail.lists is retrying', since: now - MIN });
  assert.equal(s.outbox[1]!.waiting, null);
  assert.equal(s.alertAfterMs, 3_600_000);
  assert.equal(s.late.length, 1, 'only the outbox has waited longer than delivery.alertAfter (1h)');
  assert.match(s.late[0]!, /mail\.lists\/commons/);
  assert.deepEqual(s.waiting, [robot]);
});

test('metrics: ages in seconds and never negative, posts counted per bridge and in all', () => {
  const now = 1_000_000;
  const deliveries = new DeliveryMetrics();
  deliveries.delivered('irc.libera', 250);
  const m = buildMetrics({
    now,
    startedAt: now - 5000,
    accounts: [account('irc.libera')],
    deliveries,
    ingested: () => undefined,
    outbox: [
      { endpoint: 'a/x', pending: 1, dead: 0, oldest: now - 3000 },
      { endpoint: 'a/y', pending: 0, dead: 2, oldest: null },
      { endpoint: 'a/z', pending: 1, dead: 0, oldest: now + 500 },
    ],
    waiting: [
      {
        account: 'mail.lists',
        name: 'robot_mail',
        what: 'w',
        count: 2,
        oldest: now - 1000,
        lastError: null,
        nextAt: null,
      },
    ],
    postsByBridge: { commons: 3, quiet: 4 },
  });
  assert.equal(m.uptimeSeconds, 5);
  assert.deepEqual(
    m.outbox.map((o) => o.oldestAgeSeconds),
    [3, null, 0],
  );
  assert.deepEqual(m.waiting, [{ account: 'mail.lists', name: 'robot_mail', count: 2, oldestAgeSeconds: 1 }]);
  assert.deepEqual(m.posts, { total: 7, byBridge: { commons: 3, quiet: 4 } });
  assert.equal(m.accounts['irc.libera']!.delivered, 1);
  assert.equal(m.accounts['irc.libera']!.ingested.accepted, 0);
});

test("the operator's outbox actions: a row that is not there is said, a retried row is tried now where an outbox runs", () => {
  const row = { row: 7, endpoint: 'mail.lists/commons', postId: 'p@x' } as OutboxRow;
  const rows = new Map([[7, row]]);
  const store = {
    outboxRow: (n: number) => rows.get(n),
    requeue: (n: number) => rows.has(n),
    requeueAllDead: () => ({ count: 2, endpoints: ['a/x', 'b/y'] }),
    dropRow: (n: number) => {
      const r = rows.get(n);
      rows.delete(n);
      return r;
    },
  };
  const kicked: string[] = [];
  const woken: string[][] = [];
  const on = { kick: (e: string) => kicked.push(e), wake: (e: string[]) => woken.push(e) };
  assert.deepEqual(outboxAction(store, { cmd: 'retry', row: 8 }, on), { ok: false, error: 'there is no outbox row 8' });
  assert.deepEqual(outboxAction(store, { cmd: 'retry', row: 7 }, on), { ok: true, count: 1 });
  assert.deepEqual(kicked, ['mail.lists/commons']);
  assert.deepEqual(outboxAction(store, { cmd: 'retry', all: true }, on), { ok: true, count: 2 });
  assert.deepEqual(woken, [['a/x', 'b/y']]);
  assert.deepEqual(outboxAction(store, { cmd: 'retry', row: 7 }), { ok: true, count: 1 }, 'offline: no outbox to kick');
  const dropped: number[] = [];
  assert.deepEqual(outboxAction(store, { cmd: 'drop', row: 7 }, { dropped: (r) => dropped.push(r.row) }), {
    ok: true,
    row,
  });
  assert.deepEqual(dropped, [7]);
  assert.deepEqual(outboxAction(store, { cmd: 'drop', row: 7 }), { ok: false, error: 'there is no outbox row 7' });
});

/** An account runtime that records what happens to it; `reload` is what its plugin's reload() answers. */
function fakeRuntimes(log: string[], reload: Record<string, 'applied' | 'restart'> = {}, failing = new Set<string>()) {
  return (cfg: AccountConfig) => {
    const rt = {
      cfg,
      name: cfg.name,
      handle: {
        deliver: async () => delivered(),
        reload: async () => reload[cfg.name] ?? 'restart',
        endpointsChanged: () => {
          log.push(`bridges ${cfg.name}`);
          if (cfg.name === 'irc.b') throw new Error('no');
        },
      },
      start: async () => {
        log.push(`start ${cfg.name}`);
        if (failing.has(cfg.name)) throw new Error(`account ${cfg.name} could not start: refused`);
      },
      stop: async () => {
        log.push(`stop ${cfg.name}`);
      },
      settingsApplied: (c: AccountConfig) => {
        rt.cfg = c;
        log.push(`applied ${c.name}`);
      },
    };
    return rt as unknown as AccountRuntime;
  };
}

const accountsConfig = (accounts: Record<string, Record<string, unknown>>): PeerpostConfig =>
  ({
    accounts: Object.fromEntries(
      Object.entries(accounts).map(([name, settings]) => [
        name,
        { name, protocol: name.split('.')[0]!, instance: name.split('.')[1]!, settings },
      ]),
    ),
  }) as unknown as PeerpostConfig;

test('the accounts start in order, stop in reverse, and a reload stops, applies, restarts and starts what changed', async () => {
  const log: string[] = [];
  const errors: string[] = [];
  const set = new AccountSet(fakeRuntimes(log, { 'irc.b': 'applied' }, new Set(['nntp.new'])), {
    error: (...a: unknown[]) => errors.push(String(a.at(-1))),
  });
  const first = accountsConfig({ 'irc.a': { n: 1 }, 'irc.b': { n: 1 }, 'mail.c': { n: 1 }, 'mail.gone': {} });
  for (const cfg of Object.values(first.accounts)) await set.start(cfg);
  assert.deepEqual(log.splice(0), ['start irc.a', 'start irc.b', 'start mail.c', 'start mail.gone']);

  const next = accountsConfig({ 'irc.a': { n: 1 }, 'irc.b': { n: 2 }, 'mail.c': { n: 2 }, 'nntp.new': {} });
  const changes: string[] = [];
  await set.stopRemoved(next, changes);
  await set.apply(next, changes);
  assert.deepEqual(changes, [
    'account mail.gone: stopped',
    'account irc.b: settings applied',
    'account mail.c: restarted',
    'account nntp.new: failed to start (account nntp.new could not start: refused)',
  ]);
  assert.deepEqual(log.splice(0), ['stop mail.gone', 'applied irc.b', 'stop mail.c', 'start mail.c', 'start nntp.new']);
  assert.equal(set.get('irc.b')!.cfg.settings.n, 2);
  assert.equal(set.get('mail.gone'), undefined);
  assert.ok(set.get('nntp.new'), 'an account that failed to start stays listed (status shows it down)');
  assert.match(errors[0]!, /the rest of the config is applied/);

  set.bridgesChanged();
  assert.deepEqual(log.splice(0), ['bridges irc.a', 'bridges irc.b', 'bridges mail.c', 'bridges nntp.new']);
  assert.match(errors[1]!, /irc\.b failed to take the new bridges: no/);

  await set.stopAll();
  assert.deepEqual(log, ['stop nntp.new', 'stop mail.c', 'stop irc.b', 'stop irc.a']);
});
