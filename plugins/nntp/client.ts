/**
 * A small NNTP client (RFC 3977, AUTHINFO USER/PASS of RFC 4643, STARTTLS of
 * RFC 4642) for peering with news servers: one connection, one command at a
 * time, every request written in one write with Nagle off.
 *
 * Our own rather than a library: the npm `nntp` package crashes at
 * construction on Node 20 and cannot set Message-ID or References when
 * posting; `newsie` posts with custom headers but upper-cases header names and
 * misparses folded headers (see plugins/nntp/README.md).
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { formatAddress } from '../../src/plugin.js';

export interface ClientOptions {
  host: string;
  port: number;
  /** false: plain; true: TLS from the first byte (port 563); 'starttls': plain, then STARTTLS before anything else. */
  tls: boolean | 'starttls';
  tlsOptions?: ConnectionOptions;
  user?: string;
  password?: string;
  /** Send MODE READER after the greeting (a reader connection; not for an IHAVE feed). */
  readerMode: boolean;
  /** Connect, TLS handshake and each response must come within this many ms. */
  timeoutMs: number;
}

export interface Response {
  code: number;
  /** The whole first line, without CRLF. */
  line: string;
}

export interface MultiResponse extends Response {
  /** The block's lines, dot-stuffing undone, without line ends (bytes as received). */
  lines: Buffer[];
}

/** A response the caller did not expect, with its code, for the outbox's reason. */
export class NntpError extends Error {
  constructor(
    readonly code: number,
    readonly line: string,
    what: string,
  ) {
    super(`${what}: the server answered "${line.slice(0, 200)}"`);
  }
}

/** Lines in, one at a time, from a socket that may be swapped for its TLS wrapper. */
class LineReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;

  attach(sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.wake();
    });
    sock.on('close', () => this.end(new Error('the server closed the connection')));
    sock.on('error', (err) => this.end(err));
  }

  detach(sock: Socket) {
    sock.removeAllListeners('data');
    sock.removeAllListeners('close');
    sock.removeAllListeners('error');
    sock.on('error', () => {});
  }

  end(err: Error) {
    this.ended ??= err;
    this.wake();
  }

  private wake() {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next line without its CRLF. */
  async line(timeoutMs: number): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0) {
        const end = nl > 0 && this.buf[nl - 1] === 0x0d ? nl - 1 : nl;
        const l = this.buf.subarray(0, end);
        this.buf = this.buf.subarray(nl + 1);
        return l;
      }
      if (this.ended) throw this.ended;
      if (this.buf.length > MAX_LINE) throw new Error(`the server sent a line longer than ${MAX_LINE} octets`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer from the server within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiter = () => {
          clearTimeout(t);
          res();
        };
      });
    }
  }
}

/** No line of a response may be longer than this (a broken or hostile server). */
const MAX_LINE = 1024 * 1024;

const parse = (l: Buffer): Response => {
  const line = l.toString('utf8');
  const m = /^(\d{3})(?:\s|$)/.exec(line);
  if (!m) throw new Error(`the server sent something that is not an NNTP response: "${line.slice(0, 80)}"`);
  return { code: Number(m[1]), line };
};

/** Text to the lines of a block as sent: CRLF ends, leading dots doubled, the final "." line. */
export function dotStuffBlock(text: string): string {
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  return lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n') + '\r\n.\r\n';
}

export class NntpClient {
  private sock!: Socket;
  private reader = new LineReader();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  greeting!: Response;
  /** True when the greeting (or MODE READER) said 200: posting allowed. */
  postingAllowed = false;

  private constructor(private readonly o: ClientOptions) {}

  /** Connect, read the greeting, STARTTLS, MODE READER and AUTHINFO as configured. */
  static async connect(o: ClientOptions): Promise<NntpClient> {
    const c = new NntpClient(o);
    try {
      await c.open();
    } catch (err) {
      c.close();
      throw err;
    }
    return c;
  }

