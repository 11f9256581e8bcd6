/**
 * DMARC look-ups for From rewriting: does the author's domain publish
 * p=quarantine or p=reject? Answers are cached (cacheTtl), fixed policies from
 * the config win, and the resolver is injectable so tests run offline.
 *
 * Organisational domain: when _dmarc.mail.example.org has no record, the
 * organisational domain's record is used (its sp= when given, else p=), as
 * RFC 7489 section 6.6.3 asks. Finding the organisational domain properly needs
 * the Public Suffix List; we keep it simple and documented: the last two
 * labels, or the last three when the second-to-last is a common second-level
 * registry label under a two-letter country code (co.uk, com.au, ne.jp ...).
 */
import { resolveTxt } from 'node:dns/promises';
import type { DmarcPolicy } from './schema.js';

export interface DmarcResolver {
  /** Like node:dns/promises resolveTxt: each record as its character strings. Rejects with code ENOTFOUND/ENODATA when there is none. */
  resolveTxt(name: string): Promise<string[][]>;
}

export const systemResolver: DmarcResolver = { resolveTxt };

/** What we know of a domain's policy; 'unknown' when DNS did not answer (treated like quarantine: rewrite to be safe). */
export type PolicyAnswer = DmarcPolicy | 'unknown';

/** Top-level names that never resolve (RFC 6761 special-use names, and mDNS's .local). */
const SPECIAL_USE = new Set(['test', 'example', 'invalid', 'localhost', 'local']);

const SECOND_LEVEL = new Set([
  'co',
  'com',
  'net',
  'org',
  'ac',
  'gov',
  'edu',
  'ne',
  'or',
  'go',
  'gv',
  'mil',
  'nic',
  'ltd',
  'plc',
  'sch',
]);

export function organisationalDomain(domain: string): string {
  const labels = domain.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length <= 2) return labels.join('.');
  const tld = labels[labels.length - 1]!;
  const sld = labels[labels.length - 2]!;
  const keep = tld.length === 2 && SECOND_LEVEL.has(sld) ? 3 : 2;
  return labels.slice(-keep).join('.');
}

/** The p= (or, for a subdomain under an organisational record, sp=) of a DMARC record; undefined when the record is not DMARC. */
export function parseDmarcRecord(txt: string, forSubdomain: boolean): DmarcPolicy | undefined {
  const tags = new Map<string, string>();
  for (const part of txt.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    tags.set(
      part.slice(0, eq).trim().toLowerCase(),
      part
        .slice(eq + 1)
        .trim()
        .toLowerCase(),
    );
  }
  if (tags.get('v') !== 'dmarc1') return undefined;
  const pick = (forSubdomain ? tags.get('sp') : undefined) ?? tags.get('p');
  return pick === 'none' || pick === 'quarantine' || pick === 'reject' ? pick : 'none';
}

function noRecord(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA' || code === 'NXDOMAIN';
}

export class DmarcCache {
  private readonly cache = new Map<string, { policy: PolicyAnswer; until: number }>();
  private readonly inflight = new Map<string, Promise<PolicyAnswer>>();

  constructor(
    private readonly resolver: DmarcResolver,
    private readonly opts: {
      cacheTtlMs: number;
      timeoutMs: number;
      policies?: Readonly<Record<string, DmarcPolicy>>;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** The policy that applies to mail From this domain. */
  async policy(domain: string): Promise<PolicyAnswer> {
    const d = domain.toLowerCase().replace(/\.$/, '');
    const fixed = this.opts.policies?.[d] ?? this.opts.policies?.[organisationalDomain(d)];
    if (fixed) return fixed;
    // Names that never resolve (RFC 6761 special-use, mDNS): no record to find, so no DNS query.
    if (SPECIAL_USE.has(d.slice(d.lastIndexOf('.') + 1))) return 'none';
    const hit = this.cache.get(d);
    if (hit && hit.until > this.now()) return hit.policy;
    const running = this.inflight.get(d);
    if (running) return running;
    const p = this.lookup(d).finally(() => this.inflight.delete(d));
    this.inflight.set(d, p);
    return p;
  }

  private async lookup(d: string): Promise<PolicyAnswer> {
    let policy: PolicyAnswer;
    try {
      const own = await this.record(d, false);
      const org = organisationalDomain(d);
      policy = own ?? (org !== d ? await this.record(org, true) : undefined) ?? 'none';
    } catch {
      policy = 'unknown';
    }
    // A failed look-up is remembered briefly, an answer for cacheTtl.
    const ttl = policy === 'unknown' ? Math.min(this.opts.cacheTtlMs, 300_000) : this.opts.cacheTtlMs;
    this.cache.set(d, { policy, until: this.now() + ttl });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return policy;
  }

  /** The DMARC policy published at _dmarc.<domain>, or undefined when there is no record. Throws on DNS trouble. */
  private async record(domain: string, forSubdomain: boolean): Promise<DmarcPolicy | undefined> {
    let txts: string[][];
    try {
      txts = await withTimeout(this.resolver.resolveTxt(`_dmarc.${domain}`), this.opts.timeoutMs);
    } catch (err) {
      if (noRecord(err)) return undefined;
      throw err;
    }
    let found: DmarcPolicy | undefined;
    for (const rec of txts) {
      const p = parseDmarcRecord(rec.join(''), forSubdomain);
      if (p !== undefined) {
        found = p;
        break;
      }
    }
    return found;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error(`no DNS answer within ${ms} ms`), { code: 'ETIMEOUT' })),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}
