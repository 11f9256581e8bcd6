/**
 * Moderation (issue 16, "Owners and moderators"): held posts decided by mail, on the command line and from the
 * web's owner page through one piece of code, and the list's bans.
 *
 * The notice of a held post goes to each owner and moderator From (and Reply-To) the signed address
 * `LIST-moderate+ID-MAC@DOMAIN`; replying to it with `approve`, `reject REASON`, `discard` or `ban` as the first
 * line decides it. MAC is HMAC-SHA256 under ctx.secret('moderate') of account, list and held id (80 bits, lower-case
 * hex: mail systems may change the case of a local part). A decision needs both: a valid token for this list and a
 * From address that is an owner or moderator of it. A token is used once (the held post is gone after its decision;
 * the decision log says who decided), and lives no longer than its held post (held.expire).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { EndpointView, Logger } from '../../src/plugin.js';
import { listAddresses, listId, normaliseAddress } from './lists.js';
import { commandLines, isRefusal, parseMessage, type ParsedMessage } from './parse.js';
import { loopOrRobot } from './policy.js';
import type { ListServer, Outbound } from './listserv.js';
import type { ListStore, Held } from './subscribe.js';
import type { Envelope, Reply } from './receive.js';
import type { EndpointOptions } from './schema.js';
import { firstMatch, parseBan, type ModerationStore } from './bans.js';
import * as T from './texts.js';
import type {
  BanChange,
  BanView,
  HeldPostDetail,
  HeldPostView,
  ListModeration,
  ModeratedList,
  ModerationAction,
  ModerationDone,
  ModerationRefusal,
  ModeratorRole,
} from './services.js';

// ---- tokens ----

const MAC_HEX = 20;

function macHex(key: Buffer, account: string, list: string, id: number): string {
  return createHmac('sha256', key).update(`m1\n${account}\n${list}\n${id}`, 'utf8').digest('hex').slice(0, MAC_HEX);
}

/** The token of a held post: "ID-MAC", e.g. "42-3f9a…" (the part after "+" of LIST-moderate+…@). */
export function signModeration(key: Buffer, c: { account: string; list: string; id: number }): string {
  return `${c.id}-${macHex(key, c.account, c.list, c.id)}`;
}

/** The shape a moderation token has (lists.ts takes only these as LIST-moderate+TOKEN@). */
export const MODERATION_TOKEN = new RegExp(`^[0-9]{1,15}-[0-9a-f]{${MAC_HEX}}$`);

/** The held id a token names, when it was signed here for this account and list; else why not. */
export function verifyModeration(
  key: Buffer,
  account: string,
  list: string,
  token: string,
): { id: number } | { problem: string } {
  const t = token.trim().toLowerCase();
  if (!MODERATION_TOKEN.test(t)) return { problem: 'the moderation address is malformed (it may have been cut off)' };
  const dash = t.indexOf('-');
  const id = Number(t.slice(0, dash));
  const given = Buffer.from(t.slice(dash + 1), 'utf8');
  const want = Buffer.from(macHex(key, account, list, id), 'utf8');
  if (!Number.isSafeInteger(id) || given.length !== want.length || !timingSafeEqual(given, want))
    return {
      problem: `the moderation address is not valid for ${list} (it was altered, made for another list, or made by another server)`,
    };
  return { id };
}

// ---- the decision in a reply ----

const WORDS: Record<string, ModerationAction> = {
  approve: 'approve',
  approved: 'approve',
  accept: 'approve',
  reject: 'reject',
  refuse: 'reject',
  discard: 'discard',
  ban: 'ban',
};

/** The first decision among the subject and first body lines of a reply ("reject off topic" → reject, "off topic"). */
export function findDecision(subject: string, body: string): { action: ModerationAction; reason: string } | undefined {
  for (const line of commandLines(subject, body)) {
    const m = /^([A-Za-z]+)[\s:,.!-]*(.*)$/s.exec(line);
    const action = m && WORDS[m[1]!.toLowerCase()];
    if (action) return { action, reason: action === 'reject' ? m[2]!.trim().slice(0, 500) : '' };
  }
  return undefined;
}

