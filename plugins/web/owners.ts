/**
 * Who may use a list's owner page (/l/LIST/owner), with no password stored anywhere:
 *
 * - a one-time login link, mailed to an owner's (or moderator's) address: an HMAC-signed claim
 *   (list, address, expiry, a random nonce) under ctx.secret('owner-login'); used once (its nonce is
 *   written down when used, until it expires), refused when forged, expired, replayed or for another list;
 * - a session: a random id in a cookie (HttpOnly; SameSite=Strict; Path=/l/LIST; Secure over HTTPS), kept
 *   in the store only as its SHA-256, with its own CSRF token that every form carries;
 * - rate limits for the forms anyone can send (subscribe, ask for a login link), per client and per address.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { PluginStore } from '../../src/plugin.js';

export const MIGRATIONS = [
  `CREATE TABLE web_owner_links (
     nonce TEXT PRIMARY KEY,
     expires INTEGER NOT NULL
   );
   CREATE TABLE web_owner_sessions (
     id TEXT PRIMARY KEY,
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     address TEXT NOT NULL,
     csrf TEXT NOT NULL,
     flash TEXT,
     created INTEGER NOT NULL,
     expires INTEGER NOT NULL
   );`,
];
export const MIGRATION_PART = 'owners';

/** What a login link says: who may log in to which list until when. */
export interface LoginClaim {
  account: string;
  list: string;
  address: string;
  /** ms since the epoch. */
  expires: number;
  nonce: string;
}

const b64 = (b: Buffer) => b.toString('base64url');
const mac = (key: Buffer, payload: Buffer) => createHmac('sha256', key).update(payload).digest().subarray(0, 16);
const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

export function signLogin(key: Buffer, c: Omit<LoginClaim, 'nonce'>, nonce = b64(randomBytes(12))): string {
  const payload = Buffer.from(`owner1\n${c.account}\n${c.list}\n${c.address}\n${c.expires}\n${nonce}`, 'utf8');
  return `${b64(payload)}.${b64(mac(key, payload))}`;
}

/** The claim of a well-signed login token (expiry and use not checked here), or why it is refused. */
export function verifyLogin(key: Buffer, token: string): LoginClaim | { problem: string } {
  const bad = { problem: 'this login link is not valid (it was altered, cut short, or made by another server)' };
  if (typeof token !== 'string' || token.length > 1024) return bad;
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{22})$/.exec(token.trim());
  if (!m) return bad;
  const payload = Buffer.from(m[1]!, 'base64url');
  const given = Buffer.from(m[2]!, 'base64url');
  const want = mac(key, payload);
  if (given.length !== want.length || !timingSafeEqual(given, want)) return bad;
  const p = payload.toString('utf8').split('\n');
  if (p.length !== 6 || p[0] !== 'owner1' || !/^\d{1,15}$/.test(p[4]!)) return bad;
  return { account: p[1]!, list: p[2]!, address: p[3]!, expires: Number(p[4]), nonce: p[5]! };
}

export interface Session {
  account: string;
  list: string;
  address: string;
  csrf: string;
  flash: string | null;
  expires: number;
}

/** Login links used, and owner sessions, in the web account's slice of the store. */
export class OwnerAuth {
  private readonly q;
  constructor(
    private readonly store: PluginStore,
    private readonly key: Buffer,
  ) {
    store.migrate(MIGRATIONS, MIGRATION_PART);
    const p = (sql: string) => store.prepare(sql);
    this.q = {
      use: p('INSERT OR IGNORE INTO web_owner_links (nonce, expires) VALUES (?, ?)'),
      purgeLinks: p('DELETE FROM web_owner_links WHERE expires < ?'),
      addSession: p(
        'INSERT INTO web_owner_sessions (id, account, list, address, csrf, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      session: p(
        'SELECT account, list, address, csrf, flash, expires FROM web_owner_sessions WHERE id = ? AND expires >= ?',
      ),
      setFlash: p('UPDATE web_owner_sessions SET flash = ? WHERE id = ?'),
      drop: p('DELETE FROM web_owner_sessions WHERE id = ?'),
      purgeSessions: p('DELETE FROM web_owner_sessions WHERE expires < ?'),
    };
  }

  /** A new login link's token for `address` on a list, valid for `validMs`. */
  link(c: { account: string; list: string; address: string }, validMs: number, now = Date.now()): string {
    return signLogin(this.key, { ...c, expires: now + validMs });
  }

  /** What a link would log in as, without using it (the page that asks before logging in). */
  check(token: string, list: string, now = Date.now()): LoginClaim | { problem: string } {
    const c = verifyLogin(this.key, token);
    if ('problem' in c) return c;
    if (c.list !== list) return { problem: `this login link is for another list (${c.list}), not ${list}` };
    if (c.expires < now) return { problem: 'this login link has expired: ask for a new one below' };
    return c;
  }

  /** Use a link once: its claim, or why not (forged, expired, another list's, used already). */
  use(token: string, list: string, now = Date.now()): LoginClaim | { problem: string } {
    const c = this.check(token, list, now);
    if ('problem' in c) return c;
    if (this.q.use.run(c.nonce, c.expires).changes !== 1)
      return { problem: 'this login link was used already (each link works once): ask for a new one below' };
    return c;
  }

  /** A new session; its id (for the cookie) is kept only as a hash. */
  open(c: { account: string; list: string; address: string }, ttlMs: number, now = Date.now()): string {
    const id = b64(randomBytes(32));
    this.q.addSession.run(sha(id), c.account, c.list, c.address, b64(randomBytes(24)), now, now + ttlMs);
    return id;
  }

