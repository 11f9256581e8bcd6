/**
 * Hostile mail, generated (fast-check): the receiving side's parsers never
 * throw, refuse only with their own SMTP codes, and never let a CR, LF or
 * other control character into a one-line value (subject, author) — the
 * values that become headers downstream. Addresses not of our lists are never
 * classified as ours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { parseMessage, isRefusal, commandLines } from '../../plugins/mail/parse.js';
import { classify } from '../../plugins/mail/lists.js';
import { verifyUnsubscribe } from '../../plugins/mail/tokens.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const NAMES = [
  'From',
  'To',
  'Subject',
  'Message-ID',
  'In-Reply-To',
  'References',
  'Content-Type',
  'Content-Transfer-Encoding',
  'MIME-Version',
  'Auto-Submitted',
  'List-Id',
  'X-Loop',
  'Bcc',
  'Date',
  'Content-Disposition',
];
const VALUES = [
  'alice@example.org',
  '"Al\r\nice" <a@x.org>',
  '=?UTF-8?Q?a=0D=0Ab?=',
  '=?UTF-8?B?w7w=?=',
  '=?bogus?X?zz?=',
  'multipart/mixed; boundary="b"',
  'text/html; charset=iso-8859-1',
  'text/plain; charset=utf-16',
  'base64',
  'quoted-printable',
  '<a@b>',
  '<>',
  '<<x>>',
  'auto-replied',
  'no',
  '1.0',
  'Thu, 99 Foo 9999',
  '\t folded',
  '\x00\x01',
  'ü',
  '',
];
const BODIES = [
  '--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--',
  '=E9=\r\n',
  '<p>x</p><script>y</script>',
  '%%%',
  '\r\r\n\n',
  '..',
  '\xff\xfe',
  '',
];

const header = fc.tuple(
  fc.constantFrom(...NAMES),
  fc.oneof(fc.constantFrom(...VALUES), fc.string({ maxLength: 30 })),
  fc.constantFrom('\r\n', '\n', '\r', '\r\n '),
);
const mailish = fc
  .tuple(fc.array(header, { maxLength: 12 }), fc.oneof(fc.constantFrom(...BODIES), fc.string({ maxLength: 200 })))
  .map(([hs, body]) => Buffer.from(`${hs.map(([n, v, e]) => `${n}: ${v}${e}`).join('')}\r\n${body}`, 'latin1'));

const controls = /[\x00-\x1f\x7f]/;

test('parseMessage: any bytes give a parsed mail with clean one-line values, or a 552/554 refusal; never a throw', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        mailish,
        fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
      ),
      async (raw) => {
        const m = await parseMessage(raw);
        if (isRefusal(m)) {
          assert.ok([552, 554].includes(m.code), `${m.code} ${m.message}`);
          return;
        }
        assert.ok(!controls.test(m.subject), JSON.stringify(m.subject));
        assert.ok(!m.body.includes('\r'));
        if (m.from) assert.ok(!controls.test(m.from.name) && !controls.test(m.from.address), JSON.stringify(m.from));
        for (const a of m.attachments) assert.ok(!controls.test(a.filename) && !controls.test(a.contentType));
        for (const id of [m.id, m.inReplyTo, ...m.references]) if (id !== undefined) assert.match(id, /^[\x21-\x7e]+$/);
      },
    ),
    { numRuns: RUNS },
  );
});

test('parseMessage: 64 KB of random bytes is answered too', async () => {
  const m = await parseMessage(randomBytes(64 * 1024));
  assert.ok(isRefusal(m) || typeof m.body === 'string');
});

test("classify: only the lists' addresses on the lists' domain are ours", () => {
  const lists = ['commons', 'dev'];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 60 }),
        fc
          .tuple(
            fc.constantFrom(
              'commons',
              'dev',
              'other',
              'commons-join',
              'dev-owner',
              'commons-confirm+0123456789abcdef01234567',
              'commons-bounces+a=b.c',
              'x',
            ),
            fc.constantFrom('@lists.example.org', '@LISTS.example.org', '@example.org', '@lists.example.org.evil', ''),
          )
          .map(([l, d]) => l + d),
      ),
      (addr) => {
        const a = classify(addr, lists, 'lists.example.org');
        if (a) {
          assert.ok(addr.toLowerCase().endsWith('@lists.example.org'), addr);
          assert.ok(lists.includes(a.list));
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('commandLines and unsubscribe tokens: any text, no throw; a random token is never valid', () => {
  const key = randomBytes(32);
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 400 }), (s, b) => {
      assert.ok(Array.isArray(commandLines(s, b)));
      const v = verifyUnsubscribe(key, s + b);
      assert.ok('problem' in v);
    }),
    { numRuns: RUNS },
  );
});
