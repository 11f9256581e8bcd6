/**
 * Removal as users meet it: the real daemon as a child process; a post taken by the built-in news server (Python's
 * nntplib), then `peerpost remove` through the control socket; every view checked afterwards — the web page (410
 * with the reason), the API, the finger plan, nntplib against the built-in server (430 by Message-ID, 423 by
 * number, gone from OVER) — and the same article posted again is refused; `peerpost removed` lists it.
 */
import { before, test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { world, cli, startDaemon, sleep } from '../helpers/daemon.js';
import { listeningPort, rawQuery } from '../peers/finger.js';
import { nntplib, type OpResult } from './nntp-helpers.js';
import { requirePeer } from '../peers/require.js';
import { WebSocket } from 'ws';

before(() => requirePeer('python3'));

const ok = (r: OpResult) => {
  assert.ok(r.ok, `nntplib: ${r.error}`);
  return r.value;
};

const article = (id: string, subject: string, body: string) =>
  `From: Spammer <spammer@example.org>\r\nNewsgroups: peerpost.commons\r\nSubject: ${subject}\r\nMessage-ID: <${id}>\r\n\r\n${body}\r\n`;

test('a removed post leaves every view (web 410, API, finger, news 430/423/OVER) and a resend is refused', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  nntp.t: { listen: 127.0.0.1:0 }
  web.t: { listen: 127.0.0.1:0 }
  finger.t: { listen: 127.0.0.1:0, rateLimit: { queries: 0 } }
bridges:
  commons:
    endpoints: [nntp.t/peerpost.commons, web.t/commons, finger.t/commons]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const news = await listeningPort(d.waitForLog, 'nntp.t');
  const web = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.t')}`;
  const finger = await listeningPort(d.waitForLog, 'finger.t');

  ok((await nntplib(news, [['post', article('spam1@x.example', 'Cheap watches', 'buy cheapwatches now')]]))[0]!);
  ok((await nntplib(news, [['post', article('good1@x.example', 'Gardening', 'tomatoes this year')]]))[0]!);
  let over: [number, Record<string, string>][] = [];
  for (let i = 0; i < 50 && over.length < 2; i++) {
    const r = await nntplib(news, [
      ['group', 'peerpost.commons'],
      ['over', '1-'],
    ]);
    over = r[1]!.ok ? r[1]!.value : [];
    if (over.length < 2) await sleep(100);
  }
  const spamNumber = over.find(([, o]) => o['message-id'] === '<spam1@x.example>')![0];
  const page = `${web}/p/${encodeURIComponent('spam1@x.example')}`;
  assert.equal((await fetch(page)).status, 200, 'the post is on the web before');
  assert.match(await rawQuery(finger, 'commons\r\n'), /Cheap watches/, 'and in the finger plan');
  const found = async () =>
    ((await (await fetch(`${web}/api/search?q=watches`)).json()) as { results: { id: string }[] }).results.map(
      (x) => x.id,
    );
  assert.deepEqual(await found(), ['spam1@x.example'], 'and found by a search');

  // A live page's stream: it hears of the removal.
  const ws = new WebSocket(`${web.replace('http', 'ws')}/api/stream?bridge=commons`);
  t.after(() => ws.terminate());
  const heard: Record<string, unknown>[] = [];
  ws.on('message', (m) => heard.push(JSON.parse(m.toString()) as Record<string, unknown>));
  await new Promise((res, rej) => {
    ws.once('open', res);
    ws.once('error', rej);
  });

  const r = await cli(['remove', '-c', w.config, '<spam1@x.example>', '--reason', 'spam from a bot']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /removed spam1@x\.example \(bridge commons\)/);

  for (let i = 0; i < 100 && !heard.some((m) => m.type === 'removed'); i++) await sleep(50);
  const removed = heard.find((m) => m.type === 'removed');
  assert.equal(removed?.id, 'spam1@x.example', 'the live stream sends the removal');
  assert.match(String(removed?.reason), /spam from a bot/);

  const gone = await fetch(page);
  assert.equal(gone.status, 410, 'the page answers 410 Gone');
  assert.match(await gone.text(), /removed from this archive: spam from a bot/);
  const api = await fetch(`${web}/api/posts/${encodeURIComponent('spam1@x.example')}`);
  assert.equal(api.status, 410);
  assert.match(((await api.json()) as { error: string }).error, /spam from a bot/);
  assert.equal((await fetch(`${web}/p/${encodeURIComponent('good1@x.example')}`)).status, 200, 'the other post stays');
  assert.doesNotMatch(await (await fetch(`${web}/b/commons`)).text(), /cheapwatches/, 'the bridge page drops it');
  assert.deepEqual(await found(), [], 'a search no longer finds it');

  const plan = await rawQuery(finger, 'commons\r\n');
  assert.doesNotMatch(plan, /Cheap watches/, 'the finger plan drops it');
  assert.match(plan, /Gardening/);
  assert.match(plan, /^1 post/m);

  const after = await nntplib(news, [
    ['article', '<spam1@x.example>'],
    ['group', 'peerpost.commons'],
    ['article', String(spamNumber)],
    ['over', '1-'],
  ]);
  assert.equal(after[0]!.code, '430', 'the news server answers 430 for its Message-ID');
  assert.equal(after[2]!.code, '423', 'and 423 for its old number');
  assert.deepEqual(
    (ok(after[3]!) as [number, Record<string, string>][]).map(([, o]) => o['message-id']),
    ['<good1@x.example>'],
    'OVER skips it',
  );
  assert.equal(ok(after[1]!)[1], 1, 'the group counts one article');

  const again = (
    await nntplib(news, [['post', article('spam1@x.example', 'Cheap watches', 'buy cheapwatches now')]])
  )[0]!;
  assert.equal(again.ok, false, 'the same article posted again is refused');
  assert.equal(again.code, '441');
  assert.equal((await fetch(page)).status, 410, 'and stays gone');

  // An old archive holding it, carried in with `peerpost import`, does not bring it back either.
  const mbox = join(w.dir, 'old.mbox');
  writeFileSync(
    mbox,
    'From spam@x.example Thu Jan  1 00:00:00 2026\n' +
      article('spam1@x.example', 'Cheap watches', 'buy cheapwatches now').replace(/\r\n/g, '\n') +
      '\n',
  );
  const imported = await cli(['import', '-c', w.config, '-b', 'commons', '--json', mbox]);
  assert.equal(imported.code, 0, imported.stderr);
  const counts = JSON.parse(imported.stdout) as { imported: number; refused: Record<string, number> };
  assert.equal(counts.imported, 0, 'the import adds nothing');
  assert.deepEqual(counts.refused, { removed: 1 }, 'and says it was refused as removed');
  assert.equal((await fetch(page)).status, 410, 'and it stays gone after the import');

  const listed = await cli(['removed', '-c', w.config, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const tombs = JSON.parse(listed.stdout) as { id: string; bridge: string; reason: string; cause: string }[];
  assert.deepEqual(
    tombs.map((x) => [x.id, x.bridge, x.reason, x.cause]),
    [['spam1@x.example', 'commons', 'spam from a bot', 'removed']],
  );
});
