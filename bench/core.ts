/**
 * Core benchmark: durable ingest rate through the real Core + Store (NORMAL and
 * FULL), the bare better-sqlite3 ceiling for the same writes, ingest→deliver
 * latency at 1,000 posts/s, and peak RSS (of this process, and of a fresh child
 * process that runs only the latency test, which is the figure that stands for
 * the daemon). On Linux the NORMAL runs are repeated in /dev/shm as a diagnostic
 * (no disk), to tell what the disk costs from what the code costs.
 *
 *   node dist/bench/core.js                  all of it, printed as a table
 *   node dist/bench/core.js --latency-only   the latency test alone; prints one JSON line (used as the child)
 *   node dist/bench/core.js --ingest-only [process|power] [posts] [senders]
 *                                            one ingest run, for profiling with --cpu-prof
 *
 * Prints figures; asserts nothing about time (it does check that every post was stored).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { Store, MIGRATIONS } from '../src/store.js';
import { Router } from '../src/ingest/router.js';
import { Outbox, type Resolution } from '../src/delivery/outbox.js';
import { ingestPipeline } from '../src/ingest/pipeline.js';
import type { IncomingPost, Post } from '../src/post.js';
import type { Style } from '../src/config/types.js';
import { makeConfig } from '../test/helpers/core-fixture.js';
import { shebangFlags } from '../test/helpers/daemon.js';
import { percentile, peakRssMb, summarise, machine, table, type Result } from './lib/result.js';

export const title = 'core: ingest, delivery latency, memory';

const log = pino({ level: 'silent' });

// ---- sizes (from the issue) ----
const NORMAL_POSTS = 50_000;
const FULL_POSTS = 10_000;
const RUNS = 5;
const RAM_RUNS = 3; // diagnostic runs on a RAM file system
const WARMUP_POSTS = 5_000;
export const LATENCY_RATE = 1_000; // posts/s offered
const LATENCY_TICK_MS = 10;
const LATENCY_SECONDS = 10;
export const LATENCY_WARMUP_SECONDS = 1; // offered but not counted
const TARGET_INGEST = 15_000;
/** The flags `peerpost start` runs node with (the shebang of src/bin.ts, and npm start). */
const DAEMON_NODE_FLAGS = shebangFlags();
/** Concurrent senders for the group-commit figures (SMTP, NNTP and IRC connections at once). */
const SENDERS = 64;
const TARGET_P99_MS = 5;
const TARGET_RSS_MB = 80;

// ---- the bridge: five chat endpoints; a post arriving at one goes to the other four ----
const CHAT_ACCOUNTS: Record<string, Style> = {
  'irc.libera': 'chat',
  'irc.oftc': 'chat',
  'irc.hackint': 'chat',
  'irc.tilde': 'chat',
  'irc.rizon': 'chat',
};
export const FIVE_ENDPOINTS = Object.keys(CHAT_ACCOUNTS).map((a) => `${a}/#commons`);
const ORIGIN_ACCOUNT = 'irc.libera';
const TARGETS = 4;

// ---- posts: IRC-like lines of varied length, generated deterministically ----
const NICKS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar'];
const WORDS =
  'the a of to and in is it that for on was with as be at by this from or have an they which one you were all we when there can more if out so what up its about into than them only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(
    ' ',
  );

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A pool of chat lines, 20–300 characters (mean about 110), cycled through by every run. */
function linePool(size: number, target: string): IncomingPost[] {
  const rnd = prng(20261127);
  const pool: IncomingPost[] = [];
  for (let i = 0; i < size; i++) {
    const len = rnd() < 0.85 ? 20 + Math.floor(rnd() * 140) : 160 + Math.floor(rnd() * 140);
    let body = '';
    while (body.length < len) body += (body ? ' ' : '') + WORDS[Math.floor(rnd() * WORDS.length)];
    pool.push({
      target,
      author: { name: NICKS[Math.floor(rnd() * NICKS.length)]!, via: 'irc' },
      body: body.slice(0, len),
    });
  }
  return pool;
}

export const POOL = linePool(1024, '#commons');

