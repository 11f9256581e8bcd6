/**
 * Real finger peers for the integration tests: the bsd `finger` client, netkit
 * `in.fingerd` under `socat` (through test/peers/fingerd.sh), and raw sockets.
 *
 * The peers must be there: when one is missing and we run as root, they are
 * installed by test/peers/install.sh (as .ci/run does); when not root, the test
 * fails with the command that installs them. Never a silent skip.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { requirePeer } from './require.js';

export const FINGERD_SH = fileURLToPath(new URL('../../../test/peers/fingerd.sh', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/finger/', import.meta.url));

/** finger, in.fingerd and socat are installed (see ./require.ts: installed as root, else a failure with the command). */
export function ensureFingerPeers(): void {
  requirePeer('finger', 'fingerd', 'socat');
}

/** A free TCP port on 127.0.0.1 (for peers that cannot report the port they got). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Fingerd {
  port: number;
  /** Put plan files here: plans/<user>. */
  dir: string;
  stop(): void;
}

/** netkit in.fingerd under socat on 127.0.0.1:port, answering with the files in DIR/plans. */
export async function startFingerd(): Promise<Fingerd> {
  ensureFingerPeers();
  // in.fingerd drops to nobody: the directory must be reachable by everyone (not mkdtemp's 0700 parents).
  const dir = mkdtempSync('/tmp/pp-fingerd-');
  chmodSync(dir, 0o755);
  const port = await freePort();
  const pid = execFileSync(FINGERD_SH, ['start', String(port), dir, 'plans'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
    .trim()
    .split('\n')
    .pop()!;
  return {
    port,
    dir,
    stop() {
      execFileSync(FINGERD_SH, ['stop', pid], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Send raw bytes to a finger server, resolve with the whole answer (as latin1, to see every byte) once it closes. */
export function rawQuery(
  port: number,
  data: string | Buffer,
  opts: { host?: string; timeoutMs?: number; endAfterWrite?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: opts.host ?? '127.0.0.1', port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from 127.0.0.1:${port} within ${opts.timeoutMs ?? 5000} ms`));
    }, opts.timeoutMs ?? 5000);
    s.on('connect', () => {
      s.write(data);
      if (opts.endAfterWrite) s.end();
    });
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close while a big query is still being written: what it answered counts.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      clearTimeout(t);
      reject(err);
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

/** The port a finger account listens on, from the daemon's log ("finger.x is listening: 127.0.0.1:PORT"). */
export async function listeningPort(
  waitForLog: (re: RegExp, ms?: number) => Promise<string>,
  account: string,
): Promise<number> {
  const line = await waitForLog(new RegExp(`${account.replace('.', '\\.')} is listening: 127\\.0\\.0\\.1:(\\d+)`));
  return Number(new RegExp(`${account.replace('.', '\\.')} is listening: 127\\.0\\.0\\.1:(\\d+)`).exec(line)![1]);
}
