/**
 * Retention: a bridge's `archive.keep` (BridgeConfig.archive.keepMs; none = keep for good). A sweep at start and
 * every hour removes the posts placed longer ago than that (by their place, migration 10: a live post by when this
 * node received it, an imported one by its own date, so a 2015 post imported today leaves at the next sweep of a
 * bridge that keeps 2 years), with tombstones
 * of cause `retention`, so a news peer or a resend cannot bring them back. It works in batches of BATCH posts, one
 * transaction each, and yields to the event loop between them: the daemon keeps answering during a large sweep.
 */
import type { RemovalResult } from './removal.js';
import type { Removals } from './removal.js';

export const SWEEP_EVERY_MS = 3_600_000;
export const BATCH = 500;

export interface RetentionDeps {
  removals: Pick<Removals, 'remove'>;
  /** The bridges of the current config with what they keep (read at every sweep: a reload applies). */
  bridges: () => readonly { name: string; keepMs?: number | undefined }[];
  now: () => number;
  log?: (msg: string, fields: Record<string, unknown>) => void;
  batch?: number;
}

export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(private readonly deps: RetentionDeps) {}

  /** A sweep now, then one every hour. */
  start(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** One sweep over every bridge that keeps less than forever; resolves to how many posts left. One at a time. */
  sweep(): Promise<number> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<number> {
    let total = 0;
    const size = this.deps.batch ?? BATCH;
    for (const b of this.deps.bridges()) {
      if (b.keepMs === undefined) continue;
      const before = this.deps.now() - b.keepMs;
      for (;;) {
        if (this.stopped) return total;
        const r: RemovalResult = this.deps.removals.remove(
          { bridge: b.name, before },
          {
            reason: `older than the bridge keeps (archive.keep)`,
            by: 'retention',
            cause: 'retention',
            now: this.deps.now(),
            limit: size,
          },
        );
        total += r.removed.length;
        if (r.removed.length > 0)
          this.deps.log?.(`retention removed ${r.removed.length} posts of bridge ${b.name}`, {
            bridge: b.name,
            removed: r.removed.length,
          });
        if (r.removed.length < size) break;
        await new Promise((res) => setImmediate(res));
      }
    }
    return total;
  }
}
