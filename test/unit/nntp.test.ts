/**
 * The nntp plugin without sockets: command parsing, wildmats, dot-stuffing,
 * RFC 2047, article rendering and overview, parsing a posted article, and a
 * whole session against a backend in memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Post } from '../../src/plugin.js';
import {
  bodyText,
  decodeWords,
  dotStuff,
  encodeWords,
  groupProblem,
  header,
  msgIds,
  nntpDate,
  parseCommand,
  parseDateTime,
  parseFrom,
  parseRange,
  rfc5322Date,
  splitArticle,
  unstuffLine,
  wildmat,
} from '../../plugins/nntp/text.js';
import {
  articleText,
  fromHeader,
  headerValue,
  overviewLine,
  renderArticle,
  subjectOf,
} from '../../plugins/nntp/article.js';
import { Session, articleAnswer, type Backend, type Received } from '../../plugins/nntp/session.js';
import { checkPassword, hashPassword } from '../../plugins/nntp/index.js';

const post = (over: Partial<Post> = {}): Post => ({
  id: 'abc@test.example',
  bridge: 'commons',
  origin: { account: 'irc.x', target: '#c' },
  author: { name: 'alice', via: 'irc' },
  body: 'hello',
  kind: 'message',
  references: [],
  hops: 0,
  date: '2026-11-27T06:20:52.000Z',
  attachments: [],
  ...over,
});

test('command lines: verb in any case, arguments split on spaces and tabs', () => {
  assert.deepEqual(parseCommand('group  peerpost.commons'), { verb: 'GROUP', args: ['peerpost.commons'] });
  assert.deepEqual(parseCommand('list\tactive peerpost.*'), { verb: 'LIST', args: ['active', 'peerpost.*'] });
  assert.deepEqual(parseCommand('   '), { verb: '', args: [] });
  assert.deepEqual(parseRange('5'), { low: 5, high: 5 });
  assert.deepEqual(parseRange('5-'), { low: 5, high: Number.MAX_SAFE_INTEGER });
  assert.deepEqual(parseRange('5-9'), { low: 5, high: 9 });
  assert.equal(parseRange('x-9'), undefined);
  assert.equal(parseRange('-9'), undefined);
});

test('group names and wildmats', () => {
  assert.equal(groupProblem('peerpost.commons'), undefined);
  assert.equal(groupProblem('a.b+c_d-e.9'), undefined);
  for (const bad of ['', 'Peerpost.Commons', 'a..b', '.a', 'a.', 'a b', 'a*b', 'a,b', 'a!b', 'a?b', 'a[b]', 'a\\b'])
    assert.ok(groupProblem(bad), `"${bad}" is refused`);
  const m = wildmat('peerpost.*,!peerpost.private*');
  assert.equal(m('peerpost.commons'), true);
  assert.equal(m('peerpost.private.x'), false);
  assert.equal(m('alt.test'), false);
  assert.equal(wildmat('*')('anything'), true);
  assert.equal(wildmat('a?c')('abc'), true);
  assert.equal(wildmat('a[bx]c')('axc'), true);
  assert.equal(wildmat('a[^b]c')('abc'), false);
  assert.equal(wildmat('a.c')('abc'), false, 'a dot is literal');
  assert.equal(wildmat('a\\*c')('a*c'), true);
});

test('dot-stuffing both ways, CRLF line ends', () => {
  assert.equal(dotStuff('a\n.b\n..c'), 'a\r\n..b\r\n...c\r\n.\r\n');
  assert.equal(dotStuff('x\r\n.\r\n'), 'x\r\n..\r\n.\r\n', 'a lone dot in the text is stuffed');
  assert.equal(unstuffLine('..b'), '.b');
  assert.equal(unstuffLine('.'), '.');
  assert.equal(unstuffLine('b'), 'b');
});

test('RFC 2047: encode non-ASCII in UTF-8 B words of at most 75 characters; decode Q and B, several charsets', () => {
  assert.equal(encodeWords('plain'), 'plain');
  assert.equal(encodeWords('Jürgen'), '=?UTF-8?B?SsO8cmdlbg==?=');
  const long = encodeWords('ä'.repeat(100));
  for (const w of long.split(' ')) assert.ok(w.length <= 75, w);
  assert.equal(decodeWords(long), 'ä'.repeat(100));
  assert.equal(decodeWords('=?ISO-8859-1?Q?R=E9ponse_ici?='), 'Réponse ici');
  assert.equal(
    decodeWords('=?utf-8?q?J=C3=BCrgen?= =?utf-8?b?IQ==?= x'),
    'Jürgen! x',
    'space between two encoded words goes',
  );
  assert.equal(decodeWords('=?koi8-r?B?xxx?='), '=?koi8-r?B?xxx?=', 'an unknown charset stays as written');
});

test('dates: RFC 5322, DATE, NEWNEWS date and time', () => {
  assert.equal(rfc5322Date(new Date('2026-11-27T06:20:52Z')), 'Fri, 27 Nov 2026 06:20:52 +0000');
  assert.equal(nntpDate(new Date('2026-11-27T06:20:52Z')), '20261127062052');
  assert.equal(parseDateTime('20261127', '062052'), Date.UTC(2026, 10, 27, 6, 20, 52));
  assert.equal(parseDateTime('261127', '062052'), Date.UTC(2026, 10, 27, 6, 20, 52));
  assert.equal(parseDateTime('20261327', '062052'), undefined);
  assert.equal(parseDateTime('2026112', '062052'), undefined);
});

test('a post as an article: headers, From forms, subjects, references, the body', () => {
  const p = post({ subject: 'Hi', references: ['r1@x', 'r2@x'], inReplyTo: 'r2@x', body: 'one\n.two\n\x1b[31mred' });
  const a = renderArticle(p, { hostname: 'news.example', group: 'peerpost.commons', number: 7 });
  const text = articleText(a);
  assert.match(text, /^Path: news\.example!not-for-mail\r\n/);
  assert.match(text, /\r\nFrom: alice <alice@invalid>\r\n/);
  assert.match(text, /\r\nNewsgroups: peerpost\.commons\r\n/);
  assert.match(text, /\r\nDate: Fri, 27 Nov 2026 06:20:52 \+0000\r\n/);
  assert.match(text, /\r\nMessage-ID: <abc@test\.example>\r\n/);
  assert.match(text, /\r\nReferences: <r1@x> <r2@x>\r\nIn-Reply-To: <r2@x>\r\n/);
  assert.match(text, /\r\nXref: news\.example peerpost\.commons:7\r\n/);
  assert.match(text, /\r\nContent-Type: text\/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n/);
  assert.match(text, /\r\n\r\none\r\n\.two\r\n\[31mred$/, 'control characters are stripped from the body');
  assert.equal(headerValue(a, ':lines'), '3');
  assert.equal(headerValue(a, ':bytes'), String(Buffer.byteLength(text) + 2));
  // Long References fold, and unfold for HDR/OVER.
  const many = renderArticle(
    post({ references: Array.from({ length: 10 }, (_, i) => `ref${i}.abcdefgh@host.example`) }),
    { hostname: 'h', group: 'g', number: 1 },
  );
  const refs = many.headers.find(([k]) => k === 'References')![1];
  assert.ok(refs.includes('\r\n '), 'folded');
  for (const l of `References: ${refs}`.split('\r\n')) assert.ok(l.length <= 78, l);
  assert.equal(headerValue(many, 'references')!.split(' ').length, 10);

  assert.equal(
    fromHeader({ name: 'Jürgen', address: 'j@example.org', via: 'mail' }),
    '=?UTF-8?B?SsO8cmdlbg==?= <j@example.org>',
  );
  assert.equal(fromHeader({ name: 'Smith, J.', address: 'j@example.org', via: 'mail' }), '"Smith, J." <j@example.org>');
  assert.equal(fromHeader({ name: '[bot]', via: 'irc' }), '"[bot]" <bot@invalid>');
  assert.equal(subjectOf(post({ body: '\nfirst line\nsecond' })), 'first line');
  assert.equal(subjectOf(post({ body: '' })), '(no subject)');
  assert.equal(subjectOf(post({ subject: 'a\r\nBcc: x' })), 'a Bcc: x', 'no header injection');
  assert.equal(subjectOf(post({ kind: 'action', body: 'waves' })), '* alice waves');
  assert.ok([...subjectOf(post({ body: 'x'.repeat(200) }))].length <= 72);
});

test('overview lines hold what the article says: each field as HDR gives it, :bytes the octets ARTICLE sends', () => {
  const many = Array.from({ length: 30 }, (_, i) => `ref${i}@somewhere.example`);
  const cases = [
    post({ subject: 'tab\there', references: ['r@x'] }),
    post({ subject: 'Grüße — ünïcödé', body: 'héllo\n\nwörld\n', references: many }),
    post({ body: '' }),
    post({ kind: 'action', body: 'waves', attachments: [{ filename: 'a.txt', contentType: 'text/plain', size: 3 }] }),
  ];
  for (const p of cases) {
    const a = renderArticle(p, { hostname: 'news.example', group: 'g', number: 5, fileUrl: () => 'https://x/f' });
    const f = overviewLine(a, 5).split('\t');
    const hv = (n: string) => (headerValue(a, n) ?? '').replace(/[\r\n]+/g, ' ').replace(/\t/g, ' ');
    assert.deepEqual(f.slice(1, 6), ['Subject', 'From', 'Date', 'Message-ID', 'References'].map(hv));
    assert.equal(Number(f[6]), Buffer.byteLength(articleText(a)) + 2, ':bytes');
    assert.equal(Number(f[7]), a.body.length, ':lines');
    assert.equal(f[8], `Xref: ${hv('Xref')}`);
  }
});

test('overview lines: tab-separated in OVERVIEW.FMT order, no tabs or line ends inside', () => {
  const a = renderArticle(post({ subject: 'tab\there', references: ['r@x'] }), {
    hostname: 'h',
    group: 'g',
    number: 3,
  });
  const f = overviewLine(a, 3).split('\t');
  assert.equal(f.length, 9);
  assert.deepEqual(
    [f[0], f[1], f[2], f[3], f[4], f[5]],
    ['3', 'tab here', 'alice <alice@invalid>', 'Fri, 27 Nov 2026 06:20:52 +0000', '<abc@test.example>', '<r@x>'],
  );
  assert.match(f[6]!, /^\d+$/);
  assert.equal(f[7], '1');
  assert.equal(f[8], 'Xref: h g:3');
});

test('a posted article: unfolding, From forms, Message-IDs, charsets and transfer encodings', () => {
  const raw = Buffer.from(
    'From: "Doe, J." <j@example.org>\r\nSubject: a long\r\n  folded subject\r\nNewsgroups: g\r\nReferences: <a@x>\r\n <b@x>\r\nContent-Type: text/plain; charset="iso-8859-1"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 =\r\nau lait\r\n',
  );
  const a = splitArticle(raw);
  assert.ok(typeof a !== 'string');
  assert.equal(header(a, 'subject'), 'a long folded subject');
  assert.deepEqual(msgIds(header(a, 'References')), ['a@x', 'b@x']);
  assert.deepEqual(parseFrom(header(a, 'From')!), { name: 'Doe, J.', address: 'j@example.org' });
  assert.equal(bodyText(a), 'café au lait');
  assert.deepEqual(parseFrom('j@example.org (Jay)'), { name: 'Jay', address: 'j@example.org' });
  assert.deepEqual(parseFrom('j@example.org'), { name: 'j', address: 'j@example.org' });
  assert.deepEqual(parseFrom('=?utf-8?q?J=C3=BCrgen?= <j@x.org>'), { name: 'Jürgen', address: 'j@x.org' });
  const b64 = splitArticle(
    Buffer.from('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nSsO8cmdlbg==\r\n'),
  );
  assert.ok(typeof b64 !== 'string');
  assert.equal(bodyText(b64), 'Jürgen');
  const html = splitArticle(Buffer.from('Content-Type: text/html\r\n\r\n<p>x</p>\r\n'));
  assert.ok(typeof html !== 'string');
  assert.deepEqual(bodyText(html), { problem: 'only text/plain articles are taken here, not text/html' });
  const kr = splitArticle(Buffer.from('Content-Type: text/plain; charset=koi8-r\r\n\r\nx\r\n'));
  assert.ok(typeof kr !== 'string' && typeof bodyText(kr) !== 'string');
  assert.match(splitArticle(Buffer.from(' leading continuation\r\n\r\nx')) as string, /continuation/);
  assert.match(splitArticle(Buffer.from('not a header\r\n\r\nx')) as string, /not "Name: value"/);
});

test('passwords: scrypt hashes and plain values, wrong ones and unknown users refused', async () => {
  const h = await hashPassword('s3cret');
  assert.match(h, /^scrypt\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.equal(await checkPassword('s3cret', h), true);
  assert.equal(await checkPassword('s3cre', h), false);
  assert.equal(await checkPassword('plain', 'plain'), true);
  assert.equal(await checkPassword('plai', 'plain'), false);
  assert.equal(await checkPassword('', undefined), false);
});

/** A backend in memory: one group with articles 1..3 (2 removed: a gap), one read-only group. */
function memory(policy: 'yes' | 'after-auth' | 'no' = 'yes'): Backend & { posted: Buffer[] } {
  const posts = new Map<number, Post>(
    [1, 3, 4].map((n) => [n, post({ id: `n${n}@h`, subject: `S${n}`, body: `body ${n}\n.dotted` })]),
  );
  const posted: Buffer[] = [];
  return {
    posted,
    hostname: 'news.example',
    groups: () => [
      {
        name: 'peerpost.commons',
        description: 'The commons',
        count: 3,
        low: 1,
        high: 4,
        postable: true,
        created: Date.UTC(2026, 0, 1),
      },
      {
        name: 'peerpost.news',
        description: 'News',
        count: 0,
        low: 1,
        high: 0,
        postable: false,
        created: Date.UTC(2026, 5, 1),
      },
    ],
    group(name) {
      return this.groups().find((g) => g.name === name);
    },
    numbers: (g, lo, hi) => (g === 'peerpost.commons' ? [...posts.keys()].filter((n) => n >= lo && n <= hi) : []),
    overview: (g, lo, hi) =>
      g === 'peerpost.commons'
        ? [...posts]
            .filter(([n]) => n >= lo && n <= hi)
            .map(([n, p]) => overviewLine(renderArticle(p, { hostname: 'news.example', group: g, number: n }), n))
        : [],
    article: (g, n) => (g === 'peerpost.commons' ? posts.get(n) : undefined),
    byId: (id) => {
      for (const [n, p] of posts) if (p.id === id) return { post: p, group: 'peerpost.commons', number: n };
      return undefined;
    },
    newnews: (match, since) => (match('peerpost.commons') && since < Date.now() ? ['n1@h', 'n3@h', 'n4@h'] : []),
    mayPost: (_r, user) => (user ? 'yes' : policy),
    hasUsers: () => true,
    tls: false,
    isLoopback: (r) => r === '127.0.0.1',
    authenticate: async (u, p) => u === 'alice' && p === 'pw',
    receive: async (raw, _who, offered) => {
      posted.push(raw);
      return offered ? { status: 'taken', id: offered } : { status: 'taken' };
    },
    has: (id) => id === 'n1@h',
    writable: () => writable.now,
  };
}
const writable = { now: true };

