/**
 * End to end, the whole bridge of issue 8: one peerpost, one bridge spanning two
 * IRC networks (two ngircd), the built-in newsgroup, a group on a real INN
 * peered by an `nntp.inn` account, a mailing list with three subscribers whose
 * mail lands in a real SMTP sink (aiosmtpd), a finger plan and the web stream.
 * A line, a mail, an article on each news server and a reply by mail each reach
 * every other place in that place's shape, threads intact, exactly once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ensurePeers,
  eventually,
  FingerPlace,
  IrcPlace,
  NewsPlace,
  Node,
  type Seen,
  sleep,
  token,
  tokenCounts,
  TwoNetworks,
} from '../helpers/e2e.js';
import { InnPlace, MailPlace, WebPlace } from '../helpers/e2e-places.js';

const P = 'K7';
const SUBSCRIBERS = ['ann@sub.example', 'ben@sub.example', 'cat@sub.example'];
let nets: TwoNetworks;
let ircA: IrcPlace;
let ircB: IrcPlace;
let news: NewsPlace;
let inn: InnPlace;
let mail: MailPlace;
let plan: FingerPlace;
let web: WebPlace;
let node: Node;

before(async () => {
  ensurePeers();
  nets = await TwoNetworks.start('', '#commons');
  ({ ircA, ircB } = nets);
  news = await NewsPlace.make('news', 'nntp.local', 'peerpost.commons');
  inn = await InnPlace.make('inn', 'nntp.inn', 'peerpost.commons');
  mail = await MailPlace.make('mail', 'mail.lists', 'commons', 'lists.e2e.example', SUBSCRIBERS);
  plan = await FingerPlace.make('finger', 'finger.local', 'commons');
  web = await WebPlace.make('web', 'web.local', 'commons');
  node = new Node({
    hostname: 'one.e2e.example',
    bridge: 'commons',
    places: [ircA, ircB, news, inn, mail, plan, web],
    quiet: '5s',
  });
  const r = await node.start();
  await r.waitForLog(/first look at peerpost\.commons/, 15_000);
  await mail.subscribe(node);
  await web.connect();
  await ircA.relayJoined();
  await ircB.relayJoined();
});

after(async () => {
  nets?.close();
  web?.close();
  if (node) assert.equal(await node.stop(), 0, 'peerpost stops cleanly');
  nets?.cleanup();
  inn?.cleanup();
  await mail?.cleanup();
  node?.cleanup();
});

/** Every token at every place (each subscriber's inbox a place of its own) exactly as often as expected. */
async function exactlyOnce(expect: [string, () => Promise<Seen[]>, string[]][], all: string[]): Promise<true | string> {
  const problems: string[] = [];
  for (const [name, seen, want] of expect) {
    const c = tokenCounts(
      (await seen()).map((s) => s.text),
      P,
    );
    for (const t of all) {
      const n = c.get(t) ?? 0;
      const w = want.includes(t) ? 1 : 0;
      if (n !== w) problems.push(`${name} shows ${t} ${n}× (expected ${w}×)`);
    }
  }
  return problems.length ? problems.join('; ') : true;
}

