/**
 * What the list does with a received message, address by address (issue 4,
 * "List addresses", "Subscription", "Posting policy"): posts go through the
 * list's policy into the core; join, leave, request and confirm run the double
 * opt-in; owner mail is forwarded; bounces raise a subscriber's bounce score.
 *
 * It answers with the SMTP reply the sender hears: 250 only after a post is
 * committed (or held, or a command done), 451 when the store cannot take it
 * now, 5xx with the reason when it is refused.
 */
import { messagePost, plural } from '../../src/plugin.js';
import type { EndpointView, IncomingPost, IngestVerdict, Logger } from '../../src/plugin.js';
import { classify, listAddresses, listId, normaliseAddress, type ListAddress } from './lists.js';
import { isRefusal, parseMessage, type ParsedMessage } from './parse.js';
import { decide, loopOrRobot, type Policy } from './policy.js';
import type { ListStore } from './subscribe.js';
import * as T from './texts.js';
import type { Envelope, Receiver, Reply } from './receive.js';
import type { EndpointOptions } from './schema.js';
import type { ListInfo, BounceRecipient } from './outbound/types.js';
import type { AttachmentStore, StoredFile } from './attachments.js';
import type { ProblemLog } from './problems.js';
import type { MemberStore } from './members.js';
import type { Templates } from './templates.js';
import { Requests } from './requests.js';

/** The part of MAIL-OUT's ListSender the list side uses (a fake in unit tests). */
export interface Outbound {
  sendRobot(msg: {
    list: ListInfo;
    to: string;
    subject: string;
    text: string;
    from?: string;
    headers?: Record<string, string>;
    inReplyTo?: string;
  }): Promise<void>;
  forward(list: ListInfo, raw: Buffer, to: string[]): Promise<void>;
}

export interface ListServerDeps {
  account: string;
  domain: () => string;
  endpoints: () => EndpointView[];
  store: ListStore;
  out: Outbound;
  ingest: (p: IncomingPost) => Promise<IngestVerdict>;
  log: Logger;
  parseBounce: (raw: Buffer) => Promise<{ recipients: BounceRecipient[] } | undefined>;
  verpDecode: (localPart: string, list: string) => string | undefined;
  settings: () => {
    expireMs: number;
    windowMs: number;
    bounces: { threshold: number; once: number; resetAfter: number };
    heldExpireMs?: number;
  };
  /** node.hostname: mail that this node wrote (X-Peerpost-Node) never becomes a post here. */
  hostname?: string;
  /** A new post id (for mail without a usable Message-ID). */
  mintId: () => string;
  /** Where the files of mail posts are kept (absent: only their names are). */
  attachments?: AttachmentStore;
  /** Whether a post with this id is in the store (after ingest: keep or drop its files). */
  postExists?: (id: string) => boolean;
  /** The account's maxSize: the default of a list's maxAttachmentBytes. */
  maxSize?: number;
  /** Where bounces are written down for the owner page (absent: only the score is kept). */
  problems?: ProblemLog;
  /** Moderation (plugins/mail/moderate.ts): held notices, LIST-moderate+TOKEN@, bans. */
  moderation?: {
    notifyHeld(e: EndpointView, id: number, sender: string, subject: string, reason: string): Promise<void>;
    mail(e: EndpointView, token: string, m: ParsedMessage, env: Envelope): Promise<Reply>;
    banned(e: EndpointView, address: string): { pattern: string } | undefined;
    expired(h: { id: number; list: string; sender: string; subject: string }): void;
  };
  /** Members' settings (`set`, `show` to LIST-request@); without it those commands are unknown. */
  members?: MemberStore;
  /** A list's templates (welcome, goodbye, confirm). */
  templates?: (list: string) => Templates | undefined;
  /** A list's digest hour (UTC), to say when digests come. */
  digestHour?: (list: string) => number;
  /** The IANA time zone of the list's digest hour (default UTC). */
  digestZone?: (list: string) => string;
}

const ok = (message: string): Reply => ({ code: 250, message });

export class ListServer implements Receiver {
  /** join, leave, confirm and the commands to LIST-request@ (requests.ts). */
  private readonly requests: Requests;

  constructor(private readonly d: ListServerDeps) {
    this.requests = new Requests(d, this);
  }

