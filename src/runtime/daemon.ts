/**
 * The daemon: load the config, open the store, start every account, deliver;
 * reload on SIGHUP; stop in order on SIGTERM/SIGINT. Only wiring: what it shows
 * of itself (status, metrics, bridge views, command environments) is built in
 * running.ts, the accounts' lifecycle is account-set.ts, the control socket's
 * answers requests.ts.
 */
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import { loadConfigFile, formatConfigError, type LoadResult } from '../config/load.js';
import { nodeChanges, sameSetting } from '../config/reload.js';
import type { AccountConfig, PeerpostConfig } from '../config/types.js';
import { lookupPlugin, type PluginLookup } from '../loader.js';
import { gapMessage } from '../services.js';
import type { PluginDefinition } from '../plugin.js';
import { openConfiguredStore, storeLabel } from '../store/open.js';
import { Store, StoreError } from '../store.js';
import type { Router } from '../ingest/router.js';
import { Outbox, type Resolution } from '../delivery/outbox.js';
import { deliveryPipeline } from '../delivery/stages.js';
import type { Core } from '../ingest/core.js';
import { ingestPipeline } from '../ingest/pipeline.js';
import type { DigestKeeper } from '../digest/keeper.js';
import type { SharedDeliveries } from '../digest/shown.js';
import { AccountRuntime, ServiceRegistry, VERSION } from './accounts.js';
import { AccountSet } from './account-set.js';
import { DeliveryMetrics } from './metrics.js';
import { serveControl, closeControl } from './control.js';
import { plural } from '../util.js';
import { FirstJournal } from '../ingest/journal.js';
import { join } from 'node:path';
import { installSignals } from './signals.js';
import { pluginsFor, routerFor, serviceGapsOf } from './plugins.js';
import { nodeSecret, secretFor } from './commands.js';
import { answerRequest } from './requests.js';
import { RunningViews } from './running.js';
import { sharedDigests } from './digests.js';
import type { Removals } from '../archive/removal.js';
import { removalsFor, startArchive } from './archive.js';
import { LeaseKeeper, accountLease, processesOf, DIGESTS_LEASE, type LeaseDb } from './leases.js';
import type { PostListeners } from '../ingest/post-listeners.js';
import type { PgListener } from '../store/pg/listen.js';
import { OUTBOX_CHANNEL, POSTS_CHANNEL, REMOVALS_CHANNEL } from '../store/pg/schema.js';
import type { PgDatabase } from '../store/pg/database.js';

/**
 * Several processes on one database: the tick of the slow poll. Rows another process queued and posts it committed
 * come at once by NOTIFY (src/store/pg/listen.ts); the poll is the safety net: every PEER_POLL_TICKS ticks while
 * the wake-ups come, every tick while their connection is down.
 */
const PEER_ROWS_MS = 1000;
const PEER_POLL_TICKS = 5;
/** The removal log's old rows are dropped every this many ticks (an hour). */
const PRUNE_TICKS = 3600;

import { EXIT } from '../plugin.js';
export { EXIT };

export interface DaemonOptions {
  configFile: string;
  log: Logger;
  lookup?: PluginLookup;
}

