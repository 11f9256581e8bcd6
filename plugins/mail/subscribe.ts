/**
 * The list state in the store: subscribers (with their bounce score), pending
 * confirmations, held posts, and when an address was last sent robot mail it
 * did not prove it wanted (anti subscription-bombing). Tables of their own,
 * migrated as the plugin's part "lists"; every row carries its account.
 */
import type { PluginStore } from '../../src/plugin.js';
import { normaliseAddress } from './lists.js';
import { confirmToken } from './tokens.js';

export const MIGRATIONS = [
  `CREATE TABLE mail_subscribers (
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     address TEXT NOT NULL,
     name TEXT NOT NULL DEFAULT '',
     since INTEGER NOT NULL,
     delivery INTEGER NOT NULL DEFAULT 1,
     bounce_score INTEGER NOT NULL DEFAULT 0,
     last_bounce INTEGER,
     PRIMARY KEY (account, list, address)
   );
   CREATE TABLE mail_pending (
     token TEXT PRIMARY KEY,
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     address TEXT NOT NULL,
     action TEXT NOT NULL,
     name TEXT NOT NULL DEFAULT '',
     created INTEGER NOT NULL,
     expires INTEGER NOT NULL
   );
   CREATE INDEX mail_pending_by_address ON mail_pending(account, list, address);
   CREATE TABLE mail_notices (
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     address TEXT NOT NULL,
     last INTEGER NOT NULL,
     PRIMARY KEY (account, list, address)
   );
   CREATE TABLE mail_held (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     sender TEXT NOT NULL,
     subject TEXT NOT NULL,
     reason TEXT NOT NULL,
     message_id TEXT,
     raw BLOB NOT NULL,
     received INTEGER NOT NULL
   );
   CREATE INDEX mail_held_by_list ON mail_held(account, list);`,
  // Posts that came in by mail, to be sent to the list's own subscribers (the core
  // delivers a post to every endpoint but the one it came from). Written before the
  // post is handed to the core, so a crash between the commit and the sending loses nothing.
  `CREATE TABLE mail_fanout (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     post_id TEXT NOT NULL,
     created INTEGER NOT NULL,
     attempt INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL,
     committed INTEGER NOT NULL DEFAULT 0,
     last_error TEXT
   );
   CREATE UNIQUE INDEX mail_fanout_by_post ON mail_fanout(account, list, post_id);`,
  // The core now delivers a mail post back to its own list through the outbox (the plugin echoes): no table of our own.
  `DROP TABLE IF EXISTS mail_fanout;`,
];
export const MIGRATION_PART = 'lists';

export interface Subscriber {
  address: string;
  name: string;
  since: number;
  delivery: boolean;
  bounceScore: number;
  lastBounce: number | null;
}

export interface Pending {
  token: string;
  list: string;
  address: string;
  action: 'subscribe' | 'unsubscribe';
  /** The display name of the request's From. */
  name: string;
  created: number;
  expires: number;
}

export interface Held {
  id: number;
  list: string;
  sender: string;
  subject: string;
  reason: string;
  messageId: string | null;
  received: number;
}

