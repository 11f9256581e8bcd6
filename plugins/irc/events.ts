/**
 * IRC → bridge: what one irc-framework message event becomes (a post, or
 * nothing). Pure: unit-tested with plain objects in test/unit/irc-events.test.ts.
 */
import type { IncomingPost } from '../../src/plugin.js';
import { stripFormatting } from './text.js';

/** The fields of irc-framework's privmsg / action / notice events that matter here. */
export interface MessageEvent {
  nick?: string;
  ident?: string;
  hostname?: string;
  target: string;
  message: string;
  /** server-time, ms since the epoch, when the server sent it. */
  time?: number;
  account?: string | false;
  from_server?: boolean;
  /** IRCv3 message tags, unescaped. */
  tags?: Record<string, string | true | undefined>;
}

export type MessageType = 'privmsg' | 'action' | 'notice';

export interface Translation {
  /** The nick the client has now. */
  ownNick: string;
  /** Nick comparison with the server's case mapping. */
  sameNick(a: string, b: string): boolean;
  /** The configured spelling of a channel of this account, or undefined when the config does not name it. */
  channel(target: string): string | undefined;
  /** Relay NOTICEs (config `notices`). */
  notices: boolean;
  /**
   * The services account of a nick as known from `extended-join` and `account-notify`
   * (for a server that offers those but not `account-tag`); undefined when not known.
   */
  accountOf?(nick: string): string | undefined;
}

/** An account name as it may go into a post: a string without spaces or control characters, not "*". */
export function accountName(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const a = v.trim();
  if (a === '' || a === '*' || a.length > 100 || /[\s\x00-\x1f\x7f]/.test(a)) return undefined;
  return a;
}

/** The post an IRC message makes, or why it makes none. */
export function translate(type: MessageType, ev: MessageEvent, t: Translation): IncomingPost | { skip: string } {
  if (ev.from_server || !ev.nick) return { skip: 'from the server' };
  if (t.sameNick(ev.nick, t.ownNick)) return { skip: 'our own line' };
  if (type === 'notice' && !t.notices) return { skip: 'a notice (notices: false)' };
  const target = t.channel(ev.target);
  if (!target)
    return { skip: /^[#&!+]/.test(ev.target) ? `${ev.target} is not a configured channel` : 'a private message' };
  const body = stripFormatting(ev.message).trim();
  if (body === '') return { skip: 'empty once formatting is stripped' };
  const post: IncomingPost = {
    target,
    author: { name: ev.nick, via: 'irc' },
    body,
    kind: type === 'action' ? 'action' : type === 'notice' ? 'notice' : 'message',
  };
  // IRCv3 account-tag (irc-framework asks for it, and for account-notify and extended-join), else what those told.
  const account =
    accountName(ev.account ?? ev.tags?.account) ??
    (ev.account === false ? undefined : accountName(t.accountOf?.(ev.nick)));
  if (account !== undefined) post.author.account = account;
  if (typeof ev.time === 'number' && Number.isFinite(ev.time)) post.date = new Date(ev.time);
  return post;
}
