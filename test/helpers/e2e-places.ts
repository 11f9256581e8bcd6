/**
 * More places for the end-to-end tests (see e2e.ts for the shape): a mailing
 * list whose subscribers' mail lands in a real SMTP sink's Maildir (aiosmtpd,
 * test/peers/smtp_maildir.py) and that people mail with Python's smtplib; a
 * group on a real INN 2.7 (test/peers/inn2.sh) that peerpost peers with through
 * an `nntp.inn` account, posted and read with nntplib; and the web plugin's
 * stream, read by a `ws` client.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { simpleParser } from 'mailparser';
import WebSocket from 'ws';
import {
  freePort,
  nntplib,
  articleText,
  decodeWords,
  sleep,
  type Node,
  type Place,
  type Said,
  type Seen,
  type NewsArticle,
} from './e2e.js';
import { ensureAiosmtpd, SMTP_MAILDIR_PY } from '../integration/mail-send-helpers.js';
import { pySend, rfc822 } from '../integration/mail-helpers.js';
import { ensureInn, INN2_SH } from '../integration/nntp-helpers.js';

// ── mail: a list, its subscribers, an SMTP sink ─────────────────────────────

/**
 * aiosmtpd through test/peers/smtp_maildir.py, on a port that stays the same
 * across a stop and a start (the script listens on port 0; this wrapper binds
 * the port it is given instead), writing to the same Maildir each time.
 */
const SINK_AT_PORT = String.raw`
import asyncio.base_events as be, runpy, sys
port = int(sys.argv.pop(1))
orig = be.BaseEventLoop.create_server
async def at_port(self, factory, host=None, p=None, **kw):
    return await orig(self, factory, host, port, **kw)
be.BaseEventLoop.create_server = at_port
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
`;

export interface Mail extends Seen {
  /** Every recipient of the transaction it came in (X-RcptTo). */
  to: string[];
  /** The raw message. */
  raw: string;
  headers: Map<string, string>;
}

