/**
 * Who else is in our channels, on one connection: other people's joins, parts,
 * quits (a netsplit folded into one event), kicks and nick changes (posts of kind
 * `event` where the channel's `events` say so), their services accounts, and the
 * other relays among them (named in `relays.nicks`, or `peerpost` in their real
 * name, asked by WHO in batches through flood control; their node, "on HOST",
 * told to the core). The bot's own joins, parts and kicks are the connection's
 * business (index.ts), not this.
 */
import type { Client } from 'irc-framework';
import type { IncomingPost, PluginContext } from '../../src/plugin.js';
import type { ChannelState } from './channel.js';
import { accountName } from './events.js';
import { People } from './people.js';
import {
  NetsplitFolder,
  eventText,
  eventsIn,
  isRelayRealname,
  netsplitServers,
  relayNodeOf,
  type ChannelEvent,
  type EventsMode,
} from './relay.js';
import type { IrcConfig } from './schema.js';

/** What presence needs from its account. */
export interface PresenceHost {
  ctx: PluginContext<IrcConfig>;
  cfg(): IrcConfig;
  /** The live client, if any. */
  client(): Client | undefined;
  registered(): boolean;
  key(target: string): string;
  channel(ck: string): ChannelState | undefined;
  later(fn: () => void, ms: number): NodeJS.Timeout;
  /** Wait for a flood-control token; rejects when the account stops. */
  take(): Promise<void>;
  write(client: Client, line: string): Promise<boolean>;
  ingest(post: IncomingPost): void;
}

export class Presence {
  /** Channel members, services accounts and relays recognised by real name, on this connection. */
  readonly people = new People();
  /** Nicks to ask WHO about (they joined), sent in one go. */
  private readonly whoPending = new Set<string>();
  private whoTimer: NodeJS.Timeout | undefined;
  /** A netsplit's quits, folded into one event per channel. */
  private readonly netsplits = new NetsplitFolder((channel, e, time) => this.channelEvent(channel, e, time));

  constructor(private readonly h: PresenceHost) {}

  /** A new connection: nobody is known yet. */
  clear(): void {
    this.people.clear();
  }

  /** The connection closed: folded netsplits are told now. */
  flush(): void {
    this.netsplits.flushAll();
  }

  /** The account stops. */
  stop(): void {
    this.netsplits.clear();
  }

  /** Another relay: named in relays.nicks, or recognised by its real name. */
  isRelay(nick: string | undefined): boolean {
    if (!nick) return false;
    const client = this.h.client();
    if (client && this.h.cfg().relays.nicks.some((n) => client.caseCompare(n, nick))) return true;
    return this.people.isRelay(this.h.key(nick));
  }

  /** The services account of a nick, as account-notify keeps it. */
  account(nick: string): string | undefined {
    return this.people.account(this.h.key(nick));
  }

  /** We joined channel `c`: its members come by NAMES; who among them is another relay, WHO tells. */
  selfJoined(client: Client, c: ChannelState): void {
    this.people.selfJoined(this.h.key(c.name));
    if (this.h.cfg().relays.detect) void this.h.write(client, `WHO ${c.name}`);
  }

  /** Someone else joined one of our channels. */
  joined(ev: { nick: string; channel: string; gecos?: string; time?: number }): void {
    const ck = this.h.key(ev.channel);
    if (!this.h.channel(ck)) return;
    this.people.joined(ck, this.h.key(ev.nick));
    // extended-join gives the real name at once; else ask WHO.
    if (ev.gecos) {
      if (isRelayRealname(ev.gecos)) {
        this.people.markRelay(this.h.key(ev.nick));
        this.relayNode(ev.gecos, ev.nick);
      }
    } else this.whoSoon(ev.nick);
    this.channelEvent(ev.channel, { type: 'join', nick: ev.nick }, ev.time);
  }

  /** Someone else was kicked from one of our channels. */
  kicked(ev: { kicked: string; nick: string; channel: string; message: string; time?: number }): void {
    const ck = this.h.key(ev.channel);
    if (!this.h.channel(ck)) return;
    this.people.left(ck, this.h.key(ev.kicked));
    this.channelEvent(ev.channel, { type: 'kick', nick: ev.kicked, by: ev.nick, message: ev.message }, ev.time);
  }

  /** Someone else left one of our channels. */
  parted(ev: { nick: string; channel: string; message?: string; time?: number }): void {
    const ck = this.h.key(ev.channel);
    if (!this.h.channel(ck)) return;
    this.people.left(ck, this.h.key(ev.nick));
    this.channelEvent(
      ev.channel,
      { type: 'part', nick: ev.nick, ...(ev.message ? { message: ev.message } : {}) },
      ev.time,
    );
  }

  rememberAccount(nick: string, account: string | false | undefined): void {
    this.people.setAccount(this.h.key(nick), accountName(account));
  }

