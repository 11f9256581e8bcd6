/**
 * Members' settings (issue 16, "Members"): how each subscriber gets the list — each post, the digest, or no
 * mail (until a day) — the digest's form, and whether they get their own posts back. Kept in a table of their
 * own (migration part "members"), one row per member who changed something; a member without a row has the
 * defaults. A trigger forgets the row when the subscriber is removed, so a member who comes back starts afresh.
 *
 * The same words set them by mail (`set digest plain` to LIST-request@), from the CLI
 * (`peerpost subscribers LIST set ADDRESS digest plain`) and, as a change object, from the web's preferences page.
 */
import type { PluginStore } from '../../src/plugin.js';
import { normaliseAddress } from './lists.js';
import type { DeliveryMode, DigestFormat, MemberSettings, MemberSettingsChange } from './services.js';

export const MEMBER_MIGRATIONS = [
  `CREATE TABLE mail_member_settings (
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     address TEXT NOT NULL,
     mode TEXT NOT NULL DEFAULT 'each',
     digest_format TEXT NOT NULL DEFAULT 'mime',
     nomail_until TEXT,
     own_posts INTEGER NOT NULL DEFAULT 1,
     changed INTEGER NOT NULL,
     PRIMARY KEY (account, list, address)
   );
   CREATE TRIGGER mail_member_settings_gone AFTER DELETE ON mail_subscribers BEGIN
     DELETE FROM mail_member_settings WHERE account = old.account AND list = old.list AND address = old.address;
   END;`,
  // One last digest (as Mailman's): a member who leaves digest mode still gets the posts the open digest gathered
  // while they were in it, when it closes. left_at: when they left (the posts added until then are theirs);
  // volume and issue: set when that digest closes (plugins/mail/digest.ts), NULL until then.
  `CREATE TABLE mail_digest_last (
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     address TEXT NOT NULL,
     format TEXT NOT NULL,
     left_at INTEGER NOT NULL,
     volume INTEGER,
     issue INTEGER
   );
   CREATE UNIQUE INDEX mail_digest_last_open ON mail_digest_last (account, list, address) WHERE issue IS NULL;
   CREATE INDEX mail_digest_last_by_issue ON mail_digest_last (account, list, volume, issue);
   CREATE TRIGGER mail_digest_last_gone AFTER DELETE ON mail_subscribers BEGIN
     DELETE FROM mail_digest_last WHERE account = old.account AND list = old.list AND address = old.address AND issue IS NULL;
   END;`,
];
export const MEMBER_MIGRATION_PART = 'members';

export const DEFAULT_SETTINGS: MemberSettings = Object.freeze({
  mode: 'each',
  digestFormat: 'mime',
  nomailUntil: null,
  ownPosts: true,
}) as MemberSettings;

/** "2027-01-10" of a time, in UTC. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** A day as written in `set nomail until DAY`: YYYY-MM-DD, a real date. */
export function dayProblem(day: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day))
    return `"${day.slice(0, 40)}" is not a day: write it as YYYY-MM-DD, e.g. 2027-01-10`;
  const d = new Date(`${day}T00:00:00Z`);
  if (!Number.isFinite(d.getTime()) || dayOf(d.getTime()) !== day) return `${day} is not a day of the calendar`;
  return undefined;
}

/** The settings as they act now: a nomail whose day has come is each again. */
export function effective(s: MemberSettings, now = Date.now()): MemberSettings {
  if (s.mode === 'nomail' && s.nomailUntil !== null && s.nomailUntil <= dayOf(now))
    return { ...s, mode: 'each', nomailUntil: null };
  return s;
}

/** A change checked and applied to settings, or why it cannot be. */
export function applyChange(
  s: MemberSettings,
  c: MemberSettingsChange,
  now = Date.now(),
): MemberSettings | { problem: string } {
  const next: MemberSettings = { ...s };
  if (c.mode !== undefined) {
    if (!['each', 'digest', 'nomail'].includes(c.mode))
      return { problem: `"${String(c.mode).slice(0, 20)}" is not a delivery mode: each, digest or nomail` };
    next.mode = c.mode;
    if (c.mode !== 'nomail') next.nomailUntil = null;
  }
  if (c.digestFormat !== undefined) {
    if (!['mime', 'plain'].includes(c.digestFormat))
      return { problem: `"${String(c.digestFormat).slice(0, 20)}" is not a digest form: mime or plain` };
    next.digestFormat = c.digestFormat;
  }
  if (c.nomailUntil !== undefined) {
    if (c.nomailUntil !== null) {
      const p = dayProblem(String(c.nomailUntil));
      if (p) return { problem: p };
      if (c.nomailUntil <= dayOf(now))
        return { problem: `${c.nomailUntil} is not after today (${dayOf(now)}): give a day to come` };
      if (next.mode !== 'nomail') return { problem: 'a day to get mail again goes with the mode nomail' };
    }
    next.nomailUntil = c.nomailUntil;
  }
  if (c.ownPosts !== undefined) {
    if (typeof c.ownPosts !== 'boolean') return { problem: 'ownPosts is true or false' };
    next.ownPosts = c.ownPosts;
  }
  return next;
}

