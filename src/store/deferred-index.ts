/**
 * deferIndex (StoreOptions): a post's row of the archive's search index written a moment after its commit, with the
 * rows of the posts of the same moment, in one transaction, instead of in the post's own (the commit, hence the
 * sender's acknowledgement, does not wait for it). A kv mark says through which post the index is complete; after a
 * crash the next open writes the rows the crash took.
 */
import type { Post } from '../post.js';
import type { SqlDatabase } from '../sql.js';

/** The search index rows of the posts of this many ms are written together, or of this many posts. */
export const INDEX_DELAY_MS = 50;
export const INDEX_BATCH = 512;
/** kv (scope, key) of the highest seq whose post's search row was written by a deferring store (or never needed). */
const INDEXED_THROUGH = ['store', 'indexedThrough'] as const;

/** What the deferred index needs of the store. */
export interface IndexedStore {
  readonly db: SqlDatabase;
  /** A transaction begun as a writer (it reads the mark before it writes). */
  txWrite<T>(fn: () => T): T;
  kvGet<T>(scope: string, key: string): T | undefined;
  kvSet(scope: string, key: string, value: unknown): void;
  /** The id of the post stored at this seq, if any. */
  idAtSeq(seq: number): string | undefined;
  /** Write a post's row of the search index (in the caller's transaction). */
  indexRow(seq: number, post: Post): void;
}

export class DeferredIndex {
  /** Posts stored whose search row is not written yet, by seq (flush checks each is still there). */
  private readonly unindexed = new Map<number, Post>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: IndexedStore) {}

  /** Posts stored whose search row is not written yet. */
  get size(): number {
    return this.unindexed.size;
  }

  /** A post was stored (its transaction may still roll back: flush checks): its row within INDEX_DELAY_MS. */
  add(seq: number, post: Post): void {
    this.unindexed.set(seq, post);
    if (this.unindexed.size >= INDEX_BATCH) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.tryFlush(), 0).unref();
    } else this.timer ??= setTimeout(() => this.tryFlush(), INDEX_DELAY_MS).unref();
  }

  /**
   * Write the search rows of the posts stored since the last time, in one transaction; a post that is no longer there
   * (removed, or its transaction rolled back: its seq may since be another post's) is passed over. Called by a timer,
   * by search before it reads, and by close. Never inside a transaction (it waits for the next turn then). A failure
   * is left for the next call (and, after a crash, for the next open).
   */
  flush(): void {
    const { db } = this.store;
    if (this.unindexed.size === 0 || !db.open) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (db.inTransaction) {
      this.timer = setTimeout(() => this.flush(), 0).unref();
      return;
    }
    const batch = [...this.unindexed];
    this.store.txWrite(() => {
      let through = this.store.kvGet<number>(...INDEXED_THROUGH) ?? 0;
      for (const [seq, post] of batch) {
        if (this.store.idAtSeq(seq) === post.id) this.store.indexRow(seq, post);
        through = Math.max(through, seq);
      }
      this.store.kvSet(...INDEXED_THROUGH, through);
    });
    for (const [seq, post] of batch) if (this.unindexed.get(seq) === post) this.unindexed.delete(seq);
  }

  /**
   * flush, a failure left for later: the store cannot be written now (disk full, ...): the ingest says so to senders;
   * the rows wait for the next post's timer, a search, close, or the next start.
   */
  tryFlush(): void {
    try {
      this.flush();
    } catch {
      // as said
    }
  }

  /**
   * When the store opens: the posts after the last seq a deferring store indexed whose search row is missing (the
   * daemon was killed before it wrote them) get it. A store that never deferred indexed every post in its own
   * transaction: the mark starts at its newest post.
   */
  catchUp(): void {
    const { db } = this.store;
    const through = this.store.kvGet<number>(...INDEXED_THROUGH);
    const newest = (db.prepare('SELECT max(seq) FROM posts').pluck().get() as number | null) ?? 0;
    if (through === undefined) {
      this.store.kvSet(...INDEXED_THROUGH, newest);
      return;
    }
    if (through >= newest) return;
    const has = db.prepare('SELECT 1 FROM archive_fts_docsize WHERE id = ?').pluck();
    this.store.txWrite(() => {
      const rows = db.prepare('SELECT seq, data FROM posts WHERE seq > ? ORDER BY seq').all(through) as {
        seq: number;
        data: string;
      }[];
      for (const r of rows) {
        const post = JSON.parse(r.data) as Post;
        if (post.kind !== 'event' && has.get(r.seq) === undefined) this.store.indexRow(r.seq, post);
      }
      this.store.kvSet(...INDEXED_THROUGH, newest);
    });
  }

  /** The store is closed: no timer left (what was not written is written at the next open, by catchUp). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
