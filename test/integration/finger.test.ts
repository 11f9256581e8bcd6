/**
 * The finger plugin serving plans, as peers see it: the real daemon as a child
 * process, raw sockets on ephemeral ports, and the real bsd `finger` client on
 * 127.0.0.1:79 (it has no port option; one test only).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { world, cli, startDaemon, sleep, type Running, cliPost } from '../helpers/daemon.js';
import { ensureFingerPeers, freePort, listeningPort, rawQuery } from '../peers/finger.js';

before(() => ensureFingerPeers());

const config = (w: ReturnType<typeof world>, listen = '127.0.0.1:0') => `
accounts:
  finger.t: { listen: "${listen}", rateLimit: { queries: 0 }, idleTimeout: 800ms, maxPosts: 5 }
  finger.r: { listen: 127.0.0.1:0, rateLimit: { queries: 3, per: 1m }, publicList: false }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    description: The commons discussion
    endpoints: [finger.t/commons, sink.s/out, finger.r/limited]
  thimbl:
    description: Thimbl side of things
    endpoints:
      - { endpoint: finger.t/tplan, format: thimbl, bio: We talk on finger., properties: { website: "https://example.org/" } }
  hidden:
    endpoints: [{ endpoint: finger.t/hidden, public: false }]
`;

const everyLineCrlf = (s: string) => {
  assert.ok(s.endsWith('\r\n'), `ends in CRLF: ${JSON.stringify(s.slice(-20))}`);
  assert.doesNotMatch(s, /[^\r]\n/, 'every line ends in CRLF');
  assert.doesNotMatch(s.replace(/\r\n/g, ''), /[\x00-\x1f\x7f-\x9f]/, 'no control characters');
};

async function up(
  w: ReturnType<typeof world>,
  listen?: string,
): Promise<{ d: Running; port: number; limited: number }> {
  w.writeConfig(config(w, listen));
  const d = await startDaemon(w.config);
  const port = listen ? Number(listen.split(':')[1]) : await listeningPort(d.waitForLog, 'finger.t');
  const limited = await listeningPort(d.waitForLog, 'finger.r');
  return { d, port, limited };
}

test('the finger command the README, the default config and the plugin README give works, and is the same in all three', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, port } = await up(w);
  t.after(() => d.stop('SIGKILL'));
  await cliPost(w, 'commons', 'alice', 'hello from the quickstart');
  const root = new URL('../../../', import.meta.url);
  const cmd = /printf 'commons\\r\\n' \| socat - TCP:127\.0\.0\.1:7979/;
  for (const file of ['README.md', 'config/peerpost.yaml', 'plugins/finger/README.md']) {
    const text = readFileSync(new URL(file, root), 'utf8');
    const shown = cmd.exec(text)?.[0];
    assert.ok(shown, `${file} shows the socat command`);
    assert.match(text, /apt-get install [^\n]*socat/, `${file} says how to install socat`);
    assert.doesNotMatch(text, /\| nc /, `${file} uses one tool, not netcat`);
    // Run it as written, at the port this daemon listens on.
    const { stdout } = await promisify(execFile)('sh', ['-c', shown.replace(':7979', `:${port}`)]);
    assert.match(stdout, /^Login: commons/);
    assert.match(stdout, /alice {2,}hello from the quickstart/);
  }
});

test('a bridge is a plan: newest posts first, /W verbose, the list, Thimbl format, unknown names, forwarding denied', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, port } = await up(w);
  t.after(() => d.stop('SIGKILL'));

  for (let i = 1; i <= 7; i++) await cliPost(w, 'commons', 'alice', `line ${i}`);
  await cliPost(w, 'commons', 'bob', 'The body\nsecond line', 'Meeting minutes');
  await cliPost(
    w,
    'commons',
    'mallory',
    'look \x1b[2J\x1b[31mred\x1b[0m \x1b]0;owned\x07here \x03' + '4colour\x0f \x9b1m\u202eevil',
  );
  await cliPost(w, 'thimbl', 'carol', 'first thimbl message');
  await cliPost(w, 'thimbl', 'dave', 'Jürgen said hi');

  const plan = await rawQuery(port, 'commons\r\n');
  everyLineCrlf(plan);
  const lines = plan.split('\r\n');
  assert.match(lines[0]!, /^Login: commons\s+Name: The commons discussion$/);
  assert.ok(lines.includes('Join:'), plan);
  assert.ok(
    lines.some((l) => /^ {2}sink\s+sink\.s\/out$/.test(l)),
    'where to join: the other endpoints of the bridge',
  );
  const at = lines.indexOf('Plan:');
  assert.equal(lines[at + 1], 'Newest 5 of 9 posts, newest first (times in UTC):');
  assert.match(lines[at + 2]!, /^\d{4}-\d\d-\d\d \d\d:\d\d {2}mallory {7}look red here colour evil$/);
  assert.match(lines[at + 3]!, /^\d{4}-\d\d-\d\d \d\d:\d\d {2}bob {11}Meeting minutes$/);
  assert.match(lines[at + 4]!, / line 7$/);
  assert.equal(lines.filter((l) => /^\d{4}-/.test(l)).length, 5);

  const verbose = await rawQuery(port, '/W commons\r\n');
  everyLineCrlf(verbose);
  assert.match(verbose, /^9 posts, newest first/m);
  assert.match(
    verbose,
    /\d\d:\d\d:\d\d {2}bob via cli\r\n {4}Subject: Meeting minutes\r\n {4}The body\r\n {4}\(1 more line\)\r\n/,
  );
  assert.match(verbose, /alice via cli\r\n {4}line 1\r\n/);

  const list = await rawQuery(port, '\r\n');
  everyLineCrlf(list);
  assert.match(list, /^Bridges on test\.example/);
  assert.match(list, /\r\n {2}commons {2}The commons discussion\r\n/);
  assert.match(list, /\r\n {2}tplan {4}Thimbl side of things\r\n/);
  assert.doesNotMatch(list, /hidden/, 'public: false keeps a plan off the list');
  assert.match(await rawQuery(port, '/W\r\n'), /commons {2}The commons discussion {2}\(9 posts, last \d{4}-/);
  assert.match(await rawQuery(port, 'hidden\r\n'), /^Login: hidden/, 'an unlisted plan is still served by name');

  const thimbl = await rawQuery(port, 'tplan\r\n');
  everyLineCrlf(thimbl);
  const json = JSON.parse(thimbl.split('\r\n')[thimbl.split('\r\n').indexOf('Plan:') + 1]!);
  assert.equal(json.name, 'Thimbl side of things');
  assert.equal(json.bio, 'We talk on finger.');
  assert.equal(json.address, 'tplan@test.example');
  assert.deepEqual(json.properties, { website: 'https://example.org/' });
  assert.deepEqual(json.following, []);
  assert.deepEqual(
    json.messages.map((m: { text: string }) => m.text),
    ['carol: first thimbl message', 'dave: Jürgen said hi'],
  );
  assert.match(json.messages[0].time, /^\d{14}$/);

  assert.equal(await rawQuery(port, 'nobody\r\n'), 'finger: nobody: no such plan.\r\n');
  assert.equal(await rawQuery(port, 'COMMONS\r\n'), plan, 'names compare without case');
  assert.equal(await rawQuery(port, 'a@b@c\r\n'), 'Finger forwarding service denied.\r\n');
  assert.equal(await rawQuery(port, 'commons@elsewhere.example\r\n'), 'Finger forwarding service denied.\r\n');
  assert.equal(await rawQuery(port, 'commons\n'), plan, 'a bare LF ends the query too');
  // Deliveries to the finger endpoints are made (the plan is read from the store), none waits or is dead.
  const st = JSON.parse((await cli(['status', '-c', w.config, '--json'])).stdout);
  assert.deepEqual(
    st.outbox.filter((o: { pending: number; dead: number }) => o.pending || o.dead),
    [],
  );
});

test('malformed queries: empty, 10 KB, binary, a@b@c, a slow client — and the daemon keeps serving others', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, port } = await up(w);
  t.after(() => d.stop('SIGKILL'));
  await cliPost(w, 'commons', 'alice', 'still here');

  // A slow client that never sends a line, held open while others are served.
  const slow = connect({ port, host: '127.0.0.1' });
  const slowClosed = new Promise<number>((r) => {
    const t0 = Date.now();
    slow.on('close', () => r(Date.now() - t0));
  });
  slow.on('error', () => {});
  slow.write('comm');

  assert.match(await rawQuery(port, '\r\n'), /^Bridges on test\.example/);
  assert.match(await rawQuery(port, 'x'.repeat(10 * 1024) + '\r\n'), /^Query too long \(at most 512 bytes\)\.\r\n$/);
  assert.equal(
    await rawQuery(port, Buffer.from([0x00, 0xff, 0x1b, 0x5b, 0x32, 0x4a, 0x80, 0x0d, 0x0a])),
    'Bad query: bad characters in query.\r\n',
  );
  assert.equal(await rawQuery(port, 'a@b@c\r\n'), 'Finger forwarding service denied.\r\n');
  assert.equal(await rawQuery(port, 'two names\r\n'), 'Bad query: one name per query.\r\n');
  // A client that closes its side without a line gets nothing, and nothing breaks.
  assert.equal(await rawQuery(port, 'commons', { endAfterWrite: true }), '');
  // 20 clients at once while the slow one still waits.
  const many = await Promise.all(Array.from({ length: 20 }, () => rawQuery(port, 'commons\r\n')));
  for (const a of many) assert.match(a, /alice {9}still here\r\n$/);

  const waited = await slowClosed;
  assert.ok(
    waited >= 700 && waited < 5000,
    `the idle client was closed after the idle timeout (800 ms), not at once or never: ${waited} ms`,
  );
  assert.match(await rawQuery(port, 'commons\r\n'), /still here/);
  assert.equal(d.proc.exitCode, null, 'the daemon is still running');
});

test('per-address rate limit, and a node that does not list its plans', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, limited } = await up(w);
  t.after(() => d.stop('SIGKILL'));
  assert.match(await rawQuery(limited, 'limited\r\n'), /^Login: limited/);
  assert.match(
    await rawQuery(limited, '\r\n'),
    /^This service does not list its plans; finger NAME@test\.example for one you know\.\r\n$/,
  );
  assert.match(await rawQuery(limited, 'limited\r\n'), /^Login: limited/);
  assert.equal(await rawQuery(limited, 'limited\r\n'), 'Too many queries from your address; try again later.\r\n');
  assert.equal(await rawQuery(limited, '\r\n'), 'Too many queries from your address; try again later.\r\n');
});

test('the bsd finger client against peerpost on 127.0.0.1:79', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d } = await up(w, '127.0.0.1:79');
  t.after(() => d.stop('SIGKILL'));
  await cliPost(w, 'commons', 'alice', 'hello from the commons');
  await cliPost(w, 'commons', 'bob', 'escape \x1b[31mthis\x1b[0m');
  await cliPost(w, 'commons', 'carol', 'mail me: carol@example.org');
  const finger = (arg: string[]) => promisify(execFile)('/usr/bin/finger', arg, { timeout: 10_000 });
  const plan = await finger(['commons@127.0.0.1']);
  // Addresses stay private (archive.addresses, obfuscate by default; "…" is "..." in ASCII).
  assert.match(plan.stdout, /carol {9}mail me: carol@\.\.\.ample\.org\r?\n/);
  assert.doesNotMatch(plan.stdout, /carol@example\.org/);
  // (This client prints the server's CRLF line ends as they come.)
  assert.match(plan.stdout, /Login: commons\s+Name: The commons discussion/);
  assert.match(plan.stdout, /bob {11}escape this\r?\n/);
  assert.match(plan.stdout, /alice {9}hello from the commons\r?\n/);
  assert.ok(!plan.stdout.includes('\x1b'));
  const long = await finger(['-l', 'commons@127.0.0.1']);
  assert.match(long.stdout, /alice via cli\r?\n {4}hello from the commons/, '-l sends /W: the verbose plan');
  const list = await finger(['@127.0.0.1']);
  assert.match(list.stdout, /Bridges on test\.example/);
  const fwd = await finger(['commons@elsewhere@127.0.0.1']);
  assert.match(fwd.stdout, /Finger forwarding service denied/);
  const none = await finger(['nobody@127.0.0.1']);
  assert.match(none.stdout, /finger: nobody: no such plan\./);
});

test('config: follow endpoints are in only; a bad target or a misplaced key is an error', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  finger.t: { listen: 127.0.0.1:0 }
bridges:
  b:
    endpoints: [finger.t/commons, finger.t/follow:dk@127.0.0.1:1]
`);
  // `peerpost check` catches it, with its position; `start` refuses the same config.
  const checked = await cli(['check', '-c', w.config]);
  assert.equal(checked.code, 1);
  assert.match(
    checked.stderr,
    /:12:35 {2}bridges\.b\.endpoints\[1\]: endpoint finger\.t\/follow:dk@127\.0\.0\.1:1 follows a remote plan, so it can only feed the bridge: write it as \{ endpoint: finger\.t\/follow:dk@127\.0\.0\.1:1, direction: in \}/,
  );
  const d = await startDaemon(w.config, [], { waitUp: false });
  assert.equal(await d.exited, 1);
  assert.ok(
    d.logs.some((l) => l.includes('follows a remote plan, so it can only feed the bridge')),
    d.logs.join('\n'),
  );

  w.writeConfig(`
accounts:
  finger.t: { listen: 127.0.0.1:0, lisen: 1 }
bridges:
  b:
    endpoints: [finger.t/follow:nohost, { endpoint: finger.t/commons, format: html }]
`);
  const r = await cli(['check', '-c', w.config]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /accounts\.finger\.t: unknown key "lisen" \(did you mean "listen"\?\)/);
  assert.match(r.stderr, /endpoint "finger\.t\/follow:nohost": "nohost" is not user@host/);
  assert.match(r.stderr, /format/);
});

test('following one of its own served plans is refused (it would loop), and the rest runs', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const port = await freePort();
  w.writeConfig(`
accounts:
  finger.t: { listen: 127.0.0.1:${port}, poll: 100ms }
bridges:
  b:
    endpoints: [finger.t/commons, { endpoint: finger.t/follow:commons@127.0.0.1:${port}, direction: in }]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  await d.waitForLog(
    /endpoint finger\.t\/follow:commons@127\.0\.0\.1:\d+ follows a plan this account serves itself: every post would come back as a new one, forever; not following it/,
  );
  await cli(['post', '-c', w.config, '-b', 'b', '--from', 'alice', 'once']);
  await sleep(500);
  const plan = await rawQuery(port, 'commons\r\n');
  assert.match(plan, /^1 post, newest first/m);
});

test('SIGHUP: a changed plan length is applied in place, without a restart; a changed port restarts the account', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, port } = await up(w);
  t.after(() => d.stop('SIGKILL'));
  for (let i = 1; i <= 4; i++) await cliPost(w, 'commons', 'alice', `line ${i}`);
  const before = await rawQuery(port, 'commons\r\n');
  assert.match(before, /line 4/);
  w.writeConfig(config(w).replace('maxPosts: 5', 'maxPosts: 2'));
  d.proc.kill('SIGHUP');
  const line = await d.waitForLog(/config reloaded/);
  assert.match(line, /account finger\.t: settings applied/, 'applied in place, not restarted');
  const after = await rawQuery(port, 'commons\r\n');
  assert.match(after, /line 4/);
  assert.match(after, /line 3/);
  assert.doesNotMatch(after, /line 2/, 'the plan now shows the newest 2 posts');
});
