/**
 * Helpers for the mail plugin's receiving tests: real clients nobody here
 * wrote — swaks (Debian package swaks) and Python's smtplib — sending to the
 * daemon's SMTP receiver on 127.0.0.1; and `mailingLists()`, the daemon with
 * its lists between those clients and aiosmtpd as the smarthost.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { requirePeer } from '../peers/require.js';
import { world, cli, startDaemon, until, type World, type Running } from '../helpers/daemon.js';
import { startMaildirSink, freePort, type MaildirSink } from './mail-send-helpers.js';

/** swaks (test/peers/require.ts: installed as root, else a failure with the command). */
export function ensureSwaks(): void {
  requirePeer('swaks');
}

export interface SwaksResult {
  code: number;
  out: string;
  /** The server's replies ("250 2.0.0 ..."), in order. */
  replies: string[];
  /** The last reply code the server gave. */
  last: number;
}

/** Run swaks against 127.0.0.1:port. */
export function swaks(port: number, args: string[]): Promise<SwaksResult> {
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/swaks',
      ['--server', '127.0.0.1', '--port', String(port), '--helo', 'client.test.example', '--timeout', '20', ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const out = `${stdout}${stderr}`;
        const replies = out
          .split('\n')
          .filter((l) => /^\s*<[~*-]+\s+\d{3}[ -]/.test(l))
          .map((l) => l.replace(/^\s*<[~*-]+\s+/, ''));
        const finals = replies.filter((r) => /^\d{3} /.test(r));
        resolve({
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          out,
          replies,
          last: Number(finals[finals.length - 1]?.slice(0, 3) ?? 0),
        });
      },
    );
  });
}

const PY = String.raw`
import json, smtplib, sys
port, sender, rcpts, utf8 = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4] == '1'
raw = sys.stdin.buffer.read()
s = smtplib.SMTP('127.0.0.1', port, local_hostname='client.test.example', timeout=20)
s.ehlo()
out = {'features': sorted(s.esmtp_features.keys())}
try:
    refused = s.sendmail(sender, rcpts, raw, mail_options=['SMTPUTF8'] if utf8 else [])
    out.update(code=250, message='', refused={k: [v[0], v[1].decode('utf8', 'replace')] for k, v in refused.items()})
except smtplib.SMTPRecipientsRefused as e:
    out.update(code=list(e.recipients.values())[0][0], message=list(e.recipients.values())[0][1].decode('utf8', 'replace'), stage='rcpt')
except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as e:
    out.update(code=e.smtp_code, message=e.smtp_error.decode('utf8', 'replace'), stage='data')
try:
    s.quit()
except Exception:
    pass
print(json.dumps(out))
`;

export interface PyResult {
  code: number;
  message: string;
  stage?: 'rcpt' | 'data';
  features: string[];
  refused?: Record<string, [number, string]>;
}

/** Send raw bytes with Python's smtplib (sendmail: the bytes go as they are, bare CR/LF and 8-bit included). */
export function pySend(
  port: number,
  from: string,
  to: string[],
  raw: Buffer | string,
  opts: { smtpUtf8?: boolean } = {},
): Promise<PyResult> {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  return new Promise((resolve, reject) => {
    const child = execFile(
      '/usr/bin/python3',
      ['-c', PY, String(port), from, JSON.stringify(to), opts.smtpUtf8 ? '1' : '0'],
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`python smtplib failed: ${stderr || err.message}`));
        resolve(JSON.parse(stdout) as PyResult);
      },
    );
    child.stdin!.end(bytes);
  });
}

/** A mail as CRLF lines. */
export const rfc822 = (headers: string[], body: string) =>
  `${headers.join('\r\n')}\r\n\r\n${body.replace(/\r?\n/g, '\r\n')}\r\n`;

/** The value of a header in a raw message (unfolded), all occurrences. */
export function header(msg: string, name: string): string[] {
  const head = msg.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  return head
    .split(/\r?\n/)
    .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .map((l) => l.slice(name.length + 1).trim());
}

