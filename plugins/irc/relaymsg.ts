/**
 * IRCv3 `draft/relaymsg`: a line from another place said from its author's own nick (`alice/mail`) by
 * `RELAYMSG #chan alice/mail :text`, where the server offers it and lets the bot (Ergo: a channel operator).
 *
 * - Pure: the nick a post is said from (`relayNick`: the `relaymsgNick` template filled, every part made into what
 *   IRC allows in a nick, fitted to NICKLEN), the template's check (`relayNickProblem`, in the schema) and the
 *   check against the separators the server advertises (`separatorProblem`). Unit-tested in
 *   test/unit/irc-relaymsg.test.ts.
 * - `RelayMsg`, one per account: which nicks were ours on this connection (an echo of our RELAYMSG carries the tag
 *   `draft/relaymsg=<our nick>`: incoming.ts never relays it again, confirm.ts counts it as our line), whether this
 *   connection may use RELAYMSG, and what the server refused (`FAIL RELAYMSG …`): for one nick, for a channel (not a
 *   channel operator: until the bot gets +o, rejoins, or RETRY_AFTER), or for the connection (NOT_ENABLED, the
 *   command unknown). Refused lines go as ordinary prefixed lines (deliver.ts); the refusals are in the status.
 */
import type { Client } from 'irc-framework';
import type { Post } from '../../src/plugin.js';
import type { IrcAccount } from './account.js';
import type { Refusal } from './confirm.js';
import { secs } from './text.js';

/** The capability, and the tag the server puts on a relayed line (its value: the nick of the relay that sent it). */
export const RELAYMSG_CAP = 'draft/relaymsg';
export const RELAYMSG_TAG = 'draft/relaymsg';

/** The placeholders of relaymsgNick. */
const PLACEHOLDERS = ['nick', 'protocol', 'bridge', 'origin'] as const;
type Vars = Record<(typeof PLACEHOLDERS)[number], string>;