const PAST: Record<ModerationAction, string> = {
  approve: 'approved',
  reject: 'rejected',
  discard: 'discarded',
  ban: 'discarded and its sender banned',
};
const pastOf = (a: string) => PAST[a as ModerationAction] ?? (a === 'expired' ? 'dropped unanswered (held.expire)' : a);
const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** Who decided when it was not a person's address. */
export const BY_CLI = 'the command line';

// ---- texts ----

type Words = T.ListWords;

export function heldNotice(
  l: Words,
  id: number,
  sender: string,
  subject: string,
  reason: string,
  at: string,
): { subject: string; text: string } {
  return {
    subject: `${l.name}: post #${id} from ${sender} awaits approval`,
    text: [
      `A post to ${l.name} was held: ${reason}.`,
      '',
      `  from:     ${sender}`,
      `  subject:  ${subject || '(none)'}`,
      '',
      'Reply to this message with one of these words as its first line:',
      '  approve           post it (everyone gets it)',
      '  reject REASON     refuse it; the sender is told REASON',
      '  discard           drop it; the sender is not told',
      `  ban               drop it and ban ${sender} from ${l.name}`,
      '',
      `(The reply goes to ${at}; only an owner's or moderator's address can decide.)`,
      '',
      'On the server:',
      `  peerpost held ${l.name} approve|reject|discard|ban ${id}`,
    ].join('\n'),
  };
}

function confirmation(l: Words, d: ModerationDone, h: Held): { subject: string; text: string } {
  const lines = [
    `You ${d.action === 'ban' ? 'discarded' : PAST[d.action]} post #${d.id} to ${l.name}: ${d.summary}.`,
    '',
    `  from:     ${h.sender}`,
    `  subject:  ${h.subject || '(none)'}`,
  ];
  if (d.action === 'ban')
    lines.push('', `To lift the ban:  peerpost bans ${l.name} remove ${h.sender}`, '(or on the owner page)');
  return { subject: `${l.name}: post #${d.id} ${PAST[d.action]}`, text: lines.join('\n') };
}

function refusalText(l: Words, what: string): { subject: string; text: string } {
  return { subject: `${l.name}: nothing was decided`, text: `${what}\n\nNothing was decided.` };
}

/**
 * Discard a held post (and with ban, ban its sender from the list), logged as decided: in one transaction. Shared
 * by Moderation.decide and `peerpost held discard|ban` when the daemon is not running (neither needs it).
 */
export function dropHeld(
  store: ListStore,
  mod: ModerationStore,
  h: Pick<Held, 'id' | 'list' | 'sender' | 'subject'>,
  action: 'discard' | 'ban',
  by: string,
  now = Date.now(),
): void {
  mod.transaction(() => {
    if (action === 'ban') mod.ban(h.list, h.sender, by, now);
    store.dropHeld(h.id);
    mod.record({ id: h.id, list: h.list, action, by, sender: h.sender, subject: h.subject, at: now });
  });
}

// ---- the moderation of one mail account ----

export interface ModerationDeps {
  account: string;
  domain: () => string;
  lists: ListServer;
  store: ListStore;
  mod: ModerationStore;
  out: Outbound;
  log: Logger;
  /** ctx.secret('moderate') */
  key: Buffer;
  /** `bans:` of the account. */
  accountBans: () => readonly string[];
  /** subscription.window: at most one refusal a window to an address that is no moderator. */
  windowMs: () => number;
  hostname?: string;
}

type Outcome = ModerationDone | ModerationRefusal;
const refuse = (code: ModerationRefusal['code'], reason: string): ModerationRefusal => ({ ok: false, code, reason });

