/**
 * The archive, side by side with public-inbox 1.9 (Debian's package, with Xapian): the
 * same corpus (bench/archive-corpus.ts, an mboxrd of N messages) carried into each, the
 * same 20 questions asked over HTTP, the whole archive carried out as gzipped mbox.
 *
 *   npm run bench -- archive --messages=10000     (default 100,000; the corpus is cached)
 *   node dist/bench/archive.js --messages=10000   (the same, this module alone)
 *
 * public-inbox (PI_CONFIG in a temporary directory, nothing of the user's touched):
 * - import: `public-inbox-init -V2`, then the mbox through public-inbox's own importer
 *   (InboxWritable::import_mbox, what its import_vger_from_mbox script runs: git plus the
 *   SQLite overview and Xapian, message by message; bench/public-inbox-import.pl), then
 *   `public-inbox-index`; disk used: du of the inbox directory;
 * - search: `public-inbox-httpd -W0` on 127.0.0.1, `GET /NAME/?q=…&l=50` (its default order);
 * - export: `POST /NAME/?q=&x=m`, the whole inbox as all.mbox.gz (an empty query on the
 *   search form's mbox download gives every message); peak RSS: VmHWM of the httpd.
 * peerpost (a fresh data directory, one bridge served by the web plugin):
 * - import: `peerpost import -b commons corpus.mbox` (the store made first by one start and
 *   stop of the daemon, not timed); disk used: du of the data directory;
 * - search: the daemon, `GET /api/search?q=…`;
 * - export: `peerpost export -b commons -o out.mbox.gz`; peak RSS: that process's
 *   (/usr/bin/time's maximum resident set size). Import and export run as a user runs `peerpost`:
 *   the executable itself, with its shebang's node flags (--max-semi-space-size=2).
 * Queries: 20 (archive-corpus.ts QUERIES), one unmeasured round, then ROUNDS rounds, the two
 * servers taking turns query by query; p50 and p99 over every sample. Each export is checked
 * to hold every message. Every child has a timeout, and its stderr is shown when it fails.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createGunzip } from 'node:zlib';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BIN, world, startDaemon, runOnce, type Running } from '../test/helpers/daemon.js';
import { freePort } from '../test/integration/irc-helpers.js';
import { requirePeer } from '../test/peers/require.js';
import { corpus, DEFAULT_MESSAGES, DEFAULT_SEED, QUERIES, type Corpus } from './archive-corpus.js';
import { median, percentile, runWhenMain, summarise, type Result } from './lib/result.js';

export const title = 'archive: import, search, export — peerpost vs public-inbox 1.9 (Xapian), one corpus';

const IMPORTER = fileURLToPath(new URL('../../bench/public-inbox-import.pl', import.meta.url));
const ROUNDS = Number(process.env.ARCHIVE_BENCH_ROUNDS ?? 10);
const PAGE = 50;
const BRIDGE = 'commons';
const INBOX = 'commons';

function argNumber(name: string, def: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : def;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} takes a whole number above 0, not ${a}`);
  return v;
}

const progress = (s: string) => process.stderr.write(`  archive: ${s}\n`);
const mb = (bytes: number) => bytes / 1e6;

interface Child {
  ms: number;
  /** Maximum resident set size, MB (from /usr/bin/time). */
  peakMb: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a command to completion under /usr/bin/time (its peak RSS), with a timeout; stdin from a file
 * when given. Rejects with the command's stderr when it fails or times out.
 */
function child(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: string; timeoutMs: number },
): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'pp-bench-time-'));
  const timeFile = join(dir, 'time');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('/usr/bin/time', ['-f', '%M', '-o', timeFile, cmd, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.stdin ? openSync(opts.stdin, 'r') : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-64_000)));
    p.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-64_000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, opts.timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      let peakKb = NaN;
      try {
        peakKb = Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop());
      } catch {
        /* killed before time wrote it */
      }
      rmSync(dir, { recursive: true, force: true });
      const what = `${cmd} ${args.join(' ')}`;
      if (timedOut) reject(new Error(`${what}: no end after ${opts.timeoutMs / 1000} s (killed); stderr:\n${stderr}`));
      else if (code !== 0)
        reject(new Error(`${what}: exit ${code ?? signal}; stderr:\n${stderr}${stdout ? `\nstdout:\n${stdout}` : ''}`));
      else resolve({ ms, peakMb: peakKb / 1024, stdout, stderr });
    });
  });
}