test('a session: every reader command with its response codes', async () => {
  const s = new Session(memory(), '127.0.0.1');
  const h = async (l: string) => (await s.handle(l)).text;
  assert.match(s.greeting(), /^200 /);
  assert.match(
    await h('CAPABILITIES'),
    /^101 .*\r\nVERSION 2\r\nREADER\r\n[\s\S]*POST\r\nIHAVE\r\nAUTHINFO USER\r\n\.\r\n$/,
  );
  assert.match(await h('mode reader'), /^200 /);
  assert.equal(
    await h('LIST'),
    '215 list of newsgroups follows\r\npeerpost.commons 4 1 y\r\npeerpost.news 0 1 n\r\n.\r\n',
  );
  assert.equal(await h('LIST ACTIVE *.news'), '215 list of newsgroups follows\r\npeerpost.news 0 1 n\r\n.\r\n');
  assert.equal(
    await h('LIST NEWSGROUPS'),
    '215 descriptions follow\r\npeerpost.commons\tThe commons\r\npeerpost.news\tNews\r\n.\r\n',
  );
  assert.match(
    await h('LIST OVERVIEW.FMT'),
    /^215 [^\r]*\r\nSubject:\r\nFrom:\r\nDate:\r\nMessage-ID:\r\nReferences:\r\n:bytes\r\n:lines\r\nXref:full\r\n\.\r\n$/,
  );
  assert.match(await h('LIST HEADERS'), /^215 [^\r]*\r\n:\r\n:bytes\r\n:lines\r\n\.\r\n$/);
  assert.equal(
    await h('LIST ACTIVE.TIMES'),
    '215 information follows\r\npeerpost.commons 1767225600 peerpost\r\npeerpost.news 1780272000 peerpost\r\n.\r\n',
  );
  assert.equal(
    await h('LIST ACTIVE.TIMES peerpost.n*'),
    '215 information follows\r\npeerpost.news 1780272000 peerpost\r\n.\r\n',
  );
  assert.equal(await h('LIST DISTRIB.PATS'), '215 information follows\r\n.\r\n');
  assert.match(await h('LIST DISTRIB.PATS x'), /^501 /);
  assert.match(await h('STARTTLS'), /^580 /, 'no certificate: no TLS');
  assert.match(await h('LIST BOGUS'), /^501 /);
  assert.match(await h('ARTICLE'), /^412 /);
  assert.match(await h('NEXT'), /^412 /);
  assert.equal(await h('GROUP peerpost.news'), '211 0 1 0 peerpost.news\r\n');
  assert.match(await h('ARTICLE'), /^420 /);
  assert.equal(await h('GROUP nope'), '411 no such newsgroup\r\n');
  assert.equal(await h('LISTGROUP peerpost.commons 2-'), '211 3 1 4 peerpost.commons list follows\r\n3\r\n4\r\n.\r\n');
  assert.equal(await h('GROUP peerpost.commons'), '211 3 1 4 peerpost.commons\r\n');
  assert.equal(await h('STAT'), '223 1 <n1@h>\r\n');
  assert.equal(await h('NEXT'), '223 3 <n3@h>\r\n', 'NEXT skips the gap');
  assert.equal(await h('LAST'), '223 1 <n1@h>\r\n');
  assert.match(await h('LAST'), /^422 /);
  assert.match(await h('ARTICLE 2'), /^423 /);
  assert.match(await h('ARTICLE <none@h>'), /^430 /);
  assert.match(await h('ARTICLE <bad id>'), /^501 /);
  const art = await h('ARTICLE 4');
  assert.match(
    art,
    /^220 4 <n4@h>\r\nPath: news\.example!not-for-mail\r\n[\s\S]*\r\n\r\nbody 4\r\n\.\.dotted\r\n\.\r\n$/,
  );
  assert.match(
    await h('HEAD <n3@h>'),
    /^221 0 <n3@h>\r\n[\s\S]*Xref: news\.example peerpost\.commons:3\r\n[\s\S]*\.\r\n$/,
  );
  assert.equal(await h('BODY 3'), '222 3 <n3@h>\r\nbody 3\r\n..dotted\r\n.\r\n');
  assert.equal(await h('STAT'), '223 3 <n3@h>\r\n', 'ARTICLE/BODY by number move the current article');
  const over = await h('OVER 1-4');
  assert.match(over, /^224 [^\r]*\r\n1\tS1\t[^\r]*\r\n3\tS3\t[^\r]*\r\n4\tS4\t[^\r]*\r\n\.\r\n$/);
  assert.equal((await h('XOVER 3')).split('\r\n').length, 4);
  assert.match(await h('OVER <n4@h>'), /^224 [^\r]*\r\n0\tS4\t/);
  assert.match(await h('XOVER <n4@h>'), /^501 /);
  assert.match(await h('OVER 10-20'), /^423 /);
  assert.equal(await h('HDR Subject 1-'), '225 headers follow\r\n1 S1\r\n3 S3\r\n4 S4\r\n.\r\n');
  assert.equal(await h('XHDR subject 3'), '221 subject fields follow\r\n3 S3\r\n.\r\n');
  assert.match(await h('HDR :lines <n1@h>'), /^225 [^\r]*\r\n0 2\r\n\.\r\n$/);
  assert.equal(
    await h('NEWNEWS peerpost.* 20000101 000000 GMT'),
    '230 list of new articles follows\r\n<n1@h>\r\n<n3@h>\r\n<n4@h>\r\n.\r\n',
  );
  assert.equal(
    await h('NEWGROUPS 20260301 000000'),
    '231 list of new newsgroups follows\r\npeerpost.news 0 1 n\r\n.\r\n',
  );
  assert.match(await h('NEWGROUPS 2026 0'), /^501 /);
  assert.match(await h('DATE'), /^111 \d{14}\r\n$/);
  assert.match(await h('HELP'), /^100 [\s\S]*\r\n\.\r\n$/);
  assert.match(await h('FOO'), /^500 /);
  const p = await s.handle('POST');
  assert.equal(p.then, 'article');
  assert.match(p.text, /^340 /);
  assert.equal(await s.article(Buffer.from('x')), '240 article received OK');
  const q = await s.handle('quit');
  assert.deepEqual(q, { text: '205 closing connection\r\n', then: 'close' });
});

