/**
 * What the core asks of its store, run on a fresh Store and written down as plain data: the unit test runs it on
 * SQLite and checks the figures a person would (seqs, order, what a removal leaves); the PostgreSQL integration test
 * (issue 17) runs it on both and requires the same record. No sockets here: the Store given decides.
 */
import type { Post } from '../../src/post.js';
import type { Store } from '../../src/store.js';
import { removePosts, tombstoneOf } from '../../src/archive/removal.js';
import { searchArchive } from '../../src/archive/search.js';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

export function scenarioPost(id: string, over: Partial<Post> = {}): Post {
  return {
    id,
    bridge: 'commons',
    origin: { account: 'irc.test', target: '#commons' },
    author: { name: 'alice', address: 'alice@example.org', via: 'irc' },
    subject: `subject of ${id}`,
    body: `the body of ${id}, with café and naïve words`,
    kind: 'message',
    references: [],
    hops: 0,
    date: new Date(T0).toISOString(),
    attachments: [],
    ...over,
  };
}

const ids = (posts: { id: string }[]) => posts.map((p) => p.id);

/** Run every core operation once, in a fixed order; the record says what each returned. */
export function storeScenario(store: Store): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  // Posts: seqs in order, a duplicate id refused, the stored post read back whole.
  const bob = {
    author: { name: 'Bob Builder', address: 'bob@builders.example', via: 'mail' },
    subject: 'Garden plans',
    body: 'A meeting about the garden, at the Café Müller.',
  };
  const seqs = ['a@x', 'b@x', 'c@x'].map((id, i) =>
    store.insertPost(scenarioPost(id, id === 'c@x' ? bob : {}), T0 + i),
  );
  r.seqs = seqs;
  r.duplicate = store.insertPost(scenarioPost('a@x'), T0 + 10);
  const a = store.getPost('a@x');
  r.readBack = a && { seq: a.seq, body: a.body, author: a.author, receivedAt: a.receivedAt };
  r.has = [store.hasPost('b@x'), store.hasPost('nope@x')];
  r.bySeq = store.getPostBySeq(2)?.id;
  // A thread: replies name their root; an imported post placed by its own (earlier) date.
  store.insertPost(scenarioPost('r1@x', { inReplyTo: 'a@x', references: ['a@x'] }), T0 + 20);
  store.insertPost(scenarioPost('r2@x', { inReplyTo: 'r1@x', references: ['a@x', 'r1@x'] }), T0 + 21);
  store.insertPost(scenarioPost('old@x', { date: new Date(T0 - 86_400_000).toISOString() }), T0 + 22, {
    imported: true,
  });
  store.insertPost(scenarioPost('other@x', { bridge: 'elsewhere' }), T0 + 23);
  r.thread = ids(store.threadPosts('r2@x'));
  r.latest = ids(store.latestPosts('commons', 3));
  const page1 = store.latestPosts('commons', 3);
  r.latestPage2 = ids(store.latestPosts('commons', 3, page1.at(-1)!.seq));
  r.since = ids(store.postsSince('commons', 1));
  r.count = store.countPosts('commons');
  r.byBridge = store.countPostsByBridge();
  const page = store.archivePage({ bridge: 'commons' }, undefined, 100);
  r.export = ids(page.posts);
  // Search (sort:date: an order both ranking functions agree on): folded words, a phrase, a prefix, columns, NOT.
  const found = (query: string, index: 'full' | 'public' = 'full') =>
    ids(searchArchive(store.db, query, { index, limit: 3 }).hits.map((h) => h.post));
  r.search = {
    word: found('garden'),
    folded: found('MULLER cafe'),
    phrase: found('"the garden"'),
    phraseOrder: found('"garden the"'),
    prefix: found('gard*'),
    subject: found('subject:garden'),
    notSubject: found('subject:meeting'),
    author: found('author:bob'),
    authorAddress: found('author:builders'),
    address: found('builders'),
    addressPublic: found('builders', 'public'),
    authorPublic: found('author:builder', 'public'),
    notWord: found('body -r1 -r2 -old -other sort:date'),
    allDate: found('body sort:date'),
    bridge: found('body bridge:elsewhere'),
    thread: found('body thread:r2@x sort:date'),
  };
  const paged = searchArchive(store.db, 'body sort:date', { limit: 2 });
  r.searchPage2 = ids(
    searchArchive(store.db, 'body sort:date', { limit: 2, cursor: paged.next! }).hits.map((h) => h.post),
  );
  // The outbox: order per endpoint, retry, dead, requeue, delivered.
  const rows = [1, 2, 3].map((seq) => store.addDelivery(seq, 'irc.test/#commons', 'chat', T0));
  store.addDelivery(1, 'mail.test/list', 'mail', T0);
  r.queue = store.queue('irc.test/#commons', 10).map((q) => [q.postId, q.attempts, q.state]);
  store.markRetry(rows[0]!, 1, T0 + 5000, 'connection refused');
  store.markDead(rows[1]!, 5, 'gave up', T0 + 6000);
  r.afterRetry = store.listOutbox().map((o) => [o.postId, o.endpoint, o.state, o.attempts, o.nextAt, o.lastError]);
  r.stats = store.outboxStats();
  r.pending = store.pendingEndpoints().sort();
  r.woken = store.wakeEndpoint('irc.test/#commons');
  r.requeued = store.requeueAllDead();
  store.markDelivered(rows[2]!);
  r.dropped = store.dropRow(rows[0]!)?.postId;
  r.outboxRow = store.outboxRow(rows[1]!)?.state;
  r.outboxLeft = store.listOutbox().map((o) => [o.postId, o.endpoint, o.state]);
  // Deliveries landed as the outbox records them: rows gone, native ids kept (on PostgreSQL written together, before
  // the outbox or the id map is read again); of a native id given twice, the later post.
  const landing = [1, 2].map((seq) => store.addDelivery(seq, 'nntp.test/g', 'news', T0));
  store.landDelivery(landing[0]!, { account: 'nntp.test', target: 'g', nativeId: '8', postId: 'a@x' });
  store.landDelivery(landing[1]!, { account: 'nntp.test', target: 'g', nativeId: '8', postId: 'c@x' });
  r.landedLeft = store.listOutbox().map((o) => [o.postId, o.endpoint, o.state]);
  r.landedId = store.postForNative('nntp.test', 'g', '8');
  // Key-value: JSON values, prefix listing, delete.
  store.kvSet('irc.test', 'seen:#a', { at: 1, id: 'x' });
  store.kvSet('irc.test', 'seen:#b', [1, 2]);
  store.kvSet('irc.test', 'seen:#b', [3]);
  store.kvSet('irc.test', 'other', 'v');
  r.kv = [store.kvGet('irc.test', 'seen:#a'), store.kvGet('irc.test', 'seen:#b'), store.kvKeys('irc.test', 'seen:')];
  store.kvDelete('irc.test', 'seen:#a');
  r.kvAfter = store.kvKeys('irc.test');
  // The id map: a native id set twice keeps the newer post.
  store.setNativeId('nntp.test', 'g', '7', 'a@x');
  store.setNativeId('nntp.test', 'g', '7', 'b@x');
  r.ids = [store.postForNative('nntp.test', 'g', '7'), store.nativeForPost('b@x', 'nntp.test', 'g')];
  // Digest lines and the posts a digest holds.
  store.addDigestLine('commons', 1, T0 + 1);
  store.addDigestLine('commons', 2, T0 + 2);
  const lines = store.digestLines('commons');
  r.digestLines = lines.map((l) => [l.at, l.post.id]);
  r.digestSummary = store.digestSummary();
  store.clearDigestLines('commons', lines[0]!.id);
  r.digestLeft = store.digestLines('commons').map((l) => l.post.id);
  const digestSeq = store.insertPost(scenarioPost('digest1@x', { kind: 'digest' }), T0 + 30)!;
  store.setDigestPosts(digestSeq, [2, 1]);
  r.digestPosts = ids(store.digestPosts('digest1@x'));
  // A transaction that throws leaves nothing.
  try {
    store.transaction(() => {
      store.insertPost(scenarioPost('rolled@x'), T0 + 40);
      throw new Error('no');
    });
  } catch {
    /* expected */
  }
  r.rolledBack = store.hasPost('rolled@x');
  // Removal: the newest post removed; its seq is never given again; its id never comes back.
  const newest = store.insertPost(scenarioPost('newest@x'), T0 + 50)!;
  const removed = removePosts(
    store,
    { ids: ['newest@x', 'never@x'] },
    {
      reason: 'asked',
      by: 'op',
      cause: 'removed',
      now: T0 + 60,
    },
  );
  r.removal = { removed: removed.removed.map((p) => [p.id, p.dropped]), blocked: removed.blocked };
  r.tombstone = tombstoneOf(store, 'newest@x')?.reason;
  r.again = store.insertPost(scenarioPost('newest@x'), T0 + 70);
  r.nextSeq = (store.insertPost(scenarioPost('after@x'), T0 + 80) ?? 0) - newest;
  r.byAuthor = removePosts(
    store,
    { author: 'ALICE@example.org' },
    {
      reason: 'gone',
      by: 'op',
      cause: 'removed',
      now: T0 + 90,
      limit: 2,
    },
  ).removed.map((p) => p.id);
  r.writable = store.writable();
  return r;
}

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
  landedLeft: [
    ['b@x', IRC, 'pending'],
    ['a@x', 'mail.test/list', 'pending'],
  ],
  landedId: 'c@x',
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