export class MailPlace implements Place {
  sink: ChildProcess | undefined;
  readonly dir: string;
  readonly subscribers: string[];
  private said = new Set<string>();
  constructor(
    readonly name: string,
    readonly account: string,
    readonly target: string,
    readonly domain: string,
    readonly port: number,
    readonly sinkPort: number,
    subscribers: string[],
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'pp-e2e-mail-'));
    this.subscribers = subscribers;
  }

  static async make(
    name: string,
    account: string,
    list: string,
    domain: string,
    subscribers: string[],
  ): Promise<MailPlace> {
    ensureAiosmtpd();
    const p = new MailPlace(name, account, list, domain, await freePort(), await freePort(), subscribers);
    await p.up();
    return p;
  }

  get address(): string {
    return `${this.target}@${this.domain}`;
  }

  /** Start the SMTP sink (again) on its port and Maildir. */
  async up(): Promise<void> {
    const child = spawn('/usr/bin/python3', ['-c', SINK_AT_PORT, String(this.sinkPort), SMTP_MAILDIR_PY, this.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the SMTP sink did not start in 10 s: ${stderr}`)), 10_000);
      createInterface({ input: child.stdout! }).once('line', (l) => {
        clearTimeout(t);
        if (Number(l) === this.sinkPort) resolve();
        else reject(new Error(`the SMTP sink listens on ${l}, not ${this.sinkPort}`));
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`the SMTP sink exited (${code}): ${stderr}`));
      });
    });
    this.sink = child;
  }

  /** Stop the SMTP sink (SIGTERM, and wait for it). */
  async down(): Promise<void> {
    const c = this.sink;
    this.sink = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGTERM');
    });
  }

  accountConfig(): Record<string, unknown> {
    return {
      domain: this.domain,
      listen: `127.0.0.1:${this.port}`,
      limits: { exempt: ['127.0.0.1'] },
      smtp: { host: '127.0.0.1', port: this.sinkPort, fromRewrite: 'never', timeout: '5s' },
    };
  }

  endpointOptions(): Record<string, unknown> {
    return { policy: 'open' };
  }

  /** Subscribe the three (or however many) subscribers, by the command line (no confirmation). */
  async subscribe(node: Node): Promise<void> {
    const r = await node.cli(['subscribers', this.target, 'add', ...this.subscribers]);
    assert.equal(r.code, 0, `peerpost subscribers add: ${r.stdout}${r.stderr}`);
  }

  /** Mail to the list with smtplib; rejects unless the answer is 250 (with the code on the error). */
  async say(s: Said): Promise<void> {
    const r = await this.send(s);
    if (r.code !== 250)
      throw Object.assign(new Error(`the list answered ${r.code} ${r.message}`), { code: String(r.code) });
  }

  /** Mail to the list with smtplib; the server's answer. */
  send(s: Said): ReturnType<typeof pySend> {
    const from = `${s.from ?? 'mallory'}@mail.example`;
    if (s.id) this.said.add(s.id);
    const raw = rfc822(
      [
        `From: ${s.from ?? 'mallory'} <${from}>`,
        `To: ${this.address}`,
        `Subject: ${s.subject ?? 'a note'}`,
        `Date: ${new Date().toUTCString()}`,
        `Message-ID: <${s.id ?? `${Date.now()}.${Math.random().toString(36).slice(2)}@mail.example`}>`,
        ...(s.references?.length
          ? [`In-Reply-To: <${s.references.at(-1)}>`, `References: ${s.references.map((r) => `<${r}>`).join(' ')}`]
          : []),
        'Content-Type: text/plain; charset=utf-8',
      ],
      s.text,
    );
    return pySend(this.port, from, [this.address], raw);
  }

  /** Every message in the Maildir, parsed, oldest first. */
  async mails(): Promise<Mail[]> {
    const dir = join(this.dir, 'Maildir', 'new');
    if (!existsSync(dir)) return [];
    const out: Mail[] = [];
    // Names are TIME.PID_N: in the order the sink took them (by time, then by its counter; a restart is seconds later).
    const order = (f: string) => f.split(/[._]/).map(Number);
    const files = readdirSync(dir).sort((x, y) => order(x)[0]! - order(y)[0]! || order(x)[2]! - order(y)[2]!);
    for (const f of files) {
      const raw = readFileSync(join(dir, f), 'utf8');
      const m = await simpleParser(raw);
      const h = new Map<string, string>();
      for (const l of m.headerLines)
        h.set(
          l.key,
          l.line
            .slice(l.line.indexOf(':') + 1)
            .replace(/\r?\n[ \t]+/g, ' ')
            .trim(),
        );
      const refs = m.references === undefined ? [] : Array.isArray(m.references) ? m.references : [m.references];
      out.push({
        raw,
        to: (h.get('x-rcptto') ?? '')
          .split(',')
          .map((x) => x.trim().toLowerCase())
          .filter(Boolean),
        headers: h,
        id: (m.messageId ?? '').replace(/^<|>$/g, ''),
        subject: m.subject ?? '',
        from: m.from?.text ?? '',
        references: refs
          .flatMap((r) => r.split(/\s+/))
          .filter(Boolean)
          .map((r) => r.replace(/^<|>$/g, '')),
        text: (m.text ?? '').replace(/\r\n/g, '\n'),
      });
    }
    return out;
  }

  /** What one subscriber received. */
  async inbox(address: string): Promise<Mail[]> {
    return (await this.mails()).filter((m) => m.to.includes(address.toLowerCase()));
  }

  /** What the first subscriber received (every subscriber: inbox()). */
  async received(): Promise<Seen[]> {
    return this.inbox(this.subscribers[0]!);
  }

  close(): void {}

  async cleanup(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ── news: a group on INN, peered ────────────────────────────────────────────

/** A private INN 2.7 on 127.0.0.1 with one group, which can be stopped and started again on its port and spool. */
export class InnPlace implements Place {
  pid = 0;
  readonly dir: string;
  pollInterval = '250ms';
  /** More keys of the account block (e.g. `maxBackoff`). */
  extra: Record<string, unknown> = {};
  constructor(
    readonly name: string,
    readonly account: string,
    readonly target: string,
    readonly port: number,
  ) {
    this.dir = mkdtempSync('/tmp/pp-e2e-inn.');
  }

  static async make(name: string, account: string, group: string): Promise<InnPlace> {
    ensureInn();
    const p = new InnPlace(name, account, group, await freePort());
    const out = execFileSync('bash', [INN2_SH, 'start', String(p.port), p.dir, group], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
    p.pid = Number(out.trim().split('\n').pop());
    assert.ok(p.pid > 0, `inn2.sh start printed no pid: ${out}`);
    return p;
  }

  /**
   * Stop innd (ctlinnd shutdown), keeping its spool, and the nnrpd processes it started for open reader
   * connections: they outlive innd and would go on taking POSTs (spooling them), so INN would not be down for a
   * client that stayed connected. Only processes of this INN (INNCONF naming this dir) are ended, by pid.
   */
  down(): void {
    execFileSync('bash', [INN2_SH, 'stop', String(this.pid), this.dir], { stdio: 'ignore' });
    this.pid = 0;
    const mine = `INNCONF=${this.dir}/etc/inn.conf`;
    for (const pid of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nnrpd')) continue;
        if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(mine)) continue;
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone already, or not ours to read */
      }
    }
  }

  /**
   * The texts of the articles nnrpd spooled while innd was down (answered 240, fed in by `rnews -U` when
   * innd came back, so they appear after the articles posted meanwhile), as up() found them.
   */
  readonly spooled: string[] = [];

  /** The article files waiting in spool/incoming (rnews -U's work), not its temporary or bad ones. */
  private spoolFiles(): string[] {
    const d = join(this.dir, 'spool', 'incoming');
    if (!existsSync(d)) return [];
    return readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => join(d, e.name));
  }

  /** Start innd again on the same port and spool (what inn2.sh start does last, without making a new spool). */
  async up(): Promise<void> {
    const child = spawn(
      'setpriv',
      [
        '--reuid=news',
        '--regid=news',
        '--init-groups',
        'env',
        `INNCONF=${this.dir}/etc/inn.conf`,
        '/usr/lib/news/bin/innd',
        '-f',
        '-c',
        '0',
      ],
      { stdio: 'ignore', detached: true },
    );
    child.unref();
    this.pid = child.pid!;
    for (let i = 0; i < 100; i++) {
      const [r] = await nntplib(this.port, [['welcome']], 5000);
      if (r?.ok) {
        // A POST that reached nnrpd while innd was going down was answered 240 and spooled to
        // spool/incoming; a real INN feeds those in later (rnews -U, from news.daily). Do it now.
        // Those articles reach the group after whatever was posted since innd came back: INN's
        // order, not the sender's (nnrpd's 240 for a spooled article is the same as for a stored one).
        this.spooled.push(...this.spoolFiles().map((f) => readFileSync(f, 'utf8')));
        execFileSync(
          'setpriv',
          [
            '--reuid=news',
            '--regid=news',
            '--init-groups',
            'env',
            `INNCONF=${this.dir}/etc/inn.conf`,
            '/usr/lib/news/bin/rnews',
            '-U',
          ],
          { stdio: 'ignore' },
        );
        return;
      }
      await sleep(100);
    }
    throw new Error(`innd did not come back on ${this.port} (logs in ${this.dir}/log)`);
  }

  accountConfig(): Record<string, unknown> {
    return { server: `127.0.0.1:${this.port}`, pollInterval: this.pollInterval, ...this.extra };
  }

  async say(s: Said): Promise<void> {
    const [r] = await nntplib(this.port, [['post', articleText(s, this.target)]]);
    if (!r?.ok) throw Object.assign(new Error(`INN refused the POST: ${r?.error}`), { code: r?.code });
  }

  /** Every article in the INN group (what was said there too), with its body. */
  async articles(): Promise<NewsArticle[]> {
    const [g, over] = await nntplib(this.port, [
      ['group', this.target],
      ['over', '1-'],
    ]);
    assert.ok(g?.ok, `GROUP ${this.target} on INN: ${g?.error}`);
    if (!over?.ok || g!.value[1] === 0) return [];
    const rows = over.value as [number, Record<string, string>][];
    const res = await nntplib(this.port, [['group', this.target], ...rows.map(([n]) => ['article', String(n)])]);
    return rows.map(([n, o], k) => {
      const r = res[k + 1];
      assert.ok(r?.ok, `ARTICLE ${n} on INN: ${r?.error}`);
      const lines = r!.value.lines as string[];
      const blank = lines.indexOf('');
      const head = lines.slice(0, blank).join('\n');
      return {
        number: n,
        id: o['message-id']!.replace(/^<|>$/g, ''),
        subject: decodeWords(o.subject!),
        from: decodeWords(o.from!),
        references: (o.references ?? '')
          .split(/\s+/)
          .filter(Boolean)
          .map((x) => x.replace(/^<|>$/g, '')),
        kind: /^X-Peerpost-Kind: (.*)$/im.exec(head)?.[1] ?? '',
        text: lines.slice(blank + 1).join('\n'),
      };
    });
  }

  received(): Promise<Seen[]> {
    return this.articles();
  }

  close(): void {}

  cleanup(): void {
    if (this.pid) this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ── web: the stream ─────────────────────────────────────────────────────────

export interface StreamPost extends Seen {
  seq: number;
  kind: string;
  origin: { account: string; target: string };
}

/** The web plugin's live stream of one bridge (the target is the bridge's name on the web), read from the start. */
export class WebPlace implements Place {
  ws: WebSocket | undefined;
  /** Every post the stream sent, digests included, in the order sent. */
  readonly posts: StreamPost[] = [];
  /** Every other message (hello, live). */
  readonly control: any[] = [];
  constructor(
    readonly name: string,
    readonly account: string,
    readonly target: string,
    readonly port: number,
  ) {}

  static async make(name: string, account: string, bridge: string): Promise<WebPlace> {
    return new WebPlace(name, account, bridge, await freePort());
  }

  accountConfig(): Record<string, unknown> {
    return { listen: `127.0.0.1:${this.port}` };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Open the stream from the start (since=0). */
  async connect(): Promise<this> {
    const ws = new WebSocket(
      `ws://127.0.0.1:${this.port}/api/stream?bridge=${encodeURIComponent(this.target)}&since=0`,
    );
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.type === 'post') {
        const p = m.post;
        this.posts.push({
          seq: p.seq,
          kind: p.kind,
          origin: p.origin,
          id: p.id,
          from: p.author?.name,
          subject: p.subject,
          references: p.references ?? [],
          text: p.body,
        });
      } else this.control.push(m);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    this.ws = ws;
    return this;
  }

  async say(): Promise<void> {
    throw new Error('the e2e web place only listens');
  }

  /** The posts seen on the stream, digests left out (a digest retells lines the stream showed already). */
  async received(): Promise<Seen[]> {
    return this.posts.filter((p) => p.kind !== 'digest');
  }

  /** GET a path of the web account (e.g. /metrics). */
  async get(path: string): Promise<{ status: number; text: string }> {
    const r = await fetch(`${this.url}${path}`);
    return { status: r.status, text: await r.text() };
  }

  close(): void {
    this.ws?.close();
  }
}
