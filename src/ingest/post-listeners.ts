/**
 * The post listeners (ctx.onPost): told of every committed post, in commit order, and (several processes on one
 * PostgreSQL database) of the posts other processes commit, merged in seq order, each once.
 */
import type { Logger } from 'pino';
import type { Post, StoredPost } from '../post.js';
import type { PostListenOptions } from '../plugin.js';
import { FeedCursor } from '../store/feed-cursor.js';

/**
 * Where posts committed by other processes are read (several processes on one PostgreSQL database): the Store.
 * Posts are numbered in the order their transactions commit (src/store/pg/schema.ts), so "after seq N" misses none.
 */
export interface PostFeedSource {
  /** Posts with a seq above `seq`, every bridge, in seq order, at most `limit` (imported ones included, marked). */
  postsAfter(seq: number, limit: number): StoredPost[];
  /** The highest seq held now (0 when none). */
  newestSeq(): number;
}

/** How many posts of other processes one read takes. */
const FEED_BATCH = 200;

/**
 * The listeners told of every committed post, in commit order (ctx.onPost): ingested posts and closed digests.
 *
 * Several processes on one database (feed(): PostgreSQL), a listener added with fromOtherProcesses is also told the
 * posts other processes commit, merged with this process's own in seq order, each once. `cursor` is the seq up to
 * which those listeners have been told. Before a post of this process is told, what others committed below its seq
 * is read and told first (catchUp): the seq numbers commit order, so everything below a committed seq is committed.
 * A wake-up (nudge: a NOTIFY, the slow poll, a reconnect) reads what is above the cursor; every post of this process
 * is already at or below it then (the store's calls are synchronous: a commit and its telling run in one turn), so
 * what the read finds was committed elsewhere. The feed runs only while such a listener is there.
 */
export class PostListeners {
  private readonly fns = new Set<(post: StoredPost) => void>();
  /** Listeners that also take the posts of other processes. */
  private readonly wide = new Set<(post: StoredPost) => void>();
  private source?: PostFeedSource;
  /** While wide listeners are there (feed running): the seq up to which they have been told (src/store/feed-cursor.ts). */
  private readonly cursor = new FeedCursor(() => this.catchUp(Infinity));
  /** Seqs of this process told above the cursor when a catch-up read failed: not told again when it comes. */
  private readonly told = new Set<number>();
  private active?: (on: boolean) => void;
  /** Holds under way (hold), and what was told meanwhile, told at their release. */
  private holds = 0;
  private waiting: { post?: Post; seq: number; at: number; imported: boolean }[] = [];

  constructor(private readonly log: Logger) {}

  /** Call fn after commit for every accepted post, in commit order. Returns the way to stop. */
  add(fn: (post: StoredPost) => void, opts: PostListenOptions = {}): () => void {
    const entry = (p: StoredPost) => fn(p);
    const set = opts.fromOtherProcesses ? this.wide : this.fns;
    set.add(entry);
    if (set === this.wide && this.wide.size === 1) this.startFeed();
    return () => {
      if (!set.delete(entry)) return;
      if (set === this.wide && this.wide.size === 0) this.stopFeed();
    };
  }

  /**
   * Several processes on one database: where the posts of the others are read, and what to call when the feed
   * starts or stops (the daemon LISTENs for new posts only while it runs). Without it (SQLite, one process), a
   * wide listener is an ordinary one.
   */
  feed(source: PostFeedSource, active?: (on: boolean) => void): void {
    this.source = source;
    this.active = active;
    if (this.wide.size > 0) this.startFeed();
  }

  /** Whether the feed runs (a listener takes the posts of other processes). */
  get feeding(): boolean {
    return this.cursor.on;
  }

  private startFeed(): void {
    const source = this.source;
    if (!source) return;
    // What is committed already is not news: a listener that wants the past reads the store (the web stream's replay).
    const started = this.cursor.start(
      () => source.newestSeq(),
      (err) =>
        this.log.warn(
          { err },
          `the feed of other processes' posts could not read where the store is: ${(err as Error).message}`,
        ),
    );
    if (started) this.active?.(true);
  }

  private stopFeed(): void {
    if (!this.cursor.stop()) return;
    this.told.clear();
    this.active?.(false);
  }

