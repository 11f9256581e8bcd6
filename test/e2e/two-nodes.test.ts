/**
 * End to end: two peerpost nodes (two communities) bridging the same IRC
 * channel on one real ngircd, each with a newsgroup of its own. Over a quiet
 * period the channel shows every post once, each group holds what it should
 * once, and nothing loops.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { User } from '../integration/irc-helpers.js';
import { ensurePeers, eventually, IrcNetwork, IrcPlace, NewsPlace, Node, sleep, token, tokenCounts } from '../helpers/e2e.js';

const P = 'K2';
const CHAN = '#shared';
let net: IrcNetwork;
let watch: User;
let irc1: IrcPlace;
let irc2: IrcPlace;
let news1: NewsPlace;
let news2: NewsPlace;
let node1: Node;
let node2: Node;

before(async () => {
  ensurePeers();
  net = await IrcNetwork.start('shared');
  watch = await new User('watch').connect(net.port, CHAN);
  irc1 = await new IrcPlace('irc (node one)', net, 'irc.net', CHAN, 'node_one', 'alice').connect();
  irc2 = await new IrcPlace('irc (node two)', net, 'irc.net', CHAN, 'node_two', 'bob').connect();
  news1 = await NewsPlace.make('news one', 'nntp.local', 'one.commons');
  news2 = await NewsPlace.make('news two', 'nntp.local', 'two.commons');
  node1 = new Node({ hostname: 'one.e2e.example', bridge: 'commons', places: [irc1, news1], quiet: '2s' });
  node2 = new Node({ hostname: 'two.e2e.example', bridge: 'commons', places: [irc2, news2], quiet: '2s' });
  await node1.start();
  await node2.start();
  await irc1.relayJoined();
  await irc2.relayJoined();
  // Each node learns that the other is a relay (its real name, by WHO) before the load.
  await node1.running!.waitForLog(/node_two is another peerpost relay/, 15_000);
  await node2.running!.waitForLog(/node_one is another peerpost relay/, 15_000);
});

after(async () => {
  watch?.close();
  irc1?.close();
  irc2?.close();
  if (node1) assert.equal(await node1.stop(), 0);
  if (node2) assert.equal(await node2.stop(), 0);
  net?.cleanup();
  node1?.cleanup();
  node2?.cleanup();
});

/** Every PRIVMSG to the channel, as "nick text". */
const channel = () => watch.lines.filter((l) => l.includes(` PRIVMSG ${CHAN} :`)).map((l) => `${l.slice(1, l.indexOf('!'))} ${l.slice(l.indexOf(' :', 1) + 2)}`);

test('two nodes on one channel, each with its own newsgroup: no loop, no duplicate', async () => {
  const a = [1, 2, 3].map((n) => token(P, 'a', n));
  const b = [1, 2].map((n) => token(P, 'b', n));
  const n1 = token(P, 'n', 1);
  const m1 = token(P, 'm', 1);
  const p1 = token(P, 'p', 1);
  for (const t of a) await irc1.say({ text: `${t} alice speaking` });
  for (const t of b) await irc2.say({ text: `${t} bob answering` });
  await news1.say({ from: 'carol', subject: 'From group one', id: 'k2-one@reader.example', text: `${n1} posted in one.commons` });
  await news2.say({ from: 'erin', subject: 'From group two', id: 'k2-two@reader.example', text: `${m1} posted in two.commons` });
  const r = await node1.post(`${p1} from node one's shell`, 'dave');
  assert.equal(r.code, 0, r.stderr);

  const all = [...a, ...b, n1, m1, p1];
  const expect = {
    channel: all,
    // The people's lines reach both groups (each node takes them from the channel); an article and a shell post reach
    // the channel through their own node, and the other node takes the relay's line as a relay's (relays.lines: ignore).
    one: [...a, ...b, n1, p1],
    two: [...a, ...b, m1],
  };
  const check = async (): Promise<true | string> => {
    const got = {
      channel: tokenCounts(channel(), P),
      one: tokenCounts((await news1.articles()).map((x) => x.text), P),
      two: tokenCounts((await news2.articles()).map((x) => x.text), P),
    };
    const problems: string[] = [];
    for (const k of ['channel', 'one', 'two'] as const)
      for (const t of all) {
        const want = expect[k].includes(t) ? 1 : 0;
        if ((got[k].get(t) ?? 0) !== want) problems.push(`${k} shows ${t} ${got[k].get(t) ?? 0}× (expected ${want}×)`);
      }
    return problems.length ? problems.join('; ') : true;
  };
  await eventually(check, 'every post once in the channel and in each group', 20_000, 300);
  // Who said what in the channel: each article by its own node's relay, the shell post by node one.
  const ch = channel();
  assert.ok(ch.some((l) => l === 'node_one [commons] carol: From group one'), ch.join('\n'));
  assert.ok(ch.some((l) => l === 'node_two [commons] erin: From group two'), ch.join('\n'));
  assert.ok(ch.some((l) => l === `node_one <dave> ${p1} from node one's shell`), ch.join('\n'));
  // A quiet period: still once everywhere, nothing new in the channel, no second digest out of relayed lines.
  const before = channel().length;
  const digests = async () => [(await news1.articles()).length, (await news2.articles()).length];
  const arts = await digests();
  await sleep(4000);
  assert.equal(await check(), true);
  assert.equal(channel().length, before, `the channel stays quiet:\n${channel().slice(before).join('\n')}`);
  assert.deepEqual(await digests(), arts, 'no new articles in either group');
  assert.deepEqual(await node1.outbox(), []);
  assert.deepEqual(await node2.outbox(), []);
});