  /** The list endpoints of this account (a list is its endpoint target). */
  lists(): EndpointView[] {
    return this.d.endpoints();
  }
  endpoint(list: string): EndpointView | undefined {
    return this.lists().find((e) => e.target === list);
  }
  options(e: EndpointView): EndpointOptions {
    return e.options as EndpointOptions;
  }
  info(e: EndpointView): ListInfo {
    const o = this.options(e);
    return {
      name: e.target,
      address: listAddresses(e.target, this.d.domain()).post,
      bridge: e.bridge,
      description: e.description,
      subjectTag: o.subjectTag === undefined ? `[${e.target}]` : o.subjectTag,
      owners: (o.owners ?? []).map(normaliseAddress),
      attachments: o.attachments ?? 'pass',
      maxAttachmentBytes: this.maxAttachmentBytes(e),
    };
  }
  /** The most bytes of attachments a post of this list keeps and sends (its maxAttachmentBytes, else the account's maxSize). */
  maxAttachmentBytes(e: EndpointView): number {
    return this.options(e).maxAttachmentBytes ?? this.d.maxSize ?? 10 * 1024 * 1024;
  }

  /** The files of a mail post this list keeps: in order, as long as their total fits maxAttachmentBytes (the rest are named in the text only). */
  keptFiles(e: EndpointView, m: ParsedMessage): StoredFile[] {
    const cap = this.maxAttachmentBytes(e);
    const out: StoredFile[] = [];
    let total = 0;
    m.files.forEach((f, n) => {
      if (f.content.length === 0 || total + f.content.length > cap) return;
      total += f.content.length;
      out.push({ n, ...f });
    });
    return out;
  }

  words(e: EndpointView): T.ListWords {
    const templates = this.d.templates?.(e.target);
    return { name: e.target, domain: this.d.domain(), description: e.description, ...(templates ? { templates } : {}) };
  }

  recipient(address: string): Reply | undefined {
    const a = classify(
      address,
      this.lists().map((e) => e.target),
      this.d.domain(),
    );
    if (!a)
      return {
        code: 550,
        message: `no such list here: ${address.slice(0, 200)} (this server takes mail for its lists only, and relays nothing)`,
      };
    const e = this.endpoint(a.list)!;
    if (a.kind === 'post' && e.direction === 'out')
      return { code: 550, message: `${a.list} takes no posts by mail here (the list only sends)` };
    if (a.kind === 'owner' && !this.info(e).owners.length)
      return { code: 550, message: `${a.list} has no owners configured` };
    return undefined;
  }

  async message(raw: Buffer, env: Envelope): Promise<Reply> {
    const targets: ListAddress[] = [];
    for (const to of env.to) {
      const a = classify(
        to,
        this.lists().map((e) => e.target),
        this.d.domain(),
      );
      if (a && !targets.some((t) => t.list === a.list && t.kind === a.kind && t.detail === a.detail)) targets.push(a);
    }
    if (!targets.length) return { code: 554, message: 'no recipient of this message is a list here' };
    const m = await parseMessage(raw);
    if (isRefusal(m)) {
      this.d.log.info(
        { remote: env.remote, from: env.from.slice(0, 254), code: m.code },
        `message refused: ${m.message}`,
      );
      return { code: m.code, message: m.message };
    }
    const replies: Reply[] = [];
    for (const t of targets) {
      try {
        replies.push(await this.one(t, m, raw, env));
      } catch (err) {
        this.d.log.error(
          { err, list: t.list, kind: t.kind },
          `handling mail to ${t.local}@ failed: ${(err as Error).message}`,
        );
        replies.push({ code: 451, message: 'the message could not be handled now; try again later' });
      }
    }
    return (
      replies.find((r) => r.code >= 400 && r.code < 500) ??
      replies.find((r) => r.code >= 500) ??
      ok(replies.map((r) => r.message).join('; '))
    );
  }

  private sender(m: ParsedMessage, env: Envelope): string | undefined {
    const a = m.from?.address ?? (env.from || undefined);
    return a ? normaliseAddress(a) : undefined;
  }