/** The post the core would store for a line of the pool, as the bare runs write it (bridge commons, from IRC). */
export function poolPost(inc: IncomingPost, id: string, now: number): Post {
  return {
    id,
    bridge: 'commons',
    origin: { account: ORIGIN_ACCOUNT, target: inc.target },
    author: inc.author,
    body: inc.body,
    kind: 'message',
    references: [],
    hops: 0,
    date: new Date(now).toISOString(),
    attachments: [],
  };
}

function freshDir(tag: string, base = tmpdir()): string {
  return mkdtempSync(join(base, `peerpost-bench-${tag}-`));
}

/** A RAM-backed directory for the diagnostic "no disk" runs, when the machine has one (and tmpdir is not it already). */
function ramDir(): string | undefined {
  if (process.platform !== 'linux' || tmpdir().startsWith('/dev/shm')) return undefined;
  try {
    return statSync('/dev/shm').isDirectory() ? '/dev/shm' : undefined;
  } catch {
    return undefined;
  }
}

// ---- 1. durable ingest through the core ----

/**
 * One run: a fresh store, `posts` chat lines ingested back to back with delivery off. Returns posts/s.
 * `tune` may adjust the fresh store before the run (for experiments; the benchmark passes none);
 * `base` is the parent of the fresh directory (default os.tmpdir()).
 */
