/**
 * IRC → bridge: PRIVMSG, ACTION and (by config) NOTICE in one of our channels
 * become posts (events.ts translates them: formatting stripped, dated by
 * server-time, the sender's services account). A line of another relay (named,
 * recognised by its real name, or tagged with a post id) is remembered by its
 * channel (the loop guard) and by default not relayed again. Other people's
 * joins, parts and quits: presence.ts, which hands its event posts to ingest().
 * Where the server keeps history, every line passes replay.ts first (a line of
 * a history answer, or a live line held back while its channel catches up),
 * takes its post id from its msgid, and moves its channel's mark once handled.
 */
import type { Client, IrcMessage } from 'irc-framework';
import type { IncomingPost } from '../../src/plugin.js';
import type { IrcAccount } from './account.js';
import { translate, type MessageEvent, type MessageType } from './events.js';
import { ID_TAG } from './relay.js';
import { RELAYMSG_TAG } from './relaymsg.js';

export class Incoming {
  constructor(private readonly account: IrcAccount) {}

  /** The lines of this connection. */
  wire(client: Client, mine: () => boolean): void {
    const heard = (type: MessageType, ev: MessageEvent) => {
      if (mine() && !this.account.history.take(type, ev)) this.process(type, ev);
    };
    for (const type of ['privmsg', 'action', 'notice'] as MessageType[])
      client.on(type, (ev: MessageEvent) => heard(type, ev));
    // A PRIVMSG outside any batch goes no further than irc-framework's raw middleware (chatLine). Its handler would
    // have restarted the wait for the server (ping_timeout): done here too, at most once every PING_RESET_MS.
    const alive = atMostEvery(PING_RESET_MS, () => client.resetPingTimeoutTimer());
    client.use((_c, raw) =>
      raw.use((command, message, _line, _client, next) => {
        const line = command.toUpperCase() === 'PRIVMSG' ? chatLine(client, message) : undefined;
        if (!line) return next();
        alive();
        heard(line.type, line.ev);
      }),
    );
  }

  /** A line, live or replayed from the history: a post, or nothing; the channel's mark moves past it once handled. */
  process(type: MessageType, ev: MessageEvent): void {
    const a = this.account;
    const chan = ev.target ? a.channel(ev.target) : undefined;
    const settled = this.line(type, ev);
    if (chan && !ev.from_server) a.history.seen(chan.name, ev, settled);
  }

  /** The post a line makes, handed to the core; the promise of its verdict, when it was handed over. */
  private line(type: MessageType, ev: MessageEvent): Promise<void> | undefined {
    const a = this.account;
    const client = a.client!;
    // draft/relaymsg: a line said by RELAYMSG comes from the relayed nick ("alice/mail"), tagged with the relay's own.
    const via = ev.tags?.[RELAYMSG_TAG];
    const relayedBy = typeof via === 'string' && via !== '' ? via : undefined;
    if (relayedBy !== undefined && a.relaymsg.isOurs(client, relayedBy)) {
      a.ctx.log.trace({ type, nick: ev.nick, target: ev.target }, 'IRC line not relayed: our own, said by RELAYMSG');
      return;
    }
    const r = translate(type, ev, {
      ownNick: client.user.nick,
      sameNick: (x, y) => client.caseCompare(x, y),
      channel: (t) => a.channel(t)?.name,
      notices: a.cfg.notices,
      // Known only while account-notify keeps it current (else a logout would go unseen).
      accountOf: (n) => (client.network.cap.isEnabled('account-notify') ? a.presence.accountOf(n) : undefined),
    });
    if ('skip' in r) {
      a.ctx.log.trace({ type, nick: ev.nick, target: ev.target, why: r.skip }, 'IRC line not relayed');
      return;
    }
    const tagged = ev.tags?.[ID_TAG];
    const tagId = typeof tagged === 'string' && tagged !== '' ? tagged : undefined;
    if (tagId !== undefined || relayedBy !== undefined || a.presence.isRelay(ev.nick)) {
      // Another relay's line: this channel now shows it (the loop guard's memory); by default it is not relayed again.
      // Said by RELAYMSG, the author is the nick the line comes from: the memory keeps "nick text", as a prefix would.
      const relay = relayedBy ?? ev.nick!;
      a.channel(r.target)?.relayed(relay, relayedBy !== undefined ? `${ev.nick} ${ev.message}` : ev.message, tagId);
      if (a.cfg.relays.lines === 'ignore') {
        a.ctx.log.debug(
          { nick: ev.nick, relay, target: r.target, id: tagId },
          `a line from the relay ${relay} is not relayed again (relays.lines: ignore)`,
        );
        return;
      }
      if (tagId !== undefined && a.ctx.posts.get(tagId)) {
        a.ctx.log.debug({ nick: ev.nick, id: tagId }, 'a relayed line of a post we already have');
        return;
      }
    }
    // With chathistory the line is known by its msgid: the same post live or replayed after a restart. Without, nothing
    // can give it again (IRC waits for no acknowledgement): it may be said in the bridge's channels before its commit.
    const id = a.history.postId(r.target, ev);
    if (id !== undefined) r.id = id;
    else if (!a.history.enabled()) r.volatile = true;
    return this.ingest(r);
  }

