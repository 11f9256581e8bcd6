import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, shapeFor, flavourOf, startsWithCommand } from '../../src/ingest/router.js';
import { makeConfig } from '../helpers/core-fixture.js';
import type { Post } from '../../src/post.js';
import type { TargetKey } from '../../src/plugin.js';
import irc from '../../plugins/irc/index.js';
import { caseFold } from '../../plugins/irc/casemap.js';

const post = (over: Partial<Post> = {}): Post => ({
  id: 'x@y',
  bridge: 'commons',
  origin: { account: 'irc.a', target: '#commons' },
  author: { name: 'alice', via: 'irc' },
  body: 'hello',
  kind: 'message',
  references: [],
  hops: 0,
  date: new Date(0).toISOString(),
  attachments: [],
  ...over,
});

test('default shapes by protocol pair follow docs/design.md', () => {
  assert.equal(shapeFor('chat', 'chat', undefined), 'stream');
  assert.equal(shapeFor('chat', 'article', undefined), 'digest');
  assert.equal(shapeFor('article', 'chat', undefined), 'announce');
  assert.equal(shapeFor('article', 'article', undefined), 'stream');
  assert.equal(shapeFor('chat', 'plan', undefined), 'stream');
  assert.equal(shapeFor('article', 'feed', undefined), 'stream');
});

test('an explicit shape applies where it means something; other posts stream', () => {
  assert.equal(shapeFor('chat', 'article', 'stream'), 'stream');
  assert.equal(shapeFor('chat', 'article', 'command'), 'command');
  assert.equal(shapeFor('article', 'article', 'command'), 'stream');
  assert.equal(shapeFor('article', 'chat', 'stream'), 'stream');
  assert.equal(shapeFor('chat', 'chat', 'announce'), 'stream');
  assert.equal(shapeFor('chat', 'chat', 'digest'), 'digest');
});

test('flavour: chat lines from chat, articles from mail and news, the rest by content', () => {
  assert.equal(flavourOf({ body: 'hi', kind: 'message' }, 'chat'), 'chat');
  assert.equal(flavourOf({ body: 'hi', kind: 'message' }, 'article'), 'article');
  assert.equal(flavourOf({ body: 'hi', kind: 'message' }, undefined), 'chat');
  assert.equal(flavourOf({ body: 'hi', subject: 'S', kind: 'message' }, undefined), 'article');
  assert.equal(flavourOf({ body: 'a\nb', kind: 'message' }, 'feed'), 'article');
  assert.equal(flavourOf({ body: 'x', kind: 'digest' }, 'chat'), 'article');
});

const config = makeConfig(
  { 'irc.a': 'chat', 'irc.b': 'chat', 'mail.l': 'article', 'nntp.n': 'article', 'finger.f': 'plan', 'web.w': 'feed' },
  {
    commons: {
      endpoints: [
        'irc.a/#commons',
        'irc.b/#Commons',
        'mail.l/commons',
        { key: 'nntp.n/peerpost.commons', shape: 'command', prefix: '!news' },
        { key: 'finger.f/commons', direction: 'out' },
        { key: 'web.w/commons', direction: 'in' },
      ],
    },
    other: { endpoints: ['irc.a/#other', 'mail.l/other'] },
  },
);
const router = new Router(
  config,
  new Map(
    Object.entries({
      'irc.a': 'chat',
      'irc.b': 'chat',
      'mail.l': 'article',
      'nntp.n': 'article',
      'finger.f': 'plan',
      'web.w': 'feed',
    } as const),
  ),
);

test('a chat line reaches every other endpoint that receives, in its shape; never its origin or an in-only endpoint', () => {
  const plan = router.plan(post(), 'irc.a/#commons', 'chat');
  assert.deepEqual(
    plan.deliveries.map((d) => [d.endpoint.key, d.shape]),
    [
      ['irc.b/#Commons', 'stream'],
      ['finger.f/commons', 'stream'],
    ],
  );
  assert.deepEqual(
    plan.digest.map((e) => e.key),
    ['mail.l/commons'],
  );
});

test('the command shape takes only lines that start with its prefix', () => {
  const plan = router.plan(post({ body: '!news the meeting moved' }), 'irc.a/#commons', 'chat');
  assert.ok(plan.deliveries.some((d) => d.endpoint.key === 'nntp.n/peerpost.commons' && d.shape === 'command'));
  assert.ok(
    !router
      .plan(post({ body: '!newsletter' }), 'irc.a/#commons', 'chat')
      .deliveries.some((d) => d.endpoint.key.startsWith('nntp')),
  );
  assert.equal(startsWithCommand('!post', '!post'), true);
  assert.equal(startsWithCommand('!posted', '!post'), false);
});

test('an article is announced to chat and streamed to mail and news', () => {
  const plan = router.plan(
    post({ origin: { account: 'mail.l', target: 'commons' }, subject: 'Meeting', body: 'Text' }),
    'mail.l/commons',
    'article',
  );
  assert.deepEqual(
    plan.deliveries.map((d) => [d.endpoint.key, d.shape]),
    [
      ['irc.a/#commons', 'announce'],
      ['irc.b/#Commons', 'announce'],
      ['nntp.n/peerpost.commons', 'stream'],
      ['finger.f/commons', 'stream'],
    ],
  );
  assert.equal(plan.digest.length, 0);
});

