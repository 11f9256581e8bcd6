/**
 * Bearer tokens for posting. A presented token is hashed and compared with
 * every configured token's hash by crypto.timingSafeEqual (equal lengths
 * always), and every token is compared, so the time taken says nothing about
 * which token, or how much of one, matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenConfig } from './schema.js';

export interface Grant {
  name: string;
  /** Bridge names; "*" for all. */
  bridges: ReadonlySet<string>;
}

const hash = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class Tokens {
  private readonly entries: { digest: Buffer; grant: Grant }[];
  constructor(tokens: readonly TokenConfig[]) {
    this.entries = tokens.map((t) => ({ digest: hash(t.token), grant: { name: t.name, bridges: new Set(t.bridges) } }));
  }

  /** Posting is on only when some token is configured. */
  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** The grant of a presented token, or undefined. */
  check(presented: string): Grant | undefined {
    const d = hash(presented);
    let found: Grant | undefined;
    for (const e of this.entries) if (timingSafeEqual(d, e.digest) && !found) found = e.grant;
    return found;
  }

  /** The grant of an `Authorization: Bearer TOKEN` header, or why not. */
  fromHeader(header: string | undefined): Grant | { problem: string } {
    if (!header) return { problem: 'no token: send Authorization: Bearer TOKEN' };
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
    if (!m) return { problem: 'the Authorization header is not "Bearer TOKEN"' };
    return this.check(m[1]!) ?? { problem: 'the token is not valid' };
  }
}

export const mayPost = (g: Grant, bridge: string) => g.bridges.has('*') || g.bridges.has(bridge);
