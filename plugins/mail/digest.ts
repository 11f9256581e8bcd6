/**
 * The digests of the lists (issue 16): the posts of a list that has digest members are gathered as they are
 * delivered to it; a digest closes daily at the list's hour (`digest.hour`, in `digest.timezone`, UTC by default), or as soon as it holds
 * `digest.maxPosts` posts or `digest.maxBytes` bytes of text, and goes to the list's digest members in the form
 * each chose (MIME or plain), through the sending side's durable queue.
 *
 * Once, and never lost (docs/design.md): a post is written to the open digest before deliver() answers
 * "delivered" (a retry adds it no second time: a post is in one digest of a list, ever); closing numbers the
 * digest and takes its posts in one transaction; queueing its messages and marking it queued is one more. A
 * digest closed but not queued (a crash between the two) is queued at the next start, as the same message.
 *
 * Tables of their own (migration part "digests"):
 *   mail_digest_lists   per list: the volume (the year's count: a new year starts volume + 1 at issue 1), the next
 *                       issue, when the open digest began
 *   mail_digest_posts   the posts gathered; issue NULL while the digest is open
 *   mail_digest_issues  each closed digest; queued_at once its messages are in the queue
 */
import type { Logger, Post, PluginStore, PostReader } from '../../src/plugin.js';
import { plural } from '../../src/plugin.js';
import { renderDigest, digestTitle, type DigestInput } from './digest-render.js';
import type { MemberStore } from './members.js';
import type { DigestFormat } from './services.js';

export const DIGEST_MIGRATIONS = [
  `CREATE TABLE mail_digest_lists (
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     volume INTEGER NOT NULL,
     year INTEGER NOT NULL,
     next_issue INTEGER NOT NULL,
     opened_at INTEGER,
     PRIMARY KEY (account, list)
   );
   CREATE TABLE mail_digest_posts (
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     post_id TEXT NOT NULL,
     bytes INTEGER NOT NULL,
     added INTEGER NOT NULL,
     volume INTEGER,
     issue INTEGER,
     PRIMARY KEY (account, list, post_id)
   );
   CREATE INDEX mail_digest_posts_by_issue ON mail_digest_posts (account, list, volume, issue);
   CREATE TABLE mail_digest_issues (
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     volume INTEGER NOT NULL,
     issue INTEGER NOT NULL,
     closed_at INTEGER NOT NULL,
     posts INTEGER NOT NULL,
     reason TEXT NOT NULL,
     queued_at INTEGER,
     recipients INTEGER,
     PRIMARY KEY (account, list, volume, issue)
   );`,
];
export const DIGEST_MIGRATION_PART = 'digests';

/** A list's digest options (the endpoint's `digest` block, defaults filled in). */
export interface DigestOptions {
  /** Hour of the day (in timezone) the open digest is sent. */
  hour: number;
  /** IANA time zone of hour. */
  timezone: string;
  /** Sent as soon as it holds this many posts. */
  maxPosts: number;
  /** Sent as soon as its posts' text reaches this many bytes. */
  maxBytes: number;
}
export const DIGEST_DEFAULTS: DigestOptions = { hour: 6, timezone: 'UTC', maxPosts: 100, maxBytes: 100 * 1024 };

/** A closed digest kept this long (with its posts' ids, so a late retry adds nothing again). */
const KEPT_MS = 30 * 86_400_000;

export interface DigestDeps {
  account: string;
  store: PluginStore;
  posts: Pick<PostReader, 'get'>;
  members: MemberStore;
  log: Logger;
  hostname: string;
  /** The list's options now, or undefined when it is no longer a list of this account. */
  options(list: string): DigestOptions | undefined;
  /** The list's name, address, description, archive link and digest footer, for rendering. */
  words(
    list: string,
  ): { name: string; address: string; description: string; footer: string; archive?: string } | undefined;
  /** Put one digest message in the durable queue for these recipients (inside the caller's transaction). */
  enqueue(list: string, recipients: string[], raw: Buffer): void;
}

/** The wall clock of a time in a time zone. */
function wall(t: number, timeZone: string): { y: number; m: number; d: number; h: number; min: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  }).formatToParts(t);
  const n = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return { y: n('year'), m: n('month'), d: n('day'), h: n('hour'), min: n('minute') };
}