/**
 * The words after "set" (`digest plain`, `nomail until 2027-01-10`, `each`, `ownposts off`) as a change, or
 * why they are not one.
 */
export function parseSetWords(words: readonly string[]): MemberSettingsChange | { problem: string } {
  const w = words.map((x) => x.toLowerCase());
  const usage =
    'write one of: set each | set digest [mime|plain] | set nomail [until YYYY-MM-DD] | set ownposts on|off';
  switch (w[0]) {
    case 'each':
    case 'regular':
      return w.length === 1 ? { mode: 'each' } : { problem: `"set each" takes nothing more; ${usage}` };
    case 'digest':
      if (w.length === 1) return { mode: 'digest' };
      if (w.length === 2 && (w[1] === 'mime' || w[1] === 'plain'))
        return { mode: 'digest', digestFormat: w[1] as DigestFormat };
      return { problem: `"set digest" is followed by mime or plain, or nothing; ${usage}` };
    case 'nomail':
      if (w.length === 1) return { mode: 'nomail', nomailUntil: null };
      if (w.length === 3 && w[1] === 'until') {
        const p = dayProblem(w[2]!);
        return p ? { problem: p } : { mode: 'nomail', nomailUntil: w[2]! };
      }
      return { problem: `"set nomail" is followed by "until YYYY-MM-DD", or nothing; ${usage}` };
    case 'ownposts':
      if (w.length === 2 && (w[1] === 'on' || w[1] === 'off')) return { ownPosts: w[1] === 'on' };
      return { problem: `"set ownposts" is followed by on or off; ${usage}` };
    default:
      return { problem: w[0] ? `"${w[0].slice(0, 30)}" is not a setting; ${usage}` : usage };
  }
}

/** The settings in words, one a line (the answer to `set` and `show`, the CLI). */
export function describeSettings(s: MemberSettings, digestHour?: number, timeZone = 'UTC'): string[] {
  const mode =
    s.mode === 'each'
      ? 'each       every post, as it comes'
      : s.mode === 'digest'
        ? `digest     the list's digest${digestHour === undefined ? '' : ` (daily at ${String(digestHour).padStart(2, '0')}:00 ${timeZone}, sooner when it is full)`}, ${s.digestFormat === 'mime' ? 'MIME (each post a message of its own)' : 'plain text (RFC 1153)'}`
        : `nomail     no mail from the list${s.nomailUntil ? ` until ${s.nomailUntil} (then every post again)` : ' (until you change it)'}`;
  return [
    `  delivery:  ${mode}`,
    `  digest:    ${s.digestFormat === 'mime' ? 'mime' : 'plain'} (the form used when delivery is digest)`,
    `  ownposts:  ${s.ownPosts ? 'on         you get a copy of your own posts' : 'off        you get no copy of your own posts'}`,
  ];
}

interface Row {
  mode: string;
  digest_format: string;
  nomail_until: string | null;
  own_posts: number;
}
const fromRow = (r: Row | undefined): MemberSettings =>
  r
    ? {
        mode: r.mode as DeliveryMode,
        digestFormat: r.digest_format as DigestFormat,
        nomailUntil: r.nomail_until,
        ownPosts: r.own_posts === 1,
      }
    : { ...DEFAULT_SETTINGS };