test('a session: the posting policy in the greeting, CAPABILITIES and POST; AUTHINFO', async () => {
  const s = new Session(memory('after-auth'), '192.0.2.1');
  const h = async (l: string) => (await s.handle(l)).text;
  assert.match(s.greeting(), /^201 /);
  assert.doesNotMatch(await h('CAPABILITIES'), /\r\nPOST\r\n/);
  assert.equal(await h('POST'), '480 authentication required to post\r\n');
  assert.equal(await h('AUTHINFO PASS pw'), '482 AUTHINFO USER first\r\n');
  assert.match(await h('AUTHINFO SASL PLAIN'), /^501 /);
  assert.equal(await h('AUTHINFO USER alice'), '381 password required\r\n');
  assert.equal(await h('AUTHINFO PASS wrong'), '481 authentication failed\r\n');
  assert.equal(await h('AUTHINFO USER alice'), '381 password required\r\n');
  assert.equal(await h('AUTHINFO PASS pw'), '281 authentication accepted\r\n');
  assert.match(await h('CAPABILITIES'), /\r\nPOST\r\n/);
  assert.doesNotMatch(await h('CAPABILITIES'), /AUTHINFO/);
  assert.match(await h('AUTHINFO USER alice'), /^502 /);
  assert.match(await h('MODE READER'), /^200 /);
  assert.match(await h('POST'), /^340 /);
  const none = new Session(memory('no'), '192.0.2.1');
  assert.match(none.greeting(), /^201 /);
  assert.equal((await none.handle('POST')).text, '440 posting not permitted\r\n');
});

