/**
 * The irc plugin against a REAL InspIRCd 3 (test/peers/inspircd.sh: IRCv3
 * message-tags with client-only tags, echo-message, labeled-response,
 * server-time), bridged to a real ngircd: the post id travels in the
 * `+peerpost/id` tag, a post is confirmed by the server's echo of its lines (no
 * PING), and a line InspIRCd refuses (+m) keeps the post pending until the mode
 * is removed.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { world, cli, startDaemon, sleep, type World, type Running } from '../helpers/daemon.js';
import {
  ensureInspircd,
  ensureNgircd,
  freePort,
  startInspircd,
  startIrcd,
  stopInspircd,
  stopIrcd,
  User,
  type Ircd,
} from './irc-helpers.js';

let ng: Ircd | undefined;
let insp: Ircd | undefined;
const dirs: string[] = [];
let w: World;
let d: Running;
let ann: User; // on ngircd
let ivy: User; // on InspIRCd, op of #x, sees message tags

const mkdir = () => {
  const dir = mkdtempSync('/tmp/pp-ircd-');
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
};

describe('InspIRCd (IRCv3) bridged to ngircd', () => {
  before(async () => {
    ensureNgircd();
    ensureInspircd();
    ng = startIrcd(await freePort(), mkdir(), '0', 'irc.ng.local');
    insp = startInspircd(await freePort(), mkdir());
    ann = await new User('ann').connect(ng.port, '#x');
    ivy = await new User('ivy').connect(insp.port, '#x');
    ivy.send('CAP REQ :message-tags');
    await ivy.waitFor((l) => / CAP ivy ACK :message-tags/.test(l), 'message-tags for ivy');
    w = world();
    w.writeConfig(`
accounts:
  irc.ng: { host: 127.0.0.1, port: ${ng.port}, tls: false, nick: relay }
  irc.insp: { host: 127.0.0.1, port: ${insp.port}, tls: false, nick: relay, flood: { burst: 50, interval: 10ms } }
bridges:
  x:
    endpoints: [irc.ng/#x, irc.insp/#x]
`);
    d = await startDaemon(w.config);
    await ivy.waitFor((l) => /^:relay!\S+ JOIN :?#x/.test(l), 'the bot joins #x on InspIRCd', 20_000);
    await ann.waitFor((l) => /^:relay!\S+ JOIN :?#x/.test(l), 'the bot joins #x on ngircd', 20_000);
  });

  after(async () => {
    for (const u of [ann, ivy]) u?.close();
    if (d) assert.equal(await d.stop('SIGTERM'), 0);
    stopIrcd(ng);
    stopInspircd(insp);
    for (const x of dirs) rmSync(x, { recursive: true, force: true });
    w?.cleanup();
  });

  test('a line crosses both ways; on InspIRCd it carries the post id in +peerpost/id, and is confirmed by its echo, not a PING', async () => {
    ann.send('PRIVMSG #x :hello from ngircd');
    const line = await ivy.waitFor((l) => / PRIVMSG #x :<ann> hello from ngircd$/.test(l), 'the line on InspIRCd');
    const id = /^@(?:\S*;)?\+peerpost\/id=([^; ]+)/.exec(line)?.[1];
    assert.ok(id && /@/.test(id), `the line carries the post id: ${line}`);
    const confirmed = await d.waitForLog(/the server took the lines \(confirmed by/, 10_000);
    assert.match(confirmed, /confirmed by their echo/);
    ivy.send('PRIVMSG #x :hello from inspircd');
    await ann.waitFor((l) => / PRIVMSG #x :<ivy> hello from inspircd$/.test(l), 'the line on ngircd');
    // The bot's own echo on InspIRCd is not relayed back.
    await sleep(300);
    assert.equal(ann.lines.filter((l) => l.includes('<ann> hello from ngircd')).length, 0);
  });

  test('a 100-line burst arrives complete and in order, every post confirmed by echoes', async () => {
    const since = ivy.lines.length;
    ann.send(Array.from({ length: 100 }, (_, i) => `PRIVMSG #x :b ${i}`).join('\r\n'));
    const got = () =>
      ivy.lines
        .slice(since)
        .map((l) => / PRIVMSG #x :<ann> b (\d+)$/.exec(l)?.[1])
        .filter((x) => x !== undefined)
        .map(Number);
    for (let i = 0; i < 200 && got().length < 100; i++) await sleep(100);
    assert.deepEqual(
      got(),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.deepEqual(
      d.logs.filter((l) => l.includes('"account":"irc.insp"') && /confirmed by a PING/.test(l)),
      [],
      'no post to InspIRCd needed a PING (ngircd, without echo-message, does)',
    );
    assert.ok(
      d.logs.some((l) => l.includes('"account":"irc.ng"') && /confirmed by a PING/.test(l)),
      'ngircd: by a PING',
    );
  });

  test("+m on InspIRCd: the refused post stays pending with the 404 (InspIRCd's own words); -m → delivered once", async () => {
    const pending = async () => {
      const r = await cli(['outbox', '-c', w.config, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout).rows as { endpoint: string; lastError: string | null }[]).filter(
        (x) => x.endpoint === 'irc.insp/#x',
      );
    };
    ivy.send('MODE #x +m');
    await ivy.waitFor((l) => / MODE #x :?\+m/.test(l), '+m');
    ann.send('PRIVMSG #x :while moderated');
    let rows = await pending();
    for (let i = 0; i < 100 && !rows.some((r) => /404/.test(r.lastError ?? '')); i++) {
      await sleep(100);
      rows = await pending();
    }
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.match(rows[0]!.lastError ?? '', /the server refused a line in #x \(404 .*\+m.*\)/);
    ivy.send('MODE #x -m');
    await ivy.waitFor((l) => / PRIVMSG #x :<ann> while moderated$/.test(l), 'delivered once -m', 10_000);
    for (let i = 0; i < 100 && (await pending()).length > 0; i++) await sleep(100);
    assert.deepEqual(await pending(), []);
    assert.equal(ivy.lines.filter((l) => l.endsWith('<ann> while moderated')).length, 1);
  });
});