  private async one(t: ListAddress, m: ParsedMessage, raw: Buffer, env: Envelope): Promise<Reply> {
    const e = this.endpoint(t.list);
    if (!e) return { code: 550, message: `no such list here: ${t.list}` };
    const info = this.info(e);
    const own = loopOrRobot(m, listId(t.list, this.d.domain()), info.address, this.d.hostname);
    const log = this.d.log.child({ list: t.list, address: t.kind, remote: env.remote });
    switch (t.kind) {
      case 'post':
        return this.post(e, m, raw, env);
      case 'bounces':
        return this.bounce(e, t, raw);
      case 'moderate':
        if (!this.d.moderation) return { code: 550, message: `${t.list} takes no moderation mail here` };
        return this.d.moderation.mail(e, t.detail!, m, env);
      case 'owner': {
        // Checked at RCPT too; a reload between RCPT and DATA may have taken the owners away.
        if (!info.owners.length) {
          log.info({ from: this.sender(m, env) }, 'owner mail refused: the list has no owners');
          return {
            code: 550,
            message: `${t.list} has no owners configured; write to the postmaster of ${this.d.domain()}`,
          };
        }
        if (m.xLoops.includes(info.address.toLowerCase())) {
          log.info('owner mail not forwarded: it came from this list (X-Loop)');
          return ok('not forwarded: it came from this list');
        }
        await this.d.out.forward(info, raw, info.owners);
        log.info({ from: this.sender(m, env) }, 'owner mail forwarded');
        return ok(`forwarded to the owners of ${t.list}`);
      }
      default: {
        // join, leave, request, confirm: robot work, never for robots.
        const who = this.sender(m, env);
        if (own || !env.from || !who) {
          log.info(
            { from: who },
            `command mail not answered: ${own ?? 'it has no sender to answer (null envelope sender or no From)'}`,
          );
          return ok('not answered (automatic mail)');
        }
        if (this.isBanned(e, who, t.kind)) return ok('accepted');
        if (t.kind === 'join') return this.requests.join(e, who, m);
        if (t.kind === 'leave') return this.requests.leave(e, who, m);
        if (t.kind === 'confirm') return this.requests.confirm(e, t.detail!, who, m);
        return this.requests.request(e, who, m);
      }
    }
  }

  // ---- posting ----

  /** The IncomingPost of a parsed mail to a list. */
  static incoming(list: string, m: ParsedMessage, fallbackSender: string): IncomingPost {
    return messagePost(m, list, 'mail', fallbackSender);
  }

  private async ingest(e: EndpointView, m: ParsedMessage, fallbackSender: string, how: string): Promise<Reply> {
    const inc = ListServer.incoming(e.target, m, fallbackSender);
    inc.id ??= this.d.mintId();
    const log = this.d.log.child({ list: e.target });
    // The files are committed before the post, so a crash never leaves a post without them (an orphan is swept later).
    const files = this.d.attachments ? this.keptFiles(e, m) : [];
    if (files.length && this.d.attachments!.put(inc.id, files))
      log.debug({ id: inc.id, files: files.length }, 'attachments kept');
    // The list's own subscribers get it from the core's outbox, like every other endpoint (the plugin echoes).
    let v: IngestVerdict;
    try {
      v = await this.d.ingest(inc);
    } finally {
      if (files.length) this.settleFiles(inc.id);
    }
    switch (v.status) {
      case 'accepted':
        log.info({ id: v.id, seq: v.seq, from: m.from?.address }, `mail ${how} to ${e.target}`);
        return ok(`posted to ${e.target} <${v.id}>`);
      case 'duplicate':
        return ok(`already posted <${v.id}>`);
      case 'ignored':
        log.info({ id: v.id, reason: v.reason }, `mail to ${e.target} taken but not relayed: ${v.reason}`);
        return ok(`taken, not relayed: ${v.reason}`);
      case 'rejected':
        return { code: 550, message: `refused: ${v.reason}` };
      case 'tempfail':
        return { code: 451, message: `${v.reason}; try again later` };
    }
  }

  /** After ingest: the files stay when the post is in the store, and go when it is not. */
  private settleFiles(id: string): void {
    try {
      if (this.d.postExists?.(id) ?? true) this.d.attachments!.committed(id);
      else this.d.attachments!.discard(id);
    } catch (err) {
      // The sweep settles them later.
      this.d.log.warn({ err, id }, `the attachments of ${id} could not be settled now: ${(err as Error).message}`);
    }
  }