/** The instant the wall clock of `timeZone` reads y-m-d h:00 (in a DST gap: the hour after it). */
function instant(y: number, m: number, d: number, h: number, timeZone: string): number {
  const want = Date.UTC(y, m - 1, d, h);
  const offset = (t: number) => {
    const w = wall(t, timeZone);
    return Date.UTC(w.y, w.m - 1, w.d, w.h, w.min) - want + (want - t);
  };
  // The zone's offset at the wall time read as UTC, then at the instant that gives: one of them reads h:00.
  const t1 = want - offset(want);
  const t2 = want - offset(t1);
  for (const t of [t2, t1]) if (wall(t, timeZone).h === h) return t;
  return Math.max(t1, t2);
}

/** The first time at hour:00 in the time zone (default UTC) strictly after `from`. */
export function nextHour(from: number, hour: number, timeZone = 'UTC'): number {
  const w = wall(from, timeZone);
  for (let k = 0; k < 3; k++) {
    const day = new Date(Date.UTC(w.y, w.m - 1, w.d + k));
    const t = instant(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), hour, timeZone);
    if (t > from) return t;
  }
  return from + 86_400_000;
}

interface ListRow {
  volume: number;
  year: number;
  next_issue: number;
  opened_at: number | null;
}

export class Digests {
  private readonly q;
  constructor(private readonly d: DigestDeps) {
    d.store.migrate(DIGEST_MIGRATIONS, DIGEST_MIGRATION_PART);
    const p = (sql: string) => d.store.prepare(sql);
    this.q = {
      list: p('SELECT volume, year, next_issue, opened_at FROM mail_digest_lists WHERE account = ? AND list = ?'),
      newList: p(
        'INSERT OR IGNORE INTO mail_digest_lists (account, list, volume, year, next_issue, opened_at) VALUES (?, ?, 1, ?, 1, NULL)',
      ),
      open: p('UPDATE mail_digest_lists SET opened_at = ? WHERE account = ? AND list = ? AND opened_at IS NULL'),
      add: p('INSERT OR IGNORE INTO mail_digest_posts (account, list, post_id, bytes, added) VALUES (?, ?, ?, ?, ?)'),
      openStats: p(
        'SELECT count(*) AS n, coalesce(sum(bytes), 0) AS bytes FROM mail_digest_posts WHERE account = ? AND list = ? AND issue IS NULL',
      ),
      take: p('UPDATE mail_digest_posts SET volume = ?, issue = ? WHERE account = ? AND list = ? AND issue IS NULL'),
      closeList: p(
        'UPDATE mail_digest_lists SET volume = ?, year = ?, next_issue = ?, opened_at = NULL WHERE account = ? AND list = ?',
      ),
      newIssue: p(
        'INSERT INTO mail_digest_issues (account, list, volume, issue, closed_at, posts, reason) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      unqueued: p(
        'SELECT list, volume, issue, closed_at, posts FROM mail_digest_issues WHERE account = ? AND queued_at IS NULL ORDER BY closed_at, volume, issue',
      ),
      issuePosts: p(
        'SELECT post_id AS id, added FROM mail_digest_posts WHERE account = ? AND list = ? AND volume = ? AND issue = ? ORDER BY added, rowid',
      ),
      // Members who left digest mode while this digest was open (mail_digest_last, plugins/mail/members.ts), still
      // subscribed with delivery on, and not in digest mode again (then they are among the digest's recipients).
      takeLast: p('UPDATE mail_digest_last SET volume = ?, issue = ? WHERE account = ? AND list = ? AND issue IS NULL'),
      lastOf: p(
        `SELECT l.address, l.format, l.left_at FROM mail_digest_last l
           JOIN mail_subscribers s ON s.account = l.account AND s.list = l.list AND s.address = l.address AND s.delivery = 1
           LEFT JOIN mail_member_settings m ON m.account = l.account AND m.list = l.list AND m.address = l.address
         WHERE l.account = ? AND l.list = ? AND l.volume = ? AND l.issue = ? AND (m.mode IS NULL OR m.mode != 'digest')
         ORDER BY l.address`,
      ),
      pruneLast: p(
        `DELETE FROM mail_digest_last WHERE account = ? AND issue IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM mail_digest_issues i WHERE i.account = mail_digest_last.account AND i.list = mail_digest_last.list
             AND i.volume = mail_digest_last.volume AND i.issue = mail_digest_last.issue)`,
      ),
      queued: p(
        'UPDATE mail_digest_issues SET queued_at = ?, recipients = ? WHERE account = ? AND list = ? AND volume = ? AND issue = ? AND queued_at IS NULL',
      ),
      openLists: p(
        'SELECT list, opened_at FROM mail_digest_lists WHERE account = ? AND opened_at IS NOT NULL ORDER BY list',
      ),
      pruneIssues: p('DELETE FROM mail_digest_issues WHERE account = ? AND queued_at IS NOT NULL AND queued_at < ?'),
      prunePosts: p(
        `DELETE FROM mail_digest_posts WHERE account = ? AND issue IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM mail_digest_issues i WHERE i.account = mail_digest_posts.account AND i.list = mail_digest_posts.list
             AND i.volume = mail_digest_posts.volume AND i.issue = mail_digest_posts.issue)`,
      ),
      issues: p(
        'SELECT list, volume, issue, closed_at, posts, reason, queued_at, recipients FROM mail_digest_issues WHERE account = ? AND list = ? ORDER BY volume, issue',
      ),
    };
  }

