/**
 * The subscription side of a list (issue 4, "Subscription"): LIST-join@, LIST-leave@ and LIST-confirm+TOKEN@ run
 * the double opt-in (a confirmation request, then the welcome or the goodbye); LIST-request@ takes the commands of a
 * mail's subject and first lines (subscribe, unsubscribe, help, and a member's `set` and `show`). Robot mail to an
 * address goes at most once per subscription.window (anti subscription-bombing), except the answer to a change of
 * settings. ListServer (listserv.ts) hands these addresses here, after its checks for robots and banned senders.
 */
import type { EndpointView } from '../../src/plugin.js';
import { listAddresses, normaliseAddress } from './lists.js';
import { commandLines, type ParsedMessage } from './parse.js';
import { findConfirmToken } from './tokens.js';
import * as T from './texts.js';
import type { Reply } from './receive.js';
import type { ListInfo } from './outbound/types.js';
import { describeSettings, parseSetWords } from './members.js';
import type { ListServerDeps } from './listserv.js';

const ok = (message: string): Reply => ({ code: 250, message });

/** What the subscription side asks of its list server: a list's identity and words, and whether a sender is banned. */
export interface RequestsList {
  info(e: EndpointView): ListInfo;
  words(e: EndpointView): T.ListWords;
  isBanned(e: EndpointView, who: string, what: string): boolean;
}

export class Requests {
  constructor(
    private readonly d: ListServerDeps,
    private readonly list: RequestsList,
  ) {}

  private async notify(
    e: EndpointView,
    to: string,
    msg: { subject: string; text: string },
    m?: ParsedMessage,
    from?: string,
  ): Promise<boolean> {
    if (!this.d.store.mayNotify(e.target, to, this.d.settings().windowMs)) {
      this.d.log.info(
        { list: e.target, to },
        `no robot mail to ${to}: one went there within subscription.window (anti subscription-bombing)`,
      );
      return false;
    }
    await this.d.out.sendRobot({
      list: this.list.info(e),
      to,
      ...msg,
      ...(from ? { from } : {}),
      ...(from ? { headers: { 'Reply-To': from } } : {}),
      ...(m?.id ? { inReplyTo: m.id } : {}),
    });
    return true;
  }

  private async ask(
    e: EndpointView,
    who: string,
    action: 'subscribe' | 'unsubscribe',
    m?: ParsedMessage,
  ): Promise<Reply> {
    const s = this.d.settings();
    if (!this.d.store.mayNotify(e.target, who, s.windowMs)) {
      this.d.log.info(
        { list: e.target, address: who },
        `${action} request not answered: a robot mail went to ${who} within subscription.window (anti subscription-bombing)`,
      );
      return ok(`a confirmation was sent to ${who} recently; answer that one`);
    }
    const p = this.d.store.createPending(
      e.target,
      who,
      action,
      s.expireMs,
      Date.now(),
      m?.from?.address && normaliseAddress(m.from.address) === who ? m.from.name : '',
    );
    const confirmAt = listAddresses(e.target, this.d.domain()).confirm(p.token);
    const msg = T.confirmRequest(this.list.words(e), action, who, p.token, s.expireMs);
    await this.d.out.sendRobot({
      list: this.list.info(e),
      to: who,
      ...msg,
      from: confirmAt,
      headers: { 'Reply-To': confirmAt },
      ...(m?.id ? { inReplyTo: m.id } : {}),
    });
    this.d.log.info({ list: e.target, address: who }, `${action} confirmation sent to ${who}`);
    return ok(`a confirmation was sent to ${who}`);
  }

  /**
   * A subscription asked for on the web (/l/LIST): what a mail to LIST-join@ from `who` does (the confirmation
   * request, or the "subscribed already" notice), so the web answers the same in both cases.
   */
  async webJoin(e: EndpointView, who: string): Promise<Reply> {
    // A banned address: nothing sent, and the web answers as always.
    if (this.list.isBanned(e, normaliseAddress(who), 'web subscribe')) return ok('accepted');
    const r = await this.join(e, normaliseAddress(who));
    this.d.log.info({ list: e.target }, `subscription to ${e.target} asked for on the web`);
    return r;
  }

  async join(e: EndpointView, who: string, m?: ParsedMessage): Promise<Reply> {
    if (this.d.store.member(e.target, who)) {
      await this.notify(e, who, T.notice(this.list.words(e), 'already', who), m);
      return ok(`${who} is subscribed already`);
    }
    return this.ask(e, who, 'subscribe', m);
  }

  async leave(e: EndpointView, who: string, m: ParsedMessage): Promise<Reply> {
    if (!this.d.store.member(e.target, who)) {
      await this.notify(e, who, T.notice(this.list.words(e), 'not-member', who), m);
      return ok(`${who} is not subscribed`);
    }
    return this.ask(e, who, 'unsubscribe', m);
  }

