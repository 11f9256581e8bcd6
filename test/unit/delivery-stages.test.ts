/**
 * The delivery stages (src/delivery/stages.ts): each stage's decision, with a fake router, fake accounts and a fake
 * shared-place memory; then once with the real outbox and router on a store in memory. No sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DELIVERY_STAGES,
  accountStage,
  deliveryPipeline,
  endpointStage,
  pluginStage,
  sharedPlaceStage,
  type AccountView,
  type DeliveryDeps,
} from '../../src/delivery/stages.js';
import type { EndpointConfig } from '../../src/config/types.js';
import type { SharedPlace } from '../../src/digest/shown.js';
import { delivered, type AccountHandle, type DeliveryTarget, type Outcome, type Style } from '../../src/plugin.js';
import type { Post } from '../../src/post.js';
import { pino } from 'pino';
import { Store } from '../../src/store.js';
import { Router } from '../../src/ingest/router.js';
import { Outbox } from '../../src/delivery/outbox.js';
import { ingestPipeline } from '../../src/ingest/pipeline.js';
import { line, makeConfig, settle, silent } from '../helpers/core-fixture.js';

const endpoint = (key: string): EndpointConfig => {
  const [account, target] = key.split('/') as [string, string];
  return {
    key,
    account,
    protocol: account.split('.')[0]!,
    target,
    bridge: 'commons',
    direction: 'inout',
    prefix: '!post',
    announceLines: 4,
    options: {},
  };
};

const post = (kind: Post['kind'], origin = { account: 'nntp.peer', target: 'peerpost.commons' }): Post => ({
  id: `${kind}-1@node.example`,
  bridge: 'commons',
  origin,
  author: { name: 'alice', via: 'irc' },
  body: 'hello',
  kind,
  references: [],
  hops: 0,
  date: '2026-12-04T18:00:00.000Z',
  attachments: [],
});

const target = (e: EndpointConfig, attempt = 1): DeliveryTarget => ({
  row: 7,
  endpoint: e.key,
  target: e.target,
  bridge: e.bridge,
  shape: 'stream',
  announceLines: e.announceLines,
  options: e.options,
  attempt,
});

/** A plugin's handle that records what it was asked to deliver (and, with refresh, which targets it looked at). */
function handle(o: { window?: number; refresh?: boolean } = {}) {
  const sent: { post: Post; to: DeliveryTarget }[] = [];
  const refreshed: string[] = [];
  const h: AccountHandle = {
    async deliver(p, to) {
      sent.push({ post: p, to });
      return delivered('native-1');
    },
    ...(o.window !== undefined ? { deliveryWindow: o.window } : {}),
    ...(o.refresh ? { refresh: async (t: string) => void refreshed.push(t) } : {}),
  };
  return { h, sent, refreshed };
}

/** The daemon's side, faked: endpoints by key, each account's style, the accounts, and the shared-place memory. */
function deps(o: { endpoints: string[]; styles: Record<string, Style>; accounts: Record<string, AccountView> }) {
  const places: { post: Post; place: SharedPlace }[] = [];
  const byKey = new Map(o.endpoints.map((k) => [k, endpoint(k)]));
  const router = {
    endpoint: (key: string) => byKey.get(key),
    endpointAt: (account: string, t: string) => byKey.get(`${account}/${t}`),
    styleOf: (account: string) => o.styles[account.split('.')[0]!],
  };
  const d: DeliveryDeps = {
    router: () => router,
    account: (name) => o.accounts[name],
    digestsOut: {
      async deliver(p: Post, place: SharedPlace): Promise<Outcome> {
        places.push({ post: p, place });
        return place.deliver(p);
      },
      straight: () => true,
    },
  };
  return { d, places, byKey };
}

const styles: Record<string, Style> = { irc: 'chat', mail: 'article', nntp: 'article' };

test('the stages, in the order a post passes them', () => {
  assert.deepEqual(DELIVERY_STAGES, ['endpoint', 'account', 'shared place', 'plugin']);
  assert.deepEqual(
    [endpointStage, accountStage, sharedPlaceStage, pluginStage].map((s) => s.name),
    [...DELIVERY_STAGES],
  );
});