  private async post(e: EndpointView, m: ParsedMessage, raw: Buffer, env: Envelope): Promise<Reply> {
    const info = this.info(e);
    const log = this.d.log.child({ list: e.target, remote: env.remote });
    const loop = loopOrRobot(m, listId(e.target, this.d.domain()), info.address, this.d.hostname);
    if (loop) {
      log.info({ from: m.from?.address, id: m.id }, `mail to ${e.target} not posted: ${loop}`);
      return ok(`not posted: ${loop}`);
    }
    const who = this.sender(m, env);
    if (!who) return { code: 554, message: 'the message has no From address (and no envelope sender)' };
    if (this.isBanned(e, who, 'post')) return ok('accepted');
    if (m.idNote) log.info({ from: who }, `Message-ID not used: ${m.idNote}`);
    const policy: Policy = this.options(e).policy ?? 'members';
    const d = decide(
      policy,
      { member: this.d.store.member(e.target, who) !== undefined, owner: info.owners.includes(who), address: who },
      e.target,
    );
    if (d.action === 'refuse') {
      log.info({ from: who }, `post refused: ${d.reason}`);
      return { code: 550, message: d.reason };
    }
    if (d.action === 'hold') {
      const id = this.d.store.hold(
        e.target,
        { sender: who, subject: m.subject, reason: d.reason, ...(m.id ? { messageId: m.id } : {}) },
        raw,
      );
      log.info({ from: who, held: id }, `post held (#${id}): ${d.reason}`);
      if (this.d.moderation) await this.d.moderation.notifyHeld(e, id, who, m.subject, d.reason);
      else
        for (const owner of info.owners)
          await this.d.out.sendRobot({
            list: info,
            to: owner,
            ...T.heldNotice(this.words(e), id, who, m.subject, d.reason),
          });
      if (this.d.store.mayNotify(e.target, who, this.d.settings().windowMs))
        await this.d.out.sendRobot({
          list: info,
          to: who,
          ...T.heldForSender(this.words(e), m.subject, d.reason),
          ...(m.id ? { inReplyTo: m.id } : {}),
        });
      return ok(`held for the owners of ${e.target} (#${id}): ${d.reason}`);
    }
    return this.ingest(e, m, who, 'posted');
  }

  /** Post a held message (`peerpost held approve`): the policy is not asked again. */
  async approve(id: number): Promise<{ ok: true; reply: string } | { ok: false; exit: number; reason: string }> {
    const h = this.d.store.heldOne(id);
    if (!h) return { ok: false, exit: 5, reason: `no held post #${id}` };
    const e = this.endpoint(h.list);
    if (!e)
      return {
        ok: false,
        exit: 5,
        reason: `held post #${id} is for the list ${h.list}, which is no longer an endpoint of ${this.d.account}`,
      };
    const m = await parseMessage(h.raw);
    if (isRefusal(m)) return { ok: false, exit: 6, reason: m.message };
    const r = await this.ingest(e, m, h.sender, 'approved and posted');
    if (r.code >= 400) return { ok: false, exit: r.code >= 500 ? 6 : 4, reason: r.message };
    this.d.store.dropHeld(id);
    return { ok: true, reply: r.message };
  }

  /**
   * Held posts older than held.expire are dropped: the owners are told, and the
   * sender (at most once per subscription.window: a held post may be spam with a
   * forged sender). Returns how many went.
   */
  async expireHeld(now = Date.now()): Promise<number> {
    const ms = this.d.settings().heldExpireMs ?? 14 * 86_400_000;
    if (ms <= 0) return 0;
    let n = 0;
    for (const h of this.d.store.heldBefore(now - ms)) {
      const e = this.endpoint(h.list);
      const days = Math.max(1, Math.round((now - h.received) / 86_400_000));
      if (e) {
        const info = this.info(e);
        const notice = T.heldExpiredNotice(this.words(e), h.id, h.sender, h.subject, days);
        for (const owner of info.owners) await this.d.out.sendRobot({ list: info, to: owner, ...notice });
        if (this.d.store.mayNotify(e.target, h.sender, this.d.settings().windowMs, now))
          await this.d.out.sendRobot({
            list: info,
            to: h.sender,
            ...T.heldExpiredForSender(this.words(e), h.subject, days),
            ...(h.messageId ? { inReplyTo: h.messageId } : {}),
          });
      }
      this.d.store.dropHeld(h.id);
      this.d.moderation?.expired(h);
      n++;
      this.d.log.info(
        { list: h.list, held: h.id, from: h.sender, days },
        `held post #${h.id} to ${h.list} expired after ${plural(days, 'day')} without a decision; dropped${e ? ', the owners were told' : ' (the list is gone)'}`,
      );
    }
    return n;
  }

