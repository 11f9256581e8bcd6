/**
 * NNTP benchmark: peerpost's built-in news server (the daemon, `peerpost
 * start`, a child process) and INN 2.7 (innd + nnrpd, test/peers/inn2.sh) side
 * by side, driven by the same client: Python's stdlib nntplib
 * (bench/nntp_load.py), on 127.0.0.1.
 *
 *   node dist/bench/run.js nntp      (or: node dist/bench/nntp.js)
 *   NNTP_BENCH_ARTICLES=20000 node dist/bench/nntp.js   (a smaller, quicker run)
 *
 * For each server, on a fresh group:
 * - POST, one client: POST_ONE articles, each answered 240 (peerpost answers
 *   only once the post is committed) before the next is sent; then the group
 *   is filled to ARTICLES with 20 clients (also reported).
 * - OVER of the newest 10,000 and of all 100,000 articles: the time of one
 *   OVER command (client included: nntplib parses every line), median of
 *   OVER_RUNS, the two servers taking turns.
 * - ARTICLE by number (random numbers in the group), 1 client and 20 clients:
 *   articles per second, median of ARTICLE_RUNS, taking turns.
 *
 * Prints figures; asserts nothing about time (it fails only when it cannot run).
 */
import { execFile } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { world, startDaemon } from '../test/helpers/daemon.js';
import { ensureInn, startInn } from '../test/integration/nntp-helpers.js';
import { runWhenMain, summarise, type Result } from './lib/result.js';

export const title = 'nntp: built-in news server vs INN 2.7, same client (Python nntplib)';

const LOAD = fileURLToPath(new URL('../../bench/nntp_load.py', import.meta.url));
const ARTICLES = Number(process.env.NNTP_BENCH_ARTICLES ?? 100_000);
const POST_ONE = 3000;
const OVER_RUNS = 7;
const ARTICLE_RUNS = 3;
const ARTICLE_ONE = 2000;
const ARTICLE_MANY = 500; // per client, 20 clients
const GROUP = 'bench.news';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the load script prints JSON of its own shape
function load(args: (string | number)[]): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      [LOAD, ...args.map(String)],
      { maxBuffer: 1 << 20, timeout: 30 * 60_000 },
      (err, out, stderr) => {
        if (err) reject(new Error(`nntp_load.py ${args.slice(0, 1).join(' ')}: ${err.message}\n${stderr}${out}`));
        else resolve(JSON.parse(out));
      },
    );
  });
}

/** Fill the group: POST_ONE articles from one client (timed), the rest from 20 (timed). */
async function fill(name: string, port: number, progress: (s: string) => void): Promise<Result[]> {
  const tag = `${name.replace(/[^a-z0-9]/gi, '')}${Date.now()}`;
  progress(`${name}: POST ${POST_ONE} articles, one client`);
  const p1 = await load(['post', port, GROUP, POST_ONE, 1, `${tag}a`]);
  const rest = ARTICLES - POST_ONE;
  progress(`${name}: POST ${rest} more, 20 clients`);
  const p20 = await load(['post', port, GROUP, rest, 20, `${tag}b`]);
  return [
    {
      figure: `${name}: POST, 1 client (${POST_ONE} articles)`,
      value: p1.posted / p1.seconds,
      unit: 'articles/s',
      ...(name === 'peerpost' ? { target: { atLeast: 2000 } } : {}),
    },
    { figure: `${name}: POST, 20 clients (${rest} articles)`, value: p20.posted / p20.seconds, unit: 'articles/s' },
  ];
}

/**
 * OVER and ARTICLE, the two servers taking turns run by run (the machine may
 * be busy with other work: turns spread that over both alike).
 */
