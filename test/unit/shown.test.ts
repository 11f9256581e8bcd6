/**
 * The memory of what each place shows, for digests (src/digest/shown.ts): reading
 * another node's digest back into lines, the identity of a line, shortening a
 * digest, and the delivery rules (take turns, look again, send only what is not
 * there) on a real store in memory with a fake plugin; our own digests are
 * stored as the keeper stores them (which posts each holds). No sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Store } from '../../src/store.js';
import { renderDigest } from '../../src/digest/shape.js';
import {
  SharedDeliveries,
  ShownMemory,
  lineKey,
  linesOf,
  parseDigest,
  shortenDigest,
  turnOf,
  type DigestLine,
} from '../../src/digest/shown.js';
import type { Post } from '../../src/post.js';
import type { Outcome } from '../../src/plugin.js';

const origin = { account: 'irc.net', target: '#shared' };
const chat = (date: string, name: string, body: string, kind: Post['kind'] = 'message') => ({
  date,
  author: { name, via: 'irc' },
  body,
  kind,
  origin,
});

const conversation = [
  chat('2026-11-27T10:08:01.120Z', 'alice', 'hello there'),
  chat('2026-11-27T10:08:30.000Z', 'bob', 'waves', 'action'),
  chat('2026-11-27T10:09:02.000Z', 'ChanServ', 'topic is set', 'notice'),
  chat('2026-11-27T10:10:00.000Z', 'carol', 'two lines:\n  indented second line'),
  chat('2026-11-27T10:11:00.000Z', 'we<ird>', 'a name with brackets'),
];

function digestPost(id: string, lines = conversation): Post {
  const t = renderDigest(lines);
  return {
    id,
    bridge: 'commons',
    origin,
    author: { name: 'alice and bob', via: 'irc' },
    subject: t.subject,
    body: t.body,
    kind: 'digest',
    references: [],
    hops: 0,
    date: '2026-11-27T10:13:00.000Z',
    attachments: [],
  };
}

test('a digest reads back into its lines: author, kind, minute and text, continuation lines kept', () => {
  const lines = parseDigest(digestPost('d1@one.example').body)!;
  assert.deepEqual(
    lines.map((l) => [l.date, l.author, l.kind, l.body]),
    [
      ['2026-11-27T10:08:00.000Z', 'alice', 'message', 'hello there'],
      ['2026-11-27T10:08:00.000Z', 'bob', 'action', 'waves'],
      ['2026-11-27T10:09:00.000Z', 'ChanServ', 'notice', 'topic is set'],
      ['2026-11-27T10:10:00.000Z', 'carol', 'message', 'two lines:\n  indented second line'],
      ['2026-11-27T10:11:00.000Z', 'we<ird>', 'message', 'a name with brackets'],
    ],
  );
});

test('a digest across midnight reads back with each line on its own day', () => {
  const lines = parseDigest(
    renderDigest([chat('2026-11-27T23:59:10Z', 'alice', 'late'), chat('2026-11-28T00:01:00Z', 'bob', 'early')]).body,
  )!;
  assert.deepEqual(
    lines.map((l) => l.date),
    ['2026-11-27T23:59:00.000Z', '2026-11-28T00:01:00.000Z'],
  );
});

test('text that is not a digest of our form is not read as one (it is then delivered as it is)', () => {
  assert.equal(parseDigest('Hello,\n\nthis is a plain article.\n'), undefined);
  assert.equal(parseDigest('2026-11-27 UTC\n\n10:08 <alice> hi\nand then a line of prose\n'), undefined);
  assert.equal(parseDigest(''), undefined);
});

test('a line is the same line across nodes whatever the seconds, case of the nick and spacing; another minute is another line', () => {
  const a = { date: '2026-11-27T10:08:01.120Z', author: 'alice', body: 'hello  there' };
  assert.equal(lineKey(a), lineKey({ date: '2026-11-27T10:08:59.000Z', author: 'Alice', body: 'hello there ' }));
  assert.notEqual(
    lineKey(a),
    lineKey({ ...a, date: '2026-11-27T10:09:00.000Z' }),
    'the same words a minute later are a new line',
  );
  assert.notEqual(lineKey(a), lineKey({ ...a, author: 'bob' }));
  assert.notEqual(lineKey(a), lineKey({ ...a, body: 'hello where' }));
});

test('a shortened digest keeps its id, thread and place tag, counts what it holds and says where the rest is', () => {
  const post = { ...digestPost('d2@two.example'), inReplyTo: 'd0@two.example', references: ['d0@two.example'] };
  const lines = parseDigest(post.body)!;
  const short = shortenDigest(post, [lines[3]!], ['d1@one.example'], lines.length);
  assert.equal(short.id, post.id);
  assert.equal(short.inReplyTo, 'd0@two.example');
  assert.equal(short.subject, '[#shared] conversation, 10:10–10:10 UTC (1 line)');
  assert.match(
    short.body,
    /^\(4 more lines of this conversation are here already, in <d1@one\.example>\.\)\n\n2026-11-27 UTC\n\n10:10 <carol> two lines:\n {6} {2}indented second line\n$/,
  );
  assert.deepEqual(
    parseDigest(short.body)!.map((l) => l.body),
    ['two lines:\n  indented second line'],
    'a shortened digest reads back too',
  );
});

test('turns go by node name: the first in order goes first', () => {
  assert.equal(turnOf('one.example', []), 0);
  assert.equal(turnOf('one.example', ['two.example']), 0);
  assert.equal(turnOf('two.example', ['one.example']), 1);
  assert.equal(turnOf('Two.Example', ['one.example', 'three.example']), 2);
});

// ── delivery rules, on a real store in memory ──

function world(self: string) {
  const store = Store.open(':memory:');
  const memory = new ShownMemory(store.db);
  let now = Date.parse('2026-11-27T10:13:00.000Z');
  const slept: number[] = [];
  const d = new SharedDeliveries({
    memory,
    heldBy: (id) => store.digestPosts(id),
    hostname: () => self,
    settleMs: () => 10_000,
    timeoutMs: () => 60_000,
    now: () => now,
    chatEndpoints: () => ['irc.net/#shared'],
    log: pino({ level: 'silent' }),
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  });
  const sent: Post[] = [];
  const calls: string[] = [];
  let answer: Outcome = { result: 'delivered' };
  const place = (endpoint = 'nntp.inn/shared', onRefresh?: () => void) => ({
    endpoint,
    deliver: async (p: Post) => {
      calls.push('deliver');
      sent.push(p);
      return answer;
    },
    refresh: async () => {
      calls.push('refresh');
      onRefresh?.();
    },
  });
  /** A digest of ours as the keeper closes it: its lines are posts, and the store keeps which ones it holds. */
  const ours = (id: string, lines = conversation): Post => {
    const seqs = lines.map((l, i) =>
      store.insertPost(
        { ...l, id: `${id}-line${i}`, bridge: 'commons', references: [], hops: 0, attachments: [] },
        now,
      )!,
    );
    const post = digestPost(id, lines);
    store.setDigestPosts(store.insertPost(post, now)!, seqs);
    return post;
  };
  return {
    store,
    memory,
    ours,
    d,
    sent,
    calls,
    slept,
    place,
    setAnswer: (o: Outcome) => {
      answer = o;
    },
    at: () => now,
  };
}

