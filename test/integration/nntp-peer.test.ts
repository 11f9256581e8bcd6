/**
 * The nntp plugin peering with a real INN 2.7 (Debian's inn2, started by
 * test/peers/inn2.sh on an ephemeral 127.0.0.1 port), read and written with
 * Python's stdlib nntplib (test/peers/nntp_client.py). Posts from the CLI
 * appear in INN with their Message-ID; articles posted to INN arrive in the
 * bridge once, also across a restart of peerpost, and never go back to INN.
 *
 * inn2 must be installed: as root the test installs it (test/peers/inn2.sh
 * install); otherwise it fails with the command that does.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { world, cli, startDaemon, until, sleep } from '../helpers/daemon.js';
import { ensureInn, nntplib, startInn, type OpResult } from './nntp-helpers.js';
import { freePort } from './irc-helpers.js';

const ok = (r: OpResult) => {
  assert.ok(r.ok, `nntplib: ${r.error}`);
  return r.value;
};
const article = (headers: Record<string, string>, body: string) =>
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('') +
  '\r\n' +
  body;

before(() => {
  ensureInn();
  execFileSync('python3', ['-W', 'ignore', '-c', 'import nntplib'], { stdio: 'pipe' });
});

const GROUP = 'peerpost.test';
const config = (w: ReturnType<typeof world>, port: number, extra = '') => `
accounts:
  nntp.inn: { server: "127.0.0.1:${port}", pollInterval: 250ms${extra} }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    endpoints: [nntp.inn/${GROUP}, sink.s/out]
`;

/** Every article in the INN group: number → Message-ID, read with nntplib. */
async function innArticles(port: number, reader = false): Promise<Map<string, number>> {
  const r = await nntplib(
    port,
    [
      ['group', GROUP],
      ['over', '1-'],
    ],
    reader,
  );
  const g = ok(r[0]!);
  if (g[1] === 0) return new Map();
  return new Map((ok(r[1]!) as [number, Record<string, string>][]).map(([n, o]) => [o['message-id']!, n]));
}

