/**
 * Our own channels on one connection: which configured channels we are in,
 * joining the missing ones (after a connect, a kick, a refusal, a reload),
 * leaving those no bridge names any more, and why we are out of one (a ban, a
 * bad key, a kick). Who else is in them: presence.ts.
 */
import type { Client } from 'irc-framework';
import type { PluginContext } from '../../src/plugin.js';
import type { IrcConfig } from './schema.js';
import { secs } from './text.js';

/** What the irc plugin knows of one configured channel on the current connection. */
export interface ChannelState {
  /** The configured spelling. */
  name: string;
  joined: boolean;
  /** A JOIN was sent and has not been answered. */
  joining: boolean;
  /** Why we are not in it (ban, bad key, kick …). */
  problem?: string;
  /** Do not try to join before this (after a kick or a refusal). */
  notBefore: number;
  /** The server refused our lines here (+m, +b …): shown in the status until a line gets through. */
  refused?: string;
}

/** The server's answers to a JOIN that keep us out of a channel (irc-framework's names for them). */
const JOIN_REFUSALS = new Set([
  'banned_from_channel',
  'invite_only_channel',
  'bad_channel_key',
  'channel_is_full',
  'too_many_channels',
  'no_such_channel',
]);

export interface OwnChannelsDeps {
  ctx: PluginContext<IrcConfig>;
  cfg: () => IrcConfig;
  /** The connection, when there is one, and whether it is registered. */
  client: () => Client | undefined;
  registered: () => boolean;
  key: (target: string) => string;
  later: (fn: () => void, ms: number) => void;
  reportState: () => void;
}

export class OwnChannels {
  private readonly map = new Map<string, ChannelState>();

  constructor(private readonly d: OwnChannelsDeps) {}

  /** A channel by its case-folded name. */
  get(key: string): ChannelState | undefined {
    return this.map.get(key);
  }

  values(): IterableIterator<ChannelState> {
    return this.map.values();
  }

  /** The connection is new or gone: in no channel, no JOIN waiting. */
  reset(): void {
    for (const c of this.map.values()) {
      c.joined = false;
      c.joining = false;
    }
  }

  /** Join every configured channel we are not in (after a connect, a kick, a config change); leave those no longer named. */
  sync(): void {
    const { ctx } = this.d;
    const client = this.d.client();
    const registered = this.d.registered();
    const want = new Map<string, { name: string; key?: string }>();
    for (const e of ctx.endpoints()) {
      const k = this.d.key(e.target);
      if (!want.has(k))
        want.set(k, { name: e.target, ...(typeof e.options.key === 'string' ? { key: e.options.key } : {}) });
    }
    for (const [k, c] of this.map) {
      if (!want.has(k)) {
        this.map.delete(k);
        if (c.joined && registered) client?.part(c.name, 'no longer bridged');
      }
    }
    for (const [k, w] of want) {
      let c = this.map.get(k);
      if (!c) {
        c = { name: w.name, joined: false, joining: false, notBefore: 0 };
        this.map.set(k, c);
      }
      if (!registered || !client || c.joined || c.joining || Date.now() < c.notBefore) continue;
      c.joining = true;
      ctx.log.debug({ channel: c.name }, `joining ${c.name}`);
      if (w.key !== undefined) client.join(c.name, w.key);
      else client.join(c.name);
      // An answer that never comes (a server that ignores us) must not stop later tries.
      const tried = c;
      this.d.later(() => {
        if (tried.joining && !tried.joined) tried.joining = false;
      }, 30_000);
    }
  }

  /** We joined `channel`: the configured channel, now joined; undefined when no bridge names it (we leave it). */
  joined(channel: string): ChannelState | undefined {
    const c = this.map.get(this.d.key(channel));
    if (!c) {
      this.d.ctx.log.info({ channel }, `joined ${channel}, which no bridge names; leaving`);
      this.d.client()?.part(channel, 'not bridged here');
      return undefined;
    }
    c.joined = true;
    c.joining = false;
    delete c.problem;
    return c;
  }

  /** Out of a channel (kicked, parted): why, and when to rejoin. */
  left(channel: string, why: string, rejoinMs: number): void {
    const c = this.map.get(this.d.key(channel));
    if (!c) return;
    c.joined = false;
    c.joining = false;
    c.problem = why;
    c.notBefore = Date.now() + rejoinMs;
    this.d.ctx.log.warn({ channel: c.name }, why);
    this.d.reportState();
    this.d.later(() => this.sync(), rejoinMs + 10);
  }

  /**
   * An error reply about a channel. A refused JOIN (474 ban, 473, 475, 471, 405, 403) is the channel's problem
   * until rejoinAfterFail has passed; a refused line (404) is the confirmer's business. False when the reply is
   * not a channel's refusal (the caller reads it).
   */
  errorReply(error: string, channel: string, reason?: string): boolean {
    if (!JOIN_REFUSALS.has(error) && error !== 'cannot_send_to_channel') return false;
    const c = this.map.get(this.d.key(channel));
    if (!c) return true;
    if (!JOIN_REFUSALS.has(error)) {
      // The delivery that sent the line learns it from the confirmer and says so (retried, shown in the status).
      this.d.ctx.log.debug({ channel: c.name, reason }, `the server refused a line in ${c.name}`);
      return true;
    }
    c.joining = false;
    const wait = this.d.cfg().rejoinAfterFail;
    // A ban is its own state of the channel (474): said as such in the status, and retried only every rejoinAfterFail.
    c.problem =
      error === 'banned_from_channel'
        ? `banned from ${c.name}${reason ? ` (${reason})` : ''}; trying again every ${secs(wait)}`
        : `cannot join ${c.name}: ${error.replace(/_/g, ' ')}${reason ? ` (${reason})` : ''}; trying again every ${secs(wait)}`;
    c.notBefore = Date.now() + wait;
    this.d.ctx.log.warn({ channel: c.name }, c.problem);
    this.d.reportState();
    this.d.later(() => this.sync(), wait + 10);
    return true;
  }

  /** For the status: the channels we are in, how many are configured, and each problem. */
  summary(): { joined: string[]; total: number; problems: string[] } {
    const all = [...this.map.values()];
    return {
      joined: all.filter((c) => c.joined).map((c) => c.name),
      total: all.length,
      problems: all
        .map((c) => (!c.joined && c.problem ? c.problem : c.joined && c.refused ? c.refused : undefined))
        .filter((p) => p !== undefined),
    };
  }
}
