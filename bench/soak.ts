/**
 * Soak benchmark (issue 19): the whole daemon (`peerpost start`, a child
 * process, as test/e2e runs it) under a mixed load from real peers for a long
 * time, sampled every 10 s, to show whether memory, file descriptors, the WAL,
 * the outbox and latency stay flat.
 *
 *   npm run bench -- soak --smoke          3 minutes, scaled down (below)
 *   npm run bench -- soak --minutes=30     the figures' run
 *   node dist/bench/soak.js --minutes=30   the same, without bench/run.ts
 *
 * Options: --minutes=N, --rate=POSTS_PER_S, --burst=N, --burst-every=SECONDS,
 * --clients=N (WebSocket), --subscribers=N, --warmup=MINUTES (left out of the slopes).
 * Full run (default): 50 posts/s, a burst of 500 every 5 min, 200 clients, 1,000
 * subscribers, 5 min warm-up. Smoke: 3 min, 20 posts/s, bursts of 200 every 60 s,
 * 50 clients, 1,000 subscribers, 1 min warm-up.
 *
 * The world (test/helpers/e2e.ts and e2e-places.ts): two ngircd networks with a
 * person in #commons on each, the built-in news server (groups peerpost.commons
 * and peerpost.list), a group on a private INN 2.7 peered by `nntp.inn`, a
 * finger plan, the web (API and stream), and a mailing list of SUBSCRIBERS
 * whose mail goes to Postfix's smtp-sink (dumping each transaction to a file).
 * Two bridges: `commons` (both channels, both news groups' commons, finger,
 * web) and `list` (the mailing list and peerpost.list), so that the list's
 * 1,000-fold fan-out does not multiply the whole load.
 *
 * Load, shares of the rate: IRC lines on network A 20 % and on B 20 % (they
 * reach the other network, the web, finger, and both groups as digests closed
 * every 100 lines), NNTP POST to the built-in server 24 %, web API posts 24 %,
 * POSTs to INN 10 % (peered in by polling), mail to the list by SMTP 2 % (each
 * to every subscriber); a finger query every 2 s. Bursts: half web API posts (16
 * at a time), half NNTP POSTs on 4 connections, as fast as taken.
 *
 * Sampled every 10 s: the daemon's RSS and VmHWM (/proc/PID/status), open fds
 * (/proc/PID/fd), V8 heap used and external memory, event-loop lag p99 and
 * outbox depth (the web's /metrics), store file and WAL size, and ingest→deliver
 * p99 of the posts that arrived in those 10 s at the IRC people, the first WebSocket
 * client and smtp-sink (sent time → seen time). Written to bench/soak/soak-DATE-RUN.csv
 * and .svg; the summary's slopes are least squares over the rows after warm-up,
 * per 10 minutes.
 *
 * At the end, with the load stopped and the outbox drained, every post is counted
 * at the peers: each IRC network (the relay's lines), both peerpost.commons groups
 * (OVER subjects, digest bodies) and INN's, peerpost.list, every subscriber at
 * smtp-sink, and every WebSocket client (client 0 by token, the others by count
 * and seq order). Nothing asserts time; a missing or repeated post is a figure.
 */
import { Worker } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { createTransport } from 'nodemailer';
import { shebangFlags, startDaemon, type Running } from '../test/helpers/daemon.js';
import {
  articleText,
  decodeWords,
  ensurePeers,
  FingerPlace,
  freePort,
  NewsPlace,
  nntplib,
  Node,
  sleep,
  TwoNetworks,
  type IrcPlace,
} from '../test/helpers/e2e.js';
import { InnPlace, WebPlace } from '../test/helpers/e2e-places.js';
import { startDumpingSink, type DumpingSink } from '../test/integration/mail-send-helpers.js';
import { rawQuery } from '../test/peers/finger.js';
import { percentile, runWhenMain, type Result } from './lib/result.js';
import { slope, svgPlot, toCsv, type Row } from './lib/series.js';

export const title = 'soak: the whole daemon under mixed load, sampled every 10 s';
/** Runs only when named (`npm run bench -- soak`), never as part of a plain `npm run bench`. */
export const onlyWhenNamed = true;

const here = dirname(fileURLToPath(import.meta.url));
/** dist/bench → bench/soak in the source tree. */
const OUT_DIR = join(here, '..', '..', 'bench', 'soak');
const WORKER = join(here, 'lib', 'soak-clients.js');

const CHANNEL = '#commons';
const GROUP = 'peerpost.commons';
const LIST_GROUP = 'peerpost.list';
const LIST_DOMAIN = 'lists.soak.example';
const WEB_TOKEN = 'soak-bench-token-0123456789abcdef';
/** A token: SK, the source letter, six digits. */
const TOKEN_RE = '\\bSK[abnwim]\\d{6}\\b';
const tokensIn = (s: string) => s.match(new RegExp(TOKEN_RE, 'g')) ?? [];
const tok = (src: string, n: number) => `SK${src}${String(n).padStart(6, '0')}`;

type Source = 'a' | 'b' | 'n' | 'w' | 'i' | 'm';
const SHARES: Record<Source, number> = { a: 0.2, b: 0.2, n: 0.24, w: 0.24, i: 0.1, m: 0.02 };
const COMMONS: Source[] = ['a', 'b', 'n', 'w', 'i'];

export interface SoakOptions {
  minutes: number;
  rate: number;
  burst: number;
  burstEveryS: number;
  clients: number;
  subscribers: number;
  warmupS: number;
  sampleS: number;
  smoke: boolean;
}

