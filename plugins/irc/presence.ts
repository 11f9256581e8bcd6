/**
 * Everyone else in our channels, on the account's connection: their joins,
 * parts, kicks, quits and nick changes update each Channel's members
 * (`chan.addMember`, `chan.removeMember`, `chan.renameMember`: quits and nick
 * changes name no channel, so the members say where they happened) and become
 * posts of kind `event` where the channel's `events` say so (a netsplit's quits
 * folded into one); their services accounts and which of them are other relays
 * (people.ts: named in `relays.nicks`, or `peerpost` in their real name, asked
 * by WHO in batches through flood control; their node, "on HOST", told to the
 * core). The bot's own joins, parts and kicks are the account's (account.ts).
 */
import type { Client } from 'irc-framework';
import type { IncomingPost } from '../../src/plugin.js';
import type { IrcAccount } from './account.js';
import type { Channel } from './channel.js';
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

export class Presence {
  /** Services accounts and relays recognised by real name, on this connection. */
  private readonly people = new People();
  /** Nicks to ask WHO about (they joined), sent in one go. */
  private readonly whoPending = new Set<string>();
  private whoTimer: NodeJS.Timeout | undefined;
  /** A netsplit's quits, folded into one event per channel. */
  private readonly netsplits = new NetsplitFolder((name, e, time) => {
    const chan = this.account.channel(name);
    if (chan) this.event(chan, e, time);
  });

