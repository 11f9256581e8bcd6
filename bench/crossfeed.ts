/**
 * Posts taken in by one process, seen by the others (issue 17): two `peerpost start` on one PostgreSQL database,
 * each with its news server and web server; a sink account (one process delivers it) held by B. Articles are posted
 * one after another (a pause between them) to A's news server by a plain NNTP client; measured from A's commit (the
 * moment a WebSocket client of A's own live stream gets the post: A tells it in the commit's turn):
 *   - stream lag: until the post reaches a WebSocket client of B's live stream;
 *   - delivery pickup: until B's sink has it (its delivery's `at`): a row A queued, picked up by B;
 *   - the anchor: until the poster has A's 240.
 * Before the wake-ups B found A's rows by polling every second, and B's stream never saw A's posts; to measure that,
 * build the commit before them and run this file there with PP_CROSSFEED_STREAM=0 (bench/RESULTS.md says how).
 *
 *   npm run bench -- crossfeed          (or node dist/bench/crossfeed.js)
 *   PP_CROSSFEED_POSTS=50  PP_CROSSFEED_STREAM=1
 *
 * Prints figures; asserts nothing about time (each article is checked seen once).
 */
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { world, startDaemon, until, sleep, type World, type Running } from '../test/helpers/daemon.js';
import { startPostgres, openPg, commonsOnPg } from '../test/helpers/pg.js';
import { freePort, listeningPort } from '../test/peers/finger.js';
import { percentile, runWhenMain, type Result } from './lib/result.js';

export const title = 'crossfeed: a post taken in by process A, on process B’s live stream and delivered by B';
/** Needs PostgreSQL 15 and takes a minute: run when named (`npm run bench -- crossfeed`). */
export const onlyWhenNamed = true;

const POSTS = Number(process.env.PP_CROSSFEED_POSTS ?? 50);
const STREAM = process.env.PP_CROSSFEED_STREAM !== '0';

/** A plain NNTP client: one connection, POST after POST; resolves each with performance.now() at the 240. */
class Poster {
  private buf = '';
  private waiting?: (line: string) => void;
  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 2);
        const w = this.waiting;
        this.waiting = undefined;
        w?.(line);
      }
    });
  }
  static async open(port: number): Promise<Poster> {
    const sock = connect(port, '127.0.0.1');
    const p = new Poster(sock);
    const hello = await p.line();
    if (!hello.startsWith('200')) throw new Error(`news server: ${hello}`);
    return p;
  }
  private line(): Promise<string> {
    return new Promise((r) => (this.waiting = r));
  }
  async post(article: string): Promise<number> {
    this.sock.write('POST\r\n');
    const go = await this.line();
    if (!go.startsWith('340')) throw new Error(`POST: ${go}`);
    this.sock.write(article + '.\r\n');
    const done = await this.line();
    const at = performance.now();
    if (!done.startsWith('240')) throw new Error(`the article was refused: ${done}`);
    return at;
  }
  close(): void {
    this.sock.end('QUIT\r\n');
  }
}

