/**
 * Ban lists (issue 16, "Ban lists per list and per node"): addresses that may neither post to a list nor
 * subscribe to it, and get no robot mail from it. Three kinds of pattern, compared without case:
 *
 *   spammer@example.org      one address
 *   *@spam.example           a glob over the whole address: * any run of characters, ? one character
 *   /^bot[0-9]+@example\.org$/   a regular expression (JavaScript syntax, always case-insensitive; unanchored
 *                            unless it says ^ and $)
 *
 * They come from the config (`bans:` on a list endpoint, and on the mail account for all its lists) and from run
 * time (a `ban` decision on a held post, `peerpost bans LIST add`, the owner page), kept in the plugin's table
 * mail_bans (its own migration part "moderation").
 */
import { z } from '../../src/plugin.js';
import type { PluginStore } from '../../src/plugin.js';
import { addressProblem, normaliseAddress } from './lists.js';

export type BanKind = 'address' | 'glob' | 'regex';

export interface BanPattern {
  /** Normal form: addresses and globs lower-case, a regex as written. */
  pattern: string;
  kind: BanKind;
  test(address: string): boolean;
}

const MAX_PATTERN = 300;

/** Read a ban pattern, or say why it cannot be one. */
export function parseBan(text: string): BanPattern | { problem: string } {
  const p = text.trim();
  if (!p) return { problem: 'an empty ban pattern' };
  if (p.length > MAX_PATTERN)
    return { problem: `the ban pattern "${p.slice(0, 40)}…" is longer than ${MAX_PATTERN} characters` };
  if (p.startsWith('/')) {
    const m = /^\/(.+)\/(i?)$/s.exec(p);
    if (!m) return { problem: `"${p}" is not a ban pattern: a regular expression is written /…/ (optionally /…/i)` };
    let re: RegExp;
    try {
      re = new RegExp(m[1]!, 'i');
    } catch (err) {
      return {
        problem: `"${p}" is not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`,
      };
    }
    return { pattern: p, kind: 'regex', test: (a) => re.test(normaliseAddress(a)) };
  }
  const lower = p.toLowerCase();
  if (/[*?]/.test(lower)) {
    if (!lower.includes('@'))
      return { problem: `"${p}" is not a ban pattern: a glob names a whole address, e.g. *@spam.example` };
    if (/[\s<>(),;:"\\]/.test(lower))
      return { problem: `"${p}" is not a ban pattern: it has characters no address has` };
    const re = new RegExp(
      `^${lower
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
        .join('')}$`,
      's',
    );
    return { pattern: lower, kind: 'glob', test: (a) => re.test(normaliseAddress(a)) };
  }
  const problem = addressProblem(lower);
  if (problem)
    return { problem: `"${p}" is not a ban pattern: write an address, a glob such as *@spam.example, or /regex/` };
  return { pattern: lower, kind: 'address', test: (a) => normaliseAddress(a) === lower };
}

export function banProblem(text: string): string | undefined {
  const b = parseBan(text);
  return 'problem' in b ? b.problem : undefined;
}

/** `bans:` in the config: a list of patterns, each checked at load (a bad regex names its key). */
export const banList = z.array(
  z.string().superRefine((v, ctx) => {
    const p = banProblem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  }),
);

const compiled = new Map<string, BanPattern | undefined>();
/** A pattern read once (config and table patterns are checked before they get here; a bad one never matches). */
function compiledBan(p: string): BanPattern | undefined {
  let b = compiled.get(p);
  if (b === undefined && !compiled.has(p)) {
    const r = parseBan(p);
    b = 'problem' in r ? undefined : r;
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(p, b);
  }
  return b;
}

/** The first pattern of `patterns` that matches the address. */
export function firstMatch(patterns: readonly string[], address: string): string | undefined {
  for (const p of patterns) if (compiledBan(p)?.test(address)) return p;
  return undefined;
}

export const MODERATION_MIGRATIONS = [
  `CREATE TABLE mail_bans (
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     pattern TEXT NOT NULL,
     by TEXT NOT NULL,
     added INTEGER NOT NULL,
     PRIMARY KEY (account, list, pattern)
   );
   CREATE TABLE mail_decisions (
     account TEXT NOT NULL,
     held_id INTEGER NOT NULL,
     list TEXT NOT NULL,
     action TEXT NOT NULL,
     by TEXT NOT NULL,
     sender TEXT NOT NULL,
     subject TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (account, held_id)
   );
   CREATE INDEX mail_decisions_by_time ON mail_decisions(account, at);`,
];
export const MODERATION_PART = 'moderation';

export interface AddedBan {
  pattern: string;
  by: string;
  added: number;
}

export interface Decision {
  id: number;
  list: string;
  /** approve, reject, discard, ban, or expired (held.expire). */
  action: string;
  by: string;
  sender: string;
  subject: string;
  at: number;
}

/** Bans added at run time, and the log of decisions on held posts (a replayed token is told who decided). */
export class ModerationStore {
  private readonly q;
  constructor(
    private readonly store: PluginStore,
    private readonly account: string,
  ) {
    store.migrate(MODERATION_MIGRATIONS, MODERATION_PART);
    const p = (sql: string) => store.prepare(sql);
    this.q = {
      bans: p('SELECT pattern, by, added FROM mail_bans WHERE account = ? AND list = ? ORDER BY added, pattern'),
      ban: p('INSERT OR IGNORE INTO mail_bans (account, list, pattern, by, added) VALUES (?, ?, ?, ?, ?)'),
      unban: p('DELETE FROM mail_bans WHERE account = ? AND list = ? AND pattern = ?'),
      decided: p(
        'SELECT held_id AS id, list, action, by, sender, subject, at FROM mail_decisions WHERE account = ? AND held_id = ?',
      ),
      decide: p(
        'INSERT OR REPLACE INTO mail_decisions (account, held_id, list, action, by, sender, subject, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      purge: p('DELETE FROM mail_decisions WHERE account = ? AND at < ?'),
    };
  }

  added(list: string): AddedBan[] {
    return this.q.bans.all(this.account, list) as AddedBan[];
  }
  /** True when it was added (false: banned already). The pattern must have passed parseBan. */
  ban(list: string, pattern: string, by: string, now = Date.now()): boolean {
    return this.q.ban.run(this.account, list, pattern, by, now).changes === 1;
  }
  unban(list: string, pattern: string): boolean {
    return this.q.unban.run(this.account, list, pattern).changes === 1;
  }
  decided(id: number): Decision | undefined {
    return this.q.decided.get(this.account, id) as Decision | undefined;
  }
  record(d: Decision): void {
    this.q.decide.run(this.account, d.id, d.list, d.action, d.by, d.sender, d.subject, d.at);
  }
  /** Forget decisions older than `before` (a token older than that is told "no held post"). */
  purge(before: number): void {
    this.q.purge.run(this.account, before);
  }
  transaction<T>(fn: () => T): T {
    return this.store.transaction(fn);
  }
}
