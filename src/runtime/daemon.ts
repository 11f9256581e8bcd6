/**
 * The daemon: load the config, open the store, start every account, deliver;
 * reload on SIGHUP; stop in order on SIGTERM/SIGINT.
 */
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import { loadConfigFile, formatConfigError } from '../config/load.js';
import { sameSetting } from '../config/reload.js';
import type { ConfigError, PeerpostConfig } from '../config/types.js';
import { lookupPlugin, shippedDefinitions, type PluginLookup } from '../loader.js';
import { gapMessage, serviceGapsNamed } from '../services.js';
import type {
  PluginDefinition,
  DaemonStatus,
  BridgeView,
  DaemonMetrics,
  CommandAccount,
  DeliveryTarget,
  QueueWaiting,
} from '../plugin.js';
import type { Post } from '../post.js';
import { Store, StoreError } from '../store.js';
import type { Router } from '../ingest/router.js';
import { Outbox, type Resolution } from '../outbox.js';
import type { Core } from '../ingest/core.js';
import { ingestPipeline } from '../ingest/pipeline.js';
import type { DigestKeeper } from '../digest/keeper.js';
import { AccountRuntime, ServiceRegistry, VERSION } from './accounts.js';
import { DeliveryMetrics, buildMetrics } from './metrics.js';
import { serveControl, closeControl } from './control.js';
import { formatDuration } from '../util.js';
import { SharedDeliveries, ShownMemory } from '../digest/shown.js';
import { collectWaiting, openConversations } from './waiting.js';
import { pluginsFor, routerFor } from './plugins.js';
import { bridgeViews } from './views.js';
import { commandAccounts, nodeSecret, runCommand, secretFor } from './commands.js';
import { buildStatus } from './status.js';
import { answerRequest } from './requests.js';

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
  /** Closes each bridge's conversation into a digest (src/digest/keeper.ts). */
  private keeper!: DigestKeeper;
  /** Digests sent through the memory of what each place shows (src/digest/shown.ts). */
  private digestsOut!: SharedDeliveries;
  private pruneTimer?: NodeJS.Timeout;
  private control?: Server;
  private defs = new Map<string, PluginDefinition>();
  private nodeSecret: Buffer = Buffer.alloc(0);
  private readonly services = new ServiceRegistry();
  private readonly deliveries = new DeliveryMetrics();
  /** In start order. */
  private accounts = new Map<string, AccountRuntime>();
  private readonly startedAt = Date.now();
  private stopping?: Promise<number>;
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
  }

  /** Start everything; on failure, print why, undo what started, and return the exit code. */
  async start(): Promise<number> {
    const loaded = await loadConfigFile(this.opts.configFile, { lookup: this.lookup });
    if (!loaded.ok) {
      reportConfigErrors(this.log, loaded.errors, 'peerpost did not start: the config has errors');
      return EXIT.CONFIG;
    }
    this.config = loaded.config;
    try {
      this.store = Store.open(this.config.node.data, { durability: this.config.node.durability });
    } catch (err) {
      this.log.fatal(
        { err: err instanceof StoreError ? undefined : err },
        `peerpost did not start: ${(err as Error).message}`,
      );
      return EXIT.FAILED;
    }
    try {
      this.control = await serveControl(this.config.node.data, (req) =>
        answerRequest(req, {
          store: this.store,
          status: () => this.status(),
          inject: (bridge, post) => this.core.inject(bridge, post),
          kick: (endpoint) => this.outbox.kick(endpoint),
          wake: (endpoints) => this.outbox.wake(endpoints),
          reload: () => this.reload(),
          runCommand: (name, args, cwd, json) =>
            runCommand(this.defs, name, { args, cwd, json }, (p) => this.commandAccounts(p), this.log),
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
    // A required service with no provider is a config error (src/config/load.ts); an optional one is said here.
    for (const g of await serviceGapsNamed(
      Object.values(this.config.accounts).map((a) => ({ name: a.name, def: this.defs.get(a.protocol)! })),
      () => shippedDefinitions(this.lookup),
    ))
      this.log.info({ account: g.account, service: g.service }, gapMessage(g));
    this.outbox = new Outbox(
      this.store,
      this.config.delivery,
      (e) => this.resolveEndpoint(e),
      this.log.child({ part: 'outbox' }),
    );
    this.outbox.on('delivered', (_row, account, latencyMs) => {
      const a = this.accounts.get(account);
      if (a) {
        a.delivered.count++;
        a.delivered.lastAt = Date.now();
      }
      this.deliveries.delivered(account, latencyMs);
    });
    const accountOf = (endpoint: string) =>
      this.router.endpoint(endpoint)?.account ?? endpoint.slice(0, endpoint.indexOf('/'));
    this.outbox.on('retry', (row) => this.deliveries.retried(accountOf(row.endpoint)));
    this.outbox.on('dead', (row) => this.deliveries.failed(accountOf(row.endpoint)));
    ({ core: this.core, keeper: this.keeper } = ingestPipeline(this.store, this.router, this.config, this.outbox, {
      core: this.log.child({ part: 'core' }),
      digests: this.log.child({ part: 'digests' }),
    }));
    const memory = new ShownMemory(this.store.db);
    this.digestsOut = new SharedDeliveries({
      memory,
      heldBy: (digestId) => this.store.digestPosts(digestId),
      hostname: () => this.config.node.hostname,
      settleMs: (bridge) => this.router.bridge(bridge)?.digest.settleMs ?? 10_000,
      chatEndpoints: (bridge) =>
        (this.router.bridge(bridge)?.endpoints ?? [])
          .filter((x) => this.router.styleOf(x.account) === 'chat')
          .map((x) => x.key),
      timeoutMs: () => this.config.delivery.timeoutMs,
      now: Date.now,
      log: this.log.child({ part: 'digests' }),
    });
    this.core.onPost((p) =>
      this.digestsOut.observed(p, this.router.endpointAt(p.origin.account, p.origin.target)?.key, Date.now()),
    );
    const prune = () => {
      try {
        memory.prune(Date.now());
      } catch (err) {
        this.log.warn(
          { err },
          `forgetting old entries of the digest memory failed: ${(err as Error).message}; tried again in an hour`,
        );
      }
    };
    prune();
    this.pruneTimer = setInterval(prune, 3600_000);
    this.pruneTimer.unref();

    for (const acfg of Object.values(this.config.accounts)) {
      const rt = this.newAccount(acfg.name);
      try {
        await rt.start();
      } catch (err) {
        this.log.fatal(`peerpost did not start: ${(err as Error).message}`);
        await this.teardown();
        return EXIT.FAILED;
      }
    }
    this.outbox.start();
    this.keeper.start();
    this.installSignals();
    const bridges = Object.keys(this.config.bridges).length;
    this.log.info(
      {
        config: this.config.file,
        data: this.config.node.data,
        accounts: this.accounts.size,
        bridges,
        version: VERSION,
      },
      `peerpost ${VERSION} is up: ${this.accounts.size} account${this.accounts.size === 1 ? '' : 's'}, ${bridges} bridge${bridges === 1 ? '' : 's'}, data in ${this.config.node.data}`,
    );
    return EXIT.OK;
  }

  private newAccount(name: string): AccountRuntime {
    const acfg = this.config.accounts[name]!;
    const rt = new AccountRuntime(acfg, this.defs.get(acfg.protocol)!, {
      store: this.store,
      router: () => this.router,
      ingest: (account, post) => this.core.ingest(account, post),
      wake: (endpoints) => this.outbox.wake(endpoints),
      hostname: this.config.node.hostname,
      log: this.log,
      status: () => this.status(),
      deliveryTimeoutMs: () => this.config.delivery.timeoutMs,
      bridges: () => this.bridgeViews(),
      secret: (purpose) => secretFor(this.nodeSecret, purpose),
      services: this.services,
      onPost: (fn) => this.core.onPost(fn),
      metrics: () => this.metrics(),
      storeWritable: () => this.store.writable(),
      peerNode: (endpoint, hostname) => this.digestsOut.peerNode(endpoint, hostname),
    });
    this.accounts.set(name, rt);
    return rt;
  }

  private resolveEndpoint(key: string): Resolution {
    const e = this.router.endpoint(key);
    if (!e) return { ready: false, reason: `${key} is no longer in the config` };
    const a = this.accounts.get(e.account);
    if (!a || !a.handle)
      return {
        ready: false,
        reason: `account ${e.account} is not running${a?.lastError ? ` (${a.lastError.message})` : ''}`,
      };
    if (a.state === 'stopped' || a.state === 'starting')
      return { ready: false, reason: `account ${e.account} is ${a.state}` };
    const handle = a.handle;
    const chat = this.router.styleOf(e.account) === 'chat';
    const place = (post: Post, to: DeliveryTarget) => ({
      endpoint: e.key,
      chat,
      origin: this.router.endpointAt(post.origin.account, post.origin.target)?.key,
      originShared: this.accounts.get(post.origin.account)?.handle?.refresh !== undefined,
      attempt: to.attempt,
      deliver: (p: Post) => handle.deliver(p, to),
      ...(handle.refresh ? { refresh: () => handle.refresh!(e.target) } : {}),
    });
    return {
      ready: true,
      endpoint: e,
      window: handle.deliveryWindow,
      deliver: (post, to) =>
        post.kind === 'digest' || chat ? this.digestsOut.deliver(post, place(post, to)) : handle.deliver(post, to),
    };
  }

  private installSignals(): void {
    const onStop = (sig: NodeJS.Signals) => {
      if (this.stopping) {
        this.log.warn(`${sig} again: stopping at once; undelivered posts stay in the outbox`);
        process.exit(EXIT.FAILED);
      }
      this.log.info(
        `${sig}: stopping (deliveries in flight get ${formatDuration(this.config.delivery.shutdownGraceMs)})`,
      );
      void this.stop();
    };
    const onHup = () => {
      this.log.info('SIGHUP: reloading the config');
      void this.reload();
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onHup);
    void this.done.then(() => {
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      process.off('SIGHUP', onHup);
    });
  }

  /** Stop accepting, finish deliveries in flight up to the grace time, close accounts in reverse order, close the store. */
  stop(): Promise<number> {
    this.stopping ??= (async () => {
      this.core.close();
      this.keeper.close();
      this.digestsOut.stop();
      clearInterval(this.pruneTimer);
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

  private async teardown(): Promise<void> {
    for (const rt of [...this.accounts.values()].reverse()) await rt.stop();
    if (this.control) await closeControl(this.control, this.config.node.data);
    this.store.close();
  }

  /** Reload the config; an invalid one is refused and the running one stays. */
  reload(): Promise<{ ok: boolean; errors?: string[]; changes?: string[] }> {
    const run = this.reloading.then(() => this.doReload());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async doReload(): Promise<{ ok: boolean; errors?: string[]; changes?: string[] }> {
    if (this.stopping) return { ok: false, errors: ['peerpost is stopping'] };
    const loaded = await loadConfigFile(this.opts.configFile, { lookup: this.lookup });
    if (!loaded.ok) {
      reportConfigErrors(this.log, loaded.errors, 'the new config was refused; the running one stays');
      return { ok: false, errors: loaded.errors.map(formatConfigError) };
    }
    const next = loaded.config;
    const changes: string[] = [];
    for (const key of ['data', 'hostname', 'durability'] as const) {
      if (next.node[key] !== this.config.node[key]) {
        this.log.warn(`node.${key} changed; that takes effect at the next restart`);
        changes.push(`node.${key}: at the next restart`);
      }
    }
    const keep = { ...next, node: this.config.node };
    const defs = await pluginsFor(keep, this.lookup);
    const old = this.config;
    this.config = keep;
    this.defs = defs;
    // Stop removed and restart changed accounts; start new ones.
    for (const [name, rt] of [...this.accounts]) {
      const n = next.accounts[name];
      if (!n || n.protocol !== rt.cfg.protocol) {
        await rt.stop();
        this.accounts.delete(name);
        changes.push(`account ${name}: stopped`);
      }
    }
    this.router = routerFor(keep, defs, (a) => this.accounts.get(a)?.handle);
    this.core.setRouting(this.router, keep);
    this.keeper.setRouting(this.router, keep);
    this.outbox.setConfig(keep.delivery);
    for (const acfg of Object.values(keep.accounts)) {
      const rt = this.accounts.get(acfg.name);
      if (rt && sameSetting(rt.cfg.settings, acfg.settings)) continue;
      if (rt) {
        const how = rt.handle?.reload
          ? await rt.handle.reload(acfg.settings).catch(() => 'restart' as const)
          : 'restart';
        if (how === 'applied') {
          rt.settingsApplied(acfg);
          changes.push(`account ${acfg.name}: settings applied`);
          continue;
        }
        await rt.stop();
        this.accounts.delete(acfg.name);
      }
      const fresh = this.newAccount(acfg.name);
      try {
        await fresh.start();
        changes.push(`account ${acfg.name}: ${rt ? 'restarted' : 'started'}`);
      } catch (err) {
        this.log.error(`${(err as Error).message}; the rest of the config is applied`);
        changes.push(`account ${acfg.name}: failed to start (${(err as Error).message})`);
      }
    }
    if (!sameSetting(old.bridges, keep.bridges)) {
      changes.push('bridges: updated');
      for (const rt of this.accounts.values()) {
        try {
          rt.handle?.endpointsChanged?.();
        } catch (err) {
          this.log.error(
            { err, account: rt.name },
            `${rt.name} failed to take the new bridges: ${(err as Error).message}`,
          );
        }
      }
    }
    this.outbox.kickAll();
    this.log.info({ changes }, `config reloaded${changes.length ? `: ${changes.join('; ')}` : ' (no changes)'}`);
    return { ok: true, changes };
  }

  /** Every bridge with its endpoints and how to join each (for plans and pages). */
  bridgeViews(): BridgeView[] {
    return bridgeViews(this.config, this.defs, (a) => this.accounts.get(a)?.state, this.log);
  }

  /** Every account of a protocol in the config, as a plugin command (or a plugin's waiting()) sees it. */
  private commandAccounts(protocol: string): CommandAccount[] {
    const world = {
      config: this.config,
      store: this.store,
      endpoints: (name: string) => this.accounts.get(name)?.endpoints() ?? [],
      secret: (purpose: string) => secretFor(this.nodeSecret, purpose),
      live: (name: string) => {
        const handle = this.accounts.get(name)?.handle;
        return handle && { handle, ingest: (post: Parameters<Core['ingest']>[1]) => this.core.ingest(name, post) };
      },
    };
    return commandAccounts(world, protocol);
  }

  /** What the accounts hold in queues of their own (robot mail). */
  private waiting(): QueueWaiting[] {
    return collectWaiting(
      this.defs,
      (protocol) => this.commandAccounts(protocol),
      (protocol, err) =>
        this.log.warn(
          { err },
          `the ${protocol} plugin could not tell what waits in its queue: ${(err as Error).message}`,
        ),
    );
  }

  metrics(): DaemonMetrics {
    return buildMetrics({
      now: Date.now(),
      startedAt: this.startedAt,
      accounts: this.accounts.values(),
      deliveries: this.deliveries,
      ingested: (a) => this.core.stats.get(a),
      outbox: this.store.outboxStats(),
      waiting: this.waiting(),
      postsByBridge: this.store.countPostsByBridge(),
    });
  }

  status(): DaemonStatus {
    return buildStatus({
      now: Date.now(),
      pid: process.pid,
      version: VERSION,
      startedAt: this.startedAt,
      config: this.config,
      accounts: this.accounts.values(),
      ingested: (a) => this.core.stats.get(a),
      outbox: this.store.outboxStats(),
      outboxWaiting: (e) => this.outbox.waiting.get(e),
      digests: this.keeper.lines(),
      waiting: this.waiting(),
      conversations: openConversations(this.store, this.config),
    });
  }
}

export function reportConfigErrors(log: Logger, errors: ConfigError[], headline: string): void {
  const lines = errors.map(formatConfigError);
  log.error({ errors: lines }, `${headline}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
}
