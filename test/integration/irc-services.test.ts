/**
 * The irc plugin against REAL services: InspIRCd 3 with Atheme 7 linked
 * (test/peers/inspircd.sh with INSPIRCD_SERVICES_PORT, test/peers/atheme.sh):
 * SASL PLAIN with a registered account, the services account of a speaker from
 * the IRCv3 account-tag into the post, and a taken nick won back with NickServ
 * GHOST.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { world, cli, startDaemon, until, type World, type Running } from '../helpers/daemon.js';
import {
  ensureAtheme,
  ensureInspircd,
  startInspircdWithServices,
  stopAtheme,
  stopInspircd,
  User,
  type Ircd,
} from './irc-helpers.js';

let ircd: Ircd | undefined;
let services: Ircd | undefined;
let dir: string;
let w: World;
let d: Running;
let squat: User; // registers the account "relay" and holds the nick
let carol: User; // a registered user who speaks
let watch: User;

/** Register the account named by the user's nick with NickServ (logged in at once: auth = none). */
async function register(u: User, password: string): Promise<void> {
  u.send(`PRIVMSG NickServ :REGISTER ${password} ${u.nick}@example.org`);
  await u.waitFor((l) => /^:NickServ!\S+ NOTICE \S+ :.* is now registered/.test(l), `${u.nick} registered`);
}

describe('real services: InspIRCd with Atheme (SASL PLAIN, account-tag, GHOST)', () => {
  before(async () => {
    ensureInspircd();
    ensureAtheme();
    dir = mkdtempSync('/tmp/pp-svc-');
    chmodSync(dir, 0o755);
    ({ ircd, services } = await startInspircdWithServices(dir));
    squat = await new User('relay').connect(ircd.port, '#hold');
    await register(squat, 'r3layPass');
    carol = await new User('carol').connect(ircd.port, '#svc');
    await register(carol, 'car0lPass');
    watch = await new User('watch').connect(ircd.port, '#svc');
    w = world();
    w.writeConfig(`
accounts:
  irc.insp:
    host: 127.0.0.1
    port: ${ircd.port}
    tls: false
    nick: relay
    reclaimNick: 10m
    sasl: { account: relay, password: r3layPass }
    nickserv: { password: r3layPass }
  sink.s: { file: ${w.sink('s')} }
bridges:
  svc:
    endpoints: [irc.insp/#svc, sink.s/x]
`);
    d = await startDaemon(w.config);
  });

  after(async () => {
    for (const u of [squat, carol, watch]) u?.close();
    if (d) assert.equal(await d.stop('SIGTERM'), 0);
    stopAtheme(services);
    stopInspircd(ircd);
    if (dir) rmSync(dir, { recursive: true, force: true });
    w?.cleanup();
  });

  test('the nick is taken: SASL logs in on the alternate nick, NickServ GHOSTs the holder, the bot takes its nick back', async () => {
    await watch.waitFor((l) => /^:relay_!\S+ JOIN :?#svc/.test(l), 'the bot joins as relay_ (relay is taken)', 20_000);
    await squat.waitFor(
      (l) => /^ERROR :.*GHOST/i.test(l) || / QUIT :.*GHOST/i.test(l) || /^:\S+ KILL relay /.test(l),
      'the holder is disconnected by GHOST',
      15_000,
    );
    await watch.waitFor((l) => /^:relay_!\S+ NICK :?relay$/.test(l), 'the bot takes relay back', 10_000);
    watch.send('WHOIS relay');
    const logged = await watch.waitFor((l) => / 330 watch relay relay :/.test(l), 'WHOIS: logged in as relay (SASL)');
    assert.match(logged, / 330 watch relay relay :/);
    const r = await cli(['status', '-c', w.config, '--json']);
    const detail =
      (JSON.parse(r.stdout) as { accounts: { name: string; detail: string | null }[] }).accounts.find(
        (a) => a.name === 'irc.insp',
      )!.detail ?? '';
    assert.doesNotMatch(detail, /SASL failed|is taken/, detail);
  });

  test('a registered speaker: the post carries the services account from account-tag', async () => {
    watch.send('PRIVMSG #svc :not logged in');
    carol.send('PRIVMSG #svc :logged in');
    const got = await until(() => {
      const all = w.delivered('s') as unknown as { body: string; author: string; account?: string }[];
      const a = all.find((x) => x.body === 'logged in');
      const b = all.find((x) => x.body === 'not logged in');
      return a && b ? { a, b } : undefined;
    }, 'both lines at the sink');
    assert.equal(got.a.author, 'carol');
    assert.equal(got.a.account, 'carol', 'account-tag: carol is logged in as carol');
    assert.equal(got.b.account, undefined, 'watch is logged in to no account');
  });
});