  private async open() {
    const o = this.o;
    const tlsOpts = {
      ...o.tlsOptions,
      servername: o.tlsOptions?.servername ?? (/^[\d.]+$|:/.test(o.host) ? undefined : o.host),
    };
    this.sock = await new Promise<Socket>((resolve, reject) => {
      const s: Socket =
        o.tls === true
          ? tlsConnect({ host: o.host, port: o.port, ...tlsOpts })
          : tcpConnect({ host: o.host, port: o.port });
      const t = setTimeout(() => {
        s.destroy();
        reject(
          new Error(`could not connect to ${formatAddress(o.host, o.port)} within ${Math.round(o.timeoutMs / 1000)} s`),
        );
      }, o.timeoutMs);
      s.once(o.tls === true ? 'secureConnect' : 'connect', () => {
        clearTimeout(t);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(t);
        reject(new Error(`could not connect to ${formatAddress(o.host, o.port)}: ${err.message}`));
      });
    });
    this.sock.setNoDelay(true);
    this.reader.attach(this.sock);
    // A server may close an idle reader: the next use opens a new connection instead of failing.
    this.sock.once('close', () => (this.closed = true));
    this.greeting = parse(await this.reader.line(o.timeoutMs));
    if (this.greeting.code !== 200 && this.greeting.code !== 201)
      throw new NntpError(this.greeting.code, this.greeting.line, 'the server refused the connection');
    this.postingAllowed = this.greeting.code === 200;
    if (o.tls === 'starttls') await this.starttls(tlsOpts);
    if (o.readerMode) {
      const r = await this.cmd('MODE READER');
      // 502 from a server that is a reader only (or where MODE READER is not needed) is fine.
      if (r.code === 200 || r.code === 201) this.postingAllowed = r.code === 200;
    }
    if (o.user !== undefined) {
      const u = await this.cmd(`AUTHINFO USER ${o.user}`);
      if (u.code === 381) {
        const p = await this.cmd(`AUTHINFO PASS ${o.password ?? ''}`);
        if (p.code !== 281)
          throw new NntpError(p.code, p.line.replace(/PASS .*/, 'PASS ***'), `AUTHINFO for ${o.user} failed`);
      } else if (u.code !== 281) throw new NntpError(u.code, u.line, `AUTHINFO USER ${o.user} failed`);
      this.postingAllowed = true;
    }
  }

