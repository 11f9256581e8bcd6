/**
 * IRC benchmark: lines relayed IRC → IRC through the daemon (`peerpost start`,
 * a child process) between two real ngircd servers on 127.0.0.1.
 *
 *   node dist/bench/run.js irc      (or: node dist/bench/irc.js)
 *
 * - Latency: a user on network A says a line every 20 ms in #lat; a user on
 *   network B sees it in #lat. Both ngircd with penalties off and the account's
 *   flood control off, so the figure is the relay's own time. p50 and p99 over
 *   one run of LAT_LINES (1,000) lines (the size).
 * - The 1,000-line burst (the size): the user on A says 1,000 lines at
 *   once in #big; the relay says them in #big on network D (ngircd, penalties
 *   off) with flood control ON, set fast (FAST_FLOOD: 5 at once, then one line
 *   per 10 ms) so the run takes seconds, not the 8 minutes the default 2 lines/s
 *   would take.
 * - The same 1,000 lines into #big2 on network E, an InspIRCd 3 with
 *   echo-message: the posts are confirmed by their echoes instead of a PING.
 * - The 200-line burst: the same into #burst on network C, an ngircd with its
 *   DEFAULT penalties, through the account's flood control (BURST_FLOOD).
 * Each burst: lines delivered, lost, out of order, twice, and the time from the
 * first line said to the last line seen. On ngircd the posts are confirmed by a
 * PING after their lines (through the same flood control); with the account's
 * default flood.window of 8 posts in flight, one PING confirms up to 8 posts, so a
 * burst of one-line posts takes about 1 + 1/8 tokens a post (one post at a time,
 * each with its PING, took two).
 *
 * Prints figures; asserts nothing about time (it fails only when it cannot run).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { world, startDaemon, until, sleep } from '../test/helpers/daemon.js';
import {
  ensureInspircd,
  ensureNgircd,
  freePort,
  startInspircd,
  startIrcd,
  stopInspircd,
  stopIrcd,
  User,
  type Ircd,
} from '../test/integration/irc-helpers.js';
import { percentile, runWhenMain, summarise, type Result } from './lib/result.js';

export const title = 'irc: IRC → IRC relay through the daemon, real ngircd';

/** Latency runs (the median of their p50s is quoted); IRC_BENCH_LAT_RUNS overrides. */
const LAT_RUNS = Number(process.env.IRC_BENCH_LAT_RUNS) || 3;
/** IRC_BENCH_ONLY=latency skips the bursts (for profiling the relay path). */
const ONLY_LATENCY = process.env.IRC_BENCH_ONLY === 'latency';
const LAT_LINES = 1000;
const LAT_PACE_MS = 20;
/** Bursts: lines, channel, the server they go to, and what that server does. */
const BURSTS = [
  {
    n: 1000,
    chan: '#big',
    user: 'fast' as const,
    how: 'flood control ON, fast bucket: 5 at once, then one line per 10 ms; ngircd penalties off; one PING confirms a window of up to 8 posts (flood.window default)',
  },
  {
    n: 1000,
    chan: '#big2',
    user: 'insp' as const,
    name: '1000-line burst into InspIRCd',
    how: 'to InspIRCd 3 (fakelag off), the same fast bucket; each post confirmed by the echo of its line (echo-message), no PING',
  },
  {
    n: 200,
    chan: '#burst',
    user: 'far' as const,
    how: 'ngircd with its DEFAULT penalties; flood control 5 at once, then one line per 250 ms',
  },
];
/** The flood control for the 1,000-line burst: fast, so it is measured in seconds (penalties off on that server). */
const FAST_FLOOD = { burst: 5, interval: '10ms' };
/** The relay's flood control for the bursts: 4 lines/s after 5 at once, which ngircd's default penalties let through (measured: 4.1 lines/s end to end). */
const BURST_FLOOD = { burst: 5, interval: '250ms' };

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  irc: ${s}\n`);
  ensureNgircd();
  ensureInspircd();
  const dirs: string[] = [];
  const mkdir = () => {
    const d = mkdtempSync('/tmp/pp-bench-ngircd-');
    chmodSync(d, 0o755);
    dirs.push(d);
    return d;
  };
  const servers: Ircd[] = [];
  let insp: Ircd | undefined;
  const users: User[] = [];
  const w = world();
  try {
    const a = startIrcd(await freePort(), mkdir(), '0', 'irc.a.local');
    const b = startIrcd(await freePort(), mkdir(), '0', 'irc.b.local');
    const c = startIrcd(await freePort(), mkdir(), 'default', 'irc.c.local');
    const dd = startIrcd(await freePort(), mkdir(), '0', 'irc.d.local');
    servers.push(a, b, c, dd);
    insp = startInspircd(await freePort(), mkdir());
    const src = await new User('src').connect(a.port, '#lat');
    await src.join('#burst');
    await src.join('#big');
    await src.join('#big2');
    const dst = await new User('dst').connect(b.port, '#lat');
    const far = await new User('far').connect(c.port, '#burst');
    const fast = await new User('fast').connect(dd.port, '#big');
    const inspUser = await new User('insp').connect(insp.port, '#big2');
    users.push(src, dst, far, fast, inspUser);
    const sinks = { far, fast, insp: inspUser };
    w.writeConfig(`
