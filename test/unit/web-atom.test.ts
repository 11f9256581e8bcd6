/**
 * The Atom feed and the thread page without sockets: escaping, the elements RFC 4287 requires, ids, and what a
 * public view shows of addresses; the finger plan's view of addresses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { publicPost, type StoredPost } from '../../src/plugin.js';
import { atomFeed, entryId, xmlText } from '../../plugins/web/atom.js';
import { threadPage } from '../../plugins/web/thread.js';
import { relLinks } from '../../plugins/web/html.js';
import { planPost, renderPlan } from '../../plugins/finger/render.js';

let seq = 0;
const post = (over: Partial<StoredPost> = {}): StoredPost => {
  seq++;
  return {
    id: `p${seq}/x+y@test.example`,
    seq,
    bridge: 'commons',
    origin: { account: 'mail.t', target: 'commons' },
    author: { name: 'Alice Example', address: 'alice@example.org', via: 'mail' },
    body: 'hello',
    kind: 'message',
    references: [],
    hops: 0,
    date: '2026-11-27T14:02:09.000Z',
    receivedAt: '2026-11-27T14:02:09.100Z',
    attachments: [],
    ...over,
  };
};

const feedOf = (posts: StoredPost[], show = false) =>
  atomFeed({
    id: 'urn:uuid:00000000-0000-5000-8000-000000000000',
    title: 'commons & <friends>',
    self: 'http://h/b/commons/atom',
    alternate: 'http://h/b/commons',
    site: 'Site',
    posts,
    nameOf: () => 'commons',
    postUrl: (id) => `http://h/p/${encodeURIComponent(id)}`,
    threadUrl: (p) => `http://h${relLinks.thread!(p)}`,
    showEmail: () => show,
    now: new Date('2026-12-01T00:00:00Z'),
  });

/** Tags balance (a small well-formedness check; the integration test has a real feed parser read it). */
function balanced(xml: string): void {
  const stack: string[] = [];
  for (const m of xml.replace(/^<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([A-Za-z:]+)[^>]*?(\/?)>/g)) {
    if (m[3]) continue;
    if (m[1]) assert.equal(stack.pop(), m[2], `</${m[2]}> closes what it opened`);
    else stack.push(m[2]!);
  }
  assert.deepEqual(stack, []);
}

test('an Atom feed has what RFC 4287 requires, every text escaped, no character XML cannot hold', () => {
  const evil = post({ subject: 'Re: <b>&"\'</b>', body: 'a <script>x</script> & \u0001\u0008 \ud800 end' });
  const reply = post({ inReplyTo: evil.id, references: [evil.id], body: '' });
  const xml = feedOf([reply, evil]);
  balanced(xml);
  assert.match(xml, /^<\?xml version="1.0" encoding="utf-8"\?>\n<feed xmlns="http:\/\/www\.w3\.org\/2005\/Atom"/);
  for (const el of ['id', 'title', 'updated', 'author']) assert.match(xml, new RegExp(`<feed[^]*?<${el}[ >]`));
  assert.equal([...xml.matchAll(/<entry>/g)].length, 2);
  for (const entry of xml.split('<entry>').slice(1)) {
    assert.match(entry, /<id>urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}<\/id>/);
    assert.match(entry, /<title type="text">[^<]+<\/title>/, 'a title even for an empty body');
    assert.match(entry, /<updated>2026-11-27T14:02:09Z<\/updated>/);
  }
  assert.match(xml, /<title type="text">commons &amp; &lt;friends&gt;<\/title>/);
  assert.match(xml, /Re: &lt;b&gt;&amp;&quot;&apos;&lt;\/b&gt;/);
  assert.match(xml, /a &lt;script&gt;x&lt;\/script&gt; &amp; +end/);
  assert.doesNotMatch(xml, /[\u0000-\u0008\ud800]/);
  assert.match(xml, new RegExp(`<thr:in-reply-to ref="${entryId(evil.id)}"`));
  assert.match(xml, /href="http:\/\/h\/p\/p\d+%2Fx%2By%40test\.example"/, 'ids encoded in links');
  assert.equal(entryId(evil.id), entryId(evil.id), 'the same post, the same entry id');
  assert.notEqual(entryId(evil.id), entryId(reply.id));
  assert.equal(xmlText('\ud83d\ude00'), '\ud83d\ude00', 'a pair of surrogates is one character, kept');
});

test('privacy: the feed, the thread page and the plan show no full address unless the policy says show', () => {
  const p = post({ body: 'write to bob@mail.example.net' });
  for (const policy of ['obfuscate', 'hide'] as const) {
    const shown = publicPost(p, policy);
    const xml = feedOf([shown]);
    assert.doesNotMatch(xml, /alice@example\.org|bob@mail\.example\.net|<email>/);
    const html = threadPage({ site: 'S', key: p.id, posts: [shown], nameOf: () => 'commons' }, relLinks);
    assert.doesNotMatch(html, /alice@example\.org|bob@mail\.example\.net/);
    const plan = renderPlan({
      name: 'commons',
      bridge: 'commons',
      hostname: 'h',
      description: '',
      join: [],
      posts: [planPost(p, policy, false)],
      total: 1,
      verbose: true,
      charset: 'ascii',
    });
    assert.doesNotMatch(plan, /alice@example\.org|bob@mail\.example\.net/);
    assert.match(plan, policy === 'hide' ? /bob@\.\.\./ : /bob@\.\.\.ail\.example\.net/);
  }
  assert.match(feedOf([p], true), /<email>alice@example\.org<\/email>/, 'show: the address whole, as <email>');
});

test('the thread page is an indented tree from its first post', () => {
  const root = post({ subject: 'Welcome' });
  const a = post({ inReplyTo: root.id, references: [root.id], body: 'first reply' });
  const b = post({ inReplyTo: a.id, references: [root.id, a.id], body: 'deeper' });
  const orphan = post({ inReplyTo: 'gone@x', references: [root.id, 'gone@x'], body: 'orphan' });
  const html = threadPage({ site: 'S', key: root.id, posts: [root, a, b, orphan], nameOf: () => 'commons' }, relLinks);
  const depths = [...html.matchAll(/<li class="depth-(\d+)" data-depth="(\d+)">/g)].map((m) => Number(m[2]));
  assert.deepEqual(depths, [0, 1, 2, 1]);
  assert.match(
    html,
    /<link rel="alternate" type="application\/atom\+xml"[^>]*href="\/t\/p\d+%2Fx%2By%40test\.example\/atom"/,
  );
});
