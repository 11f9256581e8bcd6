/**
 * End to end: the data directory on a small tmpfs, filled up. peerpost turns
 * new posts away with temporary errors rather than accepting what it cannot
 * keep (NNTP IHAVE from a feeding peer: 436; NNTP POST: 403 — RFC 3977 has no
 * "try later" code for POST; SMTP to the list: 451, sent with Python's smtplib;
 * `peerpost post`: exit 6 with the reason; an IRC line: held and retried, then
 * logged as not kept), stays up, and takes posts again once
 * space is freed. Everything it acknowledged before is kept, across a kill -9.
 *
 * Mounting a tmpfs needs root (as here and on CI); not root is a failure that
 * says the command that runs this test as root, never a skip.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  ensurePeers,
  eventually,
  IrcNetwork,
  IrcPlace,
  NewsPlace,
  Node,
  nntplib,
  articleText,
  sleep,
  token,
  tokenCounts,
} from '../helpers/e2e.js';
import { MailPlace } from '../helpers/e2e-places.js';
import { requireRoot } from '../peers/require.js';

const P = 'K5';
const SIZE = '6m';
let mnt: string | undefined;
let mounted = false;
let net: IrcNetwork;
let irc: IrcPlace;
let news: NewsPlace;
let mail: MailPlace;
let node: Node;

before(async () => {
  requireRoot(
    'the disk-full test puts the data dir on a small tmpfs it mounts (mount -t tmpfs), which only root can',
    'as root it also installs the peers that are missing',
  );
  ensurePeers();
  mnt = mkdtempSync('/tmp/pp-e2e-disk-');
  chmodSync(mnt, 0o755);
  const cmd = ['mount', '-t', 'tmpfs', '-o', `size=${SIZE},mode=0755`, 'tmpfs', mnt];
  execFileSync(cmd[0]!, cmd.slice(1));
  mounted = true;
  net = await IrcNetwork.start('full');
  irc = await new IrcPlace('irc', net, 'irc.a', '#full', 'relay_full', 'alice').connect();
  news = await NewsPlace.make('news', 'nntp.local', 'peerpost.full');
  mail = await MailPlace.make('mail', 'mail.lists', 'full', 'lists.e2e.example', ['ann@sub.example']);
  node = new Node(
    { hostname: 'full.e2e.example', bridge: 'full', places: [irc, news, mail], quiet: '1s' },
    join(mnt, 'data'),
  );
  await node.start();
  await mail.subscribe(node);
  await irc.relayJoined();
});

after(async () => {
  irc?.close();
  await node?.stop();
  net?.cleanup();
  await mail?.cleanup();
  node?.cleanup();
  if (mounted) execFileSync('umount', ['-l', mnt!]);
  if (mnt) rmSync(mnt, { recursive: true, force: true });
});

/** Fill the file system with one file until it is full; returns its path. */
function fill(dir: string): string {
  const f = join(dir, 'filler');
  const fd = openSync(f, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  // The last bytes, too.
  const fd2 = openSync(f, 'a');
  try {
    for (;;) writeSync(fd2, Buffer.alloc(512));
  } catch {
    /* full */
  } finally {
    closeSync(fd2);
  }
  return f;
}

test(`a full disk (${SIZE} tmpfs): posts refused with temporary errors, nothing acknowledged is lost, accepted again when space is freed`, async () => {
  // Before: a post goes through.
  await news.say({
    from: 'carol',
    subject: 'before',
    id: 'k5-before@reader.example',
    text: `${token(P, 'n', 0)} before the disk filled`,
  });
  await eventually(
    async () => (tokenCounts(irc.lines(), P).has(token(P, 'n', 0)) ? true : 'not yet'),
    'the first article on IRC',
  );

  const filler = fill(mnt!);
  assert.ok(statfsSync(mnt!).bavail * statfsSync(mnt!).bsize < 64 * 1024, 'the disk is full');
  const fullAt = Date.now();
  // IRC: a line said now cannot be kept; IRC cannot be asked to resend it, so peerpost holds it and tries again
  // for a while (30 tries a second apart), then logs it as not kept.
  await irc.say({ text: `${token(P, 'a', 1)} said as the disk filled` });

  // News: post big articles until the server says no; every 240 is a promise, every refusal must be 403 (temporary).
  const acked: string[] = [];
  let refusal: { code?: string; error?: string } | undefined;
  const big = 'x'.repeat(70) + '\n';
  for (let i = 1; i <= 60 && !refusal; i++) {
    const id = `k5-${i}@reader.example`;
    const [r] = await nntplib(news.port, [
      [
        'post',
        articleText(
          { from: 'carol', subject: `big ${i}`, id, text: `${token(P, 'n', i)}\n${big.repeat(2000)}` },
          news.target,
        ),
      ],
    ]);
    if (r!.ok) acked.push(id);
    else refusal = r;
  }
  assert.ok(refusal, `the server refused an article once the disk was full (acknowledged ${acked.length})`);
  assert.equal(refusal.code, '403', `a temporary refusal: ${refusal.error}`);
  assert.match(refusal.error!, /^403 .*full.*try again later/i);
  console.log(`# disk full: ${acked.length} big articles acknowledged after the filler, then: ${refusal.error}`);

  // The command line: refused, with the reason and the "refused" exit code.
  const cli = await node.post(`${token(P, 'p', 1)} while full`);
  assert.equal(cli.code, 6, `peerpost post is refused: ${cli.stdout}${cli.stderr}`);
  assert.match(cli.stderr, /the post was refused for now, nothing was stored: .*full/);
  // Mail to the list: 451, a temporary error (the sending MTA keeps the mail and tries again).
  const mailed = {
    from: 'mallory',
    subject: 'while full',
    id: 'k5-mail@mail.example',
    text: `${token(P, 'm', 1)} mailed while the disk is full`,
  };
  const m451 = await mail.send(mailed);
  assert.equal(m451.code, 451, `SMTP to the list while the disk is full: ${m451.code} ${m451.message}`);
  assert.match(m451.message, /try again later/i, m451.message);
  console.log(`# disk full: the list answered ${m451.code} ${m451.message}`);
  // Still up: status answers, and says so.
  const st = await node.status();
  assert.equal(st.running, true);
  // Another article: still refused, still temporary.
  const again = await nntplib(news.port, [
    [
      'post',
      articleText(
        { from: 'carol', subject: 'small', id: 'k5-small@reader.example', text: `${token(P, 'n', 99)} small` },
        news.target,
      ),
    ],
  ]);
  assert.equal(again[0]!.code, '403', JSON.stringify(again));
  // A feeding peer offering an article by IHAVE: 436, "try again later" (RFC 3977's code for a transfer).
  const fedArticle = articleText(
    { from: 'fay', subject: 'fed', id: 'k5-fed@feed.example', text: `${token(P, 'n', 101)} fed by IHAVE` },
    news.target,
  );
  const fed = await nntplib(news.port, [['ihave', '<k5-fed@feed.example>', fedArticle]]);
  assert.equal(fed[0]!.code, '436', JSON.stringify(fed));
  assert.match(fed[0]!.error!, /^436 .*try again later/i);
  console.log(`# disk full: IHAVE answered ${fed[0]!.error}`);

  // The line said as the disk filled is given up, and the log says so, with its text.
  const gaveUp = await node.running!.waitForLog(
    new RegExp(`a line from alice could not be stored.*|${token(P, 'a', 1)}.*could not be stored`),
    45_000,
  );
  assert.match(gaveUp, new RegExp(token(P, 'a', 1)), gaveUp);
  assert.match(gaveUp, /full/, gaveUp);
  console.log(`# the IRC line was given up ${Date.now() - fullAt} ms after the disk filled: ${JSON.parse(gaveUp).msg}`);
  // A line said now is held; space comes back within its retries, and it gets in.
  await irc.say({ text: `${token(P, 'a', 2)} said while the disk is still full` });
  await sleep(3000);

  // Space again: the held IRC line gets in, posts are accepted again.
  rmSync(filler);
  await eventually(
    async () => ((await news.articles()).some((a) => a.text.includes(token(P, 'a', 2))) ? true : 'not yet'),
    'the IRC line held during the full disk, in the group',
    30_000,
    500,
  );
  const p2 = await node.post(`${token(P, 'p', 2)} after space came back`);
  assert.equal(p2.code, 0, p2.stderr);
  await news.say({
    from: 'carol',
    subject: 'after',
    id: 'k5-after@reader.example',
    text: `${token(P, 'n', 100)} after space came back`,
  });
  // The mail, sent again as its MTA would: taken now.
  await mail.say(mailed);
  // Resending the refused article now works (a real newsreader keeps it and lets the user retry).
  await news.say({
    from: 'carol',
    subject: 'small',
    id: 'k5-small@reader.example',
    text: `${token(P, 'n', 99)} small`,
  });
  // The feeding peer offers its article again, as it would: transferred now.
  const fedAgain = await nntplib(news.port, [['ihave', '<k5-fed@feed.example>', fedArticle]]);
  assert.match(String(fedAgain[0]!.value), /^235 /, JSON.stringify(fedAgain));
  await eventually(async () => {
    const c = tokenCounts(irc.lines(), P);
    return [token(P, 'p', 2), token(P, 'n', 100), token(P, 'n', 99), token(P, 'n', 101), token(P, 'm', 1)].every(
      (t) => c.get(t) === 1,
    )
      ? true
      : JSON.stringify([...c]);
  }, 'the new posts on IRC');

  // Nothing acknowledged is lost, also across a kill -9; the refused command-line post is nowhere.
  await node.kill();
  await node.start();
  const ids = new Set((await news.articles()).map((a) => a.id));
  for (const id of [
    'k5-before@reader.example',
    ...acked,
    'k5-small@reader.example',
    'k5-after@reader.example',
    'k5-fed@feed.example',
    'k5-mail@mail.example',
  ])
    assert.ok(ids.has(id), `${id} is kept`);
  const all = node.storedPosts().filter((p) => p.kind !== 'digest');
  assert.ok(!all.some((p) => p.body.includes(token(P, 'p', 1))), 'the refused post was not stored');
  assert.ok(!all.some((p) => p.body.includes(token(P, 'a', 1))), 'the IRC line given up was not stored');
  assert.equal(
    all.filter((p) => p.body.includes(token(P, 'a', 2))).length,
    1,
    'the IRC line held until space came back was stored once',
  );
  await eventually(
    async () => ((await node.outbox()).length === 0 ? true : 'outbox not empty'),
    'every acknowledged article delivered',
    30_000,
    500,
  );
  const c = tokenCounts(irc.lines(), P);
  assert.equal(
    (await mail.inbox('ann@sub.example')).filter((m) => m.id === 'k5-mail@mail.example').length,
    1,
    'the subscriber got the mail taken after space came back, once',
  );
  for (let i = 1; i <= acked.length; i++)
    assert.equal(c.get(token(P, 'n', i)), 1, `${token(P, 'n', i)} announced once on IRC`);
});
