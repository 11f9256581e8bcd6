/**
 * The mail plugin's receiver under its limits, with TLS, and the one-click
 * unsubscribe link served through a web stand-in (test/integration/mail-web-stub.ts):
 * real clients (swaks, Python's smtplib, raw sockets) and aiosmtpd as the smarthost.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { world, cli, startDaemon, until, type World, type Running } from '../helpers/daemon.js';
import { ensureOpenssl } from './irc-helpers.js';
import { startMaildirSink, freePort, type MaildirSink } from './mail-send-helpers.js';
import { ensureSwaks, swaks, pySend, rfc822, header } from './mail-helpers.js';

const STUB = fileURLToPath(new URL('./mail-web-stub.js', import.meta.url));
const D = 'lists.test.example';
const T = 'tight.test.example';

let sink: MaildirSink;
let w: World;
let daemon: Running;
let port: number;
let tightPort: number;
let webPort: number;
let freeP: number;

/** Read the greeting of a raw connection. */
function greet(p: number): Promise<{ sock: Socket; line: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(p, '127.0.0.1');
    sock.once('error', reject);
    sock.once('data', (d: Buffer) => resolve({ sock, line: d.toString('utf8').trim() }));
  });
}

describe('limits, STARTTLS and one-click unsubscribe', () => {
  before(async () => {
    ensureSwaks();
    ensureOpenssl();
    sink = await startMaildirSink();
    [port, tightPort, webPort, freeP] = [await freePort(), await freePort(), await freePort(), await freePort()];
    w = world();
    const cert = join(w.dir, 'cert.pem');
    const key = join(w.dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        `/CN=${D}`,
      ],
      { stdio: 'ignore' },
    );
    writeFileSync(
      w.config,
      `plugins:
  webstub: ${STUB}
node:
  hostname: test.example
  data: ${w.data}
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${port}
    tls: { cert: ${cert}, key: ${key} }
    limits: { messages: 1000 }
    smtp: { host: 127.0.0.1, port: ${sink.port}, fromRewrite: never }
  mail.tight:
    domain: ${T}
    listen: 127.0.0.1:${tightPort}
    limits: { perClient: 2, messages: 3, per: 1m }
    smtp: { host: 127.0.0.1, port: ${sink.port} }
  mail.free:
    domain: free.test.example
    listen: 127.0.0.1:${freeP}
    limits: { perClient: 1, messages: 1, per: 1m, exempt: [127.0.0.1] }
    smtp: { host: 127.0.0.1, port: ${sink.port} }
  webstub.w: { listen: 127.0.0.1:${webPort} }
bridges:
  commons:
    endpoints:
      - { endpoint: mail.test/commons, policy: open }
      - { endpoint: webstub.w/commons, direction: out }
  tight:
    endpoints: [mail.tight/tight]
  free:
    endpoints: [mail.free/free]
`,
    );
    daemon = await startDaemon(w.config);
  });
  after(async () => {
    await daemon?.stop();
    await sink?.stop();
    w?.cleanup();
  });

  test('STARTTLS is offered with a certificate, and a post over TLS is taken', async () => {
    const r = await swaks(port, [
      '--tls',
      '--from',
      'alice@example.org',
      '--to',
      `commons@${D}`,
      '--header',
      'Subject: over tls',
      '--body',
      'secret hello',
    ]);
    assert.ok(
      r.replies.some((x) => /^220 /.test(x) && /TLS/i.test(x)),
      r.out,
    );
    assert.match(r.out, /TLS started/);
    assert.ok(
      r.replies.some((x) => /^250 .*posted to commons/.test(x)),
      r.out,
    );
    const py = await pySend(port, 'x@example.org', [`commons-request@${D}`], rfc822(['From: x@example.org'], 'help'));
    assert.ok(py.features.includes('starttls'));
  });

  test('per-client limits: a third connection gets 421, a fourth message in the window 451; the first two stay served', async () => {
    const a = await greet(tightPort);
    const b = await greet(tightPort);
    assert.match(a.line, /^220 /);
    assert.match(b.line, /^220 /);
    const c = await greet(tightPort);
    assert.match(c.line, /^421 .*too many connections from 127\.0\.0\.1/);
    for (const x of [a, b, c]) x.sock.destroy();
    await until(() => true, 'sockets closed');
    await new Promise((r) => setTimeout(r, 200));
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await pySend(
        tightPort,
        `p${i}@example.org`,
        [`tight-request@${T}`],
        rfc822([`From: p${i}@example.org`, 'Subject: help'], ''),
      );
      codes.push(r.code);
      if (i === 3) assert.match(r.message, /too many messages from 127\.0\.0\.1/);
    }
    assert.deepEqual(codes, [250, 250, 250, 451]);
  });

  test('an exempt client address (the local MTA) is not limited', async () => {
    const socks = await Promise.all([greet(freeP), greet(freeP), greet(freeP)]);
    for (const x of socks) assert.match(x.line, /^220 /);
    for (const x of socks) x.sock.destroy();
    for (let i = 0; i < 3; i++) {
      const r = await pySend(
        freeP,
        `q${i}@example.org`,
        [`free-request@free.test.example`],
        rfc822([`From: q${i}@example.org`, 'Subject: help'], ''),
      );
      assert.equal(r.code, 250, JSON.stringify(r));
    }
  });

  test('SIGHUP: subscription and bounce settings apply in place; a listener setting restarts the account', async () => {
    const text = readFileSync(w.config, 'utf8');
    writeFileSync(
      w.config,
      text.replace(
        'limits: { perClient: 2, messages: 3, per: 1m }',
        'limits: { perClient: 2, messages: 3, per: 1m }\n    subscription: { window: 2h }',
      ),
    );
    daemon.proc.kill('SIGHUP');
    await daemon.waitForLog(/account mail\.tight: settings applied/);
    writeFileSync(
      w.config,
      readFileSync(w.config, 'utf8').replace(
        'subscription: { window: 2h }',
        'subscription: { window: 2h }\n    maxSize: 50000',
      ),
    );
    daemon.proc.kill('SIGHUP');
    await daemon.waitForLog(/account mail\.tight: restarted/);
    const r = await pySend(
      tightPort,
      'z@example.org',
      [`tight-request@${T}`],
      rfc822(['From: z@example.org', 'Subject: help'], ''),
    );
    assert.ok(r.features.includes('size'));
    assert.equal(r.code, 250, 'the restarted account serves again (its rate window starts anew)');
  });

  test('one-click unsubscribe: the link in every list mail works through the web plugin, once, and only as signed', async () => {
    for (const a of ['alice@example.org', 'bob@example.net'])
      assert.equal((await cli(['subscribers', 'commons', 'add', a, '-c', w.config])).code, 0);
    const s = await swaks(port, [
      '--from',
      'alice@example.org',
      '--to',
      `commons@${D}`,
      '--header',
      'Subject: with links',
      '--header',
      'Message-Id: <links.1@example.org>',
      '--body',
      'hello',
    ]);
    assert.ok(
      s.replies.some((x) => /^250 .*posted/.test(x)),
      s.out,
    );
    const m = await until(
      () =>
        sink
          .messages()
          .find(
            (x) =>
              header(x, 'X-RcptTo')[0] === 'bob@example.net' && header(x, 'Message-ID')[0] === '<links.1@example.org>',
          ),
      'the post to bob',
    );
    const lu = header(m, 'List-Unsubscribe')[0]!;
    const url = /<https:\/\/web\.test\.example\/unsubscribe\/([^>]+)>/.exec(lu);
    assert.ok(url, lu);
    assert.deepEqual(header(m, 'List-Unsubscribe-Post'), ['List-Unsubscribe=One-Click']);
    assert.deepEqual(header(m, 'Archived-At'), ['<https://web.test.example/p/links.1%40example.org>']);
    const token = url[1]!;
    const web = (method: string, t: string) =>
      fetch(`http://127.0.0.1:${webPort}/unsubscribe/${encodeURIComponent(t)}`, {
        method,
        ...(method === 'POST'
          ? { body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } }
          : {}),
      }).then((r) => r.json() as Promise<Record<string, unknown>>);

    const info = await web('GET', token);
    assert.deepEqual(info, {
      ok: true,
      account: 'mail.test',
      list: 'commons',
      address: 'bob@example.net',
      listAddress: `commons@${D}`,
      description: '',
      subscribed: true,
    });
    const forged = `${token.slice(0, -4)}AAAA`;
    const bad = await web('POST', forged);
    assert.equal(bad.ok, false);
    assert.match(String(bad.reason), /not valid/);
    assert.ok(
      (await cli(['subscribers', 'commons', '-c', w.config])).stdout.includes('bob@example.net'),
      'a forged token changes nothing',
    );

    assert.deepEqual(await web('POST', token), {
      ok: true,
      list: 'commons',
      address: 'bob@example.net',
      listAddress: `commons@${D}`,
      unsubscribed: true,
    });
    const after = (await cli(['subscribers', 'commons', '-c', w.config])).stdout;
    assert.ok(!after.includes('bob@example.net'), after);
    assert.ok(after.includes('alice@example.org'));
    assert.equal((await web('POST', token)).unsubscribed, false, 'a second click is harmless');
  });

  test('the unsubscribe service moves to the remaining mail account when its provider stops (SIGHUP removes two)', async () => {
    assert.equal((await cli(['subscribers', 'free', 'add', 'fay@example.org', '-c', w.config])).code, 0);
    const s = await pySend(
      freeP,
      'fay@example.org',
      ['free@free.test.example'],
      rfc822(['From: fay@example.org', 'Subject: free post', 'Message-ID: <free.1@example.org>'], 'hi'),
    );
    assert.equal(s.code, 250, JSON.stringify(s));
    const m = await until(
      () =>
        sink
          .messages()
          .find(
            (x) =>
              header(x, 'X-RcptTo')[0] === 'fay@example.org' && header(x, 'Message-ID')[0] === '<free.1@example.org>',
          ),
      'the post to fay',
    );
    const token = /<https:\/\/web\.test\.example\/unsubscribe\/([^>]+)>/.exec(header(m, 'List-Unsubscribe')[0]!)![1]!;
    const info = () =>
      fetch(`http://127.0.0.1:${webPort}/unsubscribe/${encodeURIComponent(token)}`).then(
        (r) => r.json() as Promise<Record<string, unknown>>,
      );
    assert.equal((await info()).address, 'fay@example.org');

    const text = readFileSync(w.config, 'utf8');
    const cut = (t: string, from: string, to: string) => t.slice(0, t.indexOf(from)) + t.slice(t.indexOf(to));
    let next = cut(text, '  mail.test:', '  mail.free:');
    next = next
      .replace(/ {6}- \{ endpoint: mail\.test\/commons, policy: open \}\n/, '')
      .replace(/ {2}tight:\n {4}endpoints: \[mail\.tight\/tight\]\n/, '');
    writeFileSync(w.config, next);
    const provider = daemon.logs.find((l) => /answers mail\.unsubscribe/.test(l));
    assert.match(
      provider ?? '',
      /mail\.(test|tight) answers/,
      'one of the accounts to be removed provides the service now',
    );
    const mark = daemon.logs.length;
    daemon.proc.kill('SIGHUP');
    await daemon.waitForLog(
      /account mail\.test: stopped.*account mail\.tight: stopped|account mail\.tight: stopped.*account mail\.test: stopped/,
    );
    await until(
      () => daemon.logs.slice(mark).some((l) => /mail\.free answers mail\.unsubscribe/.test(l)),
      'mail.free taking the service over',
    );
    assert.deepEqual(await info(), {
      ok: true,
      account: 'mail.free',
      list: 'free',
      address: 'fay@example.org',
      listAddress: 'free@free.test.example',
      description: '',
      subscribed: true,
    });
  });
});
