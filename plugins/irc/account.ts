/**
 * The irc plugin: one IRC connection per account (irc-framework), joined to the
 * channels the bridges name, relaying both ways. See plugins/irc/README.md.
 *
 * - Connection (here): reconnects forever (the plugin API's Backoff, from
 *   reconnect.first to reconnect.max; irc-framework's own reconnect gives up),
 *   rejoins every channel after each connect, takes an alternate nick when
 *   the configured one is in use, GHOSTs it through NickServ when credentials
 *   are configured, and reclaims it later. Client options:
 *   options.ts; the transport: transport.ts; our own channels (joins, rejoins
 *   after a kick or a refusal, leaving what no bridge names): channels.ts.
 * - In (here, events.ts, relay.ts): PRIVMSG, ACTION and (by config) NOTICE in a
 *   configured channel become posts, formatting stripped, dated by server-time;
 *   joins, parts, quits (a netsplit folded), kicks and nick changes become events
 *   by config; who else is where: presence.ts, people.ts; the loop guard: relay.ts.
 * - Out (deliver.ts, render.ts, confirm.ts): each post becomes lines that fit
 *   the server's 512 bytes, sent through a token bucket (bucket.ts) and counted
 *   as delivered only once the server confirmed them (their echo, or a PING
 *   after them); a refused line keeps the post pending with the server's reason.
 */
import irc, { type Client } from 'irc-framework';
import {
  Backoff,
  definePlugin,
  formatAddress,
  reloadPlan,
  type PluginContext,
  type Post,
  type DeliveryTarget,
  type Outcome,
  type IncomingPost,
  type TargetKey,
} from '../../src/plugin.js';
import { TokenBucket } from './bucket.js';
import { Confirmer, DEFER_MAX, type ServerMessage } from './confirm.js';
import { clientOptions, portOf, readTlsFiles, type TlsFiles } from './options.js';
import { translate, type MessageEvent, type MessageType } from './events.js';
import { Progress } from './progress.js';
import { Outgoing } from './deliver.js';
import { OwnChannels } from './channel.js';
import { Presence } from './presence.js';
import { ID_TAG, RelayMemory } from './relay.js';
import { secs } from './text.js';
import { CASE_FOLDS, caseFold } from './casemap.js';
import { channelProblem, accountSchema, endpointSchema, CONNECTION_KEYS, type IrcConfig } from './schema.js';
export { accountSchema, endpointSchema, channelProblem, type IrcConfig } from './schema.js';
export { escapeTag } from './render.js';

/** How long a connection may take from the TCP connect to the server's welcome (001). */
const REGISTRATION_TIMEOUT = 60_000;

/** After asking NickServ to GHOST the configured nick, take it after this long. */
const GHOST_WAIT = 1_500;

class IrcAccount {
  private cfg: IrcConfig;
  private client: Client | undefined;
  /** Confirms that the server took the lines of a post (a PING after them), per connection. */
  private confirmer: Confirmer | undefined;
  private readonly bucket: TokenBucket;
  private registered = false;
  private stopping = false;
  /** Failures in a row since the last welcome (001); the wait before the next connect. */
  private readonly reconnect = new Backoff(() => ({
    firstMs: this.cfg.reconnect.first,
    maxMs: this.cfg.reconnect.max,
  }));
  /** Connects since the last welcome, for the status ("attempt 3"). */
  private attempt = 0;
  private lastError: string | undefined;
  /** The server said we are banned (465): shown as state "banned" while we keep trying, slowly. */
  private banned = false;
  /** Why SASL failed on this connection, shown in the status. */
  private saslProblem: string | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private triedNicks: string[] = [];
  /** Our user@host as the server shows it to others, learned from our own JOIN. */
  private self: { user?: string; host?: string } = {};
  private readonly channels: OwnChannels;
  private closed: Promise<void> | undefined;
  /** Who else is in our channels: joins, parts, quits, netsplits, accounts, other relays (presence.ts). */
  private readonly presence: Presence;
  /** What each channel already shows (the loop guard). */
  private readonly memory: RelayMemory;
  /** Lines of each row confirmed on an earlier try. */
  private readonly progress: Progress;

