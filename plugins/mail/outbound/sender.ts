/**
 * ListSender: one post to every subscriber of a list, through pooled SMTP to the
 * smarthost, with per-recipient state so a 4xx retries that recipient only and
 * a 5xx is a bounce; and robot / forwarded mail through a durable queue.
 */
import { plural } from '../../../src/plugin.js';
import { randomUUID } from 'node:crypto';
import {
  delivered,
  retry,
  failed,
  type PluginContext,
  type Post,
  type DeliveryTarget,
  type Outcome,
} from '../../../src/plugin.js';
import type { SmtpConfig } from './schema.js';
import type { BounceEvent, Links, ListInfo, Recipient } from './types.js';
import { DmarcCache, systemResolver, type DmarcResolver } from './dmarc.js';
import {
  composeListMessage,
  composeRobotMessage,
  formatAddress,
  listAddresses,
  originLabel,
  safeAddress,
  cleanText,
  type FromChoice,
  type AttachmentFile,
} from './headers.js';
import { groupByDomain, domainOf } from './group.js';
import { OUTBOUND_MIGRATIONS, outboundStatements, type OutboundStatements } from './state.js';
import { smtpTransport, type SmtpSender, type Outcome1 } from './transport.js';
import { MailQueue } from './queue.js';
import { verpEncode } from './verp.js';

export interface ListSenderOptions {
  /** DNS for DMARC look-ups (default: node:dns/promises). */
  resolver?: DmarcResolver;
  /** The SMTP side (default: nodemailer pooled to config.host); for unit tests. */
  smtp?: SmtpSender;
  /** Clock for the queue and DMARC cache (tests). */
  now?: () => number;
}

/** The share of delivery.timeout a deliverPost() may spend before it hands back "retry soon" with its progress kept. */
const TIME_BUDGET = 0.8;
/** How long a finished delivery is remembered (so a late retry of its row sends nothing again). */
const DONE_KEPT_MS = 7 * 86_400_000;

/** The files a list mail carries: in order, as long as their total stays within the list's cap (the rest are named in the text). */
export function withinCap(files: AttachmentFile[], cap = Infinity): AttachmentFile[] {
  const out: AttachmentFile[] = [];
  let total = 0;
  for (const f of files) {
    if (total + f.content.length > cap) continue;
    total += f.content.length;
    out.push(f);
  }
  return out;
}

/** An address as we keep and send it: domain lower-cased; undefined when unusable. */
export function normaliseAddress(address: string): string | undefined {
  const a = safeAddress(address);
  if (!a) return undefined;
  const at = a.lastIndexOf('@');
  return `${a.slice(0, at)}@${a.slice(at + 1).toLowerCase()}`;
}

/** One of the list's own addresses (LIST@, LIST-anything@ on its domain): never a recipient, or mail would loop. */
export function isListAddress(address: string, listAddress: string): boolean {
  const a = address.toLowerCase();
  const l = listAddress.toLowerCase();
  const at = l.lastIndexOf('@');
  const local = l.slice(0, at);
  const domain = l.slice(at);
  return a === l || (a.endsWith(domain) && a.startsWith(`${local}-`));
}

export class ListSender {
  /** Set by the list side: called for every permanent failure, so the bounce score is kept. */
  onBounce: (e: BounceEvent) => void = () => {};

  private readonly st: OutboundStatements;
  private readonly smtp: SmtpSender;
  private readonly dmarc: DmarcCache;
  private readonly queue: MailQueue;
  private readonly inflight = new Map<number, Promise<Outcome>>();
  private closed = false;

