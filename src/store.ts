/**
 * The store: one SQLite file (better-sqlite3, WAL) holding posts, the outbox,
 * the id map, the digest buffer, which posts each digest holds, and each
 * plugin's key-value slice. Migrations
 * are append-only and numbered by PRAGMA user_version.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { toStored, type Post, type StoredPost, type StoredRow } from './post.js';
import { threadKeyOf } from './archive/thread.js';
import { archivePage, type ArchiveFilter, type ArchivePageOf, type ArchivePosition } from './archive/export.js';
import { MIGRATIONS, indexText, placeOf, registerFunctions } from './migrations.js';
import type { SqlDatabase, SqlDialect, SqlStatement } from './sql.js';
import { DeferredIndex } from './store/deferred-index.js';
import { WalSync } from './store/wal-sync.js';
import { searchFields } from './store/pg/tsvector.js';
import { postRow } from './store/pg/post-rows.js';
import { prepareStatements, type StoreStatements } from './store/statements.js';
import { PostCounts } from './store/post-counts.js';
import type { Fence, FencedWrite, LandedId } from './store/outcomes.js';
import { PgOutboxWrites } from './store/pg-outbox.js';
import { NoStoreError, StoreError, describeStoreError, prepareDataDir } from './store/errors.js';
import { toRow, type OutboxRow, type QueuedDelivery, type RawOutbox } from './store/outbox-row.js';
import { migratePlugin, migratePostgres, migrateSqlite } from './store/migrate.js';
import {
  listOutbox,
  outboxRow,
  outboxStats,
  requeue,
  type OutboxFilter,
  type OutboxStat,
} from './store/outbox-view.js';

export type { Fence, FencedWrite } from './store/outcomes.js';
export { StoreError, NoStoreError, describeStoreError, isTemporaryStoreError, prepareDataDir } from './store/errors.js';
export type { OutboxRow, QueuedDelivery } from './store/outbox-row.js';

export { MIGRATIONS };

export const STORE_FILE = 'peerpost.db';

export interface StoreOptions {
  durability?: 'process' | 'power';
  readonly?: boolean;
  /**
   * false: open only a store that exists, creating neither it nor its directory (NoStoreError
   * otherwise). Only the daemon creates a store; a command that found none was pointed at the wrong place.
   */
  create?: boolean;
  /**
   * The daemon's: a post's row in the search index (archive_fts) is written after the post's commit, with those of
   * the next INDEX_DELAY_MS (or INDEX_BATCH posts), in a transaction of their own (Store.flushIndex); one such
   * transaction for many posts costs a fraction of a row in each post's own (the POST path of issue 19). Search in
   * the daemon writes what is waiting first; what a crash left unwritten is written when the store is opened so
   * again. Without it (commands, tests), the row is written in the post's transaction.
   */
  deferIndex?: boolean;
  /**
   * The daemon's: after commits, the log (the -wal file) is synced to disk in the background (libuv's thread pool),
   * at most every SYNC_AHEAD_MS, so that the checkpoint's own fsync of it, on the thread of the commit that crossed
   * WAL_AUTOCHECKPOINT_PAGES, has little left to write (it stalled every commit ~40 ms every ~400 posts). Syncing more
   * often only adds durability; the durability setting is kept as it is.
   */
  syncAhead?: boolean;
}

/**
 * WAL pages after which a commit checkpoints (copies the log into the database
 * and fsyncs it). SQLite's default of 1,000 stalls a busy daemon every ~100 posts
 * for a few ms; 4,000 (16 MB of log) makes the stalls four times rarer: at 1,000
 * posts/s the ingest→deliver p99 fell from 5.3 ms to 1.7 ms (max 17 ms). A worker
 * thread checkpointing in the background did as well (max 4 ms) but cost 9 MB.
 */
const WAL_AUTOCHECKPOINT_PAGES = 4000;

