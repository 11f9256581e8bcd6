/**
 * The irc plugin against a REAL ngircd on 127.0.0.1 (started by
 * test/peers/ngircd.sh with ngircd's default flood penalties), with two IRC
 * users on raw sockets and the daemon run as a user runs it, bridging the
 * channel to a sink endpoint.
 *
 * ngircd must be installed: when /usr/sbin/ngircd is missing the test installs
 * it when running as root, and fails (never skips) with the command otherwise.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { world, cli, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import {
  ensureNgircd,
  ensureOpenssl,
  freePort,
  startIrcd,
  stopIrcd,
  User,
  NGIRCD_SH,
  type Ircd,
} from './irc-helpers.js';

let ircd: Ircd | undefined;
let w: World;
let daemon: Running;
let alice: User;
let bob: User;
const CHAN = '#peer';
const BOT = 'ppbot';

async function status(): Promise<{ state: string; detail: string | null }> {
  const r = await cli(['status', '-c', w.config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { accounts: { name: string; state: string; detail: string | null }[] };
  return s.accounts.find((a) => a.name === 'irc.test')!;
}

function spool(name: string, post: object): void {
  const dir = join(w.dir, 'spool');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.tmp`), JSON.stringify(post));
  renameSync(join(dir, `${name}.tmp`), join(dir, `${name}.json`));
}

describe('one network: ngircd with its default flood penalties, a channel bridged to a sink', () => {
  before(async () => {
    ensureNgircd();
    const port = await freePort();
    // ngircd drops to nobody: its directory must be readable by it and every parent world-executable.
    const dir = mkdtempSync('/tmp/pp-ngircd-');
    chmodSync(dir, 0o755);
    ircd = startIrcd(port, dir);
    w = world();
    w.writeConfig(`
accounts:
  irc.test:
    host: 127.0.0.1
    port: ${port}
    tls: false
    nick: ${BOT}
    reconnect: { first: 500ms, max: 2s }
    # 4 lines/s after 5 at once: within ngircd's default penalties (bench/irc measures it).
    flood: { burst: 5, interval: 250ms }
  sink.a: { file: ${w.sink('a')}, spool: ${join(w.dir, 'spool')} }
bridges:
  commons:
    endpoints: [irc.test/${CHAN}, sink.a/x]
`);
    mkdirSync(join(w.dir, 'spool'), { recursive: true });
    alice = await new User('alice').connect(port, CHAN);
    bob = await new User('bob').connect(port, CHAN);
    daemon = await startDaemon(w.config);
    await bob.waitFor((l) => l.startsWith(`:${BOT}!`) && / JOIN /.test(l), 'the bot joins');
  });

  after(async () => {
    alice?.close();
    bob?.close();
    if (daemon) assert.equal(await daemon.stop('SIGTERM'), 0, 'the daemon stops cleanly');
    stopIrcd(ircd);
    if (ircd) rmSync(ircd.dir, { recursive: true, force: true });
    w?.cleanup();
  });

  test('status shows the account connected and in its channel', async () => {
    const s = await status();
    assert.equal(s.state, 'connected');
    assert.match(s.detail ?? '', /as ppbot on 127\.0\.0\.1:\d+; in 1\/1 channels \(#peer\)/);
  });

  test('a line, an action and a coloured line said in the channel reach the sink once each, formatting stripped', async () => {
    alice.send(`PRIVMSG ${CHAN} :hello from irc`);
    alice.send(`PRIVMSG ${CHAN} :\x01ACTION waves\x01`);
    alice.send(`PRIVMSG ${CHAN} :\x0304,01red\x03 and \x02bold\x02 \x1funder\x1f`);
    alice.send(`NOTICE ${CHAN} :a notice (not relayed by default)`);
    await until(() => w.delivered('a').length >= 3, 'three posts at the sink');
    await sleep(500);
    const got = w.delivered('a') as unknown as { body: string; kind: string; author: string }[];
    assert.deepEqual(
      got.map((g) => [g.author, g.kind, g.body]),
      [
        ['alice', 'message', 'hello from irc'],
        ['alice', 'action', 'waves'],
        ['alice', 'message', 'red and bold under'],
      ],
    );
    // The bot does not echo IRC lines back into IRC.
    assert.equal(bob.said(BOT, CHAN).length, 0);
  });

  test('peerpost post reaches the channel with the nick prefix, and not the bot back as a post', async () => {
    const before = w.delivered('a').length;
    const r = await cli(['post', '-c', w.config, '-b', 'commons', '--from', 'carol', 'hello irc, from the cli']);
    assert.equal(r.code, 0, r.stderr);
    const line = await bob.waitFor(
      (l) => l.startsWith(`:${BOT}!`) && l.endsWith(`PRIVMSG ${CHAN} :<carol> hello irc, from the cli`),
      'the cli post in the channel',
    );
    assert.match(line, /^:ppbot!~?ppbot@127\.0\.0\.1 PRIVMSG #peer :/);
    await until(() => w.delivered('a').length === before + 1, 'the cli post at the sink too');
    await sleep(300);
    assert.equal(w.delivered('a').length, before + 1, "the bot's own line in the channel is not a new post");
  });

  test('a long line is split at word boundaries within 512 bytes, UTF-8 and graphemes intact, each piece prefixed', async () => {
    const words = [
      'naïve',
      'café',
      '東京の空',
      'Ἀθῆναι',
      '👩‍👩‍👧‍👦',
      '🇫🇷',
      'e\u0301t\u0301e\u0301',
      'plain',
      'ascii',
      'words',
    ];
    const text = Array.from({ length: 70 }, (_, i) => `${words[i % words.length]}${i}`).join(' ');
    assert.ok(Buffer.byteLength(text) > 700);
    const start = bob.said(BOT, CHAN).length;
    spool('long', { target: 'x', author: { name: 'dave', via: 'sink' }, body: text });
    await until(
      () => {
        const got = bob
          .said(BOT, CHAN)
          .slice(start)
          .map((l) => bob.text(l));
        return got.length > 1 && got.map((g) => g.slice('<dave> '.length)).join(' ') === text;
      },
      'the long line, complete',
      20_000,
    );
    const raws = bob.said(BOT, CHAN).slice(start);
    for (const raw of raws) {
      assert.ok(Buffer.byteLength(raw) + 2 <= 512, `a line of ${Buffer.byteLength(raw) + 2} bytes`);
      assert.ok(bob.text(raw).startsWith('<dave> '), 'every piece keeps the prefix');
    }
    // Every break falls between words: each piece is whole words of the original.
    const all = new Set(text.split(' '));
    for (const raw of raws)
      for (const word of bob.text(raw).slice(7).split(' ')) assert.ok(all.has(word), `"${word}" is a whole word`);
  });

  test('an article is announced (head line, first lines, how many more); CR LF in its subject injects no command', async () => {
    const start = bob.said(BOT, CHAN).length;
    const body =
      'On Monday, someone wrote:\n> quoted\nline one\nline two\nline three\nline four\nline five\nline six\n-- \nsig';
    const r = await cli(
      [
        'post',
        '-c',
        w.config,
        '-b',
        'commons',
        '--from',
        'gina',
        '--subject',
        'Meeting\r\nJOIN #other\r\nPRIVMSG #peer :injected',
        '-',
      ],
      { input: body },
    );
    assert.equal(r.code, 0, r.stderr);
    await until(() => bob.said(BOT, CHAN).length - start >= 6, 'the announcement');
    await sleep(300);
    const got = bob
      .said(BOT, CHAN)
      .slice(start)
      .map((l) => bob.text(l));
    assert.equal(got.length, 6, got.join('\n'));
    assert.match(got[0]!, /^\[commons\] gina: Meeting\s+JOIN #other\s+PRIVMSG #peer :injected$/);
    assert.deepEqual(got.slice(1), ['line one', 'line two', 'line three', 'line four', '(2 more lines)']);
    assert.ok(!got.includes('injected'), 'the injected PRIVMSG is no line of its own');
    bob.send(`WHOIS ${BOT}`);
    const chans = await bob.waitFor((l) => / 319 bob ppbot :/.test(l) || / 318 bob ppbot /.test(l), 'whois');
    assert.ok(!/#other/.test(chans), `the bot joined #other: ${chans}`);
  });

  test("a 200-line burst arrives complete and in order, within the flood limits (ngircd's default penalties)", async () => {
    const N = 200;
    const start = bob.said(BOT, CHAN).length;
    const t0 = Date.now();
    for (let i = 0; i < N; i++)
      spool(`burst-${String(i).padStart(3, '0')}`, {
        target: 'x',
        author: { name: 'erin', via: 'sink' },
        body: `burst line ${i}`,
      });
    await until(() => bob.said(BOT, CHAN).length - start >= N, `${N} lines in the channel`, 180_000);
    const ms = Date.now() - t0;
    await sleep(500);
    const got = bob
      .said(BOT, CHAN)
      .slice(start)
      .map((l) => bob.text(l));
    assert.deepEqual(
      got,
      Array.from({ length: N }, (_, i) => `<erin> burst line ${i}`),
    );
    // Flood control is not bypassed: 5 at once, then one line per 250 ms, and every line takes a token (so do the
    // PINGs that confirm them: one per window of posts): at least (200 − 5) × 250 ms. A lower bound on what the
    // bucket allows, not a speed figure (that is in bench/irc.ts).
    assert.ok(ms >= (N - 5) * 250, `${N} lines took ${ms} ms: faster than the token bucket allows`);
    // Every post is delivered: nothing waits, nothing dead.
    const ob = await cli(['outbox', '-c', w.config, '--json']);
    assert.equal(ob.code, 0, ob.stderr);
  });

  test('ngircd killed: posts wait (status retrying); ngircd back on the same port: the bot rejoins and delivers them in order', async () => {
    alice.close();
    bob.close();
    stopIrcd(ircd);
    let s = await status();
    for (let i = 0; i < 80 && s.state !== 'retrying'; i++) {
      await sleep(100);
      s = await status();
    }
    assert.equal(s.state, 'retrying', JSON.stringify(s));
    assert.match(s.detail ?? '', /reconnecting in/);
    for (let i = 1; i <= 3; i++) {
      const r = await cli(['post', '-c', w.config, '-b', 'commons', '--from', 'frank', `while down ${i}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    await until(
      () => w.delivered('a').filter((d) => d.body.startsWith('while down')).length === 3,
      'the sink gets them meanwhile',
    );
    const ob = await cli(['outbox', '-c', w.config]);
    assert.match(ob.stdout, /irc\.test\/#peer/, 'the IRC deliveries wait in the outbox');
    assert.match(ob.stdout, /disconnected/);

    // Bob must be in the channel before the bot comes back, to see it rejoin and say what waited (joining
    // after it, he would see it in NAMES and miss lines). The daemon is paused (SIGSTOP) while ngircd comes
    // back and bob joins: its reconnect timer fires once it runs again, as it would have a moment later.
    daemon.proc.kill('SIGSTOP');
    try {
      ircd = startIrcd(ircd!.port, ircd!.dir);
      bob = await new User('bob').connect(ircd.port, CHAN);
    } finally {
      daemon.proc.kill('SIGCONT');
    }
    await bob.waitFor((l) => l.startsWith(`:${BOT}!`) && / JOIN /.test(l), 'the bot rejoins', 30_000);
    await until(() => bob.said(BOT, CHAN).length >= 3, 'the waiting posts', 15_000);
    assert.deepEqual(
      bob.said(BOT, CHAN).map((l) => bob.text(l)),
      ['<frank> while down 1', '<frank> while down 2', '<frank> while down 3'],
    );
    s = await status();
    assert.equal(s.state, 'connected');
    alice = await new User('alice').connect(ircd.port, CHAN);
  });
});

describe('two networks: two ngircd servers bridged both ways, two channels on one server, a keyed channel, a taken nick, a kick', () => {
  let a: Ircd | undefined;
  let b: Ircd | undefined;
  let w2: World;
  let d2: Running;
  let ann: User; // on network A, #one
  let ben: User; // on network B, #two (op: sets the key, kicks)
  let squat: User; // on network B, holds the bot's nick at first
  let services: User; // on network A, plays NickServ
  const dirs: string[] = [];

  const mkdir = () => {
    const dir = mkdtempSync('/tmp/pp-ngircd-');
    chmodSync(dir, 0o755);
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    ensureNgircd();
    a = startIrcd(await freePort(), mkdir(), '0', 'irc.a.local');
    b = startIrcd(await freePort(), mkdir(), '0', 'irc.b.local');
    ann = await new User('ann').connect(a.port, '#one');
    ben = await new User('ben').connect(b.port, '#two');
    ben.send('MODE #two +k sekrit');
    await ben.waitFor((l) => / MODE #two \+k/.test(l), 'the key is set');
    squat = await new User('relay').connect(b.port, '#elsewhere');
    services = await new User('NickServ').connect(a.port, '#services');
    w2 = world();
    w2.writeConfig(`
accounts:
  irc.a: { host: 127.0.0.1, port: ${a.port}, tls: false, nick: relay, nickserv: { password: s3cret }, reconnect: { first: 200ms, max: 1s } }
  irc.b:
    host: 127.0.0.1
    port: ${b.port}
    tls: false
    nick: relay
    altNicks: [relay2]
    reclaimNick: 1s
    rejoinAfterKick: 500ms
    rejoinAfterFail: 2s
    format: '[{origin}] <{nick}> '
  sink.s: { file: ${w2.sink('s')} }
bridges:
  relay:
    endpoints: [irc.a/#one, { endpoint: irc.b/#two, key: sekrit }]
  side:
    endpoints: [irc.a/#three, sink.s/x]
`);
    d2 = await startDaemon(w2.config);
    await ben.waitFor(
      (l) => /^:relay2!\S+ JOIN :?#two/.test(l),
      'the bot joins the keyed #two as relay2 (relay is taken)',
      20_000,
    );
    await ann.waitFor((l) => /^:relay!\S+ JOIN :?#one/.test(l), 'the bot joins #one on A');
  });

  after(async () => {
    for (const u of [ann, ben, squat, services]) u?.close();
    if (d2) assert.equal(await d2.stop('SIGTERM'), 0);
    stopIrcd(a);
    stopIrcd(b);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    w2?.cleanup();
  });

  test('lines, actions and notices-off cross between the networks both ways', async () => {
    ann.send('PRIVMSG #one :hello network B');
    await ben.waitFor((l) => / PRIVMSG #two :\[irc\.a\] <ann> hello network B$/.test(l), 'A → B');
    ben.send('PRIVMSG #two :\x01ACTION waves back\x01');
    await ann.waitFor((l) => /^:relay!\S+ PRIVMSG #one :\* ben waves back$/.test(l), 'B → A, an action');
    ben.send('PRIVMSG #two :\x0304colours\x03 are \x02stripped\x02');
    await ann.waitFor((l) => / PRIVMSG #one :<ben> colours are stripped$/.test(l), 'B → A, formatting stripped');
  });

  test('without SASL, the bot identifies to NickServ after registering', async () => {
    await services.waitFor((l) => /^:relay!\S+ PRIVMSG NickServ :IDENTIFY relay s3cret$/.test(l), 'IDENTIFY');
  });

  test('latin-1 from an old client arrives as the right characters in UTF-8', async () => {
    ann.send(
      Buffer.concat([Buffer.from('PRIVMSG #one :'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x6f, 0x6c, 0xe9])]),
    );
    await ben.waitFor((l) => l.endsWith('<ann> café olé'), 'the latin-1 line, decoded');
  });

  test('the configured nick is reclaimed once it is free', async () => {
    squat.close();
    await ben.waitFor((l) => /^:relay2!\S+ NICK :?relay$/.test(l), 'the bot takes its nick back', 10_000);
    ann.send('PRIVMSG #one :after the nick change');
    const l = await ben.waitFor(
      (x) => / PRIVMSG #two :\[irc\.a\] <ann> after the nick change$/.test(x),
      'still relaying',
    );
    assert.match(l, /^:relay!/);
  });

  test('kicked: the bot rejoins after rejoinAfterKick, and what was said meanwhile still arrives, in order', async () => {
    ben.send('KICK #two relay :out');
    await ben.waitFor((l) => / KICK #two relay :out/.test(l), 'the kick');
    const since = ben.lines.length;
    ann.send('PRIVMSG #one :during the kick 1');
    ann.send('PRIVMSG #one :during the kick 2');
    await ben.waitFor((l) => /^:relay!\S+ JOIN :?#two/.test(l) && ben.lines.indexOf(l) >= since, 'the rejoin', 10_000);
    await until(
      () => ben.lines.slice(since).filter((l) => / PRIVMSG #two :.*during the kick/.test(l)).length === 2,
      'both lines',
      10_000,
    );
    assert.deepEqual(
      ben.lines
        .slice(since)
        .filter((l) => /during the kick/.test(l))
        .map((l) => l.replace(/^.* :\[irc\.a\] /, '')),
      ['<ann> during the kick 1', '<ann> during the kick 2'],
    );
  });

  test('two channels on one server: #three goes to its own bridge only', async () => {
    const three = await new User('cat').connect(a!.port, '#three');
    try {
      three.send('PRIVMSG #three :only for the side bridge');
      await until(
        () => w2.delivered('s').some((x) => x.body === 'only for the side bridge'),
        'the sink of the side bridge',
      );
      await sleep(300);
      assert.ok(!ben.lines.some((l) => /only for the side bridge/.test(l)), 'not in the other bridge');
      const r = await cli(['post', '-c', w2.config, '-b', 'side', '--from', 'dan', 'to #three']);
      assert.equal(r.code, 0, r.stderr);
      await three.waitFor((l) => / PRIVMSG #three :<dan> to #three$/.test(l), 'cli post in #three');
      assert.ok(!ann.lines.some((l) => /to #three/.test(l)), 'not in #one');
    } finally {
      three.close();
    }
  });

  test('relay latency IRC → IRC at a calm pace (diagnostic)', async (t) => {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = process.hrtime.bigint();
      ann.send(`PRIVMSG #one :ping ${i}`);
      await ben.waitFor((l) => l.endsWith(`<ann> ping ${i}`), `ping ${i}`);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await sleep(550);
    }
    times.sort((x, y) => x - y);
    t.diagnostic(
      `IRC → IRC relay through two ngircd (penalties off), 10 lines: p50 ${times[4]!.toFixed(1)} ms, max ${times[9]!.toFixed(1)} ms`,
    );
    assert.ok(times[4]! < 1000);
  });

  test('banned from a channel (474 on the rejoin after a kick): status says so, JOINs are retried only every rejoinAfterFail, unbanned → back, nothing lost', async () => {
    const statusB = async () => {
      const r = await cli(['status', '-c', w2.config, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return (
        JSON.parse(r.stdout) as { accounts: { name: string; state: string; detail: string | null }[] }
      ).accounts.find((x) => x.name === 'irc.b')!;
    };
    const since = ben.lines.length;
    ben.send('MODE #two +b relay!*@*');
    ben.send('KICK #two relay :banned');
    await ben.waitFor((l) => / KICK #two relay :banned/.test(l), 'the kick');
    let s = await statusB();
    for (let i = 0; i < 40 && !/banned from #two/.test(s.detail ?? ''); i++) {
      await sleep(100);
      s = await statusB();
    }
    assert.equal(s.state, 'connected');
    assert.match(s.detail ?? '', /in 0\/1 channels; banned from #two.*trying again every 2\.0s/);
    // Said once the bot is out (a line relayed between the +b and the KICK is refused with 404 and waits in the outbox).
    ann.send('PRIVMSG #one :while banned');
    // Slowly: over 3 s, at most two more JOINs of #two (one per rejoinAfterFail), not a tight loop.
    const tries = () => d2.logs.filter((l) => /joining #two/.test(l)).length;
    const n0 = tries();
    const t0 = Date.now();
    await sleep(3_000);
    const more = tries() - n0;
    assert.ok(more >= 1 && more <= 2, `${more} JOINs of #two in 3 s`);
    assert.match((await statusB()).detail ?? '', /banned from #two/);
    ben.send('MODE #two -b relay!*@*');
    await ben.waitFor(
      (l) => /^:relay!\S+ JOIN :?#two/.test(l) && ben.lines.lastIndexOf(l) >= since,
      'the rejoin once unbanned',
      10_000,
    );
    assert.ok(Date.now() - t0 < 8_000);
    await ben.waitFor(
      (l) => / PRIVMSG #two :\[irc\.a\] <ann> while banned$/.test(l),
      'what was said meanwhile',
      10_000,
    );
    assert.match((await statusB()).detail ?? '', /in 1\/1 channels \(#two\)/);
  });

  test("the server refuses the bot's lines (+m, then +b while it stays in): the post stays pending in `peerpost outbox` with the 404, status says so, and it is delivered once the mode is removed", async () => {
    const pendingTwo = async () => {
      const r = await cli(['outbox', '-c', w2.config, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout).rows as { endpoint: string; lastError: string | null; postId: string }[]).filter(
        (x) => x.endpoint === 'irc.b/#two',
      );
    };
    const detailB = async () => {
      const r = await cli(['status', '-c', w2.config, '--json']);
      return (
        (JSON.parse(r.stdout) as { accounts: { name: string; detail: string | null }[] }).accounts.find(
          (x) => x.name === 'irc.b',
        )!.detail ?? ''
      );
    };
    for (const [mode, set, unset] of [
      ['+m (moderated)', 'MODE #two +m', 'MODE #two -m'],
      ['+b (banned, not kicked)', 'MODE #two +b relay*!*@*', 'MODE #two -b relay*!*@*'],
    ] as const) {
      const text = `refused while ${mode.split(' ')[0]}`;
      ben.send(set);
      await ben.waitFor((l) => l.includes(` ${set}`), `${mode} is set`);
      ann.send(`PRIVMSG #one :${text}`);
      let rows = await pendingTwo();
      for (let i = 0; i < 100 && !rows.some((r) => /404/.test(r.lastError ?? '')); i++) {
        await sleep(100);
        rows = await pendingTwo();
      }
      assert.equal(rows.length, 1, `${mode}: one post waits for irc.b/#two: ${JSON.stringify(rows)}`);
      assert.match(rows[0]!.lastError ?? '', /the server refused a line in #two \(404 .*\)/i, mode);
      assert.match(await detailB(), /the server refused a line in #two \(404/, `${mode}: status says why`);
      assert.ok(!ben.lines.some((l) => l.endsWith(`<ann> ${text}`)), `${mode}: the channel did not show it`);
      ben.send(unset);
      await ben.waitFor(
        (l) => l.endsWith(` PRIVMSG #two :[irc.a] <ann> ${text}`),
        `${mode} removed: the post arrives`,
        10_000,
      );
      for (let i = 0; i < 100 && (await pendingTwo()).length > 0; i++) await sleep(100);
      assert.deepEqual(await pendingTwo(), [], `${mode}: the outbox row is gone`);
      assert.equal(ben.lines.filter((l) => l.endsWith(`<ann> ${text}`)).length, 1, `${mode}: said once`);
      assert.doesNotMatch(await detailB(), /refused/, `${mode}: the status no longer says refused`);
    }
  });

  test('a reload that adds a channel joins it at once, and one that drops it leaves it at once (endpointsChanged, not the 5 s sync)', async () => {
    const four = await new User('dora').connect(a!.port, '#four');
    const before = readFileSync(w2.config, 'utf8');
    try {
      const since = four.lines.length;
      writeFileSync(
        w2.config,
        before.replace('endpoints: [irc.a/#three, sink.s/x]', 'endpoints: [irc.a/#three, irc.a/#four, sink.s/x]'),
      );
      const t0 = Date.now();
      d2.proc.kill('SIGHUP');
      await four.waitFor(
        (l) => /^:relay!\S+ JOIN :?#four/.test(l) && four.lines.indexOf(l) >= since,
        'the bot joins #four',
        10_000,
      );
      const joinMs = Date.now() - t0;
      four.send('PRIVMSG #four :into the side bridge');
      await until(
        () => w2.delivered('s').some((x) => x.body === 'into the side bridge'),
        'a line from #four at the sink',
      );
      writeFileSync(w2.config, before);
      const t1 = Date.now();
      d2.proc.kill('SIGHUP');
      await four.waitFor((l) => /^:relay!\S+ PART #four/.test(l), 'the bot leaves #four', 10_000);
      const partMs = Date.now() - t1;
      // The periodic sync runs every 5 s: both well under it means the reload hook did it.
      assert.ok(joinMs < 2_500 && partMs < 2_500, `joined after ${joinMs} ms, left after ${partMs} ms`);
    } finally {
      four.close();
    }
  });
});

describe('TLS and a server password', () => {
  let s: Ircd | undefined;
  let w3: World;
  let d3: Running;
  let uma: User;
  let dir: string;

  before(async () => {
    ensureNgircd();
    ensureOpenssl();
    dir = mkdtempSync('/tmp/pp-ngircd-');
    chmodSync(dir, 0o755);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-days',
        '2',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    chmodSync(join(dir, 'key.pem'), 0o644); // ngircd reads it as nobody; a throwaway test key
    const fingerprint = execFileSync(
      'openssl',
      ['x509', '-noout', '-fingerprint', '-sha256', '-in', join(dir, 'cert.pem')],
      { encoding: 'utf8' },
    )
      .trim()
      .split('=')[1]!;
    const wrongPin = fingerprint.replace(/^../, fingerprint.startsWith('00') ? '11' : '00');
    const plain = await freePort();
    const tlsPort = await freePort();
    const out = execFileSync('bash', [NGIRCD_SH, 'start', String(plain), join(dir, 'ircd')], {
      env: {
        ...process.env,
        NGIRCD_MAX_PENALTY: '0',
        NGIRCD_PASSWORD: 'letmein',
        NGIRCD_TLS_PORT: String(tlsPort),
        NGIRCD_TLS_CERT: join(dir, 'cert.pem'),
        NGIRCD_TLS_KEY: join(dir, 'key.pem'),
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    s = { pid: Number(out.trim().split('\n').pop()), port: plain, dir };
    uma = new User('uma', 'letmein');
    await uma.connect(plain, '#sec');
    w3 = world();
    w3.writeConfig(`
accounts:
  irc.tls: { host: 127.0.0.1, port: ${tlsPort}, tls: true, tlsVerify: false, password: letmein, nick: tlsbot }
  irc.strict: { host: 127.0.0.1, port: ${tlsPort}, nick: strictbot, password: letmein, reconnect: { first: 200ms, max: 500ms } }
  irc.badpass: { host: 127.0.0.1, port: ${plain}, tls: false, nick: badpass, password: wrong, reconnect: { first: 200ms, max: 500ms } }
  irc.slow: { host: 127.0.0.1, port: ${plain}, tls: false, nick: slowbot, password: letmein, maxLines: 30, flood: { burst: 1, interval: 250ms, maxWait: 1s } }
  irc.pinned: { host: 127.0.0.1, port: ${tlsPort}, tlsFingerprint: '${fingerprint}', password: letmein, nick: pinbot }
  irc.badpin: { host: 127.0.0.1, port: ${tlsPort}, tlsFingerprint: '${wrongPin}', password: letmein, nick: badpin, reconnect: { first: 200ms, max: 500ms } }
  sink.z: { file: ${w3.sink('z')} }
bridges:
  pinned:
    endpoints: [irc.pinned/#pin, sink.z/p]
  sec:
    endpoints: [irc.tls/#sec, sink.z/x]
  slow:
    endpoints: [irc.slow/#slow, sink.z/y]
`);
    d3 = await startDaemon(w3.config);
    await uma.waitFor((l) => /^:tlsbot!\S+ JOIN :?#sec/.test(l), 'the TLS bot joins');
    uma.send('JOIN #slow');
    await uma.waitFor(
      (l) => /^:slowbot!\S+ JOIN :?#slow/.test(l) || / 353 uma . #slow :.*\bslowbot\b/.test(l),
      'the slow bot in #slow',
    );
  });

  after(async () => {
    uma?.close();
    if (d3) assert.equal(await d3.stop('SIGTERM'), 0);
    stopIrcd(s);
    if (dir) rmSync(dir, { recursive: true, force: true });
    w3?.cleanup();
  });

  const state = async (name: string) => {
    const r = await cli(['status', '-c', w3.config, '--json']);
    return (
      JSON.parse(r.stdout) as { accounts: { name: string; state: string; detail: string | null }[] }
    ).accounts.find((a) => a.name === name)!;
  };

  test('over TLS with the server password: relays both ways', async () => {
    uma.send('PRIVMSG #sec :over tls');
    await until(() => w3.delivered('z').some((x) => x.body === 'over tls'), 'the line at the sink');
    const r = await cli(['post', '-c', w3.config, '-b', 'sec', '--from', 'vic', 'back over tls']);
    assert.equal(r.code, 0, r.stderr);
    await uma.waitFor((l) => /^:tlsbot!\S+ PRIVMSG #sec :<vic> back over tls$/.test(l), 'the post in the channel');
  });

  test('the certificate is verified by default: a self-signed server is refused, and status says why', async () => {
    let st = await state('irc.strict');
    for (let i = 0; i < 50 && !/certificate/.test(st.detail ?? ''); i++) {
      await sleep(100);
      st = await state('irc.strict');
    }
    assert.equal(st.state, 'retrying', JSON.stringify(st));
    assert.match(st.detail ?? '', /self[- ]signed certificate/);
  });

  test("a wrong server password: retrying, with the server's reason", async () => {
    let st = await state('irc.badpass');
    for (let i = 0; i < 50 && st.state !== 'retrying'; i++) {
      await sleep(100);
      st = await state('irc.badpass');
    }
    assert.equal(st.state, 'retrying', JSON.stringify(st));
    assert.match(st.detail ?? '', /password|denied/i);
  });

  test('a post longer than flood.maxWait allows goes out in parts, continuing where it stopped: complete, in order, nothing twice', async () => {
    const text = Array.from({ length: 500 }, (_, i) => `w${i}`).join(' ');
    const r = await cli(['post', '-c', w3.config, '-b', 'slow', '--from', 'vic', text]);
    assert.equal(r.code, 0, r.stderr);
    const mine = () =>
      uma.lines.filter((l) => /^:slowbot!\S+ PRIVMSG #slow :/.test(l)).map((l) => l.slice(l.indexOf(' :', 1) + 2));
    await until(
      () =>
        mine()
          .map((l) => l.slice('<vic> '.length))
          .join(' ') === text,
      'the whole post',
      20_000,
    ).catch(async (e) => {
      const ob = await cli(['outbox', '-c', w3.config]);
      throw new Error(
        `${(e as Error).message}; got ${mine().length} lines:\n${mine()
          .map((l) => l.slice(0, 40) + '…' + l.slice(-20))
          .join('\n')}\noutbox:\n${ob.stdout}\nlogs:\n${d3.logs
          .filter((l) => /slow/.test(l))
          .slice(-10)
          .join('\n')}`,
      );
    });
    const n = mine().length;
    assert.ok(n >= 6, `${n} lines`);
    await sleep(1500);
    assert.equal(mine().length, n, 'no line sent twice');
    const ob = await cli(['outbox', '-c', w3.config, '--json']);
    assert.doesNotMatch(ob.stdout, /irc\.slow/, 'nothing left waiting');
    assert.ok(
      d3.logs.some((l) => /flood control/.test(l)),
      'it did stop for flood control on the way',
    );
  });

  test('a pinned certificate fingerprint: the right one connects (self-signed is fine), a wrong one is refused with a clear reason', async () => {
    let ok = await state('irc.pinned');
    for (let i = 0; i < 50 && !/in 1\/1 channels/.test(ok.detail ?? ''); i++) {
      await sleep(100);
      ok = await state('irc.pinned');
    }
    assert.equal(ok.state, 'connected', JSON.stringify(ok));
    let bad = await state('irc.badpin');
    for (let i = 0; i < 50 && !/fingerprint/.test(bad.detail ?? ''); i++) {
      await sleep(100);
      bad = await state('irc.badpin');
    }
    assert.equal(bad.state, 'retrying', JSON.stringify(bad));
    assert.match(bad.detail ?? '', /SHA-256 fingerprint [0-9A-F:]+, not the pinned tlsFingerprint/);
  });
});
