/**
 * `mail.lists`: what the web's list pages ask of the mail plugin (plugins/web/lists.ts): the lists, subscribing
 * from the web (the mailed double opt-in, unchanged), the owner page's login mail, subscribers and recent
 * bounces (held posts and bans: `mail.moderation`, plugins/mail/moderate.ts). The first running mail account provides it and answers for every account
 * (each call names its account), as with `mail.unsubscribe`.
 */
import { addressProblem, listAddresses, normaliseAddress } from './lists.js';
import * as T from './texts.js';
import type { Logger, EndpointView } from '../../src/plugin.js';
import type { ListServer } from './listserv.js';
import type { ListStore } from './subscribe.js';
import type { ProblemLog } from './problems.js';
import { parseSetWords, type MemberStore } from './members.js';
import type { ListRefusal, MailLists, MemberSettings, ModeratorRole, PublicList } from './services.js';

/** One running mail account, as the service sees it. */
export interface ListAccount {
  account: string;
  domain: string;
  log: Logger;
  server: ListServer;
  store: ListStore;
  problems: ProblemLog;
  /** Members' settings (plugins/mail/members.ts). */
  members: MemberStore;
  /** Owner, moderator or neither (plugins/mail/moderate.ts). */
  role(e: EndpointView, address: string): ModeratorRole | undefined;
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

/** A member's delivery in the words of `set`: "each", "digest mime", "digest plain", "nomail until 2027-01-10". */
export function modeWords(s: MemberSettings | undefined): string {
  if (!s || s.mode === 'each') return 'each';
  if (s.mode === 'digest') return `digest ${s.digestFormat}`;
  return s.nomailUntil ? `nomail until ${s.nomailUntil}` : 'nomail';
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
      if ('ok' in f || typeof who !== 'string' || !f.a.role(f.e, who)) return;
      await f.a.server.sendRobot(f.e, who, T.loginLink(f.a.server.words(f.e), who, link, validMs));
      f.a.log.info({ list, address: who }, `a login link to the owner page of ${list} was mailed to ${who}`);
    },

    members(account, list) {
      const f = find(account, list);
      if ('ok' in f) return [];
      const settings = f.a.members.all(list);
      return f.a.store.members(list).map((m) => ({
        address: m.address,
        name: m.name,
        since: m.since,
        mode: modeWords(settings.get(m.address)),
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

    setMode(account, list, address, words, by) {
      const f = find(account, list);
      if ('ok' in f) return f;
      const who = addr(address);
      if (typeof who !== 'string') return who;
      if (!f.a.store.member(list, who)) return refuse('invalid', `${who} is not subscribed to ${list}`);
      // The words of `peerpost subscribers LIST set ADDRESS …` and of `set …` by mail.
      const c = parseSetWords(
        String(words ?? '')
          .trim()
          .split(/\s+/)
          .filter(Boolean),
      );
      if ('problem' in c) return refuse('invalid', c.problem);
      if (c.ownPosts !== undefined) return refuse('invalid', 'the owner page sets the delivery mode only');
      const r = f.a.members.set(list, who, c);
      if ('problem' in r) return refuse('invalid', r.problem);
      if (!r.changed) return { ok: true, text: `${who} gets ${modeWords(r.settings)} already` };
      f.a.log.info(
        { list, address: who, by, settings: r.settings },
        `${who} on ${list} set to ${modeWords(r.settings)} by ${by} on the owner page`,
      );
      return { ok: true, text: `${who} gets ${modeWords(r.settings)} now (the member is not told)` };
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
