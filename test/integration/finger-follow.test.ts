/**
 * Following remote plans served by real netkit in.fingerd (under socat, through
 * test/peers/fingerd.sh): a Thimbl plan (the 2011 fixture) and a plain plan.
 * Each Thimbl message arrives at a sink endpoint once; a plain plan once per new
 * text, never the same text twice; nothing again after a daemon restart.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { world, startDaemon, until, sleep, cli } from '../helpers/daemon.js';
import { ensureFingerPeers, FIXTURES, listeningPort, rawQuery, startFingerd, type Fingerd } from '../peers/finger.js';

before(() => ensureFingerPeers());

const PLAIN_HEADER =
  'Login: plain          \t\t\tName: Plain Plan\nDirectory: /home/plain               \tShell: /bin/sh\nOn since Fri Nov 27 05:00 (UTC) on pts/0\n   IDLE idle\nPlan:\n';

function setPlain(fd: Fingerd, text: string, idle = '3 minutes') {
  // The header changes between polls (idle time), as a real fingerd's does: only the plan counts.
  writeFileSync(join(fd.dir, 'plans', 'plain'), PLAIN_HEADER.replace('IDLE', idle) + text, { mode: 0o644 });
}

const config = (w: ReturnType<typeof world>, fd: Fingerd) => `
accounts:
  finger.f: { listen: 127.0.0.1:0, poll: 300ms, pollTimeout: 3s, rateLimit: { queries: 0 } }
  sink.s: { file: ${w.sink('s')} }
bridges:
  remote:
    description: Plans we follow
    endpoints:
      - { endpoint: finger.f/follow:dk@127.0.0.1:${fd.port}, direction: in }
      - { endpoint: finger.f/follow:plain@127.0.0.1:${fd.port}, direction: in, poll: 200ms }
      - { endpoint: finger.f/follow:gone@127.0.0.1:${fd.port}, direction: in }
      - { endpoint: finger.f/remote, format: thimbl }
      - sink.s/out
`;

test('following a Thimbl plan and a plain plan from netkit fingerd: each post once, also across a restart', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const fd = await startFingerd();
  t.after(() => fd.stop());
  copyFileSync(join(FIXTURES, 'thimbl-plan-2011.finger'), join(fd.dir, 'plans', 'dk'));
  setPlain(fd, 'Working on the finger bridge.\nBack on Monday.\n');
  // The real fingerd answers as we expect before peerpost asks it.
  assert.match(await rawQuery(fd.port, 'dk\r\n'), /^Plan:\r\n\{"name": "Dmytri Kleiner"/m);

  w.writeConfig(config(w, fd));
  const check = await cli(['check', '-c', w.config]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /in only {3}finger\.f\/follow:dk@127\.0\.0\.1:\d+/);

  let d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const byDk = () => w.delivered('s').filter((x) => (x as { author?: string }).author === 'Dmytri Kleiner');
  const plans = () => w.delivered('s').filter((x) => (x as { kind?: string }).kind === 'plan');
  await until(
    () => byDk().length === 21 && plans().length === 1,
    'the 21 Thimbl messages and the plain plan at the sink',
    15_000,
  );
  const dk = byDk();
  assert.equal(dk[0]!.body, '@bernd, would be cool to inegrate thimbl in http://bau-ha.us\\!');
  assert.equal(dk[20]!.body, 'transmediale was fun, Thimbl got a distinction and moves onwards...');
  assert.ok(
    dk.some(
      (x) => x.body === '@mark, if we store the dats in GMT/UTC in the .plan, then timezones are no longer an issue',
    ),
    'folds removed',
  );
  assert.equal(new Set(dk.map((x) => x.id)).size, 21);
  assert.ok(dk.every((x) => /^thimbl\.[0-9a-f]{40}@telekommunisten\.org$/.test(x.id)));
  assert.equal(plans()[0]!.body, 'Working on the finger bridge.\nBack on Monday.');
  assert.equal(plans()[0]!.subject, `Plan of plain@127.0.0.1`);

  // Several more polls (the idle time in the header changes): nothing new.
  setPlain(fd, 'Working on the finger bridge.\nBack on Monday.\n', '9 minutes');
  await sleep(1200);
  assert.equal(byDk().length, 21);
  assert.equal(plans().length, 1);

  // A new plain text: one post. Back to the old text: none (never the same text twice).
  setPlain(fd, 'Gone fishing.\n');
  await until(() => plans().length === 2, 'the changed plain plan', 10_000);
  assert.equal(plans()[1]!.body, 'Gone fishing.');
  setPlain(fd, 'Working on the finger bridge.\nBack on Monday.\n');
  await sleep(1000);
  assert.equal(plans().length, 2);

  // A new Thimbl message: one more post.
  const fixture = (await import('node:fs')).readFileSync(join(FIXTURES, 'thimbl-plan-2011.finger'), 'utf8');
  // (And one that carries the address of our own served plan "remote": our post relayed back, never taken again.)
  writeFileSync(
    join(fd.dir, 'plans', 'dk'),
    fixture.replace(
      '"messages": [',
      '"messages": [{"text": "a new one", "time": 20110207100000}, {"text": "carol: our own post", "time": "20110207100001", "address": "remote@test.example"}, ',
    ),
    { mode: 0o644 },
  );
  await until(() => byDk().length === 22, 'the new Thimbl message', 10_000);
  assert.equal(byDk()[21]!.body, 'a new one');
  await sleep(700);
  assert.ok(!w.delivered('s').some((x) => x.body.includes('our own post')), 'our own post relayed back is not taken');

  // The bridge's own Thimbl plan lists whom it follows, and serves what came in.
  const port = await listeningPort(d.waitForLog, 'finger.f');
  const served = await rawQuery(port, 'remote\r\n');
  const plan = JSON.parse(served.split('\r\n')[served.split('\r\n').indexOf('Plan:') + 1]!);
  assert.deepEqual(
    plan.following.map((f: { nick: string }) => f.nick),
    ['dk', 'plain', 'gone'],
  );
  // A followed Thimbl message is served as it came (its address, time and text), so other followers recognise it.
  assert.ok(
    plan.messages.some(
      (m: { text: string; address: string; time: string }) =>
        m.text === 'a new one' && m.address === 'dk@telekommunisten.org' && m.time === '20110207100000',
    ),
  );

  // The missing user is reported, and backed off; the others are unaffected.
  assert.ok(
    d.logs.some((l) =>
      /following gone@127\.0\.0\.1:\d+ failed: the remote answered: finger: gone: no such user\./.test(l),
    ),
    'a failing follow is logged',
  );
  const st = JSON.parse((await cli(['status', '-c', w.config, '--json'])).stdout);
  assert.match(st.accounts.find((a: { name: string }) => a.name === 'finger.f').detail, /following 3 \(1 failing\)/);

  // Restart: the same plans are fetched again, and nothing arrives twice.
  assert.equal(await d.stop('SIGTERM'), 0);
  const before = w.delivered('s').length;
  d = await startDaemon(w.config);
  await d.waitForLog(/finger\.f is listening/);
  await sleep(1500);
  assert.equal(w.delivered('s').length, before, 'no post twice after a restart');
  assert.equal(byDk().length, 22);
  assert.equal(plans().length, 2);
  assert.equal(await d.stop('SIGTERM'), 0);
});

test('a followed plan that times out or refuses is retried with backoff; the listener keeps serving', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  // A "remote" that accepts and never answers.
  const { createServer } = await import('node:net');
  let tries = 0;
  const silent = createServer(() => {
    tries++;
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  t.after(() => silent.close());
  const silentPort = (silent.address() as { port: number }).port;
  w.writeConfig(`
accounts:
  finger.f: { listen: 127.0.0.1:0, poll: 50ms, pollTimeout: 100ms, maxBackoff: 1s }
  sink.s: { file: ${w.sink('s')} }
bridges:
  remote:
    endpoints:
      - { endpoint: finger.f/follow:dk@127.0.0.1:${silentPort}, direction: in }
      - finger.f/remote
      - sink.s/out
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  await d.waitForLog(/following dk@127\.0\.0\.1:\d+ failed: no complete answer within 100 ms/, 5000);
  const port = await listeningPort(d.waitForLog, 'finger.f');
  assert.match(await rawQuery(port, 'remote\r\n'), /^Login: remote/);
  const t0 = tries;
  await sleep(3000);
  // Every 50 ms with a 100 ms timeout would be ~20 tries in 3 s; backing off (0.1, 0.2, 0.4, 0.8, then 1 s) it is a few.
  assert.ok(tries - t0 >= 2 && tries - t0 <= 8, `tries in 3 s while failing: ${tries - t0}`);
  assert.equal(w.delivered('s').length, 0);
});