test('a session: IHAVE offers an article by id (RFC 3977 6.3.2): 335 and 235, 435 when we have it, 436 when the disk is full, 480/502 by the posting policy', async () => {
  const b = memory('after-auth');
  const s = new Session(b, '192.0.2.7');
  const h = async (l: string) => (await s.handle(l)).text;
  assert.equal(await h('IHAVE <x@feed>'), '480 authentication required to transfer articles\r\n');
  assert.doesNotMatch(await h('CAPABILITIES'), /\r\nIHAVE\r\n/);
  assert.match(await h('AUTHINFO USER alice'), /^381 /);
  assert.match(await h('AUTHINFO PASS pw'), /^281 /);
  assert.match(await h('CAPABILITIES'), /\r\nIHAVE\r\n/);
  assert.match(await h('IHAVE'), /^501 /);
  assert.match(await h('IHAVE x@feed'), /^501 /, 'a message-id in angle brackets');
  assert.equal(await h('IHAVE <n1@h>'), '435 article not wanted: we have it\r\n');
  writable.now = false;
  try {
    assert.match(await h('IHAVE <x@feed>'), /^436 .*disk full.*try again later\r\n$/);
  } finally {
    writable.now = true;
  }
  const r = await s.handle('IHAVE <x@feed>');
  assert.match(r.text, /^335 /);
  assert.equal(r.then, 'article');
  assert.equal(
    await s.article(Buffer.from('Message-ID: <x@feed>\r\n\r\nhi\r\n')),
    '235 article transferred OK <x@feed>',
  );
  assert.equal(b.posted.length, 1);
  // The next article is a POST's again, and an article over the limit is refused with the code of what asked for it.
  assert.match((await s.handle('POST')).text, /^340 /);
  assert.equal(await s.article(Buffer.from('x')), '240 article received OK');
  await s.handle('IHAVE <big@feed>');
  assert.equal(s.tooBig(100), '437 the article is larger than 100 octets');
  await s.handle('POST');
  assert.equal(s.tooBig(100), '441 the article is larger than 100 octets');
  const none = new Session(memory('no'), '192.0.2.7');
  assert.equal((await none.handle('IHAVE <x@feed>')).text, '502 transfer not permitted\r\n');
});