export class Moderation {
  private readonly busy = new Set<number>();
  constructor(private readonly d: ModerationDeps) {}

  get account(): string {
    return this.d.account;
  }
  endpoint(list: string): EndpointView | undefined {
    return this.d.lists.endpoint(list);
  }
  endpoints(): EndpointView[] {
    return this.d.lists.lists();
  }
  private opts(e: EndpointView): EndpointOptions {
    return e.options as EndpointOptions;
  }
  private words(e: EndpointView): Words {
    return { name: e.target, domain: this.d.domain(), description: e.description };
  }
  owners(e: EndpointView): string[] {
    return this.d.lists.info(e).owners;
  }
  moderators(e: EndpointView): string[] {
    const owners = this.owners(e);
    return [...new Set((this.opts(e).moderators ?? []).map(normaliseAddress))].filter((m) => !owners.includes(m));
  }
  role(e: EndpointView, address: string): ModeratorRole | undefined {
    const a = normaliseAddress(address);
    if (this.owners(e).includes(a)) return 'owner';
    if (this.moderators(e).includes(a)) return 'moderator';
    return undefined;
  }
  describe(e: EndpointView): ModeratedList {
    return {
      account: this.d.account,
      list: e.target,
      listAddress: this.d.lists.info(e).address,
      description: e.description,
      owners: this.owners(e),
      moderators: this.moderators(e),
      policy: this.opts(e).policy ?? 'members',
    };
  }

  // ---- bans ----

  /** Every ban that applies to the list: its own from the config, the account's, then those added at run time. */
  bans(e: EndpointView): BanView[] {
    const view = (pattern: string, scope: BanView['scope'], source: BanView['source']): BanView | undefined => {
      const b = parseBan(pattern);
      return 'problem' in b ? undefined : { pattern: b.pattern, kind: b.kind, scope, source };
    };
    const out: BanView[] = [];
    for (const p of this.opts(e).bans ?? []) {
      const v = view(p, 'list', 'config');
      if (v) out.push(v);
    }
    for (const p of this.d.accountBans()) {
      const v = view(p, 'account', 'config');
      if (v) out.push(v);
    }
    for (const a of this.d.mod.added(e.target)) {
      const v = view(a.pattern, 'list', 'added');
      if (v) out.push({ ...v, by: a.by, added: a.added });
    }
    return out;
  }

  /** The ban that keeps this address off the list; owners and moderators are never banned. */
  banned(e: EndpointView, address: string): BanView | undefined {
    if (this.role(e, address)) return undefined;
    const all = this.bans(e);
    const hit = firstMatch(
      all.map((b) => b.pattern),
      address,
    );
    return hit === undefined ? undefined : all.find((b) => b.pattern === hit);
  }

  ban(e: EndpointView, pattern: string, by: string): BanChange | ModerationRefusal {
    const b = parseBan(pattern);
    if ('problem' in b) return refuse('bad-pattern', b.problem);
    const changed = this.d.mod.ban(e.target, b.pattern, normaliseAddress(by));
    if (changed)
      this.d.log.info({ list: e.target, pattern: b.pattern, by }, `${by} banned ${b.pattern} from ${e.target}`);
    return { ok: true, list: e.target, pattern: b.pattern, changed };
  }

  unban(e: EndpointView, pattern: string, by: string): BanChange | ModerationRefusal {
    const b = parseBan(pattern);
    const p = 'problem' in b ? pattern.trim() : b.pattern;
    const changed = this.d.mod.unban(e.target, p);
    if (!changed && this.bans(e).some((x) => x.pattern === p && x.source === 'config'))
      return refuse(
        'not-allowed',
        `${p} is banned by the config file (bans: of ${e.target}, or of the account ${this.d.account}); remove it there`,
      );
    if (changed) this.d.log.info({ list: e.target, pattern: p, by }, `${by} lifted the ban ${p} on ${e.target}`);
    return { ok: true, list: e.target, pattern: p, changed };
  }

