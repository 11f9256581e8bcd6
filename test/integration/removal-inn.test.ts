/**
 * Removal against a real INN 2.7 (test/peers/inn2.sh): with sendCancels, `peerpost remove` sends a cancel that
 * takes the article off INN; with acceptCancels, a cancel posted on INN (injected at INN's pathhost, an accepted
 * peer) removes the post here, and it does not come back.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { world, cli, startDaemon, until, sleep } from '../helpers/daemon.js';

/** Wait for an asynchronous condition (INN files a cancel a moment after it is posted). */
async function eventually(fn: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await fn()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}
import { ensureInn, nntplib, startInn, type OpResult } from './nntp-helpers.js';

const ok = (r: OpResult) => {
  assert.ok(r.ok, `nntplib: ${r.error}`);
  return r.value;
};

before(() => {
  ensureInn();
  execFileSync('python3', ['-W', 'ignore', '-c', 'import nntplib'], { stdio: 'pipe' });
});

const GROUP = 'peerpost.test';

async function innHas(port: number, id: string): Promise<boolean> {
  const r = (await nntplib(port, [['stat', id]]))[0]!;
  return r.ok;
}

test('sendCancels: a removed post that went to INN is cancelled there', async (t) => {
  const inn = await startInn([GROUP]);
  t.after(() => inn.stop());
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  nntp.inn: { server: "127.0.0.1:${inn.port}", pollInterval: 250ms, sendCancels: true }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    endpoints: [nntp.inn/${GROUP}, sink.s/out]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  await d.waitForLog(/first look at peerpost\.test/);
  const r = await cli(['post', '-c', w.config, '-b', 'commons', '--from', 'spammer', '--subject', 'Cheap', 'buy']);
  assert.equal(r.code, 0, r.stderr);
  const sent = await until(() => w.delivered('s').find((x) => x.subject === 'Cheap'), 'the post in the sink');
  await d.waitForLog(new RegExp(`${sent.id.replace(/[.]/g, '\\.')}> sent to peerpost\\.test`));
  assert.ok(await innHas(inn.port, `<${sent.id}>`), 'INN holds the article');
  const a = ok((await nntplib(inn.port, [['head', `<${sent.id}>`]]))[0]!);
  assert.ok(
    (a.lines as string[]).some((l) => /^Cancel-Lock: sha256:/.test(l)),
    'the article carries our Cancel-Lock',
  );

  const rm = await cli(['remove', '-c', w.config, sent.id, '--reason', 'spam']);
  assert.equal(rm.code, 0, rm.stderr);
  await d.waitForLog(new RegExp(`cancel of <${sent.id.replace(/[.]/g, '\\.')}> sent to peerpost\\.test`));
  await eventually(async () => !(await innHas(inn.port, `<${sent.id}>`)), 'the article gone from INN');
});

test('acceptCancels: a cancel posted on INN by an accepted peer removes the post here, for good', async (t) => {
  const inn = await startInn([GROUP]);
  t.after(() => inn.stop());
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  nntp.inn: { server: "127.0.0.1:${inn.port}", pollInterval: 250ms, acceptCancels: [news.test.local] }
  web.t: { listen: 127.0.0.1:0 }
bridges:
  commons:
    endpoints: [nntp.inn/${GROUP}, web.t/commons]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const webPort = Number(/web\.t is listening: 127\.0\.0\.1:(\d+)/.exec(await d.waitForLog(/web\.t is listening/))![1]);
  await d.waitForLog(/first look at peerpost\.test/);
  await d.waitForLog(/first look at control\.cancel/);
  const id = `spam.${Date.now()}@reader.example`;
  ok(
    (
      await nntplib(inn.port, [
        [
          'post',
          `From: Spammer <spammer@reader.example>\r\nNewsgroups: ${GROUP}\r\nSubject: Cheap\r\nMessage-ID: <${id}>\r\n\r\nbuy\r\n`,
        ],
      ])
    )[0]!,
  );
  const page = `http://127.0.0.1:${webPort}/p/${encodeURIComponent(id)}`;
  await eventually(async () => (await fetch(page)).status === 200, 'the article in the bridge');

  ok(
    (
      await nntplib(inn.port, [
        [
          'post',
          `From: Spammer <spammer@reader.example>\r\nNewsgroups: ${GROUP}\r\nSubject: cmsg cancel <${id}>\r\nControl: cancel <${id}>\r\nMessage-ID: <cancel.${id}>\r\n\r\ncancelled\r\n`,
        ],
      ])
    )[0]!,
  );
  await d.waitForLog(new RegExp(`<${id.replace(/[.]/g, '\\.')}> removed: cancelled on`));
  assert.equal((await fetch(page)).status, 410, 'the page is gone here');
  const listed = JSON.parse((await cli(['removed', '-c', w.config, '--json'])).stdout) as {
    id: string;
    cause: string;
  }[];
  assert.deepEqual(
    listed.map((x) => [x.id, x.cause]),
    [[id, 'cancel']],
  );
});
