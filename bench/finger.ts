/**
 * Finger benchmark: queries/s against a bridge with 10,000 posts, from 1 and
 * from 50 concurrent clients, over raw sockets on 127.0.0.1, to the real daemon
 * (a child process, `peerpost start`) with the shipped finger plugin.
 *
 *   node dist/bench/run.js finger      (or: node dist/bench/finger.js)
 *
 * The store is filled in-process first (the real Core, 10,000 posts of varied
 * length), then the daemon starts on it. Each figure is the median of RUNS runs
 * of SECONDS each, after a warm-up. Prints figures; asserts nothing about time
 * (it does check that every answer is a whole plan).
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Store } from '../src/store.js';
import { Router } from '../src/ingest/router.js';
import { ingestPipeline } from '../src/ingest/pipeline.js';
import { makeConfig } from '../test/helpers/core-fixture.js';
import { world, startDaemon } from '../test/helpers/daemon.js';
import { listeningPort } from '../test/peers/finger.js';
import { renderPlan } from '../plugins/finger/render.js';
import { runWhenMain, summarise, type Result } from './lib/result.js';

export const title = 'finger: queries/s, bridge with 10,000 posts';

const POSTS = 10_000;
const RUNS = 5;
const SECONDS = 2;
const WARMUP_SECONDS = 1;
const CONCURRENT = 50;

const NICKS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const WORDS =
  'the commons bridge finger plan post line news mail list channel people talk about today tomorrow peer relay'.split(
    ' ',
  );

/** Fill a fresh store with POSTS posts in bridge "commons". */
async function fill(data: string): Promise<void> {
  const store = Store.open(data, { durability: 'process' });
  try {
    // The finger endpoint is "in" here so no outbox rows are made: the daemon starts with nothing to deliver.
    const config = makeConfig(
      { 'finger.b': 'plan' },
      { commons: { endpoints: [{ key: 'finger.b/commons', direction: 'in' }] } },
    );
    const router = new Router(config, new Map([['finger.b', 'plan']]));
    const log = pino({ level: 'silent' });
    const { core } = ingestPipeline(store, router, config, undefined, { core: log, digests: log });
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < POSTS; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, POSTS - i) }, (_, j) => {
          const n = 5 + Math.floor(rnd() * 30);
          const body = Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
          return core.inject('commons', {
            target: 'bench',
            author: { name: NICKS[(i + j) % NICKS.length]!, via: 'irc' },
            body: `${i + j}: ${body}`,
          });
        }),
      );
    }
    core.close();
    if (store.countPosts('commons') !== POSTS)
      throw new Error(`the store has ${store.countPosts('commons')} posts, not ${POSTS}`);
  } finally {
    store.close();
  }
}

/** One query; resolves with the answer's length, rejects unless it is a whole plan. */
function query(port: number, q: string, expect: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: '127.0.0.1', port }, () => s.write(q));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      if (!expect.test(text))
        reject(new Error(`unexpected answer to ${JSON.stringify(q)}: ${JSON.stringify(text.slice(0, 200))}`));
      else resolve(text.length);
    });
  });
}

/** `clients` clients, each querying one after the other for `seconds`; returns queries/s. */
async function load(port: number, clients: number, seconds: number, q: string, expect: RegExp): Promise<number> {
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        await query(port, q, expect);
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

/** Uncached plans rendered in-process per second: read the newest posts and the count from the store, render. */
function renderRate(data: string, verbose: boolean): number[] {
  const store = Store.open(data, { durability: 'process' });
  try {
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const n = 2000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const posts = store.latestPosts('commons', verbose ? 50 : 10, Number.MAX_SAFE_INTEGER);
        renderPlan({
          name: 'commons',
          bridge: 'commons',
          hostname: 'test.example',
          description: 'The commons discussion',
          join: [],
          posts,
          total: store.countPosts('commons'),
          verbose,
          charset: 'ascii',
        });
      }
      rates.push(n / ((performance.now() - t0) / 1000));
    }
    return rates;
  } finally {
    store.close();
  }
}

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  finger: ${s}\n`);
  const w = world();
  try {
    progress(`filling a store with ${POSTS} posts`);
    await fill(w.data);
    progress('uncached rendering, in-process');
    const cold = renderRate(w.data, false);
    const coldW = renderRate(w.data, true);
    w.writeConfig(`
accounts:
  finger.b: { listen: 127.0.0.1:0, rateLimit: { queries: 0 }, maxClients: 200 }
bridges:
  commons:
    description: The commons discussion
    endpoints: [finger.b/commons]
`);
    const d = await startDaemon(w.config);
    try {
      const port = await listeningPort(d.waitForLog, 'finger.b');
      const plan = /^Login: commons[\s\S]*Newest 10 of 10,000 posts[\s\S]*\r\n$/;
      const verbose = /^Login: commons[\s\S]*Newest 50 of 10,000 posts[\s\S]*\r\n$/;
      progress(`warm-up ${WARMUP_SECONDS} s`);
      await load(port, CONCURRENT, WARMUP_SECONDS, 'commons\r\n', plan);
      const one: number[] = [];
      const many: number[] = [];
      const manyW: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        progress(`run ${r + 1}/${RUNS}: 1 client, ${CONCURRENT} clients, ${CONCURRENT} clients /W (${SECONDS} s each)`);
        one.push(await load(port, 1, SECONDS, 'commons\r\n', plan));
        many.push(await load(port, CONCURRENT, SECONDS, 'commons\r\n', plan));
        manyW.push(await load(port, CONCURRENT, SECONDS, '/W commons\r\n', verbose));
      }
      const planBytes = await query(port, 'commons\r\n', plan);
      const verboseBytes = await query(port, '/W commons\r\n', verbose);
      return [
        summarise('`finger commons@host`, 1 client (one query after the other)', 'queries/s', one, {
          note: `a new TCP connection per query, as finger clients do; the plan is the newest 10 of ${POSTS} posts (${planBytes} bytes); no post arrives during the runs, so after the first query each plan comes from the plugin's plan cache (checked against the newest post at every query)`,
        }),
        summarise(`\`finger commons@host\`, ${CONCURRENT} concurrent clients`, 'queries/s', many),
        summarise(`\`finger -l commons@host\` (/W, 50 posts), ${CONCURRENT} concurrent clients`, 'queries/s', manyW, {
          note: `${verboseBytes} bytes per answer`,
        }),
        summarise('uncached plan (10 posts): store read + count + render, in-process', 'plans/s', cold, {
          note: 'what each query costs when a post arrived since the last one (the cache misses): no sockets, one core',
        }),
        summarise('uncached /W plan (50 posts): store read + count + render, in-process', 'plans/s', coldW),
      ];
    } finally {
      await d.stop('SIGTERM');
    }
  } finally {
    w.cleanup();
  }
}

runWhenMain(import.meta.url, title, run);
