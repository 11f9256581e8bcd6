/**
 * The list message's headers: folding, RFC 2047 encoding, injection attempts,
 * the subject tag, one-click unsubscribe. Parsed back with mailparser (a parser
 * nobody here wrote). No sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import {
  composeListMessage,
  composeRobotMessage,
  encodeBody,
  encodePhrase,
  encodeUnstructured,
  formatAddress,
  headerLine,
  cleanText,
  taggedSubject,
  rfc5322Date,
  safeAddress,
  msgId,
} from '../../plugins/mail/outbound/headers.js';
import type { Links } from '../../plugins/mail/outbound/index.js';
import { post, LIST } from './mail-out-ctx.js';
import type { Post } from '../../src/plugin.js';

const IRC_FROM = { from: formatAddress('alice (IRC #commons)', LIST.address) };

function build(p: Partial<Post> = {}, links: Links = {}, token?: string, from = IRC_FROM): string {
  return composeListMessage({ post: post(p), list: LIST, links, from, hostname: 'node.test.example' })
    .message(token)
    .toString('utf8');
}

function headBlock(msg: string): string {
  return msg.slice(0, msg.indexOf('\r\n\r\n') + 2);
}

/** Every header line (unfolded) with this name. */
function headers(msg: string, name: string): string[] {
  return headBlock(msg)
    .replace(/\r\n[ \t]+/g, ' ')
    .split('\r\n')
    .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
}

function assertWellFormedHead(msg: string): void {
  const head = headBlock(msg);
  for (const line of head.split('\r\n').slice(0, -1)) {
    assert.ok(line.length <= 78, `header line longer than 78: ${JSON.stringify(line)}`);
    assert.match(line, /^[\x20-\x7e\t]*$/, `non-ASCII or control in a header line: ${JSON.stringify(line)}`);
  }
  assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(head), 'a bare CR or LF in the header block');
}

test('a subject with CRLF and "Bcc:" stays one Subject header; no Bcc, no extra recipient', async () => {
  const msg = build({ subject: 'hi\r\nBcc: evil@attacker.example\r\n\r\nbody?' });
  assertWellFormedHead(msg);
  assert.equal(headers(msg, 'Subject').length, 1);
  assert.equal(headers(msg, 'Bcc').length, 0);
  const parsed = await simpleParser(msg);
  assert.equal(parsed.subject, '[commons] hi Bcc: evil@attacker.example body?');
  assert.equal(parsed.bcc, undefined);
  assert.equal(parsed.text?.trim(), 'Hello, list.');
});

test('an author name with CRLF, quotes and a fake address stays one From display name', async () => {
  const name = 'alice"\r\nBcc: evil@attacker.example\r\nX: <bob@example.org>';
  const msg = build({}, {}, undefined, { from: formatAddress(`${name} (IRC #commons)`, LIST.address) });
  assertWellFormedHead(msg);
  assert.equal(headers(msg, 'From').length, 1);
  assert.equal(headers(msg, 'Bcc').length, 0);
  assert.equal(headers(msg, 'X').length, 0);
  const parsed = await simpleParser(msg);
  assert.equal(parsed.from?.value.length, 1);
  assert.equal(parsed.from?.value[0]?.address, 'commons@lists.example.org');
  assert.equal(parsed.from?.value[0]?.name, 'alice" Bcc: evil@attacker.example X: <bob@example.org> (IRC #commons)');
});

test('non-ASCII subjects and names become RFC 2047 encoded words that decode back', async () => {
  const subject =
    'Grüße aus Köln — 日本語のテキスト, and a fairly long tail of words so that it has to fold over several lines';
  const msg = build({ subject }, {}, undefined, { from: formatAddress('Zoë Ångström (IRC #commons)', LIST.address) });
  assertWellFormedHead(msg);
  assert.match(headers(msg, 'Subject')[0]!, /=\?UTF-8\?Q\?/);
  assert.ok(
    headBlock(msg)
      .split('\r\n')
      .filter((l) => l.startsWith(' ')).length >= 2,
    'folded',
  );
  const parsed = await simpleParser(msg);
  assert.equal(parsed.subject, `[commons] ${subject}`);
  assert.equal(parsed.from?.value[0]?.name, 'Zoë Ångström (IRC #commons)');
});

