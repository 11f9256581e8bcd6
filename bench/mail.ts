/**
 * Mail benchmark: one post to 10,000 subscribers through Postfix's smtp-sink on
 * 127.0.0.1, driven through the mail plugin's ListSender directly (not through
 * a daemon): a minimal plugin context on the real Store in a fresh directory
 * (durability "process", the daemon's default), per-recipient state kept in
 * mail_out_recipients exactly as in the daemon, nodemailer pooled (5
 * connections, the default).
 *
 *   node dist/bench/run.js mail      (or: node dist/bench/mail.js)
 *   node dist/bench/mail.js --one plain|verp PORT   one run in this process; prints one JSON line (used as the child)
 *
 * Figures: recipients/s and total time from deliverPost() start to the last
 * recipient's 250 with its state committed, without VERP (50 recipients per
 * transaction) and with VERP (one per transaction); peak RSS of the process
 * that ran it. Each run is a fresh child process (so peak RSS is its own);
 * median of 3. Beside them, a reference measured in the same run: nodemailer
 * alone (createTransport pooled, sendMail with a raw message, no state), the
 * same 10,000 recipients in 50s and one by one, so a loaded machine shows as a
 * lower reference too (the load average is printed in the notes). ListSender hands
 * finished messages straight to nodemailer's SMTP pool, skipping the composer
 * pass sendMail() makes per transaction, so it can beat this reference.
 * Prints figures; asserts nothing about time (it fails only when a recipient
 * was not delivered).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { loadavg, tmpdir } from 'node:os';
import { createTransport } from 'nodemailer';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ListSender, smtpSchema, type Recipient } from '../plugins/mail/outbound/index.js';
import { smtpTransport, type SmtpSender } from '../plugins/mail/outbound/transport.js';
import { mailCtx, post, target, LIST } from '../test/unit/mail-out-ctx.js';
import { startSmtpSink } from '../test/integration/mail-send-helpers.js';
import { peakRssMb, runWhenMain, summarise, type Result } from './lib/result.js';

export const title = 'mail: one post to 10,000 subscribers through smtp-sink';

const SUBSCRIBERS = 10_000;
const RUNS = 3;
const DOMAINS = 20;
const TARGET_PLAIN = 20_000;
const TARGET_VERP = 3_000;
/** Mailman 2, measured at about 356 recipients/s without VERP (the anchor). */
const MAILMAN2 = 356;

type Mode = 'plain' | 'verp' | 'bare-plain' | 'bare-verp';

interface One {
  mode: Mode;
  seconds: number;
  perSecond: number;
  rssMb: number;
}

function people(): Recipient[] {
  return Array.from({ length: SUBSCRIBERS }, (_, i) => ({
    address: `member${i}@d${i % DOMAINS}.example.org`,
    unsubscribeToken: `t${i}`,
  }));
}

/** The ceiling: nodemailer alone, pooled (5 connections), raw messages, no per-recipient state. */
async function bare(mode: 'bare-plain' | 'bare-verp', port: number): Promise<One> {
  const per = mode === 'bare-plain' ? 50 : 1;
  const t = createTransport({
    pool: true,
    host: '127.0.0.1',
    port,
    maxConnections: 5,
    maxMessages: 1000,
    logger: false,
  });
  try {
    const raw = Buffer.from(
      'From: <commons@lists.example.org>\r\nTo: <commons@lists.example.org>\r\nSubject: [commons] Next meeting\r\n\r\nDear all,\r\n',
    );
    const rc = people().map((p) => p.address);
    const start = performance.now();
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < rc.length; i += per)
      jobs.push(t.sendMail({ envelope: { from: 'commons-bounces@lists.example.org', to: rc.slice(i, i + per) }, raw }));
    await Promise.all(jobs);
    const seconds = (performance.now() - start) / 1000;
    return { mode, seconds, perSecond: SUBSCRIBERS / seconds, rssMb: peakRssMb() };
  } finally {
    t.close();
  }
}