  // ---- held posts ----

  held(e: EndpointView): HeldPostView[] {
    return this.d.store.held(e.target).map((h) => ({
      id: h.id,
      list: h.list,
      sender: h.sender,
      subject: h.subject,
      reason: h.reason,
      received: h.received,
      messageId: h.messageId,
    }));
  }

  async heldPost(e: EndpointView, id: number): Promise<HeldPostDetail | ModerationRefusal> {
    const h = this.d.store.heldOne(id);
    if (!h || h.list !== e.target) return this.gone(e, id);
    const m = await parseMessage(h.raw);
    const { raw: _raw, ...rest } = h;
    return {
      ok: true,
      ...rest,
      text: isRefusal(m) ? `(the message cannot be read: ${m.message})` : m.body.slice(0, 65_536),
      attachments: isRefusal(m)
        ? []
        : m.files.map((f) => ({ filename: f.filename, contentType: f.contentType, size: f.content.length })),
    };
  }

  /** Why there is no held post `id` on the list (any more). */
  private gone(e: EndpointView, id: number): ModerationRefusal {
    const d = this.d.mod.decided(id);
    if (d && d.list === e.target)
      return refuse(
        'decided',
        d.action === 'expired'
          ? `held post #${id} to ${e.target} was dropped unanswered at ${when(d.at)} (held.expire)`
          : `held post #${id} to ${e.target} was ${pastOf(d.action)} by ${d.by} at ${when(d.at)}`,
      );
    return refuse('no-such-post', `there is no held post #${id} on ${e.target}`);
  }

  /** Tell the owners and moderators of a new held post; each notice answerable by reply. */
  async notifyHeld(e: EndpointView, id: number, sender: string, subject: string, reason: string): Promise<void> {
    const info = this.d.lists.info(e);
    const at = listAddresses(e.target, this.d.domain()).moderate(
      signModeration(this.d.key, { account: this.d.account, list: e.target, id }),
    );
    const n = heldNotice(this.words(e), id, sender, subject, reason, at);
    for (const to of [...this.owners(e), ...this.moderators(e)])
      await this.d.out.sendRobot({ list: info, to, ...n, from: at, headers: { 'Reply-To': at } });
  }

  /** A held post that went unanswered (held.expire): logged, so an old token is told so. */
  expired(h: Pick<Held, 'id' | 'list' | 'sender' | 'subject'>, now = Date.now()): void {
    this.d.mod.record({
      id: h.id,
      list: h.list,
      action: 'expired',
      by: '',
      sender: h.sender,
      subject: h.subject,
      at: now,
    });
  }