test('peering with INN: a CLI post appears in INN with its Message-ID; INN articles arrive once, across a restart, and are not posted back', async (t) => {
  const inn = await startInn([GROUP]);
  t.after(() => inn.stop());
  // An article already in INN before peerpost first looks: not fetched (the first poll starts at the high water).
  const old = `<old.${Date.now()}@reader.example>`;
  ok(
    (
      await nntplib(inn.port, [
        [
          'post',
          article(
            { From: 'Old <old@reader.example>', Newsgroups: GROUP, Subject: 'before peerpost', 'Message-ID': old },
            'old news\r\n',
          ),
        ],
      ])
    )[0]!,
  );

  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w, inn.port));
  let d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  await d.waitForLog(/first look at peerpost\.test/);

  // Out: a CLI post reaches INN with peerpost's Message-ID and References.
  const r = await cli([
    'post',
    '-c',
    w.config,
    '-b',
    'commons',
    '--from',
    'alice',
    '--subject',
    'Hello INN',
    'posted by peerpost\n.a dot line',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const sent = await until(() => w.delivered('s').find((x) => x.subject === 'Hello INN'), 'the post in the sink');
  const id = `<${sent.id}>`;
  await d.waitForLog(new RegExp(`${sent.id.replace(/[.]/g, '\\.')}> sent to peerpost\\.test`));
  const inInn = await innArticles(inn.port);
  assert.ok(inInn.has(id), `INN holds ${id}: ${[...inInn.keys()].join(' ')}`);
  const a = ok((await nntplib(inn.port, [['article', id]]))[0]!);
  const body = a.lines.slice(a.lines.indexOf('') + 1);
  assert.deepEqual(body, ['posted by peerpost', '.a dot line']);
  const head: string[] = a.lines.slice(0, a.lines.indexOf(''));
  assert.ok(head.includes('Subject: Hello INN'), head.join('\n'));
  assert.ok(
    head.some((l) => /^Path: .*test\.example/.test(l)),
    `our host in Path:\n${head.join('\n')}`,
  );
  assert.ok(head.includes('X-Peerpost-Node: test.example'), `our node named:\n${head.join('\n')}`);

  // A reply to it, posted by peerpost, keeps References.
  // (The CLI has no --reply; a reply from INN's side is checked below instead.)

  // In: an article posted to INN arrives in the bridge once, with its Message-ID and References.
  const inId = `<in1.${Date.now()}@reader.example>`;
  ok(
    (
      await nntplib(inn.port, [
        [
          'post',
          article(
            {
              From: 'Bob Reader <bob@reader.example>',
              Newsgroups: GROUP,
              Subject: 'Re: Hello INN',
              'Message-ID': inId,
              References: id,
            },
            'a reply from INN\r\n',
          ),
        ],
      ])
    )[0]!,
  );
  const got = await until(() => w.delivered('s').find((x) => `<${x.id}>` === inId), 'the INN article in the sink');
  assert.equal(got.subject, 'Re: Hello INN');
  assert.match(got.body, /a reply from INN/);
  assert.equal(
    w.delivered('s').filter((x) => `<${x.id}>` === old).length,
    0,
    'the article from before the first poll is not fetched',
  );
  await sleep(800); // a few more polls
  assert.equal(w.delivered('s').filter((x) => `<${x.id}>` === inId).length, 1, 'once');
  assert.equal(w.delivered('s').filter((x) => x.id === sent.id).length, 1, 'our own article is not fetched back');

  // An article another peerpost node wrote to the group: this node now knows it shares the group with it.
  const nodeId = `<other.${Date.now()}@other.example>`;
  ok(
    (
      await nntplib(inn.port, [
        [
          'post',
          article(
            {
              From: 'dave <dave@other.example.invalid>',
              Newsgroups: GROUP,
              Subject: 'from another node',
              'Message-ID': nodeId,
              'X-Peerpost-Bridge': 'theirs (via irc)',
              'X-Peerpost-Node': 'other.example',
            },
            'said on the other node\r\n',
          ),
        ],
      ])
    )[0]!,
  );
  await until(() => w.delivered('s').find((x) => `<${x.id}>` === nodeId), "the other node's article in the sink");
  await d.waitForLog(/the peerpost node other\.example is at nntp\.inn\/peerpost\.test too/);

  // Across a restart: an article posted while peerpost is down arrives once; nothing older comes again.
  await d.stop();
  const whileDown = `<down.${Date.now()}@reader.example>`;
  ok(
    (
      await nntplib(inn.port, [
        [
          'post',
          article(
            { From: 'carol@reader.example', Newsgroups: GROUP, Subject: 'while you were out', 'Message-ID': whileDown },
            'posted while peerpost was stopped\r\n',
          ),
        ],
      ])
    )[0]!,
  );
  d = await startDaemon(w.config);
  await until(() => w.delivered('s').find((x) => `<${x.id}>` === whileDown), 'the article posted while down');
  await sleep(800);
  const ids = w.delivered('s').map((x) => `<${x.id}>`);
  assert.equal(ids.filter((x) => x === inId).length, 1, 'the first INN article still once after the restart');
  assert.equal(ids.filter((x) => x === whileDown).length, 1);
  assert.equal(ids.filter((x) => x === old).length, 0);

  // Not posted back: INN holds each article once, and peerpost sent only its own.
  const final = await innArticles(inn.port);
  assert.deepEqual([...final.keys()].sort(), [old, id, inId, nodeId, whileDown].sort());
  assert.ok(
    !d.logs.some((l) => /sent to peerpost\.test/.test(l) && (l.includes(inId) || l.includes(whileDown))),
    'no INN article was posted back',
  );

  // peerpost status shows the peering account connected, with the group's high-water mark.
  const st = await cli(['status', '-c', w.config]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /nntp\.inn\s+connected/);
  assert.match(st.stdout, new RegExp(`peerpost\\.test@${final.get(whileDown)}`));
});

