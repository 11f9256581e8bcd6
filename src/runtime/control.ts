/**
 * The control socket: a Unix socket in the data directory (mode 0600) through
 * which the CLI talks to a running daemon. One JSON request line, one JSON
 * answer line, close.
 */
import { createServer, createConnection, type Server } from 'node:net';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingPost } from '../post.js';

export const SOCKET_FILE = 'peerpost.sock';
export const socketPath = (dataDir: string) => join(dataDir, SOCKET_FILE);

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'post'; bridge: string; from?: string; subject?: string; body: string }
  /** One batch of `peerpost import`: stored by the daemon's core, in one group commit. */
  | { cmd: 'import'; bridge: string; deliver: boolean; posts: IncomingPost[] }
  | { cmd: 'retry'; row?: number; all?: boolean; bridge?: string }
  | { cmd: 'drop'; row: number }
  | { cmd: 'reload' }
  | { cmd: 'remove'; ids?: string[]; author?: string; reason: string; by: string }
  | { cmd: 'plugin'; name: string; args: string[]; cwd: string; json: boolean };

export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

const MAX_REQUEST = 16 * 1024 * 1024;

/** Ask the daemon; undefined when none answers on this data directory. */
export function ask(dataDir: string, req: ControlRequest, timeoutMs = 30_000): Promise<unknown | undefined> {
  const path = socketPath(dataDir);
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) return resolve(undefined);
    const sock = createConnection(path);
    let buf = '';
    let connected = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`peerpost did not answer on ${path} within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      connected = true;
      sock.write(JSON.stringify(req) + '\n');
    });
    sock.on('data', (d: string) => {
      buf += d;
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf));
      } catch {
        reject(new Error(`peerpost answered something unreadable on ${path}`));
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected && (err.code === 'ECONNREFUSED' || err.code === 'ENOENT')) resolve(undefined);
      else reject(err);
    });
  });
}

/**
 * Serve the control socket. Refuses to start when another daemon answers on it;
 * a stale socket file (left by a killed daemon) is replaced.
 */
export async function serveControl(dataDir: string, handler: ControlHandler): Promise<Server> {
  const path = socketPath(dataDir);
  if (Buffer.byteLength(path) > 100)
    throw new Error(
      `the control socket path ${path} is too long for a Unix socket (100 bytes at most): use a shorter node.data path`,
    );
  const other = await ask(dataDir, { cmd: 'status' }, 3000).catch(() => undefined);
  if (other !== undefined) {
    const pid = (other as { pid?: number }).pid;
    throw new Error(
      `another peerpost${pid ? ` (pid ${pid})` : ''} is already running on the data directory ${dataDir}; stop it first, or give this one another node.data`,
    );
  }
  if (existsSync(path)) unlinkSync(path);
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_REQUEST) return sock.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let req: ControlRequest;
      try {
        req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
      } catch {
        sock.end(JSON.stringify({ error: 'unreadable request' }) + '\n');
        return;
      }
      handler(req).then(
        (answer) => sock.end(JSON.stringify(answer ?? null) + '\n'),
        (err: Error) => sock.end(JSON.stringify({ error: err.message }) + '\n'),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}

export function closeControl(server: Server, dataDir: string): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    try {
      unlinkSync(socketPath(dataDir));
    } catch {
      /* already gone */
    }
  });
}