  constructor(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the sender serves the list account whatever its config type
    private readonly ctx: PluginContext<any>,
    private readonly config: SmtpConfig,
    opts: ListSenderOptions = {},
  ) {
    ctx.store.migrate(OUTBOUND_MIGRATIONS, 'outbound');
    this.st = outboundStatements(ctx.store);
    this.smtp = opts.smtp ?? smtpTransport(config, config.heloName ?? ctx.node.hostname);
    this.dmarc = new DmarcCache(opts.resolver ?? systemResolver, {
      cacheTtlMs: config.dmarc.cacheTtl,
      timeoutMs: config.dmarc.timeout,
      ...(config.dmarc.policies ? { policies: config.dmarc.policies } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.queue = new MailQueue(
      this.st,
      this.smtp,
      ctx.log,
      {
        retryFirstMs: config.retryFirst,
        retryMaxMs: config.retryMax,
        expireMs: config.robotExpire,
        ...(opts.now ? { now: opts.now } : {}),
      },
      (b) => this.bounce({ ...b, permanent: true }),
    );
    this.queue.kick();
  }

  /** Deliver one post to a list (see index.ts for the contract). */
  async deliverPost(
    post: Post,
    to: DeliveryTarget,
    list: ListInfo,
    recipients: () => Recipient[],
    links: Links,
    files: () => AttachmentFile[] = () => [],
  ): Promise<Outcome> {
    // A retry of a row still being sent (after delivery.timeout) waits for the first, so nobody gets it twice.
    const prev = this.inflight.get(to.row);
    if (prev) await prev.catch(() => undefined);
    const p = this.deliverRow(post, to, list, recipients, links, files);
    this.inflight.set(to.row, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(to.row) === p) this.inflight.delete(to.row);
    }
  }

  private async deliverRow(
    post: Post,
    to: DeliveryTarget,
    list: ListInfo,
    recipients: () => Recipient[],
    links: Links,
    files: () => AttachmentFile[],
  ): Promise<Outcome> {
    if (this.closed) return retry('the mail account is stopping');
    const listAddress = normaliseAddress(list.address);
    if (!listAddress)
      return failed(`the list address "${cleanText(list.address, 100)}" is not a usable mail address`, 'misconfigured');
    const started = Date.now();
    const budget = this.ctx.deliveryTimeoutMs() * TIME_BUDGET;

    const snap = this.snapshot(post, to.row, list, recipients);
    if (snap.done) return delivered();
    const total = snap.total;
    const pending = this.st.pending.all(to.row) as { address: string; token: string }[];
    if (pending.length === 0) return this.finish(to.row, list, total);

    const from = await this.fromFor(post, list, listAddress);
    const message = composeListMessage({
      post,
      list: { ...list, address: listAddress },
      links,
      from,
      hostname: this.ctx.node.hostname,
      attachments: list.attachments,
      files:
        list.attachments === 'pass' && post.attachments.length > 0 ? withinCap(files(), list.maxAttachmentBytes) : [],
      ...(list.footer ? { footer: list.footer } : {}),
    });
    const bounces = listAddresses(listAddress).bounces;
    const single = this.config.verp || message.perRecipient;
    const batches = single
      ? pending.map((p) => [p])
      : groupByDomain(pending, this.config.recipientsPerTransaction, (p) => p.address);

    // A few more transactions in flight than connections, so the pool never idles; stop starting new ones when the time budget is spent.
    const window = this.config.pool.maxConnections * (single ? 8 : 2);
    let next = 0;
    let outOfTime = false;
    let lastDeferral: Outcome1 | undefined;
    const results: Outcome1[] = [];
    let flushScheduled = false;
    let flushError: unknown;
    const flush = (): void => {
      flushScheduled = false;
      if (results.length === 0) return;
      const batch = results.splice(0, results.length);
      try {
        this.record(to.row, list, batch);
      } catch (err) {
        // Those recipients stay pending: sent again on the retry rather than lost.
        flushError ??= err;
      }
    };
    const worker = async (): Promise<void> => {
      while (next < batches.length) {
        if (Date.now() - started > budget || this.closed) {
          outOfTime = true;
          return;
        }
        const batch = batches[next++]!;
        const sender = this.config.verp ? verpEncode(listAddress, batch[0]!.address) : bounces;
        const raw = single ? message.message(batch[0]!.token, batch[0]!.address) : message.message();
        let out = await this.smtp.send(
          sender,
          batch.map((b) => b.address),
          raw,
        );
        // 452 "too many recipients" after some were taken (RFC 5321 section 4.5.3.1.10): the rest go in new transactions now, as many at a time as were taken.
        const taken = out.filter((o) => o.result === 'sent').length;
        const tooMany = taken > 0 ? out.filter((o) => o.result === 'deferred' && o.code === 452) : [];
        if (tooMany.length > 0) {
          const again = new Set(tooMany.map((o) => o.address));
          const rest = batch.filter((b) => again.has(b.address));
          for (let i = 0; i < rest.length; i += taken) batches.push(rest.slice(i, i + taken));
          out = out.filter((o) => !again.has(o.address));
        }
        for (const o of out) if (o.result === 'deferred') lastDeferral = o;
        results.push(...out);
        // One store transaction per SMTP transaction at most: answers that arrive in the same turn share one.
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, batches.length) }, worker));
    flush();
    if (flushError) {
      this.ctx.log.error(
        { err: flushError, list: list.name, row: to.row },
        `list ${list.name}: could not record which recipients have the post; those not recorded get it again on the retry`,
      );
      return retry(`could not record the delivery state: ${(flushError as Error).message}`);
    }

    const left = this.st.countPending.get(to.row) as number;
    if (left === 0) return this.finish(to.row, list, total);
    if (this.closed)
      return retry(
        `the mail account is stopping; ${left.toLocaleString('en-US')} of ${plural(total, 'recipient')} wait`,
      );
    if (outOfTime) {
      return retry(
        `${left.toLocaleString('en-US')} of ${plural(total, 'recipient')} not sent yet (the time budget of one delivery ran out); continuing`,
        0,
      );
    }
    const why = lastDeferral ? `${lastDeferral.code ?? 'no answer'}: ${lastDeferral.reply}` : 'not sent';
    return retry(
      `${left.toLocaleString('en-US')} of ${plural(total, 'recipient')} deferred by the smarthost (${why}); they alone are retried`,
    );
  }

