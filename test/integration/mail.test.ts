/**
 * The mail plugin as a list server, end to end: the daemon run as a user runs
 * it, real clients sending to it (swaks, Python's smtplib), and a real SMTP
 * server as its smarthost (aiosmtpd writing a Maildir, test/peers/smtp_maildir.py).
 * The bridge also has an article-style test endpoint, to see what reaches the
 * other side.
 *
 * swaks and python3-aiosmtpd are installed when missing and we are root;
 * otherwise the test fails with the command that installs them.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { world, cli, runOnce, until, sleep } from '../helpers/daemon.js';
import { freePort } from './mail-send-helpers.js';
import { mailingLists, ensureSwaks, swaks, pySend, rfc822, header } from './mail-helpers.js';

const D = 'lists.test.example';
const LIST = `commons@${D}`;
const MAX = 200_000;

/** The list daemon, its smarthost and the mail the smarthost received for an address (waitMail). */
const lists = mailingLists();
const { waitMail } = lists;

async function subscribers(): Promise<string[]> {
  const r = await cli(['subscribers', 'commons', '-c', lists.w.config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { address: string }[]).map((s) => s.address);
}

function spool(name: string, post: object): void {
  const dir = join(lists.w.dir, 'spool');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.tmp`), JSON.stringify(post));
  renameSync(join(dir, `${name}.tmp`), join(dir, `${name}.json`));
}

describe('a mailing list on a real smarthost', () => {
  before(async () => {
    ensureSwaks();
    await lists.start(
      ({ w, port, sinkPort }) => `
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${port}
    maxSize: ${MAX}
    limits: { messages: 1000 }
    bounces: { threshold: 2, once: 0s }
    smtp: { host: 127.0.0.1, port: ${sinkPort}, fromRewrite: never }
  sinkart.a: { file: ${w.sink('a')}, spool: ${join(w.dir, 'spool')} }
bridges:
  commons:
    description: The commons
    endpoints:
      - { endpoint: mail.test/commons, owners: [owner@example.org] }
      - sinkart.a/x
`,
    );
  });
  after(() => lists.stop());

  test('EHLO offers SIZE, 8BITMIME, SMTPUTF8; no AUTH, and no STARTTLS without a certificate', async () => {
    const r = await pySend(
      lists.port,
      'x@example.org',
      [`commons-request@${D}`],
      rfc822(['From: x@example.org', 'Subject: help'], ''),
    );
    assert.ok(r.features.includes('size'), r.features.join(' '));
    assert.ok(r.features.includes('8bitmime'));
    assert.ok(r.features.includes('smtputf8'));
    assert.ok(!r.features.includes('auth'));
    assert.ok(!r.features.includes('starttls'));
    const help = await waitMail('x@example.org', (m) => /Help for commons/.test(m), 'the help reply');
    assert.deepEqual(header(help, 'Auto-Submitted'), ['auto-generated']);
    assert.equal(
      header(help, 'X-MailFrom')[0],
      `commons-bounces@${D}`,
      'robot mail has the bounce address as envelope sender',
    );
  });

  test('subscribe (swaks) → confirm by reply (smtplib) → a post reaches every subscriber with the list headers, and the bridge', async () => {
    const j = await swaks(lists.port, [
      '--from',
      'alice@example.org',
      '--to',
      `commons-join@${D}`,
      '--header',
      'Subject: subscribe',
      '--body',
      'please',
    ]);
    assert.equal(j.last, 221, j.out);
    assert.ok(
      j.replies.some((r) => /^250 .*confirmation was sent to alice@example.org/.test(r)),
      j.out,
    );
    const req = await waitMail(
      'alice@example.org',
      (m) => /^Subject: confirm [0-9a-f]{24}/m.test(m),
      'the confirmation request',
    );
    const token = /^Subject: confirm ([0-9a-f]{24})/m.exec(req)![1]!;
    assert.deepEqual(header(req, 'Auto-Submitted'), ['auto-generated']);
    const replyTo = header(req, 'Reply-To')[0]!;
    assert.match(replyTo, new RegExp(`commons-confirm\\+${token}@${D.replace(/\./g, '\\.')}`));
    assert.deepEqual(await subscribers(), [], 'nobody is subscribed before confirming');

    // Alice's mail client replies to the confirmation.
    const c = await pySend(
      lists.port,
      'alice@example.org',
      [`commons-confirm+${token}@${D}`],
      rfc822(
        [
          'From: Alice <alice@example.org>',
          `To: ${replyTo}`,
          `Subject: Re: confirm ${token}`,
          `Message-ID: <reply-${token}@example.org>`,
        ],
        '> Someone asked...',
      ),
    );
    assert.equal(c.code, 250, JSON.stringify(c));
    await waitMail('alice@example.org', (m) => /Subject: Welcome to commons/.test(m), 'the welcome');

    // An admin adds bob without confirmation, with the daemon running.
    const add = await cli(['subscribers', 'commons', 'add', 'bob@example.net', '-c', lists.w.config]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /added bob@example.net/);
    assert.deepEqual(await subscribers(), ['alice@example.org', 'bob@example.net']);

    const before = lists.sink.transactions().length;
    const p = await pySend(
      lists.port,
      'alice@example.org',
      [LIST],
      rfc822(
        [
          'From: Alice <alice@example.org>',
          `To: ${LIST}`,
          'Subject: Picnic on Sunday',
          'Message-ID: <picnic.1@example.org>',
          'Date: Fri, 27 Nov 2026 08:00:00 +0000',
        ],
        'Bring bread.\n\n-- \nAlice',
      ),
    );
    assert.equal(p.code, 250, JSON.stringify(p));
    for (const who of ['alice@example.org', 'bob@example.net']) {
      const m = await waitMail(who, (x) => header(x, 'Message-ID')[0] === '<picnic.1@example.org>', 'the post');
      assert.equal(header(m, 'Subject')[0], '[commons] Picnic on Sunday');
      assert.deepEqual(header(m, 'List-Id').length, 1);
      assert.match(header(m, 'List-Id')[0]!, /<commons\.lists\.test\.example>/);
      assert.deepEqual(header(m, 'List-Post'), [`<mailto:${LIST}>`]);
      assert.match(header(m, 'List-Unsubscribe')[0]!, new RegExp(`mailto:commons-leave@`));
      assert.deepEqual(header(m, 'X-Loop'), [LIST]);
      assert.deepEqual(header(m, 'Precedence'), ['list']);
      assert.match(header(m, 'X-MailFrom')[0]!, /^commons-bounces(\+[^@]+)?@lists\.test\.example$/);
      const parsed = await simpleParser(m);
      assert.match(parsed.text ?? '', /Bring bread\./);
      assert.equal(parsed.from?.value[0]?.address, 'alice@example.org');
    }
    const tx = lists.sink
      .transactions()
      .slice(before)
      .filter((t) => t.to.some((a) => a === 'alice@example.org' || a === 'bob@example.net'));
    assert.deepEqual(
      tx.flatMap((t) => t.to).sort(),
      ['alice@example.org', 'bob@example.net'],
      'each subscriber once, nobody else',
    );
    const a = await until(
      () => lists.w.delivered('a').find((d) => d.id === 'picnic.1@example.org'),
      'the post on the other endpoint',
    );
    assert.equal(a.subject, 'Picnic on Sunday');
    assert.match(a.body, /Bring bread\./);

    // A post from elsewhere in the bridge reaches the subscribers from the list address.
    spool('p1', {
      target: 'x',
      author: { name: 'carol', via: 'irc' },
      body: 'hello from the channel',
      subject: 'from afar',
    });
    const far = await waitMail(
      'bob@example.net',
      (x) => /hello from the channel/.test(x),
      'a post from the other endpoint',
    );
    assert.match(header(far, 'From')[0]!, /commons@lists\.test\.example/);
  });

  test('unsubscribe: leave → confirm by mailing the confirm address (swaks) → no longer subscribed, goodbye', async () => {
    await cli(['subscribers', 'commons', 'add', 'dan@example.com', '-c', lists.w.config]);
    const l = await swaks(lists.port, [
      '--from',
      'dan@example.com',
      '--to',
      `commons-leave@${D}`,
      '--header',
      'Subject: bye',
    ]);
    assert.equal(l.last, 221, l.out);
    const req = await waitMail(
      'dan@example.com',
      (m) => /^Subject: confirm [0-9a-f]{24}/m.test(m),
      'the unsubscribe confirmation',
    );
    const token = /^Subject: confirm ([0-9a-f]{24})/m.exec(req)![1]!;
    const c = await swaks(lists.port, [
      '--from',
      'dan@example.com',
      '--to',
      `commons-confirm+${token}@${D}`,
      '--header',
      'Subject: yes',
    ]);
    assert.ok(
      c.replies.some((r) => /^250 .*unsubscribed/.test(r)),
      c.out,
    );
    assert.ok(!(await subscribers()).includes('dan@example.com'));
    await waitMail('dan@example.com', (m) => /Subject: You have left commons/.test(m), 'the goodbye');
  });

  test('never an open relay: foreign recipients get 550 at RCPT and nothing is sent to them', async () => {
    for (const rcpt of [
      'victim@example.net',
      `commons@evil.example`,
      `postmaster@${D}`,
      `commons-admin@${D}`,
      `commons%victim.example@${D}`,
    ]) {
      const r = await swaks(lists.port, ['--from', 'spammer@example.org', '--to', rcpt]);
      assert.ok(
        r.replies.some((x) => /^550 /.test(x) && /relays nothing/.test(x)),
        `${rcpt}: ${r.out}`,
      );
      assert.notEqual(r.code, 0);
    }
    const py = await pySend(
      lists.port,
      'spammer@example.org',
      ['victim@example.net'],
      rfc822(['From: spammer@example.org'], 'buy'),
    );
    assert.equal(py.code, 550);
    assert.equal(py.stage, 'rcpt');
    await sleep(300);
    assert.equal(lists.sink.transactions().filter((t) => t.to.some((a) => /victim/.test(a))).length, 0);
  });

  test('oversize: refused with 552, by the SIZE parameter and by the data itself', async () => {
    const big = 'x'.repeat(76) + '\r\n';
    const body = big.repeat(Math.ceil((MAX + 10_000) / big.length));
    const r = await pySend(
      lists.port,
      'alice@example.org',
      [LIST],
      rfc822(['From: alice@example.org', 'Subject: huge'], body),
    );
    assert.equal(r.code, 552, JSON.stringify(r));
    // swaks does not send SIZE=: the data goes over the limit and is refused after it
    const file = join(lists.w.dir, 'big.bin');
    writeFileSync(file, Buffer.alloc(MAX, 1));
    const s = await swaks(lists.port, [
      '--from',
      'alice@example.org',
      '--to',
      LIST,
      '--header',
      'Subject: huge too',
      '--attach',
      `@${file}`,
    ]);
    assert.ok(
      s.replies.some((x) => /^552 /.test(x)),
      s.out.slice(-2000),
    );
  });

  test('a non-member is held, the owner told; `peerpost held approve` posts it', async () => {
    const r = await swaks(lists.port, [
      '--from',
      'stranger@example.org',
      '--to',
      LIST,
      '--header',
      'Subject: May I?',
      '--header',
      'Message-Id: <stranger.1@example.org>',
      '--body',
      'A question from outside.',
    ]);
    assert.ok(
      r.replies.some((x) => /^250 .*held for the owners/.test(x)),
      r.out,
    );
    const note = await waitMail('owner@example.org', (m) => /awaits approval/.test(m), 'the held notice to the owner');
    const id = /post #(\d+)/.exec(note)![1]!;
    const list = await cli(['held', '-c', lists.w.config]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`#${id}\\s+commons .*from stranger@example.org`));
    assert.equal(
      lists.w.delivered('a').filter((d) => d.id === 'stranger.1@example.org').length,
      0,
      'not posted while held',
    );

    const ok = await cli(['held', 'commons', 'approve', id, '-c', lists.w.config]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /approved/);
    await until(
      () => lists.w.delivered('a').find((d) => d.id === 'stranger.1@example.org'),
      'the approved post on the bridge',
    );
    await waitMail(
      'alice@example.org',
      (m) => header(m, 'Message-ID')[0] === '<stranger.1@example.org>',
      'the approved post to subscribers',
    );
    const again = await cli(['held', 'commons', 'approve', id, '-c', lists.w.config]);
    assert.equal(again.code, 5);
    assert.match(again.stderr, /no held post/);
  });

  test('bad input: each case is taken safely or refused with a clear code; the daemon keeps running', async () => {
    const send = (headers: string[], body: string, raw?: Buffer) =>
      pySend(
        lists.port,
        'alice@example.org',
        [LIST],
        raw ?? rfc822(['From: Alice <alice@example.org>', `To: ${LIST}`, ...headers], body),
      );

    // malformed MIME: taken as far as it reads
    const mime = await send(
      [
        'Subject: broken mime',
        'Message-ID: <bad.mime@example.org>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="nope"',
      ],
      '--other\r\nContent-Type: text/plain\r\n\r\nlost boundary',
    );
    assert.equal(mime.code, 250, JSON.stringify(mime));
    // missing Message-ID: taken, with a new one
    const noId = await send(['Subject: no id here'], 'body without an id');
    assert.equal(noId.code, 250);
    const minted = await until(
      () => lists.w.delivered('a').find((d) => d.subject === 'no id here'),
      'the post without an id',
    );
    assert.match(minted.id, /@test\.example$/);
    // two Message-ID headers: refused
    const two = await send(['Subject: two ids', 'Message-ID: <one@example.org>', 'Message-ID: <two@example.org>'], 'x');
    assert.equal(two.code, 554);
    assert.match(two.message, /2 Message-ID headers/);
    // the same Message-ID again (a resend): 250, posted once
    const dup = await send(['Subject: Picnic on Sunday', 'Message-ID: <picnic.1@example.org>'], 'Bring bread.');
    assert.equal(dup.code, 250);
    const dupSwaks = await swaks(lists.port, [
      '--from',
      'alice@example.org',
      '--to',
      LIST,
      '--header',
      'Message-Id: <picnic.1@example.org>',
      '--header',
      'Subject: again',
    ]);
    assert.ok(
      dupSwaks.replies.some((r) => /^250 .*already posted <picnic\.1@example\.org>/.test(r)),
      dupSwaks.out,
    );
    assert.equal(lists.w.delivered('a').filter((d) => d.id === 'picnic.1@example.org').length, 1, 'posted once');
    // 8-bit headers, without and with SMTPUTF8
    const latin = await send(
      [],
      '',
      Buffer.from(
        `From: alice@example.org\r\nTo: ${LIST}\r\nSubject: caf\xe9 cr\xe8me\r\nMessage-ID: <latin1@example.org>\r\n\r\nbody\r\n`,
        'latin1',
      ),
    );
    assert.equal(latin.code, 250);
    const utf = await pySend(
      lists.port,
      'alice@example.org',
      [LIST],
      Buffer.from(
        `From: Zoë <alice@example.org>\r\nTo: ${LIST}\r\nSubject: Grüße\r\nMessage-ID: <utf8.h@example.org>\r\n\r\nhallo\r\n`,
        'utf8',
      ),
      { smtpUtf8: true },
    );
    assert.equal(utf.code, 250);
    const g = await until(() => lists.w.delivered('a').find((d) => d.id === 'utf8.h@example.org'), 'the UTF-8 post');
    assert.equal(g.subject, 'Grüße');
    // a 100 KB header: refused
    const huge = await send([`X-Huge: ${'h'.repeat(100 * 1024)}`, 'Subject: huge header'], 'x');
    assert.equal(huge.code, 552);
    assert.match(huge.message, /header section/);
    // bare CR and bare LF in the body: taken, line ends made plain
    const bare = await send(
      [],
      '',
      Buffer.from(
        `From: alice@example.org\r\nTo: ${LIST}\r\nSubject: bare ends\r\nMessage-ID: <bare@example.org>\r\n\r\none\rtwo\nthree\r\n`,
        'latin1',
      ),
    );
    assert.equal(bare.code, 250);
    const b = await until(() => lists.w.delivered('a').find((d) => d.id === 'bare@example.org'), 'the bare-ends post');
    assert.equal(b.body, 'one\ntwo\nthree');
    // a subject carrying "\r\nBcc:": the Bcc becomes its own header line, which the list ignores
    const before = lists.sink.transactions().length;
    const inj = await send(
      [],
      '',
      Buffer.from(
        `From: alice@example.org\r\nTo: ${LIST}\r\nSubject: hi\r\nBcc: victim@example.net\r\nMessage-ID: <inject@example.org>\r\n\r\ninjected?\r\n`,
      ),
    );
    assert.equal(inj.code, 250);
    const sent = await waitMail(
      'bob@example.net',
      (m) => header(m, 'Message-ID')[0] === '<inject@example.org>',
      'the post with an injected Bcc',
    );
    assert.deepEqual(header(sent, 'Bcc'), []);
    assert.equal(header(sent, 'Subject')[0], '[commons] hi');
    await sleep(500);
    const rcpts = lists.sink
      .transactions()
      .slice(before)
      .flatMap((t) => t.to);
    assert.ok(!rcpts.includes('victim@example.net'), `sent to: ${rcpts.join(', ')}`);

    const st = await cli(['status', '-c', lists.w.config, '--json']);
    assert.equal(st.code, 0);
    const acct = (JSON.parse(st.stdout) as { accounts: { name: string; state: string }[] }).accounts.find(
      (x) => x.name === 'mail.test',
    )!;
    assert.equal(acct.state, 'listening');
  });

  test('owner mail is forwarded unchanged to the owners; `peerpost held reject` tells the sender', async () => {
    const o = await swaks(lists.port, [
      '--from',
      'someone@example.net',
      '--to',
      `commons-owner@${D}`,
      '--header',
      'Subject: A question for the owners',
      '--body',
      'Who runs this?',
    ]);
    assert.ok(
      o.replies.some((x) => /^250 .*forwarded to the owners/.test(x)),
      o.out,
    );
    const fwd = await waitMail(
      'owner@example.org',
      (m) => header(m, 'Subject')[0] === 'A question for the owners',
      'the forwarded owner mail',
    );
    assert.match(fwd, /Who runs this\?/);
    assert.deepEqual(header(fwd, 'From'), ['someone@example.net'], 'forwarded unchanged');

    const h = await swaks(lists.port, [
      '--from',
      'pest@example.org',
      '--to',
      LIST,
      '--header',
      'Subject: buy now',
      '--body',
      'cheap',
    ]);
    assert.ok(
      h.replies.some((x) => /^250 .*held/.test(x)),
      h.out,
    );
    const id = /held for the owners of commons \(#(\d+)\)/.exec(h.out)![1]!;
    const r = await cli(['held', 'commons', 'reject', id, 'off', 'topic', '-c', lists.w.config]);
    assert.equal(r.code, 0, r.stderr);
    const note = await waitMail('pest@example.org', (m) => /was not accepted/.test(m), 'the rejection notice');
    assert.match(note, /off topic/);
    assert.doesNotMatch((await cli(['held', '-c', lists.w.config])).stdout, new RegExp(`#${id} `));
  });

  test('bounces: a DSN to the bounce address and a 5xx from the smarthost raise the score; at the threshold delivery stops, the owner is told', async () => {
    assert.equal((await cli(['subscribers', 'commons', 'add', 'dead@example.net', '-c', lists.w.config])).code, 0);
    const dsn = rfc822(
      [
        'From: MAILER-DAEMON@mx.example.net (Mail Delivery System)',
        `To: commons-bounces@${D}`,
        'Subject: Undelivered Mail Returned to Sender',
        'Auto-Submitted: auto-replied',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
      ],
      [
        '--B',
        'Content-Type: text/plain',
        '',
        'I could not deliver your message.',
        '',
        '--B',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example.net',
        '',
        'Final-Recipient: rfc822; dead@example.net',
        'Action: failed',
        'Status: 5.1.1',
        'Diagnostic-Code: smtp; 550 5.1.1 <dead@example.net>: User unknown',
        '',
        '--B--',
      ].join('\n'),
    );
    const b = await pySend(lists.port, '', [`commons-bounces@${D}`], dsn);
    assert.equal(b.code, 250, JSON.stringify(b));
    const score = async () =>
      (
        JSON.parse((await cli(['subscribers', 'commons', '--json', '-c', lists.w.config])).stdout) as {
          address: string;
          bounceScore: number;
          delivery: boolean;
        }[]
      ).find((x) => x.address === 'dead@example.net')!;
    assert.deepEqual(await score().then((x) => [x.bounceScore, x.delivery]), [1, true]);

    lists.sink.rules({ reject: ['dead@example.net'] });
    try {
      const p = await pySend(
        lists.port,
        'alice@example.org',
        [LIST],
        rfc822(
          ['From: alice@example.org', 'Subject: roll call', 'Message-ID: <roll.call@example.org>'],
          'who is here?',
        ),
      );
      assert.equal(p.code, 250);
      await waitMail(
        'owner@example.org',
        (m) => /delivery to dead@example.net disabled/.test(m),
        'the owner told of the disabled address',
      );
      assert.deepEqual(await score().then((x) => [x.bounceScore, x.delivery]), [2, false]);
      assert.match(
        (await cli(['subscribers', 'commons', '-c', lists.w.config])).stdout,
        /dead@example\.net {2}\[delivery disabled: bounce score 2\]/,
      );
    } finally {
      lists.sink.rules({});
    }
  });
});

