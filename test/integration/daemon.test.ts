/**
 * The daemon as a user runs it: the real `peerpost` command in child processes,
 * with the test plugin "sink" standing in for a protocol.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { writeFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { world, cli, startDaemon, runOnce, until, sleep } from '../helpers/daemon.js';

const twoSinks = (w: ReturnType<typeof world>, a: string = '{}', b: string = '{}') => `
accounts:
  sink.a: { file: ${w.sink('a')}, spool: ${join(w.dir, 'spool-a')}${a === '{}' ? '' : ', ' + a.slice(1, -1)} }
  sink.b: { file: ${w.sink('b')}${b === '{}' ? '' : ', ' + b.slice(1, -1)} }
bridges:
  commons:
    description: The commons
    endpoints: [sink.a/one, sink.b/two]
`;

function spool(w: ReturnType<typeof world>, name: string, post: object): string {
  const dir = join(w.dir, 'spool-a');
  mkdirSync(dir, { recursive: true });
  const f = join(dir, `${name}.json`);
  writeFileSync(f, JSON.stringify(post));
  return f;
}

test('check prints each bridge with its endpoints and directions', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(twoSinks(w));
  const r = await cli(['check', '-c', w.config]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /: OK/);
  assert.match(r.stdout, /bridge commons: The commons/);
  assert.match(r.stdout, /in \+ out {2}sink\.a\/one {2}receives chat as stream, articles as announce/);
});

test('check shows what each endpoint really does: a served finger plan and a web page nobody may post from only show posts', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  sink.a: { file: ${w.sink('a')} }
  finger.local: { listen: 127.0.0.1:0 }
  web.local: { listen: 127.0.0.1:0, tokens: [{ name: app, token: ${'t'.repeat(24)}, bridges: [lounge] }] }
bridges:
  commons:
    endpoints: [sink.a/one, finger.local/commons, web.local/commons]
  lounge:
    endpoints: [web.local/lounge]
`);
  const r = await cli(['check', '-c', w.config]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /in \+ out {2}sink\.a\/one /);
  assert.match(
    r.stdout,
    /out only {2}finger\.local\/commons {2}receives .*\(a finger plan only shows posts: nothing comes in through it\)/,
  );
  assert.match(
    r.stdout,
    /out only {2}web\.local\/commons {2}receives .*\(no token in accounts\.web\.local\.tokens may post to bridge commons\)/,
  );
  assert.match(r.stdout, /in \+ out {2}web\.local\/lounge {2}receives/);
  const json = JSON.parse((await cli(['check', '-c', w.config, '--json'])).stdout) as {
    bridges: { endpoints: { endpoint: string; direction: string; feeds: boolean; receives: boolean }[] }[];
  };
  const plan = json.bridges[0]!.endpoints.find((e) => e.endpoint === 'finger.local/commons');
  assert.deepEqual([plan?.direction, plan?.feeds, plan?.receives], ['inout', false, true]);
});

test('check reports every config error as FILE:LINE:COL and exits 1', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`accounts:\n  sink.a: { fiel: x }\nbridges:\n  commons:\n    endpoints: [sink.a/one, sink.nope/two]\n`);
  const r = await cli(['check', '-c', w.config]);
  assert.equal(r.code, 1);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith(w.config));
  assert.equal(lines.length, 2, r.stderr);
  assert.match(
    lines[0]!,
    new RegExp(`^${w.config}:8:13  accounts\\.sink\\.a: unknown key "fiel" \\(did you mean "file"\\?\\)`),
  );
  assert.match(lines[1]!, /:11:29 {2}bridges\.commons\.endpoints\[1\]: .*no account "sink\.nope"/);
});

test('a post goes through the running daemon, is delivered once, and SIGTERM stops it with exit 0', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(twoSinks(w));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const r = await cli(['post', '-c', w.config, '-b', 'commons', '--from', 'alice', '--subject', 'Hello', 'first post']);
  assert.equal(r.code, 0, r.stderr);
  const id = /<([^>]+)>/.exec(r.stdout)![1]!;
  assert.match(id, /@test\.example$/);
  await until(() => w.delivered('a').length === 1 && w.delivered('b').length === 1, 'delivery to both sinks');
  assert.equal(w.delivered('a')[0]!.id, id);
  assert.equal(w.delivered('b')[0]!.subject, 'Hello');
  const status = await cli(['status', '-c', w.config]);
  assert.equal(status.code, 0);
  assert.match(status.stdout, /sink\.a\s+connected for/);
  assert.match(status.stdout, /outbox: 0 pending, 0 dead/);
  assert.equal(await d.stop('SIGTERM'), 0);
  assert.ok(d.logs.some((l) => /peerpost stopped/.test(l)));
});

test('a post made while no daemon runs is stored, and delivered when it starts', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(twoSinks(w));
  await runOnce(w.config); // the store exists: peerpost ran here before
  const r = await cli(['post', '-c', w.config, '-b', 'commons', '-'], { input: 'from standard input\nsecond line\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /delivered when peerpost next starts/);
  const outbox = await cli(['outbox', '-c', w.config]);
  assert.match(outbox.stdout, /sink\.a\/one/);
  const status = await cli(['status', '-c', w.config]);
  assert.equal(status.code, 3, 'status says peerpost is not running');
  assert.match(status.stdout, /not running.*2 deliveries wait/);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  await until(() => w.delivered('a').length === 1 && w.delivered('b').length === 1, 'delivery after start');
  assert.equal(w.delivered('b')[0]!.body, 'from standard input\nsecond line\n');
  assert.equal(await d.stop(), 0);
});

test('kill -9 after a post is committed and before it is delivered: after restart it is delivered, once', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(twoSinks(w, '{}', '{ delayMs: 60000 }'));
  const d1 = await startDaemon(w.config);
  // The post enters by a protocol (the spool of sink.a); the spool file is removed only after commit.
  const f = spool(w, 'p1', {
    id: 'crash-1@example.org',
    target: 'one',
    author: { name: 'alice', via: 'sink' },
    body: 'survive',
  });
  await until(() => !readdirSync(join(w.dir, 'spool-a')).includes('p1.json'), 'the spool to take the post');
  assert.equal(JSON.parse(readFileSync(`${f}.verdict`, 'utf8')).status, 'accepted');
  await d1.waitForLog(/"endpoint":"sink\.b\/two"/).catch(() => undefined);
  d1.proc.kill('SIGKILL');
  assert.equal(await d1.exited, -1);
  assert.equal(w.delivered('b').length, 0, 'not delivered before the crash');
  w.writeConfig(twoSinks(w));
  const d2 = await startDaemon(w.config);
  t.after(() => d2.stop('SIGKILL'));
  await until(() => w.delivered('b').length >= 1, 'delivery after restart');
  await sleep(300);
  assert.deepEqual(
    w.delivered('b').map((x) => x.id),
    ['crash-1@example.org'],
    'exactly once',
  );
  // The same post offered again (a sender that never heard the answer) is not posted twice.
  const again = spool(w, 'p2', {
    id: 'crash-1@example.org',
    target: 'one',
    author: { name: 'alice', via: 'sink' },
    body: 'survive',
  });
  await until(() => {
    try {
      return JSON.parse(readFileSync(`${again}.verdict`, 'utf8')).status;
    } catch {
      return undefined;
    }
  }, 'verdict');
  assert.equal(JSON.parse(readFileSync(`${again}.verdict`, 'utf8')).status, 'duplicate');
  await sleep(200);
  assert.equal(w.delivered('b').length, 1);
  assert.equal(await d2.stop(), 0);
});

test('SIGTERM lets a delivery in flight finish before exiting', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(twoSinks(w, '{}', '{ delayMs: 700 }'));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  await cli(['post', '-c', w.config, '-b', 'commons', 'in flight']);
  await d.waitForLog(/ingest|posted|accepted|debug/).catch(() => undefined);
  await sleep(150);
  assert.equal(await d.stop('SIGTERM'), 0);
  assert.equal(w.delivered('b').length, 1, 'the delivery in flight completed');
});

test('SIGHUP applies a changed config without a restart; an invalid one is refused and the old one stays', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(twoSinks(w));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const pid = d.proc.pid;
  w.writeConfig(
    `${twoSinks(w)}  extra:\n    endpoints: [sink.c/three, sink.b/four]\n`.replace(
      'bridges:',
      `  sink.c: { file: ${w.sink('c')} }\nbridges:`,
    ),
  );
  d.proc.kill('SIGHUP');
  await d.waitForLog(/config reloaded.*account sink\.c: started/);
  assert.ok(d.logs.some((l) => /config reloaded.*bridges: updated/.test(l)));
  assert.ok(
    d.logs.some((l) => /"endpoints":\["sink\.b\/two","sink\.b\/four"\].*sink sink\.b: endpoints changed/.test(l)),
    'a running account is told of its new endpoints',
  );
  const r = await cli(['post', '-c', w.config, '-b', 'extra', 'to the new bridge']);
  assert.equal(r.code, 0, r.stderr);
  await until(
    () => w.delivered('c').length === 1 && w.delivered('b').some((x) => x.endpoint === 'sink.b/four'),
    'delivery in the new bridge',
  );
  const good = join(w.dir, 'good.yaml');
  writeFileSync(good, readFileSync(w.config));
  writeFileSync(w.config, 'bridges:\n  broken: { endpoints: [nope] }\n');
  d.proc.kill('SIGHUP');
  await d.waitForLog(/new config was refused/);
  const r2 = await cli(['post', '-c', good, '-b', 'extra', 'the running config stays']);
  assert.equal(r2.code, 0, r2.stderr);
  await until(() => w.delivered('c').length === 2, 'delivery under the config that stayed');
  assert.equal(d.proc.pid, pid);
  assert.equal(d.proc.exitCode, null, 'still running');
  assert.equal(await d.stop(), 0);
});

test('a permanent failure is a dead letter with its reason; --retry sends it once the cause is fixed', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(twoSinks(w, '{}', '{ failWith: "no such channel (403)" }'));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  await cli(['post', '-c', w.config, '-b', 'commons', 'doomed']);
  await until(() => d.logs.some((l) => /failed for good/.test(l)), 'the dead letter');
  const dead = await cli(['outbox', '-c', w.config, '--dead']);
  assert.equal(dead.code, 0);
  assert.match(dead.stdout, /sink\.b\/two.*no such channel \(403\)/);
  const row = /^(\d+)\t/m.exec(dead.stdout)![1]!;
  w.writeConfig(twoSinks(w));
  d.proc.kill('SIGHUP');
  await d.waitForLog(/config reloaded: account sink\.b: settings applied/);
  const retry = await cli(['outbox', '-c', w.config, '--retry', row]);
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stdout, /1 row back in line, tried now/);
  await until(() => w.delivered('b').length === 1, 'the retried delivery');
  assert.match((await cli(['outbox', '-c', w.config, '--dead'])).stdout, /no dead letters/);
  assert.equal((await cli(['outbox', '-c', w.config, '--drop', '999'])).code, 5);
  assert.equal(await d.stop(), 0);
});

test('a port already in use stops the start with a message naming the account and the port', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => blocker.close());
  const port = (blocker.address() as AddressInfo).port;
  w.writeConfig(`accounts:\n  sink.a: { listen: 127.0.0.1:${port} }\n`);
  const d = await startDaemon(w.config, [], { waitUp: false });
  assert.equal(await d.exited, 4);
  assert.ok(
    d.logs.some((l) => l.includes(`account sink.a cannot listen on 127.0.0.1:${port}: the port is already in use`)),
    d.logs.join('\n'),
  );
});

test('a data directory that cannot be written, a damaged store, a second daemon: one clear message each, exit 4', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  writeFileSync(join(w.dir, 'afile'), 'x');
  writeFileSync(w.config, `node:\n  data: ${join(w.dir, 'afile', 'data')}\n`);
  let d = await startDaemon(w.config, [], { waitUp: false });
  assert.equal(await d.exited, 4);
  assert.ok(
    d.logs.some((l) => /data directory .* cannot be used: a part of its path is a file/.test(l)),
    d.logs.join('\n'),
  );

  mkdirSync(w.data, { recursive: true });
  writeFileSync(
    join(w.data, 'peerpost.db'),
    'this is not a database, just some text that is long enough to fill a header page.'.repeat(100),
  );
  w.writeConfig('');
  d = await startDaemon(w.config, [], { waitUp: false });
  assert.equal(await d.exited, 4);
  assert.ok(
    d.logs.some((l) => /is damaged or is not a peerpost database.*Nothing was changed/.test(l)),
    d.logs.join('\n'),
  );

  const w2 = world();
  t.after(() => w2.cleanup());
  w2.writeConfig('');
  const first = await startDaemon(w2.config);
  t.after(() => first.stop('SIGKILL'));
  const second = await startDaemon(w2.config, [], { waitUp: false });
  assert.equal(await second.exited, 4);
  assert.ok(
    second.logs.some((l) => /another peerpost \(pid \d+\) is already running/.test(l)),
    second.logs.join('\n'),
  );
  assert.equal(await first.stop(), 0);
});

test('every command answers --help, and a wrong command line exits 2', async () => {
  for (const cmd of ['start', 'check', 'post', 'outbox', 'status']) {
    const r = await cli([cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`Usage: peerpost ${cmd}`));
  }
  const main = await cli(['--help']);
  assert.match(main.stdout, /Exit codes:/);
  assert.equal((await cli(['frobnicate'])).code, 2);
  assert.equal((await cli(['post', '--bogus'])).code, 2);
  assert.equal((await cli(['post', 'text without a bridge'])).code, 2);
});

test("a plugin's own CLI command runs against the store without a daemon, and inside the daemon when it runs", async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(twoSinks(w));
  await runOnce(w.config);
  const offline = await cli(['sink-note', '-c', w.config, 'sink.a', 'add', 'first', 'note']);
  assert.equal(offline.code, 0, offline.stderr);
  assert.match(offline.stdout, /in the store \(daemon not running\)/);
  const needs = await cli(['sink-live', '-c', w.config]);
  assert.equal(needs.code, 3, 'a command that needs the daemon says it is not running');
  assert.match(needs.stderr, /needs the running daemon.*peerpost start/);
  const missing = await cli(['sink-note', '-c', w.config, 'sink.zz', 'list']);
  assert.equal(missing.code, 5);
  assert.match(missing.stderr, /no sink account "sink\.zz"; accounts: sink\.a, sink\.b/);
  const usage = await cli(['sink-note', '-c', w.config, 'sink.a', 'frobnicate']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Usage: peerpost sink-note ACCOUNT add TEXT \| list/);

  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const online = await cli(['sink-note', '-c', w.config, 'sink.a', 'add', 'second']);
  assert.equal(online.code, 0, online.stderr);
  assert.match(online.stdout, /by the running daemon/);
  const list = await cli(['sink-note', '-c', w.config, '--json', 'sink.a', 'list']);
  assert.deepEqual(
    JSON.parse(list.stdout),
    ['first note', 'second'],
    'both notes, one kept offline and one by the daemon',
  );
  const live = await cli(['sink-live', '-c', w.config], { cwd: w.dir });
  assert.equal(live.code, 0, live.stderr);
  assert.match(live.stdout, /live: sink\.a=running sink\.b=running/);
  assert.ok(live.stdout.includes(`cwd=${w.dir}`), "the command learns the CLI's working directory");
  const help = await cli(['--help'], { cwd: w.dir, env: { PEERPOST_CONFIG: w.config } });
  assert.match(help.stdout, /sink-note +keep a note in a sink account's store {2}\(sink\)/);
  const unknown = await cli(['frobnicate', '-c', w.config]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});
