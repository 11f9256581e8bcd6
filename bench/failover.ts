/**
 * Takeover time with several processes on one PostgreSQL database (issue 17, src/runtime/leases.ts): two
 * `peerpost start` on one database, an IRC account on a real ngircd bridged with the built-in news server. Each
 * round kills the process holding the IRC account with kill -9, posts one article to the other process's news server
 * at once, and measures the time from the kill to that article said in the channel by the bot (the first post
 * delivered by the other process); the killed process is started again (two always run). The anchor is a
 * supervisor's restart of a single process on the same database (kill -9, start again at once, the same article
 * measured; the restarted process takes its dead predecessor's leases back at once: same host and node.data): what
 * failover costs over a restart when the machine survives.
 *
 *   npm run bench -- failover           (or node dist/bench/failover.js)
 *   PP_TAKEOVER_KILLS=10  PP_TAKEOVER_FAILOVER=15s  (defaults: 10 kills, node.failover's default 15s)
 *
 * Prints figures; asserts nothing about time (each article is checked said in the channel).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { world, startDaemon, until, sleep, type World, type Running } from '../test/helpers/daemon.js';
import { startPostgres, openPg } from '../test/helpers/pg.js';
import { ensureNgircd, freePort, startIrcd, stopIrcd, User } from '../test/integration/irc-helpers.js';
import { nntplib } from '../test/integration/nntp-helpers.js';
import { parseDuration } from '../src/config/schema-helpers.js';
import { percentile, runWhenMain, summarise, type Result } from './lib/result.js';

export const title = 'failover: takeover of an IRC account by another process on one PostgreSQL database';
/** Needs PostgreSQL 15 and ngircd, and takes minutes: run when named (`npm run bench -- failover`). */
export const onlyWhenNamed = true;

const KILLS = Number(process.env.PP_TAKEOVER_KILLS ?? 10);
const FAILOVER = process.env.PP_TAKEOVER_FAILOVER ?? '15s';
const RESTARTS = Number(process.env.PP_TAKEOVER_RESTARTS ?? 3);
const CHAN = '#bench';
const BOT = 'ppbench';

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  failover: ${s}\n`);
  ensureNgircd();
  const pg = await startPostgres('failover');
  const ircDir = mkdtempSync(join(tmpdir(), 'pp-ircd-'));
  const ircd = startIrcd(await freePort(), ircDir, '0');
  const db = openPg(pg);
  const worlds: World[] = [];
  const procs: { w: World; nntp: number; d?: Running }[] = [];
  const watcher = await new User('watcher').connect(ircd.port, CHAN);
  try {
    for (let i = 0; i < 2; i++) {
      const w = world();
      worlds.push(w);
      const nntp = await freePort();
      w.writeConfig(`  database: ${pg.url}
  failover: ${FAILOVER}
accounts:
  irc.net: { host: 127.0.0.1, port: ${ircd.port}, tls: false, nick: ${BOT}, reconnect: { first: 200ms, max: 1s } }
  nntp.local: { listen: 127.0.0.1:${nntp}, posting: { allow: loopback } }
bridges:
  b:
    endpoints: [irc.net/${CHAN}, nntp.local/peerpost.bench]
`);
      procs.push({ w, nntp });
    }
    const holder = (): number | undefined => {
      const r = db.query(`SELECT holder FROM pp_leases WHERE name = 'account:irc.net' AND expires > now()`) as {
        holder: string | null;
      }[];
      return r[0]?.holder ? Number(r[0].holder.split(':')[1]) : undefined;
    };
    let n = 0;
    /** Post one article to this news server at once; resolves with ms from t0 to its line in the channel. */
    const measure = async (nntp: number, t0: number): Promise<number> => {
      const tok = `bench-${++n}-${Date.now()}`;
      const [r] = await nntplib(nntp, [
        [
          'post',
          `From: B <b@example.org>\r\nNewsgroups: peerpost.bench\r\nSubject: ${tok}\r\nMessage-ID: <${tok}@bench.example>\r\n\r\n${tok}\r\n`,
        ],
      ]);
      if (!r?.ok) throw new Error(`the article was refused: ${JSON.stringify(r)}`);
      await watcher.waitFor((l) => l.startsWith(`:${BOT}!`) && l.includes(tok), `${tok} in the channel`, 120_000);
      return performance.now() - t0;
    };

    // The anchor: one process, killed and started again at once by a supervisor.
    progress(`anchor: ${RESTARTS} restarts of one process after kill -9`);
    const restarts: number[] = [];
    procs[0]!.d = await startDaemon(procs[0]!.w.config);
    await measure(procs[0]!.nntp, performance.now());
    for (let k = 0; k < RESTARTS; k++) {
      const t0 = performance.now();
      procs[0]!.d.proc.kill('SIGKILL');
      await procs[0]!.d.exited;
      procs[0]!.d = await startDaemon(procs[0]!.w.config);
      restarts.push(await measure(procs[0]!.nntp, t0));
    }
    await procs[0]!.d.stop('SIGTERM');

    // Two processes: the holder killed, the other takes over.
    procs[0]!.d = await startDaemon(procs[0]!.w.config);
    procs[1]!.d = await startDaemon(procs[1]!.w.config);
    await until(() => holder(), 'a holder', 30_000);
    await measure(procs[0]!.nntp, performance.now());
    const takeovers: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const pid = await until(() => holder(), 'a holder', 60_000);
      const victim = procs.find((p) => p.d?.proc.pid === pid)!;
      const other = procs.find((p) => p !== victim)!;
      // Killed at a random moment of the holder's renewal cycle (node.failover / 3).
      await sleep(Math.random() * ((parseDuration(FAILOVER) ?? 15_000) / 3));
      const t0 = performance.now();
      victim.d!.proc.kill('SIGKILL');
      await victim.d!.exited;
      const ms = await measure(other.nntp, t0);
      takeovers.push(ms);
      progress(`kill ${k + 1}/${KILLS}: ${(ms / 1000).toFixed(1)} s`);
      // Started again after the takeover (at once, it would take its own leases back: same data directory).
      victim.d = await startDaemon(victim.w.config);
    }
    const sorted = [...takeovers].sort((a, b) => a - b);
    const load = loadavg()[0]!.toFixed(2);
    const anchor = `a supervisor's restart of one process: ${(
      percentile(
        [...restarts].sort((a, b) => a - b),
        50,
      ) / 1000
    ).toFixed(1)} s p50`;
    return [
      {
        figure: `takeover p50, kill -9 → first post delivered by the other, node.failover ${FAILOVER}, ${KILLS} kills`,
        value: percentile(sorted, 50) / 1000,
        unit: 's',
        digits: 1,
        min: sorted[0]! / 1000,
        max: sorted.at(-1)! / 1000,
        runs: KILLS,
        target: { atMost: 20 },
        anchor,
        note: `load average ${load} at the end`,
      },
      {
        figure: `takeover p99`,
        value: percentile(sorted, 99) / 1000,
        unit: 's',
        digits: 1,
        target: { atMost: 20 },
      },
      summarise(
        'restart of one process (kill -9, started again at once)',
        's',
        restarts.map((x) => x / 1000),
        { digits: 1 },
      ),
    ];
  } finally {
    watcher.close();
    for (const p of procs) await p.d?.stop('SIGKILL');
    db.close();
    stopIrcd(ircd);
    rmSync(ircDir, { recursive: true, force: true });
    for (const w of worlds) w.cleanup();
    pg.destroy();
  }
}

runWhenMain(import.meta.url, title, run);
