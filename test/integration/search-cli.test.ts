/**
 * `peerpost search` as the operator reads it (plain output, not --json) against the store of a running daemon:
 * posts that came in through the running daemon (the web API, the built-in news server with Python's nntplib,
 * `peerpost post`) are found at once; `-b BRIDGE` keeps another bridge's post out; the operator sees the full
 * address; pages with --cursor; nothing found and a query that cannot run are said plainly.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { world, cli, startDaemon, cliPost } from '../helpers/daemon.js';
import { listeningPort } from '../peers/finger.js';
import { nntplib } from './nntp-helpers.js';
import { requirePeer } from '../peers/require.js';

before(() => requirePeer('python3'));

const TOKEN = 'commons-token-0123456789';

/** The posts a plain `peerpost search` printed: each block's first line is "DATE  BRIDGE  AUTHOR  <ID>". */
function listed(stdout: string): { bridge: string; author: string; id: string; lines: string[] }[] {
  return stdout
    .split('\n\n')
    .filter((b) => b.trim() !== '')
    .map((b) => {
      const [head, ...lines] = b.split('\n');
      const m = /^\d{4}-\d\d-\d\d \d\d:\d\d {2}(\S+) {2}(.+) {2}<([^>]+)>$/.exec(head!);
      assert.ok(m, `a result's first line: ${head}`);
      return { bridge: m[1]!, author: m[2]!, id: m[3]!, lines };
    });
}

test('peerpost search -b BRIDGE QUERY: the plain listing of a running daemon’s matching posts, not another bridge’s', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  nntp.t: { listen: 127.0.0.1:0 }
  web.t:
    listen: 127.0.0.1:0
    tokens: [{ name: bot, token: ${TOKEN}, bridges: [commons] }]
bridges:
  commons:
    endpoints: [nntp.t/peerpost.commons, web.t/commons]
  garden:
    endpoints: [web.t/garden]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const news = await listeningPort(d.waitForLog, 'nntp.t');
  const web = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.t')}`;

  const viaApi = await fetch(`${web}/api/bridges/commons/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ body: 'The compost heap needs turning on Sunday', subject: 'Compost day', from: 'alice' }),
  });
  assert.equal(viaApi.status, 201, await viaApi.clone().text());
  const apiId = ((await viaApi.json()) as { id: string }).id.replace(/^<|>$/g, '');
  const posted = await nntplib(news, [
    [
      'post',
      'From: Bob Grower <bob@corp.example>\r\nNewsgroups: peerpost.commons\r\nSubject: Re: Compost day\r\n' +
        'Message-ID: <compost.2@news.example>\r\n\r\nI will bring the compost fork.\r\n',
    ],
  ]);
  assert.ok(posted[0]!.ok, `nntplib: ${posted[0]!.error}`);
  const gardenId = await cliPost(w, 'garden', 'carol', 'the compost in the garden is ready', 'Garden compost');
  await cliPost(w, 'commons', 'dave', 'nothing about that here');

  // At once, from the store the daemon writes: the two commons posts, not the garden one.
  const r = await cli(['search', '-c', w.config, '-b', 'commons', 'compost']);
  assert.equal(r.code, 0, r.stderr);
  const hits = listed(r.stdout);
  assert.deepEqual(hits.map((h) => h.id).sort(), [apiId, 'compost.2@news.example'].sort());
  assert.ok(hits.every((h) => h.bridge === 'commons'));
  assert.doesNotMatch(r.stdout, new RegExp(gardenId.replace(/[.]/g, '\\.')));
  assert.doesNotMatch(r.stdout, /Garden compost|garden is ready/);
  assert.match(r.stderr, /^2 results$/m);
  const bob = hits.find((h) => h.id === 'compost.2@news.example')!;
  assert.equal(bob.author, 'Bob Grower <bob@corp.example>', 'the operator sees the address whole');
  assert.equal(bob.lines[0], '  Re: Compost day', 'the subject under it');
  assert.match(bob.lines[1]!, /compost fork/, 'and a snippet of the body');
  assert.match(hits.find((h) => h.id === apiId)!.lines.join('\n'), /Compost day[\s\S]*compost heap/);

  // Without -b: every bridge; bridge: in the query does what -b does.
  assert.equal(listed((await cli(['search', '-c', w.config, 'compost'])).stdout).length, 3);
  const garden = await cli(['search', '-c', w.config, 'bridge:garden', 'compost']);
  assert.deepEqual(
    listed(garden.stdout).map((h) => [h.bridge, h.id]),
    [['garden', gardenId]],
  );

  // Paging: one at a time, the cursor printed for the next page.
  const first = await cli(['search', '-c', w.config, '-b', 'commons', '--limit', '1', 'compost']);
  assert.equal(first.code, 0, first.stderr);
  const cursor = /1 result; more with --cursor (\S+)/.exec(first.stderr)?.[1];
  assert.ok(cursor, first.stderr);
  const second = await cli(['search', '-c', w.config, '-b', 'commons', '--limit', '1', '--cursor', cursor, 'compost']);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(
    [...listed(first.stdout), ...listed(second.stdout)].map((h) => h.id),
    hits.map((h) => h.id),
  );

  // Nothing found, and a query that cannot run: said, not a stack trace.
  const none = await cli(['search', '-c', w.config, '-b', 'garden', 'fork']);
  assert.equal(none.code, 0);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /no post matches fork/);
  const bad = await cli(['search', '-c', w.config, '--', '-compost']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /cannot be only -words/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});