  async confirm(e: EndpointView, token: string, who: string, m: ParsedMessage): Promise<Reply> {
    const p = this.d.store.pending(token);
    if (!p || p.list !== e.target) {
      await this.notify(e, who, T.notice(this.list.words(e), 'unknown-token', who), m);
      return ok('unknown confirmation; nothing changed');
    }
    if (p.expires < Date.now()) {
      this.d.store.dropPending(token);
      await this.notify(e, p.address, T.notice(this.list.words(e), 'expired', p.address), m);
      return ok('the confirmation expired; nothing changed');
    }
    this.d.store.dropPending(token);
    const info = this.list.info(e);
    if (p.action === 'subscribe' && this.list.isBanned(e, p.address, 'confirm')) return ok('accepted');
    if (p.action === 'subscribe') {
      const added = this.d.store.add(e.target, p.address, p.name || (who === p.address ? (m.from?.name ?? '') : ''));
      this.d.log.info({ list: e.target, address: p.address }, `${p.address} subscribed to ${e.target} (confirmed)`);
      if (added) await this.d.out.sendRobot({ list: info, to: p.address, ...T.welcome(this.list.words(e), p.address) });
      return ok(`${p.address} is subscribed to ${e.target}`);
    }
    const removed = this.d.store.remove(e.target, p.address);
    this.d.log.info({ list: e.target, address: p.address }, `${p.address} unsubscribed from ${e.target} (confirmed)`);
    if (removed) await this.d.out.sendRobot({ list: info, to: p.address, ...T.goodbye(this.list.words(e), p.address) });
    return ok(`${p.address} is unsubscribed from ${e.target}`);
  }

  async request(e: EndpointView, who: string, m: ParsedMessage): Promise<Reply> {
    const done = new Set<string>();
    const replies: Reply[] = [];
    const settings: { line: string; result: string }[] = [];
    let show = false;
    for (const line of commandLines(m.subject, m.body)) {
      if (done.size >= 3) break;
      const words = line
        .trim()
        .replace(/^(re|aw|fwd?):\s*/i, '')
        .split(/\s+/);
      const head = words[0]!.toLowerCase();
      if (this.d.members && (head === 'set' || head === 'show') && !done.has(line.trim().toLowerCase())) {
        done.add(line.trim().toLowerCase());
        if (head === 'show') show = true;
        else settings.push({ line: words.join(' '), result: this.setting(e, who, words.slice(1)) });
        continue;
      }
      const token = findConfirmToken(line);
      const word = line
        .toLowerCase()
        .split(/\s+/)[0]!
        .replace(/[^a-z]/g, '');
      let cmd: string | undefined;
      if (token) cmd = `confirm ${token}`;
      else if (['subscribe', 'join', 'sub'].includes(word)) cmd = 'subscribe';
      else if (['unsubscribe', 'leave', 'signoff', 'unsub', 'remove'].includes(word)) cmd = 'unsubscribe';
      else if (['help', 'info', 'commands'].includes(word)) cmd = 'help';
      if (!cmd || done.has(cmd)) continue;
      done.add(cmd);
      if (token) replies.push(await this.confirm(e, token, who, m));
      else if (cmd === 'subscribe') replies.push(await this.join(e, who, m));
      else if (cmd === 'unsubscribe') replies.push(await this.leave(e, who, m));
      else {
        await this.notify(e, who, T.help(this.list.words(e)), m);
        replies.push(ok('help sent'));
      }
    }
    if (!done.size) {
      await this.notify(e, who, T.help(this.list.words(e)), m);
      return ok('no command found; help sent');
    }
    if (show || settings.length) replies.push(await this.answerSettings(e, who, m, settings));
    return ok(replies.map((r) => r.message).join('; '));
  }

  /** One `set …` line of a member: applied, or why not (the words of the answer). */
  private setting(e: EndpointView, who: string, words: string[]): string {
    if (!this.d.store.member(e.target, who)) return 'not done: you are not subscribed';
    const c = parseSetWords(words);
    if ('problem' in c) return `not done: ${c.problem}`;
    const r = this.d.members!.set(e.target, who, c);
    if ('problem' in r) return `not done: ${r.problem}`;
    if (!r.changed) return 'nothing to change: it was so already';
    this.d.log.info(
      { list: e.target, address: who, settings: r.settings },
      `${who} changed their settings on ${e.target} by mail`,
    );
    return 'done';
  }

  /**
   * The answer to `set` and `show`: each command's result and the member's settings now. A change is always
   * answered (so a member learns of a change they did not make: a forged From); the rest follows the
   * anti-bombing rule of robot mail (one per subscription.window), as does the answer to a non-member.
   */
  private async answerSettings(
    e: EndpointView,
    who: string,
    m: ParsedMessage,
    done: { line: string; result: string }[],
  ): Promise<Reply> {
    const member = this.d.store.member(e.target, who) !== undefined;
    if (!member) {
      await this.notify(e, who, T.notice(this.list.words(e), 'not-member', who), m);
      return ok(`${who} is not subscribed; no settings`);
    }
    const a = listAddresses(e.target, this.d.domain());
    const s = this.d.members!.get(e.target, who);
    const text = [
      ...(done.length ? ['Your commands:', ...done.map((d) => `  ${d.line}: ${d.result}`), ''] : []),
      `Your settings on ${a.post} (${who}) now:`,
      ...describeSettings(s, this.d.digestHour?.(e.target), this.d.digestZone?.(e.target)),
      '',
      `To change them, write to ${a.request}:`,
      '  set each | set digest [mime|plain] | set nomail [until YYYY-MM-DD] | set ownposts on|off',
    ].join('\n');
    const msg = { subject: `${e.target}: your settings`, text };
    if (done.some((d) => d.result === 'done')) {
      await this.d.out.sendRobot({ list: this.list.info(e), to: who, ...msg, ...(m.id ? { inReplyTo: m.id } : {}) });
      return ok('settings changed; the new settings were sent');
    }
    const sent = await this.notify(e, who, msg, m);
    return ok(sent ? 'settings sent' : 'settings not sent (one robot mail per subscription.window)');
  }
}