function du(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

function vmHwmMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Messages (From_ lines) and bytes of a gzipped mbox. */
async function gzMbox(file: string): Promise<{ messages: number; bytes: number }> {
  let messages = 0;
  let bytes = 0;
  // The last 5 bytes of the previous chunk, so a "\nFrom " across two chunks is seen; "\n" before the first.
  let carry = Buffer.from('\n');
  const sep = Buffer.from('\nFrom ');
  await pipeline(
    createReadStream(file),
    createGunzip(),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        const b = Buffer.concat([carry, chunk]);
        for (let i = b.indexOf(sep); i >= 0; i = b.indexOf(sep, i + 1)) messages++;
        carry = b.subarray(Math.max(0, b.length - (sep.length - 1)));
        cb();
      },
    }),
  );
  return { messages, bytes };
}

/** One GET, timed to the last byte of the body. */
async function timedGet(url: string): Promise<{ ms: number; status: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  const body = await res.text();
  return { ms: performance.now() - t0, status: res.status, body };
}

interface Server {
  name: string;
  url(q: string): string;
  /** Hits the answer reports (public-inbox: its estimate). */
  hits(status: number, body: string): string;
  ok(status: number): boolean;
}

interface PublicInbox {
  dir: string;
  env: NodeJS.ProcessEnv;
  importMs: number;
  indexMs: number;
  importPeakMb: number;
  diskBytes: number;
}

async function publicInboxImport(c: Corpus): Promise<PublicInbox> {
  const dir = mkdtempSync(join(tmpdir(), 'pp-bench-pi-'));
  const env = { PI_CONFIG: join(dir, 'config'), HOME: dir };
  const inbox = join(dir, 'inbox');
  const timeoutMs = 120_000 + c.messages * 20;
  progress(`public-inbox: init -V2, import ${c.messages} messages, index (${dir})`);
  await child('public-inbox-init', ['-V2', INBOX, inbox, `http://127.0.0.1/${INBOX}`, `${INBOX}@lists.example.org`], {
    env,
    cwd: dir,
    timeoutMs: 60_000,
  });
  const imp = await child('perl', [IMPORTER, INBOX], { env, cwd: dir, stdin: c.path, timeoutMs });
  const idx = await child('public-inbox-index', [inbox], { env, cwd: dir, timeoutMs });
  return {
    dir,
    env,
    importMs: imp.ms,
    indexMs: idx.ms,
    importPeakMb: Math.max(imp.peakMb, idx.peakMb),
    diskBytes: du(inbox),
  };
}

