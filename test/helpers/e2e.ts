/**
 * The end-to-end tests' world: real peers on 127.0.0.1 as *places* a post can
 * be made in and seen at, one config builder, and peerpost nodes that can be
 * killed and restarted.
 *
 * A place is one endpoint of a bridge as its people see it: an IRC channel
 * (a real ngircd and a raw IRC user in the channel), the built-in newsgroup
 * (Python's nntplib), a finger plan (a finger query on a socket). Each place
 * knows the account block and the endpoint it adds to the config, how to say
 * something there, and what it received there through peerpost. Mail (an SMTP
 * sink with subscribers), INN and the web stream are more places of the same
 * shape, added when their plugins land.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import Database from 'better-sqlite3';
import { cli, startDaemon, sleep, type Result, type Running } from './daemon.js';
import { ensureNgircd, freePort, startIrcd, stopIrcd, User, type Ircd } from '../integration/irc-helpers.js';
import { ensureFingerPeers, rawQuery } from '../peers/finger.js';
import { requirePeer } from '../peers/require.js';

export { freePort, sleep };

const NNTP_CLIENT = fileURLToPath(new URL('../../../test/peers/nntp_client.py', import.meta.url));

/** Every peer the e2e tests drive is there (installed as root, else an error with the command). */
export function ensurePeers(): void {
  ensureNgircd();
  ensureFingerPeers();
  // Python 3 with nntplib (in the standard library up to 3.12) for test/peers/nntp_client.py.
  requirePeer('python3');
}

// ── what places say and show ────────────────────────────────────────────────

/** Something said at a place. Article places use subject, id and references; chat places only the text. */
export interface Said {
  text: string;
  from?: string;
  subject?: string;
  /** Message-ID without <> (articles). */
  id?: string;
  references?: string[];
}

/** Something a place shows that came through peerpost. */
export interface Seen {
  text: string;
  from?: string;
  subject?: string;
  id?: string;
  references?: string[];
}

export interface Place {
  /** A short name for messages: "irc.a", "news", "finger". */
  readonly name: string;
  /** The account, `protocol.instance`. */
  readonly account: string;
  /** The endpoint's target inside the account. */
  readonly target: string;
  /** The account's block in the config. */
  accountConfig(): Record<string, unknown>;
  /** Endpoint options beside `endpoint:` (none by default). */
  endpointOptions?(): Record<string, unknown>;
  /** Say something here, as a person would. Rejects with the peer's refusal. */
  say(s: Said): Promise<void>;
  /** What this place shows that came through peerpost (not what was said here). */
  received(): Promise<Seen[]>;
  close(): void;
}