test('events (joins, parts) reach chat endpoints only', () => {
  const plan = router.plan(post({ kind: 'event', body: 'alice joined' }), 'irc.a/#commons', 'chat');
  assert.deepEqual(
    plan.deliveries.map((d) => d.endpoint.key),
    ['irc.b/#Commons'],
  );
  assert.equal(plan.digest.length, 0);
});

test('posts stay inside their bridge', () => {
  const plan = router.plan(post({ bridge: 'other' }), 'irc.a/#other', 'chat');
  assert.deepEqual(
    plan.deliveries.map((d) => d.endpoint.key),
    [],
  );
  assert.deepEqual(
    plan.digest.map((e) => e.key),
    ['mail.l/other'],
  );
});

test("targets match by their plugin's rule (IRC: case-folded by CASEMAPPING); without one, exactly", () => {
  const styles = new Map(Object.entries({ 'irc.a': 'chat', 'irc.b': 'chat', 'mail.l': 'article' } as const));
  // What the daemon gives the router: the running account's rule (its server's ISUPPORT), else its plugin's.
  let learnt: TargetKey | undefined;
  const keyed = new Router(config, styles, new Set(), (account) =>
    account.startsWith('irc.') ? (learnt ?? irc.targetKey) : undefined,
  );
  assert.equal(keyed.endpointAt('irc.b', '#COMMONS')?.key, 'irc.b/#Commons');
  assert.equal(keyed.endpointAt('irc.a', '#Other')?.key, 'irc.a/#other');
  assert.equal(keyed.endpointAt('mail.l', 'Commons'), undefined, 'a list name compares exactly');
  assert.equal(keyed.endpointAt('mail.l', 'commons')?.bridge, 'commons');
  assert.equal(router.endpointAt('irc.b', '#COMMONS'), undefined, 'a plugin without a rule: exactly');
  assert.equal(router.endpointAt('irc.b', '#Commons')?.key, 'irc.b/#Commons');

  const brackets = makeConfig({ 'irc.a': 'chat' }, { b: { endpoints: ['irc.a/#team[x]'] } });
  learnt = undefined;
  const r = new Router(brackets, new Map([['irc.a', 'chat']]), new Set(), () => learnt ?? irc.targetKey);
  assert.equal(r.endpointAt('irc.a', '#TEAM{X}')?.key, 'irc.a/#team[x]', 'rfc1459 until the server says');
  learnt = caseFold('ascii');
  assert.equal(r.endpointAt('irc.a', '#TEAM{X}'), undefined, 'the server said CASEMAPPING=ascii');
  assert.equal(r.endpointAt('irc.a', '#TEAM[X]')?.key, 'irc.a/#team[x]');
});

test('digest endpoints of a bridge', () => {
  assert.deepEqual(
    router.digestEndpoints('commons').map((e) => e.key),
    ['mail.l/commons'],
  );
});

test('a plugin that echoes (a mailing list) gets a post that came through it back, once, as a stream; others never do', () => {
  const echoing = new Router(
    config,
    new Map(
      Object.entries({
        'irc.a': 'chat',
        'irc.b': 'chat',
        'mail.l': 'article',
        'nntp.n': 'article',
        'finger.f': 'plan',
        'web.w': 'feed',
      } as const),
    ),
    new Set(['mail.l']),
  );
  const fromMail = echoing.plan(
    post({ origin: { account: 'mail.l', target: 'commons' }, subject: 'Meeting', body: 'Text' }),
    'mail.l/commons',
    'article',
  );
  assert.deepEqual(
    fromMail.deliveries.filter((d) => d.endpoint.key === 'mail.l/commons').map((d) => d.shape),
    ['stream'],
    "the list sends a member's post to its subscribers",
  );
  const fromIrc = echoing.plan(post(), 'irc.a/#commons', 'chat');
  assert.ok(!fromIrc.deliveries.some((d) => d.endpoint.key === 'irc.a/#commons'), 'a channel is not echoed');
  assert.deepEqual(
    fromIrc.digest.map((e) => e.key),
    ['mail.l/commons'],
    'and the list still gets chat as a digest, once',
  );
});

test('a digest (here, or from another node by news or mail) never goes to chat: its lines were said there already', () => {
  const fromNews = router.plan(
    post({
      kind: 'digest',
      origin: { account: 'nntp.n', target: 'peerpost.commons' },
      subject: '[#commons] conversation',
    }),
    'nntp.n/peerpost.commons',
    'article',
  );
  assert.ok(!fromNews.deliveries.some((d) => d.endpoint.key.startsWith('irc.')), 'not announced in the channels');
  assert.ok(
    fromNews.deliveries.some((d) => d.endpoint.key === 'mail.l/commons'),
    'the list still gets it',
  );
});