export function soakOptions(argv: readonly string[]): SoakOptions {
  const smoke = argv.includes('--smoke');
  const o: SoakOptions = smoke
    ? {
        minutes: 3,
        rate: 20,
        burst: 200,
        burstEveryS: 60,
        clients: 50,
        subscribers: 1000,
        warmupS: 60,
        sampleS: 10,
        smoke,
      }
    : {
        minutes: 30,
        rate: 50,
        burst: 500,
        burstEveryS: 300,
        clients: 200,
        subscribers: 1000,
        warmupS: 300,
        sampleS: 10,
        smoke,
      };
  const num = (name: string) => {
    const a = argv.find((x) => x.startsWith(`--${name}=`));
    if (a === undefined) return undefined;
    const v = Number(a.slice(name.length + 3));
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} wants a number, not ${a.slice(name.length + 3)}`);
    return v;
  };
  o.minutes = num('minutes') ?? o.minutes;
  o.rate = num('rate') ?? o.rate;
  o.burst = num('burst') ?? o.burst;
  o.burstEveryS = num('burst-every') ?? o.burstEveryS;
  o.clients = Math.max(1, Math.round(num('clients') ?? o.clients));
  o.subscribers = Math.max(1, Math.round(num('subscribers') ?? o.subscribers));
  const w = num('warmup');
  if (w !== undefined) o.warmupS = w * 60;
  return o;
}

// ── a raw NNTP poster (one connection, one POST after another) ──────────────

class NntpPoster {
  private sock!: Socket;
  private buf = '';
  private lines: string[] = [];
  private wait: ((l: string) => void) | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  pending = 0;

  static async open(port: number): Promise<NntpPoster> {
    const p = new NntpPoster();
    p.sock = connect(port, '127.0.0.1');
    p.sock.setEncoding('utf8');
    p.sock.on('data', (d: string) => {
      p.buf += d;
      let i: number;
      while ((i = p.buf.indexOf('\r\n')) >= 0) {
        const l = p.buf.slice(0, i);
        p.buf = p.buf.slice(i + 2);
        if (p.wait) {
          const w = p.wait;
          p.wait = undefined;
          w(l);
        } else p.lines.push(l);
      }
    });
    p.sock.on('error', () => {});
    p.sock.on('close', () => p.wait?.('closed'));
    await new Promise<void>((r, j) => {
      p.sock.once('connect', () => r());
      p.sock.once('error', j);
    });
    const hello = await p.line();
    if (!/^20[01]/.test(hello)) throw new Error(`NNTP greeting: ${hello}`);
    p.sock.write('MODE READER\r\n');
    await p.line();
    return p;
  }

  private line(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((r) => (this.wait = r));
  }

  /** POST an article (CRLF text); resolves with the final answer line ("240 ..." when taken). */
  post(article: string): Promise<string> {
    this.pending++;
    const p = this.chain.then(async () => {
      this.sock.write('POST\r\n');
      const go = await this.line();
      if (!go.startsWith('340')) return go;
      const stuffed = article.replace(/\r\n\./g, '\r\n..');
      this.sock.write(`${stuffed.endsWith('\r\n') ? stuffed : `${stuffed}\r\n`}.\r\n`);
      return this.line();
    });
    this.chain = p.finally(() => this.pending--);
    return p;
  }

  close(): void {
    this.sock.end('QUIT\r\n');
  }
}

// ── helpers ─────────────────────────────────────────────────────────────────

function procStatus(pid: number): { rssMb: number; hwmMb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** CPU seconds the process has used (user + system), from /proc/PID/stat (clock ticks of 1/100 s on Linux). */
function procCpuS(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15: utime, stime
}

/** The machine's 1-minute load average: how much else ran beside the daemon. */
const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

const fileMb = (f: string) => (existsSync(f) ? statSync(f).size / 1048576 : 0);

/** The sample values of /metrics we read, by metric name (labels summed). */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of text.split('\n')) {
    if (!l || l.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0];
    const v = Number(l.slice(l.lastIndexOf(' ') + 1));
    if (name && Number.isFinite(v)) m.set(name, (m.get(name) ?? 0) + v);
  }
  return m;
}

/** Tokens at a news group: in subjects (OVER), and in digest bodies (ARTICLE of each digest). */
async function groupTokens(port: number, group: string): Promise<string[]> {
  const [g, over] = await nntplib(
    port,
    [
      ['group', group],
      ['over', '1-'],
    ],
    600_000,
  );
  if (!g?.ok) throw new Error(`GROUP ${group} on port ${port}: ${g?.error}`);
  if (!over?.ok) return [];
  const rows = over.value as [number, Record<string, string>][];
  const out: string[] = [];
  const digests: number[] = [];
  for (const [n, o] of rows) {
    const subject = decodeWords(o.subject ?? '');
    if (/conversation, /.test(subject)) digests.push(n);
    else out.push(...tokensIn(subject));
  }
  for (let i = 0; i < digests.length; i += 200) {
    const chunk = digests.slice(i, i + 200);
    const res = await nntplib(port, [['group', group], ...chunk.map((n) => ['article', String(n)])], 600_000);
    chunk.forEach((n, k) => {
      const r = res[k + 1];
      if (!r?.ok) throw new Error(`ARTICLE ${n} of ${group}: ${r?.error}`);
      const lines = r.value.lines as string[];
      out.push(...tokensIn(lines.slice(lines.indexOf('') + 1).join('\n')));
    });
  }
  return out;
}

/** Missing (0×), repeated (>1×) and unexpected tokens at a place. */
function tally(place: string, seen: Iterable<string>, expected: Set<string>) {
  const c = new Map<string, number>();
  for (const t of seen) c.set(t, (c.get(t) ?? 0) + 1);
  let missing = 0;
  let repeated = 0;
  let unexpected = 0;
  const examples: string[] = [];
  for (const t of expected) {
    const n = c.get(t) ?? 0;
    if (n === 0) missing++;
    if (n > 1) repeated++;
    if (n !== 1 && examples.length < 5) examples.push(`${t}×${n}`);
  }
  for (const [t] of c)
    if (!expected.has(t)) {
      unexpected++;
      if (examples.length < 5) examples.push(`${t} unexpected`);
    }
  return { place, expected: expected.size, missing, repeated, unexpected, examples };
}

type Tally = ReturnType<typeof tally>;

// ── the run ─────────────────────────────────────────────────────────────────

export async function run(): Promise<Result[]> {
  const o = soakOptions(process.argv.slice(2));
  const durationMs = o.minutes * 60_000;
  const log = (s: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
  log(
    `${o.smoke ? 'smoke: ' : ''}${o.minutes} min, ${o.rate} posts/s, bursts of ${o.burst} every ${o.burstEveryS} s, ${o.clients} WebSocket clients, ${o.subscribers} subscribers`,
  );

  ensurePeers();
  const cleanups: (() => unknown)[] = [];
  let running: Running | undefined;
  let worker: Worker | undefined;
  let tornDown = false;
  /** Stop the daemon, then the peers (also on Ctrl-C: none is left running). */
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    await worker?.terminate();
    if (running) await running.stop('SIGTERM');
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        process.stderr.write(`cleanup: ${(err as Error).message}\n`);
      }
    }
  };
  const interrupted = () => {
    log('interrupted: stopping the daemon and the peers');
    void teardown().then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    // The peers.
    const nets = await TwoNetworks.start('soak', CHANNEL);
    cleanups.push(() => nets.cleanup());
    cleanups.push(() => nets.close());
    const { ircA, ircB } = nets;
    const news = await NewsPlace.make('news', 'nntp.local', GROUP);
    const inn = await InnPlace.make('inn', 'nntp.inn', GROUP);
    cleanups.push(() => inn.cleanup());
    const plan = await FingerPlace.make('finger', 'finger.local', 'commons');
    const web = await WebPlace.make('web', 'web.local', 'commons');
    const sink: DumpingSink = await startDumpingSink();
    cleanups.push(() => rmSync(sink.dir, { recursive: true, force: true }));
    cleanups.push(() => sink.stop());
    const listPort = await freePort();

    // One node; its config from the places (test/helpers/e2e.ts), then the list bridge and the web's token.
    const node = new Node({
      hostname: 'soak.bench.example',
      bridge: 'commons',
      places: [ircA, ircB, news, inn, plan, web],
      quiet: '5s',
      maxLines: 100,
    });
    cleanups.push(() => node.cleanup());
    const cfg = parse(readFileSync(node.config, 'utf8'));
    cfg.accounts['web.local'].tokens = [{ name: 'soak', token: WEB_TOKEN, bridges: ['*'] }];
    cfg.accounts['mail.lists'] = {
      domain: LIST_DOMAIN,
      listen: `127.0.0.1:${listPort}`,
      limits: { exempt: ['127.0.0.1'] },
      smtp: { host: '127.0.0.1', port: sink.port, fromRewrite: 'never', timeout: '10s' },
    };
    cfg.bridges.list = {
      description: 'The mailing list of the soak',
      endpoints: [{ endpoint: 'mail.lists/commons', policy: 'open' }, `nntp.local/${LIST_GROUP}`],
    };
    writeFileSync(node.config, stringify(cfg));

    // SOAK_NODE_FLAGS: more node flags for the daemon, after the executable's (e.g. "--cpu-prof --cpu-prof-dir=DIR
    // --cpu-prof-interval=5000" for a profile of the whole run, written when the daemon stops).
    const nodeFlags = [...shebangFlags(), ...(process.env.SOAK_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)];
    const flags = nodeFlags.join(' ');
    running = await startDaemon(node.config, ['--log-level', 'info'], { nodeFlags });
    node.running = running;
    const pid = running.proc.pid!;
    await running.waitForLog(/first look at peerpost\.commons/, 30_000);
    const subs = Array.from({ length: o.subscribers }, (_, i) => `s${i}@sub.soak.example`);
    const added = await node.cli(['subscribers', 'commons', 'add', ...subs]);
    if (added.code !== 0) throw new Error(`peerpost subscribers add: ${added.stdout}${added.stderr}`);
    await ircA.relayJoined();
    await ircB.relayJoined();
    log(`daemon up (pid ${pid}, node ${flags || 'without flags'}); peers ready`);

    // What was sent (token → ms), and what arrived where.
    const sentAt = new Map<string, number>();
    const accepted: Record<Source, Set<string>> = {
      a: new Set(),
      b: new Set(),
      n: new Set(),
      w: new Set(),
      i: new Set(),
      m: new Set(),
    };
    const refused: string[] = [];
    /** Tokens numbered per source (steady and burst); `steady` counts the steady load's own, for its pace. */
    const count: Record<Source, number> = { a: 0, b: 0, n: 0, w: 0, i: 0, m: 0 };
    const steady: Record<Source, number> = { a: 0, b: 0, n: 0, w: 0, i: 0, m: 0 };
    const seen = { ircA: [] as string[], ircB: [] as string[], web0: [] as string[] };
    /** Latencies (ms) of the current window and of the whole run, per kind of peer. */
    type Kind = 'irc' | 'web' | 'mail';
    const KINDS: Kind[] = ['irc', 'web', 'mail'];
    let windowLat: Record<Kind, number[]> = { irc: [], web: [], mail: [] };
    const allLat: Record<Kind, number[]> = { irc: [], web: [], mail: [] };
    /**
     * Per kind of peer and source of the post: when sent (ms) and latency (ms), for the halves by source. Two flat
     * arrays of numbers, not a pair per arrival: the mail's 1.8 million arrivals of a 30-minute run as pairs were
     * ~115 MB of this process's heap, and its collections' pauses delayed the arrivals it timed.
     */
    const bySource = new Map<string, { at: number[]; lat: number[] }>();
    const arrived = (k: Kind, t: string, at: number) => {
      // Posts to INN come in by peerpost polling it (pollInterval): their time is INN's and the poll's, not ours.
      const s = t[2] === 'i' ? undefined : sentAt.get(t);
      if (s === undefined) return;
      windowLat[k].push(at - s);
      allLat[k].push(at - s);
      const key = `${k} ${t[2]}`;
      let xs = bySource.get(key);
      if (!xs) bySource.set(key, (xs = { at: [], lat: [] }));
      xs.at.push(s);
      xs.lat.push(at - s);
    };
    const listen = (place: IrcPlace, into: string[]) => {
      const prefix = `:${place.relayNick}!`;
      place.user!.onLine = (l) => {
        if (!l.startsWith(prefix) || !l.includes(' PRIVMSG ')) return;
        const at = Date.now();
        for (const t of tokensIn(l.slice(l.indexOf(' :', 1) + 2))) {
          into.push(t);
          arrived('irc', t, at);
        }
      };
    };
    listen(ircA, seen.ircA);
    listen(ircB, seen.ircB);

    // 200 WebSocket clients in a worker thread.
    worker = new Worker(WORKER, {
      workerData: { port: web.port, clients: o.clients, bridge: 'commons', tokenRe: TOKEN_RE },
    });
    let finalClients: { posts: number; digests: number; repeats: number; closed: boolean }[] | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      worker!.on('message', (m: { ready?: boolean; arrivals?: [string, number][]; final?: typeof finalClients }) => {
        if (m.ready) resolve();
        if (m.arrivals)
          for (const [t, at] of m.arrivals) {
            seen.web0.push(t);
            arrived('web', t, at);
          }
        if (m.final) finalClients = m.final;
      });
      worker!.once('error', reject);
    });
    await ready;
    log(`${o.clients} WebSocket clients live`);

    // The mail sink: new transaction files, read once they are 2 s old (whole), then deleted. A list with
    // unsubscribe links sends one transaction per subscriber: 1,000 files per list post, 1.8 million in 30 min.
    // Kept, they made each scan (a readdir of them all, every 10 s) stall this process longer and longer, and
    // the IRC and web arrivals it timed meanwhile looked later and later (the p99 "growth" of the first runs).
    const mailDir = join(sink.dir, 'mail');
    const mailCounts = new Map<string, Uint8Array>();
    let mailStray = 0;
    const scanMail = (all: boolean) => {
      const now = Date.now();
      for (const f of readdirSync(mailDir)) {
        const p = join(mailDir, f);
        const st = statSync(p);
        if (!all && now - st.mtimeMs < 2000) continue;
        const text = readFileSync(p, 'utf8');
        // smtp-sink writes the envelope at RCPT and the message at DATA: no Subject yet, read it again later.
        const subject = /^Subject: (.*)$/m.exec(text)?.[1];
        if (subject === undefined) continue;
        unlinkSync(p);
        const ts = tokensIn(subject);
        if (ts.length === 0) continue; // a welcome or other robot mail
        const rcpts = [...text.matchAll(/^X-Rcpt-Args: <s(\d+)@sub\.soak\.example>/gm)].map((m) => Number(m[1]));
        for (const t of ts) {
          let c = mailCounts.get(t);
          if (!c) mailCounts.set(t, (c = new Uint8Array(o.subscribers)));
          for (const r of rcpts)
            if (r < o.subscribers) c[r]!++;
            else mailStray++;
          arrived('mail', t, st.mtimeMs);
        }
      }
    };

    // The drivers.
    const nntp = await NntpPoster.open(news.port);
    const innPoster = await NntpPoster.open(inn.port);
    const burstNntp = await Promise.all([0, 1, 2, 3].map(() => NntpPoster.open(news.port)));
    const smtp = createTransport({
      host: '127.0.0.1',
      port: listPort,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: 1,
      maxMessages: Infinity,
    });
    cleanups.push(() => {
      smtp.close();
      for (const p of [nntp, innPoster, ...burstNntp]) p.close();
    });
    /** Sends and queries not answered yet, with what they are. */
    const inflight = new Map<Promise<unknown>, string>();
    const track = (p: Promise<unknown>, what: string) => {
      inflight.set(p, what);
      void p.finally(() => inflight.delete(p));
    };
    const body = 'A post of the soak, a few lines long, as a person writes one.\n\nSecond paragraph.\n';
    const article = (t: string, src: Source, group: string) =>
      articleText(
        {
          from: src === 'i' ? 'ivan' : 'carol',
          subject: `${t} a note`,
          id: `soak.${t.toLowerCase()}@reader.example`,
          text: body,
        },
        group,
      );
    const newsAnswer = (t: string, src: Source, r: string) => {
      if (r.startsWith('240')) accepted[src].add(t);
      else refused.push(`${t}: ${r}`);
    };
    const webPost = async (t: string) => {
      const r = await fetch(`${web.url}/api/bridges/commons/posts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${WEB_TOKEN}` },
        body: JSON.stringify({ from: 'walt', subject: `${t} from the web`, body }),
      }).catch((e: Error) => ({ status: 0, text: async () => e.message }));
      if (r.status === 201) accepted.w.add(t);
      else refused.push(`${t}: ${r.status} ${await r.text()}`);
    };
    const fire = (src: Source, burstPoster?: NntpPoster) => {
      const t = tok(src, ++count[src]);
      sentAt.set(t, Date.now());
      switch (src) {
        case 'a':
          ircA.user!.send(`PRIVMSG ${CHANNEL} :${t} a line on network A, said by alice`);
          accepted.a.add(t);
          return;
        case 'b':
          ircB.user!.send(`PRIVMSG ${CHANNEL} :${t} a line on network B, said by bob`);
          accepted.b.add(t);
          return;
        case 'n':
          return track(
            (burstPoster ?? nntp).post(article(t, 'n', GROUP)).then((r) => newsAnswer(t, 'n', r)),
            `NNTP POST ${t}`,
          );
        case 'i':
          return track(
            innPoster.post(article(t, 'i', GROUP)).then((r) => newsAnswer(t, 'i', r)),
            `INN POST ${t}`,
          );
        case 'w':
          return track(webPost(t), `web API post ${t}`);
        case 'm':
          return track(
            smtp
              .sendMail({
                envelope: { from: 'mallory@mail.soak.example', to: [`commons@${LIST_DOMAIN}`] },
                from: 'Mallory <mallory@mail.soak.example>',
                to: `commons@${LIST_DOMAIN}`,
                subject: `${t} to the list`,
                messageId: `<soak.${t.toLowerCase()}@mail.soak.example>`,
                text: body,
              })
              .then(
                (info) => (/^250 /.test(info.response) ? accepted.m.add(t) : refused.push(`${t}: ${info.response}`)),
                (e: Error) => refused.push(`${t}: ${e.message}`),
              ),
            `mail ${t}`,
          );
      }
    };
    const burst = async () => {
      const half = Math.floor(o.burst / 2);
      const webJobs = Array.from({ length: o.burst - half }, () => {
        const t = tok('w', ++count.w);
        sentAt.set(t, Date.now());
        return t;
      });
      const workers = Array.from({ length: 16 }, async () => {
        for (let t = webJobs.shift(); t; t = webJobs.shift()) await webPost(t);
      });
      for (let k = 0; k < half; k++) fire('n', burstNntp[k % burstNntp.length]);
      await Promise.all(workers);
    };

    // Sampling: /metrics every 2 s (outbox depth for the bursts), a row every sampleS.
    const t0 = Date.now();
    const secs = () => (Date.now() - t0) / 1000;
    // The bench's own event loop: an arrival is timed when this process reads it, so a late read shows here.
    const benchLag = monitorEventLoopDelay({ resolution: 10 });
    benchLag.enable();
    let lastMetrics = new Map<string, number>();
    const outboxSeries: [number, number][] = [];
    const getMetrics = async () => {
      try {
        const r = await fetch(`${web.url}/metrics`);
        lastMetrics = parseMetrics(await r.text());
        // No sample of the family: no endpoint has anything waiting.
        if (!lastMetrics.has('peerpost_outbox_pending')) lastMetrics.set('peerpost_outbox_pending', 0);
        outboxSeries.push([secs(), lastMetrics.get('peerpost_outbox_pending')!]);
      } catch {
        /* a slow answer under load: the next poll */
      }
    };
    const rows: Row[] = [];
    const db = join(node.data, 'peerpost.db');
    let cpuBefore = procCpuS(pid);
    let sentBefore = 0;
    const sample = () => {
      scanMail(false);
      const p = procStatus(pid);
      // The daemon's CPU per post sent in this window: a cost growing with the store shows here, the machine's
      // other work does not (it shows in load1 and in the latencies).
      const cpu = procCpuS(pid);
      const sentNow = Object.values(count).reduce((s, x) => s + x, 0);
      const cpuMsPerPost = sentNow > sentBefore ? ((cpu - cpuBefore) * 1000) / (sentNow - sentBefore) : NaN;
      cpuBefore = cpu;
      sentBefore = sentNow;
      // The largest outbox depth the 2 s polls saw in this window (a burst's peak, not one instant).
      const polled = outboxSeries.filter(([t]) => t > secs() - o.sampleS).map(([, d]) => d);
      const windowOutbox = polled.length ? Math.max(...polled) : NaN;
      const lat = windowLat;
      windowLat = { irc: [], web: [], mail: [] };
      const p99 = (k: Kind) =>
        lat[k].length
          ? percentile(
              lat[k].sort((x, y) => x - y),
              99,
            )
          : NaN;
      const m = lastMetrics;
      const mb = (k: string) => (m.get(k) ?? NaN) / 1048576;
      rows.push({
        t_s: Math.round(secs()),
        rss_mb: p.rssMb,
        vmhwm_mb: p.hwmMb,
        heap_used_mb: mb('nodejs_heap_size_used_bytes'),
        heap_total_mb: mb('nodejs_heap_size_total_bytes'),
        external_mb: mb('nodejs_external_memory_bytes'),
        array_buffers_mb: mb('nodejs_array_buffers_bytes'),
        fds: readdirSync(`/proc/${pid}/fd`).length,
        lag_p99_ms: (m.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
        lag_max_ms: (m.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
        outbox_max: windowOutbox,
        store_mb: fileMb(db),
        wal_mb: fileMb(`${db}-wal`),
        irc_p99_ms: p99('irc'),
        web_p99_ms: p99('web'),
        mail_p99_ms: p99('mail'),
        arrivals: KINDS.reduce((n, k) => n + lat[k].length, 0),
        sent: sentNow,
        cpu_ms_per_post: cpuMsPerPost,
        bench_lag_p99_ms: benchLag.percentile(99) / 1e6,
        bench_lag_max_ms: benchLag.max / 1e6,
        load1: load1(),
      });
      benchLag.reset();
      const r = rows[rows.length - 1]!;
      log(
        `t=${r.t_s}s rss=${r.rss_mb!.toFixed(1)} heap=${r.heap_used_mb!.toFixed(1)} ext=${r.external_mb!.toFixed(1)} fds=${r.fds} lag99=${r.lag_p99_ms!.toFixed(1)}ms lagmax=${r.lag_max_ms!.toFixed(0)}ms outbox=${r.outbox_max} wal=${r.wal_mb!.toFixed(1)} p99 irc/web/mail=${r.irc_p99_ms!.toFixed(0)}/${r.web_p99_ms!.toFixed(0)}/${r.mail_p99_ms!.toFixed(0)}ms bench-lag99/max=${r.bench_lag_p99_ms!.toFixed(1)}/${r.bench_lag_max_ms!.toFixed(0)}ms cpu/post=${r.cpu_ms_per_post!.toFixed(2)}ms load=${r.load1} sent=${r.sent}`,
      );
      // The daemon's log lines are kept by the helper; keep the last few only.
      if (running!.logs.length > 2000) running!.logs.splice(0, running!.logs.length - 500);
    };

    // The load.
    const bursts: number[] = [];
    let fingerOk = 0;
    let fingerFailed = 0;
    let nextBurst = o.burstEveryS > 0 && o.burst > 0 ? o.burstEveryS : Infinity;
    let nextSample = o.sampleS;
    let nextFinger = 2;
    let nextMetrics = 0;
    let behind = 0;
    log('load on');
    while (Date.now() - t0 < durationMs) {
      const s = secs();
      for (const src of Object.keys(SHARES) as Source[]) {
        const due = Math.floor(o.rate * SHARES[src] * s);
        while (steady[src] < due) {
          steady[src]++;
          fire(src);
        }
      }
      behind = Math.max(behind, inflight.size);
      if (s >= nextBurst && s < o.minutes * 60 - 10) {
        bursts.push(s);
        log(`burst of ${o.burst}`);
        track(burst(), 'a burst');
        nextBurst += o.burstEveryS;
      }
      if (s >= nextFinger) {
        nextFinger += 2;
        track(
          rawQuery(plan.port, `/W commons\r\n`).then(
            (t) => (/newest first/.test(t) ? fingerOk++ : fingerFailed++),
            () => fingerFailed++,
          ),
          'finger query',
        );
      }
      if (s >= nextMetrics) {
        nextMetrics += 2;
        track(getMetrics(), 'GET /metrics');
      }
      if (s >= nextSample) {
        nextSample += o.sampleS;
        sample();
      }
      await sleep(50);
    }
    log(
      `load off after ${secs().toFixed(0)} s; ${Object.values(count).reduce((a, b) => a + b, 0)} posts sent; draining`,
    );

    // Drain: every answer in, the outbox empty, the last digest closed (quiet 5 s), the outbox empty again.
    let giveUp: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      Promise.all([...inflight.keys()]).then(() => true),
      new Promise<false>((r) => (giveUp = setTimeout(() => r(false), 120_000))),
    ]);
    clearTimeout(giveUp);
    if (!answered) {
      const left = [...inflight.values()];
      log(`${left.length} sends still unanswered after 120 s: ${left.slice(0, 10).join(', ')}`);
      refused.push(...left.map((w) => `${w}: no answer`));
    }
    const drained = async (what: string, ms: number) => {
      const end = Date.now() + ms;
      for (;;) {
        await getMetrics();
        if ((lastMetrics.get('peerpost_outbox_pending') ?? 1) === 0) return;
        if (Date.now() > end) {
          log(`outbox not empty after ${ms / 1000} s (${what}): ${lastMetrics.get('peerpost_outbox_pending')}`);
          return;
        }
        await sleep(500);
      }
    };
    await drained('load', 300_000);
    const drainS = secs() - o.minutes * 60;
    await sleep(8000);
    await drained('last digest', 60_000);
    await sleep(3000);
    sample();

    // Count at the peers.
    worker.postMessage({ report: true });
    for (let i = 0; i < 100 && !finalClients; i++) await sleep(100);
    scanMail(true);
    const commons = new Set(COMMONS.flatMap((s) => [...accepted[s]]));
    const without = (src: Source) => new Set([...commons].filter((t) => !t.startsWith(`SK${src}`)));
    const tallies: Tally[] = [
      tally('IRC network A (relay lines)', seen.ircA, without('a')),
      tally('IRC network B (relay lines)', seen.ircB, without('b')),
      tally(`built-in ${GROUP}`, await groupTokens(news.port, GROUP), commons),
      tally(`INN ${GROUP}`, await groupTokens(inn.port, GROUP), commons),
      tally('WebSocket client 0', seen.web0, commons),
      tally(`built-in ${LIST_GROUP}`, await groupTokens(news.port, LIST_GROUP), accepted.m),
    ];
    // Every subscriber's copy of every list post.
    {
      let missing = 0;
      let repeated = 0;
      const examples: string[] = [];
      for (const t of accepted.m) {
        const c = mailCounts.get(t);
        for (let r = 0; r < o.subscribers; r++) {
          const n = c?.[r] ?? 0;
          if (n === 0) missing++;
          if (n > 1) repeated++;
          if (n !== 1 && examples.length < 5) examples.push(`${t} to s${r}×${n}`);
        }
      }
      const unexpected = [...mailCounts.keys()].filter((t) => !accepted.m.has(t)).length + mailStray;
      tallies.push({
        place: `smtp-sink: ${o.subscribers} subscribers × list posts`,
        expected: accepted.m.size * o.subscribers,
        missing,
        repeated,
        unexpected,
        examples,
      });
    }
    // The other WebSocket clients: as many posts as client 0, no seq twice, none cut.
    const c0 = finalClients?.[0];
    const otherBad = (finalClients ?? []).filter((c) => c.posts !== c0?.posts || c.repeats > 0 || c.closed).length;

    // Write the CSV and the plot.
    const stamp = new Date(t0).toISOString().slice(0, 10);
    // --no-write (bench/run.ts: leave the checkout alone): the CSV and the plot go to the temporary directory.
    const outDir = process.argv.includes('--no-write') ? join(tmpdir(), 'peerpost-soak') : OUT_DIR;
    const shown = outDir === OUT_DIR ? 'bench/soak' : outDir;
    const base = join(outDir, `soak-${stamp}-${o.smoke ? 'smoke' : `${o.minutes}min`}`);
    mkdirSync(outDir, { recursive: true });
    const columns = Object.keys(rows[0] ?? {});
    writeFileSync(`${base}.csv`, toCsv(columns, rows));
    writeFileSync(
      `${base}.svg`,
      svgPlot(
        `peerpost soak ${stamp}: ${o.minutes} min, ${o.rate} posts/s, bursts of ${o.burst} (red), warm-up shaded`,
        rows,
        't_s',
        [
          { column: 'rss_mb', label: 'RSS (MB)' },
          { column: 'heap_used_mb', label: 'V8 heap used (MB)' },
          { column: 'external_mb', label: 'external memory (MB)' },
          { column: 'fds', label: 'open file descriptors' },
          { column: 'lag_p99_ms', label: 'event-loop lag p99 (ms)' },
          { column: 'lag_max_ms', label: 'event-loop lag, longest (ms)' },
          { column: 'outbox_max', label: 'outbox depth, largest of the 2 s polls' },
          { column: 'store_mb', label: 'store file (MB)' },
          { column: 'wal_mb', label: 'WAL (MB)' },
          { column: 'irc_p99_ms', label: 'ingest → IRC p99 (ms)' },
          { column: 'web_p99_ms', label: 'ingest → WebSocket p99 (ms)' },
          { column: 'mail_p99_ms', label: 'ingest → smtp-sink (1,000 subscribers) p99 (ms)' },
          { column: 'vmhwm_mb', label: 'VmHWM, peak RSS (MB)' },
          { column: 'cpu_ms_per_post', label: 'daemon CPU per post sent (ms)' },
          { column: 'bench_lag_p99_ms', label: "the bench's own event-loop lag p99 (ms)" },
          { column: 'bench_lag_max_ms', label: "the bench's own event-loop lag, longest (ms)" },
          { column: 'load1', label: 'machine load average (1 min)' },
        ],
        { warmupS: o.warmupS, bursts },
      ),
    );
    log(`wrote ${base}.csv and .svg`);

    // The figures.
    const after = rows.filter((r) => r.t_s! >= o.warmupS && r.t_s! <= o.minutes * 60);
    const per10 = (col: string) =>
      slope(
        after.map((r) => r.t_s! / 600),
        after.map((r) => r[col]!),
      );
    const halves = (col: string) => {
      const h = after.length >> 1;
      const med = (xs: Row[]) => {
        const v = xs
          .map((r) => r[col]!)
          .filter(Number.isFinite)
          .sort((a, b) => a - b);
        return v.length ? v[v.length >> 1]! : NaN;
      };
      return [med(after.slice(0, h)), med(after.slice(h))] as const;
    };
    // After each burst: how long until the outbox depth is back at (or under) its depth before the burst.
    const burstBack = bursts.map((b) => {
      const pre = [...outboxSeries].reverse().find(([t]) => t <= b)?.[1] ?? 0;
      const later = outboxSeries.filter(([t]) => t > b);
      const peak = Math.max(pre, ...later.filter(([t]) => t < b + o.burstEveryS).map(([, d]) => d));
      const back = later.find(([t, d]) => d <= Math.max(pre, 0) && t > b + 1);
      return { at: b, pre, peak, backS: back ? back[0] - b : NaN };
    });
    const lag = halves('lag_p99_ms');
    for (const k of KINDS) allLat[k].sort((a, b) => a - b);
    // By the source of the post, the first and second half after warm-up (by when it was sent): which path grows.
    const mid = t0 + ((o.warmupS + o.minutes * 60) / 2) * 1000;
    const SOURCE_NAMES: Record<string, string> = { a: 'IRC A', b: 'IRC B', n: 'NNTP', w: 'web API', m: 'mail' };
    const sourceNote = (k: Kind) =>
      [...bySource]
        .filter(([key]) => key.startsWith(`${k} `))
        .map(([key, { at: ats, lat }]) => {
          const inRun = ats.flatMap((at, i): [number, number][] =>
            at >= t0 + o.warmupS * 1000 && at <= t0 + o.minutes * 60_000 ? [[at, lat[i]!]] : [],
          );
          const p = (ys: number[]) =>
            ys.length
              ? percentile(
                  ys.sort((a, b) => a - b),
                  99,
                ).toFixed(0)
              : '-';
          const first = inRun.filter(([at]) => at < mid).map(([, l]) => l);
          const second = inRun.filter(([at]) => at >= mid).map(([, l]) => l);
          return `from ${SOURCE_NAMES[key.slice(-1)] ?? key.slice(-1)} ${p(first)} / ${p(second)} ms`;
        })
        .join(', ');
    const latFigures = KINDS.flatMap((k): Result[] => {
      const [first, second] = halves(`${k}_p99_ms`);
      return [
        {
          figure: `ingest→${k} p99, median of the 10 s windows of the second half`,
          unit: 'ms',
          value: second,
          note: `first half ${first.toFixed(0)} ms; the whole run's p99 ${percentile(allLat[k], 99).toFixed(0)} ms over ${allLat[k].length} arrivals; p99 by source, first / second half: ${sourceNote(k)}`,
        },
      ];
    });
    const wal = after.map((r) => r.wal_mb!).filter(Number.isFinite);
    const problems = tallies.reduce((s, t) => s + t.missing + t.repeated + t.unexpected, 0);
    const run = [
      `${o.smoke ? 'smoke ' : ''}run of ${o.minutes} min: ${o.rate} posts/s (IRC A/B ${SHARES.a * 100}/${SHARES.b * 100} %, NNTP ${SHARES.n * 100} %, web API ${SHARES.w * 100} %, INN ${SHARES.i * 100} %, mail ${SHARES.m * 100} %), bursts of ${o.burst} every ${o.burstEveryS} s (at ${bursts.map((b) => b.toFixed(0)).join(', ')} s), ${o.clients} WebSocket clients, ${o.subscribers} subscribers; the daemon's node flags: ${flags || 'none'}; slopes over ${after.length} rows after a ${o.warmupS / 60} min warm-up`,
      `sent ${Object.entries(count)
        .map(([k, v]) => `${k}:${v}`)
        .join(
          ' ',
        )}; refused ${refused.length}${refused.length ? ` (${refused.slice(0, 3).join('; ')})` : ''}; most sends in flight at once ${behind}; drained ${drainS.toFixed(0)} s after the load stopped`,
      `finger: ${fingerOk} queries answered, ${fingerFailed} failed`,
      `CSV and plot: ${shown}/${base.slice(outDir.length + 1)}.csv, .svg`,
    ];
    const counted = [
      ...tallies.map(
        (t) =>
          `${t.place}: ${t.expected} expected, ${t.missing} missing, ${t.repeated} repeated, ${t.unexpected} unexpected${t.examples.length ? ` (${t.examples.join(', ')})` : ''}`,
      ),
      `WebSocket clients: client 0 got ${c0?.posts} posts and ${c0?.digests} digests; ${otherBad} of ${finalClients?.length ?? 0} clients differ from it, saw a seq twice or were cut`,
    ];
    const burstNote = burstBack
      .map(
        (b) =>
          `at ${b.at.toFixed(0)} s outbox ${b.pre}→${b.peak}, back in ${Number.isFinite(b.backS) ? `${b.backS.toFixed(0)} s` : 'never (within the run)'}`,
      )
      .join('; ');
    for (const l of [...run, ...counted, `bursts: ${burstNote}`]) log(l);
    const rss = after.map((r) => r.rss_mb!).filter(Number.isFinite);
    const last = rows[rows.length - 1]!;
    return [
      {
        figure: 'RSS slope after warm-up',
        unit: 'MB/10 min',
        value: per10('rss_mb'),
        target: { atMost: 1 },
        note: run.join('; '),
      },
      {
        figure: 'RSS slope over the second half',
        unit: 'MB/10 min',
        value: slope(
          after.slice(after.length >> 1).map((r) => r.t_s! / 600),
          after.slice(after.length >> 1).map((r) => r.rss_mb!),
        ),
        note: `RSS after warm-up between ${Math.min(...rss).toFixed(1)} and ${Math.max(...rss).toFixed(1)} MB`,
      },
      {
        figure: 'V8 heap used slope after warm-up',
        unit: 'MB/10 min',
        value: per10('heap_used_mb'),
        target: { atMost: 1 },
      },
      { figure: 'external memory slope after warm-up', unit: 'MB/10 min', value: per10('external_mb') },
      { figure: 'open fds slope after warm-up', unit: 'fds/10 min', value: per10('fds') },
      { figure: 'WAL size slope after warm-up', unit: 'MB/10 min', value: per10('wal_mb') },
      { figure: 'WAL size, largest after warm-up', unit: 'MB', value: Math.max(...wal) },
      { figure: 'store file at the end', unit: 'MB', value: last.store_mb! },
      { figure: 'RSS at the end', unit: 'MB', value: last.rss_mb! },
      { figure: 'peak RSS (VmHWM)', unit: 'MB', value: last.vmhwm_mb! },
      { figure: 'heap used at the end', unit: 'MB', value: last.heap_used_mb! },
      {
        figure: 'bursts whose outbox was back at its pre-burst depth before the next',
        unit: `of ${bursts.length}`,
        value: burstBack.filter((b) => Number.isFinite(b.backS)).length,
        target: { atLeast: bursts.length },
        note: burstNote,
      },
      ...latFigures,
      {
        figure: 'event-loop lag p99, median of the 10 s windows of the second half',
        unit: 'ms',
        value: lag[1],
        note: `first half ${lag[0].toFixed(1)} ms; the bench's own event loop (where arrivals are timed), p99 median of the windows, first / second half: ${halves(
          'bench_lag_p99_ms',
        )
          .map((x) => x.toFixed(1))
          .join(' / ')} ms, its longest stall, median of the windows, first / second half: ${halves('bench_lag_max_ms')
          .map((x) => x.toFixed(0))
          .join(' / ')} ms (a stall of the bench delays the arrivals it times: latencies are as good as this)`,
      },
      {
        figure: "the daemon's CPU per post sent, median of the 10 s windows of the second half",
        unit: 'ms',
        value: halves('cpu_ms_per_post')[1],
        note: `first half ${halves('cpu_ms_per_post')[0].toFixed(2)} ms; slope after warm-up ${per10('cpu_ms_per_post').toFixed(3)} ms per 10 min (a cost growing with the store would show here); machine load average, median ${halves(
          'load1',
        )
          .map((x) => x.toFixed(1))
          .join(' / ')} (first / second half)`,
      },
      {
        figure: 'posts sent (acknowledged)',
        unit: 'posts',
        value: Object.values(accepted).reduce((s, x) => s + x.size, 0),
      },
      {
        figure: 'deliveries missing, repeated or unexpected at the peers',
        unit: 'count',
        value: problems + otherBad,
        target: { atMost: 0 },
        note: counted.join('; '),
      },
    ];
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await teardown();
  }
}

runWhenMain(import.meta.url, title, run);
