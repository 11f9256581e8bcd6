/**
 * Mail receiving benchmark: posts taken by the mail plugin's SMTP receiver,
 * each answered 250 only once committed — from one SMTP connection sending one
 * message after another, and from 8 pooled connections at once. The client is
 * nodemailer's SMTP transport; the server is the real daemon (a child process,
 * `peerpost start`) with an open list and a second (article) endpoint, so each
 * post makes one outbox row.
 *
 *   node dist/bench/run.js mail-receive      (or: node dist/bench/mail-receive.js)
 *   MAIL_RECEIVE_TOTAL=0 node dist/bench/mail-receive.js        (only the runs: no posts after them)
 *
 * The daemon runs with the executable's node flags. After the runs (3 runs × 2 modes × MAIL_RECEIVE_MESSAGES, 6,000
 * posts), it takes more posts through 8 connections until MAIL_RECEIVE_TOTAL (60,000) in all; its peak RSS (VmHWM)
 * after them is set beside its peak after the runs (issue 19: within 10 %), with its RSS then and how much of it is
 * anonymous memory (/proc/PID/smaps_rollup).
 *
 * Beside it, in the same run and with the same client, the ceiling of the machine for taking mail: Postfix's
 * smtpd (a private instance, bench/lib/postfix.ts; its 250 comes once the message is in its queue file, fsynced)
 * relaying to Postfix's smtp-sink. For Postfix, the rate of 250s and the rate until its queue is empty (every
 * message relayed to the sink). The two servers take turns, run by run.
 *
 * Medians of RUNS runs of MESSAGES messages each. Prints figures; asserts only
 * that every message was answered 250 (and, for Postfix, relayed).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createTransport } from 'nodemailer';
import { shebangFlags, world, startDaemon } from '../test/helpers/daemon.js';
import { freePort } from '../test/integration/irc-helpers.js';
import { startSmtpSink } from '../test/integration/mail-send-helpers.js';
import { startPostfixRelay } from './lib/postfix.js';
import { median, percentile, runWhenMain, summarise, type Result } from './lib/result.js';

export const title = 'mail: posts received over SMTP (250 after commit)';

const RUNS = 3;
/** Messages per run and mode (3 runs × 2 modes: 6,000 posts by default). */
const MESSAGES = Number(process.env.MAIL_RECEIVE_MESSAGES ?? 1000);
const POOL = 8;
const D = 'lists.bench.example';

const body = 'A post to the list, a few lines long.\n\n'.repeat(8);

/**
 * After the runs (6,000 posts by default), more posts through 8 connections until this many in all; the daemon's
 * peak RSS then is compared with its peak RSS after the runs (issue 19: within 10 %). 0: no more posts.
 */
const TOTAL = Number(process.env.MAIL_RECEIVE_TOTAL ?? 60_000);