  session(id: string | undefined, now = Date.now()): Session | undefined {
    if (!id || id.length > 200) return undefined;
    return this.q.session.get(sha(id), now) as Session | undefined;
  }

  /** A one-time message for the next page of this session (after a form's redirect). */
  flash(id: string, text: string | null): void {
    this.q.setFlash.run(text, sha(id));
  }

  close(id: string): void {
    this.q.drop.run(sha(id));
  }

  purge(now = Date.now()): void {
    this.q.purgeLinks.run(now);
    this.q.purgeSessions.run(now);
  }
}

/** The two strings equal, in constant time. */
export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(sha(a), 'hex');
  const y = Buffer.from(sha(b), 'hex');
  return timingSafeEqual(x, y) && a === b;
}

/** A cookie's value from the request's Cookie header. */
export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the page was reached over HTTPS: the public URL says so, or a proxy does (X-Forwarded-Proto, Forwarded). */
export function overHttps(req: IncomingMessage, publicUrl: string | undefined): boolean {
  if (publicUrl?.startsWith('https://')) return true;
  const xfp = String(req.headers['x-forwarded-proto'] ?? '')
    .split(',')[0]!
    .trim()
    .toLowerCase();
  if (xfp === 'https') return true;
  return /(^|[;,\s])proto=("?)https\2(?=$|[;,\s])/i.test(String(req.headers.forwarded ?? ''));
}

/**
 * Why a form POST may not be from this site's own pages (a cross-site request), or undefined when it is:
 * a browser says where a request comes from with Sec-Fetch-Site and Origin; a program that sends neither is
 * judged by the CSRF token (or has nothing to gain, the public forms).
 */
export function crossSite(req: IncomingMessage, origins: readonly string[]): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return `the form was sent from another site (Sec-Fetch-Site: ${String(site).slice(0, 20)})`;
  const origin = req.headers.origin;
  // Under Referrer-Policy: no-referrer (every page here) a browser sends "Origin: null" even to its own site;
  // then Sec-Fetch-Site (which no page can forge) must say same-origin.
  if (origin === 'null' && site === 'same-origin') return undefined;
  if (origin !== undefined && !origins.includes(origin))
    return `the form was sent from another site (Origin: ${origin.slice(0, 100)})`;
  return undefined;
}

/** The client's address for rate limits: the peer's, or behind a proxy on loopback the one the proxy appended. */
export function clientAddress(req: IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? '';
  const loop = peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
  if (loop) {
    const xff = String(req.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const last = xff[xff.length - 1];
    if (last && isIP(last)) return last;
    const real = String(req.headers['x-real-ip'] ?? '').trim();
    if (real && isIP(real)) return real;
  }
  return peer.replace(/^::ffff:/, '');
}

/** At most `max` events per key within a sliding `perMs`; in memory (a restart forgets, which only loosens it). */
export class RateLimit {
  private readonly hits = new Map<string, number[]>();
  constructor(
    private max: number,
    private perMs: number,
  ) {}

  set(max: number, perMs: number): void {
    this.max = max;
    this.perMs = perMs;
  }

  /** Counts an event for every key, or none when any key is at its limit: the ms until it may be tried again. */
  take(keys: readonly string[], now = Date.now()): { ok: true } | { ok: false; retryAfterMs: number } {
    if (this.max <= 0) return { ok: true };
    let wait = 0;
    const lists = keys.map((k) => {
      const l = (this.hits.get(k) ?? []).filter((t) => now - t < this.perMs);
      if (l.length >= this.max) wait = Math.max(wait, l[0]! + this.perMs - now);
      return [k, l] as const;
    });
    for (const [k, l] of lists) {
      if (!wait) l.push(now);
      if (l.length) this.hits.set(k, l);
      else this.hits.delete(k);
    }
    return wait ? { ok: false, retryAfterMs: wait } : { ok: true };
  }

  /** Forget what is past its window (called now and then, so the map stays small). */
  sweep(now = Date.now()): void {
    for (const [k, l] of this.hits) if (!l.length || now - l[l.length - 1]! >= this.perMs) this.hits.delete(k);
  }

  get size(): number {
    return this.hits.size;
  }
}

/**
 * The preferences page's form token (its CSRF token): bound to the member's preferences token and signed under
 * ctx.secret('prefs-form'), valid for `validMs` from when the page was shown. A POST without it, with another
 * page's, or with an old one changes nothing: only a form this site showed for this link, lately, does.
 * Form: EXPIRES "." base64url(mac).
 */
export function prefsFormToken(key: Buffer, prefsToken: string, validMs: number, now = Date.now()): string {
  const expires = now + validMs;
  return `${expires}.${b64(mac(key, Buffer.from(`prefs-form1\n${prefsToken}\n${expires}`, 'utf8')))}`;
}

/** Why a form token is refused (forged, for another link, expired), or undefined when it is good. */
export function prefsFormProblem(
  key: Buffer,
  prefsToken: string,
  formToken: string,
  now = Date.now(),
): string | undefined {
  const m = /^(\d{1,15})\.([A-Za-z0-9_-]{22})$/.exec(formToken);
  if (!m) return 'the form is not from this site (it has no good form token)';
  const want = b64(mac(key, Buffer.from(`prefs-form1\n${prefsToken}\n${m[1]}`, 'utf8')));
  if (!sameToken(m[2]!, want)) return 'the form is not from this site (its form token is not valid for this link)';
  if (Number(m[1]) < now) return 'the form is too old';
  return undefined;
}
