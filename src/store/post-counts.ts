/**
 * Posts kept per bridge (the web's /metrics, its archive pages and finger's plans) without counting the archive at
 * every call. `SELECT bridge, count(*) FROM posts GROUP BY bridge` reads every post's index entry: 5.6 ms at 100,000
 * posts, half a second at ten million, on the daemon's one thread, at every scrape of /metrics, every view of a
 * bridge's page, every finger query (issue 19: a daemon that runs for months). On SQLite the counts are kept from the last full count and brought up to date by counting only the posts
 * stored since (seq above the highest counted). A full count again when that could be wrong:
 * - a post was deleted by this connection (a removal, retention): a temporary trigger on this connection says so;
 * - another connection committed (`peerpost import` or `remove` in another process): PRAGMA data_version changes;
 * - a transaction of this connection is open (its rows may still roll back): counted, not kept.
 * On PostgreSQL (several processes insert at once, their seqs commit out of order) the database keeps the counts
 * itself, by triggers (pp_post_counts, src/store/pg/schema.ts): each call reads them. A read-only SQLite store counts.
 */
import type Database from 'better-sqlite3';
import type { SqlDatabase, SqlStatement } from '../sql.js';

interface Counted {
  /** The highest seq counted. */
  through: number;
  byBridge: Map<string, number>;
  /** PRAGMA data_version when counted. */
  version: number;
}

export class PostCounts {
  private counted: Counted | undefined;
  private deleted = false;
  /** Full counts made (for tests: an update should not make one). */
  fullCounts = 0;

  private readonly q: {
    /** Every bridge's count, and the highest seq counted. */
    all: SqlStatement;
    /** One bridge's count. */
    one: SqlStatement;
    /** The same as `all` over the posts after a seq (SQLite only: NOT INDEXED). */
    since: SqlStatement | undefined;
  };

  /**
   * sqlite: this connection, writable (the temporary trigger); undefined on PostgreSQL or a read-only store.
   * postgres: the database keeps the counts (pp_post_counts).
   */
  constructor(
    private readonly db: SqlDatabase,
    private readonly sqlite: Database.Database | undefined,
    postgres = false,
  ) {
    this.q = {
      all: postgres
        ? db.prepare('SELECT bridge, n, 0 AS top FROM pp_post_counts WHERE n > 0')
        : db.prepare('SELECT bridge, count(*) AS n, max(seq) AS top FROM posts GROUP BY bridge'),
      one: postgres
        ? db.prepare('SELECT coalesce((SELECT n FROM pp_post_counts WHERE bridge = ?), 0)').pluck()
        : db.prepare('SELECT count(*) FROM posts WHERE bridge = ?').pluck(),
      // NOT INDEXED: by seq (the rowid) from the last counted, not along posts_by_place (sorted by bridge) past all.
      since: sqlite
        ? db.prepare(
            'SELECT bridge, count(*) AS n, max(seq) AS top FROM posts NOT INDEXED WHERE seq > ? GROUP BY bridge',
          )
        : undefined,
    };
    if (!sqlite) return;
    sqlite.function('pp_posts_deleted', () => {
      this.deleted = true;
      return null;
    });
    sqlite.exec(
      `CREATE TEMP TRIGGER IF NOT EXISTS pp_posts_deleted AFTER DELETE ON main.posts BEGIN SELECT pp_posts_deleted(); END`,
    );
  }

  /** Posts kept, per bridge. */
  get(): Record<string, number> {
    return Object.fromEntries(this.current());
  }

  /** Posts kept in one bridge. */
  of(bridge: string): number {
    if (!this.keeps()) return this.q.one.get(bridge) as number;
    return this.current().get(bridge) ?? 0;
  }

  /** Whether counts can be kept now: SQLite, writable, no transaction of this connection open. */
  private keeps(): boolean {
    return this.sqlite !== undefined && !this.db.inTransaction;
  }

  private current(): Map<string, number> {
    if (!this.keeps()) return this.full().byBridge;
    const version = this.sqlite!.pragma('data_version', { simple: true }) as number;
    let c = this.counted;
    if (!c || this.deleted || c.version !== version) {
      this.deleted = false;
      c = this.counted = { ...this.full(), version };
    } else {
      const rows = this.q.since!.all(c.through) as { bridge: string; n: number; top: number }[];
      for (const r of rows) {
        c.byBridge.set(r.bridge, (c.byBridge.get(r.bridge) ?? 0) + r.n);
        c.through = Math.max(c.through, r.top);
      }
    }
    return c.byBridge;
  }

  private full(): { through: number; byBridge: Map<string, number> } {
    this.fullCounts++;
    const rows = this.q.all.all() as { bridge: string; n: number; top: number }[];
    return {
      through: rows.reduce((m, r) => Math.max(m, r.top), 0),
      byBridge: new Map(rows.map((r) => [r.bridge, r.n])),
    };
  }
}
