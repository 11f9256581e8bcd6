/**
 * The built-in news server with a certificate: STARTTLS on the plain port and
 * implicit TLS on its own port, each checked by Python's nntplib verifying the
 * certificate (made here with openssl); and peering over TLS, with our own
 * client reading the built-in server of a second account as its news server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { world, cli, startDaemon, until } from '../helpers/daemon.js';
import { ensureOpenssl } from './irc-helpers.js';
import { nntplib, type OpResult } from './nntp-helpers.js';

const ok = (r: OpResult) => {
  assert.ok(r.ok, `nntplib: ${r.error}`);
  return r.value;
};

let certDir = '';
after(() => rmSync(certDir, { recursive: true, force: true }));
before(() => {
  ensureOpenssl();
  execFileSync('python3', ['-W', 'ignore', '-c', 'import nntplib'], { stdio: 'pipe' });
  certDir = mkdtempSync(join(tmpdir(), 'pp-nntp-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '2',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
});

test('STARTTLS and implicit TLS on the built-in server; a peering account reads and posts over TLS', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const cert = join(certDir, 'cert.pem');
  w.writeConfig(`
accounts:
  nntp.t: { listen: 127.0.0.1:0, tls: { cert: ${cert}, key: ${join(certDir, 'key.pem')}, listen: 127.0.0.1:0 } }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    endpoints: [nntp.t/peerpost.commons, sink.s/out]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const line = await d.waitForLog(/nntp\.t is listening: 127\.0\.0\.1:\d+ \(STARTTLS\), TLS on 127\.0\.0\.1:\d+/);
  const [, plain, tls] = /127\.0\.0\.1:(\d+) \(STARTTLS\), TLS on 127\.0\.0\.1:(\d+)/.exec(line)!.map(Number);

  const art = (id: string) =>
    `From: a@example.org\r\nNewsgroups: peerpost.commons\r\nSubject: over TLS\r\nMessage-ID: <${id}@client.example>\r\n\r\nsecret\r\n`;
  const s = await nntplib(plain!, [
    ['caps'],
    ['starttls', cert],
    ['caps'],
    ['post', art('starttls')],
    ['raw', 'STARTTLS'],
  ]);
  assert.ok('STARTTLS' in ok(s[0]!), 'offered on the plain port');
  assert.match(ok(s[1]!), /^TLSv1\.[23]$/, 'the handshake verified the certificate');
  assert.ok(!('STARTTLS' in ok(s[2]!)), 'not offered again once encrypted');
  assert.match(ok(s[3]!), /^240 /);
  assert.equal(s[4]!.code, '502');

  const i = await nntplib(
    tls!,
    [['welcome'], ['tlsversion'], ['caps'], ['post', art('implicit')], ['group', 'peerpost.commons']],
    `ssl:${cert}`,
  );
  assert.match(ok(i[0]!), /^200 /);
  assert.match(ok(i[1]!), /^TLSv1\.[23]$/);
  assert.ok(!('STARTTLS' in ok(i[2]!)));
  assert.match(ok(i[3]!), /^240 /);
  assert.equal(ok(i[4]!)[1], 2);
  await until(
    () => w.delivered('s').filter((x) => /^(starttls|implicit)@client/.test(x.id)).length === 2 || undefined,
    'both posts in the bridge',
  );

  // Garbage instead of a handshake on the TLS port: that client is dropped, the server goes on.
  const again = await nntplib(tls!, [['group', 'peerpost.commons']], `ssl:${cert}`);
  assert.equal(ok(again[0]!)[1], 2);
});

test('peering over TLS and STARTTLS, certificate checked against tlsCa', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const cert = join(certDir, 'cert.pem');
  // One daemon serves news with a certificate; a second one peers with it, once by implicit TLS and once by STARTTLS.
  w.writeConfig(`
accounts:
  nntp.t: { listen: 127.0.0.1:0, tls: { cert: ${cert}, key: ${join(certDir, 'key.pem')}, listen: 127.0.0.1:0 } }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    endpoints: [nntp.t/peerpost.commons, sink.s/out]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const line = await d.waitForLog(/nntp\.t is listening: 127\.0\.0\.1:\d+ \(STARTTLS\), TLS on 127\.0\.0\.1:\d+/);
  const [, plain, tls] = /127\.0\.0\.1:(\d+) \(STARTTLS\), TLS on 127\.0\.0\.1:(\d+)/.exec(line)!.map(Number);

  const w2 = world();
  t.after(() => w2.cleanup());
  w2.writeConfig(`
accounts:
  nntp.tls: { server: "127.0.0.1:${tls}", tls: true, tlsCa: ${cert}, pollInterval: 200ms }
  nntp.st: { server: "127.0.0.1:${plain}", tls: starttls, tlsCa: ${cert}, pollInterval: 200ms }
  sink.r: { file: ${w2.sink('r')} }
bridges:
  a:
    endpoints: [{ endpoint: nntp.tls/peerpost.commons, direction: out }, sink.r/a]
  b:
    endpoints: [{ endpoint: nntp.st/peerpost.commons, direction: in }, sink.r/b]
`);
  // A node of its own name (the first daemon refuses articles whose Path holds its own).
  writeFileSync(
    w2.config,
    readFileSync(w2.config, 'utf8').replace('hostname: test.example', 'hostname: second.example'),
  );
  const d2 = await startDaemon(w2.config);
  t.after(() => d2.stop('SIGKILL'));
  await d2.waitForLog(/connected to 127\.0\.0\.1:\d+ \(reader and poster\)/);
  const r = await cli([
    'post',
    '-c',
    w2.config,
    '-b',
    'a',
    '--from',
    'alice',
    '--subject',
    'via TLS',
    'encrypted all the way',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const got = await until(
    () => w.delivered('s').find((x) => x.subject === 'via TLS'),
    'the post on the first daemon, sent by implicit TLS',
  ).catch((err: Error) => {
    throw new Error(`${err.message}; logs:\n${d2.logs.join('\n')}`);
  });
  // Read over STARTTLS into bridge b: a post made on the first daemon arrives; our own article does not come back.
  const r2 = await cli([
    'post',
    '-c',
    w.config,
    '-b',
    'commons',
    '--from',
    'bob',
    '--subject',
    'from the first node',
    'hello',
  ]);
  assert.equal(r2.code, 0, r2.stderr);
  const first = await until(
    () => w.delivered('s').find((x) => x.subject === 'from the first node'),
    'the post on the first daemon',
  );
  await until(
    () => w2.delivered('r').find((x) => x.endpoint === 'sink.r/b' && x.id === first.id),
    'the article read over STARTTLS',
    15_000,
  );
  assert.equal(
    w2.delivered('r').filter((x) => x.endpoint === 'sink.r/b' && x.id === got.id).length,
    0,
    'our own article is not read back',
  );
});
