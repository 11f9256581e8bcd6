/**
 * Helpers for the nntp peering tests and bench/nntp.ts: a real INN 2.7
 * (test/peers/inn2.sh) on 127.0.0.1, and Python's nntplib as the newsreader.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from './irc-helpers.js';
import { requirePeer, requireRoot } from '../peers/require.js';

const CLIENT = fileURLToPath(new URL('../../../test/peers/nntp_client.py', import.meta.url));
export const INN2_SH = fileURLToPath(new URL('../../../test/peers/inn2.sh', import.meta.url));

/**
 * inn2 (test/peers/require.ts: installed as root, else a failure with the command). innd runs only as user and
 * group news (it checks), which only root can switch to: not root, a failure with the one command that runs the
 * test as root (which also installs inn2 when it is missing), rather than test/peers/inn2.sh's refusal later.
 */
export function ensureInn(): void {
  requireRoot(
    "INN's innd runs only as user and group news (it checks), which only root can start it as",
    'as root it also installs inn2 when it is missing',
  );
  requirePeer('inn2');
}

export interface Inn {
  pid: number;
  port: number;
  dir: string;
  stop(): void;
}

/** A private INN on 127.0.0.1 with these groups. */
export async function startInn(groups: string[], env: Record<string, string> = {}, at?: number): Promise<Inn> {
  const port = at ?? (await freePort());
  const dir = mkdtempSync('/tmp/pp-inn2.');
  chmodSync(dir, 0o755);
  const out = execFileSync('bash', [INN2_SH, 'start', String(port), dir, ...groups], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
  const pid = Number(out.trim().split('\n').pop());
  assert.ok(pid > 0, `inn2.sh start printed no pid: ${out}`);
  return {
    pid,
    port,
    dir,
    stop: () => {
      execFileSync('bash', [INN2_SH, 'stop', String(pid), dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type Op = (string | number)[];
export interface OpResult {
  ok: boolean;
  value?: any;
  code?: string;
  error?: string;
}
/** Run operations on one nntplib connection; mode true sends MODE READER first, "ssl:CAFILE" connects with TLS. */
export function nntplib(port: number, ops: Op[], mode: boolean | string = false): Promise<OpResult[]> {
  return new Promise((resolve, reject) => {
    const extra = mode === true ? ['reader'] : typeof mode === 'string' ? [mode] : [];
    const p = spawn('python3', [CLIENT, String(port), ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`nntp_client.py exited ${code}: ${err}${out}`));
      }
    });
    p.stdin.end(JSON.stringify(ops));
  });
}