interface Httpd {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function startHttpd(pi: PublicInbox): Promise<Httpd> {
  const port = await freePort();
  const p = spawn('public-inbox-httpd', ['-W0', '-l', `127.0.0.1:${port}`], {
    cwd: pi.dir,
    env: { ...process.env, ...pi.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16_000)));
  const exited = new Promise<void>((r) => p.on('exit', () => r()));
  const end = Date.now() + 30_000;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`public-inbox-httpd exited (${p.exitCode}); stderr:\n${stderr}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/${INBOX}/`, { signal: AbortSignal.timeout(5000) });
      await r.text();
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > end) {
      p.kill('SIGKILL');
      throw new Error(`public-inbox-httpd did not answer on 127.0.0.1:${port} within 30 s; stderr:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: p.pid!,
    port,
    async stop() {
      if (p.exitCode === null) p.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (p.exitCode === null) p.kill('SIGKILL');
    },
  };
}

/** The whole inbox as all.mbox.gz, streamed to a file. */
async function publicInboxExport(httpd: Httpd, file: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${httpd.port}/${INBOX}/?q=&x=m`, {
    method: 'POST',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok || !res.body) throw new Error(`public-inbox export: HTTP ${res.status}: ${await res.text()}`);
  await pipeline(res.body, createWriteStream(file));
  return performance.now() - t0;
}

interface Peerpost {
  config: string;
  data: string;
  importMs: number;
  importPeakMb: number;
  diskBytes: number;
  cleanup(): void;
}

async function peerpostImport(c: Corpus, port: number): Promise<Peerpost> {
  const w = world();
  w.writeConfig(`
accounts:
  web.b:
    listen: 127.0.0.1:${port}
bridges:
  ${BRIDGE}: { endpoints: [web.b/${BRIDGE}] }
`);
  progress(`peerpost: import ${c.messages} messages (${w.dir})`);
  await runOnce(w.config);
  const imp = await child(BIN, ['import', '-c', w.config, '-b', BRIDGE, c.path], {
    cwd: w.dir,
    timeoutMs: 120_000 + c.messages * 20,
  });
  return {
    config: w.config,
    data: w.data,
    importMs: imp.ms,
    importPeakMb: imp.peakMb,
    diskBytes: du(w.data),
    cleanup: () => w.cleanup(),
  };
}

function hitsOfJson(body: string): string {
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    if (typeof j.total === 'number') return String(j.total);
    const list = Object.values(j).find(Array.isArray) as unknown[] | undefined;
    return list ? `${list.length}${j.next || j.cursor ? '+' : ''}` : '?';
  } catch {
    return '?';
  }
}

/** Each query once unmeasured, then ROUNDS rounds, the servers taking turns query by query. */
async function searches(
  servers: Server[],
): Promise<Map<string, { all: number[]; perQuery: number[][]; hits: string[] }>> {
  const out = new Map(
    servers.map((s) => [
      s.name,
      { all: [] as number[], perQuery: QUERIES.map(() => [] as number[]), hits: QUERIES.map(() => '') },
    ]),
  );
  for (let round = -1; round < ROUNDS; round++) {
    for (let i = 0; i < QUERIES.length; i++)
      for (const s of servers) {
        const q = QUERIES[i]!;
        const r = await timedGet(s.url(s.name === 'public-inbox' ? q.publicInbox : q.peerpost));
        if (!s.ok(r.status))
          throw new Error(`${s.name}: query ${JSON.stringify(q)} answered ${r.status}: ${r.body.slice(0, 500)}`);
        const o = out.get(s.name)!;
        if (round < 0) {
          o.hits[i] = s.hits(r.status, r.body);
          continue;
        }
        o.all.push(r.ms);
        o.perQuery[i]!.push(r.ms);
      }
    if (round === -1) progress(`search: warm-up round done; ${ROUNDS} measured rounds of ${QUERIES.length} queries`);
  }
  return out;
}