export class Daemon {
  private config!: PeerpostConfig;
  private store!: Store;
  private router!: Router;
  private outbox!: Outbox;
  private core!: Core;
  /** Posts said before their commit, written ahead (src/ingest/journal.ts). */
  private journal!: FirstJournal;
  /** Closes each bridge's conversation into a digest (src/digest/keeper.ts). */
  private keeper!: DigestKeeper;
  /** Digests sent through the memory of what each place shows (src/digest/shown.ts). */
  private digestsOut!: SharedDeliveries;
  private stopDigests?: () => void;
  /** Posts leaving the archive (src/archive/removal.ts), and the bridges' archive.keep swept hourly. */
  private removals!: Removals;
  private stopArchive?: () => void;
  private control?: Server;
  private defs = new Map<string, PluginDefinition>();
  private nodeSecret: Buffer = Buffer.alloc(0);
  private readonly services = new ServiceRegistry();
  private readonly deliveries = new DeliveryMetrics();
  /** In start order. */
  private readonly accounts: AccountSet;
  private readonly views: RunningViews;
  private readonly startedAt = Date.now();
  private stopping?: Promise<number>;
  /** Several processes on one PostgreSQL database (src/runtime/leases.ts); undefined on SQLite (one process). */
  private leases?: LeaseKeeper;
  private peerTimer?: NodeJS.Timeout;
  /** Told of every committed post (ctx.onPost), and fed those of other processes (PostgreSQL). */
  private listeners!: PostListeners;
  /** Several processes on one database: the LISTEN connection that brings the others' rows and posts at once. */
  private wakeups?: PgListener;
  /** The accounts of the config have been started (a lease taken after that starts its account). */
  private running = false;
  private reloading: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;
  private readonly lookup: PluginLookup;
  /** Resolves with the exit code once the daemon has stopped. */
  readonly done: Promise<number>;
  private finish!: (code: number) => void;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log;
    this.lookup = opts.lookup ?? lookupPlugin;
    this.done = new Promise((r) => {
      this.finish = r;
    });
    this.accounts = new AccountSet(
      (cfg) => this.newAccount(cfg),
      this.log,
      (cfg) => !this.leases || !this.singleHolder(cfg) || this.leases.holds(accountLease(cfg.name)),
    );
    this.views = new RunningViews(() => ({
      config: this.config,
      store: this.store,
      defs: this.defs,
      accounts: this.accounts,
      core: this.core,
      outboxWaiting: (endpoint) => this.outbox.waiting.get(endpoint),
      digestLines: () => this.keeper.lines(),
      nodeSecret: this.nodeSecret,
      deliveries: this.deliveries,
      startedAt: this.startedAt,
      log: this.log,
      ...(this.leases
        ? {
            processes: () => processesOf(this.store.db as unknown as LeaseDb, this.failoverMs, this.leases?.id),
          }
        : {}),
    }));
  }

  /** Start everything; on failure, print why, undo what started, and return the exit code. */
  async start(): Promise<number> {
    const loaded = await this.load('peerpost did not start: the config has errors');
    if (!loaded.ok) return EXIT.CONFIG;
    this.config = loaded.config;
    try {
      // deferIndex: the search rows are written a moment after the posts' commits, many in one transaction; syncAhead:
      // the log goes to disk in the background, so that a checkpoint does not stall the commit that starts it (SQLite).
      this.store = openConfiguredStore(this.config.node, { deferIndex: true, syncAhead: true });
    } catch (err) {
      this.log.fatal(
        { err: err instanceof StoreError ? undefined : err },
        `peerpost did not start: ${(err as Error).message}`,
      );
      return EXIT.FAILED;
    }
    this.removals = removalsFor(this.store, this.log);
    this.journal = new FirstJournal(join(this.config.node.data, 'said-first.jsonl'));
    try {
      this.control = await serveControl(this.config.node.data, (req) =>
        answerRequest(req, {
          store: this.store,
          status: () => this.views.status(),
          inject: (bridge, post, via, opts) => this.core.inject(bridge, post, via, opts),
          kick: (endpoint) => this.outbox.kick(endpoint),
          wake: (endpoints) => this.outbox.wake(endpoints),
          reload: () => this.reload(),
          runCommand: (name, args, cwd, json) => this.views.runCommand(name, args, cwd, json),
          removals: this.removals,
          log: this.log,
        }),
      );
    } catch (err) {
      this.log.fatal(`peerpost did not start: ${(err as Error).message}`);
      this.store.close();
      return EXIT.FAILED;
    }
    this.nodeSecret = nodeSecret(this.store);
    this.defs = await pluginsFor(this.config, this.lookup);
    this.router = routerFor(this.config, this.defs, (a) => this.accounts.get(a)?.handle);
    // A required service with no provider is a config error (src/config/load.ts); an optional one is said here,
    // without loading every shipped plugin to name its providers (`peerpost check` names them).
    for (const g of await serviceGapsOf(this.config, this.defs, null))
      this.log.info({ account: g.account, service: g.service }, gapMessage(g));
    this.outbox = new Outbox(
      this.store,
      this.config.delivery,
      (e) => this.resolveEndpoint(e),
      this.log.child({ part: 'outbox' }),
    );
    this.deliveries.count(
      this.outbox,
      (endpoint) => this.router.endpoint(endpoint)?.account ?? endpoint.slice(0, endpoint.indexOf('/')),
      (account) => this.accounts.get(account),
    );
    ({
      core: this.core,
      keeper: this.keeper,
      listeners: this.listeners,
    } = ingestPipeline(
      this.store,
      this.router,
      this.config,
      this.outbox,
      {
        core: this.log.child({ part: 'core' }),
        digests: this.log.child({ part: 'digests' }),
      },
      Date.now,
      this.journal,
    ));
    ({ deliveries: this.digestsOut, stop: this.stopDigests } = sharedDigests({
      store: this.store,
      router: () => this.router,
      config: () => this.config,
      core: this.core,
      log: this.log,
    }));

    if (this.store.dialect === 'postgres' && this.config.node.database) {
      // Wake-ups from the other processes (src/store/pg/listen.ts): rows they queued for an endpoint this process
      // delivers, kicked at once; the posts they commit, to the listeners that asked for them (the feed LISTENs for
      // posts only while one is there). What a lost connection missed is read when it is back, by seq.
      const db = this.store.db as unknown as PgDatabase;
      // Loaded here, not at the top: a daemon on SQLite never loads the pg client (test/integration/daemon-modules).
      const { PgListener } = await import('../store/pg/listen.js');
      const wakeups = new PgListener({
        url: this.config.node.database,
        log: this.log.child({ part: 'listen' }),
        reconnected: () => this.peerPoll(),
      });
      this.wakeups = wakeups;
      wakeups.listen(OUTBOX_CHANNEL, (payload, pid) => {
        if (!this.running || db.ownBackend(pid)) return; // this process's own rows are kicked at their commit
        this.guarded(() => {
          this.log.debug(
            { endpoints: payload || '(all)' },
            'rows queued by another process: woken at once (NOTIFY) to deliver those of the endpoints held here',
          );
          if (payload === '') this.outbox.kickAll();
          else for (const e of payload.split('\n')) this.outbox.kick(e);
        });
      });
      // Removals by the other processes: the views here forget those posts too (src/archive/removal-log.ts).
      this.removals.startFeed();
      wakeups.listen(REMOVALS_CHANNEL, (payload) => this.removals.nudge(Number(payload) || undefined));
      this.listeners.feed(this.store, (on) => {
        if (on) wakeups.listen(POSTS_CHANNEL, (payload) => this.listeners.nudge(Number(payload) || undefined));
        else wakeups.unlisten(POSTS_CHANNEL);
      });
    }
    if (this.store.dialect === 'postgres') {
      // Several processes may share the database: who runs which connection account, delivers which endpoints and
      // closes digests is decided by leases (src/runtime/leases.ts). The first round takes what is free.
      this.leases = new LeaseKeeper({
        db: this.store.db as unknown as LeaseDb,
        data: this.config.node.data,
        failoverMs: this.failoverMs,
        log: this.log.child({ part: 'leases' }),
        wanted: () => [...Object.keys(this.config.accounts).map(accountLease), DIGESTS_LEASE],
        gained: (name) => this.leaseGained(name),
        lost: (name) => this.leaseLost(name),
      });
      this.outbox.gate = (endpoint) => this.leases?.holds(accountLease(this.accountOf(endpoint))) ?? true;
      // Epoch fencing: the outbox writes of an endpoint carry its account's lease and this process's epoch of it; a
      // write the database refuses (another process holds the lease) changes nothing and the lease counts as lost.
      const leases = this.leases;
      this.outbox.fence = (endpoint) => leases.fence(accountLease(this.accountOf(endpoint)));
      this.store.onFenced = (fence, what, rows) => leases.fenced(fence, what, rows);
      this.keeper.setHolder(false);
      await this.leases.start();
    }
    await this.recoverSaidFirst();
    for (const acfg of Object.values(this.config.accounts)) {
      try {
        await this.accounts.start(acfg);
      } catch (err) {
        this.log.fatal(`peerpost did not start: ${(err as Error).message}`);
        await this.teardown();
        return EXIT.FAILED;
      }
    }
    this.running = true;
    this.outbox.start();
    this.keeper.start();
    if (this.leases) {
      // Rows another process queued for an endpoint this one delivers, posts it committed: woken at once by NOTIFY;
      // looked for every few seconds all the same, and every second while the wake-ups do not come.
      await this.wakeups?.start();
      this.peerPoll();
      let n = 0;
      this.peerTimer = setInterval(() => {
        const slow = ++n % PEER_POLL_TICKS === 0;
        if (slow || !this.wakeups?.connected) this.peerPoll();
        if (slow) this.guarded(() => this.keeper.refresh());
        if (n % PRUNE_TICKS === 0) this.guarded(() => this.removals.log.prune(Date.now()));
      }, PEER_ROWS_MS);
      this.peerTimer.unref();
    }
    this.stopArchive = startArchive({
      removals: this.removals,
      outbox: this.outbox,
      config: () => this.config,
      log: this.log,
    });
    installSignals({
      log: this.log,
      stopping: () => this.stopping !== undefined,
      stop: () => this.stop(),
      reload: () => this.reload(),
      graceMs: () => this.config.delivery.shutdownGraceMs,
      done: this.done,
    });
    const { size } = this.accounts;
    const bridges = Object.keys(this.config.bridges).length;
    this.log.info(
      { config: this.config.file, data: this.config.node.data, accounts: size, bridges, version: VERSION },
      `peerpost ${VERSION} is up: ${plural(size, 'account')}, ${plural(bridges, 'bridge')}, ${this.config.node.database ? `store ${storeLabel(this.config.node)}` : `data in ${this.config.node.data}`}`,
    );
    return EXIT.OK;
  }

  private newAccount(acfg: AccountConfig): AccountRuntime {
    return new AccountRuntime(acfg, this.defs.get(acfg.protocol)!, {
      store: this.store,
      router: () => this.router,
      ingest: (account, post) => this.core.ingest(account, post),
      wake: (endpoints) => this.outbox.wake(endpoints),
      hostname: this.config.node.hostname,
      log: this.log,
      status: () => this.views.status(),
      deliveryTimeoutMs: () => this.config.delivery.timeoutMs,
      bridges: () => this.views.bridges(),
      secret: (purpose) => secretFor(this.nodeSecret, purpose),
      services: this.services,
      onPost: (fn, opts) => this.core.onPost(fn, opts),
      removals: this.removals,
      metrics: () => this.views.metrics(),
      storeWritable: () => this.store.writable(),
      peerNode: (endpoint, hostname) => this.digestsOut.peerNode(endpoint, hostname),
      holdsLease: (account) => this.leases?.holds(accountLease(account)) ?? true,
    });
  }

  /** The account connects out and runs in one process only (PluginDefinition.singleHolder). */
  private singleHolder(cfg: AccountConfig): boolean {
    return this.defs.get(cfg.protocol)?.singleHolder?.(cfg.settings) ?? false;
  }

  private get failoverMs(): number {
    return this.config.node.failoverMs ?? 15_000;
  }

  private accountOf(endpoint: string): string {
    return this.router?.endpoint(endpoint)?.account ?? endpoint.slice(0, endpoint.indexOf('/'));
  }

  /** This process took a lease (src/runtime/leases.ts): start what it guards, deliver what waits. */
  private async leaseGained(name: string): Promise<void> {
    if (this.stopping) return;
    if (name === DIGESTS_LEASE) {
      this.keeper?.setHolder(true);
      return;
    }
    const account = name.slice('account:'.length);
    if (!this.running) return; // the first round, before the accounts start: start() starts it
    if (this.accounts.standing().has(account)) {
      this.log.info({ account }, `taking over account ${account}`);
      await this.accounts.take(account);
    }
    this.outbox.kickAll();
  }

  /** This process lost a lease (it could not renew in time, or it is stopping): stop what it guards. */
  private async leaseLost(name: string): Promise<void> {
    if (name === DIGESTS_LEASE) {
      this.keeper?.setHolder(false);
      return;
    }
    const account = name.slice('account:'.length);
    // The outbox's gate stops the endpoints' deliveries at their next row; a connection account stops here.
    const rt = this.accounts.get(account);
    if (rt && this.singleHolder(rt.cfg)) {
      this.log.warn({ account }, `account ${account} stops here: its lease is lost`);
      await this.accounts.release(account);
    }
  }

  /** An endpoint through the delivery stages (src/delivery/stages.ts), for the outbox. */
  private resolveEndpoint(key: string): Resolution {
    return deliveryPipeline(key, {
      router: () => this.router,
      account: (name) => this.accounts.get(name),
      digestsOut: this.digestsOut,
    });
  }

  /** Stop accepting, finish deliveries in flight up to the grace time, close accounts in reverse order, close the store. */
  stop(): Promise<number> {
    this.stopping ??= (async () => {
      clearInterval(this.peerTimer);
      this.stopArchive?.();
      this.core.close();
      // A group commit under way (PostgreSQL's ingest lane) is answered before anything stops.
      await this.core.idle();
      this.keeper.close();
      this.stopDigests?.();
      const left = await this.outbox.stop(this.config.delivery.shutdownGraceMs);
      if (left > 0)
        this.log.warn(
          `${left} deliver${left === 1 ? 'y was' : 'ies were'} still running at the deadline; they stay in the outbox and are retried at the next start`,
        );
      await this.teardown();
      this.log.info('peerpost stopped');
      this.finish(EXIT.OK);
      return EXIT.OK;
    })();
    return this.stopping;
  }

  /** Look for rows other processes queued and posts they committed (the slow poll; after a lost wake-up connection). */
  private peerPoll(): void {
    if (!this.running) return;
    this.guarded(() => this.outbox.kickAll());
    this.listeners.nudge();
    this.removals.nudge();
  }

  /** A look at the store that may fail while PostgreSQL is away: the next poll tries again. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.debug({ err }, 'looking for what other processes wrote failed; tried again at the next poll');
    }
  }

  private async teardown(): Promise<void> {
    await this.wakeups?.close();
    await this.accounts.stopAll();
    // Handed back once what they guard has stopped: the other processes take them at their next round.
    await this.leases?.stop();
    if (this.control) await closeControl(this.control, this.config.node.data);
    this.journal?.close();
    this.store.close();
  }

  /**
   * Posts said first whose commit the end of the last run cut off (src/ingest/journal.ts): ingested again with their
   * ids, so that they reach every place of their bridges and the archive; then the journal is emptied.
   */
  private async recoverSaidFirst(): Promise<void> {
    const lost = this.journal.read().filter((p) => this.store.seen(p.id) === undefined);
    for (const p of lost) {
      const v = await this.core.ingest(p.origin.account, {
        target: p.origin.target,
        author: p.author,
        body: p.body,
        id: p.id,
        kind: p.kind,
        date: p.date,
        hops: p.hops,
        references: p.references,
        attachments: p.attachments,
        ...(p.subject !== undefined ? { subject: p.subject } : {}),
        ...(p.inReplyTo !== undefined ? { inReplyTo: p.inReplyTo } : {}),
      });
      const why = v.status === 'rejected' || v.status === 'tempfail' || v.status === 'ignored' ? `: ${v.reason}` : '';
      this.log.warn(
        { post: p.id, origin: `${p.origin.account}/${p.origin.target}`, verdict: v.status },
        `${p.id}, said in a chat place before its commit when peerpost last stopped, was not stored; ingested again now (${v.status}${why}): it goes to every place of its bridge (a channel that showed it may show it twice)`,
      );
    }
    this.journal.clear();
  }

  /** Load the config file; its errors, if any, are logged under `headline`. */
  private async load(headline: string): Promise<LoadResult> {
    const loaded = await loadConfigFile(this.opts.configFile, { lookup: this.lookup });
    if (!loaded.ok) {
      const lines = loaded.errors.map(formatConfigError);
      this.log.error({ errors: lines }, `${headline}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
    }
    return loaded;
  }

  /** Reload the config; an invalid one is refused and the running one stays. */
  reload(): Promise<{ ok: boolean; errors?: string[]; changes?: string[] }> {
    const run = this.reloading.then(() => this.doReload());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async doReload(): Promise<{ ok: boolean; errors?: string[]; changes?: string[] }> {
    if (this.stopping) return { ok: false, errors: ['peerpost is stopping'] };
    const loaded = await this.load('the new config was refused; the running one stays');
    if (!loaded.ok) return { ok: false, errors: loaded.errors.map(formatConfigError) };
    const next = loaded.config;
    const changes: string[] = [];
    for (const key of nodeChanges(this.config.node, next.node)) {
      this.log.warn(`node.${key} changed; that takes effect at the next restart`);
      changes.push(`node.${key}: at the next restart`);
    }
    const keep = { ...next, node: this.config.node };
    const defs = await pluginsFor(keep, this.lookup);
    const old = this.config;
    this.config = keep;
    this.defs = defs;
    await this.accounts.stopRemoved(next, changes);
    this.router = routerFor(keep, defs, (a) => this.accounts.get(a)?.handle);
    this.core.setRouting(this.router, keep);
    this.keeper.setRouting(this.router, keep);
    this.outbox.setConfig(keep.delivery);
    await this.accounts.apply(keep, changes);
    if (!sameSetting(old.bridges, keep.bridges)) {
      changes.push('bridges: updated');
      this.accounts.bridgesChanged();
    }
    this.outbox.kickAll();
    this.log.info({ changes }, `config reloaded${changes.length ? `: ${changes.join('; ')}` : ' (no changes)'}`);
    return { ok: true, changes };
  }
}
