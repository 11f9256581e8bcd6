/** Bounce parsing (RFC 3464 DSNs from Postfix, qmail and Exim text bounces), VERP, grouping by domain. No sockets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseBounce, verpDecode, verpEncode } from '../../plugins/mail/outbound/index.js';
import { groupByDomain } from '../../plugins/mail/outbound/group.js';

// dist/test/unit → the sources' fixtures (not compiled, so read from the project tree).
const fixture = (name: string, crlf = false): Buffer => {
  const text = readFileSync(fileURLToPath(new URL(`../../../test/fixtures/mail-out/${name}`, import.meta.url)), 'utf8');
  return Buffer.from(crlf ? text.replace(/\r?\n/g, '\r\n') : text);
};

test("Postfix's DSN: Final-Recipient, Action, Status, Diagnostic-Code (LF and CRLF line ends)", async () => {
  for (const crlf of [false, true]) {
    const b = await parseBounce(fixture('postfix-dsn-5.1.1.eml', crlf));
    assert.deepEqual(b, {
      recipients: [
        {
          address: 'bob@example.net',
          action: 'failed',
          status: '5.1.1',
          permanent: true,
          diagnostic: '550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual mailbox table',
        },
      ],
    });
  }
});

test('a base64 delivery-status part with one failed and one delayed recipient', async () => {
  const b = await parseBounce(fixture('postfix-dsn-delayed-and-failed.eml', true));
  assert.equal(b?.recipients.length, 2);
  assert.deepEqual(b?.recipients[0], {
    address: 'carol@example.com',
    action: 'failed',
    status: '5.2.1',
    permanent: true,
    diagnostic: '550 5.2.1 <carol@example.com>: Mailbox disabled',
  });
  assert.equal(b?.recipients[1]?.address, 'dan@example.com');
  assert.equal(b?.recipients[1]?.action, 'delayed');
  assert.equal(b?.recipients[1]?.status, '4.2.2');
  assert.equal(b?.recipients[1]?.permanent, false);
});

test("qmail's and Exim's text bounces", async () => {
  const q = await parseBounce(fixture('qmail-bounce.eml'));
  assert.deepEqual(
    q?.recipients.map((r) => [r.address, r.status, r.permanent]),
    [
      ['erin@example.net', '5.1.1', true],
      ['frank@example.net', '5.7.1', true],
    ],
  );
  assert.match(q!.recipients[1]!.diagnostic!, /Relaying denied/);
  const e = await parseBounce(fixture('exim-bounce.eml', true));
  assert.deepEqual(
    e?.recipients.map((r) => [r.address, r.status, r.permanent]),
    [['grace@example.com', '5.1.1', true]],
  );
  assert.match(e!.recipients[0]!.diagnostic!, /User unknown/);
});

test('ordinary mail, an out-of-office reply and garbage are not bounces', async () => {
  assert.equal(await parseBounce(Buffer.from('From: a@b.org\r\nSubject: hi\r\n\r\nhello\r\n')), undefined);
  assert.equal(
    await parseBounce(
      Buffer.from(
        'From: a@b.org\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n',
      ),
    ),
    undefined,
  );
  assert.equal(await parseBounce(Buffer.from('\u0000\u0001 not mail at all')), undefined);
  assert.equal(
    await parseBounce(
      Buffer.from(
        'Content-Type: multipart/report; boundary="x"\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nAction: failed\r\n--x--\r\n',
      ),
    ),
    undefined,
    'a DSN naming no recipient',
  );
});

test('VERP: encode and decode round trip; not ours gives undefined', () => {
  assert.equal(
    verpEncode('commons@lists.example.org', 'alice@example.org'),
    'commons-bounces+alice=example.org@lists.example.org',
  );
  assert.equal(verpDecode('commons-bounces+alice=example.org', 'commons'), 'alice@example.org');
  assert.equal(verpDecode('Commons-Bounces+alice=example.org', 'commons'), 'alice@example.org');
  const odd = 'a=b+c@sub.example.co.uk';
  const enc = verpEncode('commons@lists.example.org', odd);
  assert.equal(verpDecode(enc.slice(0, enc.lastIndexOf('@')), 'commons'), odd);
  assert.equal(verpDecode('commons-bounces', 'commons'), undefined);
  assert.equal(verpDecode('commons-bounces+', 'commons'), undefined);
  assert.equal(verpDecode('other-bounces+alice=example.org', 'commons'), undefined);
  assert.equal(verpDecode('commons-bounces+alice=', 'commons'), undefined);
  assert.equal(verpDecode('commons-bounces+alice=exa mple.org', 'commons'), undefined);
  assert.equal(verpDecode('commons-bounces+al<ice=example.org', 'commons'), undefined);
});

test('grouping: one domain per batch, at most N each, every recipient once, case-insensitive domains', () => {
  const addrs = ['a@x.org', 'b@y.org', 'c@X.org', 'd@x.org', 'e@y.org', 'f@z.org', 'g@x.org'];
  const batches = groupByDomain(addrs, 2, (a) => a);
  assert.deepEqual(batches, [['a@x.org', 'c@X.org'], ['d@x.org', 'g@x.org'], ['b@y.org', 'e@y.org'], ['f@z.org']]);
  const many = Array.from({ length: 1234 }, (_, i) => `u${i}@d${i % 7}.example`);
  const b50 = groupByDomain(many, 50, (a) => a);
  assert.deepEqual(b50.flat().sort(), [...many].sort());
  assert.ok(b50.every((b) => b.length <= 50 && new Set(b.map((a) => a.split('@')[1])).size === 1));
  assert.equal(b50.length, 7 * Math.ceil(1234 / 7 / 50));
  assert.deepEqual(
    groupByDomain([], 50, (a: string) => a),
    [],
  );
});