/** The settings table of one account. Needs ListStore's tables (the trigger is on mail_subscribers). */
export class MemberStore {
  private readonly q;
  constructor(
    private readonly store: PluginStore,
    private readonly account: string,
  ) {
    store.migrate(MEMBER_MIGRATIONS, MEMBER_MIGRATION_PART);
    const p = (sql: string) => store.prepare(sql);
    this.q = {
      get: p(
        'SELECT mode, digest_format, nomail_until, own_posts FROM mail_member_settings WHERE account = ? AND list = ? AND address = ?',
      ),
      put: p(
        `INSERT INTO mail_member_settings (account, list, address, mode, digest_format, nomail_until, own_posts, changed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (account, list, address) DO UPDATE SET mode = excluded.mode, digest_format = excluded.digest_format,
           nomail_until = excluded.nomail_until, own_posts = excluded.own_posts, changed = excluded.changed`,
      ),
      all: p(
        'SELECT address, mode, digest_format, nomail_until, own_posts FROM mail_member_settings WHERE account = ? AND list = ?',
      ),
      // Who gets each post now: subscribed, delivery not disabled by bounces, mode each (or a nomail whose day has come).
      each: p(
        `SELECT s.address, coalesce(m.own_posts, 1) AS own FROM mail_subscribers s
           LEFT JOIN mail_member_settings m ON m.account = s.account AND m.list = s.list AND m.address = s.address
         WHERE s.account = ? AND s.list = ? AND s.delivery = 1
           AND (m.mode IS NULL OR m.mode = 'each' OR (m.mode = 'nomail' AND m.nomail_until IS NOT NULL AND m.nomail_until <= ?))
         ORDER BY s.address`,
      ),
      digest: p(
        `SELECT s.address FROM mail_subscribers s
           JOIN mail_member_settings m ON m.account = s.account AND m.list = s.list AND m.address = s.address
         WHERE s.account = ? AND s.list = ? AND s.delivery = 1 AND m.mode = 'digest' AND m.digest_format = ?
         ORDER BY s.address`,
      ).pluck(),
      anyDigest: p(
        `SELECT 1 FROM mail_subscribers s
           JOIN mail_member_settings m ON m.account = s.account AND m.list = s.list AND m.address = s.address
         WHERE s.account = ? AND s.list = ? AND s.delivery = 1 AND m.mode = 'digest' LIMIT 1`,
      ).pluck(),
      leftDigest: p(
        `INSERT INTO mail_digest_last (account, list, address, format, left_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (account, list, address) WHERE issue IS NULL DO UPDATE SET format = excluded.format, left_at = excluded.left_at`,
      ),
      backToDigest: p('DELETE FROM mail_digest_last WHERE account = ? AND list = ? AND address = ? AND issue IS NULL'),
      wake: p(
        `UPDATE mail_member_settings SET mode = 'each', nomail_until = NULL, changed = ?
         WHERE account = ? AND mode = 'nomail' AND nomail_until IS NOT NULL AND nomail_until <= ?`,
      ),
    };
  }

  /** A member's settings as they act now (defaults when never changed). */
  get(list: string, address: string, now = Date.now()): MemberSettings {
    return effective(fromRow(this.q.get.get(this.account, list, normaliseAddress(address)) as Row | undefined), now);
  }

  /** Apply a change (the caller has checked the address is subscribed); the settings after it, or why not. */
  set(
    list: string,
    address: string,
    change: MemberSettingsChange,
    now = Date.now(),
  ): { settings: MemberSettings; changed: boolean } | { problem: string } {
    const a = normaliseAddress(address);
    return this.store.transaction(() => {
      const before = this.get(list, a, now);
      const next = applyChange(before, change, now);
      if ('problem' in next) return next;
      const changed = JSON.stringify(next) !== JSON.stringify(before);
      // Leaving digest mode: the open digest's posts so far still come to them, as its last digest (digest.ts);
      // back in digest mode before it closes, they get the whole digest anyway.
      if (before.mode === 'digest' && next.mode !== 'digest')
        this.q.leftDigest.run(this.account, list, a, before.digestFormat, now);
      else if (next.mode === 'digest') this.q.backToDigest.run(this.account, list, a);
      if (changed)
        this.q.put.run(
          this.account,
          list,
          a,
          next.mode,
          next.digestFormat,
          next.nomailUntil,
          next.ownPosts ? 1 : 0,
          now,
        );
      return { settings: next, changed };
    });
  }

  /** Every member with settings of their own (the others have the defaults), by address. */
  all(list: string, now = Date.now()): Map<string, MemberSettings> {
    const rows = this.q.all.all(this.account, list) as (Row & { address: string })[];
    return new Map(rows.map((r) => [r.address, effective(fromRow(r), now)]));
  }

  /**
   * The addresses that get this post as a message of its own: mode each (not digest, not nomail), and not its
   * author when the author turned ownposts off.
   */
  eachRecipients(list: string, author: string | undefined, now = Date.now()): string[] {
    const me = author ? normaliseAddress(author) : undefined;
    const rows = this.q.each.all(this.account, list, dayOf(now)) as { address: string; own: number }[];
    return rows.filter((r) => r.own === 1 || r.address !== me).map((r) => r.address);
  }

  /** The digest members of a list who want this form. */
  digestRecipients(list: string, format: DigestFormat): string[] {
    return this.q.digest.all(this.account, list, format) as string[];
  }
  hasDigestMembers(list: string): boolean {
    return this.q.anyDigest.get(this.account, list) !== undefined;
  }

  /** Members whose nomail day has come get each post again (their row says so too); returns how many. */
  wake(now = Date.now()): number {
    return this.q.wake.run(now, this.account, dayOf(now)).changes;
  }
}
