/**
 * The web plugin as its users meet it: the real daemon as a child process,
 * real HTTP clients (fetch) and real WebSocket clients (ws) on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { world, startDaemon, until, HELPERS, type Running, type World, cliPost } from '../helpers/daemon.js';
import { listeningPort } from '../peers/finger.js';

const TOKEN = 'commons-token-0123456789';
const OTHER_TOKEN = 'other-bridge-token-0123456789';

/** Write a config with the test plugins sink and unsub, and start the daemon; resolves with the web port. */
async function up(w: World, yaml: string): Promise<{ d: Running; port: number; base: string }> {
  writeFileSync(
    w.config,
    `plugins:\n  sink: ${HELPERS}sink-plugin.js\n  unsub: ${HELPERS}unsub-plugin.js\nnode:\n  hostname: test.example\n  data: ${w.data}\n${yaml}`,
  );
  const d = await startDaemon(w.config);
  const port = await listeningPort(d.waitForLog, 'web.t');
  return { d, port, base: `http://127.0.0.1:${port}` };
}

const mainConfig = (w: World, extra = '    maxBody: 2048\n') => `
accounts:
  web.t:
    listen: 127.0.0.1:0
    pageSize: 3
    tokens:
      - { name: bot, token: ${TOKEN}, bridges: [commons] }
      - { name: other, token: ${OTHER_TOKEN}, bridges: [quiet] }
    corsOrigins: [https://app.example.org]
${extra}
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    description: The <b>commons</b> discussion
    endpoints: [web.t/commons, sink.s/out]
  quiet:
    endpoints: [{ endpoint: web.t/quiet, direction: out }]
  hidden:
    endpoints: [sink.s/hidden]
`;