  /**
   * Decide a held post: the one way for replies, the CLI and the owner page. `by` is checked (owner or moderator)
   * unless it is BY_CLI (the operator, on the server).
   */
  async decide(
    e: EndpointView,
    id: number,
    action: ModerationAction,
    opts: { by: string; reason?: string },
  ): Promise<Outcome> {
    const by = opts.by === BY_CLI ? BY_CLI : normaliseAddress(opts.by);
    if (by !== BY_CLI && !this.role(e, by))
      return refuse('not-allowed', `${by} is neither an owner nor a moderator of ${e.target}`);
    if (this.busy.has(id)) return refuse('decided', `held post #${id} is being decided right now`);
    this.busy.add(id);
    try {
      const h = this.d.store.heldOne(id);
      if (!h || h.list !== e.target) return this.gone(e, id);
      const log = this.d.log.child({ list: e.target, held: id, by, from: h.sender });
      const record = () =>
        this.d.mod.record({ id, list: e.target, action, by, sender: h.sender, subject: h.subject, at: Date.now() });
      const done = (summary: string): ModerationDone => ({ ok: true, list: e.target, id, action, by, summary });
      switch (action) {
        case 'approve': {
          const r = await this.d.lists.approve(id);
          if (!r.ok) {
            log.warn(`held post #${id} approved by ${by} but not posted: ${r.reason}; it stays held`);
            return refuse('failed', `held post #${id} was not posted: ${r.reason} (it stays held)`);
          }
          record();
          log.info(`held post #${id} approved by ${by}: ${r.reply}`);
          return done(`approved and ${r.reply}`);
        }
        case 'reject': {
          const reason = (opts.reason ?? '').trim();
          const r = await this.d.lists.reject(id, reason);
          if (!r.ok) return refuse('failed', r.reason);
          record();
          log.info({ reason }, `held post #${id} rejected by ${by}; the sender is told`);
          return done(`rejected; ${h.sender} is told${reason ? `: ${reason}` : ' (no reason given)'}`);
        }
        case 'discard':
        case 'ban': {
          dropHeld(this.d.store, this.d.mod, h, action, by);
          log.info(
            `held post #${id} discarded by ${by}${action === 'ban' ? `; ${h.sender} is banned from ${e.target}` : ''} (the sender is not told)`,
          );
          return done(
            action === 'ban'
              ? `discarded; ${h.sender} is banned from ${e.target} (not told)`
              : 'discarded (the sender is not told)',
          );
        }
      }
    } finally {
      this.busy.delete(id);
    }
  }

  // ---- mail to LIST-moderate+TOKEN@ ----

  async mail(e: EndpointView, token: string, m: ParsedMessage, env: Envelope): Promise<Reply> {
    const info = this.d.lists.info(e);
    const log = this.d.log.child({ list: e.target, address: 'moderate', remote: env.remote });
    const ok = (message: string): Reply => ({ code: 250, message });
    const a = m.from?.address ?? (env.from || undefined);
    const who = a ? normaliseAddress(a) : undefined;
    const robot = loopOrRobot(m, listId(e.target, this.d.domain()), info.address, this.d.hostname);
    if (robot || !env.from || !who) {
      log.info({ from: who }, `moderation mail not answered: ${robot ?? 'it has no sender to answer'}`);
      return ok('not answered (automatic mail)');
    }
    const answer = async (msg: { subject: string; text: string }) =>
      this.d.out.sendRobot({ list: info, to: who, ...msg, ...(m.id ? { inReplyTo: m.id } : {}) });
    if (!this.role(e, who)) {
      const ban = this.banned(e, who);
      log.warn(
        { from: who, ban: ban?.pattern },
        `moderation mail from ${who}, who is neither an owner nor a moderator of ${e.target}: nothing decided${ban ? ' (banned: no reply)' : ''}`,
      );
      if (!ban && this.d.store.mayNotify(e.target, who, this.d.windowMs()))
        await answer(
          refusalText(
            this.words(e),
            `You wrote to the moderation address of ${e.target}, but ${who} is neither an owner nor a moderator of ${e.target}: only they decide held posts.`,
          ),
        );
      return ok('nothing decided: the sender is not an owner or moderator of the list');
    }
    const v = verifyModeration(this.d.key, this.d.account, e.target, token);
    if ('problem' in v) {
      log.warn({ from: who }, `moderation mail refused: ${v.problem}`);
      await answer(refusalText(this.words(e), `${v.problem[0]!.toUpperCase()}${v.problem.slice(1)}.`));
      return ok(`nothing decided: ${v.problem}`);
    }
    const h = this.d.store.heldOne(v.id);
    if (!h || h.list !== e.target) {
      const g = this.gone(e, v.id);
      log.info({ from: who }, `moderation mail: ${g.reason}; nothing decided`);
      await answer(refusalText(this.words(e), `${g.reason[0]!.toUpperCase()}${g.reason.slice(1)}.`));
      return ok(`nothing decided: ${g.reason}`);
    }
    const want = findDecision(m.subject, m.body);
    if (!want) {
      log.info({ from: who }, `moderation mail for #${v.id} without a decision; told how`);
      await answer(
        refusalText(
          this.words(e),
          `No decision was found in your mail about post #${v.id} from ${h.sender}. Write one of these words as the first line of your reply:\n\n  approve\n  reject REASON\n  discard\n  ban`,
        ),
      );
      return ok('no decision found; told how');
    }
    const r = await this.decide(e, v.id, want.action, { by: who, reason: want.reason });
    if (!r.ok) {
      if (r.code === 'failed' && /try again later/.test(r.reason)) return { code: 451, message: r.reason };
      await answer(refusalText(this.words(e), `${r.reason[0]!.toUpperCase()}${r.reason.slice(1)}.`));
      return ok(`nothing decided: ${r.reason}`);
    }
    await answer(confirmation(this.words(e), r, h));
    return ok(`held post #${r.id} ${PAST[r.action]}`);
  }
}

