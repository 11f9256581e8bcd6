/**
 * Helpers for the irc plugin's integration tests and bench/irc.ts: a real ngircd
 * (test/peers/ngircd.sh) on 127.0.0.1, and IRC users on raw sockets.
 * The same as the helpers inside irc.test.ts (which keeps its own copy).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { requirePeer } from '../peers/require.js';

export const NGIRCD_SH = fileURLToPath(new URL('../../../test/peers/ngircd.sh', import.meta.url));

// The peers these tests need (test/peers/require.ts: installed as root, else a failure with the command).
export const ensureNgircd = () => requirePeer('ngircd');
export const ensureOpenssl = () => requirePeer('openssl');
export const ensureInspircd = () => requirePeer('inspircd');

export const INSPIRCD_SH = fileURLToPath(new URL('../../../test/peers/inspircd.sh', import.meta.url));

/** InspIRCd 3 on 127.0.0.1:port with the IRCv3 modules (test/peers/inspircd.sh); stop it with stopInspircd. */
export function startInspircd(port: number, dir: string, name = 'irc.insp.local'): Ircd {
  const out = execFileSync('bash', [INSPIRCD_SH, 'start', String(port), dir], {
    env: { ...process.env, INSPIRCD_NAME: name },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = Number(out.trim().split('\n').pop());
  assert.ok(pid > 0, `inspircd.sh printed no pid: ${out}`);
  return { pid, port, dir };
}

export function stopInspircd(d: Ircd | undefined): void {
  if (d) execFileSync('bash', [INSPIRCD_SH, 'stop', String(d.pid)]);
}

export const ensureAtheme = () => requirePeer('atheme-services');
export const ATHEME_SH = fileURLToPath(new URL('../../../test/peers/atheme.sh', import.meta.url));

/**
 * InspIRCd with Atheme services linked (NickServ, SaslServ): the IRC port, and both processes.
 * `dir` must have world-executable parents (Atheme runs as nobody).
 */
export async function startInspircdWithServices(dir: string): Promise<{ ircd: Ircd; services: Ircd }> {
  const port = await freePort();
  const link = await freePort();
  const out = execFileSync('bash', [INSPIRCD_SH, 'start', String(port), dir], {
    env: { ...process.env, INSPIRCD_SERVICES_PORT: String(link) },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ircd = { pid: Number(out.trim().split('\n').pop()), port, dir };
  const sdir = `${dir}/services`;
  const sout = execFileSync('bash', [ATHEME_SH, 'start', String(link), sdir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const services = { pid: Number(sout.trim().split('\n').pop()), port: link, dir: sdir };
  // Linked once the services' burst is over: NickServ answers.
  for (let i = 0; ; i++) {
    if (
      existsSync(`${sdir}/atheme.log`) &&
      /finished synching with uplink/.test(readFileSync(`${sdir}/atheme.log`, 'utf8'))
    )
      break;
    if (i > 100) throw new Error(`Atheme did not link to InspIRCd within 10 s; see ${sdir}/atheme.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ircd, services };
}

export function stopAtheme(d: Ircd | undefined): void {
  if (d) execFileSync('bash', [ATHEME_SH, 'stop', String(d.pid)]);
}

export const ERGO_SH = fileURLToPath(new URL('../../../test/peers/ergo.sh', import.meta.url));

/**
 * Make sure an Ergo binary is at hand (test/peers/ergo.sh bin): the team's copy in
 * ../shared/peers/bin, else the release `ergo.sh fetch` downloads (tried once here);
 * with neither, the test fails with the command that gets it. Never a silent skip.
 */
export function ensureErgo(): void {
  const found = spawnSync('bash', [ERGO_SH, 'bin'], { encoding: 'utf8' });
  if (found.status === 0) return;
  const fetched = spawnSync('bash', [ERGO_SH, 'fetch'], { encoding: 'utf8' });
  if (fetched.status === 0 && spawnSync('bash', [ERGO_SH, 'bin']).status === 0) return;
  throw new Error(
    `this test needs Ergo, the IRCv3 reference server, and none is here (${fetched.stderr.trim().split('\n').pop()}). ` +
      `Get its release with:\n  bash test/peers/ergo.sh fetch\n(or set ERGO_BIN to an ergo binary)`,
  );
}

/**
 * Ergo on 127.0.0.1:port (test/peers/ergo.sh: relaymsg, chathistory, SASL via NickServ); stop it with stopErgo.
 * `env` reaches ergo.sh (ERGO_CASEMAPPING=precis: Ergo's own default, Unicode names).
 */
export function startErgo(port: number, dir: string, env: Record<string, string> = {}): Ircd {
  const out = execFileSync('bash', [ERGO_SH, 'start', String(port), dir], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = Number(out.trim().split('\n').pop());
  assert.ok(pid > 0, `ergo.sh printed no pid: ${out}`);
  return { pid, port, dir };
}

export function stopErgo(d: Ircd | undefined): void {
  if (d) execFileSync('bash', [ERGO_SH, 'stop', String(d.pid)], { stdio: 'ignore' });
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export interface Ircd {
  pid: number;
  port: number;
  dir: string;
}

/** ngircd on 127.0.0.1:port; penalties 'default' is ngircd's own flood throttling, '0' turns it off. */
export function startIrcd(
  port: number,
  dir: string,
  penalties: 'default' | '0' = 'default',
  name = 'irc.test.local',
  env: Record<string, string> = {},
): Ircd {
  const out = execFileSync('bash', [NGIRCD_SH, 'start', String(port), dir], {
    env: { ...process.env, NGIRCD_MAX_PENALTY: penalties, NGIRCD_NAME: name, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = Number(out.trim().split('\n').pop());
  assert.ok(pid > 0, `ngircd.sh printed no pid: ${out}`);
  return { pid, port, dir };
}

/**
 * ngircd (installed if missing, as ensureNgircd) on a free port, in a fresh directory under /tmp readable by ngircd,
 * which drops to nobody. The caller stops it (stopIrcd) and removes `dir`.
 */
export async function ngircdInTmp(penalties: 'default' | '0' = '0'): Promise<Ircd> {
  ensureNgircd();
  const dir = mkdtempSync('/tmp/pp-ngircd-');
  chmodSync(dir, 0o755);
  return startIrcd(await freePort(), dir, penalties);
}

export function stopIrcd(d: Ircd | undefined): void {
  if (d) execFileSync('bash', [NGIRCD_SH, 'stop', String(d.pid)]);
}

/** The server answered a User's NICK with 433: someone (or a ghost not yet gone) holds it. */
export class NickInUse extends Error {}

/**
 * Connect as `nick`, waiting for the server to release it: a server may still hold a nick for a
 * moment after its last owner's QUIT was answered (Ergo does, with accounts).
 */
export async function connectWhenFree(nick: string, port: number, channel: string, timeoutMs = 10_000): Promise<User> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new User(nick).connect(port, channel);
    } catch (e) {
      if (!(e instanceof NickInUse) || Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A user on a raw socket: every line it received, PINGs answered. */
export class User {
  readonly lines: string[] = [];
  private waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  private buf = Buffer.alloc(0);
  private sock!: Socket;
  /** Called with every line as it arrives (for timing). */
  onLine: ((line: string) => void) | undefined;
  constructor(
    readonly nick: string,
    private readonly password?: string,
  ) {}

  async connect(port: number, channel: string): Promise<this> {
    this.sock = connect(port, '127.0.0.1');
    this.sock.on('error', () => {});
    this.sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const raw = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + 2);
        const line = raw.toString('utf8');
        assert.ok(!line.includes('\uFFFD'), `${this.nick} received invalid UTF-8: ${raw.toString('hex')}`);
        if (line.startsWith('PING')) this.send(`PONG${line.slice(4)}`);
        this.lines.push(line);
        this.onLine?.(line);
        for (const w of [...this.waiters])
          if (w.pred(line)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(line);
          }
      }
    });
    await new Promise<void>((r, j) => {
      this.sock.once('connect', r);
      this.sock.once('error', j);
    });
    if (this.password) this.send(`PASS ${this.password}`);
    this.send(`NICK ${this.nick}`);
    this.send(`USER ${this.nick} 0 * :${this.nick}`);
    const welcome = await this.waitFor((l) => ['001', '433'].includes(l.split(' ')[1] ?? ''), 'welcome');
    if (welcome.split(' ')[1] === '433') {
      this.sock.destroy();
      throw new NickInUse(`${this.nick}: the server says the nick is in use: ${welcome}`);
    }
    this.send(`JOIN ${channel}`);
    await this.waitFor((l) => / 366 /.test(l), `joined ${channel}`);
    return this;
  }

  /** Join another channel; resolves at the end of its NAMES. */
  async join(channel: string): Promise<void> {
    const end = (l: string) => l.split(' ')[1] === '366' && l.split(' ')[3]?.toLowerCase() === channel.toLowerCase();
    const before = this.lines.filter(end).length;
    this.send(`JOIN ${channel}`);
    for (const t0 = Date.now(); this.lines.filter(end).length <= before;) {
      if (Date.now() - t0 > 15_000) throw new Error(`${this.nick}: timed out joining ${channel}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  send(line: string | Buffer): void {
    this.sock.write(typeof line === 'string' ? `${line}\r\n` : Buffer.concat([line, Buffer.from('\r\n')]));
  }

  /** The first line so far, or from now on, that matches; rejects after timeoutMs. */
  waitFor(pred: (l: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(
          new Error(`${this.nick}: timed out waiting for ${what}; last lines:\n${this.lines.slice(-10).join('\n')}`),
        );
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** The PRIVMSG texts to a channel from a nick, as raw lines. */
  said(from: string, channel: string): string[] {
    return this.lines.filter((l) => l.startsWith(`:${from}!`) && l.includes(` PRIVMSG ${channel} :`));
  }

  text(raw: string): string {
    return raw.slice(raw.indexOf(' :', 1) + 2);
  }

  close(): void {
    try {
      this.send('QUIT :bye');
    } catch {
      /* gone */
    }
    this.sock.destroy();
  }
}

/** One line the fake server read, parsed: its tags, command, arguments and trailing text. */
export interface FakeLine {
  line: string;
  tags: string | undefined;
  cmd: string;
  args: string[];
  text: string;
  nick: string;
}

/**
 * Just enough of an IRCv3 server for a unit of the protocol no real server can be made to show on cue: CAP LS with
 * `caps`, registration (001, 005 with `isupport`, 376), JOIN with NAMES (`names(nick)`), PONG, an empty WHO, and
 * every line the client sent in `got`. `handle` answers any other command (or overrides these): return true when it did.
 */
export class FakeIrcd {
  readonly got: string[] = [];
  private server!: Server;
  private client: Socket | undefined;
  port = 0;

  constructor(
    private readonly o: {
      caps: string;
      isupport?: string;
      names?: (nick: string) => string;
      handle?: (l: FakeLine, write: (text: string) => void) => boolean;
    },
  ) {}

  async start(): Promise<void> {
    this.server = createServer((s) => {
      this.client = s;
      let buf = '';
      let nick = 'bot';
      const write = (text: string) => void s.write(text);
      s.on('error', () => {});
      s.on('data', (d) => {
        buf += d.toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\r\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          this.got.push(line);
          const tags = /^@(\S+) /.exec(line)?.[1];
          const bare = line.replace(/^@\S+ /, '');
          const [cmd = '', ...args] = bare.split(' ');
          const text = bare.slice(bare.indexOf(' :') + 2);
          if (this.o.handle?.({ line, tags, cmd, args, text, nick }, write)) continue;
          if (cmd === 'CAP' && args[0] === 'LS') s.write(`:fake CAP * LS :${this.o.caps}\r\n`);
          else if (cmd === 'CAP' && args[0] === 'REQ') s.write(`:fake CAP * ACK ${args.slice(1).join(' ')}\r\n`);
          else if (cmd === 'NICK') nick = args[0]!.replace(/^:/, '');
          else if (cmd === 'CAP' && args[0] === 'END')
            s.write(
              `:fake 001 ${nick} :Welcome\r\n:fake 005 ${nick} CHANTYPES=# CASEMAPPING=ascii${this.o.isupport ? ` ${this.o.isupport}` : ''} :are supported\r\n:fake 376 ${nick} :End of MOTD\r\n`,
            );
          else if (cmd === 'JOIN')
            s.write(
              `:${nick}!u@127.0.0.1 JOIN ${args[0]}\r\n:fake 353 ${nick} = ${args[0]} :${this.o.names?.(nick) ?? nick}\r\n:fake 366 ${nick} ${args[0]} :End of NAMES\r\n`,
            );
          else if (cmd === 'PING') s.write(`:fake PONG fake ${args[0] ?? ''}\r\n`);
          else if (cmd === 'WHO') s.write(`:fake 315 ${nick} ${args[0]} :End of WHO\r\n`);
        }
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  send(line: string): void {
    this.client?.write(`${line}\r\n`);
  }

  close(): void {
    this.client?.destroy();
    this.server.close();
  }
}
