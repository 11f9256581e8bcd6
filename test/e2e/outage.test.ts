/**
 * End to end: one IRC network goes away for a while during a load (its ngircd
 * stopped for OUTAGE_MS, then started again on the same port). Posts for it
 * wait — `peerpost status` shows the account retrying and the outbox depth for
 * its channel while it lasts — and arrive in order, once, when it is back. The
 * other places are served all along.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ensurePeers,
  eventually,
  IrcPlace,
  NewsPlace,
  Node,
  sleep,
  token,
  tokenCounts,
  tokensInOrder,
  TwoNetworks,
} from '../helpers/e2e.js';

const P = 'K4';
/** How long network B is down: a minute, as the end-to-end issue asks (the relay's reconnect backoff and the outbox's retries run many rounds). */
const OUTAGE_MS = 60_000;

let nets: TwoNetworks;
let ircA: IrcPlace;
let ircB: IrcPlace;
let news: NewsPlace;
let node: Node;

before(async () => {
  ensurePeers();
  // 3–6 s between reconnect attempts, so the person on B is back in the channel before the relay (see below).
  nets = await TwoNetworks.start('o', '#out', (b) => {
    b.reconnect = { first: '6s', max: '6s' };
  });
  ({ ircA, ircB } = nets);
  news = await NewsPlace.make('news', 'nntp.local', 'peerpost.out');
  node = new Node({ hostname: 'out.e2e.example', bridge: 'out', places: [ircA, ircB, news], quiet: '1s' });
  await node.start();
  await ircA.relayJoined();
  await ircB.relayJoined();
});

after(async () => {
  nets?.close();
  if (node) assert.equal(await node.stop(), 0);
  nets?.cleanup();
  node?.cleanup();
});

test(`an IRC network down for ${OUTAGE_MS / 1000} s during a load: posts wait, status shows it, then they arrive in order, once`, async () => {
  let talking = true;
  let i = 0;
  const alice = (async () => {
    while (talking) {
      await ircA.say({ text: `${token(P, 'a', ++i)} alice line ${i}` });
      await sleep(100);
    }
  })();
  let articles = 0;
  const carol = (async () => {
    while (talking) {
      articles++;
      await news.say({
        from: 'carol',
        subject: `report ${articles}`,
        id: `k4-${articles}@reader.example`,
        text: `${token(P, 'n', articles)} report number ${articles}`,
      });
      await sleep(1500);
    }
  })();

  let depths: number[];
  let upAt: number;
  try {
    await sleep(1000);
    const downAt = Date.now();
    nets.netB.down();

    // While it lasts: the account retries, the channel's deliveries wait in the outbox and grow; A is served all along.
    const where = `127.0.0.1:${nets.netB.port}`;
    const seen: { state: string; pending: number; reason: string }[] = [];
    let text = '';
    while (Date.now() - downAt < OUTAGE_MS) {
      const st = await node.status();
      const acct = st.accounts.find((x: any) => x.name === 'irc.b');
      const q = st.outbox.find((x: any) => x.endpoint === 'irc.b/#out');
      seen.push({ state: acct.state, pending: q?.pending ?? 0, reason: q?.waiting?.reason ?? '' });
      if (!text && (q?.pending ?? 0) > 20) text = (await node.cli(['status'])).stdout;
      await sleep(1000);
    }
    const during = seen.slice(3);
    assert.ok(
      during.every((s) => s.state === 'retrying' || s.state === 'connecting'),
      `irc.b retries while its server is down: ${JSON.stringify(seen)}`,
    );
    assert.ok(
      during.some((s) => s.reason.includes(`disconnected from ${where}`)),
      `the outbox says why irc.b/#out waits: ${JSON.stringify(seen)}`,
    );
    depths = during.map((s) => s.pending);
    assert.ok(
      depths[depths.length - 1]! > depths[0]! && depths[depths.length - 1]! >= 100,
      `the outbox for irc.b/#out grows while it lasts: ${depths.join(' ')}`,
    );
    assert.match(text, /irc\.b\s+retrying for .*disconnected from 127\.0\.0\.1:\d+/, text);
    assert.match(text, /irc\.b\/#out\s+\d+ pending, oldest \S+, 0 dead; waiting since \S+: disconnected from/, text);
    const onA = tokenCounts(ircA.lines(), P);
    assert.ok(
      [...onA.keys()].some((t) => t.startsWith(`${P}-n-`) && Number(t.slice(-4)) >= articles - 1),
      'network A got the newest articles during the outage',
    );

    // Back: start ngircd again right after a failed reconnect attempt, so bob is in the channel before the relay's
    // next try (3–6 s later: the log line says when), and sees everything the relay then says.
    const mark = node.running!.logs.length;
    await eventually(
      async () =>
        node.running!.logs.slice(mark).some((l) => l.includes(where) && /reconnecting in/.test(l))
          ? true
          : 'no attempt yet',
      'a reconnect attempt of irc.b',
      15_000,
      20,
    );
    const attempt = JSON.parse(
      node.running!.logs.slice(mark).find((l) => l.includes(where) && /reconnecting in/.test(l))!,
    );
    const nextTry = Date.now() + Number(attempt.wait);
    nets.netB.up();
    await ircB.connect();
    assert.ok(
      Date.now() < nextTry,
      `bob is back in ${ircB.target} before the relay's next attempt (the machine was too slow for this check: ${Date.now() - nextTry} ms late)`,
    );
    await ircB.relayRejoined(15_000);
    upAt = Date.now();
    await sleep(2000);
  } finally {
    // Also when something above failed: the talkers stop, so the test ends.
    talking = false;
  }
  await Promise.all([alice, carol]);

  // Everything arrives on B: what A said and every article, in the order the store took them, once.
  const want = node
    .storedPosts()
    .filter((p) => p.kind !== 'digest' && p.origin.account !== 'irc.b')
    .map((p) => tokensInOrder([p.body], P)[0]!);
  await eventually(
    async () => {
      const got = tokensInOrder(ircB.lines(), P);
      return got.length >= want.length ? true : `${got.length} of ${want.length} on B`;
    },
    'the backlog on B',
    30_000,
    250,
  );
  const got = tokensInOrder(ircB.lines(), P);
  assert.deepEqual(got, want, 'B shows every post once, in order');
  const backlog = depths[depths.length - 1]!;
  console.log(
    `# outage ${OUTAGE_MS} ms; outbox depth for irc.b/#out rose to ${backlog}; ${want.length} posts on B, the backlog within ${Date.now() - upAt} ms of the relay's return`,
  );
  await eventually(async () => ((await node.outbox()).length === 0 ? true : 'outbox not empty'), 'an empty outbox');
  const dead = await node.cli(['outbox', '--dead', '--json']);
  assert.deepEqual(JSON.parse(dead.stdout).rows, [], 'no dead letters');
  const st = await node.status();
  assert.equal(st.accounts.find((x: any) => x.name === 'irc.b').state, 'connected');
});