async function reads(
  servers: { name: string; port: number }[],
  progress: (s: string) => void,
): Promise<Map<string, Result[]>> {
  const out = new Map<string, Result[]>(servers.map((s) => [s.name, []]));
  for (const n of [...new Set([10_000, ARTICLES])]) {
    progress(`OVER of ${n}, ${OVER_RUNS} runs each`);
    const samples = new Map<string, number[]>(servers.map((s) => [s.name, []]));
    for (let i = 0; i < OVER_RUNS; i++)
      for (const s of servers) {
        const o = await load(['over', s.port, GROUP, ARTICLES - n + 1, ARTICLES, 1]);
        if (o.rows !== n) throw new Error(`${s.name}: OVER gave ${o.rows} rows, not ${n}`);
        samples.get(s.name)!.push(o.seconds[0]);
      }
    for (const s of servers)
      out.get(s.name)!.push(
        summarise(`${s.name}: OVER of ${n.toLocaleString('en-US')} articles`, 's', samples.get(s.name)!, {
          digits: 3,
        }),
      );
  }
  for (const [clients, per] of [
    [1, ARTICLE_ONE],
    [20, ARTICLE_MANY],
  ] as const) {
    progress(`ARTICLE by number, ${clients} client(s), ${ARTICLE_RUNS} runs each`);
    const samples = new Map<string, number[]>(servers.map((s) => [s.name, []]));
    for (let i = 0; i < ARTICLE_RUNS; i++)
      for (const s of servers) {
        // INN stalls ~44 ms an article on one client: fewer articles there keep the run short.
        const count = s.name === 'peerpost' || clients > 1 ? per : Math.min(per, 100);
        const a = await load(['article', s.port, GROUP, count, clients]);
        samples.get(s.name)!.push(a.articles / a.seconds);
      }
    for (const s of servers)
      out
        .get(s.name)!
        .push(
          summarise(
            `${s.name}: ARTICLE by number, ${clients} client${clients > 1 ? 's' : ''}`,
            'articles/s',
            samples.get(s.name)!,
            s.name === 'peerpost' && clients === 1 ? { target: { atLeast: 1000 } } : {},
          ),
        );
  }
  return out;
}

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  nntp: ${s}\n`);
  ensureInn();
  const load0 = loadavg()[0]!.toFixed(1);
  const results: Result[] = [];
  const w = world();
  const inn = await startInn([GROUP]);
  try {
    w.writeConfig(`
accounts:
  nntp.bench: { listen: 127.0.0.1:0, maxClients: 64 }
bridges:
  bench:
    endpoints: [nntp.bench/${GROUP}]
`);
    const d = await startDaemon(w.config, ['--log-level', 'info']); // the default level, as a user runs it
    try {
      const line = await d.waitForLog(/nntp\.bench is listening: 127\.0\.0\.1:(\d+)/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
      const servers = [
        { name: 'peerpost', port },
        { name: 'INN 2.7', port: inn.port },
      ];
      const posted = new Map<string, Result[]>();
      for (const s of servers) posted.set(s.name, await fill(s.name, s.port, progress));
      const read = await reads(servers, progress);
      const ours = [...posted.get('peerpost')!, ...read.get('peerpost')!];
      const theirs = [...posted.get('INN 2.7')!, ...read.get('INN 2.7')!];
      // Side by side: each figure of ours, then INN's.
      for (let i = 0; i < ours.length; i++) results.push(ours[i]!, theirs[i]!);
      const innOver = (n: number) =>
        theirs.find((r) => r.figure.includes(`OVER of ${n.toLocaleString('en-US')}`))!.value;
      for (const r of results)
        if (r.figure.startsWith('peerpost: OVER of'))
          r.target = { atMost: innOver(Number(/OVER of ([\d,]+)/.exec(r.figure)![1]!.replace(/,/g, ''))) };
      const inn20 = theirs.find((r) => r.figure.includes('ARTICLE by number, 20'))!.value;
      // The machine may be shared: say how busy it was.
      results[0]!.note = `load average ${load0} at the start, ${loadavg()[0]!.toFixed(1)} at the end (${cpus().length} cores); POST and OVER by the client, so client time is in every figure`;
      results.find((r) => r.figure === 'peerpost: ARTICLE by number, 20 clients')!.target = { atLeast: inn20 };
    } finally {
      await d.stop();
    }
  } finally {
    inn.stop();
    w.cleanup();
  }
  return results;
}

runWhenMain(import.meta.url, title, run);
