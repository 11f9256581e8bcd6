/**
 * The irc plugin against a REAL Ergo (test/peers/ergo.sh: the IRCv3 reference server, with its own NickServ
 * accounts), the third server of the IRC suite beside ngircd and InspIRCd (with Atheme):
 * - SASL PLAIN to an Ergo account registered by a raw client (`NS REGISTER`);
 * - the account's nick held by someone else: the bot takes the alternate nick, and since SASL logged it in to
 *   the account that owns the nick, a password-less NickServ GHOST frees it (no `nickserv` block needed);
 * - a speaker logged in to an Ergo account is the post's `author.account` (the account-tag);
 * - a post is confirmed by its echo (echo-message), not a PING; +m refuses it: pending with Ergo's own words,
 *   delivered once after -m;
 * - a burst of posts goes out through the bucket, in order, every line once, and the bot stays connected;
 * - Ergo's default casemapping (precis): a bridge's `#café` is the channel Ergo calls `#CAFÉ`;
 * - the bot marks itself as a bot (+B, as Ergo's ISUPPORT BOT=B names the mode);
 * - the bot's own ghost (its link cut, the server still holding the session): the reconnect is attached to it
 *   (Ergo's multiclient), on the same nick, in the same channels, with no 433 and no GHOST.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { world, cli, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import { connectWhenFree, ensureErgo, freePort, startErgo, stopErgo, User, type Ircd } from './irc-helpers.js';

const CHAN = '#ergo';
let ergo: Ircd | undefined;
let dir: string;
let w: World;
let d: Running;
let squat: User; // holds the nick "relay" without being logged in
let carol: User; // logged in to her Ergo account
let olga: User; // the channel's operator (she made it), logged in to no account
let seq = 0;
let proxy: Server;
/** The bot's connections through the proxy: its own socket, and the proxy's to Ergo. */
const links: { bot: Socket; up: Socket }[] = [];

/**
 * A TCP proxy between the bot and Ergo: `cut()` closes the bot's side only, and Ergo still holds the session
 * (what a network that fails in between leaves behind: a ghost of the bot, on its nick, in its channels).
 */
