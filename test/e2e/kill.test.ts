/**
 * End to end under the worst fault: `kill -9` of peerpost at random moments
 * during a mixed load of 1,000 posts (IRC lines from people on two networks,
 * articles posted with nntplib, `peerpost post`), restarted each time.
 *
 * Afterwards every post the store accepted reached every place it should, and
 * none twice (IRC: see the note at the counts) — counted at each peer: the relay's lines on each IRC network,
 * the articles (and the lines in the digests) of the newsgroup, the finger plan
 * (verbose, up to 1,000 posts). What the store
 * accepted is read from the store itself; what senders were told was accepted
 * (NNTP 240, `peerpost post` exit 0) must be in it.
 *
 * IRC cannot carry what is said while no relay is in the channel (there is no
 * one to hear it, and IRC has no resend): those lines never enter and are
 * expected nowhere. News and the command line get a refusal or a connection
 * error while peerpost is down and try again, as real clients do.
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
  type Said,
  sleep,
  token,
  tokenCounts,
  TwoNetworks,
} from '../helpers/e2e.js';

const P = 'K3';
const LOAD = { a: 350, b: 350, n: 250, p: 50 };
const KILLS = 4;
/** The irc plugin's default flood.window: the posts of a channel in flight at once, unconfirmed until one PING after
 * the last (plugins/irc/README.md); a kill -9 between writing and the confirmation can make each of them show twice. */
const WINDOW = 8;

let nets: TwoNetworks;
let ircA: IrcPlace;
let ircB: IrcPlace;
let news: NewsPlace;
let plan: FingerPlace;
let node: Node;

before(async () => {
  ensurePeers();
  nets = await TwoNetworks.start('k', '#load');
  ({ ircA, ircB } = nets);
  news = await NewsPlace.make('news', 'nntp.local', 'peerpost.load');
  plan = await FingerPlace.make('finger', 'finger.local', 'load');
  node = new Node({
    hostname: 'kill.e2e.example',
    bridge: 'load',
    places: [ircA, ircB, news, plan],
    quiet: '1s',
    maxLines: 100,
  });
  await node.start();
  await ircA.relayJoined();
  await ircB.relayJoined();
});

after(async () => {
  nets?.close();
  await node?.stop();
  nets?.cleanup();
  node?.cleanup();
});

const rnd = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

