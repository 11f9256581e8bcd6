/**
 * The daemon on a real PostgreSQL 15 (issue 17: node.database), as an operator runs it: posts by a newsreader
 * (Python's nntplib) and by `peerpost post` are stored there, delivered once each, found by the web's search, and
 * still there with the same article numbers after a kill -9. PostgreSQL restarted while people post: each post in
 * the gap is refused with a temporary error (NNTP 403 to a POST, SMTP 451 by swaks, the CLI's exit 6) and nothing
 * is acknowledged that is not stored; once it is back, posts flow again, and every acknowledged post reaches the
 * sink once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { world, cli, startDaemon, until, sleep, type World } from '../helpers/daemon.js';
import { freePort, listeningPort } from '../peers/finger.js';
import { startPostgres, type PgPeer } from '../helpers/pg.js';
import { nntplib } from './nntp-helpers.js';
import { requirePeer } from '../peers/require.js';
import { ensureSwaks, swaks } from './mail-helpers.js';

let pg: PgPeer;
before(async () => {
  requirePeer('python3');
  ensureSwaks();
  pg = await startPostgres('daemon');
});
after(() => pg?.destroy());

const article = (n: string, subject: string) =>
  `From: Reader ${n} <r${n}@example.org>\r\nNewsgroups: peerpost.commons\r\nSubject: ${subject}\r\nMessage-ID: <${n}@pg.example>\r\n\r\nArticle ${n} kept in PostgreSQL.\r\n`;

async function setup(w: World): Promise<{ nntp: number; smtp: number }> {
  const nntp = await freePort();
  const smtp = await freePort();
  w.writeConfig(`  database: ${pg.url}
accounts:
  nntp.local: { listen: 127.0.0.1:${nntp}, posting: { allow: loopback } }
  mail.m: { domain: lists.test.example, listen: 127.0.0.1:${smtp}, smtp: { host: 127.0.0.1, port: ${await freePort()} } }
  web.w: { listen: 127.0.0.1:0 }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    endpoints:
      - nntp.local/peerpost.commons
      - web.w/commons
      - sink.s/c
      - { endpoint: mail.m/commons, policy: open }
`);
  return { nntp, smtp };
}

test('posts by nntplib and by peerpost post are stored in PostgreSQL, delivered once, searchable, kept across a kill -9', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { nntp } = await setup(w);
  let d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  assert.match(
    d.logs.find((l) => /is up/.test(l))!,
    /store postgres:\/\/daemon@127\.0\.0\.1:\d+\/daemon/,
  );
  const posted = await nntplib(nntp, [
    ['post', article('n1', 'Tomatoes')],
    ['post', article('n2', 'Cucumbers')],
  ]);
  assert.deepEqual(
    posted.map((r) => r.ok),
    [true, true],
    JSON.stringify(posted),
  );
  const r = await cli(['post', '-c', w.config, '-b', 'commons', '--from', 'alice', '--subject', 'Beans', 'beans too']);
  assert.equal(r.code, 0, r.stderr);
  await until(() => w.delivered('s').length >= 3, 'three deliveries at the sink');
  const web = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.w')}`;
  const found = (await (await fetch(`${web}/api/search?q=cucumbers`)).json()) as { results: { id: string }[] };
  assert.deepEqual(
    found.results.map((p) => p.id),
    ['n2@pg.example'],
  );
  const before = await nntplib(nntp, [
    ['group', 'peerpost.commons'],
    ['over', '1-'],
  ]);
  await d.stop('SIGKILL');
  d = await startDaemon(w.config);
  const again = await nntplib(nntp, [
    ['group', 'peerpost.commons'],
    ['over', '1-'],
  ]);
  assert.deepEqual(again, before, 'the same group and article numbers after kill -9');
  await sleep(500);
  assert.deepEqual(
    w
      .delivered('s')
      .map((x) => x.subject)
      .sort(),
    ['Beans', 'Cucumbers', 'Tomatoes'],
    'each post delivered once',
  );
});

test('PostgreSQL restarted while people post: refused for the gap with a temporary error, then flowing; nothing acknowledged is lost', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { nntp, smtp } = await setup(w);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const acked: string[] = [];
  const post = async (n: string) => {
    const [res] = await nntplib(nntp, [['post', article(n, `Subject ${n}`)]]);
    if (res!.ok) acked.push(`${n}@pg.example`);
    return res!;
  };
  const mail = async (n: string) => {
    const r = await swaks(smtp, [
      '--from',
      `m${n}@example.org`,
      '--to',
      'commons@lists.test.example',
      '--header',
      `Subject: Mail ${n}`,
      '--header',
      `Message-Id: <${n}@pg.example>`,
      '--body',
      `Mail ${n} kept in PostgreSQL.`,
    ]);
    // The answer to the post itself: the last final reply before QUIT's 221.
    const code = Number(
      r.replies
        .filter((x) => /^\d{3} /.test(x) && !x.startsWith('221'))
        .pop()
        ?.slice(0, 3),
    );
    if (code === 250) acked.push(`${n}@pg.example`);
    return { code, out: r.out };
  };
  for (let i = 0; i < 5; i++) assert.ok((await post(`before${i}`)).ok);
  for (let i = 0; i < 2; i++) assert.equal((await mail(`mbefore${i}`)).code, 250);
  pg.stop();
  const gap = await post('gap1');
  assert.equal(gap.ok, false);
  // RFC 3977's answers for "not now": 403 to a POST (what nntplib sends), 436 to an IHAVE.
  assert.match(gap.error ?? '', /^403 .*try again later/, `NNTP 403 while PostgreSQL is down: ${JSON.stringify(gap)}`);
  const m = await mail('mgap1');
  assert.equal(m.code, 451, `SMTP 451 (try again later) while PostgreSQL is down:\n${m.out}`);
  const r = await cli(['post', '-c', w.config, '-b', 'commons', '--from', 'bob', 'in the gap']);
  assert.equal(r.code, 6, `the CLI's exit 6 (try later): ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /later|again/i);
  pg.start();
  // Flowing again: the next posts are taken (the first call after the restart reconnects).
  await until(async () => (await post(`after${acked.length}`)).ok, 'a post taken after the restart', 20_000);
  for (let i = 0; i < 5; i++) assert.ok((await post(`later${i}`)).ok);
  for (let i = 0; i < 2; i++) assert.equal((await mail(`mlater${i}`)).code, 250);
  assert.equal(d.proc.exitCode, null, 'the daemon kept running');
  await until(() => w.delivered('s').length >= acked.length, `${acked.length} deliveries at the sink`, 20_000);
  await sleep(500);
  const ids = w.delivered('s').map((x) => x.id);
  assert.deepEqual([...ids].sort(), [...acked].sort(), 'every acknowledged post once, and nothing else');
});
