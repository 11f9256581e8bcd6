/**
 * IRC at a person's pace: lines said 1.5 s apart in #a, relayed to #b on the same ngircd (penalties off), by
 * peerpost with its default settings and, in the same run, by matterbridge when its binary is at hand. The same
 * client measures both: from the line written by the sender to the line read by the receiver.
 *
 *   node dist/bench/run.js irc-pace      (also run by `npm run bench -- irc`)
 *
 * IRC_PACE_LINES (default 30, about 45 s a relay) and IRC_PACE_GAP_MS (1500) change the pace; IRC_PACE_NODE_FLAGS
 * (space-separated) adds node/V8 flags to peerpost's process, to try one. IRC_PACE_WARM=N (a diagnostic, default 0)
 * first has each relay carry N lines 20 ms apart, not measured, so that the measured lines find its code hot (peerpost
 * then with a flood bucket of N + 5 lines, so that they do not queue; the measured lines find it full either way).
 * matterbridge:
 * MATTERBRIDGE_BIN, else shared/bench/bin/matterbridge.xz beside the checkout or beside one of its parent directories
 * (../shared for a checkout, ../../shared for a git worktree under wt/; unpacked once, checked against
 * matterbridge.sha256 beside it). When neither is there, the bench says so and gives peerpost's figures alone.
 *
 * Then, in the same run, two floors (bench/lib/floor-relay.ts; IRC_PACE_FLOORS=0 leaves them out): node alone (a socket
 * and a regular expression, nothing stored) and the libraries peerpost stands on with nothing of peerpost
 * (irc-framework relaying each line, better-sqlite3 storing it): what node itself costs a line, and the least memory
 * a relay on peerpost's stack can take; they carry the same lines, timed the same way.
 *
 * Each relay runs as its own process, started fresh (the first line after a start counts, as a person's would);
 * its peak RSS is its VmHWM from /proc just before it is stopped. Prints figures; asserts nothing about time.
 *
 * IRC_PACE_TRACE=1 (a diagnostic) says where each line's time goes in the relays written in node (peerpost, the
 * floors): each is started with bench/lib/pace-trace.js preloaded, which stamps when the line reaches its JavaScript,
 * when it begins writing the relayed line and when that write returns, on the clock the bench stamps its sends and
 * receipts with; the bench prints the medians of the four parts (the hop to the relay, the relay's own time, the
 * write, the hop back).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { shebangFlags, sleep } from '../test/helpers/daemon.js';
import { ensureNgircd, freePort, startIrcd, stopIrcd, User, type Ircd } from '../test/integration/irc-helpers.js';
import type { Stamps } from './lib/pace-trace.js';
import { median, percentile, runWhenMain, type Result } from './lib/result.js';

export const title = 'irc-pace: IRC → IRC at a person’s pace (a line every 1.5 s), peerpost and matterbridge';

const LINES = Number(process.env.IRC_PACE_LINES) || 30;
const GAP_MS = Number(process.env.IRC_PACE_GAP_MS) || 1500;
const WARM = Number(process.env.IRC_PACE_WARM) || 0;
const FLOORS = process.env.IRC_PACE_FLOORS !== '0';
const TRACE = process.env.IRC_PACE_TRACE === '1';
const TRACER = fileURLToPath(new URL('./lib/pace-trace.js', import.meta.url));
const BIN = fileURLToPath(new URL('../src/bin.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('./lib/floor-relay.js', import.meta.url));
/** The checkout (dist/bench/ is two levels below it). */
const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));

/** shared/bench/bin beside the checkout or beside the nearest of its parents that has one: the team's matterbridge. */
export function sharedBenchBin(from = CHECKOUT): string {
  let dir = resolve(from);
  for (;;) {
    const parent = dirname(dir);
    const bin = join(parent, 'shared', 'bench', 'bin');
    if (existsSync(join(bin, 'matterbridge.xz'))) return bin;
    if (parent === dir) return join(dirname(resolve(from)), 'shared', 'bench', 'bin');
    dir = parent;
  }
}

interface Figures {
  p50: number;
  p99: number;
  max: number;
  first: number;
  rssMb: number;
  lost: number;
  /** IRC_PACE_TRACE: medians of the parts of a line's time (ms). */
  parts?: Parts;
}

/** A line's time in four parts (IRC_PACE_TRACE), medians over the lines, in ms. */
export interface Parts {
  /** From the bench's write in #a to the line in the relay's JavaScript: the server, the relay waking up. */
  hopIn: number;
  /** The relay's own time: from there to its write of the relayed line. */
  own: number;
  /** That write (net.Socket#write: node's stream and the system call). */
  write: number;
  /** From the write's return to the line read by the bench in #b. */
  hopOut: number;
}

