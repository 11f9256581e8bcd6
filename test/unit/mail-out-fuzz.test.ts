/**
 * Hostile post content, generated (fast-check): whatever a subject, a name, a
 * body, an id or a link holds, the list message has exactly the headers we
 * write, each on its own lines, with no bare CR or LF; bounces of random bytes
 * never throw; VERP round-trips every usable address.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { composeListMessage, formatAddress, safeAddress } from '../../plugins/mail/outbound/headers.js';
import { parseBounce, verpDecode, verpEncode } from '../../plugins/mail/outbound/index.js';
import { post, LIST } from './mail-out-ctx.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

/** Strings rich in what breaks mail headers. */
const nasty = fc.oneof(
  fc.string({ maxLength: 120 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc
    .array(
      fc.constantFrom(
        '\r\n',
        '\r',
        '\n',
        'Bcc: evil@x.example',
        'To: a@b',
        ':',
        '<',
        '>',
        '"',
        '\\',
        '=?UTF-8?B?',
        '?=',
        ' ',
        '\t',
        'ü',
        '日本',
        '\u0000',
        '\u2028',
        'x'.repeat(90),
        ',',
      ),
      { maxLength: 20 },
    )
    .map((a) => a.join('')),
);

const EXPECTED = [
  'date',
  'from',
  'to',
  'subject',
  'message-id',
  'in-reply-to',
  'references',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'list-id',
  'list-post',
  'list-help',
  'list-subscribe',
  'list-owner',
  'list-archive',
  'archived-at',
  'precedence',
  'x-loop',
  'x-peerpost-bridge',
  'x-peerpost-node',
  'x-peerpost-kind',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'reply-to',
];

test('list messages: any subject, name, body, id or link gives only our headers, one of each, no bare CR/LF', async () => {
  await fc.assert(
    fc.asyncProperty(nasty, nasty, nasty, nasty, nasty, nasty, async (subject, name, body, id, parent, link) => {
      const m = composeListMessage({
        post: post({
          subject,
          body,
          id: id || 'x@y',
          inReplyTo: parent || undefined,
          references: [parent, id],
          kind: 'action',
          author: { name, via: 'irc' },
        }),
        list: LIST,
        links: {
          archive: link,
          post: (i) => `https://w.example/${i}`,
          unsubscribe: (t) => `https://w.example/u/${t}${link}`,
        },
        from: {
          from: formatAddress(`${name} (IRC #commons)`, LIST.address),
          replyTo: formatAddress(name, 'a@example.org'),
        },
        hostname: 'node.example',
      }).message(link);
      const text = m.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      assert.ok(end > 0);
      const head = text.slice(0, end + 2);
      assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(head), 'no bare CR or LF in the header block');
      const lines = head.split('\r\n').slice(0, -1);
      const names: string[] = [];
      for (const l of lines) {
        assert.ok(l.length <= 998, 'no header line past 998 characters');
        assert.match(l, /^[\x20-\x7e\t]*$/, 'headers are ASCII');
        if (/^[ \t]/.test(l)) continue;
        const colon = l.indexOf(':');
        assert.ok(colon > 0, `a header line without a name: ${JSON.stringify(l)}`);
        names.push(l.slice(0, colon).toLowerCase());
      }
      for (const n of names) assert.ok(EXPECTED.includes(n), `unexpected header ${n}`);
      assert.equal(new Set(names).size, names.length, 'each header once');
      const parsed = await simpleParser(m);
      assert.equal(parsed.bcc, undefined);
      assert.equal(parsed.cc, undefined);
      assert.deepEqual(!Array.isArray(parsed.to) && parsed.to?.value.map((v) => v.address), [
        'commons@lists.example.org',
      ]);
    }),
    { numRuns: RUNS },
  );
});

test('parseBounce: random bytes and half-made reports never throw; addresses it reports are plain addresses', async () => {
  const report = fc
    .tuple(nasty, nasty, fc.constantFrom('failed', 'delayed', 'x'), fc.constantFrom('5.1.1', '4.2.2', 'zz'))
    .map(
      ([a, d, act, st]) =>
        `Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; ${a}\r\nAction: ${act}\r\nStatus: ${st}\r\nDiagnostic-Code: smtp; ${d}\r\n--b--\r\n`,
    );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        report,
        fc.string({ maxLength: 400 }),
        fc.uint8Array({ maxLength: 400 }).map((u) => Buffer.from(u).toString('latin1')),
      ),
      async (text) => {
        const b = await parseBounce(Buffer.from(text, 'utf8'));
        for (const r of b?.recipients ?? []) assert.match(r.address, /^[^\s<>@]+@[^\s<>@]+$/);
      },
    ),
    { numRuns: RUNS },
  );
});

test('VERP: every usable address survives encode → decode', () => {
  const local = fc.stringMatching(/^[A-Za-z0-9._%+=-]{1,30}$/);
  const domain = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?){0,3}$/);
  fc.assert(
    fc.property(local, domain, (l, d) => {
      const addr = `${l}@${d}`;
      fc.pre(safeAddress(addr) !== undefined);
      const env = verpEncode(LIST.address, addr);
      assert.equal(verpDecode(env.slice(0, env.lastIndexOf('@')), 'commons'), addr);
    }),
    { numRuns: RUNS },
  );
});