test('peering: backfill takes the newest N on the first look; a post made while the server is down goes out once it is up', async (t) => {
  const a = await startInn([GROUP]);
  t.after(() => a.stop());
  const old: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const id = `<b${i}.${Date.now()}@reader.example>`;
    old.push(id);
    ok(
      (
        await nntplib(a.port, [
          [
            'post',
            article(
              { From: 'r@reader.example', Newsgroups: GROUP, Subject: `old ${i}`, 'Message-ID': id },
              `old article ${i}\r\n`,
            ),
          ],
        ])
      )[0]!,
    );
  }
  const laterPort = await freePort(); // nothing listens there yet
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  nntp.a: { server: "127.0.0.1:${a.port}", pollInterval: 250ms, backfill: 2, maxArticleSize: 2048 }
  nntp.b: { server: "127.0.0.1:${laterPort}", pollInterval: 250ms, maxBackoff: 1s }
  sink.s: { file: ${w.sink('s')} }
bridges:
  back:
    endpoints: [nntp.a/${GROUP}, sink.s/back]
  later:
    endpoints: [nntp.b/${GROUP}, sink.s/later]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));

  await until(
    () => w.delivered('s').filter((x) => x.endpoint === 'sink.s/back').length >= 2,
    'two backfilled articles',
  );
  await sleep(600);
  const back = w
    .delivered('s')
    .filter((x) => x.endpoint === 'sink.s/back')
    .map((x) => `<${x.id}>`);
  assert.deepEqual(back, [old[1], old[2]], 'backfill: 2 takes the newest two, in order, and not the first');

  // An article over maxArticleSize is skipped with a warning; the one after it arrives.
  const big = `<big.${Date.now()}@reader.example>`;
  const small = `<small.${Date.now()}@reader.example>`;
  ok(
    (
      await nntplib(a.port, [
        [
          'post',
          article(
            { From: 'r@reader.example', Newsgroups: GROUP, Subject: 'big', 'Message-ID': big },
            'x'.repeat(70).concat('\r\n').repeat(60),
          ),
        ],
      ])
    )[0]!,
  );
  ok(
    (
      await nntplib(a.port, [
        [
          'post',
          article({ From: 'r@reader.example', Newsgroups: GROUP, Subject: 'small', 'Message-ID': small }, 'small\r\n'),
        ],
      ])
    )[0]!,
  );
  await until(() => w.delivered('s').find((x) => `<${x.id}>` === small), 'the small article after the big one');
  assert.equal(w.delivered('s').filter((x) => `<${x.id}>` === big).length, 0, 'the big one is not taken');
  await d.waitForLog(/is not relayed: it is larger than maxArticleSize \(2048 octets\)/);

  const r = await cli([
    'post',
    '-c',
    w.config,
    '-b',
    'later',
    '--from',
    'alice',
    '--subject',
    'while the server is down',
    'queued',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const sent = await until(() => w.delivered('s').find((x) => x.endpoint === 'sink.s/later'), 'the post in the sink');
  const st = await cli(['status', '-c', w.config]);
  assert.match(st.stdout, /nntp\.b\s+retrying/, st.stdout);
  assert.match(st.stdout, /could not connect/, 'the reason is shown');

  const b = await startInn([GROUP], {}, laterPort);
  t.after(() => b.stop());
  let found = false;
  for (let i = 0; i < 100 && !found; i++) {
    found = (await innArticles(b.port)).has(`<${sent.id}>`);
    if (!found) await sleep(200);
  }
  assert.ok(
    found,
    `the queued post reached the news server once it came up; logs:\n${d.logs.filter((l) => /nntp\.b|outbox/.test(l)).join('\n')}`,
  );
  await d.waitForLog(/connected to 127\.0\.0\.1/);
});