/** The four parts of each line stamped both by the bench (sent, received) and by the relay (pace-trace.ts). */
export function splitTimes(
  bench: Map<string, { sent: number; received?: number }>,
  relay: Record<string, Stamps>,
): Parts | undefined {
  const parts: number[][] = [[], [], [], []];
  for (const [key, b] of bench) {
    const r = relay[key];
    if (!r || b.received === undefined) continue;
    [r.data - b.sent, r.write - r.data, r.written - r.write, b.received - r.written].forEach((x, i) =>
      parts[i]!.push(x),
    );
  }
  if (parts[0]!.length === 0) return undefined;
  const [hopIn, own, write, hopOut] = parts.map((xs) => median(xs)) as [number, number, number, number];
  return { hopIn, own, write, hopOut };
}

/** matterbridge's binary: MATTERBRIDGE_BIN, else the shared one unpacked into the cache; a reason when there is none. */
function matterbridge(): string | { absent: string } {
  const env = process.env.MATTERBRIDGE_BIN;
  if (env) return existsSync(env) ? env : { absent: `MATTERBRIDGE_BIN=${env} does not exist` };
  const shared = sharedBenchBin();
  const xz = join(shared, 'matterbridge.xz');
  const sumFile = join(shared, 'matterbridge.sha256');
  if (!existsSync(xz) || !existsSync(sumFile))
    return { absent: `no matterbridge binary (set MATTERBRIDGE_BIN, or put matterbridge.xz in ${shared})` };
  const sum = readFileSync(sumFile, 'utf8').slice(0, 64);
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'peerpost');
  const bin = join(cache, `matterbridge-${sum.slice(0, 12)}`);
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  const data = execFileSync('xz', ['-dc', xz], { maxBuffer: 1 << 30 });
  const got = createHash('sha256').update(data).digest('hex');
  if (got !== sum) return { absent: `${xz} does not match matterbridge.sha256 (sha256 ${got})` };
  writeFileSync(`${bin}.tmp`, data, { mode: 0o755 });
  renameSync(`${bin}.tmp`, bin);
  return bin;
}

/** VmHWM of a running process, in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([gone, sleep(10_000)]);
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

/** CLOCK_MONOTONIC in ms: the clock pace-trace.ts stamps with in the relay. */
const monotonic = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * One relay (a child process, started fresh) carrying LINES lines from #a to #b: the figures the users saw. `trace`
 * (IRC_PACE_TRACE, a relay in node): the file pace-trace.ts writes its stamps to, preloaded into the relay.
 */
