/**
 * `mail.lists`: what the web's list pages ask of the mail plugin (plugins/web/lists.ts): the lists, subscribing
 * from the web (the mailed double opt-in, unchanged), who runs a list, the owner page's login mail, held posts,
 * subscribers and recent bounces. The first running mail account provides it and answers for every account
 * (each call names its account), as with `mail.unsubscribe`.
 */
import { isRefusal, parseMessage } from './parse.js';
import { addressProblem, listAddresses, normaliseAddress } from './lists.js';
import * as T from './texts.js';
import type { Logger, EndpointView } from '../../src/plugin.js';
import type { ListServer } from './listserv.js';
import type { ListStore } from './subscribe.js';
import type { ProblemLog } from './problems.js';
import type {
  BanView,
  ListModeration,
  ListRefusal,
  MailLists,
  ModeratedList,
  ModerationRefusal,
  ModeratorRole,
  PublicList,
} from './services.js';

/** One running mail account, as the service sees it. */
export interface ListAccount {
  account: string;
  domain: string;
  log: Logger;
  server: ListServer;
  store: ListStore;
  problems: ProblemLog;
}

const TEXT_MAX = 64 * 1024;

/** Owner (the endpoint's owners) or moderator (its moderators), or neither. */
function roleOf(a: ListAccount, e: EndpointView, who: string): ModeratorRole | undefined {
  if (a.server.info(e).owners.includes(who)) return 'owner';
  const mods = (e.options as { moderators?: string[] }).moderators ?? [];
  return mods.map(normaliseAddress).includes(who) ? 'moderator' : undefined;
}

const refuse = (code: ListRefusal['code'], reason: string): ListRefusal => ({ ok: false, code, reason });

function posting(e: EndpointView, address: string, policy: string): string {
  if (e.direction === 'out') return `the list only sends: nobody posts to it by mail`;
  switch (policy) {
    case 'open':
      return `anyone may post by writing to ${address}`;
    case 'moderated':
      return `members post by writing to ${address}; every post waits for an owner's approval`;
    case 'announce':
      return `only the owners post; members receive`;
    default:
      return `members post by writing to ${address}; posts from others wait for an owner's approval`;
  }
}

/** The service over the running accounts (`accounts()` in start order). */
export function mailLists(accounts: () => ListAccount[]): MailLists {
  const find = (account: string, list: string): { a: ListAccount; e: EndpointView } | ListRefusal => {
    const a = accounts().find((x) => x.account === account);
    if (!a) return refuse('unavailable', `the mail account ${account} is not running now; try again in a while`);
    const e = a.server.endpoint(list);
    if (!e) return refuse('gone', `there is no list ${list} here (any more)`);
    return { a, e };
  };
  const addr = (address: string): string | ListRefusal => {
    const p = addressProblem(String(address ?? ''));
    return p ? refuse('invalid', p) : normaliseAddress(address);
  };

  return {
    lists() {
      return accounts().flatMap((a) =>
        a.server.lists().map((e): PublicList => {
          const at = listAddresses(e.target, a.domain);
          const policy = a.server.options(e).policy ?? 'members';
          return {
            account: a.account,
            list: e.target,
            bridge: e.bridge,
            description: e.description,
            address: at.post,
            join: at.join,
            leave: at.leave,
            request: at.request,
            owner: at.owner,
            posting: posting(e, at.post, policy),
          };
        }),
      );
    },

    async subscribe(account, list, address) {
      const f = find(account, list);
      if ('ok' in f) return f;
      const who = addr(address);
      if (typeof who !== 'string') return who;
      const r = await f.a.server.webJoin(f.e, who);
      if (r.code >= 400) return refuse('unavailable', r.message);
      return { ok: true };
    },

    async sendLoginLink(account, list, address, link, validMs) {
      const f = find(account, list);
      const who = addr(address);
      if ('ok' in f || typeof who !== 'string' || !roleOf(f.a, f.e, who)) return;
      await f.a.server.sendRobot(f.e, who, T.loginLink(f.a.server.words(f.e), who, link, validMs));
      f.a.log.info({ list, address: who }, `a login link to the owner page of ${list} was mailed to ${who}`);
    },

    members(account, list) {
      const f = find(account, list);
      if ('ok' in f) return [];
      return f.a.store.members(list).map((m) => ({
        address: m.address,
        name: m.name,
        since: m.since,
        mode: 'each',
        receiving: m.delivery,
        bounceScore: m.bounceScore,
        lastBounce: m.lastBounce,
      }));
    },

    addMember(account, list, address, by) {
      const f = find(account, list);
      if ('ok' in f) return f;
      const who = addr(address);
      if (typeof who !== 'string') return who;
      const s = f.a.store.member(list, who);
      if (s && s.delivery) return { ok: true, text: `${who} was subscribed already` };
      if (s) {
        f.a.store.enableDelivery(list, who);
        f.a.log.info({ list, address: who, by }, `delivery to ${who} on ${list} enabled again by ${by}`);
        return { ok: true, text: `${who} was subscribed with delivery disabled by bounces: delivery enabled again` };
      }
      f.a.store.add(list, who);
      f.a.log.info({ list, address: who, by }, `${who} subscribed to ${list} by ${by} on the owner page`);
      return { ok: true, text: `${who} added (no confirmation asked)` };
    },

    removeMember(account, list, address, by) {
      const f = find(account, list);
      if ('ok' in f) return f;
      const who = addr(address);
      if (typeof who !== 'string') return who;
      if (!f.a.store.remove(list, who)) return { ok: true, text: `${who} was not subscribed` };
      f.a.log.info({ list, address: who, by }, `${who} removed from ${list} by ${by} on the owner page`);
      return { ok: true, text: `${who} removed` };
    },

    problems(account, list, limit = 50) {
      const f = find(account, list);
      return 'ok' in f ? [] : f.a.problems.recent(list, limit);
    },
  };
}