  /** Hand a post (a line, an event) to the core; IRC cannot be asked to send a line again, so a tempfail is retried here. */
  async ingest(post: IncomingPost): Promise<void> {
    const a = this.account;
    for (let tries = 1; ; tries++) {
      const v = await a.ctx.ingest(post);
      if (v.status !== 'tempfail') {
        if (v.status === 'rejected')
          a.ctx.log.warn(
            { target: post.target, reason: v.reason },
            `a line from ${post.author.name} was refused: ${v.reason}`,
          );
        return;
      }
      if (tries >= 30 || a.ctx.signal.aborted) {
        a.ctx.log.error(
          { target: post.target, reason: v.reason, body: post.body },
          `a line from ${post.author.name} could not be stored: ${v.reason}`,
        );
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * How often a person's line restarts irc-framework's wait for a line from the server before the connection counts
 * as dead (ping_timeout, 120 s). irc-framework restarts it at every line its handler sees; each restart clears and
 * sets a timer through its Connection (which keeps its timers in an array, pulled with lodash): 0.1–0.2 ms of the
 * 1.0–1.6 ms a relayed line spent inside peerpost at a person's pace (issue 18), for a deadline two minutes away.
 * Every 10 s is as good: the server's PONG to the ping sent every ping_interval (30 s) restarts it too, and a dead
 * connection is still found within ping_timeout of its last line, less at most these 10 s.
 */
export const PING_RESET_MS = 10_000;

/** `fn`, run at most once every `ms` (the first call runs it; the calls in between do nothing). */
export function atMostEvery(ms: number, fn: () => void, now: () => number = () => performance.now()): () => void {
  let last = -Infinity;
  return () => {
    const t = now();
    if (t - last < ms) return;
    last = t;
    fn();
  };
}

/**
 * A PRIVMSG as irc-framework's command handler would emit it (handlers/messaging.js: `privmsg`, or `action` for a
 * CTCP ACTION), made here from the parsed line; undefined for what the handler must see (a line of a batch: a
 * history answer; any other CTCP: VERSION is answered there). Skipping the handler for a person's line (it makes an
 * IrcCommand copying the line's parameters and tags, emits it under 'all', resets its ping timer, copies it again
 * for a 'message' event, runs its parsed middleware) takes about a quarter off a relayed line's time inside peerpost
 * at a person's pace (issue 18). Nothing of ours listens for what it no longer emits for these lines.
 */
export function chatLine(
  client: Pick<Client, 'network'>,
  m: IrcMessage,
): { type: MessageType; ev: MessageEvent } | undefined {
  const tags = m.tags ?? {};
  if (tags.batch !== undefined || m.params.length < 2) return undefined;
  let message = m.params[m.params.length - 1]!;
  let type: MessageType = 'privmsg';
  if (message.startsWith('\x01') && message.endsWith('\x01')) {
    if (message.slice(1, -1).split(' ')[0]!.toUpperCase() !== 'ACTION') return undefined;
    type = 'action';
    message = message.substring(8, message.length - 1);
  }
  let target = m.params[0]!;
  const group = client.network.extractTargetGroup(target);
  if (group) target = group.target;
  const ev: MessageEvent & { ident?: string; group?: string } = {
    from_server: !m.nick,
    nick: m.nick,
    ident: m.ident,
    hostname: m.hostname,
    target,
    message,
    tags,
    time: serverTime(tags.time),
    account: typeof tags.account === 'string' ? tags.account : undefined,
    group: group?.target_group,
  };
  return { type, ev };
}

/** server-time as irc-framework reads it (IrcCommand.getServerTime): ms since the epoch, or undefined. */
function serverTime(tag: string | true | undefined): number | undefined {
  if (typeof tag !== 'string' || tag === '') return undefined;
  const t = Date.parse(tag) || undefined;
  if (!t && /^[0-9.]{1,}$/.test(tag)) return new Date(Number(tag) * 1000).getTime();
  return t;
}