  /**
   * A post delivered to a list: into its open digest when the list has digest members (committed when this
   * returns). Closes the digest when it is full now. Returns whether the post was gathered.
   */
  add(list: string, post: Post, now = Date.now()): boolean {
    const o = this.d.options(list);
    if (!o || !this.d.members.hasDigestMembers(list)) return false;
    const bytes = Buffer.byteLength(post.body, 'utf8') + Buffer.byteLength(post.subject ?? '', 'utf8');
    const full = this.d.store.transaction(() => {
      this.q.newList.run(this.d.account, list, new Date(now).getUTCFullYear());
      if (this.q.add.run(this.d.account, list, post.id, bytes, now).changes === 0) return false;
      this.q.open.run(now, this.d.account, list);
      const s = this.q.openStats.get(this.d.account, list) as { n: number; bytes: number };
      return s.n >= o.maxPosts || s.bytes >= o.maxBytes;
    });
    if (full) {
      const s = this.q.openStats.get(this.d.account, list) as { n: number; bytes: number };
      this.close(
        list,
        s.n >= o.maxPosts ? `${o.maxPosts} posts (digest.maxPosts)` : `${s.bytes} bytes (digest.maxBytes)`,
        now,
      );
    }
    return true;
  }

  /**
   * Close the open digest of a list (numbered, its posts taken, in one transaction), then queue it. Returns the
   * issue closed, or undefined when there was nothing to close.
   */
  close(list: string, reason: string, now = Date.now()): { volume: number; issue: number; posts: number } | undefined {
    const closed = this.d.store.transaction(() => {
      const l = this.q.list.get(this.d.account, list) as ListRow | undefined;
      if (!l) return undefined;
      const s = this.q.openStats.get(this.d.account, list) as { n: number };
      if (s.n === 0) return undefined;
      const year = new Date(now).getUTCFullYear();
      const volume = year > l.year ? l.volume + 1 : l.volume;
      const issue = year > l.year ? 1 : l.next_issue;
      this.q.take.run(volume, issue, this.d.account, list);
      this.q.takeLast.run(volume, issue, this.d.account, list);
      this.q.newIssue.run(this.d.account, list, volume, issue, now, s.n, reason);
      this.q.closeList.run(volume, Math.max(year, l.year), issue + 1, this.d.account, list);
      return { volume, issue, posts: s.n };
    });
    if (closed)
      this.d.log.info(
        { list, ...closed, reason },
        `${digestTitle(list, closed.volume, closed.issue)} closed with ${plural(closed.posts, 'post')}: ${reason}`,
      );
    this.flush(now);
    return closed;
  }

  /** Close every open digest whose hour has come. */
  tick(now = Date.now()): void {
    for (const r of this.q.openLists.all(this.d.account) as { list: string; opened_at: number }[]) {
      const o = this.d.options(r.list);
      if (!o) continue;
      if (now >= nextHour(r.opened_at, o.hour, o.timezone))
        this.close(r.list, `the daily digest (${o.hour}:00 ${o.timezone})`, now);
    }
    this.flush(now);
  }

  /** Queue every closed digest not yet queued (after close, and at start: a crash between the two). */
  flush(now = Date.now()): void {
    const rows = this.q.unqueued.all(this.d.account) as {
      list: string;
      volume: number;
      issue: number;
      closed_at: number;
    }[];
    for (const r of rows) {
      try {
        this.queueIssue(r, now);
      } catch (err) {
        this.d.log.error(
          { err, list: r.list, volume: r.volume, issue: r.issue },
          `${digestTitle(r.list, r.volume, r.issue)} could not be queued (${(err as Error).message}); it is tried again within a minute`,
        );
      }
    }
    this.d.store.transaction(() => {
      this.q.pruneIssues.run(this.d.account, now - KEPT_MS);
      this.q.prunePosts.run(this.d.account);
      this.q.pruneLast.run(this.d.account);
    });
  }