test('a node that goes first sends its digest whole, after looking at the place, and remembers it there', async () => {
  const w = world('one.example');
  w.memory.noteNode('nntp.inn/shared', 'two.example', w.at());
  const post = w.ours('d1@one.example');
  assert.deepEqual(await w.d.deliver(post, w.place()), { result: 'delivered' });
  assert.deepEqual(w.calls, ['refresh', 'deliver']);
  assert.deepEqual(w.slept, [], 'the first in turn does not wait');
  assert.equal(w.sent[0], post, 'sent whole');
  assert.deepEqual(w.memory.shownBy('nntp.inn/shared', parseDigest(post.body)!), Array(5).fill('d1@one.example'));
});

test('the second node waits its turn, looks again, and sends only its own lines; all shown → nothing sent', async () => {
  const w = world('two.example');
  const first = digestPost('d1@one.example', conversation.slice(0, 4));
  // The other node's digest was read from the group before: the two now take turns.
  w.d.observed(first, 'nntp.inn/shared', w.at() - 60_000);
  const mine = w.ours('d2@two.example', [
    ...conversation.slice(0, 4),
    chat('2026-11-27T10:12:00Z', 'erin', 'only node two had this'),
  ]);
  assert.deepEqual(await w.d.deliver(mine, w.place()), { result: 'delivered' });
  assert.deepEqual(w.slept, [10_000], 'waited one digest.settle after the digest closed');
  assert.equal(w.sent.length, 1);
  assert.equal(w.sent[0]!.id, 'd2@two.example');
  assert.deepEqual(
    parseDigest(w.sent[0]!.body)!.map((l) => `${l.author}: ${l.body}`),
    ['erin: only node two had this'],
  );
  assert.match(w.sent[0]!.body, /^\(4 more lines of this conversation are here already, in <d1@one\.example>\.\)/);
  assert.equal(w.sent[0]!.subject, '[#shared] conversation, 10:12–10:12 UTC (1 line)', 'the places of all its lines');

  // A digest of lines the place shows already: delivered, nothing sent.
  const again = w.ours('d3@two.example', conversation.slice(0, 2));
  assert.deepEqual(await w.d.deliver(again, w.place()), { result: 'delivered' });
  assert.equal(w.sent.length, 1, 'nothing more sent');
});

