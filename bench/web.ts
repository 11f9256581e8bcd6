/**
 * Web benchmark: 1,000 WebSocket clients on one bridge of the real daemon (a
 * child process, `peerpost start`), 1,000 posts made through the HTTP API at a
 * steady rate. Figures: the latency from each post being sent to each client
 * having it (p50, p99, over all 1,000,000 deliveries), and the daemon's peak
 * RSS (VmHWM). Clients run in worker threads so that the measuring side keeps
 * up. Median of RUNS runs, each on a fresh daemon.
 *
 *   node dist/bench/run.js web      (or: node dist/bench/web.js)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'node:http';
import { world, startDaemon } from '../test/helpers/daemon.js';
import { freePort } from '../test/peers/finger.js';
import { percentile, runWhenMain, summarise, type Result } from './lib/result.js';

export const title = 'web: 1,000 WebSocket clients, 1,000 posts';

const CLIENTS = Number(process.env.WEB_BENCH_CLIENTS ?? 1000);
const POSTS = 1000;
const RATE = Number(process.env.WEB_BENCH_RATE ?? 20); // posts per second offered
const WORKERS = 2;
const RUNS = Number(process.env.WEB_BENCH_RUNS ?? 3);
const TOKEN = 'bench-token-0123456789abcdef';

interface RunFigures {
  p50: number;
  p99: number;
  max: number;
  rssMb: number;
  delivered: number;
  outOfOrder: number;
  closedEarly: number;
}

/** One post with a chosen Message-ID, so a retry after a reset keep-alive socket cannot post it twice. */
async function post(port: number, agent: Agent, i: number, body: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await postOnce(port, agent, i, body);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

function postOnce(port: number, agent: Agent, i: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify({ body, id: `bench-${i}@bench.example` });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/bridges/commons/posts',
        agent,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function once(): Promise<RunFigures> {
  const w = world();
  const port = await freePort();
  writeFileSync(
    w.config,
    `node:\n  hostname: bench.example\n  data: ${w.data}\naccounts:\n  web.b:\n    listen: 127.0.0.1:${port}\n    tokens: [{ name: bench, token: ${TOKEN}, bridges: [commons] }]\n    stream: { maxClients: ${CLIENTS + 10} }\nbridges:\n  commons: { endpoints: [web.b/commons] }\n`,
  );
  const d = await startDaemon(w.config, ['--log-level', 'warn'], { waitUp: false });
  try {
    // Logs are at warn (a line per post would weigh on the figures): wait for /healthz instead.
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 200 || d.proc.exitCode !== null)
        throw new Error(`the daemon did not come up; logs:\n${d.logs.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const workers = Array.from(
      { length: WORKERS },
      (_, i) =>
        new Worker(new URL('./lib/web-clients.js', import.meta.url), {
          workerData: {
            port,
            clients: CLIENTS / WORKERS + (i < CLIENTS % WORKERS ? 1 : 0),
            expect: POSTS,
            bridge: 'commons',
          },
        }),
    );
    const results: Promise<{ received: number; outOfOrder: number; closedEarly: number; latencies: Float64Array }>[] =
      [];
    const ready = workers.map(
      (wk) =>
        new Promise<void>((resolve, reject) => {
          wk.once('error', reject);
          results.push(
            new Promise((res) =>
              wk.on('message', (m) => {
                if (m.done) res(m);
              }),
            ),
          );
          const onReady = (m: { ready?: boolean }) => {
            if (m.ready) {
              wk.off('message', onReady);
              resolve();
            }
          };
          wk.on('message', onReady);
        }),
    );
    await Promise.all(ready);

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const t0 = performance.now();
    const pending: Promise<number>[] = [];
    // Each post's outcome is awaited below; mark them handled now so one failing early is not an unhandled rejection.
    for (let i = 0; i < POSTS; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const p = post(port, agent, i, JSON.stringify({ i, t: performance.timeOrigin + performance.now() }));
      p.catch(() => undefined);
      pending.push(p);
    }
    const statuses = await Promise.all(pending);
    const bad = statuses.filter((s) => s !== 201 && s !== 200).length;
    if (bad) throw new Error(`${bad} posts were not accepted`);
    const timeout = setTimeout(() => workers.forEach((wk) => wk.postMessage({ report: true })), 60_000);
    const got = await Promise.all(results);
    clearTimeout(timeout);
    await Promise.all(workers.map((wk) => wk.terminate()));
    agent.destroy();

    const all = new Float64Array(got.reduce((n, g) => n + g.latencies.length, 0));
    let off = 0;
    for (const g of got) {
      all.set(g.latencies, off);
      off += g.latencies.length;
    }
    all.sort();
    const status = readFileSync(`/proc/${d.proc.pid}/status`, 'utf8');
    const rssMb = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
    return {
      p50: percentile(all as unknown as number[], 50),
      p99: percentile(all as unknown as number[], 99),
      max: all[all.length - 1] ?? NaN,
      rssMb,
      delivered: all.length,
      outOfOrder: got.reduce((n, g) => n + g.outOfOrder, 0),
      closedEarly: got.reduce((n, g) => n + g.closedEarly, 0),
    };
  } finally {
    await d.stop('SIGTERM');
    w.cleanup();
  }
}

export async function run(): Promise<Result[]> {
  const runs: RunFigures[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await once();
    console.log(
      `  run ${i + 1}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(1)} ms, ${r.delivered} of ${CLIENTS * POSTS} delivered, ${r.outOfOrder} out of order, peak RSS ${r.rssMb.toFixed(1)} MB`,
    );
    runs.push(r);
  }
  const lost = runs.reduce((n, r) => n + (CLIENTS * POSTS - r.delivered), 0);
  return [
    summarise(
      `latency post sent → every client has it, p50 (${CLIENTS} clients, ${POSTS} posts at ${RATE}/s)`,
      'ms',
      runs.map((r) => r.p50),
      { digits: 2 },
    ),
    summarise(
      'the same, p99',
      'ms',
      runs.map((r) => r.p99),
      { digits: 2 },
    ),
    summarise(
      'the same, max',
      'ms',
      runs.map((r) => r.max),
      { digits: 1 },
    ),
    summarise(
      'deliveries missing or out of order, all runs',
      'count',
      [lost + runs.reduce((n, r) => n + r.outOfOrder, 0)],
      { digits: 0, note: `of ${RUNS * CLIENTS * POSTS} deliveries (every client must get every post, in seq order)` },
    ),
    summarise(
      'peak RSS of the daemon (VmHWM)',
      'MB',
      runs.map((r) => r.rssMb),
      {
        digits: 1,
        note: `a fresh daemon per run; ${CLIENTS} stream clients connected; the bench's clients run in ${WORKERS} worker threads on the same machine (load average ${os.loadavg()[0]!.toFixed(1)} at the end)`,
      },
    ),
  ];
}

runWhenMain(import.meta.url, title, run);
