/**
 * One IRC account: the connection (irc-framework) and what lives on it. See
 * plugins/irc/README.md, "Code layout".
 *
 * - Here: connect and reconnect forever (the plugin API's Backoff, from
 *   reconnect.first to reconnect.max; irc-framework's own reconnect gives up),
 *   SASL and NickServ, an alternate nick when the configured one is in use (a
 *   GHOST through NickServ when credentials are configured, a reclaim later),
 *   the status, and our own channels: joining those the bridges name (after
 *   each connect, a kick, a refusal, a reload), leaving the rest. Client
 *   options: options.ts; the transport: transport.ts.
 * - Each channel's state is a Channel (channel.ts): the handlers here call
 *   `chan.joinedNow()`, `chan.kicked(…)`, `chan.joinRefused(…)`; presence.ts
 *   calls `chan.addMember(…)`, `chan.removeMember(…)` for everyone else.
 * - In: PRIVMSG, ACTION and (by config) NOTICE become posts (incoming.ts;
 *   events.ts translates them); others' joins, parts, quits, kicks and nick
 *   changes become events (presence.ts); the loop guard: relay.ts.
 * - Out: deliver.ts (a post's lines, render.ts; flood control, bucket.ts;
 *   confirmed by the server, confirm.ts).
 */
import { createRequire } from 'node:module';
import type { Client } from 'irc-framework';
import {
  Backoff,
  formatAddress,
  reloadPlan,
  type PluginContext,
  type Post,
  type DeliveryTarget,
  type FirstTarget,
  type Outcome,
  type TargetKey,
} from '../../src/plugin.js';
import { TokenBucket } from './bucket.js';
import { Channel, JOIN_REFUSALS } from './channel.js';
import { Confirmer, DEFER_MAX, type ServerMessage } from './confirm.js';
import { Outgoing } from './deliver.js';
import { Incoming } from './incoming.js';
import { clientOptions, portOf, readTlsFiles, type TlsFiles } from './options.js';
import { Presence } from './presence.js';
import { RelayMsg } from './relaymsg.js';
import { History } from './replay.js';
import { secs } from './text.js';
import { caseFold } from './casemap.js';
import { CONNECTION_KEYS, type IrcConfig } from './schema.js';

/**
 * irc-framework's Client, from its own module rather than the package's index: the index also loads the library's
 * transport (and with it a SOCKS client and iconv-lite), which peerpost replaces (transport.ts).
 */
const IrcClient = createRequire(import.meta.url)('irc-framework/src/client.js') as typeof Client;

/** How long a connection may take from the TCP connect to the server's welcome (001). */
const REGISTRATION_TIMEOUT = 60_000;

/** After asking NickServ to GHOST the configured nick, take it after this long. */
const GHOST_WAIT = 1_500;

/** A JOIN with no answer for this long no longer stops the next try. */
const JOIN_WAIT = 30_000;