async function startProxy(to: number): Promise<number> {
  proxy = createServer((bot) => {
    const up = connect(to, '127.0.0.1');
    links.push({ bot, up });
    bot.on('error', () => {});
    up.on('error', () => {});
    bot.on('data', (b) => up.write(b));
    up.on('data', (b) => {
      if (!bot.destroyed) bot.write(b);
    });
    up.on('close', () => bot.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return (proxy.address() as AddressInfo).port;
}

/** A post from elsewhere (the sink's spool) for the bridge. */
function spool(body: string, author = 'erin', sp = join(w.dir, 'spool')): void {
  const name = `p${String(++seq).padStart(5, '0')}`;
  writeFileSync(join(sp, `${name}.tmp`), JSON.stringify({ target: 'x', author: { name: author, via: 'sink' }, body }));
  renameSync(join(sp, `${name}.tmp`), join(sp, `${name}.json`));
}

/** Register an Ergo account named by the user's nick (NickServ logs the user in at once). */
async function register(u: User, password: string): Promise<void> {
  u.send(`PRIVMSG NickServ :REGISTER ${password}`);
  await u.waitFor((l) => /^(@\S+ )?:NickServ!\S+ NOTICE \S+ :Account created/.test(l), `${u.nick} registered`);
}

/** The bot's posts waiting for the channel. */
async function pending(): Promise<{ lastError: string | null }[]> {
  const r = await cli(['outbox', '-c', w.config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout).rows as { endpoint: string; lastError: string | null }[]).filter(
    (x) => x.endpoint === `irc.ergo/${CHAN}`,
  );
}

async function detail(): Promise<string> {
  const r = await cli(['status', '-c', w.config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (
    (JSON.parse(r.stdout) as { accounts: { name: string; detail: string | null }[] }).accounts.find(
      (a) => a.name === 'irc.ergo',
    )!.detail ?? ''
  );
}

/** Poll an async check until it gives a truthy value (the shared `until` takes sync checks only). */
async function eventually<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** What the bot said in the channel, from line `from` on, as olga saw it. */
const said = (from = 0) =>
  botLines()
    .slice(from)
    .map((l) => olga.text(l.replace(/^@\S+ /, '')));

/** The bot's lines in the channel as olga got them (with their tags: she asked for message-tags). */
const botLines = () => olga.lines.filter((l) => /^(@\S+ )?:relay!\S+ PRIVMSG #ergo :/.test(l));

describe('Ergo (IRCv3 reference server, its own NickServ accounts)', () => {
  before(async () => {
    ensureErgo();
    dir = mkdtempSync('/tmp/pp-ergo-');
    chmodSync(dir, 0o755);
    // Ergo's own default casemapping (precis): Unicode names, CASEMAPPING=ascii with UTF8MAPPING=rfc8265.
    ergo = startErgo(await freePort(), dir, { ERGO_CASEMAPPING: 'precis' });
    // The bot's account, registered by a raw client that then leaves (the nick is free again once it quit).
    const owner = await new User('relay').connect(ergo.port, '#hold');
    await register(owner, 'r3layPass');
    owner.send('QUIT :registered');
    await owner.waitFor((l) => l.startsWith('ERROR'), 'the owner quit');
    owner.close();
    // Someone else, logged in to nothing, takes the nick.
    // Ergo may hold the nick a moment after answering the QUIT: wait until it is free.
    squat = await connectWhenFree('relay', ergo.port, '#hold');
    olga = await new User('olga').connect(ergo.port, CHAN);
    // olga makes #CAFÉ: Ergo keeps her spelling, and the bridge names it #café.
    await olga.join('#CAFÉ');
    olga.send('CAP REQ :message-tags server-time');
    await olga.waitFor((l) => / CAP olga ACK :?message-tags server-time/.test(l), 'message-tags for olga');
    carol = await new User('carol').connect(ergo.port, CHAN);
    await register(carol, 'car0lPass');
    w = world();
    mkdirSync(join(w.dir, 'spool'), { recursive: true });
    mkdirSync(join(w.dir, 'spool-c'), { recursive: true });
    w.writeConfig(`
delivery:
  # A refused post waits for the mode change (which retries at once), not for a backoff that might land mid-test.
  retry: { first: 60s, max: 60s }
accounts:
  irc.ergo:
    host: 127.0.0.1
    port: ${await startProxy(ergo.port)}
    tls: false
    nick: relay
    reconnect: { first: 300ms, max: 1s }
    reclaimNick: 10m
    sasl: { account: relay, password: r3layPass }
    flood: { burst: 5, interval: 50ms }
  sink.s: { file: ${w.sink('s')}, spool: ${join(w.dir, 'spool')} }
  sink.c: { file: ${w.sink('c')}, spool: ${join(w.dir, 'spool-c')} }
bridges:
  ergo:
    endpoints: [irc.ergo/${CHAN}, sink.s/x]
  cafe:
    endpoints: [irc.ergo/#café, sink.c/x]
`);
    d = await startDaemon(w.config);
  });

  after(async () => {
    for (const u of [squat, carol, olga]) u?.close();
    if (d) assert.equal(await d.stop('SIGTERM'), 0, 'the daemon stops cleanly');
    for (const l of links) l.up.destroy();
    proxy?.close();
    stopErgo(ergo);
    if (dir) rmSync(dir, { recursive: true, force: true });
    w?.cleanup();
  });

  test('SASL PLAIN to the Ergo account; its nick is held: the bot joins as relay_, GHOSTs the holder (no password: SASL logged it in), and takes relay back', async () => {
    await olga.waitFor(
      (l) => /^(@\S+ )?:relay_!\S+ JOIN :?#ergo/.test(l),
      'the bot joins as relay_ (relay is held)',
      20_000,
    );
    await squat.waitFor((l) => /^ERROR :.*GHOST/i.test(l), 'the holder is disconnected by GHOST', 15_000);
    await olga.waitFor((l) => /^(@\S+ )?:relay_!\S+ NICK :?relay$/.test(l), 'the bot takes relay back', 10_000);
    olga.send('WHOIS relay');
    const logged = await olga.waitFor((l) => / 330 olga relay relay :/.test(l), 'WHOIS: logged in as relay');
    assert.match(logged, / 330 olga relay relay :/);
    const st = await eventually(async () => {
      const s = await detail();
      return /^as relay on /.test(s) && s;
    }, 'the status names the nick relay');
    assert.doesNotMatch(st, /SASL failed|is taken/, st);
    assert.ok(
      d.logs.some((l) => /asking NickServ to GHOST it/.test(l)),
      'the bot asked NickServ to GHOST the nick',
    );
  });

  test('a speaker logged in to an Ergo account is the author with that account (account-tag); one logged in to none has none', async () => {
    olga.send(`PRIVMSG ${CHAN} :not logged in`);
    carol.send(`PRIVMSG ${CHAN} :logged in`);
    const got = await until(() => {
      const all = w.delivered('s') as unknown as { body: string; author: string; account?: string }[];
      const a = all.find((x) => x.body === 'logged in');
      const b = all.find((x) => x.body === 'not logged in');
      return a && b ? { a, b } : undefined;
    }, 'both lines at the sink');
    assert.equal(got.a.author, 'carol');
    assert.equal(got.a.account, 'carol', 'account-tag: carol is logged in as carol');
    assert.equal(got.b.author, 'olga');
    assert.equal(got.b.account, undefined, 'olga is logged in to no account');
  });

  test('a post is said in the channel with its id tag and confirmed by its echo, not a PING', async () => {
    spool('hello ergo');
    const line = await olga.waitFor((l) => / PRIVMSG #ergo :<erin> hello ergo$/.test(l), 'the post in #ergo');
    assert.match(line, /^@(\S*;)?\+peerpost\/id=[^; ]+@/, `the line carries the post id: ${line}`);
    await until(() => d.logs.some((l) => /confirmed by their echo/.test(l)), 'confirmed by the echo');
    assert.deepEqual(
      d.logs.filter((l) => /confirmed by a PING/.test(l)),
      [],
      'Ergo echoes every line: no PING was needed',
    );
    await eventually(async () => (await pending()).length === 0, 'nothing left in the outbox');
  });

  test('the bot marks itself as a bot (ISUPPORT BOT=B, IRCv3 bot mode): WHOIS says so, and its lines carry the bot tag', async () => {
    olga.send('WHOIS relay');
    await olga.waitFor((l) => / 335 olga relay /.test(l), 'WHOIS: relay is a bot (335)');
    const line = await olga.waitFor((l) => / PRIVMSG #ergo :<erin> hello ergo$/.test(l), 'a line of the bot');
    assert.match(line, /^@(\S*;)?bot[;= ]/, `the bot tag on its line: ${line}`);
  });

  test("+m: the refused post stays pending with Ergo's own words; after -m it is said once", async () => {
    olga.send(`MODE ${CHAN} +m`);
    await olga.waitFor((l) => / MODE #ergo :?\+m/.test(l), '+m');
    spool('while moderated');
    const rows = await eventually(async () => {
      const r = await pending();
      return r.some((x) => /404/.test(x.lastError ?? '')) && r;
    }, 'the post pending with the 404');
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.match(rows[0]!.lastError ?? '', /the server refused a line in #ergo \(404 .*\)/);
    assert.match(await detail(), /#ergo/, 'the status shows the channel refusing');
    olga.send(`MODE ${CHAN} -m`);
    await olga.waitFor((l) => / PRIVMSG #ergo :<erin> while moderated$/.test(l), 'said once -m', 10_000);
    await eventually(async () => (await pending()).length === 0, 'nothing left in the outbox');
    await sleep(300);
    assert.equal(said().filter((t) => t === '<erin> while moderated').length, 1, 'said once');
  });

  test('a burst of 60 posts (120 lines) goes out through the bucket: every line once, in order, the bot still connected', async () => {
    const start = said().length;
    const want: string[] = [];
    for (let i = 0; i < 60; i++) {
      spool(`burst ${i} a\nburst ${i} b`);
      want.push(`<erin> burst ${i} a`, `<erin> burst ${i} b`);
    }
    await until(() => said(start).length >= want.length, `${want.length} lines in the channel`, 60_000);
    await eventually(async () => (await pending()).length === 0, 'nothing left in the outbox', 15_000);
    await sleep(300);
    assert.deepEqual(said(start), want);
    // The server's own clock (server-time) on the first and last line: 120 lines at 5 at once then one per 50 ms
    // cannot take less than 115 × 50 ms; the bucket, not the server, paced them.
    const stamp = (l: string) => Date.parse(/^@(?:\S*;)?time=([^; ]+)/.exec(l)![1]!);
    const lines = botLines().slice(start);
    const span = stamp(lines.at(-1)!) - stamp(lines[0]!);
    assert.ok(span >= 115 * 50 - 250, `the burst took ${span} ms at the server: paced by the bucket`);
    assert.match(await detail(), /^as relay on .*in 2\/2 channels/, 'still connected, still in its channels');
    assert.equal(d.logs.filter((l) => /disconnected from/.test(l)).length, 0, 'Ergo never disconnected the bot');
  });

  test("UTF8MAPPING=rfc8265: the bridge's #café is olga's #CAFÉ (one channel to Ergo): the bot stays in it, and lines cross both ways", async () => {
    await olga.waitFor(
      (l) => /^(@\S+ )?:relay_?!\S+ JOIN :?#CAFÉ$/.test(l),
      'the bot in #CAFÉ (Ergo says its spelling)',
      20_000,
    );
    olga.send('PRIVMSG #CAFÉ :bonjour');
    await until(
      () => (w.delivered('c') as unknown as { body: string }[]).some((x) => x.body === 'bonjour'),
      'the line at the sink',
    );
    spool('salut', 'erin', join(w.dir, 'spool-c'));
    await olga.waitFor((l) => / PRIVMSG #CAFÉ :<erin> salut$/.test(l), 'the post in #CAFÉ');
    assert.deepEqual(
      olga.lines.filter((l) => /:relay_?!\S+ PART /.test(l)),
      [],
      'the bot never left it as a channel no bridge names',
    );
  });

  test("the bot's own ghost: its link cut while Ergo still holds the session, the bot reconnects and SASL attaches it to that session (Ergo's multiclient): its nick, its channels, and posts confirmed again", async () => {
    const before = links.length;
    const ghost = links.at(-1)!;
    ghost.bot.destroy(); // the bot sees its connection close; Ergo does not (the proxy keeps the other side open)
    await until(() => links.length > before, 'the bot connects again', 15_000);
    await eventually(
      async () => /^as relay on .*in 2\/2 channels/.test(await detail()),
      'connected as relay again',
      15_000,
    );
    assert.ok(!ghost.up.destroyed, 'the old session was still there on the server');
    assert.doesNotMatch(await detail(), /is taken/);
    const start = said().length;
    spool('after the ghost');
    await olga.waitFor((l) => / PRIVMSG #ergo :<erin> after the ghost$/.test(l), 'the post in #ergo');
    await eventually(async () => (await pending()).length === 0, 'nothing left in the outbox');
    olga.send(`PRIVMSG ${CHAN} :still here`);
    await until(
      () => (w.delivered('s') as unknown as { body: string }[]).some((x) => x.body === 'still here'),
      'a line of the channel at the sink',
    );
    await sleep(300);
    assert.deepEqual(said(start), ['<erin> after the ghost'], 'said once');
    assert.equal(
      olga.lines.filter((l) => /:relay!\S+ (QUIT|PART|NICK) /.test(l)).length,
      0,
      'the channel saw the bot neither leave nor change its nick',
    );
  });
});

describe("Ergo with fakelag on (its default throttle: 5 lines at once, then 2 a second), the bot's bucket faster", () => {
  let lagd: Ircd | undefined;
  let lagDir: string;
  let lw: World;
  let ld: Running;
  let vic: User;
  let n = 0;

  before(async () => {
    ensureErgo();
    lagDir = mkdtempSync('/tmp/pp-ergo-lag-');
    chmodSync(lagDir, 0o755);
    lagd = startErgo(await freePort(), lagDir, { ERGO_FAKELAG: '1' });
    vic = await new User('vic').connect(lagd.port, '#lag');
    lw = world();
    mkdirSync(join(lw.dir, 'spool'), { recursive: true });
    lw.writeConfig(`
accounts:
  irc.lag:
    host: 127.0.0.1
    port: ${lagd.port}
    tls: false
    nick: lagbot
    flood: { burst: 50, interval: 10ms }
  sink.l: { file: ${lw.sink('l')}, spool: ${join(lw.dir, 'spool')} }
bridges:
  lag:
    endpoints: [irc.lag/#lag, sink.l/x]
`);
    ld = await startDaemon(lw.config);
    await vic.waitFor((l) => /^:lagbot!\S+ JOIN :?#lag/.test(l), 'the bot joins #lag', 20_000);
  });

  after(async () => {
    vic?.close();
    if (ld) assert.equal(await ld.stop('SIGTERM'), 0, 'the daemon stops cleanly');
    stopErgo(lagd);
    if (lagDir) rmSync(lagDir, { recursive: true, force: true });
    lw?.cleanup();
  });

  test('a burst of 30 posts that Ergo holds back: every line once and in order, confirmed by their late echoes and nothing said again, the bot never disconnected', async () => {
    const sp = join(lw.dir, 'spool');
    for (let i = 0; i < 30; i++) {
      const name = `p${String(++n).padStart(5, '0')}`;
      writeFileSync(
        join(sp, `${name}.tmp`),
        JSON.stringify({ target: 'x', author: { name: 'erin', via: 'sink' }, body: `lag ${i}` }),
      );
      renameSync(join(sp, `${name}.tmp`), join(sp, `${name}.json`));
    }
    const got = () => vic.said('lagbot', '#lag').map((l) => vic.text(l));
    await until(() => got().length >= 30, '30 lines in #lag', 60_000);
    const left = async () => {
      const r = await cli(['outbox', '-c', lw.config, '--json']);
      return (JSON.parse(r.stdout).rows as { endpoint: string }[]).filter((x) => x.endpoint === 'irc.lag/#lag').length;
    };
    for (let i = 0; i < 150 && (await left()) > 0; i++) await sleep(100);
    assert.equal(await left(), 0, 'every post confirmed');
    await sleep(500);
    assert.deepEqual(
      got(),
      Array.from({ length: 30 }, (_, i) => `<erin> lag ${i}`),
      'once each, in order',
    );
    // Ergo read the bot's lines at its own pace, seconds behind: each post was still confirmed by its echoes.
    assert.ok(
      ld.logs.some((l) => /confirmed by their echo/.test(l)),
      'confirmed by the echoes',
    );
    assert.equal(ld.logs.filter((l) => /disconnected from/.test(l)).length, 0, 'Ergo never disconnected the bot');
  });
});

describe('Ergo, no services credentials: the nick held by someone, MONITOR says when it is free', () => {
  let m: Ircd | undefined;
  let mDir: string;
  let mw: World;
  let md: Running;
  let holder: User;
  let una: User;

  before(async () => {
    ensureErgo();
    mDir = mkdtempSync('/tmp/pp-ergo-mon-');
    chmodSync(mDir, 0o755);
    m = startErgo(await freePort(), mDir);
    holder = await new User('mon').connect(m.port, '#mon');
    una = await new User('una').connect(m.port, '#mon');
    mw = world();
    mw.writeConfig(`
accounts:
  irc.mon: { host: 127.0.0.1, port: ${m.port}, tls: false, nick: mon, reclaimNick: 10m }
bridges:
  mon:
    endpoints: [irc.mon/#mon]
`);
    md = await startDaemon(mw.config);
  });

  after(async () => {
    for (const u of [holder, una]) u?.close();
    if (md) assert.equal(await md.stop('SIGTERM'), 0, 'the daemon stops cleanly');
    stopErgo(m);
    if (mDir) rmSync(mDir, { recursive: true, force: true });
    mw?.cleanup();
  });

  test('the bot joins as mon_; when the holder quits, Ergo says so (MONITOR) and the bot takes mon then, not at the next reclaimNick (10 minutes)', async () => {
    await una.waitFor((l) => /^:mon_!\S+ JOIN :?#mon/.test(l), 'the bot joins as mon_', 20_000);
    // Whether Ergo reads the bot's MONITOR before or after the quit, it answers that mon is offline (731).
    holder.close();
    await una.waitFor((l) => /^:mon_!\S+ NICK :?mon$/.test(l), 'the bot takes mon', 10_000);
    // Taken because MONITOR said it was free. The daemon logs it before it writes NICK, but this process may read
    // Ergo's NICK before the daemon's log line (two pipes, one event loop): wait for the line, do not just look.
    await md.waitForLog(/mon is free \(MONITOR\)/, 5_000);
  });
});
