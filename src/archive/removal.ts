/**
 * Removal: a post leaves the archive (`peerpost remove`, a bridge's archive.keep, an accepted news cancel). In one
 * transaction each post gets a tombstone (why, by whom, when, cause), its outbox rows (undelivered and dead) and
 * digest bookkeeping are dropped and its row deleted (the FTS delete trigger keeps search right). The tombstone
 * keeps the id out for good: ingest refuses it (code `removed`), and migration 5's trigger ignores any INSERT of
 * it by any other path (an import). After the commit the running accounts are told (ctx.onRemoved), so every
 * view forgets it: the web answers 410, the news server 430, finger drops it, mail erases its attachments, and a
 * news account with sendCancels sends a cancel.
 */
import type { Store } from '../store.js';
import { indexedBy, jsonField, type SqlStatement } from '../sql.js';
import { randomUUID } from 'node:crypto';
import { bareId, toStored, type StoredPost } from '../post.js';
import { RemovalLog, type LoggedRemoval } from './removal-log.js';
import { FeedCursor } from '../store/feed-cursor.js';

export type RemovalCause = 'removed' | 'retention' | 'cancel';

export interface Tombstone {
  id: string;
  /** The bridge the post was in; null when the id was never held here (kept out before it arrives). */
  bridge: string | null;
  reason: string;
  by: string;
  at: number;
  cause: RemovalCause;
}

/** What a removal did to one post, as told to the running accounts (ctx.onRemoved). */
export interface RemovedPost {
  id: string;
  bridge: string;
  reason: string;
  cause: RemovalCause;
  /** The post as it was (its author, its attachments): what a view needs to forget it. */
  post: StoredPost;
  /** Undelivered outbox rows dropped with it. */
  dropped: number;
}

export interface RemovalResult {
  removed: RemovedPost[];
  /** Ids not held here: tombstoned all the same, so they never arrive. */
  blocked: string[];
  /** Ids that had a tombstone already (nothing changed). */
  already: string[];
}

/**
 * What leaves: posts by id, every post of one sender, or (retention) the posts of a bridge placed before an instant
 * (ms): by their place (migration 10), so an imported 2015 post counts from 2015, not from the day of its import.
 */
export type RemovalTarget = { ids: readonly string[] } | { author: string } | { bridge: string; before: number };

export interface RemovalOptions {
  reason: string;
  by: string;
  cause: RemovalCause;
  now: number;
  /** At most this many posts (a bounded batch: retention). */
  limit?: number;
}

interface Raw {
  seq: number;
  id: string;
  bridge: string;
  received_at: number;
  data: string;
  placed_at: number;
}

/** Tombstone and delete the posts named; one transaction. Does not tell anyone: see Removals. */
export function removePosts(store: Store, target: RemovalTarget, opts: RemovalOptions): RemovalResult {
  const db = store.db;
  const reason = opts.reason.trim();
  if (reason === '') throw new Error('a removal needs a reason');
  // No limit: the most rows SQL can count (PostgreSQL refuses SQLite's LIMIT -1).
  const limit = opts.limit ?? Number.MAX_SAFE_INTEGER;
  const result: RemovalResult = { removed: [], blocked: [], already: [] };
  store.transaction(() => {
    let rows: Raw[];
    if ('ids' in target) {
      rows = [];
      const byId = db.prepare('SELECT seq, id, bridge, received_at, data, placed_at FROM posts WHERE id = ?');
      const tomb = db.prepare('SELECT 1 FROM tombstones WHERE id = ?').pluck();
      for (const raw of target.ids) {
        const id = bareId(raw);
        const r = byId.get(id) as Raw | undefined;
        if (r) rows.push(r);
        else if (tomb.get(id) !== undefined) result.already.push(id);
        else {
          insertTombstone(store, {
            id,
            bridge: null,
            reason,
            by: opts.by,
            at: opts.now,
            cause: opts.cause,
            seq: null,
            placed: null,
          });
          result.blocked.push(id);
        }
      }
    } else if ('author' in target) {
      rows = db
        .prepare(
          `SELECT seq, id, bridge, received_at, data, placed_at FROM posts
           WHERE lower(${jsonField(db, 'data', 'author.address')}) = lower(?) ORDER BY seq LIMIT ?`,
        )
        .all(target.author.trim(), limit) as Raw[];
    } else {
      rows = db
        .prepare(
          `SELECT seq, id, bridge, received_at, data, placed_at FROM posts ${indexedBy(db, 'posts_by_place')}
           WHERE bridge = ? AND placed_at < ? ORDER BY placed_at, seq LIMIT ?`,
        )
        .all(target.bridge, target.before, limit) as Raw[];
    }
    const countPending = db.prepare(`SELECT count(*) FROM outbox WHERE post_seq = ? AND state = 'pending'`).pluck();
    const dropOutbox = db.prepare('DELETE FROM outbox WHERE post_seq = ?');
    const dropLines = db.prepare('DELETE FROM digest_lines WHERE post_seq = ?');
    const dropDigest = db.prepare('DELETE FROM digest_posts WHERE post_seq = ? OR digest_seq = ?');
    const del = db.prepare('DELETE FROM posts WHERE seq = ?');
    for (const r of rows) {
      const dropped = countPending.get(r.seq) as number;
      dropOutbox.run(r.seq);
      dropLines.run(r.seq);
      dropDigest.run(r.seq, r.seq);
      del.run(r.seq);
      insertTombstone(store, {
        id: r.id,
        bridge: r.bridge,
        reason,
        by: opts.by,
        at: opts.now,
        cause: opts.cause,
        seq: r.seq,
        placed: r.placed_at,
      });
      const post = toStored(r);
      result.removed.push({ id: r.id, bridge: r.bridge, reason, cause: opts.cause, post, dropped });
    }
  });
  return result;
}