  /** Other people's nick changes, NAMES, WHO answers, quits and account changes on this connection. */
  wire(client: Client, mine: () => boolean): void {
    const log = this.h.ctx.log;
    client.on('nick', (ev: { nick: string; new_nick: string; time?: number }) => {
      if (!mine() || client.caseCompare(ev.nick, client.user.nick) || client.caseCompare(ev.new_nick, client.user.nick))
        return;
      for (const ck of this.people.renamed(this.h.key(ev.nick), this.h.key(ev.new_nick))) {
        const c = this.h.channel(ck);
        if (c) this.channelEvent(c.name, { type: 'nick', nick: ev.nick, newNick: ev.new_nick }, ev.time);
      }
    });
    client.on('userlist', (ev: { channel: string; users: { nick: string }[] }) => {
      if (!mine()) return;
      const ck = this.h.key(ev.channel);
      if (!this.h.channel(ck)) return;
      this.people.names(
        ck,
        ev.users.filter((u) => u.nick).map((u) => this.h.key(u.nick)),
      );
    });
    client.on('wholist', (ev: { users: { nick: string; real_name?: string }[] }) => {
      if (!mine()) return;
      for (const u of ev.users) {
        if (!u.nick || client.caseCompare(u.nick, client.user.nick)) continue;
        if (isRelayRealname(u.real_name)) {
          if (this.people.markRelay(this.h.key(u.nick)))
            log.info(
              { nick: u.nick, realname: u.real_name },
              `${u.nick} is another peerpost relay (by its real name): its lines are treated as relayed`,
            );
          this.relayNode(u.real_name!, u.nick);
        }
      }
    });
    client.on('quit', (ev: { nick: string; message: string; time?: number }) => {
      if (!mine() || !ev.nick) return;
      for (const ck of this.people.quit(this.h.key(ev.nick))) {
        const c = this.h.channel(ck);
        if (!c) continue;
        // A netsplit's quits (the reason names the two servers) are folded into one event per channel.
        const split = netsplitServers(ev.message);
        if (split && eventsIn(this.eventsMode(c.name)) && !this.isRelay(ev.nick))
          this.netsplits.add(ck, c.name, ev.nick, split, ev.time);
        else this.channelEvent(c.name, { type: 'quit', nick: ev.nick, message: ev.message }, ev.time);
      }
    });
    // account-notify: someone logged in to (or out of) services.
    client.on('account', (ev: { nick: string; account: string | false }) => {
      if (mine() && ev.nick) this.rememberAccount(ev.nick, ev.account);
    });
  }

  /**
   * Another peerpost relay's real name names its node ("peerpost relay on HOST"): tell the core it is in each of our
   * channels `nick` is in (a WHO for one nick names no channel).
   */
  private relayNode(realname: string, nick: string): void {
    const node = relayNodeOf(realname);
    if (!node) return;
    for (const ck of this.people.channelsOf(this.h.key(nick))) {
      const c = this.h.channel(ck);
      if (c) this.h.ctx.peerNode(c.name, node);
    }
  }

  /** The `events` setting of a channel: its endpoint's, else the account's. */
  private eventsMode(channel: string): EventsMode {
    const k = this.h.key(channel);
    const e = this.h.ctx.endpoints().find((x) => this.h.key(x.target) === k);
    const v = e?.options.events;
    return v === true || v === false || v === 'in' || v === 'out' ? v : this.h.cfg().events;
  }

  /** A join, part, quit, kick or nick change in a channel: a post of kind `event` when the channel's `events` say so. */
  private channelEvent(channel: string, e: ChannelEvent, time?: number): void {
    const c = this.h.channel(this.h.key(channel));
    if (!c || !eventsIn(this.eventsMode(c.name))) return;
    if (this.isRelay(e.nick)) return;
    const post: IncomingPost = {
      target: c.name,
      author: { name: e.nick, via: 'irc' },
      body: eventText(e),
      kind: 'event',
    };
    if (typeof time === 'number' && Number.isFinite(time)) post.date = new Date(time);
    this.h.ingest(post);
  }

  /** Ask WHO about a nick that joined, in one batch a second later, through flood control. */
  private whoSoon(nick: string): void {
    if (!this.h.cfg().relays.detect) return;
    this.whoPending.add(nick);
    if (this.whoTimer) return;
    this.whoTimer = this.h.later(() => {
      this.whoTimer = undefined;
      const nicks = [...this.whoPending];
      this.whoPending.clear();
      const client = this.h.client();
      if (!this.h.registered() || !client) return;
      // Through flood control, like every line: a busy channel's joins must not flood the server.
      void (async () => {
        for (const n of nicks) {
          try {
            await this.h.take();
          } catch {
            return;
          }
          if (this.h.client() !== client || !this.h.registered()) return;
          await this.h.write(client, `WHO ${n}`);
        }
      })();
    }, 1_000);
  }
}