export class IrcAccount {
  /** The account block (replaced by a reload that needs no restart). */
  private config: IrcConfig;
  /** The current connection (a new one at every connect); events of an older one are ignored. */
  private conn: Client | undefined;
  /** The current connection got its welcome (001). */
  private welcomed = false;
  /** stop() was called. */
  private halting = false;
  /** Why the last connection failed or closed, shown in the status. */
  private failure: string | undefined;
  /** Our user@host as the server shows it to others, learned from our own JOIN. */
  private selfMask: { user?: string; host?: string } = {};
  /** Flood control: one bucket for every line of the connection (posts, PINGs, WHO). */
  readonly bucket: TokenBucket;
  /** Who else is in our channels, and what they do there (presence.ts). */
  readonly presence: Presence;
  /** IRC → bridge: lines become posts (incoming.ts). */
  readonly incoming: Incoming;
  /** draft/relaymsg: our relayed nicks, what the server refused (relaymsg.ts). */
  readonly relaymsg: RelayMsg;
  /** What was said while we were away: asked for after every join, replayed before live lines (replay.ts). */
  readonly history: History;
  /** Our channels, by case-folded name (targetKey): every channel a bridge names for this account. */
  private readonly channels = new Map<string, Channel>();
  /** Confirms that the server took the lines of a post (a PING after them, or their echo), per connection. */
  private confirmer: Confirmer | undefined;
  /** Bridge → IRC (deliver.ts). */
  private readonly out: Outgoing;
  /** Failures in a row since the last welcome (001); the wait before the next connect. */
  private readonly reconnect = new Backoff(() => ({
    firstMs: this.config.reconnect.first,
    maxMs: this.config.reconnect.max,
  }));
  /** Connects since the last welcome, for the status ("attempt 3"). */
  private attempt = 0;
  /** The server said we are banned (465): shown as state "banned" while we keep trying, slowly. */
  private banned = false;
  /** Why SASL failed on this connection, shown in the status. */
  private saslProblem: string | undefined;
  /** The services account SASL logged this connection in to (900), if any. */
  private saslAccount: string | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private triedNicks: string[] = [];
  private closed: Promise<void> | undefined;

  constructor(readonly ctx: PluginContext<IrcConfig>) {
    this.config = ctx.config;
    this.bucket = new TokenBucket(this.config.flood.burst, this.config.flood.interval);
    this.presence = new Presence(this);
    this.incoming = new Incoming(this);
    this.relaymsg = new RelayMsg(this);
    this.history = new History(this);
    this.out = new Outgoing(this);
  }

  /** The account block. */
  get cfg(): IrcConfig {
    return this.config;
  }

  /** The current connection, if any (registered or not). */
  get client(): Client | undefined {
    return this.conn;
  }

  /** The current connection got its welcome (001). */
  get registered(): boolean {
    return this.welcomed;
  }

  /** The account is stopping. */
  get stopping(): boolean {
    return this.halting;
  }

  /** Why the last connection failed or closed. */
  get lastError(): string | undefined {
    return this.failure;
  }

  /** Our user@host as others see it, once learned (for the line length). */
  get self(): { readonly user?: string; readonly host?: string } {
    return this.selfMask;
  }

  /** "host:port (TLS)", for messages. */
  get where(): string {
    return `${formatAddress(this.config.host, portOf(this.config))}${this.config.tls ? ' (TLS)' : ''}`;
  }

  /** Which spellings of a channel name one channel: the server's CASEMAPPING (and UTF8MAPPING) once it told it, else rfc1459. */
  get targetKey(): TargetKey {
    const network = this.conn?.network;
    return caseFold(network?.supports('CASEMAPPING'), network?.supports('UTF8MAPPING'));
  }

  /** The case-folded form of a channel name or nick. */
  key(target: string): string {
    return this.targetKey(target);
  }

  /** One of our channels, by any spelling of its name. */
  channel(target: string): Channel | undefined {
    return this.channels.get(this.key(target));
  }

  /** Every channel of ours. */
  allChannels(): IterableIterator<Channel> {
    return this.channels.values();
  }

  /** The connection, when it is registered and connected. */
  live(): { client: Client; confirmer: Confirmer } | undefined {
    const { client, confirmer } = this;
    return client && confirmer && this.welcomed && client.connected ? { client, confirmer } : undefined;
  }

  /** This client is still the account's, registered and connected. */
  isLive(client: Client): boolean {
    return this.conn === client && this.welcomed && client.connected;
  }

