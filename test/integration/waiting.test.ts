/**
 * Nothing waits unseen: the real daemon as a child process, as an operator meets it.
 *
 * - Robot mail for a smarthost that does not answer (nothing listens on its port yet): a subscription request
 *   (swaks to LIST-join@) makes a confirmation that waits. `peerpost outbox`, `peerpost status`, the web's /status
 *   (JSON) and /metrics show it; /healthz turns 503 with the reason once it waited longer than delivery.alertAfter.
 *   Then the smarthost comes up on that port (aiosmtpd, test/peers/smtp_maildir.py): the confirmation goes out,
 *   nothing waits, /healthz is 200 again.
 * - Chat lines waiting for their conversation to close (a digest) are shown by `peerpost outbox` as such, with
 *   the time it closes at the latest, and the article endpoint has nothing yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { world, cli, startDaemon, until, sleep } from '../helpers/daemon.js';
import { listeningPort } from '../peers/finger.js';
import { startMaildirSink, freePort, ensureAiosmtpd, type MaildirSink } from './mail-send-helpers.js';
import { ensureSwaks, swaks, header } from './mail-helpers.js';
import { clock } from '../../src/runtime/waiting.js';

const D = 'lists.test.example';

/** Poll an async check until it answers true (or a string saying what is still wrong, shown on timeout). */
async function eventually(check: () => Promise<true | string>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await check();
    if (r === true) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${r}`);
    await sleep(100);
  }
}

test('robot mail waiting for a smarthost that does not answer: shown by outbox, status, /status and /metrics; /healthz 503 past delivery.alertAfter; drained once it answers', async (t) => {
  ensureSwaks();
  ensureAiosmtpd();
  const w = world();
  t.after(() => w.cleanup());
  const smarthost = await freePort(); // nothing listens here until the sink comes up
  const mailPort = await freePort();
  w.writeConfig(`
delivery:
  alertAfter: 3s
accounts:
  mail.lists:
    domain: ${D}
    listen: 127.0.0.1:${mailPort}
    smtp: { host: 127.0.0.1, port: ${smarthost}, retryFirst: 500ms, retryMax: 1s, timeout: 5s }
  web.w:
    listen: 127.0.0.1:0
bridges:
  commons:
    endpoints: [mail.lists/commons, web.w/commons]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const web = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.w')}`;
  const smarthostUp: { sink?: MaildirSink } = {};
  t.after(() => smarthostUp.sink?.stop());

  const join_ = await swaks(mailPort, [
    '--from',
    'alice@example.org',
    '--to',
    `commons-join@${D}`,
    '--header',
    'Subject: subscribe',
    '--body',
    'please',
  ]);
  assert.ok(
    join_.replies.some((r) => /^250 .*confirmation was sent to alice@example.org/.test(r)),
    join_.out,
  );

  // peerpost outbox: its own section, with the count, the age and the last error (after the first try failed).
  let text = '';
  await eventually(async () => {
    const r = await cli(['outbox', '-c', w.config]);
    text = r.stdout;
    return r.code === 0 && /; last error: .*ECONNREFUSED/.test(r.stdout) ? true : `${r.code} ${r.stdout}${r.stderr}`;
  }, 'peerpost outbox to show the confirmation waiting, with its last error');
  assert.match(
    text,
    /^robot mail waiting for the smarthost \(mail\.lists\): 1, oldest [\d.]+m?s, next try (in [\d.]+m?s|now); last error: .*ECONNREFUSED/m,
  );
  assert.doesNotMatch(text, /the outbox is empty/, 'no longer "empty" while mail waits');
  const json = JSON.parse((await cli(['outbox', '-c', w.config, '--json'])).stdout);
  assert.deepEqual(json.rows, []);
  assert.equal(json.waiting.length, 1);
  assert.equal(json.waiting[0].account, 'mail.lists');
  assert.equal(json.waiting[0].count, 1);
  assert.match(json.waiting[0].lastError, /ECONNREFUSED/);

  // peerpost status and the web's /status (JSON) say the same.
  const status = await cli(['status', '-c', w.config]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /robot mail waiting for the smarthost \(mail\.lists\): 1, oldest/);
  const st = (await (await fetch(`${web}/status`, { headers: { accept: 'application/json' } })).json()) as {
    waiting: { account: string; count: number; oldest: number }[];
  };
  assert.deepEqual(
    st.waiting.map((x) => [x.account, x.count]),
    [['mail.lists', 1]],
  );
  const page = await (await fetch(`${web}/status`)).text();
  assert.match(page, /<td>mail\.lists<\/td><td>robot mail waiting for the smarthost<\/td><td>1 /);

  // /metrics: the depth and the age.
  const metrics = await (await fetch(`${web}/metrics`)).text();
  assert.match(metrics, /^peerpost_robot_mail_waiting\{account="mail\.lists"\} 1$/m);
  const age = Number(/^peerpost_robot_mail_oldest_seconds\{account="mail\.lists"\} ([\d.]+)$/m.exec(metrics)?.[1]);
  assert.ok(age > 0, metrics);

  // Past delivery.alertAfter (3s): /healthz says why it is unhealthy, and so does peerpost status.
  let health = '';
  await eventually(async () => {
    const r = await fetch(`${web}/healthz`);
    health = await r.text();
    return r.status === 503 ? true : `${r.status} ${health}`;
  }, '/healthz to turn 503');
  assert.match(
    health,
    /^waiting too long \(unhealthy\): mail\.lists: robot mail waiting for the smarthost: 1, the oldest for [\d.]+s, longer than delivery\.alertAfter \(3s\)$/m,
  );
  assert.match(health, /^mail\.lists: listening/m, 'the accounts themselves are fine');
  const late = await cli(['status', '-c', w.config]);
  assert.match(
    late.stdout,
    /waiting too long \(delivery\.alertAfter 3s; \/healthz says unhealthy\):\n {2}mail\.lists: robot mail/,
  );

  // The smarthost comes up where peerpost looks for it: the confirmation goes out, and everything is well again.
  const sink = (smarthostUp.sink = await startMaildirSink({ port: smarthost }));
  await until(
    () =>
      sink
        .messages()
        .find((m) => header(m, 'X-RcptTo')[0] === 'alice@example.org' && /^Subject: confirm [0-9a-f]{24}/m.test(m)),
    'the confirmation to reach the smarthost',
    20_000,
  );
  await eventually(async () => {
    const r = await fetch(`${web}/healthz`);
    const body = await r.text();
    return r.status === 200 ? true : `${r.status} ${body}`;
  }, '/healthz to be 200 again');
  const after = await cli(['outbox', '-c', w.config]);
  assert.match(after.stdout, /the outbox is empty: every post reached every endpoint/);
  assert.doesNotMatch(after.stdout, /robot mail/);
  assert.match(
    await (await fetch(`${web}/metrics`)).text(),
    /^peerpost_robot_mail_waiting\{account="mail\.lists"\} 0$/m,
  );
  assert.equal(sink.transactions().length, 1, 'sent once');
});