test('an endpoint no longer in the config is held back by the endpoint stage, saying so', () => {
  let asked = false;
  const { d } = deps({ endpoints: [], styles, accounts: {} });
  const res = deliveryPipeline('irc.gone/#old', {
    ...d,
    account: () => {
      asked = true;
      return undefined;
    },
  });
  assert.deepEqual(res, { ready: false, stage: 'endpoint', reason: 'irc.gone/#old is no longer in the config' });
  assert.equal(asked, false, 'no account is looked at for an endpoint that is gone');
});

test('an account that is not running, starting or stopped holds its endpoint back at the account stage', () => {
  const { h } = handle();
  const cases: [AccountView | undefined, string][] = [
    [undefined, 'account irc.net is not running'],
    [{ state: 'down' }, 'account irc.net is not running'],
    [
      { state: 'down', lastError: { message: 'connection refused by 127.0.0.1:6667' } },
      'account irc.net is not running (connection refused by 127.0.0.1:6667)',
    ],
    [{ state: 'starting', handle: h }, 'account irc.net is starting'],
    [{ state: 'stopped', handle: h }, 'account irc.net is stopped'],
  ];
  for (const [account, reason] of cases) {
    const { d } = deps({ endpoints: ['irc.net/#commons'], styles, accounts: account ? { 'irc.net': account } : {} });
    assert.deepEqual(
      deliveryPipeline('irc.net/#commons', d),
      { ready: false, stage: 'account', reason },
      `account ${JSON.stringify(account)}`,
    );
  }
});

test('an account with a handle that is connecting, retrying or down lets deliveries through (its plugin answers)', () => {
  for (const state of ['connecting', 'connected', 'retrying', 'down', 'banned', 'listening'] as const) {
    const { h } = handle();
    const { d, byKey } = deps({
      endpoints: ['mail.lists/commons'],
      styles,
      accounts: { 'mail.lists': { state, handle: h } },
    });
    const res = deliveryPipeline('mail.lists/commons', d);
    assert.equal(res.ready, true, state);
    assert.equal(res.ready && res.endpoint, byKey.get('mail.lists/commons'));
  }
});

test("the plugin stage carries the account's delivery window (unset: the outbox delivers one at a time)", () => {
  for (const window of [undefined, 8]) {
    const { h } = handle({ window });
    const { d } = deps({
      endpoints: ['irc.net/#c'],
      styles,
      accounts: { 'irc.net': { state: 'connected', handle: h } },
    });
    const res = deliveryPipeline('irc.net/#c', d);
    assert.ok(res.ready);
    assert.equal(res.window, window);
  }
});

test('a post to an article place goes straight to the plugin, past the shared-place memory', async () => {
  const { h, sent } = handle({ refresh: true });
  const { d, places, byKey } = deps({
    endpoints: ['mail.lists/commons'],
    styles,
    accounts: { 'mail.lists': { state: 'connected', handle: h } },
  });
  const res = deliveryPipeline('mail.lists/commons', d);
  assert.ok(res.ready);
  const p = post('message');
  const to = target(byKey.get('mail.lists/commons')!);
  assert.deepEqual(await res.deliver(p, to), delivered('native-1'));
  assert.equal(places.length, 0, 'the shared-place memory is not asked');
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.post, p);
  assert.equal(sent[0]!.to, to);
});

test('a digest to an article place goes through the shared-place memory, which can look at the place again', async () => {
  const { h, sent, refreshed } = handle({ refresh: true });
  const origin = handle({ refresh: true });
  const { d, places, byKey } = deps({
    endpoints: ['nntp.peer/peerpost.commons', 'irc.net/#commons'],
    styles,
    accounts: {
      'nntp.peer': { state: 'connected', handle: h },
      'irc.net': { state: 'connected', handle: origin.h },
    },
  });
  const res = deliveryPipeline('nntp.peer/peerpost.commons', d);
  assert.ok(res.ready);
  const digest = post('digest', { account: 'irc.net', target: '#commons' });
  const to = target(byKey.get('nntp.peer/peerpost.commons')!, 2);
  assert.deepEqual(await res.deliver(digest, to), delivered('native-1'));
  assert.equal(places.length, 1);
  const { place } = places[0]!;
  assert.equal(places[0]!.post, digest);
  assert.equal(place.endpoint, 'nntp.peer/peerpost.commons');
  assert.equal(place.chat, false);
  assert.equal(place.origin, 'irc.net/#commons');
  assert.equal(place.originShared, true, "the origin's account can look at its place again");
  assert.equal(place.attempt, 2);
  await place.refresh!();
  assert.deepEqual(refreshed, ['peerpost.commons'], 'refresh looks at the target of this endpoint');
  assert.equal(sent.length, 1, 'the memory handed the digest to the plugin');
  assert.equal(sent[0]!.to, to);
});

