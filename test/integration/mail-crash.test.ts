/**
 * Nothing lost across a crash: a post taken by mail (250) while the smarthost
 * is down, then `kill -9` of the daemon; at the next start, with the smarthost
 * (Postfix's smtp-sink, test/peers/smtp-sink.sh) up, the list's subscribers get
 * it, and the bridge's other endpoint too — once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { world, startDaemon, cli, until, sleep } from '../helpers/daemon.js';
import { ensureSmtpSink, freePort, SMTP_SINK_SH } from './mail-send-helpers.js';
import { ensureSwaks, swaks } from './mail-helpers.js';

const D = 'lists.test.example';

test('kill -9 after the 250, smarthost down: at the next start every subscriber gets the post, once', async (t) => {
  ensureSwaks();
  ensureSmtpSink();
  const [port, smart] = [await freePort(), await freePort()];
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${port}
    smtp: { host: 127.0.0.1, port: ${smart}, fromRewrite: never }
  sinkart.a: { file: ${w.sink('a')} }
bridges:
  commons:
    endpoints:
      - { endpoint: mail.test/commons, policy: open }
      - sinkart.a/x
`);
  const first = await startDaemon(w.config);
  t.after(() => first.stop('SIGKILL'));
  for (const a of ['ann@example.org', 'ben@example.net'])
    assert.equal((await cli(['subscribers', 'commons', 'add', a, '-c', w.config])).code, 0);
  const r = await swaks(port, [
    '--from',
    'cat@example.com',
    '--to',
    `commons@${D}`,
    '--header',
    'Subject: before the crash',
    '--header',
    'Message-Id: <crash.1@example.com>',
    '--body',
    'kept through kill -9',
  ]);
  assert.ok(
    r.replies.some((x) => /^250 .*posted to commons/.test(x)),
    r.out,
  );
  // The outbox row for the list's own subscribers (the plugin echoes) waits for the smarthost.
  await first.waitForLog(
    /"post":"crash\.1@example\.com".*delivery to mail\.test\/commons will be retried|delivery to mail\.test\/commons will be retried.*crash\.1@example\.com/,
    20_000,
  );
  assert.equal(await first.stop('SIGKILL'), -1);

  const dir = mkdtempSync('/tmp/pp-smtpsink-');
  chmodSync(dir, 0o755);
  const pid = Number(
    execFileSync('bash', [SMTP_SINK_SH, 'start', String(smart), dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'], // a failure's message carries the script's stderr
    })
      .trim()
      .split('\n')
      .pop(),
  );
  t.after(() => execFileSync('bash', [SMTP_SINK_SH, 'stop', String(pid)]));
  const second = await startDaemon(w.config);
  t.after(() => second.stop());

  const mails = () =>
    readdirSync(join(dir, 'mail'))
      .map((f) => readFileSync(join(dir, 'mail', f), 'latin1'))
      .filter((m) => /crash\.1@example\.com/.test(m));
  const rcpts = () =>
    mails()
      .flatMap((m) => [...m.matchAll(/^X-Rcpt-Args: <([^>]+)>/gm)].map((x) => x[1]!))
      .sort();
  await until(() => rcpts().length >= 2, 'the post at both subscribers', 20_000);
  assert.match(mails().join(''), /kept through kill -9/);
  await until(() => w.delivered('a').find((d) => d.id === 'crash.1@example.com'), 'the post on the other endpoint');
  await sleep(1000);
  assert.deepEqual(rcpts(), ['ann@example.org', 'ben@example.net'], 'each subscriber once, nobody else');
  assert.equal(w.delivered('a').filter((d) => d.id === 'crash.1@example.com').length, 1);
});