async function measure(
  name: string,
  port: number,
  argv: string[],
  bot: string,
  seen: string[],
  trace?: string,
): Promise<Figures> {
  const progress = (s: string) => process.stderr.write(`  irc-pace: ${name}: ${s}\n`);
  const tag = `${name.slice(0, 2)}${Date.now() % 100_000}`;
  const tx = new User(`tx${tag}`);
  const rx = new User(`rx${tag}`);
  const log: string[] = [];
  let relay: ChildProcess | undefined;
  let figures: Figures;
  const stamped = new Map<string, { sent: number; received?: number }>();
  try {
    // The users first, so that they see the relay join.
    await tx.connect(port, '#a');
    await rx.connect(port, '#b');
    const traced = trace ? [argv[0]!, '--import', TRACER, ...argv.slice(1)] : argv;
    const env = trace ? { ...process.env, PACE_TRACE_OUT: trace, PACE_TRACE_RE: `(${tag}-\\d+)\\b` } : process.env;
    relay = spawn(traced[0]!, traced.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
    relay.stdout!.on('data', (d: Buffer) => log.push(d.toString('utf8')));
    relay.stderr!.on('data', (d: Buffer) => log.push(d.toString('utf8')));
    const joined = (u: User, chan: string) =>
      u.waitFor((l) => new RegExp(`^:${bot}!\\S+ JOIN :?${chan}$`, 'i').test(l), `${name} joins ${chan}`, 30_000);
    await joined(tx, '#a').catch((e: Error) => {
      throw new Error(`${e.message}\n${name}'s output:\n${log.join('').slice(-2000)}`);
    });
    await joined(rx, '#b');
    await sleep(2000); // both settled, as a person finds them
    if (WARM > 0) {
      // Diagnostic: the relay's code made hot first (WARM lines 20 ms apart), then the measured lines at the pace.
      progress(`warming: ${WARM} lines, one every 20 ms`);
      for (let i = 0; i < WARM; i++) {
        tx.send(`PRIVMSG #a :warm${tag}-${i} the quick brown fox`);
        await sleep(20);
      }
      // Until the relay has been quiet for 3 s (matterbridge drops what its own flood control holds back).
      for (let n = -1, end = Date.now() + 90_000; n !== rx.lines.length && Date.now() < end;) {
        n = rx.lines.length;
        await sleep(3000);
      }
      const warmed = rx.lines.filter((l) => l.includes(` PRIVMSG #b :`) && l.includes(`warm${tag}-`)).length;
      seen.push(`${name}: ${warmed} of the ${WARM} warm-up lines relayed`);
    }
    progress(`${LINES} lines, one every ${GAP_MS} ms`);
    const sentAt = new Map<number, number>();
    const took: number[] = [];
    let first = NaN;
    const re = new RegExp(` PRIVMSG #b :.*${tag}-(\\d+)\\b`);
    rx.onLine = (l) => {
      const t = performance.now();
      const received = monotonic();
      const m = re.exec(l);
      const t0 = m ? sentAt.get(Number(m[1])) : undefined;
      if (t0 === undefined) return;
      if (Number(m![1]) === 0) first = t - t0;
      const s = stamped.get(`${tag}-${m![1]}`);
      if (s) s.received = received;
      took.push(t - t0);
    };
    for (let i = 0; i < LINES; i++) {
      stamped.set(`${tag}-${i}`, { sent: monotonic() });
      sentAt.set(i, performance.now());
      tx.send(`PRIVMSG #a :${tag}-${i} the quick brown fox`);
      await sleep(GAP_MS);
    }
    for (const end = Date.now() + 10_000; took.length < LINES && Date.now() < end;) await sleep(100);
    rx.onLine = undefined;
    const rssMb = peakRssMb(relay.pid!);
    took.sort((x, y) => x - y);
    seen.push(`${name}: ${took.length} of ${LINES} lines arrived`);
    figures = {
      p50: percentile(took, 50),
      p99: percentile(took, 99),
      max: took.at(-1) ?? NaN,
      first,
      rssMb,
      lost: LINES - took.length,
    };
  } finally {
    tx.close();
    rx.close();
    if (relay) await stop(relay);
  }
  if (trace) {
    // Written by the relay as it exited.
    const parts = existsSync(trace)
      ? splitTimes(stamped, JSON.parse(readFileSync(trace, 'utf8')) as Record<string, Stamps>)
      : undefined;
    if (parts) figures.parts = parts;
    else seen.push(`${name}: no trace (${trace} not written or no line in it)`);
  }
  return figures;
}

export async function run(): Promise<Result[]> {
  ensureNgircd();
  const dir = mkdtempSync(join(tmpdir(), 'pp-bench-pace-'));
  chmodSync(dir, 0o755); // ngircd runs as nobody
  let ircd: Ircd | undefined;
  const seen: string[] = [];
  try {
    ircd = startIrcd(await freePort(), join(dir, 'ngircd'), '0', 'irc.pace.local');
    const port = ircd.port;
    const mb = matterbridge();
    let mbFig: Figures | undefined;
    if (typeof mb === 'string') {
      writeFileSync(
        join(dir, 'mb.toml'),
        `[irc.local]\nServer="127.0.0.1:${port}"\nNick="mbbot"\nUseTLS=false\nRemoteNickFormat="<{NICK}> "\n` +
          `[[gateway]]\nname="ab"\nenable=true\n[[gateway.in]]\naccount="irc.local"\nchannel="#a"\n` +
          `[[gateway.out]]\naccount="irc.local"\nchannel="#b"\n`,
      );
      mbFig = await measure('matterbridge', port, [mb, '-conf', join(dir, 'mb.toml')], 'mbbot', seen);
    } else process.stderr.write(`  irc-pace: ${mb.absent}: peerpost's figures alone\n`);
    writeFileSync(
      join(dir, 'pp.yaml'),
      `node: { hostname: bench.local, data: ${join(dir, 'ppdata')} }\naccounts:\n` +
        `  irc.local: { host: 127.0.0.1, port: ${port}, tls: false, nick: ppbot${WARM ? `, flood: { burst: ${WARM + 5} }` : ''} }\nbridges:\n  ab:\n    endpoints:\n` +
        `      - { endpoint: irc.local/#a, direction: in }\n      - { endpoint: irc.local/#b, direction: out }\n`,
    );
    // As the executable runs it (with the node flags of its first line), at the default log level.
    const extra = (process.env.IRC_PACE_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    const ppArgv = [process.execPath, ...shebangFlags(), ...extra, BIN, 'start', '-c', join(dir, 'pp.yaml')];
    const traceFile = (who: string) => (TRACE ? join(dir, `trace-${who}.json`) : undefined);
    const pp = await measure('peerpost', port, ppArgv, 'ppbot', seen, traceFile('peerpost'));
    const floors: { name: string; fig: Figures }[] = [];
    if (FLOORS && !WARM) {
      const lib = join(dir, 'floor');
      mkdirSync(lib);
      const fl = (mode: string, nick: string, ...rest: string[]) => [
        process.execPath,
        ...shebangFlags(),
        FLOOR,
        mode,
        String(port),
        nick,
        ...rest,
      ];
      floors.push({
        name: 'node alone',
        fig: await measure('node alone', port, fl('node', 'fnbot'), 'fnbot', seen, traceFile('node')),
      });
      floors.push({
        name: 'irc-framework + better-sqlite3',
        fig: await measure(
          'irc-framework + better-sqlite3',
          port,
          fl('library', 'flbot', lib),
          'flbot',
          seen,
          traceFile('library'),
        ),
      });
    }
    const ppNote = (f: (x: Figures) => number, d = 2) => `peerpost in the same run: ${f(pp).toFixed(d)}`;
    const mbNote = mbFig
      ? (f: (x: Figures) => number, d = 2) => `matterbridge in the same run: ${f(mbFig).toFixed(d)}`
      : () => 'matterbridge: not run (no binary)';
    const how = `${LINES} lines ${GAP_MS} ms apart, #a → #b on one ngircd (penalties off), both relays with their default settings, each started fresh${extra.length ? `; peerpost with ${extra.join(' ')}` : ''}${WARM ? `; each relay first made hot with ${WARM} lines 20 ms apart, not measured (peerpost's flood burst ${WARM + 5}; "the first line" is then the first measured)` : ''}; ${seen.join('; ')}`;
    const results: Result[] = [
      {
        figure: `latency at a person's pace (a line every ${GAP_MS / 1000} s), p50`,
        value: pp.p50,
        unit: 'ms',
        digits: 2,
        ...(mbFig ? { target: { atMost: mbFig.p50 } } : {}),
        anchor: mbNote((x) => x.p50),
        note: how,
      },
      {
        figure: `latency at a person's pace, p99`,
        value: pp.p99,
        unit: 'ms',
        digits: 2,
        ...(mbFig ? { target: { atMost: mbFig.p99 } } : {}),
        anchor: mbNote((x) => x.p99),
      },
      {
        figure: `latency at a person's pace, the first line after the start`,
        value: pp.first,
        unit: 'ms',
        digits: 2,
        anchor: mbNote((x) => x.first),
      },
      {
        figure: 'lines lost',
        value: pp.lost,
        unit: 'lines',
        digits: 0,
        target: { atMost: 0 },
        anchor: mbNote((x) => x.lost, 0),
      },
      {
        figure: 'peak RSS of the relay (VmHWM), one IRC account',
        value: pp.rssMb,
        unit: 'MB',
        digits: 1,
        target: { atMost: 50 },
        anchor: mbNote((x) => x.rssMb, 1),
      },
    ];
    for (const { name, fig } of floors)
      results.push(
        {
          figure: `the floor, ${name}: p50`,
          value: fig.p50,
          unit: 'ms',
          digits: 2,
          anchor: ppNote((x) => x.p50),
          ...(name === 'node alone'
            ? {
                note: "the floors (bench/lib/floor-relay.ts): the same lines through a relay of node alone (a socket and a regular expression) and one of irc-framework and better-sqlite3 with nothing of peerpost, each started fresh with the node flags of peerpost's executable",
              }
            : {}),
        },
        { figure: `the floor, ${name}: p99`, value: fig.p99, unit: 'ms', digits: 2, anchor: ppNote((x) => x.p99) },
        {
          figure: `the floor, ${name}: peak RSS (VmHWM)`,
          value: fig.rssMb,
          unit: 'MB',
          digits: 1,
          anchor: ppNote((x) => x.rssMb, 1),
        },
      );
    // IRC_PACE_TRACE: where each relay's time goes, one row each (its own time), the four parts in its note.
    for (const [name, fig] of [['peerpost', pp] as const, ...floors.map((f) => [f.name, f.fig] as const)]) {
      const p = fig.parts;
      if (!p) continue;
      const parts = `hop to it ${p.hopIn.toFixed(2)}, its own ${p.own.toFixed(2)}, its write ${p.write.toFixed(2)}, hop back ${p.hopOut.toFixed(2)} ms (medians)`;
      results.push({
        figure: `${name}: its own time for a line (trace, p50)`,
        value: p.own,
        unit: 'ms',
        digits: 2,
        anchor: parts,
        note:
          name === 'peerpost'
            ? `${parts}. IRC_PACE_TRACE (bench/lib/pace-trace.ts preloaded into each relay in node): a line split on one clock into the hop to the relay (the server, the relay waking up, to its socket's data event), its own time (to its write of the relayed line), that write, and the hop back to the receiver`
            : parts,
      });
    }
    return results;
  } finally {
    stopIrcd(ircd);
    rmSync(dir, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, title, run);