async function apiPost(
  base: string,
  bridge: string,
  body: unknown,
  token = TOKEN,
  headers: Record<string, string> = {},
) {
  const r = await fetch(`${base}/api/bridges/${bridge}/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as Record<string, any>, headers: r.headers };
}

interface Client {
  ws: WebSocket;
  msgs: any[];
  posts(): any[];
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
}

function client(port: number, query: string, opts: { origin?: string } = {}): Client {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/stream?${query}`, opts.origin ? { origin: opts.origin } : {});
  const msgs: any[] = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.on('close', (code, reason) => r({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, msgs, posts: () => msgs.filter((m) => m.type === 'post').map((m) => m.post), closed, opened };
}

test('pages and API: bridges, archive (escaped, threaded, paged), permalinks, headers, CORS, health, metrics, unsubscribe without a mail plugin', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, base } = await up(w, mainConfig(w));
  t.after(() => d.stop('SIGKILL'));

  const root = await cliPost(w, 'commons', 'alice', 'A first post', 'Welcome');
  const evil = await cliPost(w, 'commons', 'mallory', '<script>window.pwned=1</script> & <b>bold</b>');
  const reply = await apiPost(base, 'commons', {
    body: 'A reply',
    inReplyTo: `<${root}>`,
    references: [root],
    from: 'bob',
  });
  assert.equal(reply.status, 201, JSON.stringify(reply.json));
  for (let i = 1; i <= 3; i++) await cliPost(w, 'commons', 'carol', `line ${i}`);
  await cliPost(w, 'hidden', 'eve', 'not on the web');

  // The index: served bridges only, description escaped, how to join, account states.
  let r = await fetch(`${base}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-security-policy')!, /default-src 'self'/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  let html = await r.text();
  assert.match(html, /<a href="\/b\/commons">commons<\/a>/);
  assert.match(html, /The &lt;b&gt;commons&lt;\/b&gt; discussion/);
  assert.match(html, /href="\/b\/quiet"/);
  assert.doesNotMatch(html, /hidden/);
  assert.match(html, /sink\.s\/out/);
  assert.match(html, /data-account="web\.t">listening</);

  // The archive: newest first, pageSize 3, then older pages by cursor; the reply sits under its parent.
  html = await (await fetch(`${base}/b/commons`)).text();
  assert.equal((html.match(/<article /g) ?? []).length, 3);
  assert.match(html, /line 3[\s\S]*line 2[\s\S]*line 1/);
  const older = /href="\/b\/commons\?before=(\d+)"/.exec(html);
  assert.ok(older, 'a link to older posts');
  html = await (await fetch(`${base}/b/commons?before=${older[1]}`)).text();
  assert.match(html, /&lt;script&gt;window\.pwned=1&lt;\/script&gt; &amp; &lt;b&gt;bold&lt;\/b&gt;/);
  assert.doesNotMatch(html, /<script>window/);
  assert.match(
    html,
    /<h3 class="subject">Welcome<\/h3>[\s\S]*<div class="replies"><article class="post"[^>]*>\n<header><span class="author">bob<\/span> <span class="via"[^>]*>web</,
    'the reply nested under its parent',
  );
  assert.doesNotMatch(html, /data-bridge=/, 'older pages are not live');
  assert.equal((await fetch(`${base}/b/commons?before=x`)).status, 400);
  assert.equal((await fetch(`${base}/b/hidden`)).status, 404);

  // Permalinks.
  r = await fetch(`${base}/p/${encodeURIComponent(evil)}`);
  assert.equal(r.status, 200);
  html = await r.text();
  assert.match(html, /&lt;script&gt;/);
  assert.doesNotMatch(html, /<script>window/);
  assert.equal((await fetch(`${base}/p/nope%40nowhere`)).status, 404);

  // The API.
  r = await fetch(`${base}/api/bridges`);
  assert.equal(r.headers.get('access-control-allow-origin'), null, 'CORS closed without an allowed Origin');
  const bridges = (await r.json()) as any;
  assert.deepEqual(
    bridges.bridges.map((b: any) => b.name),
    ['commons', 'quiet'],
  );
  assert.equal(bridges.bridges[0].posts, 6);
  let page = (await (await fetch(`${base}/api/bridges/commons/posts?limit=4`)).json()) as any;
  assert.deepEqual(
    page.posts.map((p: any) => p.body),
    ['line 3', 'line 2', 'line 1', 'A reply'],
  );
  page = (await (await fetch(`${base}/api/bridges/commons/posts?limit=4&before=${page.next}`)).json()) as any;
  assert.equal(page.posts.length, 2);
  assert.equal(page.next, null);
  assert.equal(page.posts[0].body, '<script>window.pwned=1</script> & <b>bold</b>', 'JSON carries the text as it is');
  const one = (await (await fetch(`${base}/api/posts/${encodeURIComponent(reply.json.id)}`)).json()) as any;
  assert.equal(one.inReplyTo, root);
  assert.equal(one.origin.account, 'web.t');
  assert.equal(one.author.name, 'bob');
  assert.equal(one.url, `${base}/p/${encodeURIComponent(reply.json.id)}`);
  assert.equal((await fetch(`${base}/api/bridges/commons/posts?limit=501`)).status, 400);
  assert.equal((await fetch(`${base}/api/nothing`)).status, 404);

  // CORS: an allowed origin gets the header and a preflight; another does not.
  r = await fetch(`${base}/api/bridges`, { headers: { origin: 'https://app.example.org' } });
  assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example.org');
  r = await fetch(`${base}/api/bridges`, { headers: { origin: 'https://evil.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  r = await fetch(`${base}/api/bridges/commons/posts`, {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example.org', 'access-control-request-method': 'POST' },
  });
  assert.equal(r.status, 204);
  assert.match(r.headers.get('access-control-allow-headers')!, /Authorization/);
  r = await fetch(`${base}/api/bridges/commons/posts`, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(r.status, 403);

  // Health and metrics.
  r = await fetch(`${base}/healthz`);
  assert.equal(r.status, 200);
  assert.match(await r.text(), /^ok\nstore: writable\n/);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /^peerpost_posts_in_total\{account="web\.t",protocol="web",verdict="accepted"\} 1$/m);
  assert.match(metrics, /^peerpost_posts_stored\{bridge="commons"\} 6$/m);
  assert.match(metrics, /^peerpost_delivery_latency_seconds_bucket\{account="sink\.s",le="\+Inf"\} \d+$/m);
  assert.match(metrics, /^peerpost_account_state\{account="web\.t",protocol="web",state="listening"\} 1$/m);

  // No mail plugin runs: the unsubscribe link says so.
  r = await fetch(`${base}/unsubscribe/some-token`);
  assert.equal(r.status, 503);
  assert.match(await r.text(), /not available right now/);
  r = await fetch(`${base}/unsubscribe/some-token`, {
    method: 'POST',
    body: 'List-Unsubscribe=One-Click',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(r.status, 503);
});

test('GET /api is an index of the API: every route with its method and what it does, and each one answers', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, port, base } = await up(w, mainConfig(w));
  t.after(() => d.stop('SIGKILL'));
  const id = await cliPost(w, 'commons', 'alice', 'A first post', 'Welcome');

  const r = await fetch(`${base}/api`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type')!, /^application\/json/);
  const index = (await r.json()) as {
    posting: boolean;
    routes: { method: string; path: string; description: string }[];
  };
  assert.equal(index.posting, true);
  const listed = index.routes.map((x) => `${x.method} ${x.path.split('?')[0]}`);
  assert.deepEqual(listed, [
    'GET /api',
    'GET /api/bridges',
    'GET /api/bridges/{name}/posts',
    'POST /api/bridges/{name}/posts',
    'GET /api/posts/{id}',
    'GET /api/search',
    'GET /api/stream',
  ]);
  for (const x of index.routes) assert.ok(x.description.length > 10, `${x.path} says what it does`);
  // "/api/" is the same index; an unknown API path points to it.
  assert.deepEqual(await (await fetch(`${base}/api/`)).json(), index);
  const unknown = await fetch(`${base}/api/nope`);
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { error: string }).error, /GET \/api lists them/);
  assert.equal((await fetch(`${base}/api`, { method: 'POST' })).status, 405);

  // Every route it lists is there, as listed.
  const fill = (path: string) =>
    path.startsWith('/api/search')
      ? '/api/search?q=welcome'
      : path.replace('{name}', 'commons').replace('{id}', encodeURIComponent(id)).replace(/\?.*$/, '');
  for (const x of index.routes) {
    if (x.path.startsWith('/api/stream')) {
      const c = client(port, 'bridge=commons');
      await c.opened;
      await until(() => c.msgs.some((m) => m.type === 'hello'), 'the stream says hello');
      c.ws.close();
      continue;
    }
    const res =
      x.method === 'POST'
        ? await apiPost(base, 'commons', { body: 'posted from the index test' })
        : { status: (await fetch(`${base}${fill(x.path)}`)).status };
    assert.equal(res.status, x.method === 'POST' ? 201 : 200, `${x.method} ${fill(x.path)}`);
  }
});

test('posting: a token for the bridge, refused without one, limits, and the post reaches the other endpoints', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, base } = await up(w, mainConfig(w));
  t.after(() => d.stop('SIGKILL'));

  let r = await apiPost(base, 'commons', { body: 'no token' }, '');
  assert.equal(r.status, 401);
  assert.match(r.json.error, /Bearer/);
  assert.match(r.headers.get('www-authenticate')!, /^Bearer/);
  r = await apiPost(base, 'commons', { body: 'bad token' }, 'x'.repeat(24));
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'the token is not valid');
  r = await apiPost(base, 'commons', { body: 'wrong bridge' }, OTHER_TOKEN);
  assert.equal(r.status, 403);
  assert.match(r.json.error, /may not post to bridge commons/);
  r = await apiPost(base, 'quiet', { body: 'to an out endpoint' }, OTHER_TOKEN);
  assert.equal(r.status, 403);
  assert.match(r.json.error, /only receives/);
  r = await apiPost(base, 'commons', { body: 'x'.repeat(3000) });
  assert.equal(r.status, 413);
  r = await apiPost(base, 'commons', 'body=hi', TOKEN, { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(r.status, 415);
  r = await apiPost(base, 'commons', '{"body":');
  assert.equal(r.status, 400);
  r = await apiPost(base, 'commons', { body: 'hi', colour: 'red' });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /unknown key "colour"/);
  assert.equal(w.delivered('s').length, 0, 'nothing refused was relayed');

  r = await apiPost(base, 'commons', {
    body: 'hello from the web',
    subject: 'Hi',
    id: 'client-chosen-1@app.example.org',
  });
  assert.equal(r.status, 201);
  assert.equal(r.json.id, 'client-chosen-1@app.example.org');
  // A retry after a lost answer is not posted twice.
  r = await apiPost(base, 'commons', {
    body: 'hello from the web',
    subject: 'Hi',
    id: 'client-chosen-1@app.example.org',
  });
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'duplicate');
  const got = await until(() => w.delivered('s').length === 1 && w.delivered('s'), 'the web post reached the sink');
  assert.equal(got[0]!.body, 'hello from the web');
  assert.equal(got[0]!.endpoint, 'sink.s/out');

  // Without any token, posting is off.
  const w2 = world();
  t.after(() => w2.cleanup());
  const { d: d2, base: base2 } = await up(
    w2,
    `
accounts:
  web.t: { listen: 127.0.0.1:0 }
bridges:
  commons: { endpoints: [web.t/commons] }
`,
  );
  t.after(() => d2.stop('SIGKILL'));
  r = await apiPost(base2, 'commons', { body: 'hi' });
  assert.equal(r.status, 403);
  assert.match(r.json.error, /posting from the web is off/);
});

test('stream: replay since a cursor then live, two clients each get every post in order, no gap or repeat across the switch, posting over the socket', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, port, base } = await up(w, mainConfig(w));
  t.after(() => d.stop('SIGKILL'));

  for (let i = 1; i <= 5; i++) await cliPost(w, 'commons', 'alice', `before ${i}`);
  const a = client(port, 'bridge=commons&since=0');
  const b = client(port, 'bridge=commons&since=0');
  t.after(() => {
    a.ws.terminate();
    b.ws.terminate();
  });
  await until(
    () => a.msgs.some((m) => m.type === 'live') && b.msgs.some((m) => m.type === 'live'),
    'both clients replayed and live',
  );
  assert.deepEqual(
    a.posts().map((p) => p.body),
    ['before 1', 'before 2', 'before 3', 'before 4', 'before 5'],
  );

  // 200 posts from 8 concurrent writers while a third client connects mid-way from a cursor.
  const cursor3 = a.posts()[2].seq;
  let c: Client | undefined;
  const writers = Array.from({ length: 8 }, async (_, k) => {
    for (let i = 0; i < 25; i++) {
      const r = await apiPost(base, 'commons', { body: `w${k}-${i}` });
      assert.equal(r.status, 201);
      if (k === 0 && i === 10) c = client(port, `bridge=commons&since=${cursor3}`);
    }
  });
  await Promise.all(writers);
  t.after(() => c?.ws.terminate());
  const total = 205;
  await until(
    () => a.posts().length === total && b.posts().length === total && c!.posts().length === total - 3,
    'every client got every post',
    15_000,
  );
  for (const x of [a, b, c!]) {
    const seqs = x.posts().map((p) => p.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((p, q) => p - q),
      'in order',
    );
    assert.equal(new Set(seqs).size, seqs.length, 'no repeats');
  }
  assert.deepEqual(
    c!.posts().map((p) => p.id),
    a
      .posts()
      .slice(3)
      .map((p) => p.id),
    'the late client: exactly what followed its cursor',
  );
  assert.deepEqual(
    a.posts().map((p) => p.id),
    b.posts().map((p) => p.id),
  );

  // Without since: live from now on.
  const live = client(port, 'bridge=commons');
  t.after(() => live.ws.terminate());
  await until(() => live.msgs.some((m) => m.type === 'live'), 'live client ready');
  assert.equal(live.posts().length, 0);

  // Posting over the socket.
  a.ws.send(JSON.stringify({ type: 'post', ref: 7, token: TOKEN, body: 'over the socket', from: 'wsbot' }));
  a.ws.send(JSON.stringify({ type: 'post', ref: 8, token: 'x'.repeat(20), body: 'bad token' }));
  a.ws.send('not json');
  await until(
    () =>
      a.msgs.some((m) => m.ref === 7) &&
      a.msgs.some((m) => m.ref === 8) &&
      a.msgs.some((m) => m.type === 'error' && /not JSON/.test(m.error)),
    'answers',
  );
  assert.equal(a.msgs.find((m) => m.ref === 7).status, 'accepted');
  assert.equal(a.msgs.find((m) => m.ref === 8).error, 'the token is not valid');
  await until(
    () => live.posts().length === 1 && b.posts().length === total + 1,
    'the socket post reached every client',
  );
  assert.equal(live.posts()[0].body, 'over the socket');
  assert.equal(live.posts()[0].author.name, 'wsbot');

  // Refused upgrades: an unknown bridge, a foreign page's Origin; a same-origin page is fine.
  const bad = client(port, 'bridge=hidden');
  await assert.rejects(bad.opened, /404/);
  const foreign = client(port, 'bridge=commons', { origin: 'https://evil.example' });
  await assert.rejects(foreign.opened, /403/);
  const same = client(port, 'bridge=commons', { origin: `http://127.0.0.1:${port}` });
  await same.opened;
  same.ws.close();
});

test('stream: a client that stops reading is cut with 4008; the others get everything', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, port, base } = await up(w, mainConfig(w, '    stream: { maxBuffered: 65536 }\n    maxBody: 65536\n'));
  t.after(() => d.stop('SIGKILL'));

  const fast = client(port, 'bridge=commons');
  const slow = client(port, 'bridge=commons');
  t.after(() => {
    fast.ws.terminate();
    slow.ws.terminate();
  });
  await Promise.all([fast.opened, slow.opened]);
  await until(() => fast.msgs.some((m) => m.type === 'live') && slow.msgs.some((m) => m.type === 'live'), 'live');
  // The slow client stops reading its socket.
  (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
  const body = 'x'.repeat(30_000);
  let n = 0;
  const deadline = Date.now() + 20_000;
  while (!/peerpost_web_stream_slow_cuts_total 1/.test(await (await fetch(`${base}/metrics`)).text())) {
    assert.ok(Date.now() < deadline, `the slow client was not cut after ${n} posts`);
    for (let i = 0; i < 20; i++, n++)
      assert.equal((await apiPost(base, 'commons', { body: `${n} ${body}` })).status, 201);
  }
  assert.ok(d.logs.some((l) => /stream client cut \(close 4008\): too slow/.test(l)));
  await until(() => fast.posts().length === n, `the fast client got all ${n} posts`, 15_000);
  assert.deepEqual(
    fast.posts().map((p) => Number(p.body.split(' ')[0])),
    Array.from({ length: n }, (_, i) => i),
  );
  // When it reads again it finds the close code and reason after what it was sent.
  (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
  const closed = await slow.closed;
  assert.equal(closed.code, 4008);
  assert.match(closed.reason, /^too slow: .*reconnect with since=\d+/);
  const since = Number(/since=(\d+)/.exec(closed.reason)![1]);
  const seen = slow.posts();
  assert.ok(seen.length < n, 'it was cut before the end');
  assert.equal(seen.length === 0 ? 0 : seen[seen.length - 1].seq, since === 0 ? 0 : since);
  // Reconnecting with that cursor brings the rest.
  const again = client(port, `bridge=commons&since=${since}`);
  t.after(() => again.ws.terminate());
  await until(() => again.msgs.some((m) => m.type === 'live'), 'replayed');
  assert.equal(seen.length + again.posts().length, n);
});

test('one-click unsubscribe (RFC 8058) through the list plugin, and web.links for other plugins', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const file = `${w.dir}/unsub.jsonl`;
  const { d, base } = await up(
    w,
    `
accounts:
  web.t: { listen: 127.0.0.1:0, publicUrl: "https://lists.test.example/" }
  unsub.m: { file: ${file} }
bridges:
  commons: { endpoints: [web.t/commons, unsub.m/commons] }
`,
  );
  t.after(() => d.stop('SIGKILL'));

  let r = await fetch(`${base}/unsubscribe/good-token`);
  assert.equal(r.status, 200);
  let html = await r.text();
  assert.match(
    html,
    /Stop sending <strong>commons@lists\.test\.example<\/strong> to <strong>carol@example\.org<\/strong>\?/,
  );
  assert.match(html, /<form class="confirm" method="post" action="\/unsubscribe\/good-token">/);
  assert.equal(existsSync(file), false, 'GET changes nothing');
  r = await fetch(`${base}/unsubscribe/bad-token`);
  assert.equal(r.status, 404);
  r = await fetch(`${base}/unsubscribe/good-token`, {
    method: 'POST',
    body: 'List-Unsubscribe=One-Click',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(r.status, 200);
  html = await r.text();
  assert.match(html, /carol@example\.org<\/strong> no longer receives <strong>commons@lists\.test\.example/);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8').trim()), { unsubscribed: 'good-token' });
  r = await fetch(`${base}/unsubscribe/bad-token`, { method: 'POST', body: 'List-Unsubscribe=One-Click' });
  assert.equal(r.status, 404);
  r = await fetch(`${base}/unsubscribe/%E0%A4%A`);
  assert.equal(r.status, 400);

  // A page served through the proxy (its Origin is publicUrl) may open the stream.
  const proxied = client(Number(new URL(base).port), 'bridge=commons', { origin: 'https://lists.test.example' });
  await proxied.opened;
  proxied.ws.close();

  const id = await cliPost(w, 'commons', 'alice', 'links please', 'An article'); // with a subject: an article, not a chat line gathered into a digest
  const line = await until(
    () =>
      existsSync(file) &&
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((x) => x.id === id),
    'the list plugin saw the links',
  );
  assert.deepEqual(line, {
    id,
    archive: 'https://lists.test.example/b/commons',
    other: null,
    post: `https://lists.test.example/p/${encodeURIComponent(id)}`,
    unsubscribe: 'https://lists.test.example/unsubscribe/a%2Fb%20c',
  });
});

test('reload (SIGHUP): a new token works at once, a bridge no longer served closes its stream clients (1001) and its pages', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const conf = (token: string, quietOnWeb: boolean) => `
accounts:
  web.t: { listen: 127.0.0.1:0, tokens: [{ name: bot, token: ${token}, bridges: ["*"] }] }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons: { endpoints: [web.t/commons] }
  quiet: { endpoints: [${quietOnWeb ? 'web.t/quiet, ' : ''}sink.s/quiet] }
`;
  const { d, port, base } = await up(w, conf(TOKEN, true));
  t.after(() => d.stop('SIGKILL'));
  const c = client(port, 'bridge=quiet');
  t.after(() => c.ws.terminate());
  await c.opened;
  assert.equal((await apiPost(base, 'commons', { body: 'old token' })).status, 201);

  writeFileSync(w.config, readFileSync(w.config, 'utf8').replace(conf(TOKEN, true), conf(OTHER_TOKEN, false)));
  d.proc.kill('SIGHUP');
  const closed = await c.closed;
  assert.equal(closed.code, 1001);
  assert.match(closed.reason, /bridge quiet is no longer served here/);
  assert.equal((await fetch(`${base}/b/quiet`)).status, 404);
  assert.equal((await apiPost(base, 'commons', { body: 'old token' })).status, 401);
  assert.equal((await apiPost(base, 'commons', { body: 'new token' }, OTHER_TOKEN)).status, 201);
});

test('stream heartbeats: a client that answers pings stays, one that does not is cut', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, port } = await up(
    w,
    `
accounts:
  web.t: { listen: 127.0.0.1:0, stream: { heartbeat: 300ms } }
bridges:
  commons: { endpoints: [web.t/commons] }
`,
  );
  t.after(() => d.stop('SIGKILL'));
  const good = client(port, 'bridge=commons');
  const mute = new WebSocket(`ws://127.0.0.1:${port}/api/stream?bridge=commons`, { autoPong: false });
  t.after(() => {
    good.ws.terminate();
    mute.terminate();
  });
  let pings = 0;
  good.ws.on('ping', () => pings++);
  const muteClosed = new Promise<number>((r) => mute.on('close', (code) => r(code)));
  await good.opened;
  const t0 = Date.now();
  const code = await muteClosed;
  assert.ok(Date.now() - t0 < 3_000, 'cut within a few heartbeats');
  assert.equal(code, 1006, 'cut without a close frame (it stopped answering)');
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(pings >= 2, `the answering client was pinged (${pings}) and stays open`);
  assert.equal(good.ws.readyState, WebSocket.OPEN);
});