test('chat lines waiting for their conversation to close are shown by peerpost outbox, with when it closes at the latest', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const spool = join(w.dir, 'spool');
  w.writeConfig(`
accounts:
  sink.chat: { file: ${w.sink('chat')}, spool: ${spool} }
  sinkart.news: { file: ${w.sink('news')} }
bridges:
  commons:
    endpoints: [sink.chat/#commons, sinkart.news/group]
    digest: { quiet: 10m, maxAge: 2h }
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  mkdirSync(spool, { recursive: true });
  for (const [i, body] of ['the meeting moved', 'to Friday'].entries()) {
    writeFileSync(
      join(spool, `l${i}.tmp`),
      JSON.stringify({ target: '#commons', author: { name: 'alice', via: 'irc' }, body }),
    );
    renameSync(join(spool, `l${i}.tmp`), join(spool, `l${i}.json`));
  }
  const posted = await cli(['post', '-c', w.config, '-b', 'commons', '--from', 'bob', 'see you there']);
  assert.equal(posted.code, 0, posted.stderr);

  let json: any;
  await eventually(async () => {
    const r = await cli(['outbox', '-c', w.config, '--json']);
    json = JSON.parse(r.stdout);
    return json.conversations[0]?.lines === 3 ? true : r.stdout;
  }, 'three lines in the open conversation');
  const c = json.conversations[0];
  assert.equal(c.bridge, 'commons');
  assert.deepEqual(c.places.sort(), ['#commons', 'peerpost post']);
  assert.equal(c.closesBy, c.last + 600_000, 'ten minutes (digest.quiet) after the last line');
  assert.deepEqual(json.rows, [], 'no outbox row: the lines reach the group only when the conversation closes');

  const r = await cli(['outbox', '-c', w.config]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^no delivery waits in the outbox; but:$/m);
  assert.ok(
    r.stdout.includes(
      `3 lines of ${c.places.join(', ')} (bridge commons) wait for the conversation to close, at the latest ${clock(c.closesBy, Date.now())}`,
    ),
    r.stdout,
  );
  const status = await cli(['status', '-c', w.config]);
  assert.match(
    status.stdout,
    /open conversations \(digest\):\n {2}3 lines of .* wait for the conversation to close, at the latest/,
  );
  assert.deepEqual(w.delivered('news'), [], 'the group has nothing yet');
});