test('the whole bridge: IRC ×2, built-in news, INN, a list of three, finger, web: every post reaches every place once, threads intact', async () => {
  const a1 = token(P, 'a', 1);
  const b1 = token(P, 'b', 1);
  const m1 = token(P, 'm', 1);
  const n1 = token(P, 'n', 1);
  const i1 = token(P, 'i', 1);
  const r1 = token(P, 'r', 1);
  const ids = {
    m1: 'k7-picnic@mail.example',
    n1: 'k7-notes@reader.example',
    i1: 'k7-inn@reader.example',
    r1: 'k7-reply@mail.example',
  };

  // Chat: a line on each network.
  await ircA.say({ text: `${a1} hello from network A` });
  await ircB.user!.waitFor((l) => l.includes(a1), 'the line from A on B');
  await ircB.say({ text: `${b1} and hello back from B` });
  await ircA.user!.waitFor((l) => l.includes(b1), 'the line from B on A');
  assert.ok(ircB.lines().includes(`<alice> ${a1} hello from network A`), ircB.lines().join('\n'));

  // A mail to the list (smtplib; 250 only once committed).
  await mail.say({
    from: 'mallory',
    subject: 'Picnic on Sunday',
    id: ids.m1,
    text: `${m1} bring a blanket\n\nsee you`,
  });
  // An article on the built-in server, one on INN.
  await news.say({ from: 'carol', subject: 'Meeting notes', id: ids.n1, text: `${n1} the notes of the meeting` });
  await inn.say({ from: 'ivan', subject: 'From the wider Usenet', id: ids.i1, text: `${i1} greetings from INN` });

  // A reply by mail to the built-in server's article, once the list has it (a subscriber answers what they got).
  await eventually(
    async () => ((await mail.inbox(SUBSCRIBERS[0]!)).some((m) => m.id === ids.n1) ? true : 'not yet'),
    "the article in ann's inbox",
  );
  await mail.say({
    from: 'ann',
    subject: 'Re: [commons] Meeting notes',
    id: ids.r1,
    references: [ids.n1],
    text: `${r1} thanks for the notes`,
  });

  // Where each post must be: IRC shows what came from elsewhere; every article place, every inbox and the stream everything.
  const all = [a1, b1, m1, n1, i1, r1];
  const expect: [string, () => Promise<Seen[]>, string[]][] = [
    ['irc.a', () => ircA.received(), all.filter((t) => t !== a1)],
    ['irc.b', () => ircB.received(), all.filter((t) => t !== b1)],
    ['news', () => news.received(), all],
    ['inn', () => inn.received(), all],
    ...SUBSCRIBERS.map((s): [string, () => Promise<Seen[]>, string[]] => [`mail to ${s}`, () => mail.inbox(s), all]),
    ['finger', () => plan.received(), all],
    ['web stream', () => web.received(), all],
  ];
  await eventually(() => exactlyOnce(expect, all), 'every post once at every place', 30_000, 500);

  // The chat as a digest, once quiet: in both groups and in every inbox, the two lines in order.
  const digestLines = (t: string) =>
    t
      .split('\n')
      .filter((l) => /^\d\d:\d\d </.test(l))
      .map((l) => l.slice(6));
  const chat = [`<alice> ${a1} hello from network A`, `<bob> ${b1} and hello back from B`];
  for (const [name, arts] of [
    ['news', await news.articles()],
    ['inn', await inn.articles()],
  ] as const) {
    const d = arts.filter((x) => x.kind === 'digest');
    assert.equal(d.length, 1, `${name}: one digest`);
    assert.match(d[0]!.subject, /^\[#commons\] conversation, \d\d:\d\d–\d\d:\d\d UTC \(2 lines\)$/, name);
    assert.deepEqual(digestLines(d[0]!.text), chat, name);
  }
  for (const s of SUBSCRIBERS) {
    const d = (await mail.inbox(s)).filter((m) => m.text.includes(a1));
    assert.equal(d.length, 1, `${s}: one digest`);
    assert.match(d[0]!.subject!, /conversation, .*\(2 lines\)/, s);
    assert.deepEqual(digestLines(d[0]!.text), chat, s);
  }

  // The mail: announced on both networks; the same Message-ID in both groups and in every inbox.
  for (const irc of [ircA, ircB]) {
    const l = irc.lines();
    const i = l.indexOf('[commons] mallory: Picnic on Sunday');
    assert.ok(i >= 0, `${irc.name}: ${l.join('\n')}`);
    assert.equal(l[i + 1], `${m1} bring a blanket`);
    assert.ok(
      l.includes('[commons] carol: Meeting notes') && l.includes('[commons] ivan: From the wider Usenet'),
      `${irc.name}: both articles announced: ${l.join('\n')}`,
    );
  }
  for (const [name, arts] of [
    ['news', await news.articles()],
    ['inn', await inn.articles()],
  ] as const) {
    for (const id of Object.values(ids))
      assert.equal(arts.filter((x) => x.id === id).length, 1, `${name} holds <${id}> once`);
    const reply = arts.find((x) => x.id === ids.r1)!;
    assert.deepEqual(reply.references, [ids.n1], `${name}: the reply by mail keeps its References`);
  }
  for (const s of SUBSCRIBERS) {
    const box = await mail.inbox(s);
    for (const id of Object.values(ids))
      assert.equal(box.filter((m) => m.id === id).length, 1, `${s} got <${id}> once, with that Message-ID`);
    const reply = box.find((m) => m.id === ids.r1)!;
    assert.deepEqual(reply.references, [ids.n1], `${s}: the reply keeps its References`);
    assert.equal(reply.headers.get('in-reply-to'), `<${ids.n1}>`, s);
    assert.match(reply.subject!, /^Re: \[commons\] Meeting notes$/, s);
    const fromInn = box.find((m) => m.id === ids.i1)!;
    assert.match(fromInn.subject!, /^\[commons\] From the wider Usenet$/, s);
    assert.match(fromInn.headers.get('list-id') ?? '', /<commons\.lists\.e2e\.example>/, s);
  }
  // The stream has every post with its Message-ID (and the digest, once).
  for (const id of Object.values(ids))
    assert.equal(web.posts.filter((p) => p.id === id).length, 1, `the stream sent <${id}> once`);
  assert.equal(web.posts.filter((p) => p.kind === 'digest').length, 1, 'the stream sent one digest');
  assert.deepEqual(web.posts.find((p) => p.id === ids.r1)?.references, [ids.n1]);
  // The plan shows the reply's author and subject.
  assert.equal((await plan.received()).find((s) => s.text.includes(r1))?.subject, 'Re: [commons] Meeting notes');

  // Still once everywhere after a quiet moment; nothing left to deliver.
  await sleep(1500);
  assert.equal(await exactlyOnce(expect, all), true);
  await eventually(
    async () => ((await node.outbox()).length === 0 ? true : JSON.stringify(await node.outbox())),
    'an empty outbox',
    10_000,
  );
});
