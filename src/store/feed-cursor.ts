/**
 * A position in a log that other processes append to (several processes on one PostgreSQL database): the posts
 * (src/ingest/post-listeners.ts) and the removals (src/archive/removal.ts). The policy both follow, in one place: the
 * feed starts at the newest position (what is there already is not news); the wake-ups of one turn make one read; a
 * read that fails is reported at most once every FEED_REPORT_EVERY_MS (a database away fails every read) and is made
 * again from the same position at the next wake-up or poll.
 */

/** A failing read of the feed is reported at most this often. */
export const FEED_REPORT_EVERY_MS = 10_000;

export class FeedCursor {
  /** The position read (or told) last; undefined while the feed is off. */
  at: number | undefined;
  private nudged = false;
  private failedAt = 0;

  /** `read`: read what is after the position (called in a later turn by nudge). */
  constructor(private readonly read: () => void) {}

  /** Whether the feed runs. */
  get on(): boolean {
    return this.at !== undefined;
  }

  /**
   * Start at the log's newest position; at 0 when it cannot be read (`report` is told why). False when it runs
   * already.
   */
  start(newest: () => number, report: (err: unknown) => void): boolean {
    if (this.at !== undefined) return false;
    try {
      this.at = newest();
    } catch (err) {
      this.at = 0;
      report(err);
    }
    return true;
  }

  /** Stop (the position forgotten). False when it was not running. */
  stop(): boolean {
    if (this.at === undefined) return false;
    this.at = undefined;
    return true;
  }

  /** Something was appended elsewhere (a NOTIFY carrying its position, the slow poll, a reconnect): read it soon. */
  nudge(n?: number): void {
    if (this.at === undefined || (n !== undefined && n <= this.at) || this.nudged) return;
    this.nudged = true;
    setImmediate(() => {
      this.nudged = false;
      this.read();
    });
  }

  /** A read failed: `report` it, unless one was reported less than FEED_REPORT_EVERY_MS ago. */
  failed(report: () => void): void {
    if (Date.now() - this.failedAt <= FEED_REPORT_EVERY_MS) return;
    this.failedAt = Date.now();
    report();
  }
}
