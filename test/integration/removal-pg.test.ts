/**
 * A removal reaches every process on the database (issue 17): two `peerpost start` on one real PostgreSQL 15, each
 * with its own news, web and finger servers. A post removed through process A's control socket leaves what B holds
 * in memory at once: the live stream of a browser connected to B says "removed", B's finger plan (cached) drops it.
 * A post removed by `peerpost remove` on a machine where no daemon runs (a third config on the same database)
 * leaves both processes' views within seconds, and the node-wide work (the news server's overview) is done once,
 * by the process that claimed it, not at some later start. The removal log keeps no post's text.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { world, startDaemon, until, cli, type World, type Running } from '../helpers/daemon.js';
import { freePort, listeningPort, rawQuery } from '../peers/finger.js';
import { startPostgres, openPg, type PgPeer } from '../helpers/pg.js';
import { nntplib, type OpResult } from './nntp-helpers.js';
import { requirePeer } from '../peers/require.js';

let pg: PgPeer;
before(async () => {
  requirePeer('python3');
  pg = await startPostgres('removalpg');
});
after(() => pg?.destroy());

const article = (tok: string, subject: string) =>
  `From: Reader <reader@example.org>\r\nNewsgroups: peerpost.commons\r\nSubject: ${subject}\r\nMessage-ID: <${tok}@removal.example>\r\n\r\nThe text of ${tok}, secret-${tok}.\r\n`;

const configure = (w: World, nntp: number) =>
  w.writeConfig(`  database: ${pg.url}
accounts:
  nntp.local: { listen: 127.0.0.1:${nntp}, posting: { allow: loopback } }
  web.w: { listen: 127.0.0.1:0 }
  finger.f: { listen: 127.0.0.1:0, rateLimit: { queries: 0 } }
bridges:
  commons:
    endpoints: [nntp.local/peerpost.commons, web.w/commons, finger.f/commons]
`);

const ok = (r: OpResult) => {
  assert.ok(r.ok, `nntplib: ${r.error}`);
  return r.value;
};

interface StreamMsg {
  type: string;
  id?: string;
  reason?: string;
  post?: { id: string };
}

test('a post removed by one process, or by `peerpost remove` with no daemon to ask, leaves every process’s views', async (t) => {
  const procs: { w: World; nntp: number; d?: Running }[] = [];
  for (let i = 0; i < 3; i++) {
    const w = world();
    t.after(() => w.cleanup());
    const nntp = await freePort();
    configure(w, nntp);
    procs.push({ w, nntp });
  }
  t.after(async () => {
    for (const p of procs) await p.d?.stop('SIGKILL');
  });
  // A and B run; C is the same config on another machine where no daemon runs (its own data directory).
  const [A, B, C] = procs as [(typeof procs)[0], (typeof procs)[0], (typeof procs)[0]];
  A.d = await startDaemon(A.w.config);
  B.d = await startDaemon(B.w.config);

  // A browser on B's web server, live from now.
  const webB = await listeningPort(B.d.waitForLog, 'web.w');
  const ws = new WebSocket(`ws://127.0.0.1:${webB}/api/stream?bridge=commons`);
  t.after(() => ws.terminate());
  const msgs: StreamMsg[] = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString()) as StreamMsg));
  await until(() => msgs.some((m) => m.type === 'live'), 'the stream client is live');

  // Three articles to A's news server; B's stream shows them, B's finger plan holds them (and caches it).
  const subjects = { one: 'Cheap watches', two: 'Pills online', three: 'Gardening' };
  for (const [tok, subject] of Object.entries(subjects))
    ok((await nntplib(A.nntp, [['post', article(tok, subject)]]))[0]!);
  await until(() => msgs.filter((m) => m.type === 'post').length >= 3, "A's three articles on B's stream");
  const fingerB = await listeningPort(B.d.waitForLog, 'finger.f');
  const planB = () => rawQuery(fingerB, 'commons\r\n');
  const before = await planB();
  for (const s of Object.values(subjects)) assert.match(before, new RegExp(s), `B's finger plan holds "${s}"`);
  const removedOnB = () => msgs.filter((m) => m.type === 'removed').map((m) => m.id);

  // 1. Removed through A's control socket: A tells its own views; B reads it from the removal log.
  const r1 = await cli(['remove', '-c', A.w.config, '<one@removal.example>', '--reason', 'spam from a bot']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /removed one@removal\.example \(bridge commons\)/);
  assert.doesNotMatch(r1.stdout, /no peerpost process answered/, 'A answered on its control socket');
  await until(() => removedOnB().includes('one@removal.example'), "B's stream says it was removed", 10_000);
  const heard = msgs.find((m) => m.type === 'removed' && m.id === 'one@removal.example')!;
  assert.match(String(heard.reason), /spam from a bot/, 'with the reason shown on the page');
  const plan1 = await planB();
  assert.doesNotMatch(plan1, /Cheap watches/, "B's finger plan drops it at once (its cache was cleared)");
  assert.match(plan1, /Gardening/);
  assert.ok(
    B.d.logs.every((l) => !/failed to forget|could not be read/.test(l)),
    'B read the removal log without an error',
  );

  // 2. Removed with no daemon to ask (C's data directory has no control socket): the processes that run hear of
  // it from the log, and one of them does the node-wide part now (the news overview), not at some later start.
  const r2 = await cli(['remove', '-c', C.w.config, '<two@removal.example>', '--reason', 'asked by the author']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /removed two@removal\.example/);
  assert.match(r2.stdout, /no peerpost process answered here: .*processes running on this database hear of it/);
  await until(() => removedOnB().includes('two@removal.example'), "B's stream says the second was removed", 10_000);
  assert.doesNotMatch(await planB(), /Pills online/, "B's finger plan drops the second");
  const db = openPg(pg);
  t.after(() => db.close());
  await until(
    () =>
      Number(
        (db.query(`SELECT count(*) AS n FROM kv WHERE scope = 'core:removed-untold'`) as { n: string }[])[0]!.n,
      ) === 0,
    'a running process claimed the untold removal',
    10_000,
  );
  for (const P of [A, B]) {
    const news = await nntplib(P.nntp, [
      ['group', 'peerpost.commons'],
      ['over', '1-'],
      ['article', '<two@removal.example>'],
    ]);
    assert.deepEqual(
      (ok(news[1]!) as [number, Record<string, string>][]).map(([, o]) => o['message-id']),
      ['<three@removal.example>'],
      `OVER on ${P === A ? 'A' : 'B'} lists only the post left`,
    );
    assert.equal(ok(news[0]!)[1], 1, 'the group counts one article');
    assert.equal(news[2]!.code, '430', 'and the removed one answers 430');
  }
  const tellers = [A, B].filter((P) => P.d!.logs.some((l) => /removed with no daemon to ask.*told here/.test(l)));
  assert.equal(tellers.length, 1, 'exactly one process did the node-wide part');

  // Each removal once on B's stream; the log holds no post's text.
  assert.deepEqual(removedOnB().sort(), ['one@removal.example', 'two@removal.example']);
  const logged = db.query(`SELECT origin, removed FROM pp_removals ORDER BY n`) as {
    origin: string;
    removed: string;
  }[];
  assert.equal(logged.length, 2, 'one log row per removal');
  assert.equal(logged[1]!.origin, 'offline');
  for (const row of logged) {
    assert.doesNotMatch(row.removed, /secret-|Cheap watches|Pills online/, 'no subject or body in the removal log');
    assert.match(row.removed, /removal\.example/, 'the ids are there');
  }
  assert.equal(A.d.proc.exitCode, null);
  assert.equal(B.d.proc.exitCode, null);
});
