/**
 * The mail plugin's receiving side, without sockets: list addresses, tokens,
 * parsing received mail (charsets, RFC 2047, HTML-only, attachments, bad
 * input), posting policies and the command lines of a request mail.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { classify, listNameProblem, addressProblem, listAddresses } from '../../plugins/mail/lists.js';
import { signUnsubscribe, verifyUnsubscribe, confirmToken, findConfirmToken } from '../../plugins/mail/tokens.js';
import { parseMessage, isRefusal, commandLines, type ParsedMessage } from '../../plugins/mail/parse.js';
import { decide, loopOrRobot } from '../../plugins/mail/policy.js';

const LISTS = ['commons', 'dev-talk'];
const D = 'lists.example.org';

describe('list addresses', () => {
  test('each address of a list is recognised, in any case', () => {
    assert.deepEqual(classify('commons@lists.example.org', LISTS, D), {
      list: 'commons',
      kind: 'post',
      local: 'commons',
    });
    assert.equal(classify('Commons@Lists.Example.ORG', LISTS, D)?.kind, 'post');
    assert.equal(classify('commons-join@lists.example.org', LISTS, D)?.kind, 'join');
    assert.equal(classify('commons-leave@lists.example.org', LISTS, D)?.kind, 'leave');
    assert.equal(classify('commons-request@lists.example.org', LISTS, D)?.kind, 'request');
    assert.equal(classify('commons-owner@lists.example.org', LISTS, D)?.kind, 'owner');
    assert.equal(classify('commons-bounces@lists.example.org', LISTS, D)?.kind, 'bounces');
    assert.deepEqual(classify('commons-bounces+alice=example.net@lists.example.org', LISTS, D), {
      list: 'commons',
      kind: 'bounces',
      detail: 'alice=example.net',
      local: 'commons-bounces+alice=example.net',
    });
    const t = confirmToken();
    assert.deepEqual(classify(`commons-confirm+${t}@lists.example.org`, LISTS, D), {
      list: 'commons',
      kind: 'confirm',
      detail: t,
      local: `commons-confirm+${t}`,
    });
    assert.equal(classify('dev-talk-join@lists.example.org', LISTS, D)?.list, 'dev-talk');
    assert.equal(classify('dev-talk@lists.example.org', LISTS, D)?.kind, 'post');
  });

  test('anything else is not ours: other domains, other names, odd suffixes (never an open relay)', () => {
    for (const a of [
      'commons@example.org',
      'commons@lists.example.org.evil.net',
      'victim@gmail.com',
      'postmaster@lists.example.org',
      'commons-admin@lists.example.org',
      'other-join@lists.example.org',
      'commons-join+x@lists.example.org',
      'commons-confirm@lists.example.org',
      'commons-confirm+short@lists.example.org',
      'commons-bounces+@lists.example.org',
      'commons%victim.net@lists.example.org',
      '@lists.example.org',
      'commons',
      '"commons@lists.example.org"@evil.net',
    ])
      assert.equal(classify(a, LISTS, D), undefined, a);
  });

  test('list names that would collide or not be a local part are refused', () => {
    assert.equal(listNameProblem('commons'), undefined);
    assert.equal(listNameProblem('dev-talk'), undefined);
    assert.match(listNameProblem('commons-owner')!, /owner address of the list "commons"/);
    assert.match(listNameProblem('Commons')!, /lower-case/);
    assert.match(listNameProblem('a b')!, /cannot be a list name/);
    assert.match(listNameProblem('x'.repeat(31))!, /1–30/);
  });

  test('addresses of the list and plausible mail addresses', () => {
    const a = listAddresses('commons', D);
    assert.equal(a.confirm('abc'), 'commons-confirm+abc@lists.example.org');
    assert.equal(addressProblem('alice@example.org'), undefined);
    assert.equal(addressProblem('jürgen@exämple.de'), undefined);
    assert.ok(addressProblem('alice'));
    assert.ok(addressProblem('alice@localhost'));
    assert.ok(addressProblem('a b@example.org'));
    assert.ok(addressProblem('alice@example.org\r\nbcc: x@y.z'));
  });
});

describe('tokens', () => {
  const key = randomBytes(32);
  test('an unsubscribe token verifies and names its subscriber', () => {
    const t = signUnsubscribe(key, { account: 'mail.lists', list: 'commons', address: 'alice@example.org' });
    assert.match(t, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/, 'URL-safe');
    assert.deepEqual(verifyUnsubscribe(key, t), {
      account: 'mail.lists',
      list: 'commons',
      address: 'alice@example.org',
    });
  });
  test('an altered, foreign or cut-off token is refused', () => {
    const t = signUnsubscribe(key, { account: 'mail.lists', list: 'commons', address: 'alice@example.org' });
    const other = signUnsubscribe(key, { account: 'mail.lists', list: 'commons', address: 'bob@example.org' });
    const forged = `${other.split('.')[0]}.${t.split('.')[1]}`;
    assert.ok('problem' in verifyUnsubscribe(key, forged));
    assert.ok('problem' in verifyUnsubscribe(randomBytes(32), t));
    assert.ok('problem' in verifyUnsubscribe(key, t.slice(0, -3)));
    assert.ok('problem' in verifyUnsubscribe(key, ''));
  });
  test('confirmation tokens are random hex that survive in an address, and are found in a reply', () => {
    const a = confirmToken();
    assert.match(a, /^[0-9a-f]{24}$/);
    assert.notEqual(a, confirmToken());
    assert.equal(findConfirmToken(`Re: confirm ${a}`), a);
    assert.equal(findConfirmToken(`CONFIRM ${a.toUpperCase()}`), a);
    assert.equal(findConfirmToken('confirm nothing'), undefined);
  });
});

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');
async function parsed(raw: Buffer): Promise<ParsedMessage> {
  const m = await parseMessage(raw);
  assert.ok(!isRefusal(m), isRefusal(m) ? m.message : '');
  return m as ParsedMessage;
}

describe('parsing received mail', () => {
  test('text/plain preferred over HTML, RFC 2047 subject and name decoded, ids kept', async () => {
    const m = await parsed(
      crlf([
        'From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>',
        'Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=',
        'Message-ID: <abc.1@example.org>',
        'In-Reply-To: <parent@example.org>',
        'References: <root@example.org> <parent@example.org>',
        'Date: Thu, 26 Nov 2026 10:00:00 +0100',
        'MIME-Version: 1.0',
        'Content-Type: multipart/alternative; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'plain text wins',
        '--b',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<p>html loses</p>',
        '--b--',
        '',
      ]),
    );
    assert.equal(m.subject, 'Grüße aus Köln');
    assert.deepEqual(m.from, { name: 'Jürgen Müller', address: 'jm@example.org' });
    assert.equal(m.body, 'plain text wins');
    assert.equal(m.id, 'abc.1@example.org');
    assert.equal(m.inReplyTo, 'parent@example.org');
    assert.deepEqual(m.references, ['root@example.org', 'parent@example.org']);
    assert.equal(m.date?.toISOString(), '2026-11-26T09:00:00.000Z');
  });

  test('HTML-only mail becomes readable text; Latin-1 becomes UTF-8', async () => {
    const m = await parsed(
      Buffer.from(
        [
          'From: a@example.org',
          'Subject: =?ISO-8859-1?Q?caf=E9?=',
          'Content-Type: text/html; charset=iso-8859-1',
          '',
          '<html><body><p>Hello <b>w\xe9rld</b></p><ul><li>one</li><li>two</li></ul><script>x()</script></body></html>',
          '',
        ].join('\r\n'),
        'latin1',
      ),
    );
    assert.equal(m.subject, 'café');
    assert.match(m.body, /Hello wérld/);
    assert.match(m.body, /one[\s\S]*two/);
    assert.doesNotMatch(m.body, /<|>|x\(\)/);
  });

  test('attachments are listed with name, type and size', async () => {
    const data = Buffer.alloc(3000, 7).toString('base64').replace(/.{76}/g, '$&\r\n');
    const m = await parsed(
      crlf([
        'From: a@example.org',
        'Subject: files',
        'Content-Type: multipart/mixed; boundary="x"',
        '',
        '--x',
        'Content-Type: text/plain',
        '',
        'see attached',
        '--x',
        'Content-Type: application/pdf; name="=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?="',
        'Content-Disposition: attachment; filename="=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?="',
        'Content-Transfer-Encoding: base64',
        '',
        data,
        '--x--',
        '',
      ]),
    );
    assert.equal(m.body, 'see attached');
    assert.deepEqual(m.attachments, [{ filename: 'résumé.pdf', contentType: 'application/pdf', size: 3000 }]);
  });

  test('a subject with an injected "\\r\\nBcc:" line stays one line; the Bcc is only a header we ignore', async () => {
    const m = await parsed(crlf(['From: a@example.org', 'Subject: hello', 'Bcc: victim@example.net', '', 'body', '']));
    assert.equal(m.subject, 'hello');
    const folded = await parsed(
      crlf(['From: a@example.org', 'Subject: =?UTF-8?Q?hi=0D=0ABcc=3A_victim=40example=2Enet?=', '', 'body', '']),
    );
    assert.doesNotMatch(folded.subject, /[\r\n]/);
    assert.equal(folded.subject, 'hi Bcc: victim@example.net');
  });

  test('bare CR and bare LF in the body become plain line ends; NULs are dropped', async () => {
    const m = await parsed(
      Buffer.from('From: a@example.org\r\nSubject: x\r\n\r\none\rtwo\nthree\r\nfour\x00five\r\n', 'latin1'),
    );
    assert.equal(m.body, 'one\ntwo\nthree\nfourfive');
  });

  test('8-bit UTF-8 headers (SMTPUTF8) are read as UTF-8', async () => {
    const m = await parsed(Buffer.from('From: Zoë <zoë@exämple.org>\r\nSubject: ünïcödé\r\n\r\nhi\r\n', 'utf8'));
    assert.equal(m.subject, 'ünïcödé');
    assert.equal(m.from?.name, 'Zoë');
  });

  test('refused with a clear code: two Message-IDs, two Froms, a 100 KB header', async () => {
    const two = await parseMessage(
      crlf(['From: a@example.org', 'Message-ID: <a@x.org>', 'Message-ID: <b@x.org>', '', 'x', '']),
    );
    assert.ok(isRefusal(two));
    assert.equal(two.code, 554);
    assert.match(two.message, /2 Message-ID headers/);
    const froms = await parseMessage(crlf(['From: a@example.org', 'From: b@example.org', '', 'x', '']));
    assert.ok(isRefusal(froms) && /From headers/.test(froms.message));
    const big = await parseMessage(crlf(['From: a@example.org', `X-Big: ${'a'.repeat(100 * 1024)}`, '', 'x', '']));
    assert.ok(isRefusal(big));
    assert.equal(big.code, 552);
    assert.match(big.message, /header section is 100 KB/);
  });

  test('a missing or unusable Message-ID is not an error: the core mints one', async () => {
    const none = await parsed(crlf(['From: a@example.org', 'Subject: x', '', 'x', '']));
    assert.equal(none.id, undefined);
    const bad = await parsed(crlf(['From: a@example.org', 'Message-ID: <no at sign>', '', 'x', '']));
    assert.equal(bad.id, undefined);
    assert.match(bad.idNote!, /a new Message-ID was given/);
  });

  test('malformed MIME is read as far as it goes, never thrown', async () => {
    const m = await parsed(
      crlf([
        'From: a@example.org',
        'Content-Type: multipart/mixed; boundary="never"',
        'Content-Transfer-Encoding: base64',
        '',
        '--wrong',
        '%%% not base64 %%%',
        '',
      ]),
    );
    assert.equal(typeof m.body, 'string');
    const junk = await parseMessage(randomBytes(4096));
    assert.ok(isRefusal(junk) || typeof (junk as ParsedMessage).body === 'string');
  });

  test('robots and loops are seen: Auto-Submitted, Precedence: bulk, List-Id, X-Loop', async () => {
    const auto = await parsed(crlf(['From: a@example.org', 'Auto-Submitted: auto-replied', '', 'away', '']));
    assert.equal(auto.autoSubmitted, true);
    const no = await parsed(crlf(['From: a@example.org', 'Auto-Submitted: no', '', 'hi', '']));
    assert.equal(no.autoSubmitted, false);
    const bulk = await parsed(crlf(['From: a@example.org', 'Precedence: bulk', '', 'x', '']));
    assert.equal(bulk.autoSubmitted, true);
    const loop = await parsed(
      crlf([
        'From: a@example.org',
        'List-Id: The commons <commons.lists.example.org>',
        'X-Loop: commons@lists.example.org',
        '',
        'x',
        '',
      ]),
    );
    assert.deepEqual(loop.listIds, ['commons.lists.example.org']);
    assert.match(loopOrRobot(loop, 'commons.lists.example.org', 'commons@lists.example.org')!, /List-Id/);
    assert.match(
      loopOrRobot({ ...loop, listIds: [] }, 'commons.lists.example.org', 'commons@lists.example.org')!,
      /X-Loop/,
    );
    assert.equal(
      loopOrRobot(
        { ...loop, listIds: ['other.example.net'], xLoops: [] },
        'commons.lists.example.org',
        'commons@lists.example.org',
      ),
      undefined,
    );
    assert.match(loopOrRobot(auto, 'commons.lists.example.org', 'commons@lists.example.org')!, /automatic/);
    const ours = await parsed(crlf(['From: a@example.org', 'X-Peerpost-Node: Node.Test.Example', '', 'x', '']));
    assert.deepEqual(ours.nodes, ['node.test.example']);
    assert.match(
      loopOrRobot(ours, 'commons.lists.example.org', 'commons@lists.example.org', 'node.test.example')!,
      /this node wrote it/,
    );
    assert.equal(
      loopOrRobot(ours, 'commons.lists.example.org', 'commons@lists.example.org', 'other.example'),
      undefined,
    );
  });
});

describe('posting policy', () => {
  const who = (member: boolean, owner = false) => ({ member, owner, address: 'x@example.org' });
  test('members (the default): members post, others are held', () => {
    assert.equal(decide('members', who(true), 'commons').action, 'post');
    assert.deepEqual(decide('members', who(false), 'commons'), {
      action: 'hold',
      reason: 'x@example.org is not subscribed to commons',
    });
  });
  test('open, moderated, announce; owners always post', () => {
    assert.equal(decide('open', who(false), 'c').action, 'post');
    assert.equal(decide('moderated', who(true), 'c').action, 'hold');
    assert.equal(decide('announce', who(true), 'c').action, 'refuse');
    for (const p of ['members', 'open', 'moderated', 'announce'] as const)
      assert.equal(decide(p, who(false, true), 'c').action, 'post', p);
  });
});

describe('commands of a request mail', () => {
  test('the subject, then the first body lines; quotes and signature skipped', () => {
    assert.deepEqual(commandLines('Re: subscribe', '> quoted\nhelp\nunsubscribe\n\nlater text\n-- \nsig'), [
      'subscribe',
      'help',
      'unsubscribe',
    ]);
    assert.deepEqual(commandLines('', 'help\n-- \nAlice'), ['help']);
  });
});

describe('endpoint checks (peerpost check)', async () => {
  const { endpointProblem, default: plugin } = await import('../../plugins/mail/index.js');
  const e = (target: string, options: Record<string, unknown> = {}) => ({
    key: `mail.lists/${target}`,
    target,
    direction: 'inout' as const,
    options,
  });
  test('announce and moderated lists need owners; list names are checked', () => {
    assert.equal(endpointProblem(e('commons')), undefined);
    assert.match(endpointProblem(e('news', { policy: 'announce' }))!, /policy "announce" needs owners/);
    assert.match(endpointProblem(e('mod', { policy: 'moderated', owners: [] }))!, /needs owners/);
    assert.equal(endpointProblem(e('news', { policy: 'announce', owners: ['a@example.org'] })), undefined);
    assert.match(endpointProblem(e('x-owner'))!, /ends with "-owner"/);
  });
  test('the endpoint schema refuses unknown keys and bad owners; the join hint names the addresses', () => {
    assert.ok(!plugin.endpoint!.safeParse({ polciy: 'open' }).success);
    assert.ok(!plugin.endpoint!.safeParse({ owners: ['not an address'] }).success);
    assert.ok(plugin.endpoint!.safeParse({ policy: 'open', owners: ['a@example.org'], subjectTag: false }).success);
    const cfg = plugin.account.parse({ domain: 'lists.example.org' });
    assert.equal(
      plugin.joinHint!('commons', cfg, { hostname: 'node.example' }),
      'commons@lists.example.org (subscribe: commons-join@lists.example.org)',
    );
    assert.deepEqual(
      [cfg.listen, cfg.maxSize, cfg.subscription.expire, cfg.bounces.threshold],
      [{ host: '127.0.0.1', port: 2525 }, 10 * 1024 * 1024, 3 * 86_400_000, 5],
    );
  });
});
