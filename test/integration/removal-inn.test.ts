/**
 * Removal against a real INN 2.7 (test/peers/inn2.sh): with sendCancels, `peerpost remove` sends a cancel that
 * takes the article off INN; with acceptCancels, a cancel posted on INN (injected at INN's pathhost, an accepted
 * peer) removes the post here, and it does not come back; without a cancel, the removed article still in INN's
 * spool, read again by a new peering (backfill), is refused by its tombstone and stays out of every view.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { world, cli, startDaemon, until, sleep } from '../helpers/daemon.js';
import { listeningPort } from '../peers/finger.js';

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

test('a removed post still in INN, offered again by a new peering without a cancel, is refused by its tombstone', async (t) => {
  const inn = await startInn([GROUP]);
  t.after(() => inn.stop());
  const w = world();
  t.after(() => w.cleanup());
  const config = (extra: string) => `
accounts:
  nntp.inn: { server: "127.0.0.1:${inn.port}", pollInterval: 250ms }
${extra}  nntp.t: { listen: 127.0.0.1:0 }
  web.t: { listen: 127.0.0.1:0 }
  sink.s: { file: ${w.sink('s')} }
bridges:
  commons:
    endpoints: [nntp.inn/${GROUP}, ${extra ? `nntp.again/${GROUP}, ` : ''}nntp.t/peerpost.commons, web.t/commons, sink.s/out]
`;
  w.writeConfig(config(''));
  let d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  await d.waitForLog(/first look at peerpost\.test/);
  const stamp = Date.now();
  const spam = `spam.${stamp}@reader.example`;
  const post = async (id: string, subject: string, body: string) =>
    ok(
      (
        await nntplib(inn.port, [
          [
            'post',
            `From: Spammer <spammer@reader.example>\r\nNewsgroups: ${GROUP}\r\nSubject: ${subject}\r\nMessage-ID: <${id}>\r\n\r\n${body}\r\n`,
          ],
        ])
      )[0]!,
    );
  await post(spam, 'Cheap watches', 'buy cheapwatches now');
  await until(() => w.delivered('s').find((x) => x.id === spam), 'the article in the bridge');
  const rm = await cli(['remove', '-c', w.config, spam, '--reason', 'spam']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.ok(await innHas(inn.port, `<${spam}>`), 'no cancel was sent: INN still holds the article');

  // A new peering with the same server, reading back its recent articles: the removed one among them.
  await d.stop();
  w.writeConfig(config(`  nntp.again: { server: "127.0.0.1:${inn.port}", pollInterval: 250ms, backfill: 10 }\n`));
  d = await startDaemon(w.config);
  const web = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.t')}`;
  const news = await listeningPort(d.waitForLog, 'nntp.t');
  await d.waitForLog(/first look at peerpost\.test on \S+: taking up to 10 recent articles/);
  await d.waitForLog(
    new RegExp(
      `<${spam.replace(/[.]/g, '\\.')}> in peerpost\\.test on .* is not relayed: .*removed from the archive \\(spam\\)`,
    ),
  );
  // An article posted after it is taken, so the new peering has read past the removed one.
  const good = `good.${stamp}@reader.example`;
  await post(good, 'Gardening', 'tomatoes and watches');
  await until(() => w.delivered('s').find((x) => x.id === good), 'the later article in the bridge');

  assert.equal((await fetch(`${web}/p/${encodeURIComponent(spam)}`)).status, 410, 'the page stays gone');
  assert.equal((await fetch(`${web}/api/posts/${encodeURIComponent(spam)}`)).status, 410, 'and the API');
  const listing = (await (await fetch(`${web}/api/bridges/commons/posts`)).json()) as { posts: { id: string }[] };
  assert.deepEqual(
    listing.posts.map((p) => p.id),
    [good],
  );
  const found = (await (await fetch(`${web}/api/search?q=watches`)).json()) as { results: { id: string }[] };
  assert.deepEqual(
    found.results.map((r) => r.id),
    [good],
    'a search finds only the later article',
  );
  assert.equal((await nntplib(news, [['article', `<${spam}>`]]))[0]!.code, '430', 'the built-in news server: 430');
  assert.equal(w.delivered('s').filter((x) => x.id === spam).length, 1, 'never delivered again');
  const listed = JSON.parse((await cli(['removed', '-c', w.config, '--json'])).stdout) as { id: string }[];
  assert.deepEqual(
    listed.map((x) => x.id),
    [spam],
  );
});
