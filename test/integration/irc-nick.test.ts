/**
 * The irc plugin against a REAL ngircd (penalties off): the configured nick is
 * taken and NickServ credentials are configured → the bot asks NickServ to GHOST
 * it and takes it back at once (not at the next `reclaimNick`). ngircd has no
 * services: a raw user named NickServ plays the service (it sees the commands,
 * and makes the holder quit as Atheme or Anope would).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { world, startDaemon, type World, type Running } from '../helpers/daemon.js';
import { ngircdInTmp, stopIrcd, User, type Ircd } from './irc-helpers.js';

let ircd: Ircd | undefined;
let dir: string;
let w: World;
let d: Running;
let squat: User;
let services: User;
let watch: User;

describe('a taken nick, with NickServ credentials', () => {
  before(async () => {
    ircd = await ngircdInTmp('0');
    dir = ircd.dir;
    const port = ircd.port;
    squat = await new User('keeper').connect(port, '#nick');
    squat.send('NICK relay');
    await squat.waitFor((l) => / NICK :?relay$/.test(l), 'the squatter holds relay');
    services = await new User('NickServ').connect(port, '#services');
    watch = await new User('watch').connect(port, '#nick');
    w = world();
    w.writeConfig(`
accounts:
  irc.a:
    host: 127.0.0.1
    port: ${port}
    tls: false
    nick: relay
    reclaimNick: 10m
    nickserv: { password: s3cret, account: relayacct }
bridges:
  nick:
    endpoints: [irc.a/#nick]
`);
    d = await startDaemon(w.config);
  });

  after(async () => {
    for (const u of [squat, services, watch]) u?.close();
    if (d) assert.equal(await d.stop('SIGTERM'), 0);
    stopIrcd(ircd);
    rmSync(dir, { recursive: true, force: true });
    w?.cleanup();
  });

  test('the bot identifies, asks NickServ to GHOST the nick, and takes it back once it is free', async () => {
    await services.waitFor((l) => / PRIVMSG NickServ :IDENTIFY relayacct s3cret$/.test(l), 'IDENTIFY', 15_000);
    const ghost = await services.waitFor(
      (l) => / PRIVMSG NickServ :GHOST relay s3cret$/.test(l),
      'GHOST relay',
      15_000,
    );
    assert.match(ghost, /^:relay_!/, 'asked from the alternate nick');
    // The service disconnects the holder.
    squat.close();
    const t0 = Date.now();
    await watch.waitFor((l) => /^:relay_!\S+ NICK :?relay$/.test(l), 'the bot takes relay back', 10_000);
    assert.ok(Date.now() - t0 < 5_000, 'at once, not at the next reclaimNick (10 minutes)');
  });
});