test('peering as a feed (feed: ihave): our posts go to innd by IHAVE, articles still come in by a reader connection', async (t) => {
  // INN_PEER=1: innd lists 127.0.0.1 as a feed peer, so IHAVE is taken; readers send MODE READER first.
  const inn = await startInn([GROUP], { INN_PEER: '1' });
  t.after(() => inn.stop());
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(config(w, inn.port, ', feed: ihave'));
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  await d.waitForLog(/first look at peerpost\.test/);

  const r = await cli([
    'post',
    '-c',
    w.config,
    '-b',
    'commons',
    '--from',
    'alice',
    '--subject',
    'By IHAVE',
    'fed, not posted',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const sent = await until(() => w.delivered('s').find((x) => x.subject === 'By IHAVE'), 'the post in the sink');
  let have = new Map<string, number>();
  for (let i = 0; i < 100 && !have.has(`<${sent.id}>`); i++) {
    have = await innArticles(inn.port, true);
    if (!have.has(`<${sent.id}>`)) await sleep(200);
  }
  assert.ok(have.has(`<${sent.id}>`), `INN holds <${sent.id}>`);
  const a = ok((await nntplib(inn.port, [['article', `<${sent.id}>`]], true))[0]!);
  const head: string[] = a.lines.slice(0, a.lines.indexOf(''));
  assert.ok(
    head.some((l) => /^Path: .*test\.example/.test(l)),
    head.join('\n'),
  );
  assert.ok(
    d.logs.some((l) => /connected to 127\.0\.0\.1:\d+ \(IHAVE feed\)/.test(l)),
    'a feed connection of its own',
  );

  const inId = `<fed.${Date.now()}@reader.example>`;
  ok(
    (
      await nntplib(
        inn.port,
        [
          [
            'post',
            article(
              { From: 'dave@reader.example', Newsgroups: GROUP, Subject: 'to the feed peer', 'Message-ID': inId },
              'hello\r\n',
            ),
          ],
        ],
        true,
      )
    )[0]!,
  );
  await until(() => w.delivered('s').find((x) => `<${x.id}>` === inId), 'the INN article in the sink');
  await sleep(600);
  assert.equal(w.delivered('s').filter((x) => `<${x.id}>` === inId).length, 1);
  assert.ok(!d.logs.some((l) => l.includes(inId) && /sent to/.test(l)), 'not fed back');
});

test("INN's pullnews feeds the built-in server by IHAVE: every article taken once (235), offered again not wanted (435)", async (t) => {
  const inn = await startInn([GROUP]);
  t.after(() => inn.stop());
  const ids = [1, 2, 3].map((n) => `<pulled${n}.${Date.now()}@reader.example>`);
  for (const [i, id] of ids.entries())
    ok(
      (
        await nntplib(inn.port, [
          [
            'post',
            article(
              { From: 'Pat <pat@reader.example>', Newsgroups: GROUP, Subject: `pulled ${i + 1}`, 'Message-ID': id },
              `article ${i + 1}\r\n`,
            ),
          ],
        ])
      )[0]!,
    );

  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  nntp.t: { listen: 127.0.0.1:0 }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    endpoints: [nntp.t/${GROUP}, sink.s/out]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const port = Number(
    /nntp\.t is listening: 127\.0\.0\.1:(\d+)/.exec(await d.waitForLog(/nntp\.t is listening: 127\.0\.0\.1:\d+/))![1],
  );

  // pullnews (INN's own Perl feeder, Net::NNTP) reads the group from INN and offers each article downstream by IHAVE.
  const marks = `${w.dir}/pullnews.marks`;
  const pull = () => {
    writeFileSync(marks, `127.0.0.1:${inn.port}\n\t${GROUP} 0 0\n`);
    return execFileSync('/usr/lib/news/bin/pullnews', ['-c', marks, '-s', `127.0.0.1:${port}`, '-t', '1', '-d', '1'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  };
  const first = pull();
  const got = await until(() => {
    const a = w.delivered('s').filter((x) => ids.includes(`<${x.id}>`));
    return a.length === 3 ? a : undefined;
  }, 'the three articles at the sink');
  assert.deepEqual(
    got.map((x) => x.subject),
    ['pulled 1', 'pulled 2', 'pulled 3'],
    `in order:\n${first}`,
  );
  const r = await nntplib(port, [['group', GROUP], ...ids.map((id) => ['stat', id])]);
  for (const [i, id] of ids.entries()) assert.equal(ok(r[i + 1]!)[2], id, `${id} in the built-in group`);

  // Offered again from the start (the marks reset): each is not wanted, nothing is taken twice.
  const again = pull();
  assert.match(first, /Post 235: .*transferred OK/, first);
  assert.match(first, /3 articles were accepted/, first);
  // pullnews counts a 435 ("not wanted") as refused, a 437 as rejected.
  assert.match(again, /3 articles were refused/, `pullnews reports the three as not wanted (435):\n${again}`);
  await sleep(500);
  assert.equal(w.delivered('s').filter((x) => ids.includes(`<${x.id}>`)).length, 3, 'each once at the sink');
});