export async function ingestRun(
  durability: 'process' | 'power',
  posts: number,
  producers = 1,
  tune?: (store: Store) => void,
  base?: string,
  /** Another store than SQLite in the fresh directory (bench/pg.ts: a fresh PostgreSQL schema). */
  open?: () => Store,
): Promise<number> {
  const dir = freshDir(durability, base);
  const store = open ? open() : Store.open(dir, { durability });
  try {
    tune?.(store);
    const config = makeConfig(CHAT_ACCOUNTS, { commons: { endpoints: FIVE_ENDPOINTS } });
    const router = new Router(config, new Map(Object.entries(CHAT_ACCOUNTS)));
    // Delivery off: the rows are written and no outbox is told of them, so only
    // ingest (dedup, routing, the one transaction) is measured.
    const core = ingestPipeline(store, router, config, undefined, { core: log, digests: log }).core;
    const pool = POOL;
    const t0 = performance.now();
    // `producers` senders, each waiting for its post to be committed before it sends the next
    // (as SMTP and NNTP clients wait for 250 / 240). With one, every post is its own commit;
    // with many, posts that arrive together share a commit (group commit).
    let next = 0;
    const producer = async () => {
      while (next < posts) {
        const v = await core.ingest(ORIGIN_ACCOUNT, pool[next++ & 1023]!);
        if (v.status !== 'accepted') throw new Error(`a post was not accepted: ${JSON.stringify(v)}`);
      }
    };
    await Promise.all(Array.from({ length: producers }, producer));
    const elapsed = performance.now() - t0;
    const s = core.stats.get(ORIGIN_ACCOUNT);
    const outboxRows = Number(store.db.prepare('SELECT count(*) FROM outbox').pluck().get());
    if (s?.accepted !== posts || store.countPosts('commons') !== posts || outboxRows !== posts * TARGETS)
      throw new Error(`ingest run stored the wrong amount: stats ${JSON.stringify(s)}, outbox rows ${outboxRows}`);
    core.close();
    return posts / (elapsed / 1000);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 2. the ceiling: bare better-sqlite3, the same writes ----

/** The store's own schema (its first migration), so that the ceiling writes the same tables and indexes. */
const BARE_SCHEMA = MIGRATIONS[0]!;

/**
 * One run of the ceiling: WAL, synchronous=NORMAL, foreign keys on, one transaction per
 * post writing one post row (fresh UUID id, the post serialised as JSON like the core
 * does) and four outbox rows. Returns posts/s.
 */
export function bareRun(posts: number, base?: string): number {
  const dir = freshDir('bare', base);
  const db = new Database(join(dir, 'bare.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.exec(BARE_SCHEMA);
    const insertPost = db.prepare('INSERT INTO posts (id, bridge, received_at, data) VALUES (?, ?, ?, ?)');
    const insertOutbox = db.prepare('INSERT INTO outbox (post_seq, endpoint, shape, created_at) VALUES (?, ?, ?, ?)');
    const targets = FIVE_ENDPOINTS.slice(1);
    const write = db.transaction((id: string, data: string, now: number) => {
      const seq = insertPost.run(id, 'commons', now, data).lastInsertRowid;
      for (const t of targets) insertOutbox.run(seq, t, 'stream', now);
    });
    const pool = POOL;
    const t0 = performance.now();
    for (let i = 0; i < posts; i++) {
      const inc = pool[i & 1023]!;
      const now = Date.now();
      const id = `${randomUUID()}@test.example`;
      write(id, JSON.stringify(poolPost(inc, id, now)), now);
    }
    const elapsed = performance.now() - t0;
    const n = db.prepare('SELECT count(*) FROM outbox').pluck().get() as number;
    if (n !== posts * TARGETS) throw new Error(`bare run wrote ${n} outbox rows, expected ${posts * TARGETS}`);
    return posts / (elapsed / 1000);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 3. ingest → deliver latency ----

export interface LatencyFigures {
  offered: number;
  measured: number;
  undelivered: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Achieved offered rate over the measured window, posts/s. */
  rate: number;
  peakRssMb: number;
}

/**
 * Offer LATENCY_RATE posts/s (every LATENCY_TICK_MS, the posts due by then) to a bridge
 * with one origin endpoint and one in-process target whose deliver() resolves at once
 * and records performance.now(). Latency = deliver call − start of that post's ingest.
 * The first LATENCY_WARMUP_SECONDS are offered but not counted. `tune` may adjust the
 * fresh store (for experiments) and return a function undoing it; the benchmark passes none.
 */
export async function latencyRun(
  durability: 'process' | 'power' = 'process',
  tune?: (store: Store) => void | (() => void),
  open?: () => Store,
): Promise<LatencyFigures> {
  const dir = freshDir('latency');
  const store = open ? open() : Store.open(dir, { durability });
  const untune = tune?.(store);
  const accounts: Record<string, Style> = { 'irc.libera': 'chat', 'irc.oftc': 'chat' };
  const config = makeConfig(accounts, { lat: { endpoints: ['irc.libera/#lat', 'irc.oftc/#lat'] } });
  const router = new Router(config, new Map(Object.entries(accounts)));
  const targetKey = 'irc.oftc/#lat';
  const warm = LATENCY_WARMUP_SECONDS * LATENCY_RATE;
  const total = warm + LATENCY_SECONDS * LATENCY_RATE;
  const started = new Float64Array(total);
  const delivered = new Float64Array(total).fill(NaN);
  let deliveredCount = 0;
  const outbox = new Outbox(
    store,
    config.delivery,
    (key): Resolution =>
      key === targetKey
        ? {
            ready: true,
            endpoint: router.endpoint(key)!,
            deliver: async (post) => {
              const i = post.id.startsWith('lat-') ? Number(post.id.slice(4, post.id.indexOf('@'))) : -1;
              if (i >= 0 && i < total && Number.isNaN(delivered[i]!)) {
                delivered[i] = performance.now();
                deliveredCount++;
              }
              return { result: 'delivered' };
            },
          }
        : { ready: false, reason: 'not the measured endpoint' },
    log,
  );
  const core = ingestPipeline(store, router, config, outbox, { core: log, digests: log }).core;
  const pool = linePool(1024, '#lat');
  try {
    let sent = 0;
    let measureStart = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const tick = () => {
        try {
          const now = performance.now();
          const due = Math.min(total, Math.floor(((now - t0) * LATENCY_RATE) / 1000));
          while (sent < due) {
            if (sent === warm) measureStart = performance.now();
            const id = `lat-${sent}@bench.example`;
            started[sent] = performance.now();
            const n = sent;
            core.ingest('irc.libera', { ...pool[sent & 1023]!, id }).then((v) => {
              if (v.status !== 'accepted') reject(new Error(`post ${n} was not accepted: ${JSON.stringify(v)}`));
            }, reject);
            sent++;
          }
          if (sent >= total) resolve();
          else setTimeout(tick, LATENCY_TICK_MS);
        } catch (err) {
          reject(err);
        }
      };
      setTimeout(tick, LATENCY_TICK_MS);
    });
    const measureEnd = started[total - 1]!;
    // Let the last deliveries finish (they are immediate; allow up to 5 s).
    const deadline = performance.now() + 5000;
    while (deliveredCount < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const lat: number[] = [];
    let undelivered = 0;
    for (let i = warm; i < total; i++) {
      if (Number.isNaN(delivered[i]!)) undelivered++;
      else lat.push(delivered[i]! - started[i]!);
    }
    lat.sort((a, b) => a - b);
    return {
      offered: total - warm,
      measured: lat.length,
      undelivered,
      p50: percentile(lat, 50),
      p90: percentile(lat, 90),
      p99: percentile(lat, 99),
      max: lat[lat.length - 1] ?? NaN,
      mean: lat.reduce((a, b) => a + b, 0) / lat.length,
      rate: ((total - warm) / (measureEnd - measureStart)) * 1000,
      peakRssMb: peakRssMb(),
    };
  } finally {
    core.close();
    await outbox.stop(1000);
    if (typeof untune === 'function') untune();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const THIS_FILE = fileURLToPath(import.meta.url);

/** The latency test in a fresh node process: its figures and that process's peak RSS. */

async function latencyInChild(): Promise<LatencyFigures> {
  // With the V8 flags the daemon runs with (src/bin.ts's first line, npm start).
  const { stdout } = await promisify(execFile)(process.execPath, [...DAEMON_NODE_FLAGS, THIS_FILE, '--latency-only'], {
    maxBuffer: 1 << 20,
    timeout: 60_000,
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as LatencyFigures;
}

function latencyResults(where: string, f: LatencyFigures): Result[] {
  const note =
    `${f.measured} of ${f.offered} posts measured at ${Math.round(f.rate)} posts/s offered` +
    (f.undelivered ? `, ${f.undelivered} NOT delivered within 5 s` : '') +
    `; mean ${f.mean.toFixed(3)} ms`;
  return [
    { figure: `ingest→deliver p50, ${where}`, value: f.p50, unit: 'ms', digits: 3 },
    { figure: `ingest→deliver p90, ${where}`, value: f.p90, unit: 'ms', digits: 3 },
    { figure: `ingest→deliver p99, ${where}`, value: f.p99, unit: 'ms', digits: 3, target: { atMost: TARGET_P99_MS } },
    { figure: `ingest→deliver max, ${where}`, value: f.max, unit: 'ms', digits: 3, note },
  ];
}

// ---- the benchmark ----

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  core: ${s}\n`);

  progress(`warm-up (${WARMUP_POSTS} posts through core and bare)`);
  await ingestRun('process', WARMUP_POSTS);
  bareRun(WARMUP_POSTS);

  // Core and bare interleaved run by run, so drift on the machine hits both alike.
  const core: number[] = [];
  const group: number[] = [];
  const bare: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    progress(
      `run ${r + 1}/${RUNS}: core NORMAL ${NORMAL_POSTS} posts from 1 and from ${SENDERS} senders, bare ${NORMAL_POSTS} posts (${tmpdir()})`,
    );
    core.push(await ingestRun('process', NORMAL_POSTS, 1));
    group.push(await ingestRun('process', NORMAL_POSTS, SENDERS));
    bare.push(bareRun(NORMAL_POSTS));
  }
  const full: number[] = [];
  const fullGroup: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    progress(`run ${r + 1}/${RUNS}: core FULL ${FULL_POSTS} posts from 1 sender, ${NORMAL_POSTS} from ${SENDERS}`);
    full.push(await ingestRun('power', FULL_POSTS, 1));
    fullGroup.push(await ingestRun('power', NORMAL_POSTS, SENDERS));
  }
  // Diagnostic: the same NORMAL runs on a RAM file system, to tell the cost of the disk from the cost of the code.
  const ram = ramDir();
  const coreRam: number[] = [];
  const bareRam: number[] = [];
  if (ram) {
    for (let r = 0; r < RAM_RUNS; r++) {
      progress(`diagnostic run ${r + 1}/${RAM_RUNS}: core (1 sender) and bare NORMAL ${NORMAL_POSTS} posts in ${ram}`);
      coreRam.push(await ingestRun('process', NORMAL_POSTS, 1, undefined, ram));
      bareRam.push(bareRun(NORMAL_POSTS, ram));
    }
  }
  progress(`latency: ${LATENCY_RATE} posts/s for ${LATENCY_WARMUP_SECONDS}+${LATENCY_SECONDS} s, in this process`);
  const latHere = await latencyRun();
  progress(`latency: the same in a fresh child process`);
  const latChild = await latencyInChild();
  const rssHere = peakRssMb();

  const ratio = (a: number[], b: number[]): Result['value'] => summarise('', '', a).value / summarise('', '', b).value;
  const ratios = core.map((c, i) => c / bare[i]!);
  const results: Result[] = [
    summarise(`durable ingest, core, NORMAL, ${SENDERS} senders`, 'posts/s', group, {
      target: { atLeast: TARGET_INGEST },
      note: `${NORMAL_POSTS} posts per run into a fresh store in ${tmpdir()}; each post = 1 post row + ${TARGETS} outbox rows; ${SENDERS} senders each wait for their commit, posts that arrive together share one (group commit); delivery off`,
    }),
    summarise('durable ingest, core, NORMAL, 1 sender', 'posts/s', core, {
      note: 'one sender waiting for each commit: a transaction per post, the same work as the bare ceiling',
    }),
    summarise(`durable ingest, core, FULL, ${SENDERS} senders`, 'posts/s', fullGroup, {
      note: `${NORMAL_POSTS} posts per run; an fsync per commit, shared by the posts of the commit`,
    }),
    summarise('durable ingest, core, FULL, 1 sender', 'posts/s', full, {
      note: `${FULL_POSTS} posts per run; an fsync per post`,
    }),
    summarise('ceiling: bare better-sqlite3, NORMAL', 'posts/s', bare, {
      note: 'same schema and pragmas (WAL, NORMAL, foreign_keys), UUID id + JSON.stringify of the post per row, one transaction per post',
    }),
    {
      figure: 'ratio core (1 sender) / bare (medians)',
      value: ratio(core, bare),
      unit: '×',
      min: Math.min(...ratios),
      max: Math.max(...ratios),
      runs: ratios.length,
      digits: 2,
      note: 'spread is over the per-run ratios of the interleaved core and bare runs',
    },
  ];
  if (ram) {
    const ramRatios = coreRam.map((c, i) => c / bareRam[i]!);
    results.push(
      summarise(`diagnostic: core, NORMAL, in ${ram} (no disk)`, 'posts/s', coreRam, {
        note: 'not durable: shows what the code costs without the disk',
      }),
      summarise(`diagnostic: bare, NORMAL, in ${ram} (no disk)`, 'posts/s', bareRam),
      {
        figure: `diagnostic: ratio core / bare in ${ram}`,
        value: ratio(coreRam, bareRam),
        unit: '×',
        min: Math.min(...ramRatios),
        max: Math.max(...ramRatios),
        runs: ramRatios.length,
        digits: 2,
      },
    );
  }
  results.push(
    ...latencyResults('bench process', latHere),
    ...latencyResults('fresh process', latChild),
    {
      figure: 'peak RSS, bench process (all core runs)',
      value: rssHere,
      unit: 'MB',
      digits: 1,
      note: 'includes the bare-sqlite, FULL and diagnostic runs; not the daemon figure',
    },
    {
      figure: 'peak RSS, fresh process (latency test only)',
      value: latChild.peakRssMb,
      unit: 'MB',
      digits: 1,
      target: { atMost: TARGET_RSS_MB },
      note: 'a fresh node running only the latency test: the figure that stands for the daemon',
    },
  );
  return results;
}

// ---- run directly ----

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--latency-only')) {
    const d = argv[argv.indexOf('--latency-only') + 1] === 'power' ? 'power' : 'process';
    process.stdout.write(JSON.stringify(await latencyRun(d)) + '\n');
    return;
  }
  const i = argv.indexOf('--ingest-only');
  if (i >= 0) {
    const durability = argv[i + 1] === 'power' ? 'power' : 'process';
    const posts = Number(argv[i + 2] ?? NORMAL_POSTS);
    const senders = Number(argv[i + 3] ?? 1);
    await ingestRun(durability, WARMUP_POSTS, senders);
    console.log(
      `${durability}, ${senders} sender(s): ${Math.round(await ingestRun(durability, posts, senders))} posts/s`,
    );
    return;
  }
  console.log(machine());
  const results = await run();
  console.log(table([{ title, results }]));
  console.log(`peak RSS of this process: ${peakRssMb().toFixed(1)} MB`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
