/**
 * Said first (docs/design.md) against a REAL ngircd (no chathistory): a line said in one channel of a bridge is
 * written to its other channels before its commit, then committed and confirmed as any delivery. What a person
 * checks: each line arrives once, in order, in the other channel and in the other places; nothing is said again
 * after a restart (the outbox holds nothing); a burst still keeps its order through the flood control.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { world, cli, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import { ngircdInTmp, stopIrcd, User, type Ircd } from './irc-helpers.js';

let ircd: Ircd | undefined;
let dir: string;
let w: World;
let d: Running | undefined;
let alice: User;
let bob: User;

/** The lines bob saw in #b carrying `tag`, in order. */
const seenInB = (tag: string) =>
  bob.lines.filter((l) => / PRIVMSG #b :/.test(l) && l.includes(tag)).map((l) => l.slice(l.indexOf(' :') + 2));

const pendingRows = async () => {
  const o = await cli(['outbox', '-c', w.config, '--json']);
  assert.equal(o.code, 0, o.stderr);
  return (JSON.parse(o.stdout) as { rows: unknown[] }).rows.length;
};

async function start(): Promise<Running> {
  const joins = (u: User, chan: string) =>
    u.lines.filter((l) => l.startsWith(':relay!') && new RegExp(` JOIN :?${chan}$`).test(l)).length;
  const before = [joins(alice, '#a'), joins(bob, '#b')];
  const r = await startDaemon(w.config);
  await until(() => joins(alice, '#a') > before[0]! && joins(bob, '#b') > before[1]!, 'the relay joins #a and #b');
  return r;
}

describe('said first: IRC lines relayed before their commit (ngircd)', () => {
  before(async () => {
    ircd = await ngircdInTmp('0');
    dir = ircd.dir;
    const port = ircd.port;
    alice = await new User('alice').connect(port, '#a');
    bob = await new User('bob').connect(port, '#b');
    w = world();
    w.writeConfig(`
accounts:
  irc.a: { host: 127.0.0.1, port: ${port}, tls: false, nick: relay, flood: { burst: 3, interval: 200ms } }
  sink.s: { file: ${w.sink('s')} }
bridges:
  ab:
    endpoints: [irc.a/#a, irc.a/#b, sink.s/x]
`);
    d = await start();
  });

  after(async () => {
    alice?.close();
    bob?.close();
    if (d) assert.equal(await d.stop('SIGTERM'), 0);
    stopIrcd(ircd);
    if (dir) rmSync(dir, { recursive: true, force: true });
    w?.cleanup();
  });

  test("lines at a person's pace reach #b once each, said before their commit, and every other place", async () => {
    const n = 6;
    for (let i = 0; i < n; i++) {
      alice.send(`PRIVMSG #a :pace ${i} hello`);
      await until(() => seenInB(`pace ${i} `).length > 0, `line ${i} in #b`);
      await sleep(300);
    }
    assert.deepEqual(
      seenInB('pace '),
      Array.from({ length: n }, (_, i) => `<alice> pace ${i} hello`),
      'each line once, in order, from alice',
    );
    await until(() => w.delivered('s').filter((p) => /^pace /.test(p.body)).length >= n, 'the lines at the sink');
    assert.deepEqual(
      w
        .delivered('s')
        .filter((p) => /^pace /.test(p.body))
        .map((p) => p.body),
      Array.from({ length: n }, (_, i) => `pace ${i} hello`),
    );
    // The first line finds #b's delivery not yet known idle (nothing delivered there since the start): after it,
    // every line is said first and then confirmed by the delivery that follows its commit.
    const first = () =>
      d!.logs.filter((l) => /the server took the lines \(confirmed by a PING; said before the commit\)/.test(l)).length;
    await until(() => first() >= n - 1, 'the lines said first confirmed').catch((e) => {
      throw new Error(`${(e as Error).message}: ${first()} of ${n}`);
    });
    assert.equal(await pendingRows(), 0, 'every delivery recorded as done');
  });

  test('a burst keeps its order through the flood control; each line once', async () => {
    const n = 10;
    for (let i = 0; i < n; i++) alice.send(`PRIVMSG #a :burst ${i}`);
    await until(() => seenInB('burst ').length >= n, 'the burst in #b', 20_000);
    await sleep(500);
    assert.deepEqual(
      seenInB('burst '),
      Array.from({ length: n }, (_, i) => `<alice> burst ${i}`),
    );
    await until(async () => (await pendingRows()) === 0, 'the outbox empty');
  });

  test('after a restart nothing is said again', async () => {
    const before = bob.lines.filter((l) => / PRIVMSG #b :/.test(l)).length;
    assert.equal(await d!.stop('SIGTERM'), 0);
    d = await start();
    alice.send('PRIVMSG #a :after the restart');
    await until(() => seenInB('after the restart').length > 0, 'a new line in #b');
    await sleep(1000);
    const said = bob.lines.filter((l) => / PRIVMSG #b :/.test(l));
    assert.equal(said.length, before + 1, `only the new line: ${said.slice(before).join(' | ')}`);
  });
});
