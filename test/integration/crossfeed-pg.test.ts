/**
 * Posts taken in by one process reach the others at once (issue 17): two `peerpost start` on one real PostgreSQL 15,
 * each with its own news server and web server; a sink account (an endpoint run by one process only) is held by B.
 * Articles posted with nntplib to A's news server appear on a WebSocket client of B's live stream, once each and in
 * seq order, and B delivers them to its sink, woken by A's commit (NOTIFY), not by its slow poll. PostgreSQL is then
 * restarted, and after it the wake-up connections are cut again and again while articles are posted (no NOTIFY gets
 * through): every article arrives all the same, once, on B's stream and at the sink, and the stream client stayed
 * connected throughout.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { world, startDaemon, until, sleep, cli, type World, type Running } from '../helpers/daemon.js';
import { freePort, listeningPort } from '../peers/finger.js';
import { startPostgres, openPg, commonsOnPg, type PgPeer } from '../helpers/pg.js';
import { nntplib } from './nntp-helpers.js';
import { requirePeer } from '../peers/require.js';

let pg: PgPeer;
before(async () => {
  requirePeer('python3');
  pg = await startPostgres('crossfeed');
});
after(() => pg?.destroy());

const article = (tok: string) =>
  `From: Reader <reader@example.org>\r\nNewsgroups: peerpost.commons\r\nSubject: ${tok}\r\nMessage-ID: <${tok}@crossfeed.example>\r\n\r\nArticle ${tok}.\r\n`;

const configure = (w: World, nntp: number, sink: string) => commonsOnPg(w, pg, nntp, sink);

interface StreamMsg {
  type: string;
  post?: { id: string; seq: number };
}

interface Proc {
  w: World;
  nntp: number;
  d: Running;
}

/**
 * Two processes on the database, each with its own news server, configured alike; B starts first, so it takes the
 * sink's lease (the endpoint it delivers), and A starts beside it.
 */
async function twoProcesses(
  t: TestContext,
  configure: (w: World, nntp: number, sink: string) => void,
): Promise<{ A: Proc; B: Proc; sinkWorld: World }> {
  const sinkWorld = world();
  t.after(() => sinkWorld.cleanup());
  const sink = sinkWorld.sink('s');
  const made: { w: World; nntp: number }[] = [];
  for (let i = 0; i < 2; i++) {
    const w = world();
    t.after(() => w.cleanup());
    const nntp = await freePort();
    configure(w, nntp, sink);
    made.push({ w, nntp });
  }
  const running: Running[] = [];
  t.after(async () => {
    for (const d of running) await d.stop('SIGKILL');
  });
  const B = { ...made[1]!, d: await startDaemon(made[1]!.w.config) };
  running.push(B.d);
  const A = { ...made[0]!, d: await startDaemon(made[0]!.w.config) };
  running.push(A.d);
  return { A, B, sinkWorld };
}

