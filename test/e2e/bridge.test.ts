/**
 * End to end: one peerpost, one bridge spanning two IRC networks (two real
 * ngircd), the built-in newsgroup (read and posted with Python's nntplib) and a
 * finger plan. A line, an article, a reply and a `peerpost post` each reach
 * every other place, in the shape that place uses, exactly once.
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
  type Place,
  sleep,
  token,
  tokenCounts,
  TwoNetworks,
} from '../helpers/e2e.js';

const P = 'K1';
let nets: TwoNetworks;
let ircA: IrcPlace;
let ircB: IrcPlace;
let news: NewsPlace;
let plan: FingerPlace;
let node: Node;

before(async () => {
  ensurePeers();
  nets = await TwoNetworks.start('', '#commons');
  ({ ircA, ircB } = nets);
  news = await NewsPlace.make('news', 'nntp.local', 'peerpost.commons');
  plan = await FingerPlace.make('finger', 'finger.local', 'commons');
  node = new Node({ hostname: 'one.e2e.example', bridge: 'commons', places: [ircA, ircB, news, plan], quiet: '6s' });
  await node.start();
  await ircA.relayJoined();
  await ircB.relayJoined();
});

after(async () => {
  nets?.close();
  if (node) assert.equal(await node.stop(), 0, 'peerpost stops cleanly');
  nets?.cleanup();
  node?.cleanup();
});

/** Tokens seen at a place, counted (in whatever shape the place shows them). */
async function counts(p: Place): Promise<Map<string, number>> {
  const seen = await p.received();
  return tokenCounts(
    seen.map((s) => s.text),
    P,
  );
}

/** Every token at every place exactly as often as expected (0: never; the place it was said at). */
async function exactlyOnce(expect: Map<Place, string[]>, all: string[]): Promise<true | string> {
  const problems: string[] = [];
  for (const [p, want] of expect) {
    const c = await counts(p);
    for (const t of all) {
      const n = c.get(t) ?? 0;
      const w = want.includes(t) ? 1 : 0;
      if (n !== w) problems.push(`${p.name} shows ${t} ${n}× (expected ${w}×)`);
    }
  }
  return problems.length ? problems.join('; ') : true;
}

test('a line, an article, a reply and a peerpost post reach every place of the bridge, in its shape, exactly once', async () => {
  const a1 = token(P, 'a', 1);
  const b1 = token(P, 'b', 1);
  const p1 = token(P, 'p', 1);
  const n1 = token(P, 'n', 1);
  const n2 = token(P, 'n', 2);

  // Chat: a line on network A, one on network B, one by the command line.
  await ircA.say({ text: `${a1} hello from network A` });
  await ircB.user!.waitFor((l) => l.includes(a1), 'the line from A on B');
  await ircB.say({ text: `${b1} and hello back from B` });
  await ircA.user!.waitFor((l) => l.includes(b1), 'the line from B on A');
  const posted = await node.post(`${p1} a word from the shell`, 'dave');
  assert.equal(posted.code, 0, posted.stderr);

  // On IRC: each relay says the other places' lines with the speaker's nick.
  await eventually(
    async () =>
      ircA.lines().some((l) => l === `<dave> ${p1} a word from the shell`) ? true : ircA.lines().join(' | '),
    'the shell post on A',
  );
  assert.ok(ircA.lines().includes(`<bob> ${b1} and hello back from B`), ircA.lines().join('\n'));
  assert.ok(ircB.lines().includes(`<alice> ${a1} hello from network A`), ircB.lines().join('\n'));
  await eventually(
    async () => (ircB.lines().includes(`<dave> ${p1} a word from the shell`) ? true : ircB.lines().join(' | ')),
    'the shell post on B',
  );

  // In news: one digest article once the conversation went quiet (6 s: the three lines come well within it, even on a busy machine), the three lines in it, in order.
  await eventually(
    async () => ((await news.articles()).some((x) => x.kind === 'digest') ? true : 'no digest yet'),
    'the digest in the newsgroup',
    15_000,
  );
  const digest = (await news.articles()).find((x) => x.kind === 'digest')!;
  assert.match(digest.subject, /^\[#commons\] conversation, \d\d:\d\d–\d\d:\d\d UTC \(3 lines\)$/);
  const body = digest.text
    .split('\n')
    .filter((l) => /^\d\d:\d\d </.test(l))
    .map((l) => l.slice(6));
  assert.deepEqual(body, [
    `<alice> ${a1} hello from network A`,
    `<bob> ${b1} and hello back from B`,
    `<dave> ${p1} a word from the shell`,
  ]);

  // An article posted with nntplib, and a reply to it.
  const id1 = 'e2e-meeting-1@reader.example';
  const id2 = 'e2e-meeting-2@reader.example';
  await news.say({ from: 'carol', subject: 'Meeting notes', id: id1, text: `${n1} the notes of the meeting` });
  await news.say({
    from: 'erin',
    subject: 'Re: Meeting notes',
    id: id2,
    references: [id1],
    text: `${n2} thanks for the notes`,
  });

  // IRC shows each as an announcement on both networks.
  for (const irc of [ircA, ircB]) {
    await eventually(
      async () => (irc.lines().some((l) => l.includes(n2)) ? true : irc.lines().join(' | ')),
      `the reply announced on ${irc.name}`,
    );
    const l = irc.lines();
    const i = l.indexOf('[commons] carol: Meeting notes');
    assert.ok(i >= 0, `${irc.name}: ${l.join('\n')}`);
    assert.equal(l[i + 1], `${n1} the notes of the meeting`);
    const j = l.indexOf('[commons] erin: Re: Meeting notes');
    assert.ok(j > i, `${irc.name}: the reply after the article: ${l.join('\n')}`);
    assert.equal(l[j + 1], `${n2} thanks for the notes`);
  }

  // The reply keeps its thread in the newsgroup.
  const arts = await news.articles();
  const reply = arts.find((x) => x.id === id2);
  assert.ok(reply, 'the reply is in the group');
  assert.deepEqual(reply.references, [id1]);
  assert.ok(arts.some((x) => x.id === id1 && x.subject === 'Meeting notes'));

  // The finger plan shows every post (newest first), the digest too.
  await eventually(
    async () =>
      tokenCounts(
        (await plan.received()).map((s) => s.text),
        P,
      ).size === 5
        ? true
        : plan.plan(),
    'five posts in the plan',
  );
  const shown = await plan.received();
  assert.deepEqual(
    shown
      .filter((s) => s.from !== 'commons')
      .map((s) => s.from)
      .slice(0, 2),
    ['erin', 'carol'],
  );
  assert.equal(shown.find((s) => s.text.includes(n2))?.subject, 'Re: Meeting notes');
  assert.ok(
    shown.some((s) => s.text === `${a1} hello from network A` && s.from === 'alice'),
    await plan.plan(),
  );

  // Exactly once at every place, and still so after a quiet moment.
  const all = [a1, b1, p1, n1, n2];
  const expect = new Map<Place, string[]>([
    [ircA, [b1, p1, n1, n2]],
    [ircB, [a1, p1, n1, n2]],
    [news, all],
    [plan, all],
  ]);
  await eventually(() => exactlyOnce(expect, all), 'every post once at every place');
  await sleep(1500);
  assert.equal(await exactlyOnce(expect, all), true);
  assert.equal((await news.articles()).filter((x) => x.kind === 'digest').length, 1, 'one digest');
  assert.deepEqual(await node.outbox(), [], 'nothing left in the outbox');
});