accounts:
  irc.a: { host: 127.0.0.1, port: ${a.port}, tls: false, nick: relay, flood: { burst: 1000, interval: 0ms } }
  irc.b: { host: 127.0.0.1, port: ${b.port}, tls: false, nick: relay, flood: { burst: 1000, interval: 0ms } }
  irc.c: { host: 127.0.0.1, port: ${c.port}, tls: false, nick: relay, flood: { burst: ${BURST_FLOOD.burst}, interval: ${BURST_FLOOD.interval}, maxWait: 50s } }
  irc.d: { host: 127.0.0.1, port: ${dd.port}, tls: false, nick: relay, flood: { burst: ${FAST_FLOOD.burst}, interval: ${FAST_FLOOD.interval}, maxWait: 20s } }
  irc.e: { host: 127.0.0.1, port: ${insp.port}, tls: false, nick: relay, flood: { burst: ${FAST_FLOOD.burst}, interval: ${FAST_FLOOD.interval}, maxWait: 20s } }
bridges:
  lat:
    endpoints: [irc.a/#lat, irc.b/#lat]
  burst:
    endpoints: [irc.a/#burst, irc.c/#burst]
  big:
    endpoints: [irc.a/#big, irc.d/#big]
  big2:
    endpoints: [irc.a/#big2, irc.e/#big2]
`);
    // At the default log level (info), as a user runs it; the tests' helper asks for debug.
    const d = await startDaemon(w.config, ['--log-level', 'info']);
    try {
      await dst.waitFor((l) => /^:relay!\S+ JOIN :?#lat/.test(l), 'the relay joins #lat on B', 20_000);
      await far.waitFor((l) => /^:relay!\S+ JOIN :?#burst/.test(l), 'the relay joins #burst on C', 20_000);
      await src.waitFor((l) => /^:relay!\S+ JOIN :?#burst/.test(l), 'the relay joins #burst on A', 20_000);
      await fast.waitFor((l) => /^:relay!\S+ JOIN :?#big/.test(l), 'the relay joins #big on D', 20_000);
      await src.waitFor((l) => /^:relay!\S+ JOIN :?#big$/.test(l), 'the relay joins #big on A', 20_000);
      await inspUser.waitFor((l) => /^:relay!\S+ JOIN :?#big2/.test(l), 'the relay joins #big2 on E', 20_000);
      await src.waitFor((l) => /^:relay!\S+ JOIN :?#big2/.test(l), 'the relay joins #big2 on A', 20_000);
      await sleep(500);

      // Latency, at a calm pace.
      const p50s: number[] = [];
      const p99s: number[] = [];
      const maxes: number[] = [];
      for (let r = 0; r < LAT_RUNS; r++) {
        progress(`latency run ${r + 1}/${LAT_RUNS}: ${LAT_LINES} lines, one every ${LAT_PACE_MS} ms`);
        const sentAt = new Map<string, number>();
        const took: number[] = [];
        const onLine = (l: string) => {
          const m = / PRIVMSG #lat :<src> (lat \d+ \d+)$/.exec(l);
          const t0 = m ? sentAt.get(m[1]!) : undefined;
          if (t0 !== undefined) took.push(performance.now() - t0);
        };
        const from = dst.lines.length;
        dst.onLine = onLine;
        try {
          for (let i = 0; i < LAT_LINES; i++) {
            const text = `lat ${r} ${i}`;
            sentAt.set(text, performance.now());
            src.send(`PRIVMSG #lat :${text}`);
            await sleep(LAT_PACE_MS);
          }
          await until(() => took.length >= LAT_LINES, 'every latency line', 15_000).catch(() => undefined);
        } finally {
          dst.onLine = undefined;
        }
        if (took.length < LAT_LINES)
          throw new Error(
            `latency run ${r + 1}: ${took.length} of ${LAT_LINES} lines arrived (${dst.lines.length - from} lines seen)`,
          );
        took.sort((x, y) => x - y);
        p50s.push(percentile(took, 50));
        p99s.push(percentile(took, 99));
        maxes.push(took[took.length - 1]!);
      }

      // Bursts, through ngircd's default penalties and the relay's flood control.
      const burstResults: Result[] = [];
      for (const { n, chan, user, how, name = `${n}-line burst` } of ONLY_LATENCY ? [] : BURSTS) {
        progress(`burst of ${n} lines into ${chan} (${how})`);
        const far = sinks[user];
        const tag = `b${n}`;
        const re = new RegExp(`^:relay!\\S+ PRIVMSG ${chan} :<src> ${tag} (\\d+)$`);
        const got = () =>
          far.lines
            .map((l) => re.exec(l))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => Number(m[1]));
        const t0 = performance.now();
        let last = t0;
        // Said on network A (no penalties there) as fast as the socket takes it.
        src.send(Array.from({ length: n }, (_, i) => `PRIVMSG ${chan} :${tag} ${i}`).join('\r\n'));
        // Wait until every line is there, or nothing new came for 15 s.
        let seen = 0;
        let quietSince = performance.now();
        while (seen < n && performance.now() - quietSince < 15_000) {
          await sleep(50);
          const now = got().length;
          if (now > seen) {
            seen = now;
            last = performance.now();
            quietSince = last;
          }
        }
        const seq = got();
        const unique = new Set(seq);
        let outOfOrder = 0;
        for (let i = 1; i < seq.length; i++) if (seq[i]! < seq[i - 1]!) outOfOrder++;
        const lost = n - unique.size;
        const secs = (last - t0) / 1000;
        burstResults.push(
          { figure: `${name}: lines delivered`, value: unique.size, unit: 'lines', digits: 0, target: { atLeast: n } },
          {
            figure: `${name}: lines lost`,
            value: lost,
            unit: 'lines',
            digits: 0,
            target: { atMost: 0 },
            anchor: 'matterbridge: a 100-line burst lost 68 (its queue drops when full)',
          },
          {
            figure: `${name}: lines out of order`,
            value: outOfOrder,
            unit: 'lines',
            digits: 0,
            target: { atMost: 0 },
            anchor: 'matterbridge: a 45-line burst delivered 10 pairs out of order',
          },
          {
            figure: `${name}: lines delivered twice`,
            value: seq.length - unique.size,
            unit: 'lines',
            digits: 0,
            target: { atMost: 0 },
          },
          {
            figure: `${name}: time to deliver`,
            value: secs,
            unit: 's',
            digits: 1,
            note: `one run; ${how}; from the first line said on network A to the last seen on the far network; ${(unique.size / secs).toFixed(2)} lines/s`,
          },
        );
        await sleep(1000);
      }
      return [
        summarise(`relay latency IRC → IRC, one line per ${LAT_PACE_MS} ms, p50`, 'ms', p50s, {
          digits: 2,
          note: `${LAT_LINES} lines a run, median of ${LAT_RUNS} runs; a user on ngircd A to a user on ngircd B (penalties off, flood control off), through ingest, the store and the outbox`,
          anchor: 'matterbridge: about 1 ms p50 (issue, same setup)',
        }),
        summarise(`relay latency IRC → IRC, one line per ${LAT_PACE_MS} ms, p99`, 'ms', p99s, { digits: 2 }),
        summarise(`relay latency IRC → IRC, one line per ${LAT_PACE_MS} ms, max`, 'ms', maxes, { digits: 2 }),
        ...burstResults,
      ];
    } finally {
      await d.stop('SIGTERM');
    }
  } finally {
    for (const u of users) u.close();
    for (const s of servers) stopIrcd(s);
    stopInspircd(insp);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    w.cleanup();
  }
}

runWhenMain(import.meta.url, title, run);