test('a long ASCII subject folds at spaces; a 300-character word is encoded so it can fold', async () => {
  const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
  const m1 = build({ subject: words });
  assertWellFormedHead(m1);
  assert.equal((await simpleParser(m1)).subject, `[commons] ${words}`);
  const long = 'x'.repeat(300);
  const m2 = build({ subject: long });
  assertWellFormedHead(m2);
  assert.equal((await simpleParser(m2)).subject, `[commons] ${long}`);
});

test('display names: quoted when needed, plain atoms as they are', () => {
  assert.equal(encodePhrase('alice'), '"alice"');
  assert.equal(encodePhrase('alice (IRC #commons)'), '"alice (IRC #commons)"');
  assert.equal(encodePhrase('al"ice \\ x'), '"al\\"ice \\\\ x"');
  assert.equal(
    encodePhrase('=?UTF-8?B?Zm9v?='),
    '=?UTF-8?Q?=3D=3FUTF-8=3FB=3FZm9v=3F=3D?=',
    'text that looks like an encoded word is encoded, not passed',
  );
  assert.equal(formatAddress('', 'a@example.org'), '<a@example.org>');
});

test('cleanText, encodeUnstructured, headerLine', () => {
  assert.equal(cleanText(' a\r\nb\tc\u0000d\u2028e  '), 'a b c d e');
  assert.equal(encodeUnstructured('plain text'), 'plain text');
  assert.equal(headerLine('Subject', 'a b'), 'Subject: a b\r\n');
  const folded = headerLine(
    'References',
    Array.from({ length: 5 }, (_, i) => `<message-id-number-${i}@host.example.org>`).join(' '),
  );
  assert.ok(folded.split('\r\n').every((l) => l.length <= 78));
  assert.equal(
    folded.replace(/\r\n /g, ' '),
    `References: ${Array.from({ length: 5 }, (_, i) => `<message-id-number-${i}@host.example.org>`).join(' ')}\r\n`,
  );
});

test('the subject tag is added once and not repeated on replies', () => {
  assert.equal(taggedSubject('hello', '[commons]'), '[commons] hello');
  assert.equal(taggedSubject('Re: [commons] hello', '[commons]'), 'Re: [commons] hello');
  assert.equal(taggedSubject('Re: [Commons] hello', '[commons]'), 'Re: [Commons] hello');
  assert.equal(taggedSubject('hello', false), 'hello');
});

test('threading: Message-ID kept, In-Reply-To and References; unusable ids dropped', async () => {
  const msg = build({
    id: 'keep.me@example.org',
    inReplyTo: 'parent@example.org',
    references: ['root@example.org', 'bad id@x', 'x>\r\nBcc: y@z'],
  });
  assertWellFormedHead(msg);
  const parsed = await simpleParser(msg);
  assert.equal(parsed.messageId, '<keep.me@example.org>');
  assert.equal(parsed.inReplyTo, '<parent@example.org>');
  assert.deepEqual(parsed.references, ['<root@example.org>', '<parent@example.org>']);
  assert.equal(headers(msg, 'Bcc').length, 0);
  assert.equal(msgId('<a@b>'), '<a@b>');
  assert.equal(msgId('a b@c'), undefined);
});