/** The tokens (`PREFIX-x-0001`) in some texts, with how often each occurs. */
export function tokenCounts(texts: string[], prefix: string): Map<string, number> {
  const re = new RegExp(`\\b${prefix}-[a-z]+-\\d{4}\\b`, 'g');
  const m = new Map<string, number>();
  for (const t of texts) for (const x of t.match(re) ?? []) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** The tokens in some texts, in the order they occur. */
export function tokensInOrder(texts: string[], prefix: string): string[] {
  const re = new RegExp(`\\b${prefix}-[a-z]+-\\d{4}\\b`, 'g');
  return texts.flatMap((t) => t.match(re) ?? []);
}

/** A token: PREFIX-source-0001. */
export const token = (prefix: string, source: string, n: number) => `${prefix}-${source}-${String(n).padStart(4, '0')}`;

// ── IRC ─────────────────────────────────────────────────────────────────────

/** One ngircd network on 127.0.0.1 (penalties off), which can be stopped and started again on its port. */
export class IrcNetwork {
  ircd: Ircd | undefined;
  readonly dir: string;
  constructor(
    readonly name: string,
    readonly port: number,
  ) {
    this.dir = mkdtempSync(join('/tmp', `pp-e2e-ircd-${name}-`));
    chmodSync(this.dir, 0o755);
  }
  static async start(name: string): Promise<IrcNetwork> {
    ensureNgircd();
    const n = new IrcNetwork(name, await freePort());
    n.up();
    return n;
  }
  up(): void {
    this.ircd = startIrcd(this.port, this.dir, '0', `${this.name}.e2e.local`);
  }
  down(): void {
    stopIrcd(this.ircd);
    this.ircd = undefined;
  }
  cleanup(): void {
    if (this.ircd) this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A channel on one network: peerpost's relay (the account) and a person in the channel (a raw client). */
export class IrcPlace implements Place {
  user: User | undefined;
  /** Lines a person saw in earlier connections (kept across a reconnect). */
  private earlier: string[] = [];
  /** The relay's reconnect backoff (`reconnect:` of the account). */
  reconnect = { first: '300ms', max: '1s' };
  /** More keys of the account block (e.g. `relays`). */
  extra: Record<string, unknown> = {};
  constructor(
    readonly name: string,
    readonly net: IrcNetwork,
    readonly account: string,
    readonly target: string,
    readonly relayNick: string,
    readonly personNick: string,
  ) {}

  accountConfig(): Record<string, unknown> {
    return {
      host: '127.0.0.1',
      port: this.net.port,
      tls: false,
      nick: this.relayNick,
      flood: { burst: 20, interval: '2ms' },
      reconnect: this.reconnect,
      ...this.extra,
    };
  }

  async connect(): Promise<this> {
    if (this.user) this.earlier.push(...this.user.said(this.relayNick, this.target));
    this.user?.close();
    this.user = await new User(this.personNick).connect(this.net.port, this.target);
    return this;
  }

  /** Resolves once peerpost's relay is in the channel (from the person's view; a JOIN seen now or before). */
  async relayJoined(timeoutMs = 20_000): Promise<void> {
    const joined = (l: string) => l.startsWith(`:${this.relayNick}!`) && / JOIN :?#/.test(l);
    const names = (l: string) => / 353 /.test(l) && new RegExp(`[ :@+]${this.relayNick}( |$)`).test(l);
    await this.user!.waitFor((l) => joined(l) || names(l), `${this.relayNick} in ${this.target}`, timeoutMs);
  }

  /** Wait until the relay JOINs again (after a restart), counting JOINs from now. */
  async relayRejoined(timeoutMs = 20_000): Promise<void> {
    const before = this.user!.lines.length;
    for (const t0 = Date.now(); ; await sleep(25)) {
      if (this.user!.lines.slice(before).some((l) => l.startsWith(`:${this.relayNick}!`) && / JOIN :?#/.test(l)))
        return;
      if (Date.now() - t0 > timeoutMs)
        throw new Error(`${this.relayNick} did not come back to ${this.target} within ${timeoutMs} ms`);
    }
  }

  async say(s: Said): Promise<void> {
    this.user!.send(`PRIVMSG ${this.target} :${s.text}`);
  }

  /** The relay's lines in the channel, as text. */
  lines(): string[] {
    return [...this.earlier, ...(this.user?.said(this.relayNick, this.target) ?? [])].map((l) =>
      l.slice(l.indexOf(' :', 1) + 2),
    );
  }

  async received(): Promise<Seen[]> {
    return this.lines().map((text) => ({ text }));
  }

  close(): void {
    this.user?.close();
  }
}

// ── news: the built-in server ───────────────────────────────────────────────

type Op = (string | number)[];
/**
 * Two IRC networks (two ngircd), each with the relay's account and one person in
 * `channel`: irc.a (relay_a, alice on A) and irc.b (relay_b, bob on B).
 * `beforeB` may adjust B's place (its reconnect timing) before it connects.
 */
export class TwoNetworks {
  private constructor(
    readonly netA: IrcNetwork,
    readonly netB: IrcNetwork,
    readonly ircA: IrcPlace,
    readonly ircB: IrcPlace,
  ) {}

  static async start(tag: string, channel: string, beforeB?: (b: IrcPlace) => void): Promise<TwoNetworks> {
    const netA = await IrcNetwork.start(`${tag}a`);
    const netB = await IrcNetwork.start(`${tag}b`);
    const ircA = await new IrcPlace('irc.a', netA, 'irc.a', channel, 'relay_a', 'alice').connect();
    const ircB = new IrcPlace('irc.b', netB, 'irc.b', channel, 'relay_b', 'bob');
    beforeB?.(ircB);
    await ircB.connect();
    return new TwoNetworks(netA, netB, ircA, ircB);
  }

  /** The people leave (before the daemon stops). */
  close(): void {
    this.ircA.close();
    this.ircB.close();
  }

  /** The servers go (after the daemon stopped). */
  cleanup(): void {
    this.netA.cleanup();
    this.netB.cleanup();
  }
}

export interface OpResult {
  ok: boolean;
  value?: any;
  code?: string;
  error?: string;
}

/** Run operations on one nntplib connection; one result per operation (a connection failure ends the list). */
export function nntplib(port: number, ops: Op[], timeoutMs = 60_000): Promise<OpResult[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', [NNTP_CLIENT, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      try {
        resolve(JSON.parse(out));
      } catch {
        // No JSON: the connection itself failed (refused while peerpost is down, reset by a kill).
        resolve([
          {
            ok: false,
            code: 'connect',
            error: `nntp_client.py exited ${code}: ${err.trim().split('\n').pop() ?? ''}${out}`,
          },
        ]);
      }
    });
    p.stdin.end(JSON.stringify(ops));
  });
}

