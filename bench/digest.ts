/**
 * Digest benchmark (issue 16): a day's digests for 10,000 digest members and 1,000 posts, built and handed to the
 * smarthost (Postfix's smtp-sink on 127.0.0.1). The real daemon (a child process, `peerpost start` with the
 * executable's node flags), one open list with the default digest settings (digest.maxPosts 100, maxBytes 100 KiB,
 * the default smtp: 50 recipients per transaction, 5 pooled connections, no VERP).
 *
 *   npm run bench -- digest      (or: node dist/bench/digest.js)
 *   DIGEST_RUNS=1 node dist/bench/digest.js
 *
 * Set-up, with the daemon stopped: 10,000 subscribers imported with `peerpost subscribers commons import FILE`,
 * then set to digest by the mail plugin's own MemberStore (every tenth plain, RFC 1153; the others MIME).
 *
 * A run: 1,000 posts (about 700 bytes each) mailed to the list over SMTP (nodemailer, 8 connections); each 100th
 * closes a digest (digest.maxPosts), which is rendered once per form and queued for its members; the run ends when
 * the last of the day's 10 digests has been answered 250 by the sink for every member (the queue is empty). Time
 * from the first post sent to then; digest messages per second (one message per member per digest); peak RSS of
 * the daemon (VmHWM); the most bytes of digest messages the queue held at once and the store's files (database +
 * WAL) at their largest, both polled every 20 ms from a read-only connection.
 *
 * The anchor, in the same run and the same daemon: the same 10,000 members set to each post (one UPDATE of their
 * settings rows while the daemon runs), one ordinary post to the list, from the post sent to its delivery done
 * (mail_out_deliveries) — recipients per second of the list's ordinary path, then the members back to digest.
 * Medians of DIGEST_RUNS (3) runs, interleaved with the anchor. Asserts only that every digest reached every member.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createTransport } from 'nodemailer';
import { cli, shebangFlags, startDaemon, world } from '../test/helpers/daemon.js';
import { freePort } from '../test/integration/irc-helpers.js';
import { startSmtpSink } from '../test/integration/mail-send-helpers.js';
import { pluginStore } from '../test/unit/mail-out-ctx.js';
import { Store, STORE_FILE } from '../src/store.js';
import { ListStore } from '../plugins/mail/subscribe.js';
import { MemberStore } from '../plugins/mail/members.js';
import { median, runWhenMain, summarise, type Result } from './lib/result.js';

export const title = "digest: a day's digests, 10,000 digest members and 1,000 posts, through smtp-sink";

const MEMBERS = Number(process.env.DIGEST_MEMBERS ?? 10_000);
const POSTS = Number(process.env.DIGEST_POSTS ?? 1000);
const RUNS = Number(process.env.DIGEST_RUNS ?? 3);
/** digest.maxPosts's default: the day's posts make POSTS / 100 digests. */
const PER_DIGEST = 100;
const DOMAINS = 20;
const ACCOUNT = 'mail.bench';
const D = 'lists.bench.example';

const body = (n: number) =>
  `Post ${n} of the day.\n\n` +
  'A few lines of an ordinary post to the list, about as long as most of them are: a question, an answer,\n'.repeat(6) +
  '\n-- \nbench\n';

