/**
 * Hostile input for the protocol parsers, generated with fast-check (bounded
 * runs; FUZZ_RUNS raises them): NNTP command lines against a reader's session
 * and articles as POSTed or fetched; IRC lines as a server sends them, through
 * irc-framework's own line parser and the plugin's translation into posts.
 * No throw, no hang, every NNTP answer a well-formed response with a code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Session, type Backend, type GroupInfo } from '../../plugins/nntp/session.js';
import { readArticle } from '../../plugins/nntp/incoming.js';
import { translate, type MessageEvent } from '../../plugins/irc/events.js';
import { decodeLenient } from '../../plugins/irc/text.js';
import type { Post } from '../../src/plugin.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const require = createRequire(import.meta.url);
const parseIrcLine = require('irc-framework/src/irclineparser.js') as (
  line: string,
) => { command: string; params: string[]; nick?: string; tags: Record<string, string> } | undefined;

const post = (n: number): Post =>
  ({
    id: `p${n}@test.example`,
    bridge: 'commons',
    origin: { account: 'irc.a', target: '#commons' },
    author: { name: `nick${n}`, via: 'irc' },
    subject: n % 2 ? `Subject ${n}` : undefined,
    body: `line one of ${n}\n.leading dot\n\nend`,
    kind: 'message',
    references: n > 1 ? [`p${n - 1}@test.example`] : [],
    inReplyTo: n > 1 ? `p${n - 1}@test.example` : undefined,
    hops: 0,
    date: new Date(Date.UTC(2026, 10, 27, 10, n)).toISOString(),
    attachments: [],
  }) as Post;
const posts = [1, 2, 3, 4, 5].map(post);
const groups: GroupInfo[] = [
  { name: 'peerpost.commons', description: 'The commons', count: 5, low: 1, high: 5, postable: true, created: 0 },
  { name: 'peerpost.empty', description: '', count: 0, low: 1, high: 0, postable: false, created: 0 },
];
const backend: Backend = {
  hostname: 'test.example',
  groups: () => groups,
  group: (name) => groups.find((g) => g.name === name),
  numbers: (g, low, high) => (g === 'peerpost.commons' ? [1, 2, 3, 4, 5].filter((n) => n >= low && n <= high) : []),
  overview: () => [],
  article: (g, n) => (g === 'peerpost.commons' ? posts[n - 1] : undefined),
  byId: (id) => {
    const i = posts.findIndex((p) => p.id === id);
    return i < 0 ? undefined : { post: posts[i]!, group: 'peerpost.commons', number: i + 1 };
  },
  newnews: () => posts.map((p) => p.id),
  mayPost: () => 'yes',
  hasUsers: () => true,
  tls: false,
  isLoopback: () => true,
  authenticate: async (u, p) => u === 'alice' && p === 'secret',
  receive: async () => ({ status: 'taken', id: 'x@test.example' }),
  has: () => false,
  writable: () => true,
};

const VERBS = [
  'ARTICLE',
  'HEAD',
  'BODY',
  'STAT',
  'GROUP',
  'LISTGROUP',
  'LIST',
  'NEXT',
  'LAST',
  'OVER',
  'XOVER',
  'HDR',
  'XHDR',
  'NEWNEWS',
  'NEWGROUPS',
  'DATE',
  'HELP',
  'MODE',
  'CAPABILITIES',
  'AUTHINFO',
  'POST',
  'STARTTLS',
  'IHAVE',
  'QUIT',
  'article',
  'list',
  '',
];
const ARGS = [
  'peerpost.commons',
  'peerpost.empty',
  'nope',
  '1',
  '0',
  '-1',
  '3-',
  '2-4',
  '5-1',
  '99999999999999999999',
  '<p3@test.example>',
  '<nope@x>',
  '<>',
  'ACTIVE',
  'NEWSGROUPS',
  'OVERVIEW.FMT',
  'HEADERS',
  'ACTIVE.TIMES',
  'DISTRIB.PATS',
  'Subject',
  ':bytes',
  'READER',
  'USER',
  'PASS',
  'alice',
  'secret',
  '*',
  'peerpost.*',
  '20261127',
  '101010',
  'GMT',
  '19991231',
  '235960',
];
const commandLine = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...VERBS),
      fc.array(fc.oneof(fc.constantFrom(...ARGS), fc.string({ maxLength: 20 })), { maxLength: 4 }),
    )
    .map(([v, a]) => [v, ...a].join(' ')),
  fc.string({ maxLength: 600 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const MULTI = new Set(['100', '101', '211', '215', '220', '221', '222', '224', '225', '230', '231']);

test('nntp: any sequence of command lines gets well-formed answers with a code; a multi-line answer ends with "."', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(commandLine, { minLength: 1, maxLength: 12 }), async (lines) => {
      const s = new Session(backend, '127.0.0.1');
      for (const l of lines) {
        const r = await s.handle(l);
        assert.ok(r.text.endsWith('\r\n'), `CRLF-terminated: ${JSON.stringify(r.text.slice(-10))}`);
        const first = r.text.slice(0, r.text.indexOf('\r\n'));
        assert.match(first, /^[1-5]\d\d( |$)/, `a response code first: ${JSON.stringify(first)}`);
        assert.doesNotMatch(first, /[\r\n\0]/);
        const code = first.slice(0, 3);
        // LISTGROUP answers 211 multi-line, GROUP 211 on one line.
        if (MULTI.has(code) && !(code === '211' && /^group\b/i.test(l.trim())))
          assert.ok(
            r.text.endsWith('\r\n.\r\n') || r.text === `${first}\r\n.\r\n`,
            `multi-line ${code} ends with a dot line`,
          );
        if (r.then === 'close') break;
      }
    }),
    { numRuns: RUNS },
  );
});

const HEADERS = [
  'From',
  'Newsgroups',
  'Subject',
  'Message-ID',
  'References',
  'In-Reply-To',
  'Date',
  'Path',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Control',
  'X-Peerpost-Bridge',
];
const articleBytes = fc.oneof(
  fc
    .tuple(
      fc.array(
        fc.tuple(
          fc.constantFrom(...HEADERS),
          fc.oneof(
            fc.string({ maxLength: 60 }),
            fc.constantFrom(
              '<a@b>',
              'text/plain; charset=iso-8859-1',
              'base64',
              'quoted-printable',
              'text/html',
              'multipart/mixed; boundary=x',
              'peerpost.commons',
              '=?UTF-8?B?w7w=?=',
              '\t folded',
            ),
          ),
        ),
        { maxLength: 14 },
      ),
      fc.string({ unit: 'binary', maxLength: 400 }),
    )
    .map(([hs, body]) => Buffer.from(`${hs.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`, 'latin1')),
  fc.uint8Array({ maxLength: 800 }).map((u) => Buffer.from(u)),
);

test('nntp: any article, well-formed or not, is read into a post or refused with a reason; never a throw', () => {
  fc.assert(
    fc.property(articleBytes, (raw) => {
      const r = readArticle(raw);
      if (typeof r === 'string') assert.ok(r.length > 0);
      else {
        assert.ok(Array.isArray(r.newsgroups));
        if (r.id !== undefined) assert.match(r.id, /^[\x21-\x7e]+@[\x21-\x7e]+$/);
        if (typeof r.post.body === 'string') assert.equal(typeof r.post.body, 'string');
      }
    }),
    { numRuns: RUNS * 2 },
  );
});

const IRC_COMMANDS = [
  'PRIVMSG',
  'NOTICE',
  'JOIN',
  'PART',
  'QUIT',
  'NICK',
  'KICK',
  'MODE',
  '001',
  '404',
  'PING',
  'TAGMSG',
];
const ircLine = fc.oneof(
  fc
    .tuple(
      fc.option(
        fc.string({ maxLength: 40 }).map((t) => `@${t} `),
        { nil: '' },
      ),
      fc.option(
        fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })).map(([n, h]) => `:${n}!u@${h} `),
        { nil: '' },
      ),
      fc.constantFrom(...IRC_COMMANDS),
      fc.constantFrom(' #commons', ' #Commons', ' #other', ' commonsbot', ''),
      fc.string({ unit: 'binary', maxLength: 300 }).map((t) => ` :${t}`),
    )
    .map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 600 }),
);

test('irc: any line from a server is parsed and translated into a post or a reason to skip it; a post never carries a control character', () => {
  fc.assert(
    fc.property(ircLine, (raw) => {
      const line = decodeLenient(Buffer.from(raw, 'latin1'));
      const m = parseIrcLine(line);
      if (!m || (m.command !== 'PRIVMSG' && m.command !== 'NOTICE')) return;
      const ev: MessageEvent = {
        nick: m.nick,
        target: m.params[0] ?? '',
        message: m.params[1] ?? '',
        tags: m.tags,
        ...(m.tags.account ? { account: m.tags.account } : {}),
      };
      const out = translate(m.command === 'NOTICE' ? 'notice' : 'privmsg', ev, {
        ownNick: 'commonsbot',
        sameNick: (a, b) => a.toLowerCase() === b.toLowerCase(),
        notices: true,
        channel: (t) => (t.toLowerCase() === '#commons' ? '#commons' : undefined),
      });
      if ('skip' in out) return;
      assert.equal(out.target, '#commons', 'only a configured channel makes a post');
      assert.doesNotMatch(out.body, /[\0\r\x02\x03\x0f\x16\x1d\x1e\x1f]/, 'no NUL, CR or mIRC formatting in a post');
      if (out.author.account !== undefined) assert.doesNotMatch(out.author.account, /[\s\x00-\x1f]/);
    }),
    { numRuns: RUNS * 2 },
  );
});

test('nntp: an article that another peerpost node wrote as a digest stays a digest; a reader cannot make one', () => {
  const art = (extra: string) =>
    Buffer.from(
      `From: a <a@b.example>\r\nNewsgroups: peerpost.commons\r\nSubject: [#commons] conversation\r\nMessage-ID: <d1@one.example>\r\n${extra}\r\nhi\r\n`,
    );
  const fromNode = readArticle(art('X-Peerpost-Bridge: commons (via irc)\r\nX-Peerpost-Kind: digest\r\n'));
  assert.ok(typeof fromNode !== 'string');
  assert.equal(fromNode.post.kind, 'digest');
  const fromReader = readArticle(art('X-Peerpost-Kind: digest\r\n'));
  assert.ok(typeof fromReader !== 'string');
  assert.equal(fromReader.post.kind, 'message', "without the node's trace header, an article is a message");
});
