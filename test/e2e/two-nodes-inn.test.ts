/**
 * End to end: two peerpost nodes (two communities) bridging the same IRC
 * channel (one ngircd) AND the same group on one real INN — the hard case of
 * the design's loop guard, where each node can see every post twice (once in
 * the channel, once in the group). Over a quiet period the channel and the
 * group (and node two's own list) show every post once, and nothing loops. Both nodes digest the lines
 * said in the channel; in the shared group their digests take turns (one.… goes
 * first, two.… waits digest.settle, looks at the group again, and sends only
 * the lines the group does not show yet: src/digest/shown.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { User } from '../integration/irc-helpers.js';
import { ensurePeers, eventually, IrcNetwork, IrcPlace, Node, sleep, token, tokenCounts } from '../helpers/e2e.js';
import { InnPlace, MailPlace } from '../helpers/e2e-places.js';

const P = 'K8';
const CHAN = '#shared';
let net: IrcNetwork;
let inn: InnPlace;
/** Node two's own mailing list (not shared): it gets node one's lines through the group, each once. */
let list: MailPlace;
const READER = 'bea@sub.example';
let watch: User;
let irc1: IrcPlace;
let irc2: IrcPlace;
let node1: Node;
let node2: Node;

before(async () => {
  ensurePeers();
  net = await IrcNetwork.start('shared');
  inn = await InnPlace.make('inn', 'nntp.inn', 'peerpost.shared');
  list = await MailPlace.make('list', 'mail.lists', 'commons', 'lists.two.example', [READER]);
  watch = await new User('watch').connect(net.port, CHAN);
  irc1 = await new IrcPlace('irc (node one)', net, 'irc.net', CHAN, 'node_one', 'alice').connect();
  irc2 = await new IrcPlace('irc (node two)', net, 'irc.net', CHAN, 'node_two', 'bob').connect();
  node1 = new Node({ hostname: 'one.e2e.example', bridge: 'commons', places: [irc1, inn], quiet: '2s', settle: '3s' });
  node2 = new Node({
    hostname: 'two.e2e.example',
    bridge: 'commons',
    places: [irc2, inn, list],
    quiet: '2s',
    settle: '3s',
  });
  for (const n of [node1, node2]) {
    const r = await n.start();
    await r.waitForLog(/first look at peerpost\.shared/, 15_000);
  }
  await list.subscribe(node2);
  await irc1.relayJoined();
  await irc2.relayJoined();
  await node1.running!.waitForLog(/node_two is another peerpost relay/, 15_000);
  await node2.running!.waitForLog(/node_one is another peerpost relay/, 15_000);
  // Each node knows the other's node by its real name ("peerpost relay on HOST", from WHO): their digests take
  // turns at the shared group from the first conversation on.
  await node1.running!.waitForLog(/the peerpost node two\.e2e\.example is at irc\.net\/#shared too/, 15_000);
  await node2.running!.waitForLog(/the peerpost node one\.e2e\.example is at irc\.net\/#shared too/, 15_000);
});

after(async () => {
  watch?.close();
  irc1?.close();
  irc2?.close();
  for (const n of [node1, node2]) {
    if (!n) continue;
    assert.equal(await n.stop(), 0, 'peerpost stops cleanly');
    n.cleanup();
  }
  inn?.cleanup();
  await list?.cleanup();
  net?.cleanup();
});

/** Every PRIVMSG to the channel, as "nick text". */
const channel = () =>
  watch.lines
    .filter((l) => l.includes(` PRIVMSG ${CHAN} :`))
    .map((l) => `${l.slice(1, l.indexOf('!'))} ${l.slice(l.indexOf(' :', 1) + 2)}`);

for (const part of ['first', 'second'] as const)
  test(`two nodes on one channel and one INN group, ${part} conversation: every post once in the channel, the group and node two's list; no loop`, async () => {
    const Q = part === 'first' ? `${P}C` : `${P}G`;
    const t = {
      a: [1, 2].map((n) => token(Q, 'a', n)),
      b: [token(Q, 'b', 1)],
      i: [token(Q, 'i', 1)],
      p: [token(Q, 'p', 1)],
      q: [token(Q, 'q', 1)],
    };
    // One conversation on each node: every line within digest.quiet (2 s) of the one before. A `peerpost post`
    // takes seconds on a loaded machine (a node process starting), so the shells' lines go first, both at once,
    // and the channel's lines (milliseconds each) right after them; said one after another, the last shell's line
    // came more than 2 s after the channel's, and closed a conversation of its own.
    const [r1, r2] = await Promise.all([
      node1.post(`${t.p[0]} from node one's shell`, 'dave'),
      node2.post(`${t.q[0]} from node two's shell`, 'erin'),
    ]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r2.code, 0, r2.stderr);
    for (const x of t.a) await irc1.say({ text: `${x} alice speaking` });
    await irc2.say({ text: `${t.b[0]} bob answering` });
    await inn.say({
      from: 'ivan',
      subject: `On the shared group (${Q})`,
      id: `${Q}-inn@reader.example`,
      text: `${t.i[0]} posted on INN`,
    });

    const all = Object.values(t).flat();
    const check = async (): Promise<true | string> => {
      const got = {
        channel: tokenCounts(channel(), Q),
        inn: tokenCounts(
          (await inn.articles()).map((x) => x.text),
          Q,
        ),
        list: tokenCounts(
          (await list.inbox(READER)).map((x) => x.text),
          Q,
        ),
      };
      const problems: string[] = [];
      for (const k of ['channel', 'inn', 'list'] as const)
        for (const x of all)
          if ((got[k].get(x) ?? 0) !== 1) problems.push(`${k} shows ${x} ${got[k].get(x) ?? 0}× (expected 1×)`);
      return problems.length ? problems.join('; ') : true;
    };
    try {
      await eventually(check, 'every post once in the channel, the INN group and the list', 20_000, 300);
    } catch (err) {
      const arts = await inn.articles();
      console.log(
        `# the channel:\n${channel()
          .map((l) => `#   ${l}`)
          .join(
            '\n',
          )}\n# the INN group:\n${arts.map((a) => `#   ${a.id} ${a.kind || 'message'} "${a.subject}" refs=${a.references.join(' ')}`).join('\n')}`,
      );
      throw err;
    }
    {
      // two.… went second: its digest holds only its own line, and says where the rest of the conversation is.
      const second = (await inn.articles()).filter(
        (a) => a.id.endsWith('@two.e2e.example') && a.text.includes(t.q[0]!),
      );
      assert.equal(second.length, 1, "node two's digest is in the group once");
      // The digests each node closed, with their times: a failure below shows whether a conversation split.
      const closed = (n: Node) =>
        n
          .allLogs()
          .filter((l) => l.includes('digest closed') || l.includes('waits its turn') || l.includes(' sent to '))
          .map((l) => {
            try {
              const j = JSON.parse(l) as { time: number; msg: string };
              return `  ${new Date(j.time).toISOString().slice(11, 23)} ${j.msg}`;
            } catch {
              return `  ${l}`;
            }
          })
          .join('\n');
      assert.match(
        second[0]!.text,
        /more lines of this conversation are here already, in <[^>]+@one\.e2e\.example>/,
        `node two's digest names node one's:\n${second[0]!.text}\nnode one:\n${closed(node1)}\nnode two:\n${closed(node2)}`,
      );
      for (const x of [...t.a, ...t.b])
        assert.ok(
          !second[0]!.text.includes(x),
          `node two's digest leaves out ${x} (node one's digest holds it):\n${second[0]!.text}`,
        );
    }
    const ch = channel();
    assert.equal(
      ch.filter((l) => l.endsWith(`[commons] ivan: On the shared group (${Q})`)).length,
      1,
      `the INN article announced once:\n${ch.join('\n')}`,
    );
    // How: both nodes read the article from the group; node two, second in turn, waited before the channel (in the
    // first conversation too, before any digest was read in the group), and node one did not.
    const waited = new RegExp(
      `a post from a shared place <${Q}-inn@reader\\.example> waits its turn for irc\\.net/#shared`,
    );
    await node2.running!.waitForLog(waited, 5_000);
    assert.ok(!node1.running!.logs.some((l) => waited.test(l)), 'node one, first in turn, does not wait');

    // Every post reached the group at least once (the digests close after 2 s of quiet), and both nodes are done.
    await eventually(
      async () => {
        const inGroup = tokenCounts(
          (await inn.articles()).map((x) => x.text),
          Q,
        );
        const missing = all.filter((x) => !inGroup.get(x));
        return missing.length ? `not in the INN group yet: ${missing.join(', ')}` : true;
      },
      'every post in the INN group',
      15_000,
      300,
    );
    await eventually(
      async () => ((await node1.outbox()).length + (await node2.outbox()).length === 0 ? true : 'outboxes not empty'),
      'both outboxes empty',
      15_000,
      300,
    );
    await sleep(3000);
    // A quiet period: nothing new in the channel or the group (a loop would keep both busy), and each node is done.
    const before = channel().length;
    const arts = (await inn.articles()).length;
    await sleep(5000);
    assert.equal(await check(), true);
    assert.equal(channel().length, before, `the channel stays quiet:\n${channel().slice(before).join('\n')}`);
    assert.equal((await inn.articles()).length, arts, 'no new articles in the INN group');
    assert.deepEqual(await node1.outbox(), []);
    assert.deepEqual(await node2.outbox(), []);
  });