test('an article posted to process A is on process B’s live stream once, in order, and delivered by B at once; a PostgreSQL restart loses nothing', async (t) => {
  const { A, B, sinkWorld } = await twoProcesses(t, configure);
  const db = openPg(pg);
  t.after(() => db.close());
  const holder = db.query(`SELECT holder FROM pp_leases WHERE name = 'account:sink.s'`) as { holder: string }[];
  assert.equal(Number(holder[0]!.holder.split(':')[1]), B.d.proc.pid, 'B holds the sink account');

  // A browser on B's web server, live from now.
  const webB = await listeningPort(B.d.waitForLog, 'web.w');
  const ws = new WebSocket(`ws://127.0.0.1:${webB}/api/stream?bridge=commons`);
  t.after(() => ws.terminate());
  const msgs: StreamMsg[] = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString()) as StreamMsg));
  let closedAt: number | undefined;
  ws.on('close', () => (closedAt = Date.now()));
  await until(() => msgs.some((m) => m.type === 'live'), 'the stream client is live');
  const streamed = () => msgs.filter((m) => m.type === 'post').map((m) => m.post!);

  // Articles to A's news server.
  const acked: string[] = [];
  const post = async (tok: string) => {
    const [r] = await nntplib(A.nntp, [['post', article(tok)]]);
    if (r!.ok) acked.push(`${tok}@crossfeed.example`);
    return r!;
  };
  for (let i = 0; i < 5; i++) assert.ok((await post(`first${i}`)).ok);
  await until(() => streamed().length >= 5, "A's five articles on B's stream");
  await until(() => sinkWorld.delivered('s').length >= 5, "A's five articles delivered by B");
  // Delivered by B, woken by A's commit: the debug line of the wake-up, for the sink's endpoint.
  assert.ok(
    B.d.logs.some((l) => /woken at once \(NOTIFY\)/.test(l) && /sink\.s\/c/.test(l)),
    "B was woken by A's NOTIFY for the sink's endpoint",
  );

  // PostgreSQL restarted: every connection is cut; the wake-up connections come back with backoff, and A's store
  // at its next statement. Articles posted once it is back arrive on B's stream and at B's sink.
  pg.stop();
  await sleep(3000);
  const restarted = Date.now();
  pg.start();
  let last: Awaited<ReturnType<typeof post>> | undefined;
  try {
    await until(
      async () => (last = await post(`after${acked.length}`)).ok,
      'an article taken after the restart',
      20_000,
    );
  } catch (err) {
    const logs = A.d.logs.filter((l) => !/"level":20/.test(l)).slice(-12);
    throw new Error(
      `${(err as Error).message}; the last answer: ${JSON.stringify(last)}; A's log:\n${logs.join('\n')}`,
      { cause: err },
    );
  }
  for (let i = 0; i < 3; i++) assert.ok((await post(`later${i}`)).ok);
  const back = await B.d.waitForLog(/the wake-up connection to PostgreSQL is back/, 20_000);
  assert.ok((JSON.parse(back) as { time: number }).time > restarted, "B's wake-up connection came back");

  // The wake-up connections cut again and again (as a flapping network would) while articles are posted: no
  // NOTIFY reaches B for them; they are read by seq (the poll, the read after each reconnect), each once.
  const cutting = setInterval(() => {
    db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'peerpost listen'`);
  }, 50);
  try {
    await sleep(300);
    for (let i = 0; i < 3; i++) assert.ok((await post(`cut${i}`)).ok);
  } finally {
    clearInterval(cutting);
  }
  const losses = B.d.logs.filter((l) => /the wake-up connection to PostgreSQL was lost/.test(l)).length;
  assert.ok(losses >= 2, `B's wake-up connection was cut (${losses} times: the restart, then the cuts)`);
  await until(
    () => streamed().length >= acked.length,
    `${acked.length} articles on B's stream (seen ${streamed().length})`,
    20_000,
  );
  await until(() => sinkWorld.delivered('s').length >= acked.length, `${acked.length} deliveries at the sink`, 20_000);

  await sleep(1000); // anything twice would be there by now
  const seqs = streamed().map((p) => p.seq);
  assert.deepEqual(
    streamed().map((p) => p.id),
    acked,
    'every acknowledged article on B’s stream once, in the order posted',
  );
  assert.deepEqual(
    seqs,
    [...seqs].sort((x, y) => x - y),
    'in seq order',
  );
  assert.deepEqual(
    sinkWorld
      .delivered('s')
      .map((x) => x.id)
      .sort(),
    [...acked].sort(),
    'each delivered once by B',
  );
  assert.equal(closedAt, undefined, 'the stream client stayed connected through the restart');
  assert.equal(A.d.proc.exitCode, null);
  assert.equal(B.d.proc.exitCode, null);
});

test('an operator’s retry through process A wakes process B, which delivers the row, at once (not at its next poll)', async (t) => {
  // The sink answers "retry in 10 minutes" once per row: the row waits, as after a failed try.
  const { A, B, sinkWorld } = await twoProcesses(t, (w, nntp, sink) =>
    w.writeConfig(`  database: ${pg.url}
accounts:
  nntp.local: { listen: 127.0.0.1:${nntp}, posting: { allow: loopback } }
  sink.s: { file: ${sink}, retryTimes: 1, retryDelayMs: 600000 }
bridges:
  commons:
    endpoints: [nntp.local/peerpost.commons, sink.s/c]
`),
  );
  const [r] = await nntplib(A.nntp, [['post', article('waits')]]);
  assert.ok(r!.ok, r!.error);
  type Row = { row: number; endpoint: string; lastError: string | null; nextAt: number };
  const waiting = async () => {
    const o = await cli(['outbox', '-c', A.w.config, '--json']);
    assert.equal(o.code, 0, o.stderr);
    return (JSON.parse(o.stdout) as { rows: Row[] }).rows.find((x) => x.endpoint === 'sink.s/c' && x.lastError);
  };
  let row: Row | undefined;
  await until(async () => (row = await waiting()) !== undefined, 'B tried the row and it waits', 15_000);
  assert.match(row!.lastError!, /sink asked to retry/);
  assert.ok(row!.nextAt > Date.now() + 60_000, 'it waits minutes');
  const woken = () => B.d.logs.filter((l) => /woken at once \(NOTIFY\)/.test(l) && /sink\.s\/c/.test(l)).length;
  const before = woken();

  // The operator asks A (its control socket); A does not deliver the sink's endpoint, B does.
  const asked = Date.now();
  const retried = await cli(['outbox', '-c', A.w.config, '--retry', String(row!.row)]);
  assert.equal(retried.code, 0, retried.stderr);
  await until(() => sinkWorld.delivered('s').length === 1, 'B delivered the row', 10_000);
  assert.ok(woken() > before, "B was woken by the retry's NOTIFY, not found by its poll");
  assert.ok(Date.now() - asked < 10_000);
  assert.deepEqual(
    sinkWorld.delivered('s').map((x) => x.id),
    ['waits@crossfeed.example'],
  );
});
