/**
 * What waits outside the outbox (src/runtime/waiting.ts): when a conversation closes at the latest, how it and robot mail
 * read in `peerpost outbox` / `peerpost status`, and what counts as waiting too long for /healthz.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clock,
  collectWaiting,
  conversationLine,
  lateReasons,
  openConversations,
  waitingLine,
  type DigestBuffer,
} from '../../src/runtime/waiting.js';
import type { PeerpostConfig } from '../../src/config/types.js';
import type { PluginDefinition, QueueWaiting } from '../../src/plugin.js';
import type { StoredPost } from '../../src/post.js';

const MIN = 60_000;
const at = (h: number, m: number) => new Date(2026, 11, 4, h, m).getTime();

const line = (account: string, target: string, via: string) =>
  ({ post: { origin: { account, target }, author: { name: 'alice', via } } as StoredPost }) as { post: StoredPost };

const config = {
  accounts: { 'irc.libera': {}, 'mail.lists': {} },
  bridges: { commons: { digest: { quietMs: 10 * MIN, maxAgeMs: 120 * MIN, maxLines: 100, settleMs: 10_000 } } },
} as unknown as PeerpostConfig;

test('a conversation closes at the latest quiet after its last line, or maxAge after its first, whichever is sooner', () => {
  const buffer = (first: number, last: number): DigestBuffer => ({
    digestSummary: () => [{ bridge: 'commons', n: 3, first, last }],
    digestLines: () => [
      line('irc.libera', '#commons', 'irc'),
      line('irc.libera', '#commons', 'irc'),
      line('cli', 'cli', 'cli'),
    ],
  });
  const [quiet] = openConversations(buffer(at(14, 0), at(14, 22)), config);
  assert.deepEqual(quiet, {
    bridge: 'commons',
    lines: 3,
    places: ['#commons', 'peerpost post'],
    first: at(14, 0),
    last: at(14, 22),
    closesBy: at(14, 32),
  });
  const [old] = openConversations(buffer(at(12, 30), at(14, 25)), config);
  assert.equal(old!.closesBy, at(14, 30), 'two hours after the first line comes before ten minutes of quiet');
  const [unknown] = openConversations(
    { digestSummary: () => [{ bridge: 'gone', n: 1, first: at(9, 0), last: at(9, 0) }], digestLines: () => [] },
    config,
  );
  assert.equal(unknown!.closesBy, at(9, 10), 'a bridge no longer in the config: the default quiet (10m)');
});

test('how an open conversation reads', () => {
  const c = {
    bridge: 'commons',
    lines: 3,
    places: ['#commons'],
    first: at(14, 0),
    last: at(14, 22),
    closesBy: at(14, 32),
  };
  assert.equal(
    conversationLine(c, at(14, 23)),
    '3 lines of #commons (bridge commons) wait for the conversation to close, at the latest 14:32',
  );
  assert.equal(
    conversationLine({ ...c, lines: 1 }, at(14, 23)),
    '1 line of #commons (bridge commons) waits for the conversation to close, at the latest 14:32',
  );
  assert.match(conversationLine(c, at(15, 0)), /due since 14:32 \(it closes as soon as peerpost runs\)$/);
  assert.match(
    conversationLine(c, at(14, 23), false),
    /, at the latest 14:32 if peerpost runs by then \(it does not run now\)$/,
    'no daemon: nothing closes it until one starts',
  );
  assert.equal(clock(at(14, 32), at(9, 0) - 86_400_000), '2026-12-04 14:32', 'another day: with the date');
});

const robot: QueueWaiting = {
  account: 'mail.lists',
  name: 'robot_mail',
  what: 'robot mail waiting for the smarthost',
  count: 3,
  oldest: at(14, 0),
  lastError: 'connect ECONNREFUSED 127.0.0.1:25',
  nextAt: at(14, 12) + 40_000,
};

test('how robot mail waiting reads', () => {
  assert.equal(
    waitingLine(robot, at(14, 12)),
    'robot mail waiting for the smarthost (mail.lists): 3, oldest 12m, next try in 40s; last error: connect ECONNREFUSED 127.0.0.1:25',
  );
  assert.equal(
    waitingLine({ ...robot, count: 0, oldest: null, nextAt: null, lastError: null }, at(14, 12)),
    'robot mail waiting for the smarthost (mail.lists): 0',
  );
});

test('waiting too long: an outbox row or robot mail older than delivery.alertAfter, and nothing else', () => {
  const now = at(16, 0);
  const outbox = [
    { endpoint: 'mail.lists/commons', pending: 2, oldest: at(14, 30) },
    { endpoint: 'irc.libera/#commons', pending: 1, oldest: at(15, 30) },
    { endpoint: 'nntp.local/peerpost.commons', pending: 0, oldest: null },
  ];
  assert.deepEqual(lateReasons(outbox, [robot], 60 * MIN, now), [
    'outbox: 2 deliveries to mail.lists/commons waiting, the oldest for 1h30m, longer than delivery.alertAfter (1h)',
    'mail.lists: robot mail waiting for the smarthost: 3, the oldest for 2h, longer than delivery.alertAfter (1h)',
  ]);
  assert.deepEqual(lateReasons(outbox, [robot], 3 * 60 * MIN, now), [], 'all younger than 3h');
  assert.deepEqual(lateReasons([], [{ ...robot, count: 0, oldest: null }], MIN, now), []);
  for (const l of lateReasons(outbox, [robot], MIN, now))
    assert.doesNotMatch(l, /ECONNREFUSED|127\.0\.0\.1/, 'no error texts or hosts: /healthz shows these lines');
});

test('collectWaiting asks each plugin with a waiting() about its accounts; one that throws is reported, not fatal', () => {
  const defs = new Map<string, PluginDefinition>([
    ['mail', { waiting: (accounts) => accounts.map(() => robot) } as PluginDefinition],
    [
      'broken',
      {
        waiting: () => {
          throw new Error('no table');
        },
      } as unknown as PluginDefinition,
    ],
    ['irc', {} as PluginDefinition],
    ['unused', { waiting: () => [robot, robot] } as unknown as PluginDefinition],
  ]);
  const errors: string[] = [];
  const got = collectWaiting(
    defs,
    (p) => (p === 'unused' ? [] : ([{ account: `${p}.x` }] as never)),
    (p, e) => errors.push(`${p}: ${(e as Error).message}`),
  );
  assert.deepEqual(got, [robot]);
  assert.deepEqual(errors, ['broken: no table']);
});
