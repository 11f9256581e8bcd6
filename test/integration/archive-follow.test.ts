/**
 * Following the archive as its readers do: Atom feeds read by a real feed parser (Python's feedparser from Debian),
 * the whole-thread page, and addresses kept private on every public view (pages, feeds, API without a token,
 * finger) while the bridge's own token and a bridge with `addresses: show` see them whole.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { world, startDaemon, HELPERS, cliPost } from '../helpers/daemon.js';
import { listeningPort, rawQuery } from '../peers/finger.js';
import { requirePeer } from '../peers/require.js';

const TOKEN = 'commons-token-0123456789';
/** Debian's python3, which has python3-feedparser (a python3 earlier on the PATH may not). */
const PY = '/usr/bin/python3';

before(() => requirePeer('python3-feedparser'));

/** Parse a feed with feedparser; the fields a feed reader shows. */
function feedparse(xml: string): {
  bozo: number;
  version: string;
  title: string;
  id: string;
  links: { rel: string; href: string }[];
  entries: { id: string; title: string; link: string; author: string; email: string; summary: string }[];
} {
  const script = `
import sys, json, feedparser
f = feedparser.parse(sys.stdin.buffer.read())
print(json.dumps({
  "bozo": int(f.bozo), "version": f.version, "title": f.feed.get("title", ""), "id": f.feed.get("id", ""),
  "links": [{"rel": l.get("rel", ""), "href": l.get("href", "")} for l in f.feed.get("links", [])],
  "entries": [{"id": e.get("id", ""), "title": e.get("title", ""), "link": e.get("link", ""),
               "author": e.get("author", ""), "email": e.get("author_detail", {}).get("email", ""),
               "summary": e.get("summary", "")} for e in f.entries]}))
`;
  const r = spawnSync(PY, ['-c', script], { input: xml, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** A reply as a mail client writes it: In-Reply-To the parent, References the thread down to the parent. */
async function apiReply(base: string, bridge: string, body: string, ...thread: string[]): Promise<string> {
  const inReplyTo = thread[thread.length - 1]!;
  const r = await fetch(`${base}/api/bridges/${bridge}/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ body, inReplyTo: `<${inReplyTo}>`, references: thread.map((id) => `<${id}>`), from: 'bob' }),
  });
  const j = (await r.json()) as { id?: string };
  assert.equal(r.status, 201, JSON.stringify(j));
  return j.id!.replace(/^<|>$/g, '');
}

test('Atom feeds parse cleanly in feedparser, the thread page shows the tree, and no public view shows a full address', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  writeFileSync(
    w.config,
    `plugins:\n  sink: ${HELPERS}sink-plugin.js\nnode:\n  hostname: test.example\n  data: ${w.data}\n` +
      `accounts:\n  web.t:\n    listen: 127.0.0.1:0\n    tokens: [{ name: bot, token: ${TOKEN}, bridges: [commons] }]\n` +
      `  finger.t: { listen: 127.0.0.1:0, rateLimit: { queries: 0 } }\n` +
      `  sink.s: { file: ${w.sink('s')} }\n` +
      `bridges:\n  commons:\n    description: The commons\n    endpoints: [web.t/commons, finger.t/commons, sink.s/out]\n` +
      `  open:\n    archive: { addresses: show }\n    endpoints: [web.t/open]\n`,
  );
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const base = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.t')}`;
  const fingerPort = await listeningPort(d.waitForLog, 'finger.t');

  const root = await cliPost(w, 'commons', 'alice', 'Write to alice@example.org & friends <3', 'Welcome home');
  const reply = await apiReply(base, 'commons', 'A reply; bob@mail.example.net reads it', root);
  const deeper = await apiReply(base, 'commons', 'A reply to the reply', root, reply);
  await cliPost(w, 'open', 'carol', 'Open: carol@example.org', 'Open house');

  // The bridge feed: valid Atom to a real parser, entries newest first, with links to the posts.
  const res = await fetch(`${base}/b/commons/atom`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/atom\+xml/);
  const xml = await res.text();
  const f = feedparse(xml);
  assert.equal(f.bozo, 0, 'feedparser found the feed well-formed');
  assert.equal(f.version, 'atom10');
  assert.match(f.title, /commons/);
  assert.ok(f.id.length > 0, 'the feed has an id');
  assert.ok(
    f.links.some((l) => l.rel === 'self' && l.href.endsWith('/b/commons/atom')),
    JSON.stringify(f.links),
  );
  assert.equal(f.entries.length, 3);
  assert.ok(new Set(f.entries.map((e) => e.id)).size === 3, 'each entry has its own id');
  assert.ok(f.entries.some((e) => e.title.includes('Welcome home')));
  assert.doesNotMatch(xml, /alice@example\.org|bob@mail\.example\.net/, 'no full address in the feed');
  assert.ok(
    f.entries.some((e) => e.summary.includes('alice@…ample.org')),
    'the address is shown obfuscated',
  );

  // The thread feed, from any post of the thread.
  const tf = feedparse(await (await fetch(`${base}/t/${encodeURIComponent(deeper)}/atom`)).text());
  assert.equal(tf.bozo, 0);
  assert.equal(tf.entries.length, 3, 'the thread feed holds the whole thread');

  // Discovery on the bridge page; the page itself obfuscates.
  const page = await (await fetch(`${base}/b/commons`)).text();
  assert.match(page, /<link rel="alternate" type="application\/atom\+xml"[^>]*href="[^"]*\/b\/commons\/atom"/);
  assert.doesNotMatch(page, /alice@example\.org/);
  assert.match(
    page,
    new RegExp(`/t/${encodeURIComponent(root).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    'posts link their thread',
  );

  // The thread page: the tree from its first post, the reply nested under it, and the reply's reply under that.
  const tp = await fetch(`${base}/t/${encodeURIComponent(reply)}`);
  assert.equal(tp.status, 200);
  const thread = await tp.text();
  const at = (s: string) => thread.indexOf(s);
  assert.ok(at('alice@…ample.org') > 0 && at('A reply; bob@') > at('alice@…ample.org'), 'root first');
  assert.ok(at('A reply to the reply') > at('A reply; bob@'), 'depth-first order');
  assert.doesNotMatch(thread, /alice@example\.org|bob@mail\.example\.net/);
  assert.equal((await fetch(`${base}/t/${encodeURIComponent('nope@nowhere')}`)).status, 404);

  // The API: the public view without a token, the real text with the bridge's token.
  const anon = await (await fetch(`${base}/api/bridges/commons/posts`)).text();
  assert.doesNotMatch(anon, /alice@example\.org/);
  const owner = await (
    await fetch(`${base}/api/bridges/commons/posts`, { headers: { authorization: `Bearer ${TOKEN}` } })
  ).text();
  assert.match(owner, /alice@example\.org/, "the bridge's token sees the address whole");

  // A bridge that says `addresses: show` shows them.
  assert.match(await (await fetch(`${base}/b/open`)).text(), /carol@example\.org/);

  // Finger: the plan is a public view too.
  const plan = await rawQuery(fingerPort, 'commons\r\n');
  assert.match(plan, /A reply; bob@\.\.\.ail\.example\.net reads it/, 'obfuscated (in ASCII: "..." for "…")');
  const verbose = await rawQuery(fingerPort, '/W commons\r\n');
  assert.match(verbose, /Write to alice@\.\.\.ample\.org/);
  assert.doesNotMatch(plan + verbose, /alice@example\.org|bob@mail\.example\.net/);
});
