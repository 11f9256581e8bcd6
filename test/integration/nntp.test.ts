/**
 * The nntp plugin's built-in news server, as newsreaders see it: the real
 * daemon as a child process on an ephemeral 127.0.0.1 port, driven by a real
 * client (Python's stdlib nntplib, through test/peers/nntp_client.py) and by
 * raw sockets for what no polite client sends.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { world, startDaemon, until, sleep, type Running, cliPost } from '../helpers/daemon.js';
import { hashPassword } from '../../plugins/nntp/index.js';
import { requirePeer } from '../peers/require.js';
import { nntplib, type OpResult } from './nntp-helpers.js';

// Python 3 with nntplib (in the standard library up to 3.12) for test/peers/nntp_client.py.
before(() => requirePeer('python3'));

const ok = (r: OpResult) => {
  assert.ok(r.ok, `nntplib: ${r.error}`);
  return r.value;
};

/** A raw NNTP connection: send lines, read response lines. */
class Raw {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }
  static open(port: number): Promise<Raw> {
    return new Promise((res, rej) => {
      const s = connect(port, '127.0.0.1', () => res(new Raw(s)));
      s.once('error', rej);
    });
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  async line(timeoutMs = 5000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        return l;
      }
      if (this.closed) return '(closed)';
      if (Date.now() > end) throw new Error(`no line within ${timeoutMs} ms (have ${JSON.stringify(this.buf)})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  async block(): Promise<string[]> {
    const out: string[] = [];
    for (let l = await this.line(); l !== '.'; l = await this.line()) out.push(l);
    return out;
  }
  send(s: string) {
    this.sock.write(s);
  }
  async cmd(s: string): Promise<string> {
    this.send(`${s}\r\n`);
    return this.line();
  }
  close() {
    this.sock.destroy();
  }
}

test('20 nntplib clients POST at once: each article answered 240 once, numbered once, the numbers dense and in commit order; a repeat answered 441', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w).replace('maxClients: 6', 'maxClients: 24'));
  const d = await startDaemon(w.config);
  t.after(() => d.stop());
  const port = await listeningPort(d, 'nntp.t');
  const CLIENTS = 20;
  const EACH = 10;
  const post = (c: number, k: number) => [
    'post',
    article(
      {
        From: `c${c}@example.org`,
        Newsgroups: 'peerpost.commons',
        Subject: `client ${c} article ${k}`,
        'Message-ID': `<c${c}.${k}@client.example>`,
      },
      `from client ${c}\r\n`,
    ),
  ];
  const answers = await Promise.all(
    Array.from({ length: CLIENTS }, (_, c) =>
      nntplib(
        port,
        Array.from({ length: EACH }, (_, k) => post(c, k)),
      ),
    ),
  );
  for (const [c, rs] of answers.entries())
    rs.forEach((r, k) => assert.match(ok(r), new RegExp(`^240.*<c${c}\\.${k}@client\\.example>`)));
  const r = await nntplib(port, [post(3, 4), ['group', 'peerpost.commons'], ['over', '1-']]);
  assert.equal(r[0]!.ok, false);
  assert.match(r[0]!.error!, /441/);
  const g = ok(r[1]!);
  assert.deepEqual([g[1], g[2], g[3]], [CLIENTS * EACH, 1, CLIENTS * EACH]);
  const over = ok(r[2]!) as [number, Record<string, string>][];
  assert.deepEqual(
    over.map((o) => o[0]),
    Array.from({ length: CLIENTS * EACH }, (_, i) => i + 1),
  );
  const ids = over.map((o) => o[1]['message-id']);
  assert.equal(new Set(ids).size, CLIENTS * EACH);
  // Each client's articles in the order it posted them (a client waits for each 240 before its next POST).
  for (let c = 0; c < CLIENTS; c++)
    assert.deepEqual(
      ids.filter((id) => id!.startsWith(`<c${c}.`)),
      Array.from({ length: EACH }, (_, k) => `<c${c}.${k}@client.example>`),
    );
});

async function listeningPort(d: Running, account: string): Promise<number> {
  const re = new RegExp(`${account.replace('.', '\\.')} is listening: 127\\.0\\.0\\.1:(\\d+)`);
  return Number(re.exec(await d.waitForLog(re))![1]);
}

const config = (w: ReturnType<typeof world>, extra = '') => `
accounts:
  nntp.t: { listen: 127.0.0.1:0, idleTimeout: 1500ms, maxClients: 6${extra} }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    description: The commons discussion
    digest: { quiet: 300ms }
    endpoints: [nntp.t/peerpost.commons, sink.s/out]
  news:
    description: Announcements
    endpoints: [{ endpoint: nntp.t/peerpost.news, direction: out }, sink.s/news]
`;

/** UTF-8 B encoded words back to text (what a newsreader shows). */
const decode2047 = (s: string) =>
  s
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?UTF-8\?B\?([^?]*)\?=/gi, (_, b: string) => Buffer.from(b, 'base64').toString('utf8'));

const article = (headers: Record<string, string>, body: string) =>
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('') +
  '\r\n' +
  body;

test('nntplib reads and posts: LIST, GROUP, OVER, ARTICLE by number and id, POST once, duplicates and bad articles refused', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const port = await listeningPort(d, 'nntp.t');

  await cliPost(w, 'commons', 'alice', 'first article\n.dot line\nJürgen says hi', 'Hello news');
  await cliPost(w, 'commons', 'bob', 'a chat line'); // a chat line: becomes a digest after 300 ms of quiet
  let g: any;
  for (let i = 0; i < 100; i++) {
    g = ok((await nntplib(port, [['group', 'peerpost.commons']]))[0]!);
    if (g[1] >= 2) break;
    await sleep(100);
  }
  assert.deepEqual(g.slice(1), [2, 1, 2, 'peerpost.commons']);

  const r = await nntplib(port, [
    ['welcome'],
    ['caps'],
    ['list'],
    ['descriptions', 'peerpost.*'],
    ['group', 'peerpost.commons'],
    ['over', '1-'],
    ['article', '1'],
    ['head', '2'],
    ['body', '1'],
    ['stat', '2'],
    ['last'],
    ['next'],
    ['hdr', 'Subject', '1-'],
    ['date'],
    ['group', 'no.such.group'],
    ['article', '99'],
  ]);
  assert.match(ok(r[0]!), /^200 /, 'posting allowed from loopback by default: 200');
  const caps = ok(r[1]!);
  assert.ok('READER' in caps && 'POST' in caps && 'OVER' in caps && 'HDR' in caps, JSON.stringify(caps));
  assert.deepEqual(ok(r[2]!), [
    ['peerpost.commons', '2', '1', 'y'],
    ['peerpost.news', '0', '1', 'n'],
  ]);
  assert.deepEqual(ok(r[3]!)[1], { 'peerpost.commons': 'The commons discussion', 'peerpost.news': 'Announcements' });
  const over = ok(r[5]!);
  assert.equal(over.length, 2);
  assert.equal(over[0][0], 1);
  assert.equal(over[0][1].subject, 'Hello news');
  assert.match(over[0][1].from, /^alice <alice@invalid>$/);
  assert.match(over[0][1]['message-id'], /^<[^>]+@test\.example>$/);
  assert.match(over[0][1].xref, /test\.example peerpost\.commons:1/);
  assert.match(
    decode2047(over[1][1].subject),
    /^\[commons\] conversation, \d\d:\d\d–\d\d:\d\d UTC \(1 line\)$/,
    'the chat line arrives as a digest article',
  );
  const a1 = ok(r[6]!);
  assert.equal(a1.number, 1);
  const head = a1.lines.slice(0, a1.lines.indexOf(''));
  for (const h of [
    'Path: test.example!not-for-mail',
    'Newsgroups: peerpost.commons',
    'Subject: Hello news',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
    'Xref: test.example peerpost.commons:1',
  ])
    assert.ok(head.includes(h), `${h} in\n${head.join('\n')}`);
  assert.ok(head.some((l: string) => /^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/.test(l)));
  assert.ok(head.some((l: string) => /^Injection-Date: /.test(l)));
  assert.deepEqual(
    a1.lines.slice(a1.lines.indexOf('') + 1),
    ['first article', '.dot line', 'Jürgen says hi'],
    'dot-stuffing undone by the client; UTF-8 intact',
  );
  const id1 = a1.id;
  const h2 = ok(r[7]!).lines as string[];
  assert.ok(
    h2.some((l) => l.startsWith('Subject: =?UTF-8?B?') && decode2047(l).startsWith('Subject: [commons] conversation')),
    h2.join('\n'),
  );
  assert.ok(h2.includes('X-Peerpost-Kind: digest'));
  assert.deepEqual(ok(r[8]!).lines, ['first article', '.dot line', 'Jürgen says hi']);
  assert.equal(ok(r[9]!)[1], 2);
  assert.equal(ok(r[10]!)[1], 1, 'LAST from 2 is 1');
  assert.equal(ok(r[11]!)[1], 2, 'NEXT from 1 is 2');
  assert.deepEqual(ok(r[12]!)[0], ['1', 'Hello news']);
  assert.match(ok(r[13]!), /^\d{14}$/);
  assert.equal(r[14]!.code, '411');
  assert.equal(r[15]!.code, '423');

  // By Message-ID, from a fresh connection with no group selected.
  const byId = await nntplib(port, [
    ['article', id1],
    ['stat', '<nope@nowhere.example>'],
  ]);
  assert.equal(ok(byId[0]!).number, 0, 'by message-id the number is 0');
  assert.equal(ok(byId[0]!).id, id1);
  assert.equal(byId[1]!.code, '430');

  // POST: reaches the sink once, keeps its Message-ID and References; the same id again is 441.
  const mid = '<t1.' + Date.now() + '@client.example>';
  const good = article(
    {
      From: '=?UTF-8?Q?J=C3=BCrgen?= <juergen@example.org>',
      Newsgroups: 'peerpost.commons',
      Subject: '=?ISO-8859-1?Q?R=E9ponse?=',
      'Message-ID': mid,
      References: id1,
      'Content-Type': 'text/plain; charset=iso-8859-1',
    },
    'hello from nntplib\r\n.leading dot\r\n',
  );
  const p = await nntplib(port, [
    ['post', good],
    ['post', good],
    ['post', article({ From: 'x@example.org', Newsgroups: 'peerpost.commons' }, 'no subject\r\n')],
    ['post', article({ From: 'x@example.org', Newsgroups: 'alt.elsewhere', Subject: 's' }, 'b\r\n')],
    ['post', article({ From: 'x@example.org', Newsgroups: 'peerpost.news', Subject: 's' }, 'b\r\n')],
    [
      'post',
      article(
        {
          From: 'x@example.org',
          Newsgroups: 'peerpost.commons',
          Subject: 's',
          'Message-ID': `<${'x'.repeat(260)}@example.org>`,
        },
        'b\r\n',
      ),
    ],
    [
      'post',
      article(
        { From: 'x@example.org', Newsgroups: 'peerpost.commons', Subject: 's', Path: 'test.example!not-for-mail' },
        'b\r\n',
      ),
    ],
    ['group', 'peerpost.commons'],
    ['article', mid],
    ['newnews', 'peerpost.*', '20000101 000000'],
  ]);
  assert.match(ok(p[0]!), /^240 /);
  assert.equal(p[1]!.code, '441', 'a duplicate Message-ID is refused');
  assert.match(p[1]!.error!, /duplicate/);
  assert.equal(p[2]!.code, '441');
  assert.match(p[2]!.error!, /no Subject/);
  assert.match(p[3]!.error!, /^441 not a newsgroup here: alt\.elsewhere/);
  assert.match(p[4]!.error!, /^441 .*read-only/);
  assert.match(p[5]!.error!, /^441 .*250 octets/);
  assert.match(p[6]!.error!, /^441 .*Path already holds test\.example/);
  assert.deepEqual(ok(p[7]!).slice(1), [3, 1, 3, 'peerpost.commons']);
  const a3 = ok(p[8]!);
  assert.ok(a3.lines.includes(`References: ${id1}`), a3.lines.join('\n'));
  assert.ok(
    a3.lines.includes('Subject: =?UTF-8?B?UsOpcG9uc2U=?='),
    'Subject decoded from latin-1 Q, re-encoded as UTF-8 B',
  );
  assert.ok(a3.lines.includes('From: =?UTF-8?B?SsO8cmdlbg==?= <juergen@example.org>'));
  assert.ok(a3.lines.includes('.leading dot'));
  assert.ok(ok(p[9]!).includes(mid), 'NEWNEWS lists the posted article');

  const got = await until(() => {
    const a = w.delivered('s').filter((x) => `<${x.id}>` === mid);
    return a.length ? a : undefined;
  }, 'the posted article at the sink');
  await sleep(300);
  assert.equal(w.delivered('s').filter((x) => `<${x.id}>` === mid).length, 1, 'delivered once');
  assert.equal(got[0]!.subject, 'Réponse');
  assert.equal(got[0]!.body, 'hello from nntplib\n.leading dot');
});

test('a feeding peer offers articles with IHAVE (nntplib): 235 and taken once, 435 when we have it, 437 for a wrong or looping article', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const port = await listeningPort(d, 'nntp.t');
  const mid = `<fed.${Date.now()}@feed.example>`;
  const fed = article(
    {
      Path: 'feed.example!not-for-mail',
      From: 'fay@example.org',
      Newsgroups: 'peerpost.commons',
      Subject: 'Fed in',
      'Message-ID': mid,
      Date: new Date().toUTCString(),
    },
    'by IHAVE\r\n',
  );
  const r = await nntplib(port, [
    ['caps'],
    ['ihave', mid, fed],
    ['ihave', mid, fed],
    ['ihave', '<other@feed.example>', fed],
    [
      'ihave',
      '<loop@feed.example>',
      article(
        {
          Path: 'test.example!feed.example',
          From: 'x@example.org',
          Newsgroups: 'peerpost.commons',
          Subject: 's',
          'Message-ID': '<loop@feed.example>',
        },
        'b\r\n',
      ),
    ],
    ['article', mid],
  ]);
  assert.ok('IHAVE' in ok(r[0]!), 'CAPABILITIES lists IHAVE');
  assert.match(ok(r[1]!), /^235 /);
  assert.equal(r[2]!.code, '435', `offered again: not wanted (${r[2]!.error})`);
  assert.equal(r[3]!.code, '437', `a Message-ID other than the one offered is rejected: ${r[3]!.error}`);
  assert.match(r[3]!.error!, /is not the one offered/);
  assert.equal(r[4]!.code, '437', `an article whose Path holds us is rejected: ${r[4]!.error}`);
  assert.ok(ok(r[5]!).lines.includes('by IHAVE'), 'the fed article is in the group');
  const got = await until(() => {
    const a = w.delivered('s').filter((x) => `<${x.id}>` === mid);
    return a.length ? a : undefined;
  }, 'the fed article at the sink');
  await sleep(300);
  assert.equal(w.delivered('s').filter((x) => `<${x.id}>` === mid).length, 1, 'relayed once');
  assert.equal(got[0]!.subject, 'Fed in');
});

test('article numbers are stable across a restart; a post made while stopped gets the next number', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w));
  let d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  let port = await listeningPort(d, 'nntp.t');
  await cliPost(w, 'commons', 'alice', 'one', 'First');
  await cliPost(w, 'commons', 'alice', 'two', 'Second');
  let over: any[] = [];
  for (let i = 0; i < 100 && over.length < 2; i++) {
    await sleep(100);
    const r = await nntplib(port, [
      ['group', 'peerpost.commons'],
      ['over', '1-'],
    ]);
    over = r[1]!.ok ? r[1]!.value : [];
  }
  const posted = ok(
    (
      await nntplib(port, [
        [
          'post',
          article(
            {
              From: 'c@example.org',
              Newsgroups: 'peerpost.commons',
              Subject: 'Third',
              'Message-ID': '<third@client.example>',
            },
            'three\r\n',
          ),
        ],
      ])
    )[0]!,
  );
  assert.match(posted, /^240/);
  const before = ok(
    (
      await nntplib(port, [
        ['group', 'peerpost.commons'],
        ['over', '1-'],
      ])
    )[1]!,
  ).map((o: any) => [o[0], o[1]['message-id'], o[1].subject]);
  assert.deepEqual(
    before.map((b: any) => b[2]),
    ['First', 'Second', 'Third'],
  );
  assert.equal(await d.stop('SIGTERM'), 0);

  await cliPost(w, 'commons', 'bob', 'while stopped', 'Fourth'); // straight into the store
  d = await startDaemon(w.config);
  port = await listeningPort(d, 'nntp.t');
  let after: any[] = [];
  for (let i = 0; i < 100 && after.length < 4; i++) {
    const r = await nntplib(port, [
      ['group', 'peerpost.commons'],
      ['over', '1-'],
    ]);
    after = r[1]!.ok ? r[1]!.value.map((o: any) => [o[0], o[1]['message-id'], o[1].subject]) : [];
    if (after.length < 4) await sleep(100);
  }
  assert.deepEqual(after.slice(0, 3), before, 'the same numbers for the same articles');
  assert.deepEqual([after[3][0], after[3][2]], [4, 'Fourth']);
  const third = ok(
    (
      await nntplib(port, [
        ['stat', '<third@client.example>'],
        ['group', 'peerpost.commons'],
        ['stat', '3'],
      ])
    )[2]!,
  );
  assert.equal(third[2], '<third@client.example>');
});

test('kill -9 the instant a POST is answered 240: after the restart every acknowledged article has its number, in order, and no number is given twice', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w));
  let d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const raw = await Raw.open(await listeningPort(d, 'nntp.t'));
  assert.match(await raw.line(), /^20[01]/);
  const N = 20;
  for (let i = 0; i < N; i++) {
    assert.match(await raw.cmd('POST'), /^340/);
    raw.send(
      article(
        {
          From: 'k@example.org',
          Newsgroups: 'peerpost.commons',
          Subject: `killed ${i}`,
          'Message-ID': `<k${i}@client.example>`,
        },
        'text\r\n',
      ) + '.\r\n',
    );
    assert.match(await raw.line(), /^240/);
  }
  d.proc.kill('SIGKILL'); // at once after the last 240: the last articles' numbers may not be stored yet (within 20 ms)
  await d.exited;
  raw.close();
  const want = Array.from({ length: N }, (_, i) => i + 1);
  d = await startDaemon(w.config);
  const port = await listeningPort(d, 'nntp.t');
  const r = await nntplib(port, [
    [
      'post',
      article(
        {
          From: 'k@example.org',
          Newsgroups: 'peerpost.commons',
          Subject: 'after',
          'Message-ID': '<after@client.example>',
        },
        'text\r\n',
      ),
    ],
    ['group', 'peerpost.commons'],
    ['over', '1-'],
  ]);
  assert.match(ok(r[0]!), /^240/);
  const over = ok(r[2]!).map((o: any) => [o[0], o[1]['message-id']]);
  assert.deepEqual(over, [...want.map((n) => [n, `<k${n - 1}@client.example>`]), [N + 1, '<after@client.example>']]);
});

test('malformed input gets 500/501/441 while another client keeps being served; idle timeout; connection cap', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const port = await listeningPort(d, 'nntp.t');
  await cliPost(w, 'commons', 'alice', 'body', 'Subject here');

  const other = await Raw.open(port);
  assert.match(await other.line(), /^200 /);
  const bad = await Raw.open(port);
  assert.match(await bad.line(), /^200 /);

  assert.match(await bad.cmd('FROBNICATE now'), /^500 /);
  assert.match(await bad.cmd(''), /^500 /);
  assert.match(await bad.cmd('X'.repeat(600)), /^501 .*512/, 'a 600-byte line is refused');
  assert.match(await bad.cmd('GROUP'), /^501 /);
  assert.match(await bad.cmd('LIST BOGUS'), /^501 /);
  assert.match(await bad.cmd('ARTICLE abc'), /^501 /);
  assert.match(await bad.cmd('ARTICLE 1'), /^412 /);
  assert.match(await bad.cmd('NEXT'), /^412 /);
  assert.match(await bad.cmd('NEWNEWS * 2026 x'), /^501 /);
  assert.match(await bad.cmd('AUTHINFO PASS x'), /^502 /, 'no users here');
  bad.send('\x00\xff\xfe\x01garbage\r\n');
  assert.match(await bad.line(), /^500 /);
  assert.match(await bad.cmd('DATE'), /^111 \d{14}$/, 'still serving after garbage');
  // The other client is served meanwhile.
  let gl = '';
  for (let i = 0; i < 50; i++) {
    gl = await other.cmd('GROUP peerpost.commons');
    if (/^211 1 /.test(gl)) break;
    await sleep(100);
  }
  assert.match(gl, /^211 1 1 1 peerpost\.commons$/);
  // A bad article: no From; then one too large to take; then a pipelined pair.
  assert.match(await bad.cmd('POST'), /^340 /);
  bad.send('Newsgroups: peerpost.commons\r\nSubject: x\r\n\r\nbody\r\n.\r\n');
  assert.match(await bad.line(), /^441 .*From/);
  assert.match(await bad.cmd('POST'), /^340 /);
  bad.send(
    'From: a@b.example\r\nNewsgroups: peerpost.commons\r\nSubject: big\r\n\r\n' +
      ('y'.repeat(1000) + '\r\n').repeat(1100) +
      '.\r\n',
  );
  assert.match(await bad.line(), /^441 .*larger than 1048576/);
  assert.match(await bad.cmd('POST'), /^340 /);
  bad.send(
    'From: a@b.example\r\nNewsgroups: peerpost.commons\r\nSubject: one huge line\r\n\r\n' +
      'z'.repeat(1_200_000) +
      '.\r\n.\r\n',
  );
  assert.match(
    await bad.line(),
    /^441 .*larger than 1048576/,
    'one 1.2 MB line: refused, and its tail ".\\r\\n" is not taken as the end',
  );
  bad.send('GROUP peerpost.commons\r\nSTAT\r\n');
  assert.match(await bad.line(), /^211 1 1 1 /);
  assert.match(await bad.line(), /^223 1 </);
  other.send('HEAD 1\r\n');
  assert.match(await other.line(), /^221 1 </);
  assert.ok((await other.block()).includes('Subject: Subject here'));
  assert.equal(await other.cmd('QUIT'), '205 closing connection');

  // Idle timeout (1.5 s here): a silent client gets 400 and is closed.
  const idle = await Raw.open(port);
  await idle.line();
  await sleep(1800);
  assert.match(await idle.line(), /^400 .*idle/);
  assert.equal(await idle.line(), '(closed)');

  // Connection cap (maxClients 6; "bad" was closed by the idle timeout meanwhile): of 7 at once, one is told 400.
  assert.equal(await bad.line(), '400 idle timeout; closing connection');
  const many = await Promise.all(Array.from({ length: 7 }, () => Raw.open(port)));
  t.after(() => many.forEach((m) => m.close()));
  const greetings = await Promise.all(many.map((m) => m.line()));
  const refused = greetings.filter((g) => g.startsWith('400')).length;
  assert.equal(refused, 1, `one of seven is refused: ${greetings.join(' | ')}`);
  const served = many[greetings.findIndex((g) => g.startsWith('200'))]!;
  assert.match(await served.cmd('GROUP peerpost.commons'), /^211 /);
});

test('AUTHINFO and the posting policy: 201 before, 480 for POST, 281 and posting after; 481 for a wrong password', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  process.env.PP_NNTP_BOB = 'bob-secret';
  const hash = await hashPassword('alice-secret');
  w.writeConfig(config(w, `, posting: { allow: authenticated }, users: { alice: "${hash}", bob: "\${PP_NNTP_BOB}" }`));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const port = await listeningPort(d, 'nntp.t');
  const art = (id: string) =>
    article(
      {
        From: 'a@example.org',
        Newsgroups: 'peerpost.commons',
        Subject: 'auth',
        'Message-ID': `<${id}@client.example>`,
      },
      'x\r\n',
    );
  const r = await nntplib(port, [
    ['welcome'],
    ['caps'],
    ['post', art('before')],
    ['login', 'alice', 'alice-secret'],
    ['post', art('after')],
    ['list'],
  ]);
  assert.match(ok(r[0]!), /^201 /);
  assert.ok(!('POST' in ok(r[1]!)) && 'AUTHINFO' in ok(r[1]!));
  assert.equal(r[2]!.code, '480');
  assert.equal(ok(r[3]!), true, 'POST advertised after AUTHINFO');
  assert.match(ok(r[4]!), /^240 /);
  assert.equal(ok(r[5]!)[0][3], 'y');
  const bob = await nntplib(port, [
    ['login', 'bob', 'bob-secret'],
    ['post', art('bob')],
  ]);
  assert.equal(ok(bob[0]!), true, 'a plain password from ${ENV} works');
  const wrong = await Raw.open(port);
  await wrong.line();
  assert.equal(await wrong.cmd('AUTHINFO PASS x'), '482 AUTHINFO USER first');
  assert.equal(await wrong.cmd('AUTHINFO USER alice'), '381 password required');
  assert.equal(await wrong.cmd('AUTHINFO PASS nope'), '481 authentication failed');
  assert.equal(await wrong.cmd('AUTHINFO USER mallory'), '381 password required');
  assert.equal(await wrong.cmd('AUTHINFO PASS nope'), '481 authentication failed');
  assert.equal(await wrong.cmd('POST'), '480 authentication required to post');
  wrong.close();
  await until(
    () => w.delivered('s').filter((x) => /^(after|bob)@client/.test(x.id)).length === 2 || undefined,
    'both posts delivered',
  );
  assert.equal(w.delivered('s').filter((x) => x.id === 'before@client.example').length, 0);
});

test('SIGHUP: a changed posting policy applies at once on the same listener, without a restart', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const port = await listeningPort(d, 'nntp.t');
  const before = await Raw.open(port);
  assert.match(await before.line(), /^200 /, 'posting allowed from loopback');
  before.close();
  w.writeConfig(config(w, ', posting: { allow: none }'));
  d.proc.kill('SIGHUP');
  const reloaded = await d.waitForLog(/config reloaded/);
  assert.match(reloaded, /account nntp\.t: settings applied/, 'applied in place, not restarted');
  const after = await Raw.open(port);
  assert.match(await after.line(), /^201 /, 'the same port now says: no posting');
  assert.match(await after.cmd('POST'), /^440 /);
  after.close();
});

test('XPAT (nntplib): the articles whose header matches a wildmat, any case; 412, 423, 430 and 501 where they belong', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const port = await listeningPort(d, 'nntp.t');

  await cliPost(w, 'commons', 'alice', 'first', 'Meeting on Tuesday');
  await cliPost(w, 'commons', 'bob', 'second', 'Lunch plans');
  await cliPost(w, 'commons', 'carol', 'third', 'Re: meeting on tuesday');
  let g: any;
  for (let i = 0; i < 100; i++) {
    g = ok((await nntplib(port, [['group', 'peerpost.commons']]))[0]!);
    if (g[1] >= 3) break;
    await sleep(100);
  }
  assert.equal(g[1], 3);
  const r = await nntplib(port, [
    ['group', 'peerpost.commons'],
    ['xpat', 'Subject', '1-3', '*meeting*'],
    ['xpat', 'Subject', '1-3', '*meeting', 'on', 'tue*'],
    ['xpat', 'From', '1-', '*bob*'],
    ['xpat', 'Subject', '1-', '*[Ll]unch*,!*plans'],
    ['xpat', 'Subject', '1-', 'nothing*'],
    ['article', '1'],
  ]);
  const [resp, rows] = ok(r[1]!);
  assert.match(resp, /^221 /);
  assert.deepEqual(rows, ['1 Meeting on Tuesday', '3 Re: meeting on tuesday']);
  assert.deepEqual(
    ok(r[2]!)[1],
    ['1 Meeting on Tuesday', '3 Re: meeting on tuesday'],
    'words after the range: one pattern',
  );
  assert.deepEqual(
    ok(r[3]!)[1].map((l: string) => l.split(' ')[0]),
    ['2'],
  );
  assert.deepEqual(ok(r[4]!)[1], [], 'the last pattern that matches decides: !*plans excludes');
  assert.deepEqual(ok(r[5]!)[1], []);
  const id = ok(r[6]!).id as string;

  const e = await nntplib(port, [
    ['xpat', 'Subject', '1-', '*'],
    ['group', 'peerpost.commons'],
    ['xpat', 'Subject', id, 'meeting*'],
    ['xpat', 'Subject', '<no-such@x>', '*'],
    ['xpat', 'Subject', '50-60', '*'],
    ['xpat', 'Subject', 'x-y', '*'],
    ['raw', 'XPAT Subject 1-'],
  ]);
  assert.equal(e[0]!.code, '412', 'no group selected');
  assert.deepEqual(ok(e[2]!)[1], ['0 Meeting on Tuesday'], 'by Message-ID');
  assert.equal(e[3]!.code, '430');
  assert.equal(e[4]!.code, '423');
  assert.equal(e[5]!.code, '501');
  assert.equal(e[6]!.code, '501');
});