// ---- the mail.moderation service: every mail account's lists ----

/** `mail.moderation` over the running mail accounts (list: "commons", or "account/commons"). */
export function listModeration(all: () => Iterable<Moderation>): ListModeration {
  const find = (name: string): { mod: Moderation; e: EndpointView } | ModerationRefusal => {
    const slash = String(name).lastIndexOf('/');
    const acct = slash >= 0 ? name.slice(0, slash) : undefined;
    const list = (slash >= 0 ? name.slice(slash + 1) : String(name)).toLowerCase();
    const have: { mod: Moderation; e: EndpointView }[] = [];
    let any = false;
    for (const mod of all()) {
      any = true;
      if (acct !== undefined && mod.account !== acct) continue;
      const e = mod.endpoint(list);
      if (e) have.push({ mod, e });
    }
    if (!any) return refuse('unavailable', 'the mailing lists are not running on this server; try again in a while');
    if (have.length === 1) return have[0]!;
    if (have.length > 1)
      return refuse(
        'no-list',
        `the list ${list} is on ${have.map((h) => h.mod.account).join(' and ')}: name it ACCOUNT/${list}`,
      );
    return refuse('no-list', `there is no list ${name} here`);
  };
  const owner = (f: { mod: Moderation; e: EndpointView }, by: string): ModerationRefusal | undefined =>
    f.mod.role(f.e, by) === 'owner'
      ? undefined
      : refuse('not-allowed', `${normaliseAddress(by)} is not an owner of ${f.e.target}: only owners manage bans`);
  return {
    lists: () => [...all()].flatMap((mod) => mod.endpoints().map((e) => mod.describe(e))),
    role: (list, address) => {
      const f = find(list);
      return 'e' in f ? f.mod.role(f.e, address) : undefined;
    },
    held: (list) => {
      const f = find(list);
      return 'e' in f ? f.mod.held(f.e) : f;
    },
    heldPost: async (list, id) => {
      const f = find(list);
      return 'e' in f ? f.mod.heldPost(f.e, id) : f;
    },
    decide: async (list, id, action, opts) => {
      const f = find(list);
      if (!('e' in f)) return f;
      if (opts.by === BY_CLI)
        return refuse('not-allowed', 'a decision through the service names the owner or moderator');
      return f.mod.decide(f.e, id, action, opts);
    },
    bans: (list, by) => {
      const f = find(list);
      if (!('e' in f)) return f;
      return owner(f, by) ?? f.mod.bans(f.e);
    },
    ban: (list, pattern, by) => {
      const f = find(list);
      if (!('e' in f)) return f;
      return owner(f, by) ?? f.mod.ban(f.e, pattern, by);
    },
    unban: (list, pattern, by) => {
      const f = find(list);
      if (!('e' in f)) return f;
      return owner(f, by) ?? f.mod.unban(f.e, pattern, by);
    },
    banned: (list, address) => {
      const f = find(list);
      return 'e' in f ? f.mod.banned(f.e, address) : undefined;
    },
  };
}
