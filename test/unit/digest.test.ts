import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, settle, line } from '../helpers/core-fixture.js';
import { Store } from '../../src/store.js';

const accounts = { 'irc.a': 'chat', 'irc.b': 'chat', 'mail.l': 'article', 'nntp.n': 'article' } as const;
const bridges = (digest = {}) => ({
  commons: { endpoints: ['irc.a/#commons', 'irc.b/#commons', 'mail.l/commons', 'nntp.n/peerpost.commons'], digest },
});

test('chat lines reach mail and news as one digest per conversation, the same article for both', async (t) => {
  const f = fixture(accounts, bridges({ maxLines: 3 }));
  t.after(() => f.close());
  const base = f.clock.now;
  for (const [i, text] of ['hi', 'hello', 'bye'].entries()) {
    f.clock.now = base + i * 60_000;
    await f.core.ingest(i === 1 ? 'irc.b' : 'irc.a', line('#commons', i === 1 ? 'bob' : 'alice', text));
  }
  await settle();
  const toMail = f.attempts.filter((a) => a.endpoint === 'mail.l/commons');
  const toNews = f.attempts.filter((a) => a.endpoint === 'nntp.n/peerpost.commons');
  assert.equal(toMail.length, 1, 'one mail, not three');
  assert.equal(toNews.length, 1);
  const d = toMail[0]!.post;
  assert.equal(d.id, toNews[0]!.post.id, 'the same Message-ID in mail and news');
  assert.equal(d.kind, 'digest');
  assert.equal(toMail[0]!.to.shape, 'digest');
  assert.equal(d.subject, '[#commons] conversation, 14:00–14:02 UTC (3 lines)');
  assert.equal(d.body, '2026-11-27 UTC\n\n14:00 <alice> hi\n14:01 <bob> hello\n14:02 <alice> bye\n');
  assert.equal(d.author.name, 'alice and bob');
  assert.deepEqual(
    f.store.digestPosts(d.id).map((p) => `${p.author.name}: ${p.body}`),
    ['alice: hi', 'bob: hello', 'alice: bye'],
    'the store keeps which posts the digest holds, in order',
  );
  assert.equal(
    f.attempts.filter((a) => a.endpoint.startsWith('irc.')).length,
    3,
    'the other channel gets every line as it comes',
  );
});

test('the next digest of a channel is a reply to the previous one', async (t) => {
  const f = fixture(accounts, bridges({ maxLines: 1 }));
  t.after(() => f.close());
  await f.core.ingest('irc.a', line('#commons', 'alice', 'one'));
  await f.core.ingest('irc.a', line('#commons', 'alice', 'two'));
  await f.core.ingest('irc.a', line('#commons', 'alice', 'three'));
  await settle();
  const digests = f.attempts.filter((a) => a.endpoint === 'mail.l/commons').map((a) => a.post);
  assert.equal(digests.length, 3);
  assert.equal(digests[0]!.inReplyTo, undefined);
  assert.equal(digests[1]!.inReplyTo, digests[0]!.id);
  assert.deepEqual(digests[2]!.references, [digests[0]!.id, digests[1]!.id]);
});

test('a conversation closes after the quiet time', async (t) => {
  const f = fixture(accounts, bridges({ quietMs: 300 }));
  t.after(() => f.close());
  const said = performance.now();
  await f.core.ingest('irc.a', line('#commons', 'alice', 'anyone?'));
  await settle();
  const digests = () => f.attempts.filter((a) => a.endpoint === 'mail.l/commons').length;
  // Only a machine too loaded to get here within the quiet time may have closed it already.
  if (performance.now() - said < 300) assert.equal(digests(), 0, 'still open');
  for (let i = 0; i < 100 && digests() === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(performance.now() - said >= 300, 'not closed before the quiet time');
  await settle();
  assert.equal(digests(), 1, 'closed once');
});

test('buffered lines live in the store: a restart loses none and closes the conversation', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-digest-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s1 = Store.open(dir);
  const f1 = fixture(accounts, bridges({ quietMs: 600_000 }), {}, { store: s1 });
  f1.outbox.kick = () => undefined;
  await f1.core.ingest('irc.a', line('#commons', 'alice', 'before the crash'));
  await f1.core.ingest('irc.a', line('#commons', 'bob', 'me too'));
  s1.close(); // no orderly shutdown
  const clock = { now: f1.clock.now + 600_001 };
  const f2 = fixture(accounts, bridges({ quietMs: 600_000 }), {}, { store: Store.open(dir), clock });
  t.after(() => f2.close());
  f2.outbox.start();
  f2.keeper.start();
  await new Promise((r) => setTimeout(r, 20));
  await settle();
  const d = f2.attempts.filter((a) => a.endpoint === 'mail.l/commons');
  assert.equal(d.length, 1);
  assert.match(d[0]!.post.body, /<alice> before the crash\n.*<bob> me too/);
});

test('post listeners hear of every committed post in commit order: lines, injected posts and digests; never a duplicate or a refused one', async (t) => {
  const f = fixture(accounts, bridges({ maxLines: 2 }));
  t.after(() => f.close());
  const heard: { id: string; seq: number; kind: string }[] = [];
  const off = f.core.onPost((p) => heard.push({ id: p.id, seq: p.seq, kind: p.kind }));
  f.core.onPost(() => {
    throw new Error('a broken listener does not stop the others');
  });
  const a = await f.core.ingest('irc.a', line('#commons', 'alice', 'one', { id: 'one@x' }));
  const dup = await f.core.ingest('irc.b', line('#commons', 'bob', 'one again', { id: 'one@x' }));
  const b = await f.core.inject('commons', { target: 'cli', author: { name: 'op', via: 'cli' }, body: 'from the cli' });
  assert.equal(dup.status, 'duplicate');
  assert.equal(a.status, 'accepted');
  assert.equal(b.status, 'accepted');
  const kinds = heard.map((h) => h.kind);
  assert.deepEqual(
    kinds,
    ['message', 'message', 'digest'],
    'the digest closed by the second post is heard too, after it',
  );
  assert.deepEqual(
    heard.map((h) => h.seq),
    [...heard.map((h) => h.seq)].sort((x, y) => x - y),
    'in commit order',
  );
  assert.equal(heard.filter((h) => h.id === 'one@x').length, 1);
  off();
  await f.core.ingest('irc.a', line('#commons', 'alice', 'after'));
  assert.equal(heard.length, 3, 'nothing after the listener stopped');
});