  /** First attempt: the recipients as they are now become this row's recipients. Later: how many there are, and whether all is done. */
  private snapshot(
    post: Post,
    row: number,
    list: ListInfo,
    recipients: () => Recipient[],
  ): { total: number; done: boolean; bounced: number } {
    const have = this.st.delivery.get(row) as
      { post_id: string; list: string; total: number; done_at: number | null; bounced: number } | undefined;
    if (have && have.post_id === post.id && have.list === list.name)
      return { total: have.total, done: have.done_at !== null, bounced: have.bounced };
    const people = recipients();
    return this.ctx.store.transaction(() => {
      this.st.deleteRecipients.run(row);
      let n = 0;
      const seen = new Set<string>();
      for (const r of people) {
        const a = normaliseAddress(r.address);
        if (!a || isListAddress(a, list.address)) {
          this.ctx.log.warn(
            { list: list.name, address: cleanText(r.address, 100) },
            `list ${list.name}: subscriber address "${cleanText(r.address, 100)}" is not usable; it is skipped`,
          );
          continue;
        }
        const key = a.toLowerCase();
        if (seen.has(key)) continue;
        seen.add(key);
        this.st.insertRecipient.run(row, a, String(r.unsubscribeToken ?? ''));
        n++;
      }
      this.st.insertDelivery.run(row, post.id, list.name, n, Date.now());
      return { total: n, done: false, bounced: 0 };
    });
  }

  /** Store one round of answers in one transaction, then report the bounces. */
  private record(row: number, list: ListInfo, out: Outcome1[]): void {
    const now = Date.now();
    this.ctx.store.transaction(() => {
      for (const o of out) {
        const state = o.result === 'sent' ? 'sent' : o.result === 'bounced' ? 'bounced' : 'pending';
        this.st.setRecipient.run(state, o.code, o.result === 'sent' ? null : o.reply, now, row, o.address);
      }
    });
    for (const o of out)
      if (o.result === 'bounced')
        this.bounce({ list: list.name, address: o.address, code: o.code ?? 550, permanent: true, reason: o.reply });
  }

  private finish(row: number, list: ListInfo, total: number): Outcome {
    const counts = new Map((this.st.counts.all(row) as { state: string; n: number }[]).map((c) => [c.state, c.n]));
    const bounced = counts.get('bounced') ?? 0;
    const now = Date.now();
    this.ctx.store.transaction(() => {
      this.st.deleteRecipients.run(row);
      this.st.doneDelivery.run(now, bounced, row);
      this.st.pruneDeliveries.run(now - DONE_KEPT_MS);
    });
    if (bounced > 0)
      this.ctx.log.info(
        { list: list.name, row, total, bounced },
        `list ${list.name}: delivered to ${total - bounced} of ${plural(total, 'recipient')}; ${bounced} refused for good (recorded as bounces)`,
      );
    return delivered();
  }

  private bounce(e: BounceEvent): void {
    try {
      this.onBounce(e);
    } catch (err) {
      this.ctx.log.error({ err, list: e.list, address: e.address }, 'the bounce handler failed');
    }
  }

  /** From (and Reply-To) for a post, per fromRewrite and the author's DMARC policy. */
  async fromFor(post: Post, list: ListInfo, listAddress: string): Promise<FromChoice> {
    const name = cleanText(post.author.name, 100);
    const author =
      post.author.via === 'mail' && post.author.address ? normaliseAddress(post.author.address) : undefined;
    if (!author) return { from: formatAddress(`${name} (${originLabel(post)})`, listAddress) };
    const keep = (): FromChoice => ({ from: formatAddress(name, author) });
    const rewrite = (): FromChoice => ({
      from: formatAddress(
        `${name || author.slice(0, author.lastIndexOf('@'))} via ${cleanText(list.name, 60)}`,
        listAddress,
      ),
      replyTo: formatAddress(name, author),
    });
    if (this.config.fromRewrite === 'never') return keep();
    if (this.config.fromRewrite === 'always') return rewrite();
    const policy = await this.dmarc.policy(domainOf(author));
    return policy === 'quarantine' || policy === 'reject' || policy === 'unknown' ? rewrite() : keep();
  }