  private async starttls(tlsOpts: ConnectionOptions) {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 382)
      throw new NntpError(r.code, r.line, 'STARTTLS was refused (set tls: true for a TLS port, or tls: false)');
    const plain = this.sock;
    this.reader.detach(plain);
    this.sock = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain, host: this.o.host, ...tlsOpts });
      const t = setTimeout(() => reject(new Error('the TLS handshake after STARTTLS timed out')), this.o.timeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(t);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(t);
        reject(new Error(`TLS after STARTTLS failed: ${err.message}`));
      });
    });
    this.reader = new LineReader();
    this.reader.attach(this.sock);
    this.sock.once('close', () => (this.closed = true));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.reader.end(new Error('the connection was closed'));
    if (this.sock && !this.sock.destroyed) {
      this.sock.end('QUIT\r\n');
      setTimeout(() => this.sock.destroy(), 1000).unref();
    }
  }

  /** Run fn alone on the connection (commands never interleave). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private write(text: string | Buffer) {
    if (this.closed) throw new Error('the connection was closed');
    this.sock.write(text);
  }

  private async readResponse(): Promise<Response> {
    return parse(await this.reader.line(this.o.timeoutMs));
  }

  /** A block to its final "."; past `limit` octets its lines are read and dropped (tooBig). */
  private async readBlock(limit = Number.MAX_SAFE_INTEGER): Promise<{ lines: Buffer[]; tooBig: boolean }> {
    let lines: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    for (;;) {
      const l = await this.reader.line(this.o.timeoutMs);
      if (l.length === 1 && l[0] === 0x2e) return { lines, tooBig };
      if (tooBig) continue;
      size += l.length + 2;
      if (size > limit) {
        tooBig = true;
        lines = [];
        continue;
      }
      lines.push(l.length && l[0] === 0x2e ? l.subarray(1) : l);
    }
  }

  /** One command line (not for use inside exclusive()). */
  private async cmd(line: string): Promise<Response> {
    this.write(`${line}\r\n`);
    return this.readResponse();
  }

  /** A single-line command. */
  command(line: string): Promise<Response> {
    return this.exclusive(() => this.cmd(line));
  }

  /** A command whose answer is a block when its code is `ok`. */
  multi(line: string, ok: number, limit?: number): Promise<MultiResponse & { tooBig: boolean }> {
    return this.exclusive(async () => {
      const r = await this.cmd(line);
      return { ...r, ...(r.code === ok ? await this.readBlock(limit) : { lines: [], tooBig: false }) };
    });
  }

  /** GROUP name → count, low, high. */
  async group(name: string): Promise<{ count: number; low: number; high: number }> {
    const r = await this.command(`GROUP ${name}`);
    if (r.code !== 211) throw new NntpError(r.code, r.line, `GROUP ${name}`);
    const [, count, low, high] = r.line.split(/\s+/).map(Number);
    if (![count, low, high].every((n) => Number.isSafeInteger(n)))
      throw new Error(`GROUP ${name}: cannot read "${r.line}"`);
    return { count: count!, low: low!, high: high! };
  }

  /** OVER low-high (XOVER where OVER is unknown): number and Message-ID of each article in the range. */
  async over(low: number, high: number): Promise<{ number: number; id: string }[]> {
    let r = await this.multi(`OVER ${low}-${high}`, 224);
    if (r.code === 500) r = await this.multi(`XOVER ${low}-${high}`, 224);
    if (r.code === 423) return [];
    if (r.code !== 224) throw new NntpError(r.code, r.line, `OVER ${low}-${high}`);
    const out: { number: number; id: string }[] = [];
    for (const l of r.lines) {
      const f = l.toString('latin1').split('\t');
      const n = Number(f[0]);
      const id = /<([^<>\s]+)>/.exec(f[4] ?? '')?.[1];
      if (Number.isSafeInteger(n) && id) out.push({ number: n, id });
    }
    return out;
  }

  /** ARTICLE n: the article (CRLF line ends, dot-stuffing undone); undefined when it is gone (423/430); 'too big' past maxSize octets. */
  async article(spec: number | string, maxSize?: number): Promise<Buffer | 'too big' | undefined> {
    const r = await this.multi(`ARTICLE ${spec}`, 220, maxSize);
    if (r.code === 423 || r.code === 430) return undefined;
    if (r.code !== 220) throw new NntpError(r.code, r.line, `ARTICLE ${spec}`);
    if (r.tooBig) return 'too big';
    const parts: Buffer[] = [];
    for (const l of r.lines) parts.push(l, CRLF);
    return Buffer.concat(parts);
  }

  /** STAT <id>: true when the server has the article. */
  async has(id: string): Promise<boolean | undefined> {
    const r = await this.command(`STAT <${id}>`);
    if (r.code === 223) return true;
    if (r.code === 430) return false;
    return undefined;
  }

  /** POST: 340, then the article in one write; the final response (240, 441, ...) or the refusal of POST itself (440, 480). */
  post(article: string): Promise<Response> {
    return this.exclusive(async () => {
      const r = await this.cmd('POST');
      if (r.code !== 340) return r;
      this.write(dotStuffBlock(article));
      return this.readResponse();
    });
  }

  /** IHAVE <id>: 335 then the article; or the refusal (435 not wanted, 436 later). */
  ihave(id: string, article: string): Promise<Response> {
    return this.exclusive(async () => {
      const r = await this.cmd(`IHAVE <${id}>`);
      if (r.code !== 335) return r;
      this.write(dotStuffBlock(article));
      return this.readResponse();
    });
  }
}

const CRLF = Buffer.from('\r\n');