test('list headers: List-Id, List-Post, List-Help, List-Subscribe, List-Unsubscribe, Precedence, X-Loop; no archive without links', () => {
  const msg = build();
  assert.deepEqual(headers(msg, 'List-Id'), ['List-Id: "The commons" <commons.lists.example.org>']);
  assert.deepEqual(headers(msg, 'List-Post'), ['List-Post: <mailto:commons@lists.example.org>']);
  assert.deepEqual(headers(msg, 'List-Help'), ['List-Help: <mailto:commons-request@lists.example.org?subject=help>']);
  assert.deepEqual(headers(msg, 'List-Subscribe'), ['List-Subscribe: <mailto:commons-join@lists.example.org>']);
  assert.deepEqual(headers(msg, 'List-Unsubscribe'), ['List-Unsubscribe: <mailto:commons-leave@lists.example.org>']);
  assert.deepEqual(headers(msg, 'List-Unsubscribe-Post'), []);
  assert.deepEqual(headers(msg, 'List-Archive'), []);
  assert.deepEqual(headers(msg, 'Archived-At'), []);
  assert.deepEqual(headers(msg, 'Precedence'), ['Precedence: list']);
  assert.deepEqual(headers(msg, 'X-Loop'), ['X-Loop: commons@lists.example.org']);
  assert.deepEqual(headers(msg, 'To'), ['To: <commons@lists.example.org>']);
  assert.deepEqual(headers(msg, 'Date'), ['Date: Fri, 27 Nov 2026 07:30:00 +0000']);
});

test('one-click unsubscribe: each recipient gets its own https URL with List-Unsubscribe-Post (RFC 8058)', () => {
  const links: Links = {
    unsubscribe: (t) => `https://web.example.org/unsubscribe/${t}`,
    archive: 'https://web.example.org/commons',
  };
  const m = composeListMessage({ post: post(), list: LIST, links, from: IRC_FROM, hostname: 'h' });
  assert.equal(m.perRecipient, true);
  const a = m.message('tokA').toString();
  const b = m.message('tokB').toString();
  assert.deepEqual(headers(a, 'List-Unsubscribe'), [
    'List-Unsubscribe: <mailto:commons-leave@lists.example.org>, <https://web.example.org/unsubscribe/tokA>',
  ]);
  assert.deepEqual(headers(b, 'List-Unsubscribe'), [
    'List-Unsubscribe: <mailto:commons-leave@lists.example.org>, <https://web.example.org/unsubscribe/tokB>',
  ]);
  assert.deepEqual(headers(a, 'List-Unsubscribe-Post'), ['List-Unsubscribe-Post: List-Unsubscribe=One-Click']);
  assert.deepEqual(headers(a, 'List-Archive'), ['List-Archive: <https://web.example.org/commons>']);
  // A link that is not https (or carries a line break) is left out: mailto only, and no -Post.
  const bad = composeListMessage({
    post: post(),
    list: LIST,
    links: { unsubscribe: (t) => `http://x/${t}\r\nBcc: y@z`, post: () => 'javascript:alert(1)' },
    from: IRC_FROM,
    hostname: 'h',
  })
    .message('t')
    .toString();
  assert.deepEqual(headers(bad, 'List-Unsubscribe'), ['List-Unsubscribe: <mailto:commons-leave@lists.example.org>']);
  assert.deepEqual(headers(bad, 'List-Unsubscribe-Post'), []);
  assert.deepEqual(headers(bad, 'Archived-At'), []);
  assert.equal(headers(bad, 'Bcc').length, 0);
  // A web served over plain http (no one-click link can be given): one message for all, not one per recipient.
  const plain = composeListMessage({
    post: post(),
    list: LIST,
    links: { unsubscribe: (t) => `http://127.0.0.1:8080/unsubscribe/${t}` },
    from: IRC_FROM,
    hostname: 'h',
  });
  assert.equal(plain.perRecipient, false, 'the same bytes for every recipient: batched transactions');
  assert.deepEqual(headers(plain.message().toString(), 'List-Unsubscribe'), [
    'List-Unsubscribe: <mailto:commons-leave@lists.example.org>',
  ]);
});

test('bodies: ASCII stays 7bit; UTF-8, bare CR/LF, long lines and a lone dot go quoted-printable and decode back', async () => {
  assert.deepEqual(encodeBody('hi\nthere'), { cte: '7bit', data: 'hi\r\nthere\r\n' });
  const text = `Grüße\rline two\n.\n${'long '.repeat(300)}\nend`;
  const msg = build({ body: text });
  assert.match(msg, /Content-Transfer-Encoding: quoted-printable/);
  assert.ok(msg.split('\r\n').every((l) => l.length <= 998));
  const parsed = await simpleParser(msg);
  assert.equal(parsed.text?.replace(/\r\n/g, '\n').trimEnd(), text.replace(/\r/g, '\n').trimEnd());
});