export class ListStore {
  private readonly q;
  constructor(
    private readonly store: PluginStore,
    private readonly account: string,
  ) {
    store.migrate(MIGRATIONS, MIGRATION_PART);
    const p = (sql: string) => store.prepare(sql);
    this.q = {
      members: p(
        'SELECT address, name, since, delivery, bounce_score, last_bounce FROM mail_subscribers WHERE account = ? AND list = ? ORDER BY address',
      ),
      member: p(
        'SELECT address, name, since, delivery, bounce_score, last_bounce FROM mail_subscribers WHERE account = ? AND list = ? AND address = ?',
      ),
      add: p('INSERT OR IGNORE INTO mail_subscribers (account, list, address, name, since) VALUES (?, ?, ?, ?, ?)'),
      remove: p('DELETE FROM mail_subscribers WHERE account = ? AND list = ? AND address = ?'),
      recipients: p(
        'SELECT address FROM mail_subscribers WHERE account = ? AND list = ? AND delivery = 1 ORDER BY address',
      ).pluck(),
      anyRecipient: p('SELECT 1 FROM mail_subscribers WHERE account = ? AND list = ? AND delivery = 1 LIMIT 1').pluck(),
      setBounce: p(
        'UPDATE mail_subscribers SET bounce_score = ?, last_bounce = ?, delivery = ? WHERE account = ? AND list = ? AND address = ?',
      ),
      enable: p(
        'UPDATE mail_subscribers SET delivery = 1, bounce_score = 0, last_bounce = NULL WHERE account = ? AND list = ? AND address = ?',
      ),
      addPending: p(
        'INSERT INTO mail_pending (token, account, list, address, action, name, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      pending: p(
        'SELECT token, list, address, action, name, created, expires FROM mail_pending WHERE token = ? AND account = ?',
      ),
      delPending: p('DELETE FROM mail_pending WHERE token = ?'),
      delPendingFor: p('DELETE FROM mail_pending WHERE account = ? AND list = ? AND address = ? AND action = ?'),
      purge: p('DELETE FROM mail_pending WHERE account = ? AND expires < ?'),
      lastNotice: p('SELECT last FROM mail_notices WHERE account = ? AND list = ? AND address = ?').pluck(),
      setNotice: p(
        'INSERT INTO mail_notices (account, list, address, last) VALUES (?, ?, ?, ?) ON CONFLICT (account, list, address) DO UPDATE SET last = excluded.last',
      ),
      purgeNotices: p('DELETE FROM mail_notices WHERE account = ? AND last < ?'),
      hold: p(
        'INSERT INTO mail_held (account, list, sender, subject, reason, message_id, raw, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      heldAll: p(
        'SELECT id, list, sender, subject, reason, message_id, received FROM mail_held WHERE account = ? ORDER BY id',
      ),
      heldList: p(
        'SELECT id, list, sender, subject, reason, message_id, received FROM mail_held WHERE account = ? AND list = ? ORDER BY id',
      ),
      heldOne: p(
        'SELECT id, list, sender, subject, reason, message_id, received, raw FROM mail_held WHERE account = ? AND id = ?',
      ),
      heldDel: p('DELETE FROM mail_held WHERE account = ? AND id = ?'),
    };
  }

  private static sub(r: {
    address: string;
    name: string;
    since: number;
    delivery: number;
    bounce_score: number;
    last_bounce: number | null;
  }): Subscriber {
    return {
      address: r.address,
      name: r.name,
      since: r.since,
      delivery: r.delivery === 1,
      bounceScore: r.bounce_score,
      lastBounce: r.last_bounce,
    };
  }

  members(list: string): Subscriber[] {
    return (this.q.members.all(this.account, list) as Parameters<typeof ListStore.sub>[0][]).map(ListStore.sub);
  }
  member(list: string, address: string): Subscriber | undefined {
    const r = this.q.member.get(this.account, list, normaliseAddress(address)) as
      Parameters<typeof ListStore.sub>[0] | undefined;
    return r ? ListStore.sub(r) : undefined;
  }
  /** True when the address was added, false when it was subscribed already. */
  add(list: string, address: string, name = '', now = Date.now()): boolean {
    const a = normaliseAddress(address);
    const added = this.q.add.run(this.account, list, a, name, now).changes === 1;
    this.q.delPendingFor.run(this.account, list, a, 'subscribe');
    return added;
  }
  /** True when the address was subscribed (and now is not). */
  remove(list: string, address: string): boolean {
    const a = normaliseAddress(address);
    this.q.delPendingFor.run(this.account, list, a, 'unsubscribe');
    return this.q.remove.run(this.account, list, a).changes === 1;
  }
  /** Addresses that get the list's posts: subscribed, delivery not disabled by bounces. */
  recipients(list: string): string[] {
    return this.q.recipients.all(this.account, list) as string[];
  }

  /** Whether anyone gets the list's posts now. */
  hasRecipients(list: string): boolean {
    return this.q.anyRecipient.get(this.account, list) !== undefined;
  }