function vmHwmMb(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const fileMb = (f: string) => {
  try {
    return statSync(f).size / 2 ** 20;
  } catch {
    return 0;
  }
};

export async function run(): Promise<Result[]> {
  const progress = (s: string) => process.stderr.write(`  digest: ${s}\n`);
  const w = world();
  const sink = await startSmtpSink();
  const port = await freePort();
  w.writeConfig(`
accounts:
  ${ACCOUNT}:
    domain: ${D}
    listen: 127.0.0.1:${port}
    limits: { messages: 0, perClient: 64 }
    smtp: { host: 127.0.0.1, port: ${sink.port}, fromRewrite: never }
bridges:
  commons:
    description: The commons
    endpoints:
      - { endpoint: ${ACCOUNT}/commons, policy: open, owners: [owner@example.org] }
`);
  const dbFile = join(w.data, STORE_FILE);
  let daemon = await startDaemon(w.config, ['--log-level', 'info'], { nodeFlags: shebangFlags() });
  try {
    // The members: imported as an owner would, then set to digest by the plugin's MemberStore (daemon stopped).
    await daemon.stop();
    const addrs = Array.from({ length: MEMBERS }, (_, i) => `member${i}@d${i % DOMAINS}.example.org`);
    writeFileSync(join(w.dir, 'members.txt'), addrs.join('\n') + '\n');
    const imp = await cli(['subscribers', 'commons', 'import', join(w.dir, 'members.txt'), '-c', w.config]);
    if (imp.code !== 0) throw new Error(`import failed: ${imp.stderr}`);
    {
      const store = Store.open(w.data);
      const ps = pluginStore(store);
      new ListStore(ps, ACCOUNT);
      const members = new MemberStore(ps, ACCOUNT);
      store.transaction(() => {
        addrs.forEach((a, i) => {
          const r = members.set('commons', a, { mode: 'digest', digestFormat: i % 10 === 9 ? 'plain' : 'mime' });
          if ('problem' in r) throw new Error(r.problem);
        });
      });
      store.close();
    }
    daemon = await startDaemon(w.config, ['--log-level', 'info'], { nodeFlags: shebangFlags() });
    const pid = daemon.proc.pid!;
    const rssIdle = vmHwmMb(pid);
    const db = new Database(dbFile, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const hasBodies = () =>
      db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mail_out_bodies'`).get() !== undefined;
    const queued = db.prepare('SELECT count(*) AS n, coalesce(sum(length(raw)), 0) AS bytes FROM mail_out_queue');
    const issues = db.prepare(
      `SELECT count(*) AS n, coalesce(sum(recipients), 0) AS r FROM mail_digest_issues WHERE account = ? AND queued_at IS NOT NULL`,
    );
    const lastClosed = db.prepare('SELECT max(closed_at) FROM mail_digest_issues WHERE account = ?').pluck();
    const rw = new Database(dbFile, { fileMustExist: true });
    rw.pragma('busy_timeout = 5000');
    const setMode = rw.prepare(`UPDATE mail_member_settings SET mode = ? WHERE account = ? AND list = 'commons'`);
    // The anchor post's delivery to the list (its post id is its Message-ID).
    const delivery = db.prepare('SELECT done_at, total FROM mail_out_deliveries WHERE post_id = ?');

    const transport = createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: 8,
      maxMessages: Infinity,
    });
    let n = 0;
    const mail = (subject: string, text: string) => ({
      envelope: { from: 'bench@example.org', to: [`commons@${D}`] },
      from: 'Bench <bench@example.org>',
      to: `commons@${D}`,
      subject,
      messageId: `<bench.${n++}.${Date.now()}@example.org>`,
      text,
    });

    const seconds: number[] = [];
    const rates: number[] = [];
    const postsIn: number[] = [];
    /** The day's last digest: from its closing (the 1,000th post) to its last member's 250. */
    const lastDigest: number[] = [];
    const anchorSeconds: number[] = [];
    const anchorRates: number[] = [];
    let peakQueueMb = 0;
    /** What the queue would have held with a copy of the message in every row (as before digests shared one). */
    let peakCopiedMb = 0;
    let peakStoreMb = 0;
    let peakRows = 0;
    let doneIssues = 0;
    let doneRecipients = 0;
    const load = loadavg()[0]!;
    for (let r = 0; r < RUNS; r++) {
      // A day's posts; the digests close and go out as they fill.
      const t0 = performance.now();
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < POSTS; i++) sends.push(transport.sendMail(mail(`Topic ${i % 37}, part ${i}`, body(i))));
      let inDone = 0;
      void Promise.all(sends).then(() => (inDone = performance.now()));
      const want = doneIssues + POSTS / PER_DIGEST;
      for (;;) {
        const q = queued.get() as { n: number; bytes: number };
        const shared = hasBodies()
          ? (db
              .prepare(
                `SELECT (SELECT coalesce(sum(length(raw)), 0) FROM mail_out_bodies) AS b,
                   (SELECT coalesce(sum(length(b.raw)), 0) FROM mail_out_queue q JOIN mail_out_bodies b ON b.id = q.body) AS perRow`,
              )
              .get() as { b: number; perRow: number })
          : { b: 0, perRow: 0 };
        const b = shared.b;
        peakCopiedMb = Math.max(peakCopiedMb, (q.bytes + shared.perRow) / 2 ** 20);
        peakQueueMb = Math.max(peakQueueMb, (q.bytes + b) / 2 ** 20);
        peakRows = Math.max(peakRows, q.n);
        peakStoreMb = Math.max(peakStoreMb, fileMb(dbFile) + fileMb(`${dbFile}-wal`));
        const i = issues.get(ACCOUNT) as { n: number; r: number };
        if (i.n >= want && q.n === 0) {
          doneRecipients = i.r - doneRecipients;
          doneIssues = i.n;
          break;
        }
        if (daemon.proc.exitCode !== null) throw new Error(`the daemon exited:\n${daemon.logs.join('\n')}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      const s = (performance.now() - t0) / 1000;
      lastDigest.push((Date.now() - (lastClosed.get(ACCOUNT) as number)) / 1000);
      await Promise.all(sends);
      const messages = doneRecipients;
      doneRecipients = (issues.get(ACCOUNT) as { r: number }).r;
      if (messages !== (POSTS / PER_DIGEST) * MEMBERS)
        throw new Error(`${messages} digest messages went out, not ${(POSTS / PER_DIGEST) * MEMBERS}`);
      seconds.push(s);
      rates.push(messages / s);
      postsIn.push((inDone - t0) / 1000);
      progress(
        `run ${r + 1}: ${POSTS / PER_DIGEST} digests to ${MEMBERS} members in ${s.toFixed(1)} s (${Math.round(messages / s)} messages/s; the posts were in after ${((inDone - t0) / 1000).toFixed(1)} s), peak RSS ${vmHwmMb(pid).toFixed(0)} MB`,
      );

      // The anchor: the same members, each post, one ordinary post.
      setMode.run('each', ACCOUNT);
      const m = mail('An ordinary post', body(-1));
      const a0 = performance.now();
      await transport.sendMail(m);
      let total = 0;
      for (;;) {
        const row = delivery.get(m.messageId.slice(1, -1)) as { done_at: number | null; total: number } | undefined;
        if (row && row.done_at !== null) {
          total = row.total;
          break;
        }
        if (performance.now() - a0 > 120_000)
          throw new Error(
            `the ordinary post was not delivered within 2 minutes:\n${daemon.logs.slice(-20).join('\n')}`,
          );
        await new Promise((res) => setTimeout(res, 10));
      }
      const as = (performance.now() - a0) / 1000;
      anchorSeconds.push(as);
      anchorRates.push(total / as);
      setMode.run('digest', ACCOUNT);
      progress(`anchor ${r + 1}: one post to ${total} members in ${as.toFixed(2)} s (${Math.round(total / as)}/s)`);
    }
    transport.close();
    const rss = vmHwmMb(pid);
    db.close();
    rw.close();
    const messages = (POSTS / PER_DIGEST) * MEMBERS;
    return [
      {
        ...summarise(
          `${POSTS / PER_DIGEST} digests × ${MEMBERS.toLocaleString('en-US')} members: first post sent → last digest handed off`,
          's',
          seconds,
          { digits: 1 },
        ),
        note: `includes taking the ${POSTS.toLocaleString('en-US')} posts over SMTP (all in after a median ${median(postsIn).toFixed(1)} s); load average ${load.toFixed(1)} when the runs began`,
      },
      {
        ...summarise(
          `the last digest of the day: closed → rendered, queued and handed off to ${MEMBERS.toLocaleString('en-US')} members`,
          'messages/s',
          lastDigest.map((x) => MEMBERS / x),
        ),
        anchor: `${(median(lastDigest.map((x) => MEMBERS / x)) / median(anchorRates)).toFixed(2)}x one ordinary post to the same members`,
        note: `median ${median(lastDigest).toFixed(2)} s (earlier digests may still be going out when it closes)`,
      },
      {
        ...summarise(
          `digest messages handed to smtp-sink (${messages.toLocaleString('en-US')} a day)`,
          'messages/s',
          rates,
        ),
        note: 'over the whole run, so bounded by how fast the posts come in',
      },
      summarise(
        `anchor: one ordinary post to the same ${MEMBERS.toLocaleString('en-US')} members (each)`,
        'recipients/s',
        anchorRates,
        { note: `median ${median(anchorSeconds).toFixed(2)} s from the post sent to its delivery done` },
      ),
      {
        figure: `peak RSS of the daemon after ${RUNS} days' digests`,
        unit: 'MB',
        value: rss,
        digits: 0,
        note: `${rssIdle.toFixed(0)} MB at start with the members loaded; node ${shebangFlags().join(' ')}`,
      },
      {
        figure: 'digest messages in the queue at most (bytes of stored message text)',
        unit: 'MB',
        value: peakQueueMb,
        digits: 2,
        note: `at most ${peakRows} queue rows at once (${MEMBERS.toLocaleString('en-US')} members / 50 per transaction = ${Math.ceil(MEMBERS / 50)} rows a digest and form); a copy in every row would have been ${peakCopiedMb.toFixed(0)} MB`,
      },
      { figure: 'the store (database + WAL) at its largest', unit: 'MB', value: peakStoreMb, digits: 1 },
    ];
  } finally {
    await daemon.stop();
    sink.stop();
    w.cleanup();
  }
}

runWhenMain(import.meta.url, title, run);