/**
 * SQLite's page cache of the store's connection, in KiB (a negative cache_size). better-sqlite3 builds SQLite with
 * 16 MiB, a cache that fills as the store grows: a daemon's RSS rose by ~9 MB between 6,000 and 60,000 posts
 * received by mail (issue 19), and in the 30-minute soak it was a third of the RSS slope. 2 MiB is SQLite's own
 * default; a page not in it is read from the kernel's file cache (which the kernel gives back when memory is short).
 * No figure of the benches moved beyond their noise with it (bench/RESULTS.md, mail-receive).
 */
export const PAGE_CACHE_KIB = 2000;

export class Store {
  /** The connection every statement goes through (SQLite or PostgreSQL: src/sql.ts). */
  readonly db: SqlDatabase;
  readonly dialect: SqlDialect;
  /** The SQLite connection itself (pragmas, integrity checks); undefined on PostgreSQL. */
  readonly sqlite: Database.Database | undefined;
  /** PostgreSQL: the outbox rows of a batch and the deliveries done, written together (src/store/pg-outbox.ts). */
  private readonly pgOut: PgOutboxWrites | undefined;
  /**
   * PostgreSQL, several processes: an outbox write carrying a fence was refused (another process holds the lease now,
   * or this one's expired). Nothing was changed: the rows stay for the holder. Called after the refused statement.
   */
  onFenced?: (fence: Fence, what: FencedWrite, rows: readonly number[]) => void;
  /** The SQLite file, or the PostgreSQL URL without its password. */
  readonly file: string;

  private readonly q: StoreStatements;
  /** One transaction wrapper, made once (better-sqlite3 builds four functions per db.transaction() call). */
  private readonly tx: <T>(fn: () => T) => T;
  /**
   * A transaction that reads before it writes, begun as a writer (SQLite's BEGIN IMMEDIATE, waiting for the lock as
   * any write does): a deferred one that reads first fails at once with "database is locked" (SQLITE_BUSY, no wait)
   * when another process (a command beside the daemon) commits between its read and its first write.
   */
  private readonly txWrite: <T>(fn: () => T) => T;
  /** deferIndex: the search rows written a moment after the commit (src/store/deferred-index.ts). */
  private readonly deferred: DeferredIndex | undefined;
  /** Posts kept per bridge, brought up to date rather than counted again (src/store/post-counts.ts). */
  readonly postCounts: PostCounts;
  /** syncAhead: the log synced in the background after commits (src/store/wal-sync.ts). */
  private readonly walSync: WalSync | undefined;

  /** Open (creating when needed, unless create: false) the store in the data directory. Throws StoreError with a clear message. */
  static open(dataDir: string, opts: StoreOptions = {}): Store {
    if (dataDir !== ':memory:' && opts.create === false) {
      if (!existsSync(join(dataDir, STORE_FILE))) throw new NoStoreError(dataDir);
    } else if (dataDir !== ':memory:') prepareDataDir(dataDir);
    const file = dataDir === ':memory:' ? ':memory:' : join(dataDir, STORE_FILE);
    try {
      return new Store(file, opts);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw describeStoreError(err, file);
    }
  }

  /**
   * A store on PostgreSQL (issue 17) over a connection that speaks it (src/store/pg/database.ts); `label` names it in
   * messages (the URL without its password). Its schema is brought to the newest version (src/store/pg/schema.ts).
   */
  static postgres(db: SqlDatabase, label: string): Store {
    return new Store(label, {}, db);
  }