  /** Robot mail: queued durably (resolves once stored), sent with Auto-Submitted: auto-generated from LIST-bounces@. */
  async sendRobot(msg: {
    list: ListInfo;
    to: string;
    subject: string;
    text: string;
    from?: string;
    headers?: Record<string, string>;
    inReplyTo?: string;
  }): Promise<void> {
    const listAddress = normaliseAddress(msg.list.address);
    if (!listAddress)
      throw new Error(`the list address "${cleanText(msg.list.address, 100)}" is not a usable mail address`);
    const to = normaliseAddress(msg.to);
    if (!to || isListAddress(to, listAddress))
      throw new Error(`"${cleanText(msg.to, 100)}" is not a mail address robot mail can go to`);
    const addr = listAddresses(listAddress);
    const fromAddress = (msg.from && normaliseAddress(msg.from)) || addr.request;
    const raw = composeRobotMessage({
      from: formatAddress(`${cleanText(msg.list.name, 60)} list`, fromAddress),
      to,
      subject: msg.subject,
      text: msg.text,
      listAddress,
      listDescription: msg.list.description || msg.list.name,
      ...(msg.inReplyTo ? { inReplyTo: msg.inReplyTo } : {}),
      ...(msg.headers ? { headers: msg.headers } : {}),
      messageId: `${randomUUID()}@${this.ctx.node.hostname}`,
      hostname: this.ctx.node.hostname,
    });
    this.queue.add('robot', msg.list.name, addr.bounces, [to], raw);
  }

  /** Forward a received message unchanged to these addresses (owner mail), durably. */
  async forward(list: ListInfo, raw: Buffer, to: string[]): Promise<void> {
    const listAddress = normaliseAddress(list.address);
    if (!listAddress)
      throw new Error(`the list address "${cleanText(list.address, 100)}" is not a usable mail address`);
    const rcpts = [
      ...new Set(
        to
          .map((t) => normaliseAddress(t))
          .filter((t): t is string => t !== undefined && !isListAddress(t, listAddress)),
      ),
    ];
    if (rcpts.length === 0)
      throw new Error(
        `list ${list.name}: no usable address to forward to (${to.map((t) => cleanText(t, 100)).join(', ') || 'none given'}; the list's own addresses are never used)`,
      );
    // Unchanged but for one X-Loop line on top, so a copy that comes back to the list is recognised (and no signature breaks).
    const stamped = Buffer.concat([Buffer.from(`X-Loop: ${listAddress}\r\n`), raw]);
    this.queue.add('forward', list.name, listAddresses(listAddress).bounces, rcpts, stamped);
  }

  /**
   * A digest (plugins/mail/digest.ts) for these recipients, durably: queued in transactions of
   * recipientsPerTransaction by domain (one each with VERP), sent like robot mail. Synchronous, so the caller
   * can queue it in the same store transaction that marks the digest queued.
   */
  queueDigest(list: ListInfo, recipients: readonly string[], raw: Buffer): void {
    const listAddress = normaliseAddress(list.address);
    if (!listAddress)
      throw new Error(`the list address "${cleanText(list.address, 100)}" is not a usable mail address`);
    const rcpts = [
      ...new Set(
        recipients
          .map((t) => normaliseAddress(t))
          .filter((t): t is string => t !== undefined && !isListAddress(t, listAddress)),
      ),
    ];
    const bounces = listAddresses(listAddress).bounces;
    const batches = this.config.verp
      ? rcpts.map((r) => [r])
      : groupByDomain(rcpts, this.config.recipientsPerTransaction, (r) => r);
    // One stored copy for all the batches: a digest to 10,000 members is 200 rows (or 10,000 with VERP), not 200 copies.
    this.queue.addShared(
      'digest',
      list.name,
      batches.map((b) => ({ sender: this.config.verp ? verpEncode(listAddress, b[0]!) : bounces, recipients: b })),
      raw,
    );
  }

  /** Robot and forwarded mail waiting in the queue. */
  queued(): number {
    return this.queue.length();
  }

  /** Send what the queue holds now (tests; the loop does it by itself). */
  async flushQueue(): Promise<void> {
    this.queue.kick();
    await this.queue.idle();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close();
    await Promise.allSettled([...this.inflight.values()]);
    this.smtp.close();
  }
}