/** An article as nntplib posts it. */
export function articleText(s: Said, group: string): string {
  const h = [
    `From: ${s.from ?? 'carol'} <${s.from ?? 'carol'}@reader.example>`,
    `Newsgroups: ${group}`,
    `Subject: ${s.subject ?? 'a note'}`,
    ...(s.id ? [`Message-ID: <${s.id}>`] : []),
    ...(s.references?.length ? [`References: ${s.references.map((r) => `<${r}>`).join(' ')}`] : []),
  ];
  return `${h.join('\r\n')}\r\n\r\n${s.text}\r\n`;
}

/** Undo RFC 2047 encoded words (what OVER shows for a Subject or From that is not ASCII). */
export function decodeWords(h: string): string {
  return h
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_m, _cs: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(
            text
              .replace(/_/g, ' ')
              .replace(/=([0-9A-Fa-f]{2})/g, (_x, hex: string) => String.fromCharCode(parseInt(hex, 16))),
            'latin1',
          ).toString('utf8'),
    );
}

export interface NewsArticle extends Seen {
  number: number;
  id: string;
  subject: string;
  references: string[];
  from: string;
  kind: string;
}

export class NewsPlace implements Place {
  constructor(
    readonly name: string,
    readonly account: string,
    readonly target: string,
    readonly port: number,
  ) {}

  static async make(name: string, account: string, group: string): Promise<NewsPlace> {
    return new NewsPlace(name, account, group, await freePort());
  }

  accountConfig(): Record<string, unknown> {
    return { listen: `127.0.0.1:${this.port}` };
  }

  /** POST one article; rejects with the server's answer when it is not 240. */
  async say(s: Said): Promise<void> {
    const [r] = await nntplib(this.port, [['post', articleText(s, this.target)]]);
    if (!r?.ok) throw Object.assign(new Error(`POST refused: ${r?.error}`), { code: r?.code });
  }

  /** POST several articles on one connection; one result each (fewer when the connection broke). */
  postMany(list: Said[]): Promise<OpResult[]> {
    return nntplib(
      this.port,
      list.map((s) => ['post', articleText(s, this.target)]),
    );
  }

  /** Every article of the group, with its body. */
  async articles(): Promise<NewsArticle[]> {
    const [g, over] = await nntplib(this.port, [
      ['group', this.target],
      ['over', '1-'],
    ]);
    assert.ok(g?.ok, `GROUP ${this.target}: ${g?.error}`);
    if (!over?.ok) return [];
    const rows = over.value as [number, Record<string, string>][];
    const out: NewsArticle[] = [];
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500);
      const res = await nntplib(this.port, [['group', this.target], ...chunk.map(([n]) => ['article', String(n)])]);
      chunk.forEach(([n, o], k) => {
        const r = res[k + 1];
        assert.ok(r?.ok, `ARTICLE ${n}: ${r?.error}`);
        const lines = r!.value.lines as string[];
        const blank = lines.indexOf('');
        const head = lines.slice(0, blank);
        const kind = /^X-Peerpost-Kind: (.*)$/im.exec(head.join('\n'))?.[1] ?? '';
        out.push({
          number: n,
          id: o['message-id']!.replace(/^<|>$/g, ''),
          subject: decodeWords(o.subject!),
          from: decodeWords(o.from!),
          references: (o.references ?? '')
            .split(/\s+/)
            .filter(Boolean)
            .map((x) => x.replace(/^<|>$/g, '')),
          kind,
          text: lines.slice(blank + 1).join('\n'),
        });
      });
    }
    return out;
  }

  async received(): Promise<Seen[]> {
    return this.articles();
  }

  close(): void {}
}

// ── finger: a served plan ───────────────────────────────────────────────────

export class FingerPlace implements Place {
  constructor(
    readonly name: string,
    readonly account: string,
    readonly target: string,
    readonly port: number,
  ) {}

  static async make(name: string, account: string, plan: string): Promise<FingerPlace> {
    ensureFingerPeers();
    return new FingerPlace(name, account, plan, await freePort());
  }

  accountConfig(): Record<string, unknown> {
    return { listen: `127.0.0.1:${this.port}`, verbosePosts: 1000, rateLimit: { queries: 0 } };
  }

  async say(): Promise<void> {
    throw new Error('a served finger plan takes no posts');
  }

  /** The verbose plan (`finger -l plan@host` sends `/W plan`), as the raw answer. */
  plan(): Promise<string> {
    return rawQuery(this.port, `/W ${this.target}\r\n`);
  }

