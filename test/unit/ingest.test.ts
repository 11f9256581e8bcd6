import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, settle, line } from '../helpers/core-fixture.js';

const accounts = { 'irc.a': 'chat', 'irc.b': 'chat', 'mail.l': 'article', 'web.w': 'feed' } as const;
const bridges = {
  commons: {
    endpoints: ['irc.a/#commons', 'irc.b/#commons', { key: 'web.w/commons', direction: 'out' as const }],
    ignoreNicks: ['SpamBot'],
    ignorePatterns: [/^\[off\]/],
    replace: [{ pattern: /colour/g, with: 'color' }],
  },
};

test('ingest stores the post and one outbox row per target endpoint, in one go', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.outbox.kick = () => undefined; // look at the rows before they are delivered
  const v = await f.core.ingest('irc.a', line('#commons', 'alice', 'hello'));
  assert.equal(v.status, 'accepted');
  if (v.status !== 'accepted') return;
  assert.match(v.id, /^[0-9a-f-]{36}@test\.example$/, 'a minted id is <uuid@node.hostname>');
  const stored = f.store.getPost(v.id)!;
  assert.equal(stored.bridge, 'commons');
  assert.deepEqual(stored.origin, { account: 'irc.a', target: '#commons' });
  assert.deepEqual(
    f.store.listOutbox().map((r) => [r.endpoint, r.shape]),
    [
      ['irc.b/#commons', 'stream'],
      ['web.w/commons', 'stream'],
    ],
  );
});

test('the same id twice is accepted once: one post, one set of deliveries', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const first = await f.core.ingest('irc.a', line('#commons', 'alice', 'hello', { id: '<abc@example.org>' }));
  const again = await f.core.ingest('irc.b', line('#commons', 'alice', 'hello', { id: 'abc@example.org' }));
  assert.equal(first.status, 'accepted');
  assert.deepEqual(again, { status: 'duplicate', id: 'abc@example.org' });
  await settle();
  assert.equal(f.attempts.length, 2, 'delivered to irc.b and web.w once each');
  assert.deepEqual(f.attempts.map((a) => a.endpoint).sort(), ['irc.b/#commons', 'web.w/commons']);
});

test('a post held already is a duplicate whatever else is said of it; the same id twice in one turn is taken once', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  assert.equal(
    (await f.core.ingest('irc.a', line('#commons', 'alice', 'hi', { id: 'held@example.org' }))).status,
    'accepted',
  );
  // Held: looked up in the commit's transaction, or before any other refusal (an ignored nick, an ignored pattern).
  const dup = { status: 'duplicate', id: 'held@example.org' };
  assert.deepEqual(await f.core.ingest('irc.b', line('#commons', 'alice', 'hi', { id: 'held@example.org' })), dup);
  assert.deepEqual(await f.core.ingest('irc.b', line('#commons', 'SpamBot', 'hi', { id: 'held@example.org' })), dup);
  assert.deepEqual(await f.core.ingest('irc.b', line('#commons', 'bob', '[off] hi', { id: 'held@example.org' })), dup);
  // Two in one group commit: the first is taken, the second is its duplicate.
  const [a, b] = await Promise.all([
    f.core.ingest('irc.a', line('#commons', 'alice', 'one', { id: 'twice@example.org' })),
    f.core.ingest('irc.b', line('#commons', 'bob', 'two', { id: 'twice@example.org' })),
  ]);
  assert.equal(a.status, 'accepted');
  assert.deepEqual(b, { status: 'duplicate', id: 'twice@example.org' });
  assert.equal(f.store.getPost('twice@example.org')!.body, 'one');
  assert.equal(f.store.countPosts('commons'), 2);
  assert.deepEqual(f.core.stats.get('irc.b'), { accepted: 0, duplicate: 4, ignored: 0, rejected: 0, tempfail: 0 });
});

test('loop guard: a post past node.maxHops is refused; at the limit it passes', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const over = await f.core.ingest('irc.a', line('#commons', 'alice', 'x', { hops: 6 }));
  assert.equal(over.status, 'rejected');
  assert.equal((over as { code: string }).code, 'loop');
  assert.match((over as { reason: string }).reason, /crossed 6 relays \(node\.maxHops is 5\)/);
  assert.equal((await f.core.ingest('irc.a', line('#commons', 'alice', 'y', { hops: 5 }))).status, 'accepted');
});

test('posts from unknown endpoints and out-only endpoints are refused with a reason', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  assert.deepEqual(await f.core.ingest('irc.a', line('#elsewhere', 'a', 'x')), {
    status: 'rejected',
    code: 'no-endpoint',
    reason: 'irc.a/#elsewhere is not an endpoint of any bridge',
  });
  const out = await f.core.ingest('web.w', line('commons', 'a', 'x'));
  assert.equal(out.status, 'rejected');
  assert.equal((out as { code: string }).code, 'receive-only');
  assert.match((out as { reason: string }).reason, /only receives/);
  assert.equal(f.store.countPosts('commons'), 0);
});

test('ignored nicks (any case) and patterns are not relayed, and say why', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const nick = await f.core.ingest('irc.a', line('#commons', 'spambot', 'buy'));
  assert.equal(nick.status, 'ignored');
  assert.match((nick as { reason: string }).reason, /ignore\.nicks/);
  const pat = await f.core.ingest('irc.a', line('#commons', 'bob', '[off] aside'));
  assert.equal(pat.status, 'ignored');
  assert.equal(f.store.countPosts('commons'), 0);
  assert.equal(f.store.listOutbox().length, 0);
});

