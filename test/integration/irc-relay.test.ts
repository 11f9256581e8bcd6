/**
 * The irc plugin against a REAL ngircd (penalties off): channel events (joins,
 * parts, quits, nick changes) as posts of kind "event" that reach chat
 * endpoints only; the loop guard between two peerpost nodes in one channel;
 * anti-highlight, colour by nick and the "more lines" link.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { world, cli, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import { ngircdInTmp, stopIrcd, User, type Ircd } from './irc-helpers.js';
import { nickColour } from '../../plugins/irc/text.js';

let ircd: Ircd | undefined;
let dir: string;
let wa: World;
let wb: World;
let da: Running;
let db: Running;
let eve: User; // comes and goes in #ev
let watch: User; // sits in every channel

describe('events, the loop guard between two nodes, prefix decorations', () => {
  before(async () => {
    ircd = await ngircdInTmp('0');
    dir = ircd.dir;
    const port = ircd.port;
    watch = await new User('watch').connect(port, '#ev');
    for (const c of ['#evout', '#evoff', '#both', '#deco']) await watch.join(c);
    wa = world();
    wa.writeConfig(`
accounts:
  irc.a:
    host: 127.0.0.1
    port: ${port}
    tls: false
    nick: nodea
    relays: { nicks: [OldBot] }
  irc.deco:
    host: 127.0.0.1
    port: ${port}
    tls: false
    nick: deco
    antiHighlight: true
    nickColours: true
    maxLines: 3
    moreUrl: "https://example.org/{bridge}/p/{id}"
  sink.e: { file: ${wa.sink('e')} }
  sinkart.m: { file: ${wa.sink('m')} }
  sink.a: { file: ${wa.sink('a')} }
  sink.d: { file: ${wa.sink('d')} }
bridges:
  ev:
    endpoints:
      - { endpoint: irc.a/#ev, events: true }
      - { endpoint: irc.a/#evout, events: out }
      - irc.a/#evoff
      - sink.e/x
      - { endpoint: sinkart.m/y, shape: stream }
  both:
    endpoints: [irc.a/#both, sink.a/x]
  deco:
    endpoints: [irc.deco/#deco, sink.d/x]
`);
    wb = world();
    wb.writeConfig(`
accounts:
  irc.b: { host: 127.0.0.1, port: ${port}, tls: false, nick: nodeb }
  sink.b: { file: ${wb.sink('b')} }
bridges:
  both:
    endpoints: [irc.b/#both, sink.b/x]
`);
    da = await startDaemon(wa.config);
    db = await startDaemon(wb.config);
    for (const [nick, chan] of [
      ['nodea', '#ev'],
      ['nodea', '#evout'],
      ['nodea', '#evoff'],
      ['nodea', '#both'],
      ['nodeb', '#both'],
      ['deco', '#deco'],
    ]) {
      await watch.waitFor(
        (l) => l.startsWith(`:${nick}!`) && new RegExp(` JOIN :?${chan}$`).test(l),
        `${nick} joins ${chan}`,
        20_000,
      );
    }
    // Each node learns the other's real name ("peerpost relay") by WHO after joining; give the answers a moment.
    await da.waitForLog(/nodeb is another peerpost relay/, 10_000);
    await db.waitForLog(/nodea is another peerpost relay/, 10_000);
  });

  after(async () => {
    eve?.close();
    watch?.close();
    if (da) assert.equal(await da.stop('SIGTERM'), 0);
    if (db) assert.equal(await db.stop('SIGTERM'), 0);
    stopIrcd(ircd);
    if (dir) rmSync(dir, { recursive: true, force: true });
    wa?.cleanup();
    wb?.cleanup();
  });

  test('joins, nick changes, parts and quits become event posts: chat endpoints get them, articles never; shown where events are "out"', async () => {
    eve = await new User('eve').connect(ircd!.port, '#ev');
    eve.send('PRIVMSG #ev :hello all');
    eve.send('NICK eva');
    await eve.waitFor((l) => / NICK :?eva$/.test(l), 'the nick change');
    eve.send('PART #ev :lunch');
    await sleep(200);
    await eve.join('#ev');
    eve.send('QUIT :gone home');
    const want = [
      'event:eve:eve joined',
      'message:eve:hello all',
      'event:eve:eve is now known as eva',
      'event:eva:eva left (lunch)',
      'event:eva:eva joined',
      'event:eva:eva quit (gone home)',
    ];
    const got = () =>
      (wa.delivered('e') as unknown as { kind: string; author: string; body: string }[]).map(
        (d) => `${d.kind}:${d.author}:${d.body}`,
      );
    await until(() => got().length >= want.length, 'six posts at the chat sink').catch((e) => {
      throw new Error(`${(e as Error).message}: ${got().join(' | ')}`);
    });
    assert.deepEqual(got(), want);
    // The article endpoint (like mail or news) gets the message, never an event.
    await until(() => wa.delivered('m').length >= 1, 'the line at the article sink');
    await sleep(500);
    assert.deepEqual(
      (wa.delivered('m') as unknown as { kind: string; body: string }[]).map((d) => `${d.kind}:${d.body}`),
      ['message:hello all'],
    );
    // #evout (events: out) shows them; #evoff (events off) shows the line but no event.
    await watch.waitFor(
      (l) => /^:nodea!\S+ PRIVMSG #evout :\*\*\* eva quit \(gone home\)$/.test(l),
      'the quit shown in #evout',
    );
    const out = watch.said('nodea', '#evout').map((l) => watch.text(l));
    assert.deepEqual(out, [
      '*** eve joined',
      '<eve> hello all',
      '*** eve is now known as eva',
      '*** eva left (lunch)',
      '*** eva joined',
      '*** eva quit (gone home)',
    ]);
    assert.deepEqual(
      watch.said('nodea', '#evoff').map((l) => watch.text(l)),
      ['<eve> hello all'],
    );
    // watch joining #evout earlier was no event: events there are "out" only. And nodeb's join of #both is no event anywhere.
    assert.ok(!wa.delivered('a').some((d) => /joined/.test(d.body)), 'events are off in #both');
  });

  test("two nodes in one channel: a human line reaches each node once; neither relays the other's lines", async () => {
    watch.send('PRIVMSG #both :said by a human');
    await until(
      () =>
        wa.delivered('a').some((d) => d.body === 'said by a human') &&
        wb.delivered('b').some((d) => d.body === 'said by a human'),
      'both sinks',
    );
    const r = await cli(['post', '-c', wa.config, '-b', 'both', '--from', 'carol', 'from node a']);
    assert.equal(r.code, 0, r.stderr);
    await watch.waitFor((l) => /^:nodea!\S+ PRIVMSG #both :<carol> from node a$/.test(l), 'node a says it');
    await db.waitForLog(/a line from the relay nodea is not relayed again/, 5000);
    await sleep(500);
    assert.ok(
      !wb.delivered('b').some((d) => /from node a/.test(d.body)),
      "node b did not take node a's line as a new post",
    );
  });

  test('a relay named in relays.nicks (any case) is not relayed; the node without that setting relays it', async () => {
    const old = await new User('oldbot').connect(ircd!.port, '#both');
    try {
      old.send('PRIVMSG #both :<zed> relayed by another bridge bot');
      await until(
        () => wb.delivered('b').some((d) => /relayed by another bridge bot/.test(d.body)),
        'node b takes it (it does not know oldbot)',
      );
      await da.waitForLog(/a line from the relay oldbot is not relayed again/, 5000);
      assert.ok(!wa.delivered('a').some((d) => /relayed by another bridge bot/.test(d.body)));
    } finally {
      old.close();
    }
  });

  test('CTCP VERSION names peerpost', async () => {
    watch.send('PRIVMSG nodea :\x01VERSION\x01');
    await watch.waitFor(
      (l) => /^:nodea!\S+ NOTICE watch :\x01VERSION peerpost \d+\.\d+\.\d+\x01$/.test(l),
      'the VERSION reply',
    );
  });

  test('the same post arriving at both nodes by their own paths is said in the channel once', async () => {
    // As if an article reached both nodes by their own news servers: the same author and text, different ids.
    const r1 = await cli(['post', '-c', wa.config, '-b', 'both', '--from', 'dora', 'the meeting moves to friday']);
    assert.equal(r1.code, 0, r1.stderr);
    await watch.waitFor((l) => / PRIVMSG #both :<dora> the meeting moves to friday$/.test(l), 'the first copy');
    await sleep(300);
    const r2 = await cli(['post', '-c', wb.config, '-b', 'both', '--from', 'dora', 'the meeting moves to friday']);
    assert.equal(r2.code, 0, r2.stderr);
    await db.waitForLog(/not said in #both again: already said here by nodea/, 5000);
    await until(() => wb.delivered('b').some((d) => /friday/.test(d.body)), "node b's sink still gets it");
    await sleep(500);
    assert.equal(
      watch.lines.filter((l) => /PRIVMSG #both :<dora> the meeting moves to friday$/.test(l)).length,
      1,
      'said once',
    );
    // Node b's outbox holds nothing for #both: the skipped copy counts as delivered.
    const ob = await cli(['outbox', '-c', wb.config, '--json']);
    assert.doesNotMatch(ob.stdout, /irc\.b\/#both/);
  });

  test('anti-highlight and colour by nick in the prefix; past maxLines the tail says where to read the rest', async () => {
    const r = await cli(['post', '-c', wa.config, '-b', 'deco', '--from', 'carol', 'hello']);
    assert.equal(r.code, 0, r.stderr);
    const colour = String(nickColour('carol')).padStart(2, '0');
    const line = await watch.waitFor(
      (l) => l.startsWith(':deco!') && l.includes(' PRIVMSG #deco :'),
      'the decorated line',
    );
    assert.equal(watch.text(line), `<\x03${colour}c\u200barol\x03> hello`);
    const body = Array.from({ length: 6 }, (_, i) => `line ${i + 1}`).join('\n');
    const r2 = await cli(['post', '-c', wa.config, '-b', 'deco', '--from', 'carol', body]);
    assert.equal(r2.code, 0, r2.stderr);
    await until(() => watch.said('deco', '#deco').length >= 4, 'three more lines');
    await until(() => wa.delivered('d').length >= 2, 'both posts at the sink');
    const id = wa.delivered('d')[1]!.id;
    const lines = watch
      .said('deco', '#deco')
      .slice(1)
      .map((l) => watch.text(l));
    // A multi-line post is announced: its head, then what fits in maxLines (3), then how many more and where.
    assert.deepEqual(lines, [
      '[deco] carol:',
      'line 1',
      `… (5 more lines: https://example.org/deco/p/${encodeURIComponent(id)})`,
    ]);
  });
});