test('any post to a chat place goes through the shared-place memory; a place without refresh gets none', async () => {
  const { h, sent } = handle();
  const { d, places, byKey } = deps({
    endpoints: ['irc.net/#commons', 'mail.lists/commons'],
    styles,
    accounts: {
      'irc.net': { state: 'connected', handle: h },
      'mail.lists': { state: 'listening', handle: handle().h },
    },
  });
  const res = deliveryPipeline('irc.net/#commons', d);
  assert.ok(res.ready);
  const p = post('message', { account: 'mail.lists', target: 'commons' });
  await res.deliver(p, target(byKey.get('irc.net/#commons')!));
  assert.equal(places.length, 1);
  const { place } = places[0]!;
  assert.equal(place.chat, true);
  assert.equal(place.origin, 'mail.lists/commons');
  assert.equal(place.originShared, false, "the mail account cannot look at its list again: this node's own place");
  assert.equal(place.refresh, undefined);
  assert.equal(sent.length, 1);
});

test("a post's origin is looked up when it is delivered, in the routing of that moment (a reload replaces it)", async () => {
  const { h } = handle();
  const { d, places, byKey } = deps({
    endpoints: ['irc.net/#commons'],
    styles,
    accounts: { 'irc.net': { state: 'connected', handle: h } },
  });
  let router = d.router();
  const res = deliveryPipeline('irc.net/#commons', { ...d, router: () => router });
  assert.ok(res.ready);
  const reloaded = endpoint('nntp.peer/peerpost.commons');
  router = { ...router, endpointAt: (a, t) => (`${a}/${t}` === reloaded.key ? reloaded : undefined) };
  await res.deliver(post('message'), target(byKey.get('irc.net/#commons')!));
  assert.equal(places[0]!.place.origin, 'nntp.peer/peerpost.commons');
});

test("with the real outbox: a stopped account's rows wait, the log names the stage and the reason, then go out through the stages", async (t) => {
  const config = makeConfig({ 'irc.a': 'chat', 'irc.b': 'chat' }, { commons: { endpoints: ['irc.a/#c', 'irc.b/#c'] } });
  const store = Store.open(':memory:');
  const router = new Router(
    config,
    new Map<string, Style>([
      ['irc.a', 'chat'],
      ['irc.b', 'chat'],
    ]),
  );
  const logged: { msg: string; endpoint?: string; stage?: string; reason?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void logged.push(JSON.parse(s)) });
  const { h, sent } = handle();
  const accounts: Record<string, AccountView> = { 'irc.b': { state: 'stopped', handle: h } };
  const viaMemory: string[] = [];
  const outbox = new Outbox(
    store,
    config.delivery,
    (key) =>
      deliveryPipeline(key, {
        router: () => router,
        account: (name) => accounts[name],
        digestsOut: {
          deliver: (p, place) => {
            viaMemory.push(place.endpoint);
            return place.deliver(p);
          },
          straight: () => true,
        },
      }),
    log,
  );
  const { core, keeper } = ingestPipeline(store, router, config, outbox, { core: silent, digests: silent });
  t.after(async () => {
    core.close();
    keeper.close();
    await outbox.stop(100);
    store.close();
  });
  outbox.start();
  await core.ingest('irc.a', line('#c', 'alice', 'hello'));
  await settle();
  assert.equal(sent.length, 0, 'nothing goes to a stopped account');
  const wait = logged.find((l) => l.endpoint === 'irc.b/#c' && l.stage);
  assert.deepEqual(wait && { msg: wait.msg, stage: wait.stage, reason: wait.reason }, {
    msg: 'deliveries to irc.b/#c wait: account irc.b is stopped',
    stage: 'account',
    reason: 'account irc.b is stopped',
  });
  assert.equal(outbox.waiting.get('irc.b/#c')?.reason, 'account irc.b is stopped', 'status shows why');

  accounts['irc.b'] = { state: 'connected', handle: h };
  outbox.kick('irc.b/#c');
  await settle();
  assert.deepEqual(
    sent.map((s) => s.post.body),
    ['hello'],
  );
  assert.deepEqual(viaMemory, ['irc.b/#c'], 'a post to a chat place went through the shared-place memory');
  assert.equal(store.listOutbox().length, 0, 'the row left the outbox');
});