/** `seq` and `placed` (migration 10): where the post stood, so that a page cursor naming it keeps its place. */
function insertTombstone(store: Store, t: Tombstone & { seq: number | null; placed: number | null }): void {
  store.db
    .prepare(
      `INSERT INTO tombstones (id, bridge, reason, by, at, cause, seq, placed_at)
       VALUES (@id, @bridge, @reason, @by, @at, @cause, @seq, @placed)
       ON CONFLICT (id) DO NOTHING`,
    )
    .run(t);
}

/** What a public view says of a removed post (the web's 410 page, the API): the cause in plain words. */
export function publicRemoval(t: Pick<Tombstone, 'cause' | 'reason'>): string {
  if (t.cause === 'retention') return 'This post is older than this archive keeps, and has left it.';
  if (t.cause === 'cancel') return 'This post was cancelled on the news network, and has left this archive.';
  return `This post was removed from this archive: ${t.reason}`;
}

/** The tombstone of an id, or undefined. */
/** tombstoneOf's statement, prepared once per store (the core asks it of every post with an id of its own). */
const tombstoneQuery = new WeakMap<Store, SqlStatement>();

export function tombstoneOf(store: Store, id: string): Tombstone | undefined {
  let q = tombstoneQuery.get(store);
  if (!q) {
    q = store.db.prepare('SELECT id, bridge, reason, by, at, cause FROM tombstones WHERE id = ?');
    tombstoneQuery.set(store, q);
  }
  return q.get(bareId(id)) as Tombstone | undefined;
}

/** Tombstones, newest first, of one bridge or all. */
export function listTombstones(store: Store, bridge?: string, limit = 1000): Tombstone[] {
  return (
    bridge === undefined
      ? store.db
          .prepare('SELECT id, bridge, reason, by, at, cause FROM tombstones ORDER BY at DESC, id LIMIT ?')
          .all(limit)
      : store.db
          .prepare(
            'SELECT id, bridge, reason, by, at, cause FROM tombstones WHERE bridge = ? ORDER BY at DESC, id LIMIT ?',
          )
          .all(bridge, limit)
  ) as Tombstone[];
}

/** The kv scope where removals made without a daemon wait to be told to its accounts at its next start. */
const UNTOLD = 'core:removed-untold';

/** The origin of a removal made with no daemon to ask (`peerpost remove` on the store). */
export const OFFLINE = 'offline';

/** How many log rows one read takes. */
const FEED_BATCH = 100;

export interface RemovalsOptions {
  /** `peerpost remove` with no daemon to ask: what the accounts must hear waits in the store (tellUntold). */
  offline?: boolean;
  /** A listener threw (`listener`), or the removal log could not be read or claimed (`log`: tried again later). */
  onError?: (err: unknown, what: 'listener' | 'log') => void;
  /** Removals made with no daemon to ask, claimed by this process while it runs and told to all its listeners. */
  onClaimed?: (removed: readonly RemovedPost[]) => void;
  /** Who removes, in the log (default: a token of this process; OFFLINE when offline). */
  origin?: string;
  /** The removal log (default: the store's; a test's fake). */
  log?: Pick<RemovalLog, 'kept' | 'write' | 'after' | 'newest' | 'prune'>;
}

export interface RemovedListenOptions {
  /** Also the removals other processes on the same database make (see PluginContext.onRemoved). */
  fromOtherProcesses?: boolean;
}

/**
 * Removals: the transaction, then every running account told (ctx.onRemoved), in order. Without a daemon
 * (`offline`: `peerpost remove` on the store) what the accounts must hear is kept in the store, in the same
 * transaction, and told by the daemon at its next start (tellUntold): the news server's numbers, the mail
 * plugin's files and the news cancels follow then.
 *
 * Several processes on one PostgreSQL database: each removal is also written to the removal log
 * (src/archive/removal-log.ts), and every other process tells it to the listeners that asked for other processes'
 * removals (a view: the web's stream, finger's plans, the outbox's queue), read from the log on a wake-up (catchUp).
 * The listeners that act once for the whole node (a news cancel) hear only their own process's removals; those made
 * offline are taken by the first process to claim them (the untold row is deleted by exactly one), at once when a
 * process runs, else at the next start.
 */