test('an article is answered by what became of it, in the codes of the command: POST 240/441/403, IHAVE 235/437/436', async () => {
  const cases: [Received, string, string][] = [
    [{ status: 'taken', id: 'a@feed' }, '240 article received OK <a@feed>', '235 article transferred OK <a@feed>'],
    [
      { status: 'taken', note: 'not relayed (a filter)' },
      '240 article received OK, not relayed (a filter)',
      '235 article transferred OK, not relayed (a filter)',
    ],
    [
      { status: 'rejected', code: 'duplicate', reason: 'duplicate: <a@feed> was posted already' },
      '441 duplicate: <a@feed> was posted already',
      '437 duplicate: <a@feed> was posted already',
    ],
    [
      { status: 'rejected', code: 'loop', reason: 'the Path already holds us' },
      '441 the Path already holds us',
      '437 the Path already holds us',
    ],
    [
      { status: 'tempfail', code: 'store-full', reason: 'the disk is full' },
      '403 the disk is full; try again later',
      '436 the disk is full; try again later',
    ],
    [
      { status: 'tempfail', code: 'shutting-down', reason: 'peerpost is shutting down' },
      '403 peerpost is shutting down; try again later',
      '436 peerpost is shutting down; try again later',
    ],
    // The wording decides nothing: a refusal whose reason reads like a success is still a refusal.
    [
      { status: 'rejected', code: 'invalid', reason: '240 article received OK' },
      '441 240 article received OK',
      '437 240 article received OK',
    ],
  ];
  for (const [received, post, ihave] of cases) {
    assert.equal(articleAnswer('post', received), post);
    assert.equal(articleAnswer('ihave', received), ihave);
    // Through a session: the backend says what became of the article, the session writes the line.
    const b = { ...memory(), receive: async () => received };
    const s = new Session(b, '127.0.0.1');
    assert.match((await s.handle('POST')).text, /^340 /);
    assert.equal(await s.article(Buffer.from('x')), post);
    assert.match((await s.handle('IHAVE <a@feed>')).text, /^335 /);
    assert.equal(await s.article(Buffer.from('x')), ihave);
  }
  // 435 comes before the article: an offer of one we hold is not wanted at all.
  const s = new Session(memory(), '127.0.0.1');
  assert.equal((await s.handle('IHAVE <n1@h>')).text, '435 article not wanted: we have it\r\n');
});

