/**
 * Attachments through a real list: swaks mails a post with two attachments to
 * an `attachments: pass` list and to a `strip` list (each with a subscriber);
 * the daemon sends list mail to aiosmtpd (a Maildir), and the subscriber's copy
 * on the pass list carries the same bytes as real MIME attachments, while the
 * strip list's copy has none and names them in the text. The core's other side
 * (an article sink) gets the post; the post in the store holds only their
 * names, types and sizes.
 *
 * swaks and python3-aiosmtpd are installed when missing and we are root;
 * otherwise the test fails with the command that installs them.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { Store } from '../../src/store.js';
import { until } from '../helpers/daemon.js';
import { mailingLists, ensureSwaks, swaks, header } from './mail-helpers.js';

const D = 'lists.test.example';

const lists = mailingLists();
const { mailTo } = lists;

describe('attachments of mail posts on a real list', () => {
  before(async () => {
    ensureSwaks();
    await lists.start(
      ({ w, port, sinkPort }) => `
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${port}
    maxSize: 1000000
    limits: { messages: 1000 }
    smtp: { host: 127.0.0.1, port: ${sinkPort}, fromRewrite: never }
  sinkart.a: { file: ${w.sink('a')} }
bridges:
  commons:
    endpoints:
      - { endpoint: mail.test/commons, policy: open, attachments: pass }
      - sinkart.a/x
  quiet:
    endpoints:
      - { endpoint: mail.test/quiet, policy: open, attachments: strip }
`,
    );
    for (const list of ['commons', 'quiet']) await lists.subscribe(list, ['bob@example.net']);
  });
  after(() => lists.stop());

  const pdf = randomBytes(40_000);
  const png = randomBytes(1234);

  async function post(list: string, id: string) {
    const f1 = join(lists.w.dir, 'report.pdf');
    const f2 = join(lists.w.dir, 'cat.png');
    writeFileSync(f1, pdf);
    writeFileSync(f2, png);
    const r = await swaks(lists.port, [
      '--from',
      'alice@example.org',
      '--to',
      `${list}@${D}`,
      '--header',
      `Subject: files for ${list}`,
      '--header',
      `Message-Id: <${id}>`,
      '--body',
      'Two files attached.',
      '--attach-type',
      'application/pdf',
      '--attach-name',
      'report.pdf',
      '--attach',
      `@${f1}`,
      '--attach-type',
      'image/png',
      '--attach-name',
      'cat.png',
      '--attach',
      `@${f2}`,
    ]);
    assert.ok(
      r.replies.some((x) => /^250 .*posted to /.test(x)),
      r.out,
    );
    return until(
      () => mailTo('bob@example.net').find((m) => header(m, 'Message-ID')[0] === `<${id}>`),
      `the post ${id} at bob's`,
      15_000,
    );
  }

  test('pass: the subscriber gets the files, byte for byte; the bridge sees only their names', async () => {
    const raw = await post('commons', 'att.1@example.org');
    const m = await simpleParser(raw);
    assert.equal(m.subject, '[commons] files for commons');
    assert.match(m.text ?? '', /Two files attached\./);
    assert.doesNotMatch(m.text ?? '', /not carried|removed by the list/);
    assert.deepEqual(
      m.attachments.map((a) => [a.filename, a.contentType]),
      [
        ['report.pdf', 'application/pdf'],
        ['cat.png', 'image/png'],
      ],
    );
    assert.ok(m.attachments[0]!.content.equals(pdf), 'the PDF arrives with the same bytes');
    assert.ok(m.attachments[1]!.content.equals(png), 'the PNG arrives with the same bytes');

    await until(
      () => lists.w.delivered('a').find((d: { id: string }) => d.id === 'att.1@example.org'),
      'the post on the other side',
      10_000,
    );
    // What every plugin sees of the post: the names, types and sizes (read from the daemon's store, read-only).
    const store = Store.open(lists.w.data, { readonly: true });
    try {
      const p = store.getPost('att.1@example.org')!;
      assert.deepEqual(p.attachments, [
        { filename: 'report.pdf', contentType: 'application/pdf', size: 40_000 },
        { filename: 'cat.png', contentType: 'image/png', size: 1234 },
      ]);
      assert.ok(!JSON.stringify(p).includes(png.toString('base64').slice(0, 40)), 'the content is not in the post');
    } finally {
      store.close();
    }
  });

  test('strip: no files; the text names them as removed by the list', async () => {
    const raw = await post('quiet', 'att.2@example.org');
    const m = await simpleParser(raw);
    assert.deepEqual(m.attachments, []);
    assert.match(
      m.text ?? '',
      /Attachments of the original message, removed by the list:\n\s+report\.pdf \(application\/pdf, 39 kB\)\n\s+cat\.png \(image\/png, 1 kB\)/,
    );
  });
});