export class Removals {
  private readonly listeners = new Set<(removed: readonly RemovedPost[]) => void>();
  /** Listeners that also take other processes' removals. */
  private readonly wide = new Set<(removed: readonly RemovedPost[]) => void>();
  readonly log: Pick<RemovalLog, 'kept' | 'write' | 'after' | 'newest' | 'prune'>;
  /** The log row read last (off: not reading the log; src/store/feed-cursor.ts). */
  private readonly cursor = new FeedCursor(() => this.catchUp());

  private readonly offline: boolean;
  private readonly onError: (err: unknown, what: 'listener' | 'log') => void;
  private readonly onClaimed: (removed: readonly RemovedPost[]) => void;
  /** Who removes, in the log: this process (a daemon's own token), or OFFLINE. */
  readonly origin: string;

  constructor(
    private readonly store: Store,
    opts: RemovalsOptions = {},
  ) {
    this.offline = opts.offline ?? false;
    this.onError = opts.onError ?? (() => {});
    this.onClaimed = opts.onClaimed ?? (() => {});
    this.origin = opts.origin ?? (this.offline ? OFFLINE : `process ${randomUUID()}`);
    this.log = opts.log ?? new RemovalLog(store);
  }

  remove(target: RemovalTarget, opts: RemovalOptions): RemovalResult {
    const r = this.store.transaction(() => {
      const r = removePosts(this.store, target, opts);
      if (this.offline) for (const p of r.removed) this.store.kvSet(UNTOLD, p.id, p);
      this.log.write(this.origin, r.removed, opts.now);
      return r;
    });
    if (r.removed.length > 0 && !this.offline) this.tell(r.removed);
    return r;
  }

  /** Tell the accounts of the removals made while no daemon ran (each claimed by one process); returns how many. */
  tellUntold(): number {
    const removed = this.claim(this.store.kvKeys(UNTOLD));
    if (removed.length > 0) this.tell(removed);
    return removed.length;
  }

  /** Take the untold removals of these ids: each is deleted by exactly one process, which tells it. */
  private claim(ids: readonly string[]): RemovedPost[] {
    if (ids.length === 0) return [];
    return this.store.transaction(() => {
      const out: RemovedPost[] = [];
      for (const id of ids) {
        const p = this.store.kvGet(UNTOLD, id) as RemovedPost | undefined;
        if (p !== undefined && this.store.kvDelete(UNTOLD, id)) out.push(p);
      }
      return out;
    });
  }

  onRemoved(fn: (removed: readonly RemovedPost[]) => void, opts: RemovedListenOptions = {}): () => void {
    const set = opts.fromOtherProcesses ? this.wide : this.listeners;
    const entry = (r: readonly RemovedPost[]) => fn(r);
    set.add(entry);
    return () => set.delete(entry);
  }

  /** Read the log from now on (a daemon on PostgreSQL): what is in it already is not news. */
  startFeed(): void {
    if (!this.log.kept) return;
    this.cursor.start(
      () => this.log.newest(),
      (err) => this.onError(err, 'log'),
    );
  }

  stopFeed(): void {
    this.cursor.stop();
  }

  /** A removal was logged elsewhere (a NOTIFY with its number, the slow poll, a reconnect): read the log soon. */
  nudge(n?: number): void {
    this.cursor.nudge(n);
  }

  /** Tell what the other processes removed after the cursor, in the log's order. */
  catchUp(): void {
    for (;;) {
      const from = this.cursor.at;
      if (from === undefined) return;
      let rows: LoggedRemoval[];
      try {
        rows = this.log.after(from, FEED_BATCH);
      } catch (err) {
        this.cursor.failed(() =>
          this.onError(
            new Error(
              `the removals of other processes could not be read after row ${from} (${(err as Error).message}); read at the next wake-up or poll`,
              { cause: err },
            ),
            'log',
          ),
        );
        return;
      }
      for (const row of rows) {
        if (!this.cursor.on) return;
        this.cursor.at = row.n;
        if (row.origin === this.origin) continue; // told at its commit
        this.call(this.wide, row.removed);
        // Made with no daemon to ask: the node-wide listeners (a news cancel) hear it here if this process claims it.
        if (row.origin === OFFLINE) {
          let mine: RemovedPost[] = [];
          try {
            mine = this.claim(row.removed.map((r) => r.id));
          } catch (err) {
            this.onError(err, 'log'); // left untold: the next start tells it
          }
          if (mine.length > 0) {
            this.call(this.listeners, mine);
            this.onClaimed(mine);
          }
        }
      }
      if (rows.length < FEED_BATCH) return;
    }
  }

  private tell(removed: readonly RemovedPost[]): void {
    this.call(this.listeners, removed);
    this.call(this.wide, removed);
  }

  private call(set: ReadonlySet<(removed: readonly RemovedPost[]) => void>, removed: readonly RemovedPost[]): void {
    for (const fn of set) {
      try {
        fn(removed);
      } catch (err) {
        this.onError(err, 'listener');
      }
    }
  }
}