test('replacements rewrite the text before it is stored', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const v = await f.core.ingest('irc.a', line('#commons', 'bob', 'my colour, your colour'));
  assert.equal(f.store.getPost((v as { id: string }).id)!.body, 'my color, your color');
});

test('unusable Message-IDs are refused', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  assert.deepEqual(
    Object.entries(await f.core.ingest('irc.a', line('#commons', 'a', 'x', { id: 'no at sign' }))).filter(
      ([k]) => k !== 'reason',
    ),
    [
      ['status', 'rejected'],
      ['code', 'invalid'],
    ],
  );
  assert.equal(
    (await f.core.ingest('irc.a', line('#commons', 'a', 'x', { id: `${'a'.repeat(250)}@x` }))).status,
    'rejected',
  );
  assert.equal((await f.core.ingest('irc.a', line('#commons', 'a', 'x', { id: 'ok@x' }))).status, 'accepted');
});

test('the write is one transaction: a failure midway stores nothing', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const orig = f.store.addDelivery.bind(f.store);
  let n = 0;
  f.store.addDelivery = (...args) => {
    if (++n === 2) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    return orig(...args);
  };
  const v = await f.core.ingest('irc.a', line('#commons', 'a', 'x', { id: 'atomic@x' }));
  assert.equal(v.status, 'tempfail', 'an I/O error is a temporary refusal (SMTP 451, NNTP 436)');
  assert.equal((v as { code: string }).code, 'store-unavailable');
  assert.equal(f.store.hasPost('atomic@x'), false);
  assert.equal(f.store.listOutbox().length, 0);
  f.store.addDelivery = orig;
  assert.equal(
    (await f.core.ingest('irc.a', line('#commons', 'a', 'x', { id: 'atomic@x' }))).status,
    'accepted',
    'the sender retries and it goes through',
  );
});

test('a refusal by the store says which: full, unavailable for now, or failed', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const orig = f.store.insertPost.bind(f.store);
  const codeWhen = async (sqlite: string) => {
    f.store.insertPost = () => {
      throw Object.assign(new Error('whatever the library says'), { code: sqlite });
    };
    const v = await f.core.ingest('irc.a', line('#commons', 'a', 'x'));
    f.store.insertPost = orig;
    assert.equal(v.status, 'tempfail');
    return (v as { code: string }).code;
  };
  assert.equal(await codeWhen('SQLITE_FULL'), 'store-full');
  assert.equal(await codeWhen('SQLITE_BUSY'), 'store-unavailable');
  assert.equal(await codeWhen('SQLITE_CORRUPT'), 'store-failed');
});

test('after close() (shutdown) new posts get a temporary refusal', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.core.close();
  const v = await f.core.ingest('irc.a', line('#commons', 'a', 'x'));
  assert.equal(v.status, 'tempfail');
  assert.equal((v as { code: string }).code, 'shutting-down');
});

test('inject puts a post into a bridge from outside any endpoint', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const v = await f.core.inject('commons', {
    target: 'operator',
    author: { name: 'operator', via: 'cli' },
    body: 'maintenance tonight',
  });
  assert.equal(v.status, 'accepted');
  await settle();
  assert.deepEqual(f.attempts.map((a) => a.endpoint).sort(), ['irc.a/#commons', 'irc.b/#commons', 'web.w/commons']);
  const none = await f.core.inject('nope', { target: 'x', author: { name: 'x', via: 'cli' }, body: 'x' });
  assert.equal(none.status, 'rejected');
  assert.equal((none as { code: string }).code, 'no-bridge');
});

test('posts arriving together are committed together, in order; one that cannot be written does not take the others with it', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  f.outbox.kick = () => undefined;
  const orig = f.store.insertPost.bind(f.store);
  f.store.insertPost = (post, now) => {
    if (post.body === 'poison') throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    return orig(post, now);
  };
  const verdicts = await Promise.all(
    ['one', 'poison', 'three'].map((body) => f.core.ingest('irc.a', line('#commons', 'a', body))),
  );
  assert.deepEqual(
    verdicts.map((v) => v.status),
    ['accepted', 'tempfail', 'accepted'],
  );
  assert.deepEqual(
    f.store
      .latestPosts('commons')
      .map((p) => p.body)
      .reverse(),
    ['one', 'three'],
  );
  assert.deepEqual(
    f.store.listOutbox({ endpoint: 'irc.b/#commons' }).map((r) => f.store.getPostBySeq(r.postSeq)!.body),
    ['one', 'three'],
  );
});

test('a node.hostname that makes the minted ids unusable refuses the posts, and a reload to a good one mends it', async (t) => {
  const f = fixture(accounts, bridges);
  t.after(() => f.close());
  const good = f.config.node.hostname;
  f.config.node.hostname = `${'h'.repeat(240)}.example`; // a UUID and "@" with it: over 250 octets
  const refused = await f.core.ingest('irc.a', line('#commons', 'alice', 'hello'));
  assert.equal(refused.status, 'rejected');
  if (refused.status === 'rejected') assert.match(refused.reason, /longer than 250 octets/);
  f.config.node.hostname = good;
  const v = await f.core.ingest('irc.a', line('#commons', 'alice', 'hello again'));
  assert.equal(v.status, 'accepted');
  if (v.status === 'accepted') assert.match(v.id, /^[0-9a-f-]{36}@test\.example$/);
});