  /**
   * Hold the telling until the returned function is called: the core's group commits on PostgreSQL's ingest lane
   * (src/store/pg/lane.ts) commit on a second connection while this thread goes on, and a post committed meanwhile
   * on the first (a digest closing) may come before or after theirs in seq. What is told while held is told at the
   * release, in seq order, the commit order; the core's posts of that commit with it. Released while another hold
   * remains (a second group commit under way), only what is at or below `upTo` is told: the core gives the highest
   * seq its group commits were given so far, all of them answered (they are, in order).
   */
  hold(): (upTo?: number) => void {
    this.holds++;
    let released = false;
    return (upTo) => {
      if (released) return;
      released = true;
      const last = --this.holds === 0;
      if (!last && upTo === undefined) return;
      const told = this.waiting.filter((w) => last || w.seq <= upTo!).sort((a, b) => a.seq - b.seq);
      this.waiting = last ? [] : this.waiting.filter((w) => w.seq > upTo!);
      for (const w of told) {
        if (w.post) this.tellNow(w.post, w.seq, w.at, w.imported);
        else this.passedNow(w.seq);
      }
    };
  }

  /** A post was committed as `seq` at `at`: tell every listener (one that throws does not stop the others). */
  tell(post: Post, seq: number, at: number, imported = false): void {
    if (this.holds > 0) this.waiting.push({ post, seq, at, imported });
    else this.tellNow(post, seq, at, imported);
  }

  private tellNow(post: Post, seq: number, at: number, imported: boolean): void {
    if (this.cursor.on) this.catchUp(seq - 1);
    if (this.fns.size === 0 && this.wide.size === 0) return;
    // Read by the feed already (committed on the ingest lane, found by a read before its answer came): the wide
    // listeners have it.
    const fed = this.cursor.at !== undefined && this.cursor.at >= seq;
    const stored: StoredPost = {
      ...post,
      seq,
      receivedAt: new Date(at).toISOString(),
      ...(imported ? { imported: true as const } : {}),
    };
    for (const fn of this.fns) this.call(fn, stored);
    if (!fed) for (const fn of this.wide) this.call(fn, stored);
    this.advance(seq);
  }

  /** A post of this process committed and not told (an imported archive's): the feed passes over it. */
  passed(seq: number): void {
    if (this.holds > 0) this.waiting.push({ seq, at: 0, imported: false });
    else this.passedNow(seq);
  }

  private passedNow(seq: number): void {
    if (!this.cursor.on) return;
    this.catchUp(seq - 1);
    this.advance(seq);
  }

  private advance(seq: number): void {
    const at = this.cursor.at;
    if (at === undefined) return;
    if (at >= seq - 1) this.cursor.at = Math.max(at, seq);
    else this.told.add(seq); // the read below it failed: what it finds later is told then, this one not again
  }

  /**
   * New posts committed elsewhere (a NOTIFY carrying `seq`, the slow poll, a reconnect): read them soon (one read
   * for many wake-ups in one turn).
   */
  nudge(seq?: number): void {
    this.cursor.nudge(seq);
  }

  /** Tell the wide listeners the posts of other processes above the cursor, up to `upTo`, in seq order. */
  catchUp(upTo: number): void {
    for (;;) {
      const from = this.cursor.at;
      if (from === undefined || !this.source || upTo <= from) return;
      const limit = Math.min(FEED_BATCH, upTo - from);
      let batch: StoredPost[];
      try {
        batch = this.source.postsAfter(from, limit);
      } catch (err) {
        this.cursor.failed(() =>
          this.log.warn(
            { err },
            `the posts of other processes could not be read after seq ${from} (${(err as Error).message}); they are read at the next wake-up or poll, from there`,
          ),
        );
        return;
      }
      let done = batch.length < limit;
      for (const p of batch) {
        if (p.seq > upTo) {
          done = true;
          break;
        }
        if (!this.cursor.on) return; // the last wide listener left
        this.cursor.at = p.seq;
        if (this.told.delete(p.seq)) continue;
        for (const fn of this.wide) this.call(fn, p);
      }
      if (done) {
        // Everything up to upTo is read (seqs are in commit order; one of this process's already told is below now).
        const at = this.cursor.at;
        if (at === undefined) return;
        const through = upTo !== Infinity ? Math.max(at, upTo) : at;
        this.cursor.at = through;
        for (const s of this.told) if (s <= through) this.told.delete(s);
        return;
      }
    }
  }

  private call(fn: (post: StoredPost) => void, p: StoredPost): void {
    try {
      fn(p);
    } catch (err) {
      this.log.error({ err, post: p.id }, `a post listener failed: ${(err as Error).message}`);
    }
  }
}