/**
 * A stand-in `mail.moderation` (held posts only: bans and moderators come with the owners' work on issue 16,
 * plugins/mail/moderate.ts, which replaces this). Lists are named "commons", or "account/commons".
 */
export function interimModeration(accounts: () => ListAccount[]): ListModeration {
  const no = (code: ModerationRefusal['code'], reason: string): ModerationRefusal => ({ ok: false, code, reason });
  const find = (name: string): { a: ListAccount; e: EndpointView } | undefined => {
    const slash = name.lastIndexOf('/');
    const account = slash >= 0 ? name.slice(0, slash) : undefined;
    const list = slash >= 0 ? name.slice(slash + 1) : name;
    for (const a of accounts()) {
      if (account !== undefined && a.account !== account) continue;
      const e = a.server.endpoint(list);
      if (e) return { a, e };
    }
    return undefined;
  };
  return {
    lists: () =>
      accounts().flatMap((a) =>
        a.server.lists().map((e): ModeratedList => {
          const info = a.server.info(e);
          return {
            account: a.account,
            list: `${a.account}/${e.target}`,
            listAddress: info.address,
            description: e.description,
            owners: info.owners,
            moderators: ((e.options as { moderators?: string[] }).moderators ?? []).map(normaliseAddress),
            policy: a.server.options(e).policy ?? 'members',
          };
        }),
      ),
    role(list, address) {
      const f = find(list);
      return f ? roleOf(f.a, f.e, normaliseAddress(address)) : undefined;
    },
    held(list) {
      const f = find(list);
      if (!f) return no('no-list', `there is no list ${list} here`);
      return f.a.store.held(f.e.target);
    },
    async heldPost(list, id) {
      const f = find(list);
      if (!f) return no('no-list', `there is no list ${list} here`);
      const h = f.a.store.heldOne(id);
      if (!h || h.list !== f.e.target) return no('no-such-post', `there is no held post #${id} for ${f.e.target}`);
      const m = await parseMessage(h.raw);
      const { raw: _raw, ...view } = h;
      if (isRefusal(m))
        return { ok: true, ...view, text: `(the message cannot be read: ${m.message})`, attachments: [] };
      return {
        ok: true,
        ...view,
        text: m.body.slice(0, TEXT_MAX),
        attachments: m.files.map((x) => ({ filename: x.filename, contentType: x.contentType, size: x.content.length })),
      };
    },
    async decide(list, id, action, opts) {
      const f = find(list);
      if (!f) return no('no-list', `there is no list ${list} here`);
      const by = normaliseAddress(opts.by);
      if (!roleOf(f.a, f.e, by)) return no('not-allowed', `${by} is neither an owner nor a moderator of ${f.e.target}`);
      const h = f.a.store.heldOne(id);
      // Another list's post is not this list's to decide: the same answer as none at all.
      if (!h || h.list !== f.e.target)
        return no('no-such-post', `there is no held post #${id} for ${f.e.target} (decided already?)`);
      const log = f.a.log.child({ list: f.e.target, held: id, by });
      const done = (summary: string) => {
        log.info(`held post #${id} from ${h.sender} ${summary} by ${by}`);
        return { ok: true as const, list, id, action, by, summary };
      };
      switch (action) {
        case 'discard':
          f.a.store.dropHeld(id);
          return done('discarded (the sender is not told)');
        case 'reject': {
          const r = await f.a.server.reject(id, opts.reason ?? '');
          return r.ok ? done('rejected; the sender is told') : no('no-such-post', r.reason);
        }
        case 'approve': {
          const r = await f.a.server.approve(id);
          return r.ok ? done(`approved: ${r.reply}`) : no('failed', `not posted: ${r.reason} (it stays held)`);
        }
        default:
          return no('failed', 'banning is not available on this server yet');
      }
    },
    bans: (): BanView[] => [],
    ban: (list) => no('failed', `banning is not available on this server yet (${list})`),
    unban: (list) => no('failed', `banning is not available on this server yet (${list})`),
    banned: () => undefined,
  };
}
