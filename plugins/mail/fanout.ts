/**
 * A post that came in by mail goes to the list's own subscribers too. The core
 * delivers every post to every endpoint of its bridge except the one it came
 * from, so for a mail list that part is ours, and it keeps the core's promise:
 * nothing lost, nothing twice.
 *
 * - prepare(): before the post is handed to ctx.ingest(), a row (list, post id)
 *   is written; the post id is the mail's Message-ID, or one minted here.
 * - settle(): after the verdict. accepted → the row is due now; anything else
 *   (a duplicate, refused, try later) → the row goes (a duplicate reached the
 *   list by the core already, or was sent the first time).
 * - At start, rows whose post is in the store are due at once; rows whose post
 *   never got committed (a crash before the commit) go.
 * - Each due row is sent by ListSender.deliverPost() with the row's negative id
 *   as its delivery row (outbox rows are positive), which keeps per-recipient
 *   state: a retry sends only to those still pending. Backoff from 30 s doubling
 *   to 1 h; after 3 days the row is dropped with an error in the log.
 */
import type { DeliveryTarget, EndpointView, Logger, Outcome, PluginStore, Post, PostReader } from '../../src/plugin.js';

const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 3_600_000;
const GIVE_UP_MS = 3 * 86_400_000;

export interface FanoutDeps {
  account: string;
  store: PluginStore;
  posts: PostReader;
  log: Logger;
  endpoint(list: string): EndpointView | undefined;
  send(post: Post, to: DeliveryTarget): Promise<Outcome>;
}

interface Row { id: number; list: string; post_id: string; created: number; attempt: number; next_at: number; committed: number }

export class Fanout {
  private readonly q;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;

  constructor(private readonly d: FanoutDeps) {
    const p = (sql: string) => d.store.prepare(sql);
    this.q = {
      insert: p('INSERT OR IGNORE INTO mail_fanout (account, list, post_id, created, next_at) VALUES (?, ?, ?, ?, ?)'),
      commit: p('UPDATE mail_fanout SET committed = 1, next_at = ? WHERE id = ?'),
      drop: p('DELETE FROM mail_fanout WHERE id = ?'),
      due: p('SELECT id, list, post_id, created, attempt, next_at, committed FROM mail_fanout WHERE account = ? AND committed = 1 AND next_at <= ? ORDER BY id LIMIT 100'),
      next: p('SELECT MIN(next_at) FROM mail_fanout WHERE account = ? AND committed = 1').pluck(),
      uncommitted: p('SELECT id, list, post_id, created, attempt, next_at, committed FROM mail_fanout WHERE account = ? AND committed = 0'),
      later: p('UPDATE mail_fanout SET attempt = ?, next_at = ?, last_error = ? WHERE id = ?'),
      allDue: p('UPDATE mail_fanout SET next_at = ? WHERE account = ? AND committed = 1'),
    };
  }

  /** Before ingest: the row that will send this post to the list; undefined when one exists already (a resend). */
  prepare(list: string, postId: string): number | undefined {
    const r = this.q.insert.run(this.d.account, list, postId, Date.now(), Date.now());
    return r.changes === 1 ? Number(r.lastInsertRowid) : undefined;
  }

  /** After ingest: send it (accepted), or forget the row. */
  settle(row: number | undefined, accepted: boolean): void {
    if (row === undefined) return;
    if (accepted) {
      this.q.commit.run(Date.now(), row);
      this.kick();
    } else this.q.drop.run(row);
  }

  /** At start: rows of committed posts are due now (a restart retries at once, like the outbox), the others go. */
  start(): void {
    this.q.allDue.run(Date.now(), this.d.account);
    for (const r of this.q.uncommitted.all(this.d.account) as Row[]) {
      if (this.d.posts.get(r.post_id)) this.q.commit.run(Date.now(), r.id);
      else this.q.drop.run(r.id);
    }
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      } else this.schedule();
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const next = this.q.next.get(this.d.account) as number | null;
    if (next === null) return;
    this.timer = setTimeout(() => this.kick(), Math.max(0, Math.min(next - Date.now(), 2_147_000_000)));
    this.timer.unref();
  }

  private async run(): Promise<void> {
    for (;;) {
      const rows = this.q.due.all(this.d.account, Date.now()) as Row[];
      if (!rows.length || this.stopped) return;
      for (const r of rows) {
        if (this.stopped) return;
        await this.one(r);
      }
    }
  }

  private async one(r: Row): Promise<void> {
    const post = this.d.posts.get(r.post_id);
    const e = this.d.endpoint(r.list);
    if (!post || !e) {
      this.d.log.warn({ list: r.list, post: r.post_id }, `not sending ${r.post_id} to the subscribers of ${r.list}: ${post ? 'the list is no longer configured' : 'the post is not in the store'}`);
      this.q.drop.run(r.id);
      return;
    }
    const to: DeliveryTarget = { row: -r.id, endpoint: e.key, target: e.target, bridge: e.bridge, shape: 'stream', announceLines: 4, options: e.options, attempt: r.attempt + 1 };
    let out: Outcome;
    try {
      out = await this.d.send(post, to);
    } catch (err) {
      out = { result: 'retry', reason: (err as Error).message };
    }
    if (out.result === 'delivered') {
      this.q.drop.run(r.id);
      return;
    }
    if (out.result === 'failed' || Date.now() - r.created > GIVE_UP_MS) {
      this.d.log.error({ list: r.list, post: r.post_id, reason: out.reason }, `${r.post_id} could not be sent to the subscribers of ${r.list}, given up: ${out.reason}`);
      this.q.drop.run(r.id);
      return;
    }
    const delay = out.delayMs ?? Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** r.attempt) * (0.8 + Math.random() * 0.4);
    this.d.log.info({ list: r.list, post: r.post_id, reason: out.reason, inMs: Math.round(delay) }, `sending ${r.post_id} to the subscribers of ${r.list} waits: ${out.reason}`);
    this.q.later.run(r.attempt + 1, Date.now() + delay, out.reason, r.id);
  }
}