test(`kill -9 ${KILLS} times during a 1,000-post mixed load: every accepted post reaches every place; news exactly once, IRC at most the posts in flight at a kill (flood.window) twice`, async () => {
  let loadDone = false;
  /** Set when the test fails, so the senders stop too. */
  let aborted = false;
  /** Tokens a sender was told were accepted. */
  const acked = new Set<string>();
  const said = new Set<string>();

  // People on IRC talk at their pace, whether or not the relay is there to hear them.
  const talk = async (irc: IrcPlace, src: string, n: number) => {
    for (let i = 1; i <= n; i++) {
      if (aborted) return;
      const t = token(P, src, i);
      said.add(t);
      await irc.say({ text: `${t} line ${i} from ${irc.personNick}` });
      await sleep(45);
    }
  };
  // A newsreader posts in batches of 10 on one connection; what was not answered 240 or 441 (already there) is posted again.
  const newsreader = async () => {
    const todo: Said[] = [];
    for (let i = 1; i <= LOAD.n; i++) {
      const t = token(P, 'n', i);
      todo.push({
        from: 'carol',
        subject: `article ${i}`,
        id: `${t.toLowerCase()}@reader.example`,
        text: `${t} the body of article ${i}`,
      });
    }
    let refusals = 0;
    while (todo.length && !aborted) {
      const batch = todo.slice(0, 10);
      const res = await news.postMany(batch);
      let done = 0;
      for (const [k, r] of res.entries()) {
        if (r.ok || r.code === '441') {
          acked.add(batch[k]!.text.split(' ')[0]!);
          done = k + 1;
          continue;
        }
        if (!/^(403|400|connect|client)$/.test(r.code ?? ''))
          assert.fail(`POST refused for good: ${r.code} ${r.error}`);
        refusals++;
        break;
      }
      todo.splice(0, done);
      await sleep(done === batch.length ? 40 : 200);
    }
    return refusals;
  };
  // `peerpost post` from the shell, two at a time; a failure (the daemon went away mid-answer) is tried again.
  let cliRetries = 0;
  const shell = async (from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      const t = token(P, 'p', i);
      for (;;) {
        const r = await node.post(`${t} shell post ${i}`, 'dave');
        if (r.code === 0) {
          acked.add(t);
          break;
        }
        if (++cliRetries > 200 || aborted) throw new Error(`peerpost post keeps failing: ${r.code} ${r.stderr}`);
        await sleep(100);
      }
    }
  };
  // The killer: at random moments, kill -9 and start again at once.
  const kills: number[] = [];
  const restarts: number[] = [];
  const killer = async () => {
    const t0 = Date.now();
    for (let k = 0; k < KILLS; k++) {
      await sleep(rnd(800, 2500));
      if (loadDone) break;
      await node.kill();
      kills.push(Date.now() - t0);
      await sleep(rnd(0, 300));
      const r0 = Date.now();
      await node.start();
      restarts.push(Date.now() - r0);
    }
  };

  const t0 = Date.now();
  const q = LOAD.p / 2;
  const took: Record<string, number> = {};
  const timed = <T>(name: string, p: Promise<T>) =>
    p.then((v) => {
      took[name] = Date.now() - t0;
      return v;
    });
  const load = Promise.all([
    timed('irc.a', talk(ircA, 'a', LOAD.a)),
    timed('irc.b', talk(ircB, 'b', LOAD.b)),
    timed('news', newsreader()),
    ...[0, 1].map((k) => timed(`shell${k}`, shell(k * q + 1, (k + 1) * q))),
  ]);
  const [, results] = await Promise.all([
    killer(),
    load.then((r) => {
      loadDone = true;
      return r;
    }),
  ]).catch(async (e) => {
    aborted = true;
    await load.catch(() => undefined);
    throw e;
  });
  const refusals = results[2];
  const loadMs = Date.now() - t0;
  assert.equal(
    kills.length,
    KILLS,
    `peerpost was killed ${kills.length} times during the load (${loadMs} ms), not ${KILLS}: make the load longer`,
  );
  if (!node.running) await node.start();

  // Let it settle: the outbox empty, the last conversation closed into a digest.
  await eventually(
    async () => {
      const ob = await node.outbox();
      const st = await node.status();
      const open = Object.values(st.digests ?? {}).reduce((n: number, x) => n + Number(x), 0);
      return ob.length === 0 && open === 0
        ? true
        : `${ob.length} deliveries pending, ${open} lines in an open conversation`;
    },
    'the outbox to empty',
    60_000,
    500,
  );

  const dead = await node.cli(['outbox', '--dead', '--json']);
  assert.deepEqual(JSON.parse(dead.stdout).rows, [], 'no dead letters');
  // What the store accepted: every post except the digests it made.
  const stored = node.storedPosts().filter((p) => p.kind !== 'digest');
  const tokenOf = (p: { body: string }) => tokenCounts([p.body], P);
  const storedTokens = new Map<string, { n: number; origin: string }>();
  for (const p of stored) {
    const ts = [...tokenOf(p).keys()];
    assert.equal(ts.length, 1, `one token in each stored post: ${JSON.stringify(p.body)}`);
    const e = storedTokens.get(ts[0]!);
    storedTokens.set(ts[0]!, { n: (e?.n ?? 0) + 1, origin: p.origin.account });
  }
  // Acknowledged means kept.
  const lost = [...acked].filter((t) => !storedTokens.has(t));
  assert.deepEqual(lost, [], 'every post a sender was told was accepted is in the store');
  // Nothing in the store that nobody said.
  for (const t of storedTokens.keys())
    assert.ok(said.has(t) || acked.has(t), `${t} is in the store but was never sent`);
  // The only posts stored twice may be `peerpost post` retries after a lost answer (the command has no id to resend).
  const twice = [...storedTokens].filter(([, v]) => v.n > 1);
  for (const [t, v] of twice) assert.equal(v.origin, 'cli', `${t} stored ${v.n} times`);

  // Count at each peer.
  const places = {
    'irc.a': tokenCounts(ircA.lines(), P),
    'irc.b': tokenCounts(ircB.lines(), P),
    news: tokenCounts(
      (await news.articles()).map((x) => x.text),
      P,
    ),
    finger: tokenCounts(
      (await plan.received()).map((x) => x.text),
      P,
    ),
  };
  const problems: string[] = [];
  // IRC has no message id, so a line written to the server in the instant before the kill, whose delivery the
  // store had not yet recorded, is written again after the restart: at least once, never lost. At most one such
  // repeat per kill per network is tolerated here (and listed); news refuses a repeat by its Message-ID, so it is
  // held to exactly once.
  const repeats: string[] = [];
  // The verbose plan shows the newest 1,000 posts (digests included): what is older is not expected there.
  const fingerWant = tokenCounts(
    node
      .storedPosts()
      .slice(-1000)
      .filter((p) => p.kind !== 'digest')
      .map((p) => p.body),
    P,
  );
  const seenAnywhere = new Set(Object.values(places).flatMap((c) => [...c.keys()]));
  for (const t of new Set([...storedTokens.keys(), ...seenAnywhere])) {
    const s = storedTokens.get(t);
    for (const [name, c] of Object.entries(places)) {
      const want = name === 'finger' ? (fingerWant.get(t) ?? 0) : !s ? 0 : name === s.origin ? 0 : s.n;
      const got = c.get(t) ?? 0;
      if (got === want) continue;
      if (name.startsWith('irc') && want > 0 && got === want + 1) repeats.push(`${name}: ${t}`);
      else problems.push(`${name} shows ${t} ${got}× (the store has it ${s?.n ?? 0}×, from ${s?.origin ?? 'nowhere'})`);
    }
  }
  const fromIrc = (a: string) => [...storedTokens.values()].filter((v) => v.origin === a).length;
  const summary = `load ${loadMs} ms (${Object.entries(took)
    .map(([k, v]) => `${k} ${v}`)
    .join(
      ', ',
    )}), kills at ${kills.join(', ')} ms (up again after ${restarts.join(', ')} ms); stored ${stored.length} posts (irc.a ${fromIrc('irc.a')}/${LOAD.a} said, irc.b ${fromIrc('irc.b')}/${LOAD.b}, news ${fromIrc('nntp.local')}/${LOAD.n}, shell ${fromIrc('cli')}/${LOAD.p}); ${refusals} news batches interrupted, ${cliRetries} shell retries, ${twice.length} shell posts stored twice; IRC lines repeated after a kill: ${repeats.join(', ') || 'none'}`;
  console.log(`# ${summary}`);
  assert.deepEqual(problems.slice(0, 40), [], `${problems.length} miscounts; ${summary}`);
  for (const net of ['irc.a', 'irc.b'])
    assert.ok(
      repeats.filter((r) => r.startsWith(net)).length <= KILLS * WINDOW,
      `at most flood.window (${WINDOW}) repeated posts per kill on ${net}; ${summary}`,
    );
  // The load got in: every article and shell post; of the IRC lines, those said while a relay was there to hear them.
  assert.equal(fromIrc('nntp.local'), LOAD.n);
  assert.ok(fromIrc('cli') >= LOAD.p);
  assert.ok(fromIrc('irc.a') >= LOAD.a / 4 && fromIrc('irc.b') >= LOAD.b / 4, summary);
});