test("what a refresh takes in counts before the lines are chosen (the other node's digest arrived just now)", async () => {
  const w = world('one.example');
  const theirs = digestPost('d9@zzz.example', conversation.slice(0, 3));
  const mine = w.ours('d1@one.example');
  await w.d.deliver(
    mine,
    w.place('nntp.inn/shared', () => w.d.observed(theirs, 'nntp.inn/shared', w.at())),
  );
  assert.deepEqual(
    parseDigest(w.sent[0]!.body)!.map((l) => l.author),
    ['carol', 'we<ird>'],
  );
});

test('a retry or failure records nothing: the next attempt sends the same lines again', async () => {
  const w = world('one.example');
  const post = w.ours('d1@one.example');
  w.setAnswer({ result: 'retry', reason: 'server down' });
  assert.equal((await w.d.deliver(post, w.place())).result, 'retry');
  assert.deepEqual(w.memory.shownBy('nntp.inn/shared', parseDigest(post.body)!), Array(5).fill(undefined));
  w.setAnswer({ result: 'delivered' });
  await w.d.deliver(post, w.place());
  assert.equal(w.sent.length, 2);
  assert.equal(w.sent[1], post, 'sent whole the second time too');
});

test("each place has its own memory; our own digests and non-digests are not taken as another node's", async () => {
  const w = world('one.example');
  const post = w.ours('d1@one.example');
  await w.d.deliver(post, w.place('mail.lists/commons'));
  await w.d.deliver(post, w.place('nntp.inn/shared'));
  assert.equal(w.sent.length, 2, 'sent to each place');
  w.d.observed(digestPost('d5@one.example'), 'nntp.inn/shared', w.at());
  w.d.observed({ ...digestPost('x@two.example'), kind: 'message' }, 'nntp.inn/shared', w.at());
  w.d.observed(digestPost('d6@two.example'), undefined, w.at());
  assert.deepEqual(w.memory.nodes('nntp.inn/shared', w.at()), [], 'no other node learnt');
  w.d.observed(digestPost('d7@two.example'), 'nntp.inn/shared', w.at());
  assert.deepEqual(w.memory.nodes('nntp.inn/shared', w.at()), ['two.example']);
});

test("our own digest's lines are the posts it holds, not its text read back", async () => {
  const w = world('one.example');
  // "* Jane Doe waves" reads back as Jane saying "Doe waves": the stored posts know better.
  const lines = [chat('2026-11-27T10:08:00.000Z', 'Jane Doe', 'waves', 'action'), conversation[0]!];
  const post = w.ours('d1@one.example', lines);
  assert.equal(parseDigest(post.body)![0]!.author, 'Jane', 'what parsing the text would have said');
  await w.d.deliver(post, w.place());
  assert.deepEqual(w.memory.shownBy('nntp.inn/shared', linesOf(lines)), ['d1@one.example', 'd1@one.example']);
  assert.deepEqual(w.memory.shownBy('nntp.inn/shared', parseDigest(post.body)!.slice(0, 1)), [undefined]);

  // Its text changed on the way (a hand-edited row): the lines still come from the store, and are sent.
  const edited = { ...w.ours('d2@one.example', [chat('2026-11-27T10:20:00.000Z', 'bob', 'new')]), body: 'edited\n' };
  await w.d.deliver(edited, w.place());
  assert.deepEqual(w.calls.slice(-2), ['refresh', 'deliver'], 'through the memory, though its text does not parse');
});

test('a digest of ours closed before its posts were kept is read back from its text', async () => {
  const w = world('one.example');
  const old = digestPost('d0@one.example');
  await w.d.deliver(old, w.place());
  assert.deepEqual(w.memory.shownBy('nntp.inn/shared', parseDigest(old.body)!), Array(5).fill('d0@one.example'));
});

test('a post that is not a digest, or a digest not in our form, goes straight through', async () => {
  const w = world('one.example');
  const plain: Post = { ...digestPost('a@one.example'), kind: 'message', body: 'hello there' };
  await w.d.deliver(plain, w.place());
  const odd: Post = { ...digestPost('b@one.example'), body: 'A digest written by hand.\n' };
  await w.d.deliver(odd, w.place());
  assert.deepEqual(w.calls, ['deliver', 'deliver'], 'no refresh, no memory');
  assert.deepEqual(w.sent, [plain, odd]);
});