/** Megabytes of a `KEY: N kB` line of /proc/PID/status or /proc/PID/smaps_rollup. */
function procMb(pid: number, file: 'status' | 'smaps_rollup', key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const vmHwmMb = (pid: number) => procMb(pid, 'status', 'VmHWM');
/** RSS now, and how much of it is anonymous memory (the heap, SQLite's cache, malloc) rather than mapped files. */
const rssNow = (pid: number) =>
  `RSS ${procMb(pid, 'status', 'VmRSS').toFixed(0)} MB (anonymous ${procMb(pid, 'smaps_rollup', 'Anonymous').toFixed(0)} MB)`;

export async function run(): Promise<Result[]> {
  const port = await freePort();
  const w = world();
  w.writeConfig(`
accounts:
  mail.bench:
    domain: ${D}
    listen: 127.0.0.1:${port}
    limits: { messages: 0, perClient: 64 }
  sinkart.a: {}
bridges:
  commons:
    endpoints:
      - { endpoint: mail.bench/commons, policy: open }
      - sinkart.a/x
`);
  // With the node flags of the executable, as `peerpost start` runs (the V8 heap's limits are among them).
  const daemon = await startDaemon(w.config, ['--log-level', 'info'], { nodeFlags: shebangFlags() });
  const sink = await startSmtpSink();
  let postfix: ReturnType<typeof startPostfixRelay> | undefined;
  const seqRate: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  const poolRate: number[] = [];
  let n = 0;
  const mail = () => ({
    envelope: { from: 'bench@example.org', to: [`commons@${D}`] },
    from: 'Bench <bench@example.org>',
    to: `commons@${D}`,
    subject: `bench ${n}`,
    messageId: `<bench.${n++}@example.org>`,
    text: body,
  });
  const pf = { one: [] as number[], oneRelayed: [] as number[], pool: [] as number[], poolRelayed: [] as number[] };
  /** Until Postfix's queue is empty (every message relayed); the seconds since t0. */
  const relayed = async (t0: number): Promise<number> => {
    for (;;) {
      if (postfix!.deferred() > 0) throw new Error(`Postfix deferred messages: see ${postfix!.dir}/maillog`);
      if (postfix!.queued() === 0) return (performance.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const transport = (p: number, connections: number) =>
    createTransport({
      host: '127.0.0.1',
      port: p,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: connections,
      maxMessages: Infinity,
    });
  try {
    postfix = startPostfixRelay(await freePort(), sink.port, D);
    for (let r = 0; r < RUNS; r++) {
      const one = createTransport({
        host: '127.0.0.1',
        port,
        secure: false,
        ignoreTLS: true,
        pool: true,
        maxConnections: 1,
        maxMessages: Infinity,
      });
      const lat: number[] = [];
      const t0 = performance.now();
      for (let i = 0; i < MESSAGES; i++) {
        const s = performance.now();
        const info = await one.sendMail(mail());
        if (!/^250 /.test(info.response)) throw new Error(`not accepted: ${info.response}`);
        lat.push(performance.now() - s);
      }
      seqRate.push(MESSAGES / ((performance.now() - t0) / 1000));
      lat.sort((a, b) => a - b);
      p50.push(percentile(lat, 50));
      p99.push(percentile(lat, 99));
      one.close();

      const pool = createTransport({
        host: '127.0.0.1',
        port,
        secure: false,
        ignoreTLS: true,
        pool: true,
        maxConnections: POOL,
        maxMessages: Infinity,
      });
      const t1 = performance.now();
      const infos = await Promise.all(Array.from({ length: MESSAGES }, () => pool.sendMail(mail())));
      poolRate.push(MESSAGES / ((performance.now() - t1) / 1000));
      if (infos.some((i) => !/^250 /.test(i.response))) throw new Error('a message was not accepted');
      pool.close();

      // Postfix, the same client and messages.
      const pone = transport(postfix.port, 1);
      const t2 = performance.now();
      for (let i = 0; i < MESSAGES; i++) {
        const info = await pone.sendMail(mail());
        if (!/^250 /.test(info.response)) throw new Error(`Postfix did not take it: ${info.response}`);
      }
      pf.one.push(MESSAGES / ((performance.now() - t2) / 1000));
      pf.oneRelayed.push(MESSAGES / (await relayed(t2)));
      pone.close();
      const ppool = transport(postfix.port, POOL);
      const t3 = performance.now();
      const pinfos = await Promise.all(Array.from({ length: MESSAGES }, () => ppool.sendMail(mail())));
      pf.pool.push(MESSAGES / ((performance.now() - t3) / 1000));
      if (pinfos.some((i) => !/^250 /.test(i.response))) throw new Error('Postfix did not take a message');
      pf.poolRelayed.push(MESSAGES / (await relayed(t3)));
      ppool.close();
    }
    const pid = daemon.proc.pid!;
    const posts = RUNS * MESSAGES * 2;
    const rss = vmHwmMb(pid);
    const rssThen = rssNow(pid);
    // Then more posts, the daemon alone (Postfix idle): does its peak RSS grow with the number of posts?
    let more: { rss: number; rate: number; now: string } | undefined;
    if (TOTAL > posts) {
      const pool = transport(port, POOL);
      const t = performance.now();
      for (let sent = posts; sent < TOTAL;) {
        const k = Math.min(1000, TOTAL - sent);
        const infos = await Promise.all(Array.from({ length: k }, () => pool.sendMail(mail())));
        if (infos.some((i) => !/^250 /.test(i.response))) throw new Error('a message was not accepted');
        sent += k;
      }
      pool.close();
      more = { rss: vmHwmMb(pid), rate: (TOTAL - posts) / ((performance.now() - t) / 1000), now: rssNow(pid) };
    }
    const beside = (ours: number[], theirs: number[]) =>
      `${(median(ours) / median(theirs)).toFixed(2)}x Postfix's ${Math.round(median(theirs)).toLocaleString('en-US')}`;
    return [
      {
        ...summarise(`1 connection, ${MESSAGES} messages one after another`, 'posts/s', seqRate),
        anchor: beside(seqRate, pf.one),
      },
      summarise('1 connection: DATA sent → 250, p50', 'ms', p50),
      summarise('1 connection: DATA sent → 250, p99', 'ms', p99),
      {
        ...summarise(`${POOL} connections at once, ${MESSAGES} messages`, 'posts/s', poolRate),
        anchor: beside(poolRate, pf.pool),
      },
      summarise(`Postfix smtpd (→ smtp-sink): 1 connection, 250s`, 'messages/s', pf.one, {
        note: 'Postfix 3.7, a private instance on loopback (bench/lib/postfix.ts): 250 once the message is in its queue file; relayed to smtp-sink by 20 smtp processes',
      }),
      summarise(`Postfix smtpd → smtp-sink: 1 connection, until relayed`, 'messages/s', pf.oneRelayed),
      summarise(`Postfix smtpd (→ smtp-sink): ${POOL} connections, 250s`, 'messages/s', pf.pool),
      summarise(`Postfix smtpd → smtp-sink: ${POOL} connections, until relayed`, 'messages/s', pf.poolRelayed),
      {
        figure: `peak RSS of the daemon after ${posts.toLocaleString('en-US')} posts`,
        unit: 'MB',
        value: rss,
        note: `node ${shebangFlags().join(' ')} (the executable's flags); at the end of the runs: ${rssThen}`,
      },
      ...(more
        ? [
            {
              figure: `peak RSS of the daemon after ${TOTAL.toLocaleString('en-US')} posts`,
              unit: 'MB',
              value: more.rss,
              target: { atMost: Math.round(rss * 1.1 * 10) / 10 },
              anchor: `${(more.rss / rss).toFixed(2)}x its peak after ${posts.toLocaleString('en-US')}`,
              note: `the ${(TOTAL - posts).toLocaleString('en-US')} posts after the runs through ${POOL} connections at ${Math.round(more.rate)} posts/s; at the end: ${more.now}; target: within 10 % of the peak after ${posts.toLocaleString('en-US')} (issue 19)`,
            },
          ]
        : []),
    ];
  } finally {
    postfix?.stop();
    sink.stop();
    await daemon.stop();
    w.cleanup();
  }
}

runWhenMain(import.meta.url, title, run);