export async function run(): Promise<Result[]> {
  requirePeer('public-inbox');
  const n = argNumber('messages', Number(process.env.ARCHIVE_BENCH_MESSAGES ?? DEFAULT_MESSAGES));
  const seed = argNumber('seed', DEFAULT_SEED);
  // The anchor alone (to try the harness while peerpost's side is being built).
  const ours = !process.argv.includes('--public-inbox-only');
  const load0 = loadavg()[0]!.toFixed(1);
  const c = corpus(n, seed, progress);
  progress(`corpus ${c.path}: ${n} messages, ${mb(c.bytes).toFixed(1)} MB`);
  const exportTimeout = 120_000 + n * 10;
  const results: Result[] = [];
  const count = n.toLocaleString('en-US');
  const pi = await publicInboxImport(c);
  let httpd: Httpd | undefined;
  let pp: Peerpost | undefined;
  let daemon: Running | undefined;
  try {
    const webPort = await freePort();
    const piRate = n / ((pi.importMs + pi.indexMs) / 1000);
    results.push({
      figure: `public-inbox: import ${count} messages (init -V2, import_mbox, public-inbox-index)`,
      value: piRate,
      unit: 'messages/s',
      note: `import ${(pi.importMs / 1000).toFixed(1)} s + index ${(pi.indexMs / 1000).toFixed(1)} s; peak RSS ${pi.importPeakMb.toFixed(0)} MB`,
    });
    if (ours) {
      pp = await peerpostImport(c, webPort);
      const ppRate = n / (pp.importMs / 1000);
      results.push(
        {
          figure: `peerpost: import ${count} messages (peerpost import)`,
          value: ppRate,
          unit: 'messages/s',
          target: { atLeast: piRate },
          anchor: `public-inbox: ${Math.round(piRate).toLocaleString('en-US')} messages/s`,
          note: `${(pp.importMs / 1000).toFixed(1)} s; peak RSS ${pp.importPeakMb.toFixed(0)} MB`,
        },
        { figure: 'import: peerpost ÷ public-inbox (higher is faster)', value: ppRate / piRate, unit: '×' },
      );
    }
    results.push({
      figure: 'public-inbox: disk used (du of the inbox)',
      value: mb(pi.diskBytes),
      unit: 'MB',
      digits: 1,
    });
    if (pp)
      results.push(
        {
          figure: 'peerpost: disk used (du of the data directory)',
          value: mb(pp.diskBytes),
          unit: 'MB',
          digits: 1,
          anchor: `public-inbox: ${mb(pi.diskBytes).toFixed(1)} MB`,
        },
        { figure: 'disk: peerpost ÷ public-inbox (lower is smaller)', value: pp.diskBytes / pi.diskBytes, unit: '×' },
      );

    httpd = await startHttpd(pi);
    if (pp) daemon = await startDaemon(pp.config, ['--log-level', 'info']);
    const servers: Server[] = [
      {
        name: 'public-inbox',
        url: (q) => `http://127.0.0.1:${httpd!.port}/${INBOX}/?q=${encodeURIComponent(q)}&l=${PAGE}`,
        ok: (s) => s === 200 || s === 404, // 404: no results
        hits: (s, body) => (s === 404 ? '0' : (/Results \d+-\d+ of (~?\d+)/.exec(body)?.[1] ?? '?')),
      },
    ];
    if (pp)
      servers.push({
        name: 'peerpost',
        url: (q) => `http://127.0.0.1:${webPort}/api/search?q=${encodeURIComponent(q)}`,
        ok: (s) => s === 200,
        hits: (_s, body) => hitsOfJson(body),
      });
    const s = await searches(servers);
    const P = s.get('public-inbox')!;
    const Q = s.get('peerpost');
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const samples = `${QUERIES.length} queries × ${ROUNDS} rounds`;
    const p50pi = percentile(sorted(P.all), 50);
    const p99pi = percentile(sorted(P.all), 99);
    results.push({
      figure: `public-inbox: search p50 (${samples}, ?q= HTML, ${PAGE} a page)`,
      value: p50pi,
      unit: 'ms',
    });
    results.push({ figure: 'public-inbox: search p99', value: p99pi, unit: 'ms' });
    if (Q) {
      const p50pp = percentile(sorted(Q.all), 50);
      const p99pp = percentile(sorted(Q.all), 99);
      results.push(
        {
          figure: `peerpost: search p50 (${samples}, /api/search JSON)`,
          value: p50pp,
          unit: 'ms',
          anchor: `public-inbox: ${p50pi.toFixed(2)} ms`,
        },
        {
          figure: 'peerpost: search p99',
          value: p99pp,
          unit: 'ms',
          target: { atMost: p99pi },
          anchor: `public-inbox: ${p99pi.toFixed(2)} ms`,
        },
        { figure: 'search p99: peerpost ÷ public-inbox (lower is faster)', value: p99pp / p99pi, unit: '×' },
      );
    }
    for (let i = 0; i < QUERIES.length; i++) {
      const q = QUERIES[i]!;
      if (Q)
        results.push(
          summarise(`query ${i + 1}, ${q.what}: \`${q.peerpost}\``, 'ms', Q.perQuery[i]!, {
            anchor: `public-inbox \`${q.publicInbox}\`: ${median(P.perQuery[i]!).toFixed(2)} ms; hits ${P.hits[i]} vs ${Q.hits[i]}`,
          }),
        );
      else
        results.push(
          summarise(`query ${i + 1}, ${q.what}: \`${q.publicInbox}\``, 'ms', P.perQuery[i]!, {
            anchor: `public-inbox; hits ${P.hits[i]}`,
          }),
        );
    }

    progress('export: public-inbox all.mbox.gz');
    const piFile = join(pi.dir, 'all.mbox.gz');
    const hwmBefore = vmHwmMb(httpd.pid);
    const piMs = await publicInboxExport(httpd, piFile, exportTimeout);
    const piHwm = vmHwmMb(httpd.pid);
    const piOut = await gzMbox(piFile);
    if (piOut.messages !== n) throw new Error(`public-inbox's export holds ${piOut.messages} messages, not ${n}`);
    const piMbs = mb(piOut.bytes) / (piMs / 1000);
    results.push({
      figure: 'public-inbox: export of the whole inbox (POST ?q=&x=m, all.mbox.gz)',
      value: piMbs,
      unit: 'MB/s of mbox',
      note: `${(piMs / 1000).toFixed(1)} s; ${mb(piOut.bytes).toFixed(1)} MB of mbox, ${mb(statSync(piFile).size).toFixed(1)} MB gzipped`,
    });
    let exportRss: Result | undefined;
    if (pp) {
      progress('export: peerpost export');
      const ppFile = join(pp.config, '..', 'out.mbox.gz');
      const ex = await child(BIN, ['export', '-c', pp.config, '-b', BRIDGE, '-o', ppFile], {
        timeoutMs: exportTimeout,
      });
      const ppOut = await gzMbox(ppFile);
      if (ppOut.messages !== n) throw new Error(`peerpost's export holds ${ppOut.messages} messages, not ${n}`);
      const ppMbs = mb(ppOut.bytes) / (ex.ms / 1000);
      results.push(
        {
          figure: 'peerpost: export of the whole bridge (peerpost export -o out.mbox.gz)',
          value: ppMbs,
          unit: 'MB/s of mbox',
          anchor: `public-inbox: ${piMbs.toFixed(1)} MB/s`,
          note: `${(ex.ms / 1000).toFixed(1)} s (a whole process, its start included); ${mb(ppOut.bytes).toFixed(1)} MB of mbox, ${mb(statSync(ppFile).size).toFixed(1)} MB gzipped`,
        },
        { figure: 'export: peerpost ÷ public-inbox (higher is faster)', value: ppMbs / piMbs, unit: '×' },
      );
      exportRss = {
        figure: `peerpost: peak RSS of peerpost export (${count} posts)`,
        value: ex.peakMb,
        unit: 'MB',
        target: { atMost: 100 },
        anchor: `public-inbox-httpd: ${piHwm.toFixed(0)} MB`,
      };
    }
    results.push({
      figure: 'public-inbox: peak RSS of public-inbox-httpd -W0 after the export',
      value: piHwm,
      unit: 'MB',
      note: `${hwmBefore.toFixed(0)} MB before the export (after the searches); its git cat-file children not counted`,
    });
    if (exportRss) results.push(exportRss);
    results[0]!.note += `; load average ${load0} at the start, ${loadavg()[0]!.toFixed(1)} at the end (${cpus().length} cores); corpus ${c.path.split('/').pop()} (${mb(c.bytes).toFixed(0)} MB, tag ${c.tag})`;
    return results;
  } finally {
    await daemon?.stop();
    await httpd?.stop();
    pp?.cleanup();
    rmSync(pi.dir, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, title, run);