test('two web accounts run side by side, each with its bridges; the first provides web.links', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, base } = await up(
    w,
    `
accounts:
  web.t: { listen: 127.0.0.1:0 }
  web.u: { listen: 127.0.0.1:0, title: Second site }
bridges:
  commons: { endpoints: [web.t/commons] }
  other: { endpoints: [web.u/other] }
`,
  );
  t.after(() => d.stop('SIGKILL'));
  const second = await listeningPort(d.waitForLog, 'web.u');
  assert.equal((await fetch(`${base}/b/commons`)).status, 200);
  assert.equal((await fetch(`${base}/b/other`)).status, 404);
  const r = await fetch(`http://127.0.0.1:${second}/b/other`);
  assert.equal(r.status, 200);
  assert.match(await r.text(), /<title>other · Second site<\/title>/);
  await d.waitForLog(/does not provide web\.links/);
  assert.equal((await fetch(`http://127.0.0.1:${second}/healthz`)).status, 200);
});

test('shutdown (SIGTERM): stream clients are told 1001 with their cursor at once, and the daemon exits promptly', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, port } = await up(
    w,
    `
accounts:
  web.t: { listen: 127.0.0.1:0 }
bridges:
  commons: { endpoints: [web.t/commons] }
`,
  );
  t.after(() => d.stop('SIGKILL'));
  await cliPost(w, 'commons', 'alice', 'one');
  const c = client(port, 'bridge=commons&since=0');
  await until(() => c.msgs.some((m) => m.type === 'live'), 'live');
  const t0 = Date.now();
  d.proc.kill('SIGTERM');
  const closed = await c.closed;
  assert.equal(closed.code, 1001);
  assert.match(closed.reason, /the server is stopping; reconnect with since=1$/);
  assert.equal(await d.exited, 0);
  assert.ok(Date.now() - t0 < 3_000, `exited in ${Date.now() - t0} ms`);
});