/** One delivery of one post to 10,000 subscribers, in this process. */
async function one(mode: 'plain' | 'verp', port: number): Promise<One> {
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-bench-mail-'));
  const t = mailCtx({ dir, deliveryTimeoutMs: 600_000 });
  const config = smtpSchema.parse({ host: '127.0.0.1', port, verp: mode === 'verp' });
  // The real pooled transport, counting the recipients the sink answered 250 for.
  const real = smtpTransport(config, 'bench.example');
  let accepted = 0;
  const smtp: SmtpSender = {
    async send(from, to, raw) {
      const out = await real.send(from, to, raw);
      for (const o of out) if (o.result === 'sent') accepted++;
      return out;
    },
    close: () => real.close(),
  };
  const sender = new ListSender(t.ctx, config, { smtp });
  try {
    const list = people();
    const body = 'Dear all,\n\nthe next meeting is on Friday at the usual place.\nBring ideas.\n\n-- \nalice\n';
    const start = performance.now();
    const out = await sender.deliverPost(post({ body, subject: 'Next meeting' }), target(1), LIST, () => list, {});
    const seconds = (performance.now() - start) / 1000;
    if (out.result !== 'delivered' || accepted !== SUBSCRIBERS)
      throw new Error(`not every recipient was delivered (${accepted} of ${SUBSCRIBERS}): ${JSON.stringify(out)}`);
    return { mode, seconds, perSecond: SUBSCRIBERS / seconds, rssMb: peakRssMb() };
  } finally {
    await sender.close();
    t.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const self = fileURLToPath(import.meta.url);

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  mail: ${s}\n`);
  const sink = await startSmtpSink();
  const results: Result[] = [];
  try {
    const child = async (mode: Mode): Promise<One> => {
      const { stdout } = await promisify(execFile)(process.execPath, [self, '--one', mode, String(sink.port)], {
        maxBuffer: 1 << 20,
      });
      const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as One;
      progress(
        `${mode}: ${Math.round(r.perSecond).toLocaleString('en-US')} recipients/s, ${r.seconds.toFixed(3)} s, peak RSS ${r.rssMb.toFixed(0)} MB`,
      );
      return r;
    };
    const load = loadavg()[0]!;
    for (const mode of ['plain', 'verp'] as const) {
      const runs: One[] = [];
      const ceiling: One[] = [];
      // Interleaved, so both see the same machine.
      for (let i = 0; i < RUNS; i++) {
        runs.push(await child(mode));
        ceiling.push(await child(mode === 'plain' ? 'bare-plain' : 'bare-verp'));
      }
      const label =
        mode === 'plain' ? 'without VERP, 50 recipients per transaction' : 'with VERP, one recipient per transaction';
      results.push(
        summarise(
          `recipients/s, ${label}`,
          'recipients/s',
          runs.map((r) => r.perSecond),
          {
            target: { atLeast: mode === 'plain' ? TARGET_PLAIN : TARGET_VERP },
            ...(mode === 'plain'
              ? {
                  anchor: `Mailman 2: about ${MAILMAN2} recipients/s without VERP; nodemailer alone pooled: about 34,000/s (issue, idle machine)`,
                }
              : { anchor: 'nodemailer alone pooled, one per transaction: about 5,000/s (issue, idle machine)' }),
          },
        ),
      );
      results.push(
        summarise(
          `total time, deliverPost start → last 250, ${label}`,
          's',
          runs.map((r) => r.seconds),
          { digits: 3 },
        ),
      );
      results.push(
        summarise(
          `peak RSS of the sending process, ${label}`,
          'MB',
          runs.map((r) => r.rssMb),
          { digits: 0 },
        ),
      );
      results.push(
        summarise(
          `reference: nodemailer alone (createTransport, sendMail per transaction), pooled, no state, ${mode === 'plain' ? '50 per transaction' : 'one per transaction'}`,
          'recipients/s',
          ceiling.map((r) => r.perSecond),
          {
            ...(mode === 'verp'
              ? {
                  note: `load average when the runs began: ${load.toFixed(1)} on ${availableCores()} cores (other work on the machine lowers both rows alike)`,
                }
              : {}),
          },
        ),
      );
    }
  } finally {
    sink.stop();
  }
  return results;
}

function availableCores(): number {
  return os.availableParallelism();
}

if (process.argv[2] === '--one') {
  const mode = process.argv[3] as Mode;
  const port = Number(process.argv[4]);
  (mode === 'bare-plain' || mode === 'bare-verp'
    ? bare(mode, port)
    : one(mode === 'verp' ? 'verp' : 'plain', port)
  ).then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
} else {
  runWhenMain(import.meta.url, title, run);
}
