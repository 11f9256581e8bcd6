/**
 * Retention as an operator meets it: a bridge with `archive: { keep: 1w }`, a store holding a post this node
 * received 30 days ago and one received now; the real daemon starts, its first sweep removes the old post from
 * every view (web 410 with the public words, the API, search, the finger plan) and `peerpost removed` lists it
 * with cause `retention`; the recent post stays. A bridge without `keep` keeps everything. An old list archive
 * imported today (`peerpost import`) counts from its posts' own dates: its 2015 post leaves at that first sweep,
 * its post of yesterday stays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { world, cli, startDaemon, runOnce, sleep } from '../helpers/daemon.js';
import { listeningPort, rawQuery } from '../peers/finger.js';
import { Store } from '../../src/store.js';
import type { Post } from '../../src/post.js';

const DAY = 86_400_000;

const post = (id: string, bridge: string, body: string): Post => ({
  id,
  bridge,
  origin: { account: 'cli', target: bridge },
  author: { name: 'Alice Example', address: 'alice@example.org', via: 'mail' },
  subject: body,
  body,
  kind: 'message',
  references: [],
  hops: 0,
  date: new Date().toISOString(),
  attachments: [],
});

test('archive.keep: the first sweep removes what was received longer ago, from every view; the rest stays', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  web.t: { listen: 127.0.0.1:0 }
  finger.t: { listen: 127.0.0.1:0, rateLimit: { queries: 0 } }
bridges:
  commons:
    archive: { keep: 1w }
    endpoints: [web.t/commons, finger.t/commons]
  forever:
    endpoints: [web.t/forever]
`);
  await runOnce(w.config);
  const store = Store.open(w.data);
  const now = Date.now();
  store.insertPost(post('old@x.example', 'commons', 'Oldharvest notes'), now - 30 * DAY);
  store.insertPost(post('new@x.example', 'commons', 'Newharvest notes'), now);
  store.insertPost(post('ancient@x.example', 'forever', 'Ancientharvest notes'), now - 3000 * DAY);
  store.close();
  const mbox = join(w.dir, 'old-list.mbox');
  const yesterday = new Date(now - DAY).toUTCString().replace('GMT', '+0000');
  writeFileSync(
    mbox,
    [
      'From bob@example.org Thu Mar  5 09:00:00 2015',
      'From: Bob <bob@example.org>',
      'Subject: Oldimport minutes',
      'Date: Thu, 05 Mar 2015 09:00:00 +0000',
      'Message-ID: <imported-2015@x.example>',
      '',
      'Oldimport minutes of 2015.',
      '',
      'From bob@example.org Thu Mar  5 09:00:00 2015',
      'From: Bob <bob@example.org>',
      'Subject: Freshimport minutes',
      `Date: ${yesterday}`,
      'Message-ID: <imported-recent@x.example>',
      '',
      'Freshimport minutes of yesterday.',
      '',
    ].join('\n'),
  );
  const imported = await cli(['import', '-c', w.config, '-b', 'commons', mbox]);
  assert.equal(imported.code, 0, imported.stderr);

  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const web = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.t')}`;
  const finger = await listeningPort(d.waitForLog, 'finger.t');
  const page = (id: string) => fetch(`${web}/p/${encodeURIComponent(id)}`);

  for (let i = 0; (await page('old@x.example')).status !== 410; i++) {
    assert.ok(i < 100, 'the first sweep removes the old post within 10 s of the start');
    await sleep(100);
  }
  const gone = await page('old@x.example');
  assert.match(await gone.text(), /older than this archive keeps/);
  assert.equal((await fetch(`${web}/api/posts/${encodeURIComponent('old@x.example')}`)).status, 410);
  assert.equal((await page('new@x.example')).status, 200, 'the recent post stays');
  assert.equal((await page('ancient@x.example')).status, 200, 'a bridge without keep keeps everything');
  assert.equal((await page('imported-2015@x.example')).status, 410, 'an imported 2015 post counts from 2015');
  assert.equal((await page('imported-recent@x.example')).status, 200, 'an imported post of yesterday stays');

  const found = async (q: string) =>
    ((await (await fetch(`${web}/api/search?q=${q}`)).json()) as { results: { id: string }[] }).results.map(
      (x) => x.id,
    );
  assert.deepEqual(await found('oldharvest'), [], 'search no longer finds it');
  assert.deepEqual(await found('newharvest'), ['new@x.example']);
  const plan = await rawQuery(finger, 'commons\r\n');
  assert.doesNotMatch(plan, /Oldharvest/, 'the finger plan drops it');
  assert.match(plan, /Newharvest/);

  const listed = await cli(['removed', '-c', w.config, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const tombs = JSON.parse(listed.stdout) as { id: string; cause: string; bridge: string }[];
  assert.deepEqual(
    tombs.map((x) => [x.id, x.cause, x.bridge]).sort(),
    [
      ['imported-2015@x.example', 'retention', 'commons'],
      ['old@x.example', 'retention', 'commons'],
    ].sort(),
  );
});
