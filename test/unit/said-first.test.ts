/**
 * Said first (docs/design.md): a chat line nothing can give again (IncomingPost.volatile), alone in its commit, is
 * said before the commit by the chat endpoints that can say it at once (AccountHandle.sayFirst) and have nothing
 * else to deliver; its delivery after the commit follows as usual. No sockets: the core, the store and the outbox,
 * with fake plugins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, settle, line } from '../helpers/core-fixture.js';
import type { Post } from '../../src/post.js';
import type { FirstTarget, IncomingPost } from '../../src/plugin.js';
import { TokenBucket } from '../../plugins/irc/bucket.js';
import { FirstJournal } from '../../src/ingest/journal.js';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const accounts = { 'irc.a': 'chat', 'irc.b': 'chat', 'sink.s': 'article' } as const;
const bridges = { commons: { endpoints: ['irc.a/#c', 'irc.b/#c', { key: 'sink.s/x', shape: 'stream' as const }] } };

/** A fixture whose irc.b/#c says posts first (or not, per `can`), recording what it was asked. */
function withFirst(can: () => boolean = () => true) {
  const f = fixture(accounts, bridges);
  const asked: { post: Post; to: FirstTarget; said: boolean }[] = [];
  f.firsts.set('irc.b/#c', (post, to) => {
    assert.ok(
      f.noted.some((p) => p.id === post.id),
      'written ahead (the journal) before any place is told',
    );
    const said = can();
    asked.push({ post, to, said });
    return said;
  });
  return { f, asked };
}

const volatile = (body: string): IncomingPost => ({ ...line('#c', 'alice', body), volatile: true });

/** One line through the whole way, so that irc.b/#c's worker has run and knows it has nothing else to deliver. */
async function warm(f: ReturnType<typeof fixture>): Promise<void> {
  await f.core.ingest('irc.a', line('#c', 'alice', 'warm'));
  await settle();
}

test('a volatile line alone in its commit is said first, then delivered after its commit, once', async (t) => {
  const { f, asked } = withFirst();
  t.after(() => f.close());
  await warm(f);
  const inc = volatile('hello');
  const v = await f.core.ingest('irc.a', inc);
  assert.equal(v.status, 'accepted');
  assert.equal(asked.length, 1, 'said first once');
  assert.equal(asked[0]!.post.body, 'hello');
  assert.deepEqual(
    { endpoint: asked[0]!.to.endpoint, target: asked[0]!.to.target, shape: asked[0]!.to.shape },
    { endpoint: 'irc.b/#c', target: '#c', shape: 'stream' },
  );
  assert.equal(inc.id, asked[0]!.post.id, 'the minted id is kept on the post handed in (a retry keeps it)');
  await settle();
  const tries = f.attempts.filter((a) => a.endpoint === 'irc.b/#c' && a.post.body === 'hello');
  assert.equal(tries.length, 1, 'the delivery after the commit follows (the plugin confirms there)');
  assert.equal(tries[0]!.post.id, asked[0]!.post.id, 'with the same post id');
  assert.equal(f.attempts.filter((a) => a.endpoint === 'sink.s/x' && a.post.body === 'hello').length, 1);
  assert.equal(f.store.listOutbox().length, 0, 'nothing left pending');
  assert.ok(f.store.seen(asked[0]!.post.id) === 'held', 'the post is in the store');
});

test('not said first: a post something can give again, a post not alone in its commit, an endpoint with rows waiting', async (t) => {
  const { f, asked } = withFirst();
  t.after(() => f.close());
  await warm(f);
  // Not volatile (a mail, an IRC line known by its msgid under chathistory).
  await f.core.ingest('irc.a', line('#c', 'alice', 'plain'));
  assert.equal(asked.length, 0, 'a post that is not volatile waits for its commit');
  await settle();
  // Two in one turn: the first is alone when it comes; the second finds it waiting for the commit.
  const both = [f.core.ingest('irc.a', volatile('one')), f.core.ingest('irc.a', volatile('two'))];
  await Promise.all(both);
  assert.deepEqual(
    asked.map((a) => a.post.body),
    ['one'],
    'only the first of a group commit',
  );
  await settle();
  // irc.b/#c refuses for now: its row waits, so the next line must not jump ahead of it.
  f.deliverers.set('irc.b/#c', () => ({ result: 'retry', reason: 'not in #c yet' }));
  await f.core.ingest('irc.a', volatile('three'));
  await settle();
  assert.equal(asked.length, 2, '"three" found irc.b/#c idle and was said first');
  await f.core.ingest('irc.a', volatile('four'));
  await settle();
  assert.equal(asked.length, 2, '"four" is not said first: "three" waits for a retry there');
  f.deliverers.delete('irc.b/#c');
  f.clock.now += 60_000; // past the retry's backoff
  f.outbox.kick('irc.b/#c');
  await settle();
  const order = f.attempts.filter((a) => a.endpoint === 'irc.b/#c').map((a) => a.post.body);
  assert.deepEqual(order.slice(-2), ['three', 'four'], 'in order once the endpoint takes posts again');
  assert.equal(f.store.listOutbox().length, 0);
});

