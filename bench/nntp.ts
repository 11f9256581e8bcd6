/**
 * NNTP benchmark: peerpost's built-in news server (the daemon, `peerpost
 * start`, a child process) and INN 2.7 (innd + nnrpd, test/peers/inn2.sh) side
 * by side, driven by the same client: Python's stdlib nntplib
 * (bench/nntp_load.py), on 127.0.0.1.
 *
 *   node dist/bench/run.js nntp      (or: node dist/bench/nntp.js)
 *   NNTP_BENCH_ARTICLES=20000 node dist/bench/nntp.js   (a smaller, quicker run)
 *   NNTP_BENCH_READS=0 ...                              (POST only)
 *   NNTP_BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' ...  (node flags for the daemon: a profile)
 *
 * For each server, on a fresh group:
 * - POST, one client: POST_ONE_RUNS runs of POST_ONE articles, each answered
 *   240 (peerpost answers only once the post is committed) before the next is
 *   sent; then the group is filled to ARTICLES with 20 clients, in
 *   POST_MANY_RUNS runs; articles per second, median of the runs, the two
 *   servers taking turns. Target: at least INN's rate (issue 19).
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
import { median, runWhenMain, summarise, type Result } from './lib/result.js';

export const title = 'nntp: built-in news server vs INN 2.7, same client (Python nntplib)';

const LOAD = fileURLToPath(new URL('../../bench/nntp_load.py', import.meta.url));
const ARTICLES = Number(process.env.NNTP_BENCH_ARTICLES ?? 100_000);
// One client's turns: 7 of 2,000 articles (about a second each). Three of 1,000 (under a second each) gave medians
// from 0.75x to 1.16x INN's in runs an hour apart: a turn that short measures the machine's moment, not the server.
const POST_ONE = 2000;
const POST_ONE_RUNS = 7;
const POST_MANY_RUNS = 3;
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

/**
 * Fill each server's group: POST_ONE_RUNS runs of POST_ONE articles from one client, then the rest in
 * POST_MANY_RUNS runs from 20 clients; the servers take turns run by run (a busy machine weighs on both alike).
 * The group ends with ARTICLES articles on each.
 */
async function fill(
  servers: { name: string; port: number }[],
  progress: (s: string) => void,
): Promise<Map<string, Result[]>> {
  const out = new Map<string, Result[]>(servers.map((s) => [s.name, []]));
  const rest = ARTICLES - POST_ONE * POST_ONE_RUNS;
  const phases = [
    { clients: 1, sizes: Array.from({ length: POST_ONE_RUNS }, () => POST_ONE) },
    {
      clients: 20,
      sizes: Array.from({ length: POST_MANY_RUNS }, (_, i) =>
        i < POST_MANY_RUNS - 1
          ? Math.floor(rest / POST_MANY_RUNS)
          : rest - (POST_MANY_RUNS - 1) * Math.floor(rest / POST_MANY_RUNS),
      ),
    },
  ];
  for (const { clients, sizes } of phases) {
    progress(`POST, ${clients} client${clients > 1 ? 's' : ''}: ${sizes.length} runs of ~${sizes[0]} articles each`);
    const samples = new Map<string, number[]>(servers.map((s) => [s.name, []]));
    for (const [i, n] of sizes.entries())
      for (const s of servers) {
        const tag = `${s.name.replace(/[^a-z0-9]/gi, '')}${Date.now()}c${clients}r${i}`;
        const p = await load(['post', s.port, GROUP, n, clients, tag]);
        samples.get(s.name)!.push(p.posted / p.seconds);
      }
    const figure = (name: string) =>
      `${name}: POST, ${clients} client${clients > 1 ? 's' : ''} (${sizes.length} × ~${sizes[0]!.toLocaleString('en-US')} articles)`;
    for (const s of servers) out.get(s.name)!.push(summarise(figure(s.name), 'articles/s', samples.get(s.name)!));
    // Each turn beside the other server's of the same moment: the ratio a busy or noisy machine sways least.
    const [ours, theirs] = servers.map((s) => samples.get(s.name)!);
    const ratios = ours!.map((x, i) => x / theirs![i]!);
    out.get(servers[0]!.name)!.at(-1)!.note =
      `turn by turn against ${servers[1]!.name}'s next to it: ${median(ratios).toFixed(2)}x, median of ${ratios.length} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}x)`;
  }
  return out;
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
    const nodeFlags = (process.env.NNTP_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    const d = await startDaemon(w.config, ['--log-level', 'info'], { nodeFlags }); // the default level, as a user runs it
    try {
      const line = await d.waitForLog(/nntp\.bench is listening: 127\.0\.0\.1:(\d+)/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
      const servers = [
        { name: 'peerpost', port },
        { name: 'INN 2.7', port: inn.port },
      ];
      const posted = await fill(servers, progress);
      // NNTP_BENCH_READS=0: POST only (a quick run while working on the way in).
      const read =
        process.env.NNTP_BENCH_READS === '0'
          ? new Map(servers.map((s) => [s.name, [] as Result[]]))
          : await reads(servers, progress);
      const ours = [...posted.get('peerpost')!, ...read.get('peerpost')!];
      const theirs = [...posted.get('INN 2.7')!, ...read.get('INN 2.7')!];
      // Side by side: each figure of ours, then INN's.
      for (let i = 0; i < ours.length; i++) results.push(ours[i]!, theirs[i]!);
      const innOver = (n: number) =>
        theirs.find((r) => r.figure.includes(`OVER of ${n.toLocaleString('en-US')}`))!.value;
      for (const r of results)
        if (r.figure.startsWith('peerpost: OVER of'))
          r.target = { atMost: innOver(Number(/OVER of ([\d,]+)/.exec(r.figure)![1]!.replace(/,/g, ''))) };
      // POST: at least INN's rate in the same run (issue 19), 1 and 20 clients; the ratio beside it.
      for (const [i, r] of ours.entries())
        if (r.figure.startsWith('peerpost: POST')) {
          const inn = theirs[i]!.value;
          r.target = { atLeast: inn };
          r.anchor = `${(r.value / inn).toFixed(2)}x INN's ${Math.round(inn).toLocaleString('en-US')}`;
        }
      const inn20 = theirs.find((r) => r.figure.includes('ARTICLE by number, 20'))?.value;
      // The machine may be shared: say how busy it was.
      results[0]!.note = [
        `load average ${load0} at the start, ${loadavg()[0]!.toFixed(1)} at the end (${cpus().length} cores); POST and OVER by the client, so client time is in every figure`,
        results[0]!.note,
      ]
        .filter(Boolean)
        .join('; ');
      if (inn20 !== undefined)
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