  /** Run `fn` after `ms`, unless the account stops first. */
  later(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  /** Write one line; true once the socket took it. */
  write(client: Client, line: string): Promise<boolean> {
    return new Promise((resolve) => {
      if (!client.connection.connected) return resolve(false);
      const r = client.connection.write(line, (err) => resolve(!err));
      if (r === false) resolve(false);
    });
  }

  // ── connection ────────────────────────────────────────────────────────────

  /** The bridges changed on a reload: join the new channels and leave the dropped ones now. */
  endpointsChanged(): void {
    if (this.halting) return;
    this.syncChannels();
    this.reportState();
  }

  start(): void {
    const every = this.later.bind(this);
    // The fallback: endpointsChanged() joins and leaves at once after a reload, the refusal and kick timers rejoin;
    // this catches what those miss (a JOIN the server never answered, a reload by a core without the hook).
    const sync = () => {
      if (this.halting) return;
      this.syncChannels();
      every(sync, 5_000);
    };
    every(sync, 5_000);
    const reclaim = () => {
      if (this.halting) return;
      if (this.welcomed && this.conn && !this.conn.caseCompare(this.conn.user.nick, this.config.nick)) {
        this.ctx.log.debug({ nick: this.config.nick }, 'trying to reclaim the configured nick');
        this.conn.changeNick(this.config.nick);
      }
      every(reclaim, this.config.reclaimNick);
    };
    every(reclaim, this.config.reclaimNick);
    this.connect();
  }

  private connect(): void {
    if (this.halting) return;
    this.attempt += 1;
    this.welcomed = false;
    this.failure = undefined;
    this.saslProblem = undefined;
    this.saslAccount = undefined;
    this.triedNicks = [this.config.nick];
    this.presence.clear();
    for (const chan of this.channels.values()) chan.disconnected();
    // The CA and client certificate files are read at every connect (a renewed certificate is picked up).
    let files: TlsFiles;
    try {
      files = readTlsFiles(this.config);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.failure = `cannot read ${e.path ?? 'a TLS file'}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message}`;
      const wait = this.reconnect.fail();
      this.ctx.log.error(`${this.failure}; trying again in ${secs(wait)}`);
      this.ctx.setState('retrying', `${this.failure}; trying again in ${secs(wait)} (attempt ${this.attempt + 1})`);
      this.reconnectTimer = this.later(() => this.connect(), wait);
      return;
    }
    const client = new IrcClient();
    this.conn = client;
    this.relaymsg.connecting(client);
    this.confirmer?.close('the connection was replaced');
    this.confirmer = new Confirmer({
      take: () => this.bucket.take(this.ctx.signal),
      write: (line) => this.write(client, line),
      key: (channel) => this.key(channel),
      echo: () => client.network.cap.isEnabled('echo-message'),
      self: (nick) => client.caseCompare(nick, client.user.nick),
      relayedBySelf: (nick) => this.relaymsg.isOurs(client, nick),
      // A PING waits for the other posts being written at most this long: well inside delivery.timeout.
      deferMs: () => Math.min(DEFER_MAX, this.ctx.deliveryTimeoutMs() / 4),
      scarce: () => this.bucket.estimate() > 0,
    });
    this.wire(client);
    this.ctx.setState(
      'connecting',
      `connecting to ${this.where} as ${this.config.nick}${this.attempt > 1 ? ` (attempt ${this.attempt})` : ''}`,
    );
    // A server that takes the connection but never welcomes us (or a black hole) must not hang us.
    this.later(() => {
      if (this.conn !== client || this.welcomed || this.halting) return;
      this.failure = `no welcome from the server within ${secs(REGISTRATION_TIMEOUT)}`;
      client.connection.end(undefined, true);
    }, REGISTRATION_TIMEOUT);
    client.connect(clientOptions(this.config, files, `peerpost ${this.ctx.node.version}`, this.ctx.node.hostname));
  }

  /** irc-framework's events on this connection; an event of an older connection is ignored. */
  private wire(client: Client): void {
    const mine = () => this.conn === client;
    this.wireErrors(client, mine);
    this.wireRegistration(client, mine);
    this.wireOwnChannels(client, mine);
    this.presence.wire(client, mine);
    this.incoming.wire(client, mine);
    this.relaymsg.wire(client, mine);
    this.history.wire(client, mine);
    this.wireConfirmations(client, mine);
  }

  /** Socket errors, the server's error replies (refused JOINs, ERROR, 464, 465), SASL failures. */
  private wireErrors(client: Client, mine: () => boolean): void {
    const log = this.ctx.log;
    // irc-framework hands the socket's error (refused, TLS verification, reset …) to 'socket close'.
    client.on('socket close', (err?: Error | false) => {
      if (!mine() || !err) return;
      this.failure = err.message ?? String(err);
      log.warn({ err: this.failure }, `IRC connection error (${this.where})`);
    });
    client.on('irc error', (ev: { error: string; channel?: string; reason?: string }) => {
      if (!mine()) return;
      // A channel's refusal of our JOIN or of a line (the confirmer reads the latter).
      if (ev.channel && this.channelErrorReply(ev.error, ev.channel, ev.reason)) return;
      if (ev.error === 'irc' || ev.error === 'password_mismatch' || ev.error === 'banned_from_network') {
        // ERROR (the server closes the link), 464 (bad server password), 465 (banned from the server).
        const what =
          ev.error === 'password_mismatch'
            ? 'the server refused the password'
            : ev.error === 'banned_from_network'
              ? 'banned from the server'
              : 'the server closed the link';
        this.failure = `${what}${ev.reason ? `: ${ev.reason}` : ''}`;
        this.banned = ev.error === 'banned_from_network';
        log.warn(this.failure);
      } else {
        log.debug({ ev }, 'IRC error reply');
      }
    });
    client.on('loggedin', (ev: { account: string }) => {
      if (mine()) this.saslAccount = ev.account;
    });
    client.on('sasl failed', (ev: { reason: string; message?: string }) => {
      if (!mine()) return;
      this.saslProblem = `SASL failed: ${ev.reason.replace(/_/g, ' ')}${ev.message ? ` (${ev.message})` : ''}`;
      log.error(`${this.saslProblem}; going on without an account`);
    });
  }

  /** Registration: a refused nick, the welcome (IDENTIFY, GHOST, joins). */
  private wireRegistration(client: Client, mine: () => boolean): void {
    const log = this.ctx.log;
    const nickRefused = (ev: { nick: string; reason: string }) => {
      if (!mine() || this.welcomed) return;
      const next = this.nextNick();
      log.warn({ refused: ev.nick, next }, `nick ${ev.nick} refused (${ev.reason}); trying ${next}`);
      client.changeNick(next);
      client.user.nick = next;
    };
    client.on('nick in use', nickRefused);
    client.on('nick invalid', nickRefused);
    // Once the server told what it has (ISUPPORT, after the welcome), once per connection:
    // - IRCv3 bot mode (BOT=B: Ergo, InspIRCd's botmode, UnrealIRCd): the bot marks itself as a bot (WHOIS, WHO's
    //   flags, the `bot` tag on its lines), as networks ask of bots;
    // - MONITOR (Ergo, InspIRCd, Solanum, UnrealIRCd), while on another nick: the server says when the configured
    //   nick is free (731), and the bot takes it then rather than at the next reclaimNick.
    let botMode = false;
    let monitoring = false;
    client.on('server options', () => {
      if (!mine()) return;
      const mode = client.network.supports('BOT');
      if (!botMode && typeof mode === 'string' && /^[A-Za-z]$/.test(mode)) {
        botMode = true;
        log.info({ mode }, `marking ourselves a bot (+${mode})`);
        void this.write(client, `MODE ${client.user.nick} +${mode}`);
      }
      if (
        !monitoring &&
        client.network.supports('MONITOR') &&
        !client.caseCompare(client.user.nick, this.config.nick)
      ) {
        monitoring = true;
        void this.write(client, `MONITOR + ${this.config.nick}`);
      }
    });
    client.on('users offline', (ev: { nicks: string[] }) => {
      if (!mine() || !this.welcomed || client.caseCompare(client.user.nick, this.config.nick)) return;
      if (!ev.nicks.some((n) => client.caseCompare(n, this.config.nick))) return;
      log.info({ nick: this.config.nick }, `${this.config.nick} is free (MONITOR): taking it`);
      client.changeNick(this.config.nick);
    });
    client.on('registered', () => {
      if (!mine()) return;
      this.welcomed = true;
      this.banned = false;
      this.reconnect.succeed();
      this.attempt = 0;
      this.failure = undefined;
      this.selfMask = {};
      log.info({ nick: client.user.nick }, `connected to ${this.where} as ${client.user.nick}`);
      // NickServ IDENTIFY: the fallback when SASL is not configured or failed.
      const ns = this.config.nickserv;
      if (ns && (!this.config.sasl || this.saslProblem)) {
        log.info({ service: ns.service }, `identifying to ${ns.service}`);
        void this.write(client, `PRIVMSG ${ns.service} :IDENTIFY ${ns.account ?? this.config.nick} ${ns.password}`);
      }
      // The configured nick is taken (a ghost of ours after a reconnect, or someone else): ask NickServ to disconnect
      // the holder (GHOST, which Atheme, Anope and Ergo know), then take the nick; the reclaim loop keeps trying when
      // the service says no. With `nickserv` the password proves the account; logged in by SASL, being logged in to
      // the account that owns the nick is proof enough (GHOST without a password: all three take it).
      const ghost = ns ?? (this.saslAccount !== undefined ? { service: 'NickServ', password: undefined } : undefined);
      if (ghost && !client.caseCompare(client.user.nick, this.config.nick)) {
        log.info(
          { service: ghost.service, nick: this.config.nick },
          `${this.config.nick} is taken: asking ${ghost.service} to GHOST it`,
        );
        const proof = ghost.password !== undefined ? ` ${ghost.password}` : '';
        void this.write(client, `PRIVMSG ${ghost.service} :GHOST ${this.config.nick}${proof}`);
        this.later(() => {
          if (this.conn === client && this.welcomed && !client.caseCompare(client.user.nick, this.config.nick))
            client.changeNick(this.config.nick);
        }, GHOST_WAIT);
      }
      this.reportState();
      this.syncChannels();
    });
    client.on('nick', (ev: { nick: string; new_nick: string }) => {
      // Our own change: irc-framework updates user.nick after this listener (or before, by its version).
      if (
        mine() &&
        (client.caseCompare(ev.nick, client.user.nick) || client.caseCompare(ev.new_nick, client.user.nick))
      ) {
        log.info({ from: ev.nick, to: ev.new_nick }, `now known as ${ev.new_nick}`);
        this.later(() => this.reportState(), 0);
      }
    });
  }

  /** Our own joins, kicks and parts: the state of each Channel. Everyone else's: presence.ts. */
  private wireOwnChannels(client: Client, mine: () => boolean): void {
    const log = this.ctx.log;
    const me = (nick: string) => client.caseCompare(nick, client.user.nick);
    client.on('join', (ev: { nick: string; ident: string; hostname: string; channel: string }) => {
      if (!mine() || !me(ev.nick)) return;
      if (ev.ident) this.selfMask.user = ev.ident;
      if (ev.hostname) this.selfMask.host = ev.hostname;
      const chan = this.channel(ev.channel);
      if (!chan) {
        log.info({ channel: ev.channel }, `joined ${ev.channel}, which no bridge names; leaving`);
        client.part(ev.channel, 'not bridged here');
        return;
      }
      chan.joinedNow();
      // Who here is another relay? (the real name of every member)
      this.presence.weJoined(client, chan);
      log.info({ channel: chan.name, self: `${ev.nick}!${ev.ident}@${ev.hostname}` }, `joined ${chan.name}`);
      this.reportState();
      // Whatever waited for this channel goes out now, in order.
      this.ctx.resume(chan.name);
    });
    client.on('kick', (ev: { kicked: string; nick: string; channel: string; message: string }) => {
      if (!mine() || !me(ev.kicked)) return;
      const chan = this.channel(ev.channel);
      if (chan)
        this.left(chan, chan.kicked(ev.nick, ev.message, this.config.rejoinAfterKick), this.config.rejoinAfterKick);
    });
    client.on('part', (ev: { nick: string; channel: string }) => {
      if (!mine() || !me(ev.nick)) return;
      const chan = this.channel(ev.channel);
      if (chan) this.left(chan, chan.parted(), 0);
    });
  }

  /** Out of a channel (kicked, parted): say why, and join again after `rejoinMs`. */
  private left(chan: Channel, why: string, rejoinMs: number): void {
    this.ctx.log.warn({ channel: chan.name }, why);
    this.reportState();
    this.later(() => this.syncChannels(), rejoinMs + 10);
  }

  /**
   * An error reply about a channel. A refused JOIN (474 ban, 473, 475, 471, 405, 403) is the channel's problem
   * until rejoinAfterFail has passed; a refused line (404) is the confirmer's business. False when the reply is
   * not a channel's refusal (the caller reads it).
   */
  private channelErrorReply(error: string, channel: string, reason?: string): boolean {
    if (!JOIN_REFUSALS.has(error) && error !== 'cannot_send_to_channel') return false;
    const chan = this.channel(channel);
    if (!chan) return true;
    if (!JOIN_REFUSALS.has(error)) {
      // The delivery that sent the line learns it from the confirmer and says so (retried, shown in the status).
      this.ctx.log.debug({ channel: chan.name, reason }, `the server refused a line in ${chan.name}`);
      return true;
    }
    const wait = this.config.rejoinAfterFail;
    this.ctx.log.warn({ channel: chan.name }, chan.joinRefused(error, reason, wait));
    this.reportState();
    this.later(() => this.syncChannels(), wait + 10);
    return true;
  }

  /** Join every configured channel we are not in (after a connect, a kick, a config change); leave those no longer named. */
  syncChannels(): void {
    const { client, registered } = this;
    const want = new Map<string, { name: string; key?: string }>();
    for (const e of this.ctx.endpoints()) {
      const k = this.key(e.target);
      if (!want.has(k))
        want.set(k, { name: e.target, ...(typeof e.options.key === 'string' ? { key: e.options.key } : {}) });
    }
    for (const [k, chan] of this.channels) {
      if (!want.has(k)) {
        this.channels.delete(k);
        if (chan.joined && registered) client?.part(chan.name, 'no longer bridged');
      }
    }
    for (const [k, w] of want) {
      let chan = this.channels.get(k);
      if (!chan) {
        chan = new Channel(w.name, this.config.relays.remember);
        this.channels.set(k, chan);
      }
      if (!registered || !client || !chan.wantsJoin) continue;
      chan.joinSent();
      this.ctx.log.debug({ channel: chan.name }, `joining ${chan.name}`);
      if (w.key !== undefined) client.join(chan.name, w.key);
      else client.join(chan.name);
      // An answer that never comes (a server that ignores us) must not stop later tries.
      const tried = chan;
      this.later(() => tried.joinUnanswered(), JOIN_WAIT);
    }
  }

  /** What confirms or refuses our lines (confirm.ts), a mode change that may lift a refusal, and the end of the connection. */
  private wireConfirmations(client: Client, mine: () => boolean): void {
    const log = this.ctx.log;
    // Every line from the server, parsed: PONGs to our PINGs and the numerics that refuse a line (the confirmer).
    const confirmer = this.confirmer!;
    client.connection.on('message', (m: ServerMessage) => {
      if (mine()) confirmer.onMessage(m);
    });
    // A mode change in a channel that refused our lines (-m, -b, +v): try its waiting posts now.
    client.on('mode', (ev: { target: string }) => {
      if (!mine()) return;
      const chan = this.channel(ev.target);
      if (chan?.refused !== undefined) this.ctx.resume(chan.name);
    });
    client.on('close', () => {
      if (!mine()) return;
      this.presence.flush();
      confirmer.close(`disconnected from ${this.where} before the server confirmed the lines`);
      this.welcomed = false;
      for (const chan of this.channels.values()) chan.disconnected();
      if (this.halting) return;
      const wait = this.reconnect.fail();
      const why = this.failure ?? 'the server closed the connection';
      log.warn(
        { wait, attempt: this.attempt },
        `disconnected from ${this.where}: ${why}; reconnecting in ${secs(wait)}`,
      );
      this.ctx.setState(
        this.banned ? 'banned' : 'retrying',
        `disconnected from ${this.where}: ${why}; reconnecting in ${secs(wait)} (attempt ${this.attempt + 1})`,
      );
      this.reconnectTimer = this.later(() => this.connect(), wait);
    });
  }

  private nextNick(): string {
    const tried = new Set(this.triedNicks.map((n) => n.toLowerCase()));
    const candidates = [
      ...this.config.altNicks,
      `${this.config.nick}_`,
      `${this.config.nick}__`,
      `${this.config.nick}-`,
    ];
    let next = candidates.find((n) => !tried.has(n.toLowerCase()));
    if (!next) next = `${this.config.nick.slice(0, 12)}${Math.floor(Math.random() * 10_000)}`;
    this.triedNicks.push(next);
    return next;
  }

  /** The status (`peerpost status`): the nick, the server, the channels we are in and each channel's trouble. */
  reportState(): void {
    if (!this.welcomed || !this.conn) return;
    const all = [...this.channels.values()];
    const joined = all.filter((c) => c.joined).map((c) => c.name);
    const problems = [...all.map((c) => c.trouble).filter((p) => p !== undefined), ...this.history.notes()];
    const relaymsg = this.relaymsg.status(this.conn);
    if (relaymsg !== undefined) problems.push(relaymsg);
    const nickNote = this.conn.caseCompare(this.conn.user.nick, this.config.nick)
      ? ''
      : ` (${this.config.nick} is taken)`;
    this.ctx.setState(
      'connected',
      `as ${this.conn.user.nick}${nickNote} on ${this.where}; in ${joined.length}/${all.length} channels${joined.length ? ` (${joined.join(', ')})` : ''}${problems.length ? `; ${problems.join('; ')}` : ''}${this.saslProblem ? `; ${this.saslProblem}` : ''}`,
    );
  }

  // ── out ───────────────────────────────────────────────────────────────────

  /** Bridge → IRC: a post's lines, confirmed by the server (deliver.ts). */
  deliver(post: Post, to: DeliveryTarget): Promise<Outcome> {
    return this.out.deliver(post, to);
  }

  /** A post said before its commit, when it can be at once (deliver.ts, sayFirst). */
  sayFirst(post: Post, to: FirstTarget): boolean {
    return this.out.sayFirst(post, to);
  }

  /** Posts of one channel in flight at once (flood.window): written, waiting for their confirmation. */
  get window(): number {
    return this.config.flood.window;
  }

  // ── reload, stop ──────────────────────────────────────────────────────────

  reload(next: IrcConfig): 'applied' | 'restart' {
    if (reloadPlan(this.config, next, { restartOn: CONNECTION_KEYS }) === 'restart') return 'restart';
    this.config = next;
    this.bucket.configure(next.flood.burst, next.flood.interval);
    for (const chan of this.channels.values()) chan.setRemember(next.relays.remember);
    return 'applied';
  }

  stop(): Promise<void> {
    if (this.closed) return this.closed;
    this.halting = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.bucket.close();
    this.presence.stop();
    this.confirmer?.close('the account is stopping');
    const client = this.conn;
    this.closed = new Promise<void>((resolve) => {
      if (!client || !client.connected) {
        client?.connection.end();
        return resolve();
      }
      const t = setTimeout(() => {
        client.connection.end();
        resolve();
      }, 2_000);
      client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      client.quit('peerpost stopping');
    });
    this.ctx.setState('stopped');
    return this.closed;
  }
}
