/**
 * Real SMTP sinks on 127.0.0.1 for the mail plugin's sending tests and
 * bench/mail.ts: aiosmtpd writing a Maildir (test/peers/smtp_maildir.py, answers
 * controlled by rules.json) and Postfix's smtp-sink (test/peers/smtp-sink.sh).
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { requirePeer } from '../peers/require.js';

export const SMTP_MAILDIR_PY = fileURLToPath(new URL('../../../test/peers/smtp_maildir.py', import.meta.url));
export const SMTP_SINK_SH = fileURLToPath(new URL('../../../test/peers/smtp-sink.sh', import.meta.url));

// The peers (test/peers/require.ts: installed as root, else a failure with the command).
/** aiosmtpd for Debian's python3 (python3-aiosmtpd). */
export const ensureAiosmtpd = (): void => requirePeer('python3-aiosmtpd');

/** Postfix's smtp-sink (postfix, installed with "No configuration": Postfix itself is neither configured nor started). */
export const ensureSmtpSink = (): void => requirePeer('postfix');

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export interface MaildirSink {
  port: number;
  dir: string;
  /** Change the answers: tempfail address → how many RCPTs get 451 first; reject → always 550; maxRecipients → 452 past it. */
  rules(r: { tempfail?: Record<string, number>; reject?: string[]; maxRecipients?: number }): void;
  /** Every message received, as text (X-MailFrom / X-RcptTo first). */
  messages(): string[];
  /** Every transaction: envelope sender and recipients. */
  transactions(): { from: string; to: string[] }[];
  /** Connections accepted so far. */
  connections(): number;
  stop(): Promise<void>;
}

export async function startMaildirSink(
  opts: {
    tls?: { cert: string; key: string };
    implicitTls?: { cert: string; key: string };
    auth?: { user: string; pass: string };
    /** Listen on this port (a smarthost that comes up where peerpost already looks for it); default an ephemeral one. */
    port?: number;
  } = {},
): Promise<MaildirSink> {
  ensureAiosmtpd();
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-mailsink-'));
  const args = [SMTP_MAILDIR_PY, dir];
  if (opts.tls) args.push('--tls', opts.tls.cert, opts.tls.key);
  if (opts.implicitTls) args.push('--implicit-tls', opts.implicitTls.cert, opts.implicitTls.key);
  if (opts.auth) args.push('--auth', `${opts.auth.user}:${opts.auth.pass}`);
  if (opts.port !== undefined) args.push('--port', String(opts.port));
  const child: ChildProcess = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`the SMTP sink did not start in 10 s: ${stderr}`)), 10_000);
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(Number(l));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the SMTP sink exited (${code}): ${stderr}`));
    });
  });
  const newDir = join(dir, 'Maildir', 'new');
  return {
    port,
    dir,
    rules: (r) => writeFileSync(join(dir, 'rules.json'), JSON.stringify(r)),
    messages: () =>
      readdirSync(newDir)
        .sort()
        .map((f) => readFileSync(join(newDir, f), 'utf8')),
    transactions: () => {
      const p = join(dir, 'transactions.log');
      return existsSync(p)
        ? readFileSync(p, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { from: string; to: string[] })
        : [];
    },
    connections: () => {
      const p = join(dir, 'connections.log');
      return existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).length : 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface SmtpSink {
  port: number;
  pid: number;
  stop(): void;
}

/** A throwaway certificate for 127.0.0.1 (openssl), for the TLS tests. */
export function selfSignedCert(): { cert: string; key: string; dir: string } {
  requirePeer('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-mailtls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execSync(
    `/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout ${key} -out ${cert}`,
    { stdio: 'ignore' },
  );
  return { cert, key, dir };
}

export interface DumpingSink {
  port: number;
  dir: string;
  /** One entry per transaction smtp-sink dumped: its MAIL FROM and RCPT TO arguments. */
  transactions(): { from: string; to: string[] }[];
  stop(): void;
}

/** Postfix's smtp-sink through test/peers/smtp-sink.sh: one file per transaction in DIR/mail with the envelope in X-Mail-Args / X-Rcpt-Args. */
export async function startDumpingSink(): Promise<DumpingSink> {
  ensureSmtpSink();
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-smtpsink-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const pid = execSync(`bash ${SMTP_SINK_SH} start ${port} ${dir}`, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'], // a failure's message carries the script's stderr
  })
    .trim()
    .split('\n')
    .at(-1)!;
  const mailDir = join(dir, 'mail');
  return {
    port,
    dir,
    transactions: () =>
      readdirSync(mailDir)
        .sort()
        .map((f) => {
          const head = readFileSync(join(mailDir, f), 'utf8').split('\n');
          const from = head
            .find((l) => l.startsWith('X-Mail-Args: '))!
            .slice(13)
            .replace(/^<([^>]*)>.*$/, '$1');
          const to = head
            .filter((l) => l.startsWith('X-Rcpt-Args: '))
            .map((l) => l.slice(13).replace(/^<([^>]*)>.*$/, '$1'));
          return { from, to };
        }),
    stop: () => {
      execSync(`bash ${SMTP_SINK_SH} stop ${pid}`, { stdio: 'ignore' });
    },
  };
}

/** Postfix smtp-sink on 127.0.0.1 (nothing stored: it answers 250 to everything), for the benchmark. */
export async function startSmtpSink(): Promise<SmtpSink> {
  ensureSmtpSink();
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-smtpsink-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const child = spawn(
    '/usr/sbin/smtp-sink',
    ['-u', 'nobody', '-m', '1000', '-h', 'sink.test.local', `inet:127.0.0.1:${port}`, '1024'],
    { stdio: 'ignore', cwd: dir },
  );
  const pid = child.pid!;
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (up) break;
    if (child.exitCode !== null) throw new Error(`smtp-sink exited (${child.exitCode})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    pid,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}