test('a session with a certificate: STARTTLS offered and answered 382; AUTHINFO from afar waits for TLS (483), loopback does not', async () => {
  const far = new Session({ ...memory('after-auth'), tls: true }, '192.0.2.1');
  const h = async (l: string) => (await far.handle(l)).text;
  const caps = await h('CAPABILITIES');
  assert.match(caps, /\r\nSTARTTLS\r\n/);
  assert.doesNotMatch(caps, /AUTHINFO/, 'AUTHINFO is not offered in clear to a remote client');
  assert.equal(await h('AUTHINFO USER alice'), '483 encryption required: STARTTLS first\r\n');
  assert.match(await h('STARTTLS now'), /^501 /);
  const r = await far.handle('STARTTLS');
  assert.deepEqual(r, { text: '382 continue with TLS negotiation\r\n', then: 'starttls' });
  far.secure = true; // what the server does once the handshake is done
  assert.doesNotMatch(await h('CAPABILITIES'), /STARTTLS/);
  assert.match(await h('CAPABILITIES'), /\r\nAUTHINFO USER\r\n/);
  assert.equal(await h('STARTTLS'), '502 the connection is encrypted already\r\n');
  assert.equal(await h('AUTHINFO USER alice'), '381 password required\r\n');
  assert.equal(await h('AUTHINFO PASS pw'), '281 authentication accepted\r\n');

  const near = new Session({ ...memory('after-auth'), tls: true }, '127.0.0.1');
  const n = async (l: string) => (await near.handle(l)).text;
  assert.equal(await n('AUTHINFO USER alice'), '381 password required\r\n', 'loopback may authenticate in clear');
  assert.equal(await n('AUTHINFO PASS pw'), '281 authentication accepted\r\n');
  assert.equal(await n('STARTTLS'), '502 STARTTLS is not possible after authentication\r\n');
});

test('XPAT patterns: a wildmat over a header value, any case, [sets], ranges, escapes, "!" excludes', async () => {
  const { headerWildmat } = await import('../../plugins/nntp/text.js');
  const m = (p: string, v: string) => headerWildmat(p)(v);
  assert.ok(m('*meeting*', 'Re: MEETING on Tuesday'));
  assert.ok(m('re: ?eeting*', 're: Meeting x'));
  assert.ok(m('[a-c]at', 'Bat'));
  assert.ok(!m('[^a-c]at', 'bat'));
  assert.ok(m('[]]x', ']x'));
  assert.ok(m('a\\*b', 'a*b'));
  assert.ok(!m('a\\*b', 'axb'));
  assert.ok(!m('*lunch*,!*plans', 'Lunch plans'));
  assert.ok(m('*lunch*,!*plans', 'Lunch today'));
  assert.ok(!m('abc', 'abcd'));
  assert.ok(m('a*', 'a'));
  // Many stars against a long value that does not match: answered (a backtracking regex would take ages).
  assert.ok(!m('*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000)));
});
