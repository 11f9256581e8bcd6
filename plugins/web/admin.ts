/**
 * Who may see the operator's pages (/status, /metrics, the details of
 * /healthz): a client whose address is in `admin.allow` (loopback by default)
 * and that did not come through a proxy, or anyone presenting the admin
 * bearer token. Everyone else is refused with a short text saying how to get in.
 *
 * Behind a reverse proxy every client is 127.0.0.1, so the address alone would
 * open the pages to the whole internet. Two rules keep that from happening:
 * a request carrying a proxy's header (Forwarded, X-Forwarded-For, X-Real-IP,
 * …) is never let in by its address; and when publicUrl is set (the site is
 * published, so a proxy is likely in front, and it may send none of those
 * headers) no address is let in unless `admin.allow` is written out.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { LOOPBACK_RANGES, type Config } from './schema.js';

/** Headers a reverse proxy adds; one of them present means the peer address is the proxy's. */
export const PROXY_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'via',
] as const;

export type AdminVerdict =
  | { ok: true; why: 'address' | 'token' }
  | { ok: false; status: 401 | 403; text: string; headers: Record<string, string> };

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The ranges let in by address: `admin.allow` as written, else loopback (none when publicUrl is set). */
export function allowedRanges(c: Pick<Config, 'admin' | 'publicUrl'>): readonly string[] {
  return c.admin.allow ?? (c.publicUrl ? [] : LOOPBACK_RANGES);
}

function blockList(ranges: readonly string[]): BlockList {
  const b = new BlockList();
  for (const r of ranges) {
    const [addr, bits] = r.split('/');
    const type = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) b.addAddress(addr!, type);
    else b.addSubnet(addr!, Number(bits), type);
  }
  return b;
}

/** A judge for one config (the ranges are parsed once). */
export class Admin {
  private readonly allow: BlockList;
  private readonly ranges: readonly string[];
  private readonly digest: Buffer | undefined;

  constructor(c: Pick<Config, 'admin' | 'publicUrl'>) {
    this.ranges = allowedRanges(c);
    this.allow = blockList(this.ranges);
    this.digest = c.admin.token === undefined ? undefined : sha(c.admin.token);
  }

  /** A request's address is let in: in the ranges, and not relayed by a proxy. */
  private byAddress(req: IncomingMessage): boolean {
    if (PROXY_HEADERS.some((h) => req.headers[h] !== undefined)) return false;
    const a = req.socket.remoteAddress;
    if (!a) return false;
    const family = isIP(a);
    return family !== 0 && this.allow.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * May this request see `what` (a path, for the text)? A request that presents
   * a bearer token is judged by the token alone: a wrong one is refused even
   * from loopback. Another kind of Authorization (Basic, from a proxy's own
   * login) is not a token: the address decides.
   */
  judge(req: IncomingMessage, what: string): AdminVerdict {
    const m = /^Bearer[ ]+(\S*)\s*$/i.exec(req.headers.authorization ?? '');
    const challenge = { 'WWW-Authenticate': 'Bearer realm="peerpost admin"' };
    if (m) {
      // Hash both sides and compare the digests: equal lengths, constant time, whatever was sent.
      const good = this.digest !== undefined && timingSafeEqual(sha(m[1]!), this.digest);
      if (good) return { ok: true, why: 'token' };
      return {
        ok: false,
        status: 401,
        headers: challenge,
        text:
          this.digest === undefined
            ? `${what} takes no token here: none is configured (set admin.token in the web account of the config).`
            : `The token is not the admin token of this server (admin.token in the web account of the config).`,
      };
    }
    if (this.byAddress(req)) return { ok: true, why: 'address' };
    const proxied = PROXY_HEADERS.some((h) => req.headers[h] !== undefined);
    const reason = proxied
      ? 'it is not shown to requests that come through a proxy'
      : this.ranges.length === 0
        ? 'it is shown to no address without the token here'
        : 'it is not shown to this address';
    if (this.digest !== undefined)
      return {
        ok: false,
        status: 401,
        headers: challenge,
        text: `${what} is for the operators of this server, and ${reason}: send the admin token as "Authorization: Bearer TOKEN".`,
      };
    return {
      ok: false,
      status: 403,
      headers: {},
      text:
        this.ranges.length === 0
          ? `${what} is for the operators of this server, and ${reason}. Set admin.token in the web account of the config and send it as "Authorization: Bearer TOKEN" (or list the addresses to let in under admin.allow).`
          : `${what} is for the operators of this server, and ${reason}. Open it from an address in admin.allow (loopback by default), not through the proxy, or set admin.token in the web account of the config and send it as "Authorization: Bearer TOKEN".`,
    };
  }
}