  private queueIssue(r: { list: string; volume: number; issue: number; closed_at: number }, now: number): void {
    const w = this.d.words(r.list);
    const rows = this.q.issuePosts.all(this.d.account, r.list, r.volume, r.issue) as { id: string; added: number }[];
    // A post removed from the archive since is left out of the digest too.
    const kept = rows
      .map((x) => ({ added: x.added, post: this.d.posts.get(x.id) }))
      .filter((x): x is { added: number; post: NonNullable<typeof x.post> } => x.post !== undefined);
    const posts = kept.map((x) => x.post);
    // Who left digest mode while it was open gets the posts gathered until then: the whole digest when none came
    // after, else the first of its posts (a message of its own, so nobody gets a post twice); none, nothing.
    const last = this.q.lastOf.all(this.d.account, r.list, r.volume, r.issue) as {
      address: string;
      format: DigestFormat;
      left_at: number;
    }[];
    let sent = 0;
    this.d.store.transaction(() => {
      if (w && posts.length > 0)
        for (const format of ['mime', 'plain'] as DigestFormat[]) {
          const input = (ps: typeof posts): DigestInput => ({
            list: { name: w.name, address: w.address, description: w.description },
            volume: r.volume,
            issue: r.issue,
            date: new Date(r.closed_at),
            posts: ps,
            format,
            footer: w.footer,
            hostname: this.d.hostname,
            account: this.d.account,
            ...(ps.length < posts.length ? { partOf: posts.length } : {}),
            ...(w.archive ? { archive: w.archive } : {}),
          });
          const partial = new Map<number, string[]>();
          const to = this.d.members.digestRecipients(r.list, format);
          for (const m of last) {
            if (m.format !== format) continue;
            const n = kept.filter((x) => x.added <= m.left_at).length;
            if (n === posts.length) to.push(m.address);
            else if (n > 0) partial.set(n, [...(partial.get(n) ?? []), m.address]);
          }
          if (to.length > 0) this.d.enqueue(r.list, to, renderDigest(input(posts)));
          for (const [n, who] of partial) this.d.enqueue(r.list, who, renderDigest(input(posts.slice(0, n))));
          sent += to.length + [...partial.values()].reduce((a, b) => a + b.length, 0);
        }
      this.q.queued.run(now, sent, this.d.account, r.list, r.volume, r.issue);
    });
    const why = !w ? ' (the list is not served any more)' : posts.length === 0 ? ' (its posts were removed)' : '';
    this.d.log.info(
      {
        list: r.list,
        volume: r.volume,
        issue: r.issue,
        posts: posts.length,
        recipients: sent,
        lastDigests: last.length,
      },
      `${digestTitle(r.list, r.volume, r.issue)}: ${plural(posts.length, 'post')} queued for ${plural(sent, 'digest member')}${last.length ? ` (${plural(last.length, 'member')} who left digest mode while it was open among them)` : ''}${why}`,
    );
  }

  /** The digests of a list (for the CLI and tests): closed ones, and what the open one holds. */
  state(list: string): {
    open: { posts: number; bytes: number; since: number | null };
    issues: {
      volume: number;
      issue: number;
      closedAt: number;
      posts: number;
      reason: string;
      queuedAt: number | null;
      recipients: number | null;
    }[];
  } {
    const l = this.q.list.get(this.d.account, list) as ListRow | undefined;
    const s = this.q.openStats.get(this.d.account, list) as { n: number; bytes: number };
    const issues = (
      this.q.issues.all(this.d.account, list) as {
        volume: number;
        issue: number;
        closed_at: number;
        posts: number;
        reason: string;
        queued_at: number | null;
        recipients: number | null;
      }[]
    ).map((i) => ({
      volume: i.volume,
      issue: i.issue,
      closedAt: i.closed_at,
      posts: i.posts,
      reason: i.reason,
      queuedAt: i.queued_at,
      recipients: i.recipients,
    }));
    return { open: { posts: s.n, bytes: s.bytes, since: l?.opened_at ?? null }, issues };
  }
}