test('/status: account states, what waits in the outbox and why, dead letters', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { d, base } = await up(
    w,
    `
accounts:
  web.t: { listen: 127.0.0.1:0 }
  sink.dead: { failWith: "no such mailbox" }
  sink.slow: { retryTimes: 1000, retryDelayMs: 60000 }
bridges:
  commons: { endpoints: [web.t/commons, sink.dead/x, sink.slow/y] }
`,
  );
  t.after(() => d.stop('SIGKILL'));
  await cliPost(w, 'commons', 'alice', 'one', 'An article');
  let html: string;
  const deadline = Date.now() + 10_000;
  for (;;) {
    html = await (await fetch(`${base}/status`)).text();
    if (/sink\.dead\/x<\/td><td>0<\/td><td><\/td><td>1<\/td>/.test(html) && /sink\.slow\/y<\/td><td>1 /.test(html))
      break;
    assert.ok(Date.now() < deadline, `the status page shows the dead letter and the waiting row:\n${html}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(html, /<td>web\.t<\/td><td><span class="state up"[^>]*>listening<\/span>/);
  assert.match(html, /sink\.slow\/y<\/td><td>1 <span class="dir">\(oldest \d+ s\)<\/span><\/td><td>[^<]+/);
  assert.match(html, /peerpost outbox --dead/);
});