  constructor(private readonly ctx: PluginContext<IrcConfig>) {
    this.cfg = ctx.config;
    this.bucket = new TokenBucket(this.cfg.flood.burst, this.cfg.flood.interval);
    this.memory = new RelayMemory(this.cfg.relays.remember);
    this.progress = new Progress(ctx.store);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const account = this;
    this.channels = new OwnChannels({
      ctx,
      cfg: () => account.cfg,
      client: () => account.client,
      registered: () => account.registered,
      key: (target) => account.key(target),
      later: (fn, ms) => void account.later(fn, ms),
      reportState: () => account.reportState(),
    });
    this.out = new Outgoing({
      ctx,
      bucket: this.bucket,
      memory: this.memory,
      progress: this.progress,
      cfg: () => account.cfg,
      where: () => account.where,
      lastError: () => account.lastError,
      stopping: () => account.stopping,
      live: () => {
        const { client, confirmer } = account;
        return client && confirmer && account.registered && client.connected ? { client, confirmer } : undefined;
      },
      isLive: (client) => account.client === client && account.registered && client.connected,
      self: () => account.self,
      channel: (target) => account.channels.get(account.key(target)),
      key: (target) => account.key(target),
      syncChannels: () => account.channels.sync(),
      reportState: () => account.reportState(),
      later: (fn, ms) => void account.later(fn, ms),
      write: (client, line) => account.write(client, line),
    });
    this.presence = new Presence({
      ctx,
      cfg: () => account.cfg,
      client: () => account.client,
      registered: () => account.registered,
      key: (target) => account.key(target),
      channel: (ck) => account.channels.get(ck),
      later: (fn, ms) => account.later(fn, ms),
      take: () => account.bucket.take(ctx.signal),
      write: (client, line) => account.write(client, line),
      ingest: (post) => void account.ingest(post),
    });
  }

  private get where(): string {
    return `${formatAddress(this.cfg.host, portOf(this.cfg))}${this.cfg.tls ? ' (TLS)' : ''}`;
  }

  /** Which spellings of a channel name one channel: the server's CASEMAPPING once it told it, else rfc1459. */
  get targetKey(): TargetKey {
    return caseFold(this.client?.network.supports('CASEMAPPING'));
  }

  private key(target: string): string {
    return this.targetKey(target);
  }

