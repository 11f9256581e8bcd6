/**
 * What the running daemon shows of itself, from its live parts: status (the control socket's `status`, ctx.status()
 * for the web's /status and /healthz), metrics (ctx.metrics(), /metrics), bridge views (ctx.bridges()) and the
 * accounts a plugin command or a plugin's waiting() sees. The builders are in status.ts, metrics.ts, views.ts and
 * commands.ts, which the CLI uses against the store when no daemon runs.
 */
import type { Logger } from 'pino';
import type { PeerpostConfig } from '../config/types.js';
import type { Core } from '../ingest/core.js';
import type {
  BridgeView,
  CommandAccount,
  CommandResult,
  DaemonMetrics,
  DaemonStatus,
  PluginDefinition,
  QueueWaiting,
} from '../plugin.js';
import type { Store } from '../store.js';
import { VERSION, type AccountRuntime } from './accounts.js';
import { commandAccounts, runCommand, secretFor } from './commands.js';
import { buildMetrics, type DeliveryMetrics } from './metrics.js';
import { buildStatus, waitingFailed, waitingOutside } from './status.js';
import { bridgeViews } from './views.js';
import { collectWaiting } from './waiting.js';

/** The daemon's parts, as they are now (the config, the plugins and the accounts change on reload). */
export interface LiveParts {
  config: PeerpostConfig;
  store: Store;
  defs: ReadonlyMap<string, PluginDefinition>;
  /** In start order. */
  accounts: Pick<ReadonlyMap<string, AccountRuntime>, 'get' | 'values'>;
  core: Pick<Core, 'stats' | 'ingest'>;
  /** Why an endpoint's deliveries wait now, and since when (Outbox.waiting). */
  outboxWaiting: (endpoint: string) => { reason: string; since: number } | undefined;
  /** Lines in each bridge's open conversation (DigestKeeper.lines()). */
  digestLines: () => Record<string, number>;
  nodeSecret: Buffer;
  deliveries: DeliveryMetrics;
  startedAt: number;
  log: Logger;
  /** Several processes on one PostgreSQL database: each, and what it holds (src/runtime/leases.ts). */
  processes?: () => NonNullable<DaemonStatus['processes']>;
}

export class RunningViews {
  constructor(private readonly parts: () => LiveParts) {}

  status(): DaemonStatus {
    const p = this.parts();
    const outside = waitingOutside(
      p.store,
      p.config,
      p.defs,
      (protocol) => this.commandAccounts(protocol),
      (protocol, err) => p.log.warn({ err }, waitingFailed(protocol, err)),
    );
    const status = buildStatus({
      now: Date.now(),
      pid: process.pid,
      version: VERSION,
      startedAt: p.startedAt,
      config: p.config,
      accounts: p.accounts.values(),
      ingested: (a) => p.core.stats.get(a),
      outbox: p.store.outboxStats(),
      outboxWaiting: p.outboxWaiting,
      digests: p.digestLines(),
      ...outside,
    });
    if (p.processes) {
      try {
        status.processes = p.processes();
      } catch (err) {
        p.log.warn({ err }, `the processes on the database could not be read: ${(err as Error).message}`);
      }
    }
    return status;
  }

  metrics(): DaemonMetrics {
    const p = this.parts();
    return buildMetrics({
      now: Date.now(),
      startedAt: p.startedAt,
      accounts: p.accounts.values(),
      deliveries: p.deliveries,
      ingested: (a) => p.core.stats.get(a),
      outbox: p.store.outboxStats(),
      waiting: this.waiting(),
      postsByBridge: p.store.countPostsByBridge(),
    });
  }

  /** Every bridge with its endpoints and how to join each (for plans and pages). */
  bridges(): BridgeView[] {
    const p = this.parts();
    return bridgeViews(p.config, p.defs, (a) => p.accounts.get(a)?.state, p.log);
  }

  /** Every account of a protocol in the config, as a plugin command (or a plugin's waiting()) sees it. */
  commandAccounts(protocol: string): CommandAccount[] {
    const p = this.parts();
    const world = {
      config: p.config,
      store: p.store,
      endpoints: (name: string) => p.accounts.get(name)?.endpoints() ?? [],
      secret: (purpose: string) => secretFor(p.nodeSecret, purpose),
      live: (name: string) => {
        const handle = p.accounts.get(name)?.handle;
        return handle && { handle, ingest: (post: Parameters<Core['ingest']>[1]) => p.core.ingest(name, post) };
      },
    };
    return commandAccounts(world, protocol);
  }

  /** What the accounts hold in queues of their own (robot mail). */
  waiting(): QueueWaiting[] {
    const p = this.parts();
    return collectWaiting(
      p.defs,
      (protocol) => this.commandAccounts(protocol),
      (protocol, err) => p.log.warn({ err }, waitingFailed(protocol, err)),
    );
  }

  /** Run a plugin's CLI command inside the daemon. */
  runCommand(name: string, args: string[], cwd: string, json: boolean): Promise<CommandResult> {
    const p = this.parts();
    return runCommand(p.defs, name, { args, cwd, json }, (protocol) => this.commandAccounts(protocol), p.log);
  }
}