/** The messages the smarthost received for an address (any of a transaction's recipients, X-RcptTo). */
export const messagesTo = (sink: MaildirSink, addr: string): string[] =>
  sink.messages().filter((m) => (header(m, 'X-RcptTo')[0] ?? '').split(',').includes(addr));

/**
 * A daemon running mailing lists, as its tests drive it: aiosmtpd (a Maildir) as its smarthost, its SMTP receiver
 * on a free port, and members writing to it with Python's smtplib. Made before the tests and started in `before`:
 * the functions it gives (mailTo, waitMail, mail, send, subscribe) may be taken apart at once.
 */
export interface MailingLists {
  /** The smarthost. */
  readonly sink: MaildirSink;
  readonly w: World;
  /** The daemon's SMTP receiver (the mail account's `listen` port). */
  readonly port: number;
  /** The running daemon; a test that restarts it sets it again, and `stop` stops the one set last. */
  daemon: Running;
  /**
   * Start the smarthost, take a port, write the config that `config` gives (it may also write files into w.dir)
   * and start the daemon.
   */
  start(config: (c: { w: World; port: number; sinkPort: number }) => string): Promise<void>;
  mailTo(addr: string): string[];
  /** Wait for a mail to `addr` that `pred` accepts (`waitMs` of mailingLists, unless given); the mail. */
  waitMail(addr: string, pred: (m: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  /** A mail from `from` to `to` through smtplib (a fresh Message-ID unless given); the server's answer and the id. */
  mail(from: string, to: string, subject: string, body?: string, id?: string): Promise<PyResult & { id: string }>;
  /** As mail, and the server must take it (250); the Message-ID. */
  send(from: string, to: string, subject: string, body?: string, id?: string): Promise<string>;
  /** `peerpost subscribers LIST add ADDRESS...`, which must succeed. */
  subscribe(list: string, addresses: string[]): Promise<void>;
  /** Stop the daemon and the smarthost, remove the world. */
  stop(): Promise<void>;
}

export function mailingLists(opts: { waitMs?: number } = {}): MailingLists {
  let sink: MaildirSink | undefined;
  let w: World | undefined;
  let port: number | undefined;
  let daemon: Running | undefined;
  let n = 0;
  const started = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`mailingLists: ${what} before start()`);
    return v;
  };
  const lists: MailingLists = {
    get sink() {
      return started(sink, 'sink');
    },
    get w() {
      return started(w, 'w');
    },
    get port() {
      return started(port, 'port');
    },
    get daemon() {
      return started(daemon, 'daemon');
    },
    set daemon(d: Running) {
      daemon = d;
    },
    async start(config) {
      sink = await startMaildirSink();
      port = await freePort();
      w = world();
      w.writeConfig(config({ w, port, sinkPort: sink.port }));
      daemon = await startDaemon(w.config);
    },
    mailTo: (addr) => messagesTo(lists.sink, addr),
    waitMail: (addr, pred, what, timeoutMs = opts.waitMs ?? 15_000) =>
      until(() => lists.mailTo(addr).find(pred), `${what} (mail to ${addr})`, timeoutMs),
    async mail(from, to, subject, body = '', id = `m${++n}.${Date.now()}@example.org`) {
      const r = await pySend(
        lists.port,
        from,
        [to],
        rfc822([`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, `Message-ID: <${id}>`], body),
      );
      return { ...r, id };
    },
    async send(from, to, subject, body, id) {
      const r = await lists.mail(from, to, subject, body, id);
      const { id: sent, ...answer } = r;
      assert.equal(r.code, 250, JSON.stringify(answer));
      return sent;
    },
    async subscribe(list, addresses) {
      const r = await cli(['subscribers', list, 'add', ...addresses, '-c', lists.w.config]);
      assert.equal(r.code, 0, r.stderr);
    },
    async stop() {
      await daemon?.stop();
      await sink?.stop();
      w?.cleanup();
    },
  };
  return lists;
}
