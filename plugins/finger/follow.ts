/**
 * Following a remote plan: the target "follow:user@host[:port]", one finger
 * query with a timeout and a size cap, and the schedule (interval, backoff).
 */
import { connect } from 'node:net';
import { backoffDelay, spread } from '../../src/plugin.js';

export const FOLLOW_PREFIX = 'follow:';
/** The most a followed plan may answer; more is cut off (and logged). */
export const MAX_ANSWER_BYTES = 1 << 20;

export interface FollowAddress {
  user: string;
  host: string;
  port: number;
  /** "user@host" or "user@host:port", as written. */
  address: string;
}

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])$/;

/** Parse "user@host", "user@host:7979", "user@[::1]:79"; a string says what is wrong. */
export function parseFollow(spec: string): FollowAddress | string {
  const at = spec.lastIndexOf('@');
  if (at <= 0) return `"${spec}" is not user@host (follow:dk@telekommunisten.net, or follow:dk@host:7979)`;
  const user = spec.slice(0, at);
  let hostPart = spec.slice(at + 1);
  if (!/^[A-Za-z0-9._+-]+$/.test(user)) return `"${user}" is not a finger user name (letters, digits, . _ + -)`;
  let port = 79;
  const m = /^(.*):(\d+)$/.exec(hostPart);
  if (m && !(hostPart.startsWith('[') && !hostPart.includes(']:'))) {
    hostPart = m[1]!;
    port = Number(m[2]);
    if (port < 1 || port > 65535) return `port ${port} is out of range (1-65535)`;
  }
  if (!hostPart || !HOST.test(hostPart)) return `"${hostPart}" is not a host name or address`;
  return { user, host: hostPart.replace(/^\[|\]$/g, ''), port, address: spec };
}

/** validateTarget: a served plan's name, or follow:user@host[:port]. */
export function targetProblem(target: string): string | undefined {
  if (target.startsWith(FOLLOW_PREFIX)) {
    const r = parseFollow(target.slice(FOLLOW_PREFIX.length));
    return typeof r === 'string' ? r : undefined;
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(target))
    return `"${target}" is not a finger name (up to 32 letters, digits, . _ -; or follow:user@host to follow a remote plan)`;
  return undefined;
}

/** One finger query: send "user\r\n", read to the close. Rejects on timeout, refusal or a reset. */
export function fingerQuery(
  host: string,
  port: number,
  query: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ text: string; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let settled = false;
    const sock = connect({ host, port });
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve({ text: Buffer.concat(chunks).toString('utf8'), truncated });
    };
    const timer = setTimeout(() => finish(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => finish(new Error('stopped'));
    signal?.addEventListener('abort', onAbort);
    sock.on('connect', () => sock.write(`${query}\r\n`));
    sock.on('data', (d: Buffer) => {
      if (size + d.length > MAX_ANSWER_BYTES) {
        chunks.push(d.subarray(0, MAX_ANSWER_BYTES - size));
        truncated = true;
        finish();
        return;
      }
      chunks.push(d);
      size += d.length;
    });
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', (err) => finish(err));
  });
}

/**
 * The wait before the next poll: the interval spread by ±10 % (so many followers
 * do not poll in step), or after `failures` failures in a row the plugin API's
 * backoff from twice the interval up to `maxBackoffMs` (between half and all of
 * the interval doubled per failure), never below the interval.
 */
export function nextDelay(
  intervalMs: number,
  failures: number,
  maxBackoffMs: number,
  rnd: () => number = Math.random,
): number {
  if (failures === 0) return spread(intervalMs, rnd);
  const o = { firstMs: 2 * intervalMs, maxMs: Math.max(intervalMs, maxBackoffMs) };
  return Math.max(intervalMs, backoffDelay(failures, o, rnd));
}
