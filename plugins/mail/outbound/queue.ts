/**
 * The durable queue for robot mail (confirmations, help, owner notices) and
 * forwarded owner mail: a row in mail_out_queue until every recipient has it,
 * retried with the plugin API's backoff (retryFirst doubling up to retryMax) by a small
 * timer loop, dropped with a warning once older than robotExpire.
 *
 * Kept as the plugin's own queue, not made a kind of outbox row (decided for issue 14): an outbox row is a post,
 * published in the archive and delivered in line behind its endpoint's other posts, while robot mail is one
 * private message (a confirmation token) that must not wait behind a deferred list post and is worthless after
 * robotExpire. What waits here is shown wherever the outbox is — `peerpost outbox`, status, /metrics, /healthz —
 * through the plugin's waiting() (../waiting.ts, state.ts queueSummary). See "Robot mail that waits is seen" in
 * plugins/mail/README.md. To do: this backoff becomes the core's one backoff function once the plugin API exports it.
 */
import { backoffDelay, type Logger } from '../../../src/plugin.js';
import type { OutboundStatements, QueueRow } from './state.js';
import type { SmtpSender } from './transport.js';
import { plural } from '../../../src/plugin.js';

export interface QueueOptions {
  retryFirstMs: number;
  retryMaxMs: number;
  expireMs: number;
  now?: () => number;
}

export interface QueueBounce {
  list: string;
  address: string;
  code: number;
  reason: string;
}

const BATCH = 20;
/** The loop looks at the table at least this often (rows written by another process, clock jumps). */
const IDLE_CHECK_MS = 60_000;

export class MailQueue {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(
    private readonly st: OutboundStatements,
    private readonly smtp: SmtpSender,
    private readonly log: Logger,
    private readonly opts: QueueOptions,
    private readonly bounced: (b: QueueBounce) => void,
  ) {
    // A shared copy left behind by a crash between a row's removal and its copy's.
    this.st.dropUnusedBodies.run();
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Store one message for these recipients and wake the loop. Returns the queue row id. */
  add(kind: string, list: string, sender: string, recipients: readonly string[], raw: Buffer): number {
    const id = Number(
      this.st.enqueue.run(kind, list, sender, JSON.stringify(recipients), raw, this.now(), this.now()).lastInsertRowid,
    );
    this.kick();
    return id;
  }

  /**
   * Store one message once for several batches of recipients (a digest to its members, one row per transaction):
   * the rows share the one copy, which goes when the last of them is done. Returns the queue row ids.
   */
  addShared(
    kind: string,
    list: string,
    batches: readonly { sender: string; recipients: readonly string[] }[],
    raw: Buffer,
  ): number[] {
    if (batches.length === 0) return [];
    const now = this.now();
    const body = Number(this.st.insertBody.run(raw, now).lastInsertRowid);
    const ids = batches.map((b) =>
      Number(
        this.st.enqueueShared.run(kind, list, b.sender, JSON.stringify(b.recipients), body, now, now).lastInsertRowid,
      ),
    );
    this.kick();
    return ids;
  }

  /** Forget the queue row, and its shared copy when no other row uses it. */
  private dequeue(row: QueueRow): void {
    this.st.dequeue.run(row.id);
    if (row.body !== null) this.st.dropBodyIfUnused.run(row.body, row.body);
  }

  length(): number {
    return this.st.queueLength.get() as number;
  }

  /** Send what is due now (and then keep the timer set for the next due row). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.drain()
      .catch((err: unknown) => this.log.error({ err }, 'mail queue: a pass failed; trying again later'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        } else this.schedule();
      });
  }

  /** Resolves when the current pass (if any) is over. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(): void {
    if (this.closed) return;
    let next: number | null;
    try {
      next = this.st.nextDue.get() as number | null;
    } catch {
      next = null;
    }
    const wait = next === null ? IDLE_CHECK_MS : Math.max(0, Math.min(IDLE_CHECK_MS, next - this.now()));
    this.timer = setTimeout(() => this.kick(), wait);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const rows = this.st.due.all(this.now(), BATCH) as QueueRow[];
      if (rows.length === 0) return;
      // Rows sharing one copy (a digest's batches) read it once per pass, and hold the same Buffer.
      const bodies = new Map<number, Buffer | undefined>();
      for (const r of rows)
        if (r.body !== null) {
          if (!bodies.has(r.body)) bodies.set(r.body, this.st.body.get(r.body) as Buffer | undefined);
          const b = bodies.get(r.body);
          if (b) r.raw = b;
        }
      await Promise.all(
        rows.map((r) =>
          this.one(r).catch((err: unknown) => {
            // Something other than SMTP went wrong (the store, a bad row): try it later like a deferral, never in a tight loop.
            this.log.error(
              { err, id: r.id, kind: r.kind },
              `mail queue: ${r.kind} mail ${r.id} failed: ${(err as Error).message}; trying again later`,
            );
            this.later(
              r,
              JSON.parse(r.recipients.startsWith('[') ? r.recipients : '[]') as string[],
              (err as Error).message,
            );
          }),
        ),
      );
    }
  }

  private async one(row: QueueRow): Promise<void> {
    const recipients = JSON.parse(row.recipients) as string[];
    if (this.now() - row.created_at > this.opts.expireMs) {
      this.dequeue(row);
      this.log.warn(
        { id: row.id, kind: row.kind, list: row.list, recipients, lastError: row.last_error },
        `mail queue: gave up on ${row.kind} mail for list ${row.list} to ${recipients.join(', ')} after ${plural(row.attempts, 'try', 'tries')} (last: ${row.last_error ?? 'none'}); it was dropped`,
      );
      return;
    }
    const results = await this.smtp.send(row.sender, recipients, row.raw);
    const waiting = results.filter((r) => r.result === 'deferred');
    for (const b of results.filter((r) => r.result === 'bounced')) {
      this.log.warn(
        { id: row.id, kind: row.kind, address: b.address, reply: b.reply },
        `mail queue: ${row.kind} mail to ${b.address} refused for good: ${b.reply}`,
      );
      try {
        this.bounced({ list: row.list, address: b.address, code: b.code ?? 550, reason: b.reply });
      } catch (err) {
        this.log.error({ err }, 'mail queue: the bounce handler failed');
      }
    }
    if (waiting.length === 0) {
      this.dequeue(row);
      return;
    }
    const delay = this.later(
      row,
      waiting.map((w) => w.address),
      waiting[0]!.reply,
    );
    this.log.info(
      { id: row.id, kind: row.kind, waiting: waiting.length, delayMs: delay, reason: waiting[0]!.reply },
      `mail queue: ${row.kind} mail for ${plural(waiting.length, 'recipient')} deferred (${waiting[0]!.reply}); next try in ${Math.round(delay / 1000)} s`,
    );
  }

  /** Try this row again after the backoff for its attempts so far; returns the delay. */
  private later(row: QueueRow, recipients: string[], reason: string): number {
    const attempts = row.attempts + 1;
    const delay = backoffDelay(attempts, { firstMs: this.opts.retryFirstMs, maxMs: this.opts.retryMaxMs });
    this.st.reschedule.run(JSON.stringify(recipients), this.now() + delay, attempts, reason, row.id);
    return delay;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.idle();
  }
}