  /** A new pending confirmation; replaces an older one of the same address and action. */
  createPending(
    list: string,
    address: string,
    action: Pending['action'],
    ttlMs: number,
    now = Date.now(),
    name = '',
  ): Pending {
    const a = normaliseAddress(address);
    const token = confirmToken();
    this.store.transaction(() => {
      this.q.delPendingFor.run(this.account, list, a, action);
      this.q.addPending.run(token, this.account, list, a, action, name, now, now + ttlMs);
    });
    return { token, list, address: a, action, name, created: now, expires: now + ttlMs };
  }
  pending(token: string): Pending | undefined {
    return this.q.pending.get(token.toLowerCase(), this.account) as Pending | undefined;
  }
  dropPending(token: string): void {
    this.q.delPending.run(token.toLowerCase());
  }
  purgeExpired(now = Date.now(), noticeWindowMs = 0): void {
    this.q.purge.run(this.account, now);
    if (noticeWindowMs > 0) this.q.purgeNotices.run(this.account, now - noticeWindowMs);
  }

  /**
   * Anti subscription-bombing: may robot mail that the address did not prove it
   * wants (a confirmation request, help, "not subscribed") go to it now? At most
   * one per address and list per window; records the sending when it may.
   */
  mayNotify(list: string, address: string, windowMs: number, now = Date.now()): boolean {
    const a = normaliseAddress(address);
    return this.store.transaction(() => {
      const last = this.q.lastNotice.get(this.account, list, a) as number | undefined;
      if (last !== undefined && now - last < windowMs) return false;
      this.q.setNotice.run(this.account, list, a, now);
      return true;
    });
  }

  /**
   * A permanent failure for a subscriber: the score goes up by one (at most once
   * per `perMs`, so one burst of bounces counts once), after `resetMs` without a
   * bounce it starts again from zero; at `threshold` delivery is disabled.
   */
  recordBounce(
    list: string,
    address: string,
    opts: { threshold: number; perMs: number; resetMs: number },
    now = Date.now(),
  ): { score: number; disabledNow: boolean } | undefined {
    const a = normaliseAddress(address);
    return this.store.transaction(() => {
      const s = this.member(list, a);
      if (!s) return undefined;
      let score = s.lastBounce !== null && now - s.lastBounce > opts.resetMs ? 0 : s.bounceScore;
      if (s.lastBounce === null || now - s.lastBounce >= opts.perMs || score === 0) score += 1;
      const disable = score >= opts.threshold;
      this.q.setBounce.run(score, now, disable ? 0 : s.delivery ? 1 : 0, this.account, list, a);
      return { score, disabledNow: disable && s.delivery };
    });
  }
  enableDelivery(list: string, address: string): boolean {
    return this.q.enable.run(this.account, list, normaliseAddress(address)).changes === 1;
  }

  hold(
    list: string,
    m: { sender: string; subject: string; reason: string; messageId?: string },
    raw: Buffer,
    now = Date.now(),
  ): number {
    return Number(
      this.q.hold.run(this.account, list, m.sender, m.subject, m.reason, m.messageId ?? null, raw, now).lastInsertRowid,
    );
  }
  held(list?: string): Held[] {
    const rows = (list === undefined ? this.q.heldAll.all(this.account) : this.q.heldList.all(this.account, list)) as {
      id: number;
      list: string;
      sender: string;
      subject: string;
      reason: string;
      message_id: string | null;
      received: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      list: r.list,
      sender: r.sender,
      subject: r.subject,
      reason: r.reason,
      messageId: r.message_id,
      received: r.received,
    }));
  }
  heldOne(id: number): (Held & { raw: Buffer }) | undefined {
    const r = this.q.heldOne.get(this.account, id) as
      | {
          id: number;
          list: string;
          sender: string;
          subject: string;
          reason: string;
          message_id: string | null;
          received: number;
          raw: Buffer;
        }
      | undefined;
    return r
      ? {
          id: r.id,
          list: r.list,
          sender: r.sender,
          subject: r.subject,
          reason: r.reason,
          messageId: r.message_id,
          received: r.received,
          raw: r.raw,
        }
      : undefined;
  }
  dropHeld(id: number): boolean {
    return this.q.heldDel.run(this.account, id).changes === 1;
  }
  /** Held posts received before `cutoff` (ms), oldest first. */
  heldBefore(cutoff: number): Held[] {
    return this.held().filter((h) => h.received < cutoff);
  }
}