  private constructor(file: string, opts: StoreOptions, pg?: SqlDatabase) {
    this.file = file;
    if (pg) {
      this.dialect = 'postgres';
      this.db = pg;
      this.sqlite = undefined;
      this.deferred = undefined;
      this.walSync = undefined;
      migratePostgres(pg, file);
      this.postCounts = new PostCounts(pg, undefined, true);
      this.q = prepareStatements(pg, true);
      this.tx = <T>(fn: () => T) => pg.transaction(fn)();
      this.txWrite = this.tx;
      this.pgOut = new PgOutboxWrites(pg, this.q, this.tx, (fence, what, rows) => this.onFenced?.(fence, what, rows));
      return;
    }
    this.dialect = 'sqlite';
    this.pgOut = undefined;
    const db = new Database(file, {
      readonly: opts.readonly ?? false,
      fileMustExist: opts.create === false,
      timeout: 5000,
    });
    this.db = db;
    this.sqlite = db;
    registerFunctions(db);
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      // 'process' (NORMAL): in WAL mode a commit is in the OS before ingest returns,
      // so a kill -9 of peerpost loses nothing; only a power cut may lose the newest
      // commits. 'power' (FULL): fsync on every commit.
      db.pragma(`synchronous = ${opts.durability === 'power' ? 'FULL' : 'NORMAL'}`);
      db.pragma('foreign_keys = ON');
      db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    }
    // Reading the schema proves the file is a database (SQLITE_NOTADB otherwise).
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length)
      throw new StoreError(
        `the store ${file} was written by a newer peerpost (schema ${version}, this one knows ${MIGRATIONS.length}); upgrade peerpost`,
        'SCHEMA',
      );
    if (!opts.readonly) migrateSqlite(db, version);
    this.q = prepareStatements(this.db, false);
    const run = db.transaction((fn: () => unknown) => fn());
    this.tx = <T>(fn: () => T) => run(fn) as T;
    this.txWrite = <T>(fn: () => T) => run.immediate(fn) as T;
    this.deferred =
      opts.deferIndex && !opts.readonly
        ? new DeferredIndex({
            db,
            txWrite: this.txWrite,
            kvGet: <T>(scope: string, key: string) => this.kvGet<T>(scope, key),
            kvSet: (scope, key, value) => this.kvSet(scope, key, value),
            idAtSeq: (seq) => this.q.idAtSeq.get(seq) as string | undefined,
            indexRow: (seq, post) => this.indexRow(seq, post),
          })
        : undefined;
    this.walSync =
      opts.syncAhead && !opts.readonly && file !== ':memory:' ? new WalSync(`${file}-wal`, () => db.open) : undefined;
    this.deferred?.catchUp();
    this.postCounts = new PostCounts(db, opts.readonly ? undefined : db);
  }

  close(): void {
    if (this.db.open) {
      this.deferred?.tryFlush(); // what cannot be written now is at the next open
      try {
        this.flushDelivered();
      } catch {
        // PostgreSQL unreachable: those rows stay pending, and are sent again at the next start (at least once)
      }
      this.db.close();
    }
    this.deferred?.stop();
    this.walSync?.close();
  }

  /** Run fn in a transaction (a savepoint when nested); rolled back if it throws. */
  transaction<T>(fn: () => T): T {
    const r = this.tx(fn);
    if (this.walSync && !this.db.inTransaction) this.walSync.afterCommit();
    return r;
  }

  /** syncAhead: background syncs of the log started so far. */
  get syncsStarted(): number {
    return this.walSync?.started ?? 0;
  }

  // ---- posts ----

  /**
   * Insert a post; returns its seq, or undefined when a post with this id is already stored. `imported`: it comes
   * from an old archive (`peerpost import`): placed by its own date (migration 10), left out of the live stream.
   */
  insertPost(post: Post, now: number, opts: { imported?: boolean } = {}): number | undefined {
    const imported = opts.imported ?? false;
    const insert = () => {
      const row = [
        post.id,
        post.bridge,
        now,
        JSON.stringify(post),
        post.date ?? null,
        placeOf(post, now, imported),
        imported ? 1 : 0,
      ];
      let seq: number | undefined;
      if (this.q.insertPosts) {
        return this.insertPosts([{ post, imported }], now)[0];
      } else {
        const r = this.q.insertPost!.run(...row);
        if (r.changes === 0) return undefined;
        seq = Number(r.lastInsertRowid);
      }
      // The archive's search index (migration 9): in the same transaction, or (deferIndex) a moment later, with others.
      if (post.kind !== 'event') {
        if (this.deferred) this.deferred.add(seq, post);
        else this.indexRow(seq, post);
      }
      return seq;
    };
    // The ingest and the digest keeper call this inside their transaction (no savepoint needed); alone, it opens one.
    return this.db.inTransaction ? insert() : this.tx(insert);
  }

  /** A post's row of the search index (migration 9; on PostgreSQL its two vectors: src/store/pg/schema.ts). */
  private indexRow(seq: number, post: Post): void {
    if (post.kind !== 'event') this.q.indexPost!.run(seq, ...indexText(post));
  }

  /**
   * deferIndex: write the search rows of the posts stored since the last time (DeferredIndex.flush): search calls it
   * before it reads.
   */
  flushIndex(): void {
    this.deferred?.flush();
  }

  /** Posts stored whose search row is not written yet (deferIndex). */
  get unindexedCount(): number {
    return this.deferred?.size ?? 0;
  }

  /**
   * Insert posts in order (the core's group commit): each one's seq, or undefined for one already stored (or given
   * twice in the batch). On SQLite, insertPost for each; on PostgreSQL, one round trip for the batch.
   */
  insertPosts(items: readonly { post: Post; imported?: boolean }[], now: number): (number | undefined)[] {
    if (!this.q.insertPosts || this.deferred) return items.map((i) => this.insertPost(i.post, now, i));
    const rows = this.postRows(items, now);
    const run = () => this.q.insertPosts!.all(JSON.stringify(rows), now) as { n: number; seq: number }[];
    const got = this.db.inTransaction ? run() : this.tx(run);
    const seqs: (number | undefined)[] = items.map(() => undefined);
    for (const r of got) seqs[r.n] = r.seq;
    return seqs;
  }

  /** PostgreSQL: the posts as pp_insert_posts takes them (src/store/pg/post-rows.ts). */
  private postRows(items: readonly { post: Post; imported?: boolean }[], now: number) {
    return items.map(({ post, imported }, n) => postRow(post, n, now, imported));
  }

  /**
   * PostgreSQL, outside a transaction: a group commit in one statement, committed by itself (one round trip): the
   * posts in order (as insertPosts), and for each one inserted its outbox rows, one per route in order (as
   * addDeliveries). For each post: its seq and its rows' numbers, or undefined for one held, removed or given twice.
   * Undefined altogether where it does not apply (SQLite, or inside a transaction): use insertPosts and batch().
   */
  ingestPosts(
    items: readonly { post: Post; imported?: boolean; routes: readonly { endpoint: string; shape: string }[] }[],
    now: number,
  ): ({ seq: number; rows: number[] } | undefined)[] | undefined {
    if (!this.q.ingestPosts || this.deferred || this.db.inTransaction) return undefined;
    return ingested(items.length, this.q.ingestPosts.all(...this.ingestParams(items, now)) as IngestRow[]);
  }

  /**
   * Whether ingestPostsAsync applies (PostgreSQL) and its lane is connected. Asked first, the lane starts in the
   * background (src/store/pg/lane.ts) and the answer is no until it is connected: use ingestPosts meanwhile.
   */
  laneReady(): boolean {
    return this.laneStatement() !== undefined && (this.db as unknown as { laneReady(): boolean }).laneReady();
  }

  /** The ingestPosts statement where it can run on the ingest lane (PostgreSQL's, PgStatement.allAsync). */
  private laneStatement(): { allAsync(...params: unknown[]): Promise<unknown[]> } | undefined {
    const s = this.q.ingestPosts as { allAsync?(...params: unknown[]): Promise<unknown[]> } | undefined;
    return s?.allAsync && !this.deferred ? (s as { allAsync(...params: unknown[]): Promise<unknown[]> }) : undefined;
  }

  /**
   * As ingestPosts, on PostgreSQL's ingest lane (src/store/pg/lane.ts): the same statement on a second connection,
   * and the daemon's thread goes on while it runs. Undefined where it does not apply (SQLite): use ingestPosts.
   */
  ingestPostsAsync(
    items: readonly { post: Post; imported?: boolean; routes: readonly { endpoint: string; shape: string }[] }[],
    now: number,
  ): Promise<({ seq: number; rows: number[] } | undefined)[]> | undefined {
    const s = this.laneStatement();
    if (!s) return undefined;
    return s.allAsync(...this.ingestParams(items, now)).then((got) => ingested(items.length, got as IngestRow[]));
  }

  private ingestParams(
    items: readonly { post: Post; imported?: boolean; routes: readonly { endpoint: string; shape: string }[] }[],
    now: number,
  ): unknown[] {
    const routes = items.flatMap((it, n) => it.routes.map((r, i) => ({ n, i, e: r.endpoint, s: r.shape })));
    return [JSON.stringify(this.postRows(items, now)), now, JSON.stringify(routes), now];
  }

  /**
   * Whether insertPosts itself passes over a post held or removed (PostgreSQL: pp_insert_posts checks both in the
   * same round trip), so that the ingest need not ask seen() of each post first.
   */
  get seenAtInsert(): boolean {
    return this.q.insertPosts !== undefined && !this.deferred;
  }

  /**
   * Is this id held, or removed (its tombstone)? One lookup for both (the ingest asks it of every post that brings
   * its own id: on PostgreSQL each statement is a round trip).
   */
  seen(
    id: string,
  ): 'held' | { id: string; bridge: string | null; reason: string; by: string; at: number; cause: string } | undefined {
    const r = this.q.seen.get(id, id) as
      | { held: number; id: string; bridge: string | null; reason: string; by: string; at: number; cause: string }
      | undefined;
    if (!r) return undefined;
    if (r.held === 1) return 'held';
    const { held: _held, ...tombstone } = r;
    return tombstone;
  }

  /**
   * Write the search index of posts already stored, as insertPost writes it (`peerpost migrate` fills a new
   * PostgreSQL store's index with it: SQLite's index is contentless and cannot be read back). On PostgreSQL, one
   * statement for the whole batch.
   */
  indexPosts(posts: readonly { seq: number; post: Post }[]): void {
    const indexed = posts.filter(({ post }) => post.kind !== 'event');
    if (!indexed.length) return;
    if (this.q.indexPosts) {
      this.q.indexPosts.run(JSON.stringify(indexed.map(({ seq, post }) => ({ seq, ...searchFields(post) }))));
      return;
    }
    this.transaction(() => indexed.forEach(({ seq, post }) => this.indexRow(seq, post)));
  }

  hasPost(id: string): boolean {
    return this.q.hasPost.get(id) !== undefined;
  }

  getPost(id: string): StoredPost | undefined {
    const r = this.q.postById.get(id) as StoredRow | undefined;
    return r && toStored(r);
  }

  getPostBySeq(seq: number): StoredPost | undefined {
    const r = this.q.postBySeq.get(seq) as StoredRow | undefined;
    return r && toStored(r);
  }

  /**
   * The newest posts of a bridge by place (migration 10: when received; an imported post by its date), seq breaking
   * ties; `before` is the seq of the post the previous page ended with (exclusive): the page goes on from its place.
   */
  latestPosts(bridge: string, limit = 50, before = Number.MAX_SAFE_INTEGER): StoredPost[] {
    let at = Number.MAX_SAFE_INTEGER;
    if (before < Number.MAX_SAFE_INTEGER) {
      const known = (this.q.placeOfSeq.get({ seq: before }) ?? this.q.placeBeforeSeq.get(bridge, before)) as
        number | undefined;
      if (known === undefined) return [];
      at = known;
    }
    return (this.q.latest.all({ bridge, at, seq: before, limit }) as StoredRow[]).map(toStored);
  }

  /** Posts of a bridge that arrived after the seq `after`, in arrival order: the live stream's; imported ones left out. */
  postsSince(bridge: string, after: number, limit = 500): StoredPost[] {
    return (this.q.since.all(bridge, after, limit) as StoredRow[]).map(toStored);
  }

  /**
   * Posts of every bridge with a seq above `seq`, in seq order (commit order), imported ones included (marked): what
   * other processes on the same database committed (PostListeners' feed, ctx.onPost's fromOtherProcesses).
   */
  postsAfter(seq: number, limit = 500): StoredPost[] {
    return (this.q.after.all(seq, limit) as StoredRow[]).map(toStored);
  }

  /** The highest seq held (0 for an empty store). */
  newestSeq(): number {
    return this.q.newestSeq.get() as number;
  }

  /**
   * The posts of the thread that the post `id` belongs to, oldest first (by place: migration 10); the thread is named by its
   * root's id (migration 4: the first of References, else In-Reply-To, else the post's own id). Empty for an id
   * not held, unless other posts name it as their root (a thread whose first post is elsewhere).
   */
  threadPosts(id: string, limit = 10_000): StoredPost[] {
    return (this.q.thread.all(threadKeyOf(this.db, id), limit) as StoredRow[]).map(toStored);
  }

  /** One page of an export (src/archive/export.ts): posts matching the filter after `after`, oldest first by place. */
  archivePage(filter: ArchiveFilter, after: ArchivePosition | undefined, limit: number): ArchivePageOf {
    return archivePage(this.db, filter, after, limit);
  }

  /**
   * Posts kept in a bridge (the web's archive pages, finger's plans): on SQLite from the counts kept up to date
   * (PostCounts), not counted over the bridge at every page view; on PostgreSQL kept by the database (pp_post_counts).
   */
  countPosts(bridge: string): number {
    return this.postCounts.of(bridge);
  }

  // ---- outbox ----

  addDelivery(postSeq: number, endpoint: string, shape: string, now: number): number {
    return Number(this.q.insertOutbox.run(postSeq, endpoint, shape, now).lastInsertRowid);
  }

  /**
   * A post's outbox rows, one per route, in order: their row numbers. On PostgreSQL inside batch(), the rows are
   * written together with the others of the batch, with the transaction's COMMIT (one round trip): the array given
   * back is filled then (read it after the commit, as outboxQueue does).
   */
  addDeliveries(postSeq: number, routes: readonly { endpoint: string; shape: string }[], now: number): number[] {
    return (
      this.pgOut?.add(postSeq, routes, now) ?? routes.map((r) => this.addDelivery(postSeq, r.endpoint, r.shape, now))
    );
  }

  /**
   * Run fn (inside a transaction) with the outbox rows it adds written together at its end: on PostgreSQL one
   * statement for a whole group commit instead of one per post, sent with the COMMIT (SQLite: fn as it is).
   */
  batch<T>(fn: () => T): T {
    return this.pgOut ? this.pgOut.batch(fn) : fn();
  }

  /** The first `limit` pending rows of an endpoint after `afterRow`, in order, with their posts. */
  queue(endpoint: string, limit: number, afterRow = 0): QueuedDelivery[] {
    this.landed();
    return (this.q.head.all(endpoint, afterRow, limit) as (RawOutbox & { data: string })[]).map((r) => ({
      ...toRow(r),
      post: JSON.parse(r.data) as Post,
    }));
  }

  pendingEndpoints(): string[] {
    this.landed();
    return this.q.pendingEndpoints.all() as string[];
  }

  markDelivered(row: number): void {
    this.q.deleteRow.run(row);
  }

  /**
   * A delivery done: its row goes, and the native id the endpoint gave it (if any) is kept. On SQLite at once, in a
   * transaction. On PostgreSQL it waits in memory for flushDelivered(), which writes every delivery waiting in one
   * statement per fence (the outbox calls it on the next turn: a turn's deliveries, across endpoints, cost one round
   * trip instead of three each). Until then the row is still pending in the database: a crash in between means the
   * post is sent again at the next start (at least once, as a crash between a delivery and its record always did).
   * The store writes them first before it reads the outbox or the id map, and when it closes. Returns true when the
   * delivery waits for flushDelivered(). `fence` (PostgreSQL, a lease holder): written only if the lease still holds.
   */
  landDelivery(row: number, id?: LandedId, fence?: Fence): boolean {
    if (this.pgOut) {
      this.pgOut.land(row, id, fence);
      return true;
    }
    this.transaction(() => {
      this.q.deleteRow.run(row);
      if (id) this.q.idSet.run(id.account, id.target, id.nativeId, id.postId);
    });
    return false;
  }

  /** Deliveries waiting for their write (landDelivery). */
  get deliveriesWaiting(): number {
    return this.pgOut?.waiting ?? 0;
  }

  /**
   * Write the deliveries waiting (landDelivery) in one transaction, committed by itself: one statement per fence, all
   * in one round trip. When it fails (PostgreSQL unreachable) they keep waiting, for the next call, and the error is
   * thrown. Inside a transaction it does nothing (the transaction may still roll back): they are written at the next
   * call outside one. A group whose fence was refused is dropped (its rows stay pending for the lease's holder) and
   * onFenced is told.
   */
  flushDelivered(): void {
    this.pgOut?.flush();
  }

  /** Before reading the outbox or the id map: what landDelivery holds is written (a failure is the read's). */
  private landed(): void {
    if (this.pgOut?.waiting) this.flushDelivered();
  }

  /**
   * A try failed and the row waits until nextAt. `fence` (PostgreSQL, a lease holder): written only if the lease
   * still holds; false when the fence refused it (nothing changed; onFenced was told).
   */
  markRetry(row: number, attempts: number, nextAt: number, reason: string, fence?: Fence): boolean {
    if (fence && this.q.retryFenced)
      return this.fenced(fence, 'retry', row, this.q.retryFenced, [attempts, nextAt, reason, row]);
    this.q.retryRow.run(attempts, nextAt, reason, row);
    return true;
  }

  /** A row becomes a dead letter. `fence`: as markRetry's. */
  markDead(row: number, attempts: number, reason: string, now: number, fence?: Fence): boolean {
    if (fence && this.q.killFenced)
      return this.fenced(fence, 'dead', row, this.q.killFenced, [attempts, reason, now, row]);
    this.q.killRow.run(attempts, reason, now, row);
    return true;
  }

  private fenced(fence: Fence, what: FencedWrite, row: number, stmt: SqlStatement, args: unknown[]): boolean {
    const r = stmt.get(fence.lease, fence.holder, fence.epoch, ...args) as { held?: boolean } | undefined;
    if (r?.held) return true;
    this.onFenced?.(fence, what, [row]);
    return false;
  }

  wakeEndpoint(endpoint: string): number {
    return this.q.wakeEndpoint.run(endpoint).changes;
  }

  /** Posts kept, per bridge. */
  countPostsByBridge(): Record<string, number> {
    return this.postCounts.get();
  }

  /** Can the store take a write right now (disk full, read-only, locked)? */
  writable(): boolean {
    try {
      this.db
        .prepare(
          `INSERT INTO kv (scope, key, value) VALUES ('core', 'health', ?) ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value`,
        )
        .run(JSON.stringify(Date.now()));
      return true;
    } catch {
      return false;
    }
  }

  // ---- the outbox as `peerpost outbox` shows and mends it (src/store/outbox-view.ts) ----

  /** Rows for `peerpost outbox`, oldest first. */
  listOutbox(filter: OutboxFilter = {}): OutboxRow[] {
    this.landed();
    return listOutbox(this.db, filter);
  }

  outboxRow(row: number): OutboxRow | undefined {
    this.landed();
    return outboxRow(this.db, row);
  }

  /** Depth and age of the outbox, per endpoint. */
  outboxStats(): OutboxStat[] {
    this.landed();
    return outboxStats(this.db);
  }

  /**
   * Put a dead (or waiting) row back in line, to be tried at once. Returns false when there is no such row.
   * PostgreSQL: the process that delivers its endpoint (maybe another) is woken at the commit (NOTIFY pp_outbox, as
   * for a new row), not at its next poll.
   */
  requeue(row: number): boolean {
    return requeue(this.db, this.dialect, row);
  }

  /** Requeue every dead row (of one bridge); returns the endpoints touched. */
  requeueAllDead(bridge?: string): { count: number; endpoints: string[] } {
    const rows = this.listOutbox({ state: 'dead', ...(bridge !== undefined ? { bridge } : {}), limit: 1e9 });
    this.transaction(() => rows.forEach((r) => this.requeue(r.row)));
    return { count: rows.length, endpoints: [...new Set(rows.map((r) => r.endpoint))] };
  }

  dropRow(row: number): OutboxRow | undefined {
    const r = this.outboxRow(row);
    if (r) this.q.deleteRow.run(row);
    return r;
  }

  // ---- digest buffer ----

  addDigestLine(bridge: string, postSeq: number, at: number): void {
    this.q.insertDigestLine.run(bridge, postSeq, at);
  }

  digestLines(bridge: string): { id: number; at: number; post: StoredPost }[] {
    return (this.q.digestLines.all(bridge) as (StoredRow & { id: number; at: number })[]).map((r) => ({
      id: r.id,
      at: r.at,
      post: toStored(r),
    }));
  }

  digestSummary(): { bridge: string; n: number; first: number; last: number }[] {
    return this.q.digestSummary.all() as { bridge: string; n: number; first: number; last: number }[];
  }

  clearDigestLines(bridge: string, upToId: number): void {
    this.q.digestDelete.run(bridge, upToId);
  }

  /** The digest `digestSeq` holds these posts, in this order (written when it closes). */
  setDigestPosts(digestSeq: number, postSeqs: readonly number[]): void {
    postSeqs.forEach((seq, i) => this.q.insertDigestPost.run(digestSeq, i, seq));
  }

  /** The posts a digest of ours holds, in order; empty for another node's digest or one closed before they were kept. */
  digestPosts(digestId: string): StoredPost[] {
    return (this.q.digestPosts.all(digestId) as StoredRow[]).map(toStored);
  }

  // ---- key-value and id map ----

  kvGet<T>(scope: string, key: string): T | undefined {
    const v = this.q.kvGet.get(scope, key) as string | undefined;
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  kvSet(scope: string, key: string, value: unknown): void {
    this.q.kvSet.run(scope, key, JSON.stringify(value));
  }

  /** Delete a key; whether it was there (of several processes deleting one key, exactly one gets true). */
  kvDelete(scope: string, key: string): boolean {
    return this.q.kvDelete.run(scope, key).changes > 0;
  }

  kvKeys(scope: string, prefix = ''): string[] {
    return this.q.kvKeys.all(scope, prefix, prefix + '\uffff') as string[];
  }

  setNativeId(account: string, target: string, nativeId: string, postId: string): void {
    this.q.idSet.run(account, target, nativeId, postId);
  }

  postForNative(account: string, target: string, nativeId: string): string | undefined {
    this.landed();
    return this.q.idPost.get(account, target, nativeId) as string | undefined;
  }

  nativeForPost(postId: string, account: string, target: string): string | undefined {
    this.landed();
    return this.q.idNative.get(postId, account, target) as string | undefined;
  }

  /** Apply a plugin's own migrations once each, in order (src/store/migrate.ts). */
  migratePlugin(scope: string, tablePrefix: string, migrations: readonly string[]): void {
    migratePlugin(this.db, this.dialect, (fn) => this.transaction(fn), scope, tablePrefix, migrations);
  }
}

/** A row of the ingestPosts statement: post n stored as seq, one of its outbox rows (null: a post without routes). */
type IngestRow = { n: number; seq: number; row: number | null };

/** ingestPosts's rows grouped by post: each one's seq and outbox rows, undefined for a post not inserted. */
function ingested(count: number, got: readonly IngestRow[]): ({ seq: number; rows: number[] } | undefined)[] {
  const out: ({ seq: number; rows: number[] } | undefined)[] = Array.from({ length: count }, () => undefined);
  for (const r of got) {
    const o = (out[r.n] ??= { seq: r.seq, rows: [] });
    if (r.row !== null) o.rows.push(r.row);
  }
  return out;
}