  constructor(private readonly account: IrcAccount) {}

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
    const client = this.account.client;
    if (client && this.account.cfg.relays.nicks.some((n) => client.caseCompare(n, nick))) return true;
    return this.people.isRelay(this.account.key(nick));
  }

  /** The services account of a nick, as account-notify keeps it. */
  accountOf(nick: string): string | undefined {
    return this.people.account(this.account.key(nick));
  }

  /** We joined `chan`: its members come by NAMES; who among them is another relay, WHO tells. */
  weJoined(client: Client, chan: Channel): void {
    if (this.account.cfg.relays.detect) void this.account.write(client, `WHO ${chan.name}`);
  }

  /** Other people's joins, parts, kicks, nick changes and quits, NAMES, WHO answers and account changes. */
  wire(client: Client, mine: () => boolean): void {
    const a = this.account;
    const log = a.ctx.log;
    const me = (nick: string) => client.caseCompare(nick, client.user.nick);
    client.on(
      'join',
      (ev: { nick: string; channel: string; gecos?: string; account?: string | false; time?: number }) => {
        if (!mine()) return;
        // extended-join: the services account of who joins ("*", false here, when none).
        if (ev.account !== undefined) this.people.setAccount(a.key(ev.nick), accountName(ev.account));
        const chan = a.channel(ev.channel);
        if (me(ev.nick) || !chan) return;
        chan.addMember(a.key(ev.nick));
        // extended-join gives the real name at once; else ask WHO.
        if (ev.gecos) {
          if (isRelayRealname(ev.gecos)) {
            this.people.markRelay(a.key(ev.nick));
            this.relayNode(ev.gecos, ev.nick);
          }
        } else this.whoSoon(ev.nick);
        this.event(chan, { type: 'join', nick: ev.nick }, ev.time);
      },
    );
    client.on('part', (ev: { nick: string; channel: string; message?: string; time?: number }) => {
      const chan = mine() && !me(ev.nick) ? a.channel(ev.channel) : undefined;
      if (!chan) return;
      chan.removeMember(a.key(ev.nick));
      this.event(chan, { type: 'part', nick: ev.nick, ...(ev.message ? { message: ev.message } : {}) }, ev.time);
    });
    client.on('kick', (ev: { kicked: string; nick: string; channel: string; message: string; time?: number }) => {
      const chan = mine() && !me(ev.kicked) ? a.channel(ev.channel) : undefined;
      if (!chan) return;
      chan.removeMember(a.key(ev.kicked));
      this.event(chan, { type: 'kick', nick: ev.kicked, by: ev.nick, message: ev.message }, ev.time);
    });
    client.on('nick', (ev: { nick: string; new_nick: string; time?: number }) => {
      if (!mine() || me(ev.nick) || me(ev.new_nick)) return;
      const from = a.key(ev.nick);
      const to = a.key(ev.new_nick);
      this.people.renamed(from, to);
      for (const chan of [...a.allChannels()]) {
        if (chan.renameMember(from, to))
          this.event(chan, { type: 'nick', nick: ev.nick, newNick: ev.new_nick }, ev.time);
      }
    });
    client.on('quit', (ev: { nick: string; message: string; time?: number }) => {
      if (!mine() || !ev.nick) return;
      const nk = a.key(ev.nick);
      const where = [...a.allChannels()].filter((chan) => chan.removeMember(nk));
      this.people.quit(nk);
      // A netsplit's quits (the reason names the two servers) are folded into one event per channel.
      const split = netsplitServers(ev.message);
      for (const chan of where) {
        if (split && eventsIn(this.eventsMode(chan)) && !this.isRelay(ev.nick))
          this.netsplits.add(a.key(chan.name), chan.name, ev.nick, split, ev.time);
        else this.event(chan, { type: 'quit', nick: ev.nick, message: ev.message }, ev.time);
      }
    });
    client.on('userlist', (ev: { channel: string; users: { nick: string }[] }) => {
      if (!mine()) return;
      a.channel(ev.channel)?.names(ev.users.filter((u) => u.nick).map((u) => a.key(u.nick)));
    });
    client.on('wholist', (ev: { users: { nick: string; real_name?: string }[] }) => {
      if (!mine()) return;
      for (const u of ev.users) {
        if (!u.nick || me(u.nick)) continue;
        if (isRelayRealname(u.real_name)) {
          if (this.people.markRelay(a.key(u.nick)))
            log.info(
              { nick: u.nick, realname: u.real_name },
              `${u.nick} is another peerpost relay (by its real name): its lines are treated as relayed`,
            );
          this.relayNode(u.real_name!, u.nick);
        }
      }
    });
    // account-notify: someone logged in to (or out of) services.
    client.on('account', (ev: { nick: string; account: string | false }) => {
      if (mine() && ev.nick) this.people.setAccount(a.key(ev.nick), accountName(ev.account));
    });
  }

  /**
   * Another peerpost relay's real name names its node ("peerpost relay on HOST"): tell the core it is in each of our
   * channels `nick` is in (a WHO for one nick names no channel).
   */
  private relayNode(realname: string, nick: string): void {
    const node = relayNodeOf(realname);
    if (!node) return;
    const nk = this.account.key(nick);
    for (const chan of this.account.allChannels()) if (chan.hasMember(nk)) this.account.ctx.peerNode(chan.name, node);
  }

  /** The `events` setting of a channel: its endpoint's, else the account's. */
  private eventsMode(chan: Channel): EventsMode {
    const k = this.account.key(chan.name);
    const e = this.account.ctx.endpoints().find((x) => this.account.key(x.target) === k);
    const v = e?.options.events;
    return v === true || v === false || v === 'in' || v === 'out' ? v : this.account.cfg.events;
  }

  /** A join, part, quit, kick or nick change in a channel: a post of kind `event` when the channel's `events` say so. */
  private event(chan: Channel, e: ChannelEvent, time?: number): void {
    if (!eventsIn(this.eventsMode(chan))) return;
    if (this.isRelay(e.nick)) return;
    const post: IncomingPost = {
      target: chan.name,
      author: { name: e.nick, via: 'irc' },
      body: eventText(e),
      kind: 'event',
    };
    if (typeof time === 'number' && Number.isFinite(time)) post.date = new Date(time);
    void this.account.incoming.ingest(post);
  }

  /** Ask WHO about a nick that joined, in one batch a second later, through flood control. */
  private whoSoon(nick: string): void {
    const a = this.account;
    if (!a.cfg.relays.detect) return;
    this.whoPending.add(nick);
    if (this.whoTimer) return;
    this.whoTimer = a.later(() => {
      this.whoTimer = undefined;
      const nicks = [...this.whoPending];
      this.whoPending.clear();
      const client = a.client;
      if (!a.registered || !client) return;
      // Through flood control, like every line: a busy channel's joins must not flood the server.
      void (async () => {
        for (const n of nicks) {
          try {
            await a.bucket.take(a.ctx.signal);
          } catch {
            return;
          }
          if (a.client !== client || !a.registered) return;
          await a.write(client, `WHO ${n}`);
        }
      })();
    }, 1_000);
  }
}