test('the first line after a start is said first where the store held nothing for the endpoint', async (t) => {
  const { f, asked } = withFirst();
  t.after(() => f.close());
  await f.core.ingest('irc.a', volatile('before start'));
  assert.equal(asked.length, 0, 'before the outbox started nothing is known of irc.b/#c: not said first');
  await settle();
  f.outbox.start();
  await f.core.ingest('irc.a', volatile('after start'));
  assert.deepEqual(
    asked.map((a) => a.post.body),
    ['after start'],
  );
  await settle();
  assert.deepEqual(
    f.attempts.filter((a) => a.endpoint === 'irc.b/#c').map((a) => a.post.body),
    ['before start', 'after start'],
  );
});

test('at a start, an endpoint with rows in the store: the next line waits behind them', async (t) => {
  const { f, asked } = withFirst();
  t.after(() => f.close());
  // Rows left from before (no outbox running: they wait in the store), then the outbox starts.
  f.deliverers.set('irc.b/#c', () => ({ result: 'retry', reason: 'not in #c yet' }));
  await f.core.ingest('irc.a', line('#c', 'alice', 'left over'));
  await settle();
  f.outbox.start();
  await f.core.ingest('irc.a', volatile('next'));
  assert.equal(asked.length, 0, 'irc.b/#c has a row waiting: not said first');
});

test('an endpoint that cannot say it now: delivered after the commit as before, the id left to the core', async (t) => {
  const { f, asked } = withFirst(() => false);
  t.after(() => f.close());
  await warm(f);
  const inc = volatile('later');
  await f.core.ingest('irc.a', inc);
  assert.equal(asked.length, 1, 'asked');
  assert.equal(inc.id, undefined, 'not said first: the post handed in is left as it was');
  await settle();
  assert.deepEqual(
    f.attempts.filter((a) => a.endpoint === 'irc.b/#c').map((a) => a.post.body),
    ['warm', 'later'],
  );
});

test('a post said first and handed in again (its commit failed) keeps its id: one post, said once', async (t) => {
  const { f, asked } = withFirst();
  t.after(() => f.close());
  await warm(f);
  const inc = volatile('again');
  await f.core.ingest('irc.a', inc);
  const id = inc.id;
  assert.ok(id, 'the id is set on the post handed in');
  // As the IRC plugin does after a tempfail: the same object again. Held already, it is a duplicate here.
  const v = await f.core.ingest('irc.a', inc);
  assert.deepEqual(v, { status: 'duplicate', id });
  await settle();
  assert.equal(f.attempts.filter((a) => a.endpoint === 'irc.b/#c' && a.post.body === 'again').length, 1);
  assert.ok(asked.every((a) => a.post.id === id));
});

test('the flood bucket takes tokens now only when they are there and no one waits (takeNow)', async () => {
  let now = 0;
  const b = new TokenBucket(2, 100, () => now);
  assert.equal(b.takeNow(3), false, 'three lines, two tokens: nothing taken');
  assert.equal(b.takeNow(2), true);
  assert.equal(b.takeNow(), false, 'empty');
  const waiting = b.take();
  now += 50;
  assert.equal(b.takeNow(), false, 'half a token');
  now += 100;
  assert.equal(b.takeNow(), false, 'a token, but someone waits for it first');
  b.close();
  await waiting.catch(() => undefined);
});

test('the journal: posts written ahead are read back in order, a torn last line left out, emptied when asked', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'said-first.jsonl');
  const j = new FirstJournal(path);
  assert.deepEqual(j.read(), [], 'no file yet: nothing');
  const post = (id: string): Post => ({
    id,
    bridge: 'commons',
    origin: { account: 'irc.a', target: '#c' },
    author: { name: 'alice', via: 'irc' },
    body: `line ${id}`,
    kind: 'message',
    references: [],
    hops: 0,
    date: '2026-12-07T15:00:00.000Z',
    attachments: [],
  });
  j.note(post('a@x'));
  j.note(post('b@x'));
  j.close();
  appendFileSync(path, '{"id":"c@x","orig'); // killed in the middle of a write
  assert.deepEqual(
    new FirstJournal(path).read().map((p) => [p.id, p.body]),
    [
      ['a@x', 'line a@x'],
      ['b@x', 'line b@x'],
    ],
  );
  new FirstJournal(path).clear();
  assert.equal(readFileSync(path, 'utf8'), '');
  // Past 64 KB, the next post empties it first (those before it are committed).
  const k = new FirstJournal(path);
  for (let i = 0; i < 400; i++) k.note({ ...post(`p${i}@x`), body: 'x'.repeat(200) });
  k.close();
  const left = new FirstJournal(path).read();
  assert.ok(left.length > 0 && left.length < 400, `emptied on the way: ${left.length} left`);
  assert.equal(left.at(-1)!.id, 'p399@x', 'the last post is there');
});
