/**
 * A window of posts in flight per channel (flood.window), against a REAL ngircd on 127.0.0.1 (no echo-message:
 * every window of posts is confirmed by one PING after its lines). Posts come from a sink endpoint's spool in
 * bursts; two users watch the channel, one of them its operator (ngircd gives the channel's creator +o).
 *
 * ngircd must be installed: when /usr/sbin/ngircd is missing the test installs it when running as root, and fails
 * (never skips) with the command otherwise.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { world, cli, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import { ensureNgircd, freePort, startIrcd, stopIrcd, User, type Ircd } from './irc-helpers.js';

let ircd: Ircd | undefined;
let w: World;
let daemon: Running;
let olga: User;
const CHAN = '#win';
const BOT = 'winbot';
let seq = 0;

function spool(body: string): void {
  const dir = join(w.dir, 'spool');
  const name = `p${String(++seq).padStart(5, '0')}`;
  writeFileSync(join(dir, `${name}.tmp`), JSON.stringify({ target: 'x', author: { name: 'erin', via: 'sink' }, body }));
  renameSync(join(dir, `${name}.tmp`), join(dir, `${name}.json`));
}

/** What the bot said in the channel from line `from` on, without the nick prefix. */
const said = (from: number) =>
  olga
    .said(BOT, CHAN)
    .slice(from)
    .map((l) => olga.text(l).replace(/^<erin> /, ''));

async function pendingIrc(): Promise<{ lastError: string | null }[]> {
  const r = await cli(['outbox', '-c', w.config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout).rows as { endpoint: string; lastError: string | null }[]).filter(
    (x) => x.endpoint === `irc.w/${CHAN}`,
  );
}

describe('a window of posts per channel, ngircd (confirmed by a PING per window)', () => {
  before(async () => {
    ensureNgircd();
    const port = await freePort();
    const dir = mkdtempSync('/tmp/pp-ngircd-win-');
    chmodSync(dir, 0o755);
    // Penalties off on the server; the bot's own flood control still paces it (5 at once, then one line per 20 ms).
    ircd = startIrcd(port, dir, '0', 'irc.win.local');
    w = world();
    mkdirSync(join(w.dir, 'spool'), { recursive: true });
    w.writeConfig(`
delivery:
  # A refused post waits for the mode change (which retries at once), not for a backoff that might land mid-test.
  retry: { first: 60s, max: 60s }
accounts:
  irc.w:
    host: 127.0.0.1
    port: ${port}
    tls: false
    nick: ${BOT}
    flood: { burst: 5, interval: 20ms, window: 8 }
  sink.a: { file: ${w.sink('a')}, spool: ${join(w.dir, 'spool')} }
bridges:
  commons:
    endpoints: [irc.w/${CHAN}, sink.a/x]
`);
    olga = await new User('olga').connect(port, CHAN);
    daemon = await startDaemon(w.config);
    await olga.waitFor((l) => l.startsWith(`:${BOT}!`) && / JOIN /.test(l), 'the bot joins');
  });

  after(async () => {
    olga?.close();
    if (daemon) assert.equal(await daemon.stop('SIGTERM'), 0, 'the daemon stops cleanly');
    stopIrcd(ircd);
    if (ircd) rmSync(ircd.dir, { recursive: true, force: true });
    w?.cleanup();
  });

  test("a burst of 150 posts, every third of two lines: every line arrives once, in order, no post's lines split by another's", async () => {
    const start = olga.said(BOT, CHAN).length;
    const want: string[] = [];
    for (let i = 0; i < 150; i++) {
      if (i % 3 === 0) {
        spool(`post ${i} first\npost ${i} second`);
        want.push(`post ${i} first`, `post ${i} second`);
      } else {
        spool(`post ${i}`);
        want.push(`post ${i}`);
      }
    }
    await until(() => said(start).length >= want.length, `${want.length} lines in the channel`, 60_000);
    await sleep(500);
    assert.deepEqual(said(start), want);
    await until(async () => (await pendingIrc()).length === 0, 'nothing left in the outbox', 10_000);
    assert.ok(
      daemon.logs.some((l) => /confirmed by a PING/.test(l)),
      'ngircd has no echo-message: confirmed by PINGs',
    );
  });

  test('+m in the middle of a burst: the refused posts wait with the 404; after -m every line is there, first showings in order', async () => {
    const start = olga.said(BOT, CHAN).length;
    const N = 120;
    for (let i = 0; i < N; i++) spool(`moderated ${i}`);
    await until(() => said(start).length >= 30, '30 lines before the +m', 30_000);
    olga.send(`MODE ${CHAN} +m`);
    await olga.waitFor((l) => new RegExp(`MODE ${CHAN} :?\\+m`).test(l), '+m');
    await until(
      async () => (await pendingIrc()).some((r) => /404/.test(r.lastError ?? '')),
      'a post pending with the 404',
      15_000,
    );
    await sleep(500);
    const during = said(start).length;
    assert.ok(during < N, `${during} of ${N} lines before -m: the rest wait`);
    const waiting = await pendingIrc();
    assert.ok(waiting.length > 0 && waiting.length <= N - 30 + 8, `${waiting.length} posts wait`);
    olga.send(`MODE ${CHAN} -m`);
    const distinct = () => new Set(said(start)).size;
    await until(() => distinct() >= N, `all ${N} lines after -m`, 30_000);
    await until(async () => (await pendingIrc()).length === 0, 'nothing left in the outbox', 10_000);
    const got = said(start);
    const first: string[] = [];
    for (const g of got) if (!first.includes(g)) first.push(g);
    assert.deepEqual(
      first,
      Array.from({ length: N }, (_, i) => `moderated ${i}`),
      'nothing lost; first showings in order',
    );
    // The server does not say which line a 404 refuses: a post of the window written before the refusal came back
    // counts as refused and is sent again. At most one window of posts is shown twice.
    assert.ok(got.length - N <= 8, `${got.length - N} lines shown twice (at most one window)`);
  });
});