  /** The posts of the verbose plan: a head line "2026-11-27 14:02:09  alice via irc", then indented Subject and first line. */
  async received(): Promise<Seen[]> {
    const text = await this.plan();
    const lines = text.split('\r\n');
    const start = lines.findIndex((l) => /newest first/.test(l));
    const out: Seen[] = [];
    for (const l of lines.slice(start + 1)) {
      const head = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}(\S+)/.exec(l);
      if (head) {
        out.push({ from: head[1]!, text: '' });
        continue;
      }
      const cur = out[out.length - 1];
      if (!cur || !l.startsWith('    ')) continue;
      const sub = /^ {4}Subject: (.*)$/.exec(l);
      if (sub) cur.subject = sub[1]!;
      else cur.text += (cur.text ? '\n' : '') + l.slice(4);
    }
    return out;
  }

  close(): void {}
}

// ── config and nodes ────────────────────────────────────────────────────────

export interface NodeOptions {
  hostname: string;
  bridge: string;
  places: Place[];
  /** Digest quiet time (chat → news). */
  quiet?: string;
  /** digest.settle: each node's turn where several write digests to one place. */
  settle?: string;
  maxLines?: number;
  /** More top-level config (merged over the defaults). */
  extra?: Record<string, unknown>;
}

/** The whole config of one node, from its places. */
export function buildConfig(o: NodeOptions, data: string): string {
  const accounts: Record<string, unknown> = {};
  for (const p of o.places) accounts[p.account] = p.accountConfig();
  const cfg = {
    node: { hostname: o.hostname, data },
    delivery: { retry: { first: '200ms', max: '1s' }, timeout: '10s', shutdownGrace: '2s' },
    accounts,
    bridges: {
      [o.bridge]: {
        description: `The ${o.bridge} bridge (e2e)`,
        digest: { quiet: o.quiet ?? '1s', maxLines: o.maxLines ?? 100, ...(o.settle ? { settle: o.settle } : {}) },
        endpoints: o.places.map((p) => {
          const opts = p.endpointOptions?.() ?? {};
          const ep = `${p.account}/${p.target}`;
          return Object.keys(opts).length ? { endpoint: ep, ...opts } : ep;
        }),
      },
    },
    ...o.extra,
  };
  return stringify(cfg);
}

/** One peerpost daemon in a directory of its own (the data dir may be elsewhere, e.g. a small tmpfs). */
export class Node {
  readonly dir: string;
  readonly config: string;
  readonly data: string;
  running: Running | undefined;
  /** Every log line of every run. */
  readonly logs: string[] = [];
  constructor(
    readonly opts: NodeOptions,
    data?: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'pp-e2e-'));
    this.config = join(this.dir, 'peerpost.yaml');
    this.data = data ?? join(this.dir, 'data');
    writeFileSync(this.config, buildConfig(opts, this.data));
  }

  async start(): Promise<Running> {
    const r = await startDaemon(this.config);
    this.running = r;
    return r;
  }

  /** kill -9, and wait for the exit. */
  async kill(): Promise<void> {
    const r = this.running;
    if (!r) return;
    this.logs.push(...r.logs);
    await r.stop('SIGKILL');
    this.running = undefined;
  }

  async stop(): Promise<number | null> {
    const r = this.running;
    if (!r) return null;
    const code = await r.stop('SIGTERM');
    this.logs.push(...r.logs);
    this.running = undefined;
    return code;
  }

  /** All log lines so far, of this run and the ones before. */
  allLogs(): string[] {
    return [...this.logs, ...(this.running?.logs ?? [])];
  }

  cli(args: string[], input?: string): Promise<Result> {
    return cli([...args, '-c', this.config], input === undefined ? {} : { input });
  }

  async post(text: string, from = 'dave', subject?: string): Promise<Result> {
    return this.cli(['post', '-b', this.opts.bridge, '--from', from, ...(subject ? ['--subject', subject] : []), text]);
  }

  async status(): Promise<any> {
    const r = await this.cli(['status', '--json']);
    return JSON.parse(r.stdout);
  }

  /** The pending outbox rows (`peerpost outbox --json` answers { rows, waiting, conversations }). */
  async outbox(): Promise<any[]> {
    const r = await this.cli(['outbox', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).rows;
  }

  /** The posts the store accepted (the archive), oldest first: read from the SQLite file, read-only. */
  storedPosts(): {
    seq: number;
    id: string;
    kind: string;
    body: string;
    subject?: string;
    origin: { account: string; target: string };
    author: { name: string };
  }[] {
    const db = new Database(join(this.data, 'peerpost.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT seq, data FROM posts ORDER BY seq').all() as { seq: number; data: string }[]).map(
        (r) => ({ seq: r.seq, ...JSON.parse(r.data) }),
      );
    } finally {
      db.close();
    }
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Poll an async check until it passes (returns true), or fail with what it last said. */
export async function eventually(
  check: () => Promise<true | string>,
  what: string,
  timeoutMs = 20_000,
  everyMs = 200,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    const r = await check().catch((e: Error) => e.message);
    if (r === true) return;
    last = r;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${last}`);
    await sleep(everyMs);
  }
}