/** A live stream client; `seen(id)`: performance.now() when the post came. */
async function streamClient(port: number): Promise<{ seen: Map<string, number>; count: () => number; ws: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/stream?bridge=commons`);
  const seen = new Map<string, number>();
  let posts = 0;
  let live = false;
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as { type: string; post?: { id: string } };
    if (m.type === 'live') live = true;
    if (m.type === 'post') {
      posts++;
      if (!seen.has(m.post!.id)) seen.set(m.post!.id, performance.now());
    }
  });
  await until(() => live, 'the stream client is live', 10_000);
  return { seen, count: () => posts, ws };
}

const sortedMs = (xs: number[]) => [...xs].sort((a, b) => a - b);

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  crossfeed: ${s}\n`);
  const pg = await startPostgres('crossfeed');
  const worlds: World[] = [];
  const procs: { w: World; nntp: number; d?: Running }[] = [];
  const sinkWorld = world();
  worlds.push(sinkWorld);
  const sink = sinkWorld.sink('s');
  const db = openPg(pg);
  try {
    for (let i = 0; i < 2; i++) {
      const w = world();
      worlds.push(w);
      const nntp = await freePort();
      commonsOnPg(w, pg, nntp, sink);
      procs.push({ w, nntp });
    }
    const [A, B] = procs as [(typeof procs)[0], (typeof procs)[0]];
    B.d = await startDaemon(B.w.config);
    A.d = await startDaemon(A.w.config);
    const holder = db.query(`SELECT holder FROM pp_leases WHERE name = 'account:sink.s'`) as { holder: string }[];
    if (Number(holder[0]?.holder.split(':')[1]) !== B.d.proc.pid) throw new Error('B does not hold the sink account');
    const onB = STREAM ? await streamClient(await listeningPort(B.d.waitForLog, 'web.w')) : undefined;
    const onA = await streamClient(await listeningPort(A.d.waitForLog, 'web.w'));
    const poster = await Poster.open(A.nntp);
    // performance.now() and Date.now() side by side: the sink writes Date.now().
    const offset = Date.now() - performance.now();
    const acked = new Map<string, number>();
    progress(`${POSTS} articles to A's news server, one every 200 ms`);
    for (let i = 0; i < POSTS + 3; i++) {
      const id = `cf-${i}-${Date.now()}@bench.example`;
      const at = await poster.post(
        `From: B <b@example.org>\r\nNewsgroups: peerpost.commons\r\nSubject: ${i}\r\nMessage-ID: <${id}>\r\n\r\nArticle ${i}.\r\n`,
      );
      if (i >= 3) acked.set(id, at); // the first three warm up
      await sleep(150 + Math.random() * 100);
    }
    poster.close();
    await until(() => sinkWorld.delivered('s').length >= POSTS + 3, 'every article at the sink', 60_000);
    if (onB) await until(() => onB.seen.size >= POSTS + 3, "every article on B's stream", 60_000);
    await until(() => onA.seen.size >= POSTS + 3, "every article on A's stream", 60_000);
    await sleep(500);
    const delivered = new Map(sinkWorld.delivered('s').map((x) => [x.id, (x as unknown as { at: number }).at]));
    const pickup: number[] = [];
    const lagB: number[] = [];
    const answered: number[] = [];
    for (const [id, at] of acked) {
      // From the moment A told its own live client (its commit, told in the same turn): A's 240 may leave later.
      const t0 = onA.seen.get(id)!;
      pickup.push(delivered.get(id)! - offset - t0);
      if (onB) lagB.push(onB.seen.get(id)! - t0);
      answered.push(at - t0);
    }
    if (onB && onB.count() !== POSTS + 3) throw new Error(`B's stream had ${onB.count()} posts, not ${POSTS + 3}`);
    if (sinkWorld.delivered('s').length !== POSTS + 3) throw new Error('a delivery twice at the sink');
    onB?.ws.terminate();
    onA.ws.terminate();
    const load = loadavg()[0]!.toFixed(2);
    const fig = (figure: string, xs: number[], anchor?: string): Result => {
      const s = sortedMs(xs);
      return {
        figure,
        value: percentile(s, 50),
        unit: 'ms',
        digits: 1,
        min: s[0]!,
        max: s.at(-1)!,
        runs: s.length,
        ...(anchor ? { anchor } : {}),
        note: `p90 ${percentile(s, 90).toFixed(1)} ms; load average ${load} at the end`,
      };
    };
    const out = [
      fig(
        `delivery pickup: A's commit → delivered by B (sink), ${POSTS} articles`,
        pickup,
        STREAM ? undefined : 'the outbox polled every second (before the wake-ups)',
      ),
      fig(`A's 240 to the poster, after A's commit (the anchor)`, answered),
    ];
    if (onB) out.splice(1, 0, fig(`stream lag A → B: A's commit → on a WebSocket client of B`, lagB));
    return out;
  } finally {
    for (const p of procs) await p.d?.stop('SIGTERM');
    db.close();
    pg.destroy();
    for (const w of worlds) w.cleanup();
  }
}

runWhenMain(import.meta.url, title, run);