  private later(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  // ── connection ────────────────────────────────────────────────────────────

  /** The bridges changed on a reload: join the new channels and leave the dropped ones now. */
  endpointsChanged(): void {
    if (this.stopping) return;
    this.channels.sync();
    this.reportState();
  }

  start(): void {
    const every = this.later.bind(this);
    // The fallback: endpointsChanged() joins and leaves at once after a reload, the refusal and kick timers rejoin;
    // this catches what those miss (a JOIN the server never answered, a reload by a core without the hook).
    const sync = () => {
      if (this.stopping) return;
      this.channels.sync();
      every(sync, 5_000);
    };
    every(sync, 5_000);
    const reclaim = () => {
      if (this.stopping) return;
      if (this.registered && this.client && !this.client.caseCompare(this.client.user.nick, this.cfg.nick)) {
        this.ctx.log.debug({ nick: this.cfg.nick }, 'trying to reclaim the configured nick');
        this.client.changeNick(this.cfg.nick);
      }
      every(reclaim, this.cfg.reclaimNick);
    };
    every(reclaim, this.cfg.reclaimNick);
    this.connect();
  }

  private connect(): void {
    if (this.stopping) return;
    this.attempt += 1;
    this.registered = false;
    this.lastError = undefined;
    this.saslProblem = undefined;
    this.triedNicks = [this.cfg.nick];
    this.presence.clear();
    this.channels.reset();
    // The CA and client certificate files are read at every connect (a renewed certificate is picked up).
    let files: TlsFiles;
    try {
      files = readTlsFiles(this.cfg);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.lastError = `cannot read ${e.path ?? 'a TLS file'}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message}`;
      const wait = this.reconnect.fail();
      this.ctx.log.error(`${this.lastError}; trying again in ${secs(wait)}`);
      this.ctx.setState('retrying', `${this.lastError}; trying again in ${secs(wait)} (attempt ${this.attempt + 1})`);
      this.reconnectTimer = this.later(() => this.connect(), wait);
      return;
    }
    const client = new irc.Client();
    this.client = client;
    this.confirmer?.close('the connection was replaced');
    this.confirmer = new Confirmer({
      take: () => this.bucket.take(this.ctx.signal),
      write: (line) => this.write(client, line),
      key: (channel) => this.key(channel),
      echo: () => client.network.cap.isEnabled('echo-message'),
      self: (nick) => client.caseCompare(nick, client.user.nick),
      // A PING waits for the other posts being written at most this long: well inside delivery.timeout.
      deferMs: () => Math.min(DEFER_MAX, this.ctx.deliveryTimeoutMs() / 4),
      scarce: () => this.bucket.estimate() > 0,
    });
    this.wire(client);
    this.ctx.setState(
      'connecting',
      `connecting to ${this.where} as ${this.cfg.nick}${this.attempt > 1 ? ` (attempt ${this.attempt})` : ''}`,
    );
    // A server that takes the connection but never welcomes us (or a black hole) must not hang us.
    this.later(() => {
      if (this.client !== client || this.registered || this.stopping) return;
      this.lastError = `no welcome from the server within ${secs(REGISTRATION_TIMEOUT)}`;
      client.connection.end(undefined, true);
    }, REGISTRATION_TIMEOUT);
    client.connect(clientOptions(this.cfg, files, `peerpost ${this.ctx.node.version}`, this.ctx.node.hostname));
  }

  /** irc-framework's events on this connection; an event of an older connection is ignored. */
  private wire(client: Client): void {
    this.wireErrors(client);
    this.wireRegistration(client);
    this.wireChannels(client);
    this.wireMessages(client);
    this.wireConfirmations(client);
  }

  /** Socket errors, the server's error replies (refused JOINs, ERROR, 464, 465), SASL failures. */
  private wireErrors(client: Client): void {
    const log = this.ctx.log;
    const mine = () => this.client === client;
    // irc-framework hands the socket's error (refused, TLS verification, reset …) to 'socket close'.
    client.on('socket close', (err?: Error | false) => {
      if (!mine() || !err) return;
      this.lastError = err.message ?? String(err);
      log.warn({ err: this.lastError }, `IRC connection error (${this.where})`);
    });
    client.on('irc error', (ev: { error: string; channel?: string; reason?: string }) => {
      if (!mine()) return;
      // A channel's refusal of our JOIN or of a line: channels.ts (and the confirmer).
      if (ev.channel && this.channels.errorReply(ev.error, ev.channel, ev.reason)) return;
      if (ev.error === 'irc' || ev.error === 'password_mismatch' || ev.error === 'banned_from_network') {
        // ERROR (the server closes the link), 464 (bad server password), 465 (banned from the server).
        const what =
          ev.error === 'password_mismatch'
            ? 'the server refused the password'
            : ev.error === 'banned_from_network'
              ? 'banned from the server'
              : 'the server closed the link';
        this.lastError = `${what}${ev.reason ? `: ${ev.reason}` : ''}`;
        this.banned = ev.error === 'banned_from_network';
        log.warn(this.lastError);
      } else {
        log.debug({ ev }, 'IRC error reply');
      }
    });
    client.on('sasl failed', (ev: { reason: string; message?: string }) => {
      if (!mine()) return;
      this.saslProblem = `SASL failed: ${ev.reason.replace(/_/g, ' ')}${ev.message ? ` (${ev.message})` : ''}`;
      log.error(`${this.saslProblem}; going on without an account`);
    });
  }

  /** Registration: a refused nick, the welcome (IDENTIFY, GHOST, joins). */
  private wireRegistration(client: Client): void {
    const log = this.ctx.log;
    const mine = () => this.client === client;
    const nickRefused = (ev: { nick: string; reason: string }) => {
      if (!mine() || this.registered) return;
      const next = this.nextNick();
      log.warn({ refused: ev.nick, next }, `nick ${ev.nick} refused (${ev.reason}); trying ${next}`);
      client.changeNick(next);
      client.user.nick = next;
    };
    client.on('nick in use', nickRefused);
    client.on('nick invalid', nickRefused);
    client.on('registered', () => {
      if (!mine()) return;
      this.registered = true;
      this.banned = false;
      this.reconnect.succeed();
      this.attempt = 0;
      this.lastError = undefined;
      this.self = {};
      log.info({ nick: client.user.nick }, `connected to ${this.where} as ${client.user.nick}`);
      // NickServ IDENTIFY: the fallback when SASL is not configured or failed.
      const ns = this.cfg.nickserv;
      if (ns && (!this.cfg.sasl || this.saslProblem)) {
        log.info({ service: ns.service }, `identifying to ${ns.service}`);
        void this.write(client, `PRIVMSG ${ns.service} :IDENTIFY ${ns.account ?? this.cfg.nick} ${ns.password}`);
      }
      // The configured nick is taken (a ghost of ours after a reconnect, or someone else): with services credentials,
      // ask NickServ to disconnect the holder (GHOST, which Atheme and Anope both know; the password proves the
      // account), then take the nick; the reclaim loop keeps trying when the service says no.
      if (ns && !client.caseCompare(client.user.nick, this.cfg.nick)) {
        log.info(
          { service: ns.service, nick: this.cfg.nick },
          `${this.cfg.nick} is taken: asking ${ns.service} to GHOST it`,
        );
        void this.write(client, `PRIVMSG ${ns.service} :GHOST ${this.cfg.nick} ${ns.password}`);
        this.later(() => {
          if (this.client === client && this.registered && !client.caseCompare(client.user.nick, this.cfg.nick))
            client.changeNick(this.cfg.nick);
        }, GHOST_WAIT);
      }
      this.reportState();
      this.channels.sync();
    });
  }

  /** Our own joins, kicks and parts (the channel state), and who else is there (presence.ts). */
  private wireChannels(client: Client): void {
    const log = this.ctx.log;
    const mine = () => this.client === client;
    this.presence.wire(client, mine);
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
    client.on(
      'join',
      (ev: {
        nick: string;
        ident: string;
        hostname: string;
        channel: string;
        gecos?: string;
        account?: string | false;
        time?: number;
      }) => {
        if (!mine()) return;
        // extended-join: the services account of who joins ("*", false here, when none).
        if (ev.account !== undefined) this.presence.rememberAccount(ev.nick, ev.account);
        if (!client.caseCompare(ev.nick, client.user.nick)) return this.presence.joined(ev);
        if (ev.ident) this.self.user = ev.ident;
        if (ev.hostname) this.self.host = ev.hostname;
        const c = this.channels.joined(ev.channel);
        if (!c) return;
        // Who here is another relay? (the real name of every member)
        this.presence.selfJoined(client, c);
        log.info({ channel: c.name, self: `${ev.nick}!${ev.ident}@${ev.hostname}` }, `joined ${c.name}`);
        this.reportState();
        // Whatever waited for this channel goes out now, in order.
        this.ctx.resume(c.name);
      },
    );
    client.on('kick', (ev: { kicked: string; nick: string; channel: string; message: string; time?: number }) => {
      if (!mine()) return;
      if (!client.caseCompare(ev.kicked, client.user.nick)) return this.presence.kicked(ev);
      this.channels.left(
        ev.channel,
        `kicked from ${ev.channel} by ${ev.nick}${ev.message ? ` (${ev.message})` : ''}; rejoining in ${secs(this.cfg.rejoinAfterKick)}`,
        this.cfg.rejoinAfterKick,
      );
    });
    client.on('part', (ev: { nick: string; channel: string; message?: string; time?: number }) => {
      if (!mine()) return;
      if (!client.caseCompare(ev.nick, client.user.nick)) return this.presence.parted(ev);
      this.channels.left(ev.channel, `left ${ev.channel}; rejoining`, 0);
    });
  }

  /** PRIVMSG, ACTION and NOTICE: posts. */
  private wireMessages(client: Client): void {
    const mine = () => this.client === client;
    for (const type of ['privmsg', 'action', 'notice'] as MessageType[]) {
      client.on(type, (ev: MessageEvent) => {
        if (mine()) this.incoming(type, ev);
      });
    }
  }

  /** What confirms or refuses our lines (confirm.ts), a mode change that may lift a refusal, and the end of the connection. */
  private wireConfirmations(client: Client): void {
    const log = this.ctx.log;
    const mine = () => this.client === client;
    // Every line from the server, parsed: PONGs to our PINGs and the numerics that refuse a line (the confirmer).
    const confirmer = this.confirmer!;
    client.connection.on('message', (m: ServerMessage) => {
      if (mine()) confirmer.onMessage(m);
    });
    // A mode change in a channel that refused our lines (-m, -b, +v): try its waiting posts now.
    client.on('mode', (ev: { target: string }) => {
      if (!mine()) return;
      const c = this.channels.get(this.key(ev.target));
      if (c?.refused !== undefined) this.ctx.resume(c.name);
    });
    client.on('close', () => {
      if (!mine()) return;
      this.presence.flush();
      confirmer.close(`disconnected from ${this.where} before the server confirmed the lines`);
      this.registered = false;
      this.channels.reset();
      if (this.stopping) return;
      const wait = this.reconnect.fail();
      const why = this.lastError ?? 'the server closed the connection';
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
    const candidates = [...this.cfg.altNicks, `${this.cfg.nick}_`, `${this.cfg.nick}__`, `${this.cfg.nick}-`];
    let next = candidates.find((n) => !tried.has(n.toLowerCase()));
    if (!next) next = `${this.cfg.nick.slice(0, 12)}${Math.floor(Math.random() * 10_000)}`;
    this.triedNicks.push(next);
    return next;
  }

  private reportState(): void {
    if (!this.registered || !this.client) return;
    const { joined, total, problems } = this.channels.summary();
    const nickNote = this.client.caseCompare(this.client.user.nick, this.cfg.nick)
      ? ''
      : ` (${this.cfg.nick} is taken)`;
    this.ctx.setState(
      'connected',
      `as ${this.client.user.nick}${nickNote} on ${this.where}; in ${joined.length}/${total} channels${joined.length ? ` (${joined.join(', ')})` : ''}${problems.length ? `; ${problems.join('; ')}` : ''}${this.saslProblem ? `; ${this.saslProblem}` : ''}`,
    );
  }

  // ── in ────────────────────────────────────────────────────────────────────

  private incoming(type: MessageType, ev: MessageEvent): void {
    const client = this.client!;
    const r = translate(type, ev, {
      ownNick: client.user.nick,
      sameNick: (a, b) => client.caseCompare(a, b),
      channel: (t) => this.channels.get(this.key(t))?.name,
      notices: this.cfg.notices,
      // Known only while account-notify keeps it current (else a logout would go unseen).
      accountOf: (n) => (client.network.cap.isEnabled('account-notify') ? this.presence.account(n) : undefined),
    });
    if ('skip' in r) {
      this.ctx.log.trace({ type, nick: ev.nick, target: ev.target, why: r.skip }, 'IRC line not relayed');
      return;
    }
    const tagged = ev.tags?.[ID_TAG];
    const tagId = typeof tagged === 'string' && tagged !== '' ? tagged : undefined;
    if (tagId !== undefined || this.presence.isRelay(ev.nick)) {
      // Another relay's line: this channel now shows it (the loop guard's memory); by default it is not relayed again.
      this.memory.seen(this.key(r.target), ev.nick!, ev.message, tagId);
      if (this.cfg.relays.lines === 'ignore') {
        this.ctx.log.debug(
          { nick: ev.nick, target: r.target, id: tagId },
          `a line from the relay ${ev.nick} is not relayed again (relays.lines: ignore)`,
        );
        return;
      }
      if (tagId !== undefined && this.ctx.posts.get(tagId)) {
        this.ctx.log.debug({ nick: ev.nick, id: tagId }, 'a relayed line of a post we already have');
        return;
      }
    }
    void this.ingest(r);
  }

  private async ingest(post: IncomingPost): Promise<void> {
    // IRC cannot be asked to send a line again: a temporary refusal is retried here for a while.
    for (let tries = 1; ; tries++) {
      const v = await this.ctx.ingest(post);
      if (v.status !== 'tempfail') {
        if (v.status === 'rejected')
          this.ctx.log.warn(
            { target: post.target, reason: v.reason },
            `a line from ${post.author.name} was refused: ${v.reason}`,
          );
        return;
      }
      if (tries >= 30 || this.ctx.signal.aborted) {
        this.ctx.log.error(
          { target: post.target, reason: v.reason, body: post.body },
          `a line from ${post.author.name} could not be stored: ${v.reason}`,
        );
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  // ── out ───────────────────────────────────────────────────────────────────

  /** Bridge → IRC: a post's lines, confirmed by the server (deliver.ts). */
  private readonly out: Outgoing;

  deliver(post: Post, to: DeliveryTarget): Promise<Outcome> {
    return this.out.deliver(post, to);
  }

  /** Posts of one channel in flight at once (flood.window): written, waiting for their confirmation. */
  get window(): number {
    return this.cfg.flood.window;
  }

  /** Write one line; true once the socket took it. */
  private write(client: Client, line: string): Promise<boolean> {
    return new Promise((resolve) => {
      if (!client.connection.connected) return resolve(false);
      const r = client.connection.write(line, (err) => resolve(!err));
      if (r === false) resolve(false);
    });
  }

  // ── reload, stop ──────────────────────────────────────────────────────────

  reload(next: IrcConfig): 'applied' | 'restart' {
    if (reloadPlan(this.cfg, next, { restartOn: CONNECTION_KEYS }) === 'restart') return 'restart';
    this.cfg = next;
    this.bucket.configure(next.flood.burst, next.flood.interval);
    this.memory.setWindow(next.relays.remember);
    return 'applied';
  }

  stop(): Promise<void> {
    if (this.closed) return this.closed;
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.bucket.close();
    this.presence.stop();
    this.confirmer?.close('the account is stopping');
    const client = this.client;
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

export default definePlugin<IrcConfig>({
  protocol: 'irc',
  style: 'chat',
  summary: 'IRC channels on any number of networks (irc-framework)',
  account: accountSchema,
  endpoint: endpointSchema,
  validateTarget: channelProblem,
  uses: [
    {
      service: 'web.links',
      optional: true,
      without: 'a long post cut short in a channel says how many lines are left out, without a link to the rest',
    },
  ],
  // Before a connection says otherwise (its ISUPPORT CASEMAPPING: the handle's targetKey), channels fold as rfc1459.
  targetKey: CASE_FOLDS.rfc1459,
  joinHint: (target, config) =>
    `${target} on ${formatAddress(config.host, config.port ?? (config.tls === false ? 6667 : 6697))}${config.tls === false ? '' : ' (TLS)'}`,
  start(ctx) {
    const account = new IrcAccount(ctx);
    ctx.onClose(() => account.stop());
    ctx.signal.addEventListener('abort', () => void account.stop(), { once: true });
    account.start();
    return {
      deliver: (post, to) => account.deliver(post, to),
      get deliveryWindow() {
        return account.window;
      },
      get targetKey() {
        return account.targetKey;
      },
      endpointsChanged: () => account.endpointsChanged(),
      async reload(next) {
        const parsed = accountSchema.safeParse(next);
        return parsed.success ? account.reload(parsed.data) : 'restart';
      },
    };
  },
});
