/**
 * End to end: two peerpost nodes (two communities) bridging the same IRC
 * channel on one real ngircd, each with a newsgroup of its own. Over a quiet
 * period the channel shows every post once, each group holds what it should
 * once, and nothing loops — with the default for another relay's lines
 * (`relays.lines: ignore`) and with `relays.lines: relay`, where each node also
 * takes the other relay's lines into its own group.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { User } from '../integration/irc-helpers.js';
import {
  ensurePeers,
  eventually,
  IrcNetwork,
  IrcPlace,
  NewsPlace,
  Node,
  sleep,
  token,
  tokenCounts,
} from '../helpers/e2e.js';

let net: IrcNetwork;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  ensurePeers();
  net = await IrcNetwork.start('shared');
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  net?.cleanup();
});

interface Pair {
  watch: User;
  irc1: IrcPlace;
  irc2: IrcPlace;
  news1: NewsPlace;
  news2: NewsPlace;
  node1: Node;
  node2: Node;
  /** Every PRIVMSG to the channel, as "nick text". */
  channel(): string[];
}

/** Two nodes in CHAN, relays.lines as given, each with its own group; an observer in the channel. */
async function pair(chan: string, lines: 'ignore' | 'relay'): Promise<Pair> {
  const tag = lines === 'ignore' ? '' : 'r';
  const watch = await new User(`watch${tag}`).connect(net.port, chan);
  cleanups.push(() => watch.close());
  const irc1 = new IrcPlace('irc (node one)', net, 'irc.net', chan, `node_one${tag}`, `alice${tag}`);
  const irc2 = new IrcPlace('irc (node two)', net, 'irc.net', chan, `node_two${tag}`, `bob${tag}`);
  for (const p of [irc1, irc2]) {
    p.extra = { relays: { lines } };
    await p.connect();
    cleanups.push(() => p.close());
  }
  const news1 = await NewsPlace.make('news one', 'nntp.local', 'one.commons');
  const news2 = await NewsPlace.make('news two', 'nntp.local', 'two.commons');
  const node1 = new Node({ hostname: 'one.e2e.example', bridge: 'commons', places: [irc1, news1], quiet: '2s' });
  const node2 = new Node({ hostname: 'two.e2e.example', bridge: 'commons', places: [irc2, news2], quiet: '2s' });
  for (const n of [node1, node2]) {
    cleanups.push(async () => {
      assert.equal(await n.stop(), 0, 'peerpost stops cleanly');
      n.cleanup();
    });
    await n.start();
  }
  await irc1.relayJoined();
  await irc2.relayJoined();
  // Each node learns that the other is a relay (its real name, by WHO) before the load.
  await node1.running!.waitForLog(new RegExp(`${irc2.relayNick} is another peerpost relay`), 15_000);
  await node2.running!.waitForLog(new RegExp(`${irc1.relayNick} is another peerpost relay`), 15_000);
  const channel = () =>
    watch.lines
      .filter((l) => l.includes(` PRIVMSG ${chan} :`))
      .map((l) => `${l.slice(1, l.indexOf('!'))} ${l.slice(l.indexOf(' :', 1) + 2)}`);
  return { watch, irc1, irc2, news1, news2, node1, node2, channel };
}

/** The same conversation in both setups: three lines from alice, two from bob, an article in each group, a shell post on node one. */
async function converse(
  p: Pair,
  P: string,
  expectOne: (all: Record<string, string[]>) => string[],
  expectTwo: (all: Record<string, string[]>) => string[],
): Promise<void> {
  const t = {
    a: [1, 2, 3].map((n) => token(P, 'a', n)),
    b: [1, 2].map((n) => token(P, 'b', n)),
    n: [token(P, 'n', 1)],
    m: [token(P, 'm', 1)],
    p: [token(P, 'p', 1)],
  };
  for (const x of t.a) await p.irc1.say({ text: `${x} alice speaking` });
  for (const x of t.b) await p.irc2.say({ text: `${x} bob answering` });
  await p.news1.say({
    from: 'carol',
    subject: 'From group one',
    id: `${P}-one@reader.example`,
    text: `${t.n[0]} posted in one.commons`,
  });
  await p.news2.say({
    from: 'erin',
    subject: 'From group two',
    id: `${P}-two@reader.example`,
    text: `${t.m[0]} posted in two.commons`,
  });
  const r = await p.node1.post(`${t.p[0]} from node one's shell`, 'dave');
  assert.equal(r.code, 0, r.stderr);

  const all = Object.values(t).flat();
  const expect = { channel: all, one: expectOne(t), two: expectTwo(t) };
  const check = async (): Promise<true | string> => {
    const got = {
      channel: tokenCounts(p.channel(), P),
      one: tokenCounts(
        (await p.news1.articles()).map((x) => x.text),
        P,
      ),
      two: tokenCounts(
        (await p.news2.articles()).map((x) => x.text),
        P,
      ),
    };
    const problems: string[] = [];
    for (const k of ['channel', 'one', 'two'] as const)
      for (const x of all) {
        const want = expect[k].includes(x) ? 1 : 0;
        if ((got[k].get(x) ?? 0) !== want) problems.push(`${k} shows ${x} ${got[k].get(x) ?? 0}× (expected ${want}×)`);
      }
    return problems.length ? problems.join('; ') : true;
  };
  await eventually(check, 'every post once in the channel and in each group', 20_000, 300);
  // Who said what in the channel: each article by its own node's relay, the shell post by node one.
  const ch = p.channel();
  const [one, two] = [p.irc1.relayNick, p.irc2.relayNick];
  assert.ok(
    ch.some((l) => l === `${one} [commons] carol: From group one`),
    ch.join('\n'),
  );
  assert.ok(
    ch.some((l) => l === `${two} [commons] erin: From group two`),
    ch.join('\n'),
  );
  assert.ok(
    ch.some((l) => l === `${one} <dave> ${t.p[0]} from node one's shell`),
    ch.join('\n'),
  );
  // A quiet period: still once everywhere, nothing new in the channel or in either group.
  const before = p.channel().length;
  const counts = async () => [(await p.news1.articles()).length, (await p.news2.articles()).length];
  const arts = await counts();
  await sleep(4000);
  assert.equal(await check(), true);
  assert.equal(p.channel().length, before, `the channel stays quiet:\n${p.channel().slice(before).join('\n')}`);
  assert.deepEqual(await counts(), arts, 'no new articles in either group');
  assert.deepEqual(await p.node1.outbox(), []);
  assert.deepEqual(await p.node2.outbox(), []);
}

test('two nodes on one channel, each with its own newsgroup (relays.lines: ignore, the default): no loop, no duplicate', async () => {
  const p = await pair('#shared', 'ignore');
  // The people's lines reach both groups (each node takes them from the channel); an article and a shell post reach
  // the channel through their own node, and the other node leaves the relay's line alone.
  await converse(
    p,
    'K2',
    (t) => [...t.a!, ...t.b!, ...t.n!, ...t.p!],
    (t) => [...t.a!, ...t.b!, ...t.m!],
  );
});

test('two nodes on one channel, each with its own newsgroup (relays.lines: relay): everything everywhere once, no loop', async () => {
  const p = await pair('#relayed', 'relay');
  // Each node also takes the other relay's lines (the announcement, the shell post) into its own group — once — and
  // never says them in the channel again.
  await converse(
    p,
    'K6',
    (t) => Object.values(t).flat(),
    (t) => Object.values(t).flat(),
  );
});