test('a post read from a shared place waits its turn once before a chat place; elsewhere, or first in turn, it does not wait', async () => {
  const w = world('two.example');
  w.memory.noteNode('nntp.inn/shared', 'one.example', w.at());
  w.memory.noteNode('irc.net/#shared', 'one.example', w.at());
  const article: Post = {
    ...digestPost('ivan@reader.example'),
    kind: 'message',
    body: 'an article on the shared group',
  };
  const to = (over: object) => ({
    ...w.place('irc.net/#shared'),
    chat: true,
    origin: 'nntp.inn/shared',
    attempt: 1,
    ...over,
  });
  await w.d.deliver(article, to({}));
  assert.deepEqual(w.slept, [10_000], 'node two waits one digest.settle: node one says it first');
  await w.d.deliver(article, to({ attempt: 2 }));
  await w.d.deliver(article, to({ chat: false }));
  await w.d.deliver(article, to({ origin: 'mail.lists/commons' }));
  await w.d.deliver(article, to({ origin: undefined }));
  assert.deepEqual(w.slept, [10_000], 'no wait on a retry, to an article place, or for a post from an unshared place');
  assert.equal(w.sent.length, 5, 'every one delivered');
  const first = world('one.example');
  first.memory.noteNode('nntp.inn/shared', 'two.example', first.at());
  first.memory.noteNode('irc.net/#shared', 'two.example', first.at());
  await first.d.deliver(article, {
    ...first.place('irc.net/#shared'),
    chat: true,
    origin: 'nntp.inn/shared',
    attempt: 1,
  });
  assert.deepEqual(first.slept, [], 'the first in turn does not wait');
});

test("first conversation: a post read from a group only this node's account can refresh waits its turn when another node is heard in the chat place", async () => {
  const w = world('two.example');
  w.d.peerNode('irc.net/#shared', 'one.example');
  const article: Post = {
    ...digestPost('ivan@reader.example'),
    kind: 'message',
    body: 'an article on the shared group',
  };
  const to = (over: object) => ({
    ...w.place('irc.net/#shared'),
    chat: true,
    origin: 'nntp.inn/shared',
    attempt: 1,
    ...over,
  });
  await w.d.deliver(article, to({ originShared: true }));
  assert.deepEqual(w.slept, [10_000], 'no digest read in the group yet: node one, heard in the channel, says it first');
  await w.d.deliver(article, to({ origin: 'mail.lists/commons', originShared: false }));
  assert.deepEqual(w.slept, [10_000], "a post from this node's own list does not wait");
  const elsewhere = world('two.example');
  elsewhere.memory.noteNode('nntp.inn/shared', 'one.example', elsewhere.at());
  await elsewhere.d.deliver(article, {
    ...elsewhere.place('irc.net/#shared'),
    chat: true,
    origin: 'nntp.inn/shared',
    originShared: true,
    attempt: 1,
  });
  assert.deepEqual(
    elsewhere.slept,
    [],
    'node one reads the group but is not in this channel: it will not say it here, no wait',
  );
  const alone = world('two.example');
  await alone.d.deliver(article, {
    ...alone.place('irc.net/#shared'),
    chat: true,
    origin: 'nntp.inn/shared',
    originShared: true,
    attempt: 1,
  });
  assert.deepEqual(alone.slept, [], 'no other node in the channel: no wait');
});

test("a node heard in the bridge's channel (an IRC relay) takes turns from the first digest at a place that may be shared", async () => {
  const w = world('two.example');
  w.d.peerNode('irc.net/#shared', 'one.example');
  w.d.peerNode('irc.net/#shared', 'Two.Example'); // ourselves: not another node
  assert.deepEqual(w.memory.nodes('irc.net/#shared', w.at()), ['one.example']);
  const mine = w.ours('d2@two.example');
  await w.d.deliver(mine, w.place('nntp.inn/shared'));
  assert.deepEqual(w.slept, [10_000], 'a news server (it can be looked at again): wait for one.example first');
  const { refresh: _, ...list } = w.place('mail.lists/commons');
  await w.d.deliver(mine, list);
  assert.deepEqual(w.slept, [10_000], 'a list of our own (nothing to look at again): no wait');
});

test('the memory forgets lines after a week and nodes after a month', () => {
  const w = world('one.example');
  const lines: DigestLine[] = parseDigest(digestPost('d1@one.example').body)!;
  const t0 = Date.parse('2026-11-01T00:00:00Z');
  w.memory.record('nntp.inn/shared', lines, 'd1@one.example', t0);
  w.memory.noteNode('nntp.inn/shared', 'two.example', t0);
  w.memory.prune(t0 + 8 * 24 * 3600_000);
  assert.deepEqual(w.memory.shownBy('nntp.inn/shared', lines), Array(5).fill(undefined));
  assert.deepEqual(w.memory.nodes('nntp.inn/shared', t0 + 8 * 24 * 3600_000), ['two.example']);
  w.memory.prune(t0 + 31 * 24 * 3600_000);
  assert.deepEqual(w.memory.nodes('nntp.inn/shared', t0 + 31 * 24 * 3600_000), []);
});
