/**
 * A community moves its old list archive in: an mbox written by Python's `mailbox` module, its messages dated 2019
 * (in the file out of date order), imported into a bridge that already has live posts, with the daemon running.
 * What readers see: the bridge page, its Atom feed (read by feedparser) and the API list the live posts first
 * and the old ones after them by date; paging through the API gives every post once, newest first; the thread
 * page shows the old thread in date order; the finger plan stays on the live posts; the live stream (replayed
 * from the start) does not announce the old posts.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { cli, cliPost, startDaemon, world, sleep } from '../helpers/daemon.js';
import { listeningPort, rawQuery } from '../peers/finger.js';
import { requirePeer } from '../peers/require.js';

/** Debian's python3, which has python3-feedparser (a python3 earlier on the PATH may not). */
const PY = '/usr/bin/python3';

before(() => requirePeer('python3-feedparser'));

/** 12 messages of 2019: a thread (a root on 1 March and replies on 2..11 March, written to the file last first). */
const WRITE = `
import mailbox, email.message, email.utils, sys, datetime
box = mailbox.mbox(sys.argv[1])
def msg(i):
    m = email.message.EmailMessage()
    m['From'] = f'Old Poster {i} <old{i}@example.org>'
    m['Subject'] = 'Garden plans' if i == 0 else 'Re: Garden plans'
    m['Date'] = email.utils.format_datetime(datetime.datetime(2019, 3, 1 + i, 9, 0, tzinfo=datetime.timezone.utc))
    m['Message-ID'] = f'<old{i}@example.org>'
    if i:
        m['In-Reply-To'] = '<old0@example.org>'
        m['References'] = '<old0@example.org>'
    m.set_content(f'old message {i} of 2019\\n')
    return m
for i in [0] + list(range(11, 0, -1)):
    box.add(msg(i))
box.close()
`;

function feedEntries(xml: string): { bozo: number; entries: { title: string; summary: string; published: string }[] } {
  const script = `
import sys, json, feedparser
f = feedparser.parse(sys.stdin.buffer.read())
print(json.dumps({"bozo": int(f.bozo), "entries": [{"title": e.get("title", ""), "summary": e.get("summary", ""),
  "published": e.get("published", "")} for e in f.entries]}))
`;
  const r = spawnSync(PY, ['-c', script], { input: xml, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

interface ApiPost {
  id: string;
  seq: number;
  body: string;
  date: string;
  imported?: boolean;
}

test('an imported 2019 archive sits below the live posts by date: page, Atom, API, thread, finger; the stream leaves it out', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const mbox = join(w.dir, 'old-list.mbox');
  execFileSync(PY, ['-c', WRITE, mbox]);
  w.writeConfig(`
accounts:
  web.t: { listen: 127.0.0.1:0, feedEntries: 5 }
  finger.t: { listen: 127.0.0.1:0, rateLimit: { queries: 0 }, maxPosts: 3 }
bridges:
  commons:
    endpoints: [web.t/commons, finger.t/commons]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const base = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.t')}`;
  const fingerPort = await listeningPort(d.waitForLog, 'finger.t');

  for (const n of [1, 2, 3]) await cliPost(w, 'commons', 'alice', `live post ${n} of today`, `Live ${n}`);
  const r = await cli(['import', '-c', w.config, '-b', 'commons', '--mboxo', '--json', mbox]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).imported, 12);

  // The bridge page: the live posts first, newest first; the 2019 thread below them (a thread: replies oldest first).
  const page = await (await fetch(`${base}/b/commons`)).text();
  const at = (s: string) => {
    const i = page.indexOf(s);
    assert.ok(i >= 0, `the page shows ${s}`);
    return i;
  };
  assert.ok(at('live post 3 of today') < at('live post 2 of today'));
  assert.ok(at('live post 1 of today') < at('old message 0 of 2019'), 'live posts above the imported thread');
  const replies = [0, 1, 2, 3, 9, 10, 11].map((n) => at(`old message ${n} of 2019`));
  assert.deepEqual(
    replies,
    [...replies].sort((a, b) => a - b),
    'the 2019 thread from its root, replies by date',
  );

  // The feed: its 5 newest entries are the 3 live posts, then the newest two of 2019, dated as they were.
  const feed = feedEntries(await (await fetch(`${base}/b/commons/atom`)).text());
  assert.equal(feed.bozo, 0);
  assert.deepEqual(
    feed.entries.map((e) => e.summary.trim()),
    [
      'live post 3 of today',
      'live post 2 of today',
      'live post 1 of today',
      'old message 11 of 2019',
      'old message 10 of 2019',
    ],
  );
  assert.match(feed.entries[3]!.published, /^2019-03-12T09:00:00/);

  // The API, a page of 4 at a time: every post once, newest first by date; the old ones marked imported.
  const all: ApiPost[] = [];
  for (let before: number | null = null, pages = 0; pages < 10; pages++) {
    const res: Response = await fetch(
      `${base}/api/bridges/commons/posts?limit=4${before !== null ? `&before=${before}` : ''}`,
    );
    assert.equal(res.status, 200);
    const j = (await res.json()) as { posts: ApiPost[]; next: number | null };
    all.push(...j.posts);
    if (j.next === null) break;
    before = j.next;
  }
  assert.deepEqual(
    all.map((p) => p.body.trim()),
    [3, 2, 1]
      .map((n) => `live post ${n} of today`)
      .concat([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((n) => `old message ${n} of 2019`)),
  );
  assert.deepEqual(
    all.map((p) => p.imported === true),
    [false, false, false, ...Array(12).fill(true)],
  );
  const dates = all.slice(3).map((p) => p.date);
  assert.deepEqual(dates, [...dates].sort().reverse(), 'the imported posts by their dates, newest first');

  // The thread page: the 2019 thread from its root, the replies in date order (the file had them last first).
  const thread = await (await fetch(`${base}/t/old0@example.org`)).text();
  const order = [0, 1, 2, 3, 10, 11].map((n) => thread.indexOf(`old message ${n} of 2019`));
  assert.ok(
    order.every((i) => i >= 0),
    'the thread page shows every post',
  );
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
    'in date order',
  );

  // The finger plan: today's posts, not the old archive.
  const plan = await rawQuery(fingerPort, 'commons\r\n');
  assert.match(plan, /Live 3[\s\S]*Live 2[\s\S]*Live 1/);
  assert.doesNotMatch(plan, /Garden plans/);

  // The stream, replayed from the start: the live posts only; a live post after it arrives as usual.
  const ws = new WebSocket(`${base.replace('http', 'ws')}/api/stream?bridge=commons&since=0`);
  t.after(() => ws.terminate());
  const heard: { type: string; post?: ApiPost }[] = [];
  ws.on('message', (m) => heard.push(JSON.parse(m.toString()) as { type: string; post?: ApiPost }));
  for (let i = 0; i < 100 && !heard.some((m) => m.type === 'live'); i++) await sleep(50);
  await cliPost(w, 'commons', 'bob', 'live post 4 of today');
  for (let i = 0; i < 100 && !heard.some((m) => m.post?.body.includes('live post 4')); i++) await sleep(50);
  assert.deepEqual(
    heard.filter((m) => m.type === 'post').map((m) => m.post!.body.trim()),
    [1, 2, 3, 4].map((n) => `live post ${n} of today`),
  );
});
