/**
 * A mailing list bridged to an IRC channel, with real peers: ngircd
 * (test/peers/ngircd.sh), an IRC user on a raw socket, swaks posting to the
 * list, and aiosmtpd as the list's smarthost.
 *
 * - a mail post reaches the channel as an announcement: "[commons] Alice:
 *   Subject" and the first lines, the quoted text and the signature left out;
 * - a mail post's attachment is named in one line of the announcement;
 * - lines said in the channel reach the list's subscribers as a digest.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { world, cli, startDaemon, until, type World, type Running } from '../helpers/daemon.js';
import { ensureNgircd, freePort, startIrcd, stopIrcd, User, type Ircd } from './irc-helpers.js';
import { startMaildirSink, type MaildirSink } from './mail-send-helpers.js';
import { simpleParser } from 'mailparser';
import { ensureSwaks, swaks, header } from './mail-helpers.js';

const D = 'lists.test.example';
const CHAN = '#commons';
const BOT = 'listbot';

let ircd: Ircd | undefined;
let sink: MaildirSink;
let w: World;
let daemon: Running;
let port: number;
let user: User;

describe('a mailing list and an IRC channel in one bridge', () => {
  before(async () => {
    ensureNgircd();
    ensureSwaks();
    const dir = mkdtempSync('/tmp/pp-ngircd-');
    chmodSync(dir, 0o755);
    ircd = startIrcd(await freePort(), dir, '0');
    sink = await startMaildirSink();
    port = await freePort();
    w = world();
    w.writeConfig(`
accounts:
  irc.test: { host: 127.0.0.1, port: ${ircd.port}, tls: false, nick: ${BOT}, reconnect: { first: 500ms, max: 2s } }
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${port}
    smtp: { host: 127.0.0.1, port: ${sink.port}, fromRewrite: never }
bridges:
  commons:
    endpoints:
      - irc.test/${CHAN}
      - { endpoint: mail.test/commons, policy: open }
    digest: { quiet: 1s }
`);
    user = await new User('zoe').connect(ircd.port, CHAN);
    daemon = await startDaemon(w.config);
    await user.waitFor((l) => l.startsWith(`:${BOT}!`) && / JOIN /.test(l), 'the bot joins');
    const add = await cli(['subscribers', 'commons', 'add', 'reader@example.org', '-c', w.config]);
    assert.equal(add.code, 0, add.stderr);
  });
  after(async () => {
    user?.close();
    await daemon?.stop();
    await sink?.stop();
    stopIrcd(ircd);
    w?.cleanup();
  });

  test('a mail post is announced in the channel: subject, first lines, no quotes or signature', async () => {
    const body = [
      'On Friday, Bob wrote:',
      '> the old quoted text',
      '> more of it',
      '',
      'The meeting moves to the library.',
      'Room 2, at six.',
      '',
      '-- ',
      'Alice, secretary',
    ].join('\n');
    const r = await swaks(port, [
      '--from',
      'alice@example.org',
      '--to',
      `commons@${D}`,
      '--header',
      'From: Alice <alice@example.org>',
      '--header',
      'Subject: Meeting moved',
      '--body',
      body,
    ]);
    assert.ok(
      r.replies.some((x) => /^250 .*posted to commons/.test(x)),
      r.out,
    );
    const head = await user.waitFor(
      (l) =>
        l.startsWith(`:${BOT}!`) && l.includes(`PRIVMSG ${CHAN} :`) && l.includes('[commons] Alice: Meeting moved'),
      'the announcement',
    );
    assert.ok(head);
    await user.waitFor((l) => l.includes('Room 2, at six.'), 'the body lines');
    const said = user
      .said(BOT, CHAN)
      .map((l) => user.text(l))
      .join('\n');
    assert.match(said, /The meeting moves to the library\./);
    assert.doesNotMatch(said, /old quoted text|secretary/);
  });

  test('a mail post with an attachment: the announcement names it in one line under its head', async () => {
    const file = join(w.dir, 'agenda.txt');
    writeFileSync(file, 'x'.repeat(3000));
    const r = await swaks(port, [
      '--from',
      'alice@example.org',
      '--to',
      `commons@${D}`,
      '--header',
      'From: Alice <alice@example.org>',
      '--header',
      'Subject: The agenda',
      '--body',
      'The agenda is attached.',
      '--attach-type',
      'text/plain',
      '--attach-name',
      'agenda.txt',
      '--attach',
      `@${file}`,
    ]);
    assert.ok(
      r.replies.some((x) => /^250 .*posted to commons/.test(x)),
      r.out,
    );
    await user.waitFor((l) => l.includes('The agenda is attached.'), 'the announcement');
    const said = user.said(BOT, CHAN).map((l) => user.text(l));
    const at = said.indexOf('[commons] Alice: The agenda');
    assert.ok(at >= 0, said.join('\n'));
    assert.deepEqual(said.slice(at, at + 3), [
      '[commons] Alice: The agenda',
      '[attachment: agenda.txt, text/plain, 3 kB]',
      'The agenda is attached.',
    ]);
  });

  test('lines said in the channel reach the subscribers as one digest mail', async () => {
    user.send(`PRIVMSG ${CHAN} :who is bringing the chairs?`);
    user.send(`PRIVMSG ${CHAN} :I can bring six`);
    const m = await until(
      () =>
        sink
          .messages()
          .find((x) => /I can bring six/.test(x) && (header(x, 'X-RcptTo')[0] ?? '').includes('reader@example.org')),
      'the digest mail',
      20_000,
    );
    assert.match(m, /who is bringing the chairs\?/);
    const parsed = await simpleParser(m);
    assert.match(parsed.subject ?? '', /^\[commons\] #commons: conversation, .* \(2 lines\)$/);
  });
});