describe('the subscribers command without the daemon', () => {
  test('add, import, list and remove work on the store with the daemon down', async (t) => {
    const w2 = world();
    t.after(() => w2.cleanup());
    w2.writeConfig(`
accounts:
  mail.test: { domain: ${D}, listen: 127.0.0.1:${await freePort()} }
bridges:
  commons:
    endpoints: [mail.test/commons]
`);
    await runOnce(w2.config); // the store is made by the daemon (no other command creates one); then it stops
    const add = await cli([
      'subscribers',
      'commons',
      'add',
      'Alice <alice@example.org>',
      'bob@example.net',
      '-c',
      w2.config,
    ]);
    assert.equal(add.code, 0, add.stderr);
    writeFileSync(
      join(w2.dir, 'people.txt'),
      '# our people\ncarol@example.org\n\nDan <dan@example.com>\nalice@example.org\n',
    );
    const imp = await cli(['subscribers', 'commons', 'import', 'people.txt', '-c', w2.config], { cwd: w2.dir });
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /2 added, 1 subscribed already/);
    const bad = await cli(['subscribers', 'commons', 'add', 'not-an-address', '-c', w2.config]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a mail address.*\n.*nothing was changed/s);
    const rm = await cli(['subscribers', 'commons', 'remove', 'bob@example.net', '-c', w2.config]);
    assert.equal(rm.code, 0, rm.stderr);
    const ls = await cli(['subscribers', 'commons', '-c', w2.config]);
    assert.equal(ls.code, 0);
    assert.match(ls.stdout, /alice@example.org \(Alice\)\ncarol@example.org\ndan@example.com \(Dan\)\n3 subscribers/);
    const none = await cli(['subscribers', 'nosuch', '-c', w2.config]);
    assert.equal(none.code, 5);
    assert.match(none.stderr, /no list "nosuch".*commons \(mail\.test\)/);
    const approve = await cli(['held', 'approve', '1', '-c', w2.config]);
    assert.equal(approve.code, 5, approve.stderr);
  });
});