/** Characters of an ordinary nick (RFC 2812, the set every server takes). */
const NICK_CHARS = /[A-Za-z0-9[\]\\`_^{|}-]/;
/** Characters that may never be in a relayed nick (the relaymsg spec: reserved IRC characters; white space, controls). */
const RESERVED = /[!+%@&#$:'",*?.\s\x00-\x1f\x7f]/;

/** The literal text of a template: what is outside its placeholders. */
const literal = (template: string): string => template.replace(/\{[^}]*\}/g, '');

/** Why `relaymsgNick` cannot make nicks, or undefined. */
export function relayNickProblem(template: string): string | undefined {
  const bad = [...template.matchAll(/\{([^}]*)\}/g)]
    .map((m) => m[1]!)
    .filter((k) => !(PLACEHOLDERS as readonly string[]).includes(k));
  if (bad.length) return `unknown placeholder {${bad[0]}} (expected {nick}, {protocol}, {bridge} or {origin})`;
  if (!template.includes('{nick}')) return 'the nick needs {nick} (the author)';
  const text = literal(template);
  const reserved = RESERVED.exec(text);
  if (reserved)
    return `${JSON.stringify(reserved[0])} cannot be in a nick (no spaces, control characters or any of ! + % @ & # $ : ' " , * ? .)`;
  if (![...text].some((ch) => !NICK_CHARS.test(ch)))
    return 'the nick needs a separator that no ordinary nick has, such as "/" ("{nick}/{protocol}"): the server tells relayed nicks from people by it';
  return undefined;
}

/**
 * Why this connection cannot say relayed nicks of this template: the server's separators (the capability's value,
 * e.g. "/") must include one of the template's own characters. An empty value: the server asks for none.
 */
export function separatorProblem(template: string, separators: string): string | undefined {
  if (separators === '') return undefined;
  const text = literal(template);
  if ([...separators].some((s) => text.includes(s))) return undefined;
  return `relaymsgNick "${template}" has none of the separators the server allows in a relayed nick (${[...separators].join(' ')})`;
}

/**
 * A value made into nick characters: letters with accents lose them (é → e), other characters at its ends are
 * dropped and every run of them inside becomes one `_` (`Jane Doe` → `Jane_Doe`, `山田` → ``).
 */
export function nickPart(value: string): string {
  return value
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/^[^A-Za-z0-9[\]\\`_^{|}-]+|[^A-Za-z0-9[\]\\`_^{|}-]+$/g, '')
    .replace(/[^A-Za-z0-9[\]\\`_^{|}-]+/g, '_');
}

/**
 * The nick a post is said from: `template` with its placeholders filled, each value made into nick characters
 * (nickPart), at most `nicklen` characters (the author's part shortened); a nick that would start with a digit or
 * `-` gets a `_` in front. undefined when the author's name has no letter or digit left (a name in a script IRC
 * nicks cannot carry, such as 山田): that post is said with the prefix instead.
 */
export function relayNick(template: string, vars: Vars, nicklen?: number): string | undefined {
  const parts = template.split(/(\{(?:nick|protocol|bridge|origin)\})/);
  const author = nickPart(vars.nick);
  const build = (a: string) => {
    const n = parts
      .map((p) => {
        const m = /^\{(nick|protocol|bridge|origin)\}$/.exec(p);
        return !m ? p : m[1] === 'nick' ? a : nickPart(vars[m[1] as keyof Vars]);
      })
      .join('');
    return /^[0-9-]/.test(n) ? `_${n}` : n;
  };
  const usable = (a: string) => /[A-Za-z0-9]/.test(a);
  if (!usable(author)) return undefined;
  let nick = build(author);
  if (nicklen === undefined || nicklen <= 0 || nick.length <= nicklen) return nick;
  // Too long: shorten the author's part (not ending in the "_" of a cut space), keeping the rest whole.
  const uses = parts.filter((p) => p === '{nick}').length;
  for (let cut = author.length - Math.ceil((nick.length - nicklen) / uses); cut >= 1; cut--) {
    const a = author.slice(0, cut).replace(/_+$/, '');
    if (!usable(a)) return undefined;
    nick = build(a);
    if (nick.length <= nicklen) return nick;
  }
  return undefined;
}

/** A post said by RELAYMSG: chat lines, actions and articles; never an event (the bot's own words). */
export const relayable = (post: Pick<Post, 'kind'>): boolean => post.kind !== 'event';

/** How long a channel's refusal (not a channel operator) stops RELAYMSG there, unless the bot gets +o or rejoins. */
export const RETRY_AFTER = 10 * 60_000;

/** What a refusal stops: this nick, this channel, or RELAYMSG on this connection. */
export function refusalScope(code: string): 'nick' | 'channel' | 'connection' {
  if (/\b(INVALID_NICK|BANNED|BLANK_MSG)\b/.test(code)) return 'nick';
  if (/\bNOT_ENABLED\b/.test(code) || code === '421' || code === '461') return 'connection';
  return 'channel';
}

/** The bits of the account RelayMsg uses. */
export type RelayHost = Pick<IrcAccount, 'cfg' | 'key' | 'ctx' | 'reportState' | 'later'>;

interface Held {
  /** The configured spelling of the channel. */
  channel: string;
  why: string;
  until: number;
}

export class RelayMsg {
  /** The nicks we had on this connection (case-folded): the tag of an echo names the nick we had when we sent it. */
  private readonly ours = new Set<string>();
  /** Refusals by channel key (scope channel) or `channel key + ' ' + nick key` (scope nick). */
  private readonly held = new Map<string, Held>();
  /** RELAYMSG refused for the whole connection (NOT_ENABLED, unknown command). */
  private off: string | undefined;

  constructor(
    private readonly host: RelayHost,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new connection: ask for the capability (also without `relaymsg`: its tag tells other relays' lines), forget the last one's refusals. */
  connecting(client: Client): void {
    client.requestCap(RELAYMSG_CAP);
    this.ours.clear();
    this.held.clear();
    this.off = undefined;
  }

  /** Registered as `nick`, or our nick changed to it. */
  nick(nick: string): void {
    this.ours.add(this.host.key(nick));
  }

  /** The nick in a `draft/relaymsg` tag is ours (now, or earlier on this connection). */
  isOurs(client: Client, by: string): boolean {
    return client.caseCompare(by, client.user.nick) || this.ours.has(this.host.key(by));
  }

  /** Why this connection says no line by RELAYMSG (relaymsg is on), or undefined when it may. */
  private unusable(client: Client): string | undefined {
    if (!client.network.cap.isEnabled(RELAYMSG_CAP)) return `the server does not offer ${RELAYMSG_CAP}`;
    const value = client.network.cap.available.get(RELAYMSG_CAP);
    return separatorProblem(this.host.cfg.relaymsgNick, value ?? '') ?? this.off;
  }

  /** The nick to say `post` from in `channel` by RELAYMSG, or undefined: say it with the prefix. */
  plan(client: Client, channel: string, post: Post): string | undefined {
    if (!this.host.cfg.relaymsg || !relayable(post)) return undefined;
    const nicklen = Number(client.network.supports('NICKLEN')) || undefined;
    const nick = relayNick(
      this.host.cfg.relaymsgNick,
      { nick: post.author.name, protocol: post.author.via, bridge: post.bridge, origin: post.origin.account },
      nicklen,
    );
    return nick !== undefined && this.may(client, channel, nick) ? nick : undefined;
  }

  /** RELAYMSG as `nick` in `channel` may be used now: relaymsg is on, the connection offers it, no refusal holds it back. */
  may(client: Client, channel: string, nick: string): boolean {
    if (!this.host.cfg.relaymsg || this.unusable(client) !== undefined) return false;
    const ck = this.host.key(channel);
    for (const k of [ck, `${ck} ${this.host.key(nick)}`]) {
      const h = this.held.get(k);
      if (h && h.until <= this.now()) this.held.delete(k);
      else if (h) return false;
    }
    return true;
  }

  /** The server refused RELAYMSG lines (confirm.ts: `relay` refusals) as `nick` in `channel`: what is held back now. */
  refused(channel: string, nick: string, refusals: readonly Refusal[]): string {
    const r = refusals[0]!;
    const words = `${r.code}${r.text ? `: ${r.text}` : ''}`;
    const scope = refusalScope(r.code);
    let why: string;
    let news: boolean;
    if (scope === 'connection') {
      news = this.off === undefined;
      this.off = `the server refused RELAYMSG (${words})`;
      why = `${this.off}; every line goes with its prefix until the next connection`;
    } else {
      const key = scope === 'nick' ? `${this.host.key(channel)} ${this.host.key(nick)}` : this.host.key(channel);
      why =
        scope === 'nick'
          ? `RELAYMSG as ${nick} refused in ${channel} (${words}); said with the prefix`
          : `RELAYMSG refused in ${channel} (${words}); lines go with their prefix until the bot is a channel operator there (tried again in ${secs(RETRY_AFTER)})`;
      news = this.held.get(key)?.why !== why;
      this.held.set(key, { channel, why, until: this.now() + RETRY_AFTER });
    }
    // Posts in flight when the first refusal came are refused too: said once.
    if (news) this.host.ctx.log.warn({ channel, nick, code: r.code }, why);
    else this.host.ctx.log.debug({ channel, nick, code: r.code }, why);
    this.host.reportState();
    // The status drops a hold once it is over.
    if (scope !== 'connection') this.host.later(() => this.host.reportState(), RETRY_AFTER + 10);
    return why;
  }

  /** We got +o in `channel`, or joined it again: RELAYMSG is tried there again. */
  private lift(channel: string, what: string): void {
    const ck = this.host.key(channel);
    if (!this.held.delete(ck)) return;
    this.host.ctx.log.info({ channel }, `${what}: RELAYMSG is tried again in ${channel}`);
    this.host.reportState();
  }

  /** Our +o in a channel, and our own joins, lift that channel's refusal. */
  wire(client: Client, mine: () => boolean): void {
    client.on('registered', () => {
      if (mine()) this.nick(client.user.nick);
    });
    client.on('nick', (ev: { nick: string; new_nick: string }) => {
      if (mine() && (client.caseCompare(ev.nick, client.user.nick) || this.ours.has(this.host.key(ev.nick))))
        this.nick(ev.new_nick);
    });
    client.on('mode', (ev: { target: string; modes?: { mode: string; param?: string }[] }) => {
      if (!mine()) return;
      const opped = ev.modes?.some(
        (m) => /^\+[qaoO]$/.test(m.mode) && m.param !== undefined && client.caseCompare(m.param, client.user.nick),
      );
      if (opped) this.lift(ev.target, 'the bot is a channel operator now');
    });
    client.on('join', (ev: { nick: string; channel: string }) => {
      if (mine() && client.caseCompare(ev.nick, client.user.nick)) this.lift(ev.channel, 'the bot joined again');
    });
  }

  /** For the status: whether relaymsg is in use on this connection, and what the server refused. */
  status(client: Client): string | undefined {
    if (!this.host.cfg.relaymsg) return undefined;
    const no = this.unusable(client);
    if (no !== undefined) return `relaymsg off: ${no}; lines go with their prefix`;
    const now = this.now();
    const held = [...this.held.values()].filter((h) => h.until > now).map((h) => h.why);
    return held.length ? `relaymsg on; ${held.join('; ')}` : 'relaymsg on';
  }
}