test('an IRC action reads "* alice waves"; a post without subject takes its first words', async () => {
  const parsed = await simpleParser(build({ kind: 'action', body: 'waves at everyone', subject: undefined }));
  assert.equal(parsed.subject, '[commons] * alice waves at everyone');
  assert.equal(parsed.text?.trim(), '* alice waves at everyone');
});

test('robot mail: Auto-Submitted: auto-generated, and its extra headers cannot add recipients', async () => {
  const raw = composeRobotMessage({
    from: formatAddress('commons list', 'commons-request@lists.example.org'),
    to: 'new@example.net',
    subject: 'Confirm: join commons',
    text: 'Reply to confirm.',
    listAddress: LIST.address,
    listDescription: 'The commons',
    messageId: 'r1@node',
    headers: {
      'Reply-To': 'commons-confirm+abc@lists.example.org',
      Bcc: 'evil@x.example',
      'X-Note': 'a\r\nCc: evil@x.example',
      'Bad Name': 'x',
    },
  }).toString();
  assertWellFormedHead(raw);
  assert.deepEqual(headers(raw, 'Auto-Submitted'), ['Auto-Submitted: auto-generated']);
  assert.deepEqual(headers(raw, 'Reply-To'), ['Reply-To: <commons-confirm+abc@lists.example.org>']);
  assert.equal(headers(raw, 'Bcc').length + headers(raw, 'Cc').length, 0);
  assert.deepEqual(headers(raw, 'X-Note'), ['X-Note: a Cc: evil@x.example']);
  const parsed = await simpleParser(raw);
  assert.deepEqual(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value.map((v) => v.address) : [], [
    'new@example.net',
  ]);
});

test('safeAddress refuses what could smuggle a second recipient', () => {
  assert.equal(safeAddress('alice@example.org'), 'alice@example.org');
  for (const bad of [
    'a@b.org, c@d.org',
    'a@b.org\r\nRCPT TO:<c@d.org>',
    '<a@b.org>',
    'a b@c.org',
    'a@b.org>',
    '"a"@b.org',
    'noat',
    'a@-b.org',
  ])
    assert.equal(safeAddress(bad), undefined, bad);
  assert.equal(rfc5322Date('2026-01-02T03:04:05Z'), 'Fri, 02 Jan 2026 03:04:05 +0000');
});

test('attachments the original had are named at the end of the body (their content does not travel in a post)', async () => {
  const atts = [
    { filename: 'report.pdf', contentType: 'application/pdf', size: 123_456 },
    { filename: 'x\r\nBcc: y', contentType: 'text/plain', size: 10 },
  ];
  const m = composeListMessage({
    post: post({ attachments: atts }),
    list: LIST,
    links: {},
    from: IRC_FROM,
    hostname: 'h',
    attachments: 'strip',
  })
    .message()
    .toString();
  const text = (await simpleParser(m)).text!;
  assert.match(
    text,
    /\[Attachments of the original message, removed by the list:\n {2}report\.pdf \(application\/pdf, 121 kB\)\n {2}x Bcc: y \(text\/plain, 10 bytes\)\]/,
  );
  assert.doesNotMatch(build(), /Attachments of the original/);
});

test('a digest carries the list tag once: "[commons] #commons: conversation, …", not two bracketed tags', async () => {
  const msg = build({ kind: 'digest', subject: '[#commons] conversation, 14:00–14:30 UTC (3 lines)' });
  const parsed = await simpleParser(msg);
  assert.equal(parsed.subject, '[commons] #commons: conversation, 14:00–14:30 UTC (3 lines)');
  const plain = await simpleParser(build({ subject: '[#commons] not a digest' }));
  assert.equal(
    plain.subject,
    '[commons] [#commons] not a digest',
    'other subjects are left as their author wrote them',
  );
});
