/**
 * `archive.addresses: hide` as its users see it: a mail sent to the list by swaks, with the sender's address and
 * another one in the body. No public view — the post's, bridge's and thread's pages, the API without a token, the
 * Atom feed, the live stream, the web's mbox.gz of the bridge (read by Python's mailbox module) and of the thread,
 * the finger plan — shows either address, or even its domain (not obfuscated: gone); the subscriber's copy (aiosmtpd as the smarthost) and the article on the
 * built-in news server (Python's nntplib) keep the real From; the bridge's own token sees the address whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { world, cli, startDaemon, until } from '../helpers/daemon.js';
import { listeningPort, rawQuery } from '../peers/finger.js';
import { startMaildirSink, freePort } from './mail-send-helpers.js';
import { ensureSwaks, swaks, header, messagesTo } from './mail-helpers.js';
import { nntplib } from './nntp-helpers.js';
import { requirePeer } from '../peers/require.js';
import { WebSocket } from 'ws';

const D = 'lists.test.example';
const TOKEN = 'commons-token-0123456789';
const ID = 'hide.1@mua.test';
/** The sender's address, the one in the body, and what obfuscation would have left of their domains. */
const LEAKS = /alice@example\.org|example\.org|carol@secret\.example|secret\.example|ample\.org|cret\.example/;

test('addresses: hide — no public view shows an address or its domain; mail and news keep the real From', async (t) => {
  ensureSwaks();
  requirePeer('python3');
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  const [smtpPort, webPort, newsPort] = [await freePort(), await freePort(), await freePort()];
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${smtpPort}
    smtp: { host: 127.0.0.1, port: ${sink.port}, fromRewrite: never }
  web.t:
    listen: 127.0.0.1:${webPort}
    tokens: [{ name: bot, token: ${TOKEN}, bridges: [commons] }]
  nntp.t: { listen: 127.0.0.1:${newsPort} }
  finger.t: { listen: 127.0.0.1:0, rateLimit: { queries: 0 } }
bridges:
  commons:
    archive: { addresses: hide }
    endpoints:
      - { endpoint: mail.test/commons, policy: open }
      - web.t/commons
      - nntp.t/peerpost.commons
      - finger.t/commons
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const finger = await listeningPort(d.waitForLog, 'finger.t');
  const base = `http://127.0.0.1:${webPort}`;
  const sub = await cli(['subscribers', 'commons', 'add', 'bob@example.net', '-c', w.config]);
  assert.equal(sub.code, 0, sub.stderr);

  // A live page's stream is a public view too.
  const ws = new WebSocket(`ws://127.0.0.1:${webPort}/api/stream?bridge=commons`);
  t.after(() => ws.terminate());
  const heard: string[] = [];
  ws.on('message', (m) => heard.push(m.toString()));
  await new Promise((res, rej) => {
    ws.once('open', res);
    ws.once('error', rej);
  });

  const s = await swaks(smtpPort, [
    '--from',
    'alice@example.org',
    '--to',
    `commons@${D}`,
    '--header',
    'From: Alice Example <alice@example.org>',
    '--header',
    'Subject: Seed swap',
    '--header',
    `Message-Id: <${ID}>`,
    '--body',
    'Bring seeds on Sunday; questions to carol@secret.example please.',
  ]);
  assert.ok(
    s.replies.some((x) => /^250 .*posted/.test(x)),
    s.out,
  );

  // The subscriber's copy is the message itself: the real From.
  const copy = await until(
    () => messagesTo(sink, 'bob@example.net').find((m) => header(m, 'Message-ID')[0] === `<${ID}>`),
    "bob's copy",
    15_000,
  );
  assert.match(header(copy, 'From')[0] ?? '', /alice@example\.org/, "the subscriber's mail keeps the real From");
  assert.match(copy, /carol@secret\.example/, 'and the body as written');

  // So is the news article.
  const art = await until(async () => {
    const r = (await nntplib(newsPort, [['article', `<${ID}>`]]))[0]!;
    return r.ok ? (r.value.lines as string[]) : undefined;
  }, 'the news article');
  assert.ok(
    art.some((l) => /^From: .*alice@example\.org/.test(l)),
    art.join('\n'),
  );
  assert.ok(art.some((l) => l.includes('carol@secret.example')));

  // The public views: not a trace of either address, nor of its domain.
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const r = await fetch(`${base}${path}`, { headers });
    assert.equal(r.status, 200, path);
    return r;
  };
  const post = await (await get(`/p/${encodeURIComponent(ID)}`)).text();
  assert.match(post, /Alice Example/, 'the name is shown');
  assert.match(post, /Bring seeds on Sunday/);
  for (const path of [`/p/${encodeURIComponent(ID)}`, '/b/commons', `/t/${encodeURIComponent(ID)}`, '/b/commons/atom'])
    assert.doesNotMatch(await (await get(path)).text(), LEAKS, path);
  const atom = await (await get('/b/commons/atom')).text();
  assert.doesNotMatch(atom, /<email>/, 'the feed names no email');
  const anon = await (await get(`/api/posts/${encodeURIComponent(ID)}`)).text();
  assert.doesNotMatch(anon, LEAKS, 'the API without a token');
  assert.doesNotMatch(await (await get('/api/bridges/commons/posts')).text(), LEAKS);
  const apiPost = JSON.parse(anon) as { author: { name: string; address?: string } };
  assert.equal(apiPost.author.address, undefined, 'the API gives no address');
  assert.equal(apiPost.author.name, 'Alice Example');
  const searched = await (await get('/api/search?q=seeds')).text();
  assert.match(searched, /Seed swap/);
  assert.doesNotMatch(searched, LEAKS, 'nor a search result');

  // The web's mbox, as a mail reader opens it.
  const live = await until(() => heard.find((m) => m.includes('Seed swap')), 'the post on the live stream');
  assert.doesNotMatch(live, LEAKS, 'the live stream');
  assert.doesNotMatch(
    gunzipSync(Buffer.from(await (await get(`/t/${encodeURIComponent(ID)}.mbox.gz`)).arrayBuffer())).toString(),
    LEAKS,
    "the thread's mbox.gz",
  );
  const gz = Buffer.from(await (await get('/b/commons.mbox.gz')).arrayBuffer());
  const mbox = join(w.dir, 'web.mbox');
  writeFileSync(mbox, gunzipSync(gz));
  const read = JSON.parse(
    execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        'import mailbox, json, sys\nprint(json.dumps([{"from": m["From"], "body": m.get_payload(decode=True).decode()} for m in mailbox.mbox(sys.argv[1])]))',
        mbox,
      ],
      { encoding: 'utf8' },
    ),
  ) as { from: string; body: string }[];
  assert.equal(read.length, 1);
  assert.match(read[0]!.from, /Alice Example/);
  assert.doesNotMatch(read[0]!.from, LEAKS, 'the From of the web mbox');
  assert.doesNotMatch(read[0]!.body, LEAKS);
  assert.match(read[0]!.body, /questions to carol@… please/, 'an address in the text: the local part only');
  assert.doesNotMatch(gunzipSync(gz).toString('utf8'), LEAKS);

  // Finger, plain and verbose.
  const plan = (await rawQuery(finger, 'commons\r\n')) + (await rawQuery(finger, '/W commons\r\n'));
  assert.match(plan, /Bring seeds on Sunday/);
  assert.doesNotMatch(plan, LEAKS, 'the finger plan');

  // The bridge's own token sees the address whole.
  const owner = await (await get(`/api/posts/${encodeURIComponent(ID)}`, { authorization: `Bearer ${TOKEN}` })).text();
  assert.match(owner, /alice@example\.org/);
});
