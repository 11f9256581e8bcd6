/**
 * syncAhead (StoreOptions): SQLite's log synced to the disk in the background, a moment after a commit, so that a
 * later checkpoint or a power cut finds less of it unsynced. Never on the commit's path: the commit has returned, and
 * its deliveries went out, before the sync starts; at most one sync at a time, at most one every SYNC_AHEAD_MS.
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** The log is synced in the background at most this often. */
const SYNC_AHEAD_MS = 50;
/**
 * The sync starts this long after the commit that asks for it, not on its heels: the commit's deliveries (an IRC
 * line written to its socket, the server relaying it) do not share the machine with the sync and the journal write
 * it sets off. At a line every 1.5 s, syncing at once cost the line ~0.3 ms at p50 (issue 18, README).
 */
export const SYNC_AHEAD_DELAY_MS = 10;

export class WalSync {
  /** The log file, opened to sync it (once it exists). */
  private fd: number | undefined;
  private syncing = false;
  private lastSync = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Background syncs of the log started so far. */
  started = 0;

  /** `walFile`: the store's `-wal` file; `open`: whether the store is still open. */
  constructor(
    private readonly walFile: string,
    private readonly open: () => boolean,
  ) {}

  /** A commit has returned: a sync SYNC_AHEAD_DELAY_MS later (one timer for the commits in between). */
  afterCommit(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (this.open()) this.syncSoon();
    }, SYNC_AHEAD_DELAY_MS).unref();
  }

  /** Start a background sync of the log, unless one is under way or one started less than SYNC_AHEAD_MS ago. */
  private syncSoon(): void {
    const now = performance.now();
    if (this.syncing || now - this.lastSync < SYNC_AHEAD_MS) return;
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.walFile, 'r');
      } catch {
        return; // no log yet
      }
    }
    this.syncing = true;
    this.started++;
    this.lastSync = now;
    const fd = this.fd;
    fdatasync(fd, () => {
      this.syncing = false;
      // Closed meanwhile: the descriptor is this sync's to close.
      if (!this.open() && this.fd === undefined) closeSync(fd);
    });
  }

  /** The store closes: no more syncs; the descriptor closed now, or by the sync under way when it ends. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.fd !== undefined && !this.syncing) closeSync(this.fd);
    this.fd = undefined;
  }
}
