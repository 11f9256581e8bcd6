/**
 * The store scenario (test/helpers/store-scenarios.ts) on SQLite: what each core operation returns. The same
 * scenario runs on PostgreSQL in test/integration/store-pg.test.ts and must give this record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store.js';
import { storeScenario } from '../helpers/store-scenarios.js';

test('the store scenario on SQLite: seqs, order, outbox, kv, id map, digests, removal', () => {
  const store = Store.open(':memory:');
  const r = storeScenario(store);
  store.close();
  assert.deepEqual(r, EXPECTED);
});

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const IRC = 'irc.test/#commons';

/** What a person checks: seqs in order, duplicates refused, pages by place, the outbox's states, nothing reused. */
export const EXPECTED: Record<string, unknown> = {
  seqs: [1, 2, 3],
  duplicate: undefined,
  readBack: {
    seq: 1,
    body: 'the body of a@x, with café and naïve words',
    author: { name: 'alice', address: 'alice@example.org', via: 'irc' },
    receivedAt: new Date(T0).toISOString(),
  },
  has: [true, false],
  bySeq: 'b@x',
  thread: ['a@x', 'r1@x', 'r2@x'],
  latest: ['r2@x', 'r1@x', 'c@x'],
  latestPage2: ['b@x', 'a@x', 'old@x'],
  since: ['b@x', 'c@x', 'r1@x', 'r2@x'],
  count: 6,
  byBridge: { commons: 6, elsewhere: 1 },
  export: ['old@x', 'a@x', 'b@x', 'c@x', 'r1@x', 'r2@x'],
  search: {
    word: ['c@x'],
    folded: ['c@x'],
    phrase: ['c@x'],
    phraseOrder: [],
    prefix: ['c@x'],
    subject: ['c@x'],
    notSubject: [],
    author: ['c@x'],
    authorAddress: ['c@x'],
    address: ['c@x'],
    // The public index holds no address: bob@builders.example cannot be found by its domain there.
    addressPublic: [],
    authorPublic: ['c@x'],
    notWord: ['b@x', 'a@x'],
    allDate: ['other@x', 'r2@x', 'r1@x'],
    bridge: ['other@x'],
    thread: ['r2@x', 'r1@x', 'a@x'],
  },
  searchPage2: ['r1@x', 'b@x'],
  queue: [
    ['a@x', 0, 'pending'],
    ['b@x', 0, 'pending'],
    ['c@x', 0, 'pending'],
  ],
  afterRetry: [
    ['a@x', IRC, 'pending', 1, T0 + 5000, 'connection refused'],
    ['b@x', IRC, 'dead', 5, 0, 'gave up'],
    ['c@x', IRC, 'pending', 0, 0, null],
    ['a@x', 'mail.test/list', 'pending', 0, 0, null],
  ],
  stats: [
    { endpoint: IRC, pending: 2, dead: 1, oldest: T0 },
    { endpoint: 'mail.test/list', pending: 1, dead: 0, oldest: T0 },
  ],
  pending: [IRC, 'mail.test/list'],
  woken: 2,
  requeued: { count: 1, endpoints: [IRC] },
  dropped: 'a@x',
  outboxRow: 'pending',
  outboxLeft: [
    ['b@x', IRC, 'pending'],
    ['a@x', 'mail.test/list', 'pending'],
  ],
  kv: [{ at: 1, id: 'x' }, [3], ['seen:#a', 'seen:#b']],
  kvAfter: ['other', 'seen:#b'],
  ids: ['b@x', '7'],
  digestLines: [
    [T0 + 1, 'a@x'],
    [T0 + 2, 'b@x'],
  ],
  digestSummary: [{ bridge: 'commons', n: 2, first: T0 + 1, last: T0 + 2 }],
  digestLeft: ['b@x'],
  digestPosts: ['b@x', 'a@x'],
  rolledBack: false,
  removal: { removed: [['newest@x', 0]], blocked: ['never@x'] },
  tombstone: 'asked',
  again: undefined,
  nextSeq: 1,
  byAuthor: ['a@x', 'b@x'],
  writable: true,
};