  /** Refuse a held post (`peerpost held reject`): the sender is told, the post is dropped. */
  async reject(id: number, reason: string): Promise<{ ok: true } | { ok: false; exit: number; reason: string }> {
    const h = this.d.store.heldOne(id);
    if (!h) return { ok: false, exit: 5, reason: `no held post #${id}` };
    const e = this.endpoint(h.list);
    if (e)
      await this.d.out.sendRobot({
        list: this.info(e),
        to: h.sender,
        ...T.rejectedForSender(this.words(e), h.subject, reason),
        ...(h.messageId ? { inReplyTo: h.messageId } : {}),
      });
    this.d.store.dropHeld(id);
    return { ok: true };
  }

  /** Robot mail of a list to one address (the owner page's login link). */
  async sendRobot(e: EndpointView, to: string, msg: { subject: string; text: string }): Promise<void> {
    await this.d.out.sendRobot({ list: this.info(e), to, ...msg });
  }

  /**
   * A banned sender (plugins/mail/bans.ts) is taken with 250 and nothing else: no post, no robot reply (as Mailman
   * does: a reply would tell a spammer the address is read, and a 5xx makes their MTA bounce to a maybe-forged
   * sender). The operator sees it in the log.
   */
  isBanned(e: EndpointView, who: string, what: string): boolean {
    const ban = this.d.moderation?.banned(e, who);
    if (ban)
      this.d.log.info(
        { list: e.target, from: who, ban: ban.pattern },
        `${what} mail from ${who} to ${e.target} discarded: banned (${ban.pattern}); no reply`,
      );
    return ban !== undefined;
  }

  // ---- subscription: requests.ts ----

  /** A subscription asked for on the web (/l/LIST): as a mail to LIST-join@ from `who` (Requests.webJoin). */
  webJoin(e: EndpointView, who: string): Promise<Reply> {
    return this.requests.webJoin(e, who);
  }

  // ---- bounces ----

  private async bounce(e: EndpointView, t: ListAddress, raw: Buffer): Promise<Reply> {
    const verp = t.detail ? this.d.verpDecode(t.local, e.target) : undefined;
    let report: Awaited<ReturnType<ListServerDeps['parseBounce']>>;
    try {
      report = await this.d.parseBounce(raw);
    } catch (err) {
      this.d.log.warn({ err, list: e.target }, `a bounce could not be read: ${(err as Error).message}`);
      report = undefined;
    }
    const failed = (report?.recipients ?? []).filter((r) => r.permanent);
    if (!report && !verp) {
      this.d.log.info({ list: e.target }, 'mail to the bounce address that is not a bounce: dropped');
      return ok('not a bounce; dropped');
    }
    if (report && !failed.length) {
      this.d.log.info(
        { list: e.target, recipients: report.recipients.map((r) => `${r.address} ${r.action} ${r.status}`) },
        'a delivery report with no permanent failure',
      );
      return ok('report taken (no permanent failure)');
    }
    const addresses = verp ? [verp] : failed.map((r) => r.address);
    const reason = failed[0] ? `${failed[0].status} ${failed[0].diagnostic ?? ''}`.trim() : 'bounced (VERP)';
    for (const a of new Set(addresses.map(normaliseAddress))) await this.bounced(e.target, a, reason);
    return ok('bounce taken');
  }

  /** A permanent failure for a subscriber (from a DSN, or a 5xx while sending). */
  async bounced(list: string, address: string, reason: string): Promise<void> {
    const e = this.endpoint(list);
    if (!e) return;
    const s = this.d.settings().bounces;
    const r = this.d.store.recordBounce(list, address, {
      threshold: s.threshold,
      perMs: s.once,
      resetMs: s.resetAfter,
    });
    if (r) {
      try {
        this.d.problems?.record(list, { address, reason, score: r.score, disabled: r.score >= s.threshold });
      } catch (err) {
        this.d.log.warn(
          { err, list },
          `the bounce for ${address} was not written down for the owner page: ${(err as Error).message}`,
        );
      }
    }
    if (!r) {
      this.d.log.info({ list, address }, `a bounce for ${address}, who is not subscribed to ${list}: ignored`);
      return;
    }
    this.d.log.info(
      { list, address, score: r.score, reason },
      `bounce for ${address} on ${list}: score ${r.score} of ${s.threshold}`,
    );
    if (r.disabledNow) {
      this.d.log.warn(
        { list, address, score: r.score },
        `delivery to ${address} on ${list} disabled: it kept bouncing`,
      );
      const info = this.info(e);
      for (const owner of info.owners)
        await this.d.out.sendRobot({
          list: info,
          to: owner,
          ...T.bounceDisabled(this.words(e), address, r.score, reason),
        });
    }
  }
}
