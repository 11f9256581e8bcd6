/**
 * Schema pieces shared by the core and plugins: durations, listen addresses (parsed and shown).
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/** "250ms", "30s", "10m", "2h", "7d", "2w", "2y" (365 days), "1h30m", or a bare number of seconds. Returns milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  return end === s.length && end > 0 ? Math.round(total) : undefined;
}

/** A duration in the config, as milliseconds. */
export function duration(def?: string) {
  const base = z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `"${String(v)}" is not a duration (expected a number of seconds or e.g. 500ms, 30s, 10m, 2h, 7d)`,
      });
      return z.NEVER;
    }
    return ms;
  });
  return def === undefined ? base : base.default(parseDuration(def) as never);
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** An address as people write it: "127.0.0.1:1119", "[::1]:1119" (an IPv6 address in brackets), "news.example:119". */
export function formatAddress(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Parse "127.0.0.1:1119", "[::1]:1119", "localhost:80" or a bare port (loopback). The inverse of formatAddress(). */
export function parseListen(v: unknown, defaultHost = '127.0.0.1'): ListenAddress | string {
  if (typeof v === 'number') v = String(v);
  if (typeof v !== 'string') return 'expected "host:port" or a port number';
  const s = v.trim();
  let host = defaultHost;
  let portText = s;
  const m6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (m6) {
    host = m6[1]!;
    portText = m6[2]!;
  } else if (s.includes(':')) {
    const i = s.lastIndexOf(':');
    host = s.slice(0, i);
    portText = s.slice(i + 1);
    if (host.includes(':')) return 'write an IPv6 address in brackets, e.g. [::1]:1119';
  }
  if (!/^\d+$/.test(portText)) return `"${s}" has no port (expected "host:port", e.g. 127.0.0.1:1119)`;
  const port = Number(portText);
  if (port > 65535) return `port ${port} is out of range (0-65535)`;
  if (host === '') return `"${s}" has an empty host`;
  return { host, port };
}

/**
 * True when a listener on `host` is reachable from this machine only: localhost,
 * 127.0.0.0/8, ::1 (and ::ffff:127.x). 0.0.0.0, :: and every other address
 * are reachable from the network.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  if (isIP(h) === 6) return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || h === '::1';
  return false;
}

/** A listen address in the config: "host:port" or a port (on 127.0.0.1). */
export function listenAddress(def?: string) {
  const base = z.union([z.string(), z.number()]).transform((v, ctx) => {
    const r = parseListen(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  });
  return def === undefined ? base : base.default(parseListen(def) as never);
}

/** A remote "host:port", with the protocol's default port when left out. */
export function hostPort(defaultPort: number) {
  return z.string().transform((v, ctx) => {
    const withPort = /^\[[^\]]*\]$/.test(v) || !v.includes(':') ? `${v}:${defaultPort}` : v;
    const r = parseListen(withPort, '');
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  });
}
