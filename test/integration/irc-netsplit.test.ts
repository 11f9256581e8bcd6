/**
 * The irc plugin against two REAL ngircd servers linked as one network: one of
 * them dies (a netsplit; test/peers/ngircd.sh links them), and the quits of everyone on it, which the surviving
 * server sends with the two server names as the reason, become ONE event line
 * per channel (with `events` on), not one per nick.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { world, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import { ensureNgircd, freePort, startIrcd, stopIrcd, User, type Ircd } from './irc-helpers.js';

let hub: Ircd | undefined;
let leaf: Ircd | undefined;
const dirs: string[] = [];
let w: World;
let d: Running;
const users: User[] = [];

const mkdir = () => {
  const dir = mkdtempSync('/tmp/pp-ngircd-');
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
};

describe('a netsplit between two linked ngircd servers', () => {
  before(async () => {
    ensureNgircd();
    const hubPort = await freePort();
    hub = startIrcd(hubPort, mkdir(), '0', 'irc.hub.local', { NGIRCD_LINK_ACCEPT: 'irc.leaf.local' });
    leaf = startIrcd(await freePort(), mkdir(), '0', 'irc.leaf.local', {
      NGIRCD_LINK_CONNECT: `irc.hub.local ${hubPort}`,
    });
    const watch = await new User('watch').connect(hubPort, '#split');
    users.push(watch);
    w = world();
    w.writeConfig(`
accounts:
  irc.hub: { host: 127.0.0.1, port: ${hubPort}, tls: false, nick: relay, events: true }
  sink.s: { file: ${w.sink('s')} }
bridges:
  split:
    endpoints: [irc.hub/#split, sink.s/x]
`);
    d = await startDaemon(w.config);
    await watch.waitFor((l) => /^:relay!\S+ JOIN :?#split/.test(l), 'the bot joins #split on the hub', 20_000);
    // Three users on the leaf, seen on the hub once the servers are linked.
    for (const nick of ['lea', 'leo', 'lou']) {
      const u = new User(nick);
      users.push(u);
      for (let i = 0; ; i++) {
        try {
          await u.connect(leaf.port, '#split');
          break;
        } catch (e) {
          if (i > 50) throw e;
          await sleep(200);
        }
      }
    }
    await until(
      () => ['lea', 'leo', 'lou'].every((n) => watch.lines.some((l) => l.startsWith(`:${n}!`) && / JOIN /.test(l))),
      'the leaf users seen on the hub (linked)',
      30_000,
    );
    await until(() => w.delivered('s').filter((p) => / joined$/.test(p.body)).length >= 3, 'their joins at the sink');
  });

  after(async () => {
    for (const u of users) u.close();
    if (d) assert.equal(await d.stop('SIGTERM'), 0);
    stopIrcd(hub);
    stopIrcd(leaf);
    for (const x of dirs) rmSync(x, { recursive: true, force: true });
    w?.cleanup();
  });

  test('the leaf dies: its users\' quits arrive as one "netsplit" event, not three quits', async () => {
    // Killed, not stopped: a stopping ngircd first says goodbye to its users one by one ("Server going down").
    process.kill(leaf!.pid, 'SIGKILL');
    leaf = undefined;
    const split = await until(
      () => w.delivered('s').find((p) => p.body.startsWith('netsplit ')),
      'the folded netsplit event',
      15_000,
    );
    assert.match(
      split.body,
      /^netsplit irc\.hub\.local ↔ irc\.leaf\.local: (lea|leo|lou), (lea|leo|lou), (lea|leo|lou) quit$/,
    );
    for (const n of ['lea', 'leo', 'lou']) assert.ok(split.body.includes(n), `${n} is named`);
    await sleep(2_500);
    assert.equal(w.delivered('s').filter((p) => / quit/.test(p.body)).length, 1, 'one line, no single quits');
  });
});
