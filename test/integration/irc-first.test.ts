/**
 * Said first (docs/design.md) against a REAL ngircd (no chathistory): a line said in one channel of a bridge is
 * written to its other channels before its commit, then committed and confirmed as any delivery. What a person
 * checks: each line arrives once, in order, in the other channel and in the other places; nothing is said again
 * after a restart (the outbox holds nothing); a burst still keeps its order through the flood control.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
    // Every line is said first (the outbox held nothing for #b), then confirmed by the delivery after its commit.
    const first = () =>
      d!.logs.filter((l) => /the server took the lines \(confirmed by a PING; said before the commit\)/.test(l)).length;
    await until(() => first() >= n, 'the lines said first confirmed').catch((e) => {
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

  test('a post said first whose commit a kill cut off: at the next start it is stored and reaches every place', async () => {
    assert.equal(await d!.stop('SIGTERM'), 0);
    // What the journal holds when peerpost was killed between saying a line first and committing it.
    const journal = join(w.data, 'said-first.jsonl');
    const id = 'cut-off-1@test.example';
    const post = {
      id,
      bridge: 'ab',
      origin: { account: 'irc.a', target: '#a' },
      author: { name: 'alice', via: 'irc' },
      body: 'cut off by a kill',
      kind: 'message',
      references: [],
      hops: 0,
      date: new Date().toISOString(),
      attachments: [],
    };
    writeFileSync(journal, `${JSON.stringify(post)}\n`);
    d = await start();
    await until(() => w.delivered('s').some((p) => p.id === id), 'the post at the sink');
    await until(() => seenInB('cut off by a kill').length > 0, 'the line in #b (at least once)');
    await d.waitForLog(/was not stored; ingested again now \(accepted\)/, 5000);
    assert.equal(readFileSync(journal, 'utf8'), '', 'the journal emptied');
    await until(async () => (await pendingRows()) === 0, 'the outbox empty');
  });
});
