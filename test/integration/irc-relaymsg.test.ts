/**
 * draft/relaymsg against a REAL Ergo (test/peers/ergo.sh: relaymsg on, separator "/", chanops may use it), with
 * people on raw sockets and the daemon run as a user runs it.
 *
 * - #relay: the bot is its first joiner, so Ergo makes it a channel operator: a `peerpost post` by alice appears
 *   there from `alice/cli`, confirmed by its echo; that echo is not relayed back; a person's reply is relayed once.
 * - #noop: a person made it first, the bot is no operator: RELAYMSG is refused (FAIL RELAYMSG PRIVS_NEEDED), the
 *   post is said once with the prefix instead, and `peerpost status` says why; given +o, the bot relays again.
 * - #xa and #xb, bridged by the second account (relays.lines: relay, no id tags): what dora says in one is said
 *   in the other from dora/irc, and the echo, which only its draft/relaymsg tag tells from a person, goes no further.
 * - #zone: another relay (a raw client, its operator) sends RELAYMSG: an account with the default
 *   `relays.lines: ignore` does not relay its lines, one with `relays.lines: relay` does, from the relayed nick.
 *
 * Then a refusal in the middle of a post, which Ergo cannot be timed to give: a small fake server on 127.0.0.1 that
 * offers draft/relaymsg and echo-message, echoes the first RELAYMSG lines and refuses the rest.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { world, cli, cliPost, startDaemon, until, type World, type Running } from '../helpers/daemon.js';
import { ensureErgo, FakeIrcd, freePort, startErgo, stopErgo, User, type Ircd } from './irc-helpers.js';

const BOT = 'rbot';
const BOT2 = 'rbot2';

describe('draft/relaymsg on Ergo: lines from elsewhere come from their own nick', () => {
  let ergo: Ircd | undefined;
  let w: World;
  let d: Running;
  /** In #relay, where the bot is operator. */
  let dora: User;
  /** Made #noop (its operator there). */
  let owner: User;
  /** Another relay, operator of #zone. */
  let zbot: User;

  const status = async (name = 'irc.ergo'): Promise<string> => {
    const r = await cli(['status', '-c', w.config, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { accounts: { name: string; state: string; detail: string | null }[] };
    const a = s.accounts.find((x) => x.name === name)!;
    assert.equal(a.state, 'connected', a.detail ?? '');
    return a.detail ?? '';
  };
  type Delivered = { endpoint: string; body: string; author: string };
  /** What the sink endpoint sink.a/NAME got. */
  const at = (name: string) =>
    (w.delivered('a') as unknown as Delivered[]).filter((p) => p.endpoint === `sink.a/${name}`);
  const from = (u: User, nick: string, chan: string) =>
    u.lines.filter((l) => l.startsWith(`:${nick}!`) && l.includes(` PRIVMSG ${chan} :`)).map((l) => u.text(l));

  before(async () => {
    ensureErgo();
    const port = await freePort();
    const dir = mkdtempSync('/tmp/pp-ergo-');
    chmodSync(dir, 0o755);
    ergo = startErgo(port, dir);
    // Made before the bot comes: their makers are their operators.
    owner = await new User('owner').connect(port, '#noop');
    zbot = await new User('zbot').connect(port, '#zone');
    w = world();
    w.writeConfig(`
accounts:
  irc.ergo:
    host: 127.0.0.1
    port: ${port}
    tls: false
    nick: ${BOT}
    relaymsg: true
    reconnect: { first: 500ms, max: 2s }
  irc.ergo2:
    host: 127.0.0.1
    port: ${port}
    tls: false
    nick: ${BOT2}
    relaymsg: true
    # No +peerpost/id tag: only the draft/relaymsg tag tells our own echo (channel to channel, below).
    relays: { lines: relay, tags: false }
  sink.a: { file: ${w.sink('a')} }
bridges:
  r: { endpoints: [irc.ergo/#relay, sink.a/r] }
  n: { endpoints: [irc.ergo/#noop, sink.a/n] }
  x: { endpoints: [irc.ergo2/#xa, irc.ergo2/#xb] }
  z1: { endpoints: [irc.ergo/#zone, sink.a/z1] }
  z2: { endpoints: [irc.ergo2/#zone, sink.a/z2] }
`);
    d = await startDaemon(w.config);
    for (const c of ['#relay', '#xa', '#xb']) await d.waitForLog(new RegExp(`"msg":"joined ${c}"`), 15_000);
    dora = await new User('dora').connect(port, '#relay');
    await dora.join('#xa');
    await dora.join('#xb');
    await owner.waitFor((l) => l.startsWith(`:${BOT}!`) && / JOIN #noop/.test(l), 'the bot joins #noop');
    await zbot.waitFor((l) => l.startsWith(`:${BOT2}!`) && / JOIN #zone/.test(l), 'the second bot joins #zone');
    await zbot.waitFor((l) => l.startsWith(`:${BOT}!`) && / JOIN #zone/.test(l), 'the bot joins #zone');
  });

  after(async () => {
    for (const u of [dora, owner, zbot]) u?.close();
    if (d) assert.equal(await d.stop('SIGTERM'), 0, 'the daemon stops cleanly');
    stopErgo(ergo);
    if (ergo) rmSync(ergo.dir, { recursive: true, force: true });
    w?.cleanup();
  });

  test('the bot is operator of #relay: status says relaymsg is on', async () => {
    const names = await dora.waitFor((l) => / 353 dora . #relay :/.test(l), 'the names of #relay');
    assert.match(names, new RegExp(`[~&@]${BOT}\\b`));
    assert.match(await status(), /relaymsg on$/);
  });

  test('a post from elsewhere appears from its author’s nick, confirmed by its echo, and is not relayed back', async () => {
    const id = await cliPost(w, 'r', 'alice', 'hello from the command line');
    const line = await dora.waitFor((l) => / PRIVMSG #relay :hello from the command line$/.test(l), 'the line');
    assert.match(line, /^:alice\/cli!/, 'said by RELAYMSG from alice/cli, not by the bot');
    await d.waitForLog(new RegExp(`"post":"${id}".*confirmed by their echo`));
    // The echo came back to the bot as a PRIVMSG from alice/cli, tagged draft/relaymsg=rbot: not a new post.
    dora.send('PRIVMSG #relay :a person answers');
    await until(() => at('r').some((p) => p.body === 'a person answers'), 'the person’s line at the sink');
    assert.deepEqual(
      at('r').map((p) => [p.author, p.body]),
      [
        ['alice', 'hello from the command line'],
        ['dora', 'a person answers'],
      ],
      'the post once (by the cli), the reply once, and no echo as a post',
    );
    assert.deepEqual(from(dora, BOT, '#relay'), [], 'the bot itself said nothing');
  });

  test('a name that cannot be a nick (no letter or digit IRC allows) is said with the prefix', async () => {
    const id = await cliPost(w, 'r', '山田', 'こんにちは from Tokyo');
    const line = await dora.waitFor((l) => / PRIVMSG #relay :.*from Tokyo$/.test(l), 'the line');
    assert.match(line, new RegExp(`^:${BOT}!\\S+ PRIVMSG #relay :<山田> こんにちは from Tokyo$`));
    await d.waitForLog(new RegExp(`"post":"${id}".*confirmed by their echo`));
  });

  test('channel to channel: an action is a CTCP ACTION from dora/irc, and its echo (known by its draft/relaymsg tag alone) does not go back', async () => {
    dora.send('PRIVMSG #xa :\x01ACTION waves\x01');
    const line = await dora.waitFor((l) => / PRIVMSG #xb :\x01ACTION waves\x01$/.test(l), 'the action in #xb');
    assert.match(line, /^:dora\/irc!/);
    dora.send('PRIVMSG #xb :and a line back');
    const back = await dora.waitFor((l) => / PRIVMSG #xa :and a line back$/.test(l), 'the line in #xa');
    assert.match(back, /^:dora\/irc!/);
    // Each said once where it was relayed to, and nothing relayed again (no dora/irc/irc, nothing from the bot).
    dora.send('PRIVMSG #xa :marker');
    await dora.waitFor((l) => / PRIVMSG #xb :marker$/.test(l), 'the marker in #xb');
    const relayed = dora.lines
      .filter((l) => /^:[^!\s]*\/[^!\s]*!\S+ PRIVMSG #x[ab] /.test(l))
      .map((l) => l.slice(1, l.indexOf('!')) + l.slice(l.indexOf(' PRIVMSG ') + 8));
    assert.deepEqual(relayed, [
      'dora/irc #xb :\x01ACTION waves\x01',
      'dora/irc #xa :and a line back',
      'dora/irc #xb :marker',
    ]);
    assert.deepEqual([...from(dora, BOT2, '#xa'), ...from(dora, BOT2, '#xb')], []);
  });

  test('a long post is many RELAYMSG lines, every one from the author, in order, each shown once', async () => {
    const words = Array.from({ length: 160 }, (_, i) => `w${i}`);
    const id = await cliPost(w, 'r', 'Jane Doe', words.join(' '));
    await d.waitForLog(new RegExp(`"post":"${id}".*confirmed by their echo`));
    const got = from(dora, 'Jane_Doe/cli', '#relay');
    assert.ok(got.length >= 2, `split into lines: ${got.length}`);
    assert.deepEqual(got.join(' ').split(' '), words, 'every word once, in order');
  });

  test('not an operator in #noop: RELAYMSG is refused, the post is said once with the prefix, and status says why', async () => {
    const id = await cliPost(w, 'n', 'alice', 'said where the bot is no operator');
    const line = await owner.waitFor((l) => /PRIVMSG #noop :.*said where the bot is no operator$/.test(l), 'it');
    assert.match(line, new RegExp(`^:${BOT}!\\S+ PRIVMSG #noop :<alice> said where the bot is no operator$`));
    await d.waitForLog(new RegExp(`"post":"${id}".*confirmed by`));
    assert.match(
      await status(),
      /RELAYMSG refused in #noop \(FAIL RELAYMSG PRIVS_NEEDED: [^)]+\); lines go with their prefix/,
    );
    // The next post goes with the prefix at once (no RELAYMSG tried and refused first).
    await cliPost(w, 'n', 'bob', 'a second one');
    await owner.waitFor((l) => l.endsWith(' PRIVMSG #noop :<bob> a second one'), 'the second post');
    // Once said, once each: nothing from a relayed nick, nothing twice.
    owner.send('PRIVMSG #noop :marker');
    await until(() => at('n').some((p) => p.body === 'marker'), 'the marker at the sink');
    assert.deepEqual(from(owner, BOT, '#noop'), ['<alice> said where the bot is no operator', '<bob> a second one']);
    assert.ok(!owner.lines.some((l) => /^:(alice|bob)\/cli!/.test(l)), 'no line from a relayed nick');
    assert.deepEqual(
      at('n').map((p) => p.body),
      ['said where the bot is no operator', 'a second one', 'marker'],
    );
  });

  test('given +o in #noop, the bot relays there again', async () => {
    owner.send(`MODE #noop +o ${BOT}`);
    await d.waitForLog(/the bot is a channel operator now: RELAYMSG is tried again in #noop/);
    assert.match(await status(), /relaymsg on$/);
    await cliPost(w, 'n', 'carol', 'now from my own nick');
    const line = await owner.waitFor((l) => / PRIVMSG #noop :now from my own nick$/.test(l), 'the line');
    assert.match(line, /^:carol\/cli!/);
  });

  test('another relay’s RELAYMSG lines: not relayed with relays.lines ignore, relayed from the relayed nick with relay', async () => {
    zbot.send('RELAYMSG #zone erin/discord :hello from discord');
    await until(() => at('z2').some((p) => p.body === 'hello from discord'), 'the line at the relay-lines sink');
    assert.deepEqual(
      at('z2').map((p) => [p.author, p.body]),
      [['erin/discord', 'hello from discord']],
    );
    // A person's line after it reaches both: the ignoring account has had the other relay's line by then.
    zbot.send('PRIVMSG #zone :a plain line');
    await until(() => at('z1').some((p) => p.body === 'a plain line'), 'the plain line at the ignoring sink');
    assert.deepEqual(
      at('z1').map((p) => p.body),
      ['a plain line'],
      'relays.lines: ignore: the relayed line is not a post',
    );
  });
});

/** A fake server with draft/relaymsg (irc-helpers.ts FakeIrcd): echoes our lines; RELAYMSG `relayOk` times, then FAIL. */
function relayIrcd(): { ircd: FakeIrcd; relay: { ok: number } } {
  const relay = { ok: 0 };
  const ircd = new FakeIrcd({
    caps: 'message-tags echo-message server-time draft/relaymsg=/',
    isupport: 'NICKLEN=30',
    names: (nick) => `@${nick}`,
    handle: ({ tags, cmd, args, text, nick }, write) => {
      if (cmd === 'PRIVMSG') write(`${tags ? `@${tags} ` : ''}:${nick}!u@127.0.0.1 PRIVMSG ${args[0]} :${text}\r\n`);
      else if (cmd === 'RELAYMSG' && relay.ok-- > 0)
        write(
          `@draft/relaymsg=${nick}${tags ? `;${tags}` : ''} :${args[1]}!~u@127.0.0.1 PRIVMSG ${args[0]} :${text}\r\n`,
        );
      else if (cmd === 'RELAYMSG')
        write(':fake FAIL RELAYMSG PRIVS_NEEDED :You cannot relay messages to this channel\r\n');
      else return false;
      return true;
    },
  });
  return { ircd, relay };
}

describe('draft/relaymsg refused in the middle of a post (a fake server)', () => {
  const { ircd, relay } = relayIrcd();
  let w: World;
  let d: Running;

  before(async () => {
    await ircd.start();
    w = world();
    w.writeConfig(`
accounts:
  irc.f: { host: 127.0.0.1, port: ${ircd.port}, tls: false, nick: fbot, relaymsg: true, maxLines: 20 }
  sink.s: { file: ${w.sink('s')} }
bridges:
  t: { endpoints: [irc.f/#t, sink.s/x] }
`);
    d = await startDaemon(w.config);
    await until(() => ircd.got.some((l) => /^JOIN #t/.test(l)), 'the bot joins #t', 15_000);
  });

  after(async () => {
    if (d) assert.equal(await d.stop('SIGTERM'), 0);
    ircd.close();
    w?.cleanup();
  });

  test('the lines the server showed are not said again; the rest follow once, with the prefix; status says why', async () => {
    relay.ok = 2;
    const words = Array.from({ length: 200 }, (_, i) => `word${i}`);
    const id = await cliPost(w, 't', 'alice', words.join(' '));
    await d.waitForLog(new RegExp(`"post":"${id}".*confirmed by their echo`));
    const relayed = ircd.got.filter((l) => / RELAYMSG #t alice\/cli :/.test(l));
    const plain = ircd.got.filter((l) => / PRIVMSG #t :/.test(l));
    assert.ok(relayed.length >= 3, `RELAYMSG lines written: ${relayed.length}`);
    assert.ok(plain.length >= 1, 'the rest went as ordinary lines');
    for (const l of plain) assert.match(l, /^@\+peerpost\/id=\S+ PRIVMSG #t :<alice> /, 'prefixed, with the post id');
    for (const l of relayed) assert.match(l, /^@\+peerpost\/id=\S+ RELAYMSG #t alice\/cli :/);
    // What the channel shows: the two echoed RELAYMSG lines, then the ordinary lines: every word once, in order.
    const shown = [
      ...relayed.slice(0, 2).map((l) => l.slice(l.indexOf(' :') + 2)),
      ...plain.map((l) => l.slice(l.indexOf(' :<alice> ') + 10)),
    ];
    assert.deepEqual(shown.join(' ').split(' '), words);
    const r = await cli(['status', '-c', w.config, '--json']);
    const s = JSON.parse(r.stdout) as { accounts: { name: string; detail: string | null }[] };
    assert.match(
      s.accounts.find((a) => a.name === 'irc.f')!.detail ?? '',
      /RELAYMSG refused in #t \(FAIL RELAYMSG PRIVS_NEEDED: You cannot relay messages to this channel\)/,
    );
  });
});
