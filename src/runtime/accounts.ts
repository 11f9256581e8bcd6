/**
 * One running account: a plugin's start() with its context, its state for
 * `peerpost status`, and its orderly stop (abort signal, onClose hooks in
 * reverse order, each bounded by a timeout).
 */
import { searchArchive } from '../archive/search.js';
import type { Server, AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AccountConfig } from '../config/types.js';
import { formatAddress, type ListenAddress } from '../config/schema-helpers.js';
import type {
  AccountHandle,
  AccountState,
  EndpointView,
  PluginContext,
  PluginDefinition,
  PluginStore,
  PostReader,
} from '../plugin.js';
import type { Store } from '../store.js';
import type { Router } from '../ingest/router.js';
import type { IncomingPost, StoredPost } from '../post.js';
import type { IngestVerdict, DaemonStatus, BridgeView, DaemonMetrics, PostListenOptions } from '../plugin.js';
import { withTimeout } from '../util.js';
import { ServiceRegistry } from '../services.js';
import { endpointViews } from './views.js';
import { tombstoneOf, type Removals } from '../archive/removal.js';

export { ServiceRegistry };

export const VERSION = '0.1.0';
const CLOSE_TIMEOUT_MS = 5_000;

export interface AccountDeps {
  store: Store;
  router: () => Router;
  ingest: (account: string, post: IncomingPost) => Promise<IngestVerdict>;
  wake: (endpoints: string[]) => void;
  hostname: string;
  log: Logger;
  status: () => DaemonStatus;
  deliveryTimeoutMs: () => number;
  bridges: () => BridgeView[];
  secret: (purpose: string) => Buffer;
  services: ServiceRegistry;
  onPost: (fn: (post: StoredPost) => void, opts?: PostListenOptions) => () => void;
  removals: Removals;
  metrics: () => DaemonMetrics;
  storeWritable: () => boolean;
  /** Another peerpost node is at this endpoint. */
  peerNode: (endpoint: string, hostname: string) => void;
  /** Whether this process holds the account's lease (src/runtime/leases.ts); absent: always. */
  holdsLease?: (account: string) => boolean;
}

/** A plugin's slice of the store (ctx.store), for an account of a protocol. */
export function pluginStoreFor(store: Store, account: string, protocol: string): PluginStore {
  return {
    get: (key) => store.kvGet(account, key),
    set: (key, value) => store.kvSet(account, key, value),
    delete: (key) => store.kvDelete(account, key),
    keys: (prefix) => store.kvKeys(account, prefix),
    ids: {
      set: (postId, target, nativeId) => store.setNativeId(account, target, nativeId, postId),
      post: (target, nativeId) => store.postForNative(account, target, nativeId),
      native: (postId, target) => store.nativeForPost(postId, account, target),
    },
    migrate: (migrations, part) =>
      store.migratePlugin(part ? `plugin:${protocol}:${part}` : `plugin:${protocol}`, `${protocol}_`, migrations),
    prepare: (sql) => store.db.prepare(sql),
    transaction: (fn) => store.transaction(fn),
  };
}

/** Read access to the posts (ctx.posts). */
export function postReaderFor(store: Store): PostReader {
  return {
    get: (id) => store.getPost(id),
    latest: (bridge, o = {}) => store.latestPosts(bridge, o.limit ?? 50, o.before ?? Number.MAX_SAFE_INTEGER),
    since: (bridge, after, limit) => store.postsSince(bridge, after, limit ?? 500),
    count: (bridge) => store.countPosts(bridge),
    thread: (id, limit) => store.threadPosts(id, limit),
    archivePage: (filter, after, limit) => store.archivePage(filter, after, limit),
    search: (query, opts) => {
      // The posts stored a moment ago are found too (deferIndex); a store that cannot be written now searches what it has.
      try {
        store.flushIndex();
      } catch {
        /* the rows wait for the next try */
      }
      return searchArchive(store.db, query, opts);
    },
    removed: (id) => tombstoneOf(store, id),
  };
}

export class AccountError extends Error {}

/** Say what an error from listen() means for the person running peerpost. */
export function listenErrorMessage(account: string, at: ListenAddress, err: NodeJS.ErrnoException): string {
  const where = formatAddress(at.host, at.port);
  const why =
    err.code === 'EADDRINUSE'
      ? 'the port is already in use (another peerpost, or another server, listens there); choose another port in the config or stop the other program'
      : err.code === 'EACCES'
        ? 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
        : err.code === 'EADDRNOTAVAIL'
          ? `no network interface of this machine has the address ${at.host}`
          : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
            ? `the host name ${at.host} does not resolve`
            : err.message;
  return `account ${account} cannot listen on ${where}: ${why}`;
}

export class AccountRuntime {
  state: AccountState = 'starting';
  since = Date.now();
  detail?: string;
  lastError?: { message: string; at: number };
  handle?: AccountHandle;
  readonly delivered = { count: 0, lastAt: 0 };
  private readonly closers: (() => unknown)[] = [];
  private readonly abort = new AbortController();
  private readonly log: Logger;

  constructor(
    private config: AccountConfig,
    readonly def: PluginDefinition,
    private readonly deps: AccountDeps,
  ) {
    this.log = deps.log.child({ account: config.name });
  }

  get name(): string {
    return this.config.name;
  }

  get cfg(): AccountConfig {
    return this.config;
  }

  /** The plugin applied new settings in place (its reload() said 'applied'). */
  settingsApplied(cfg: AccountConfig): void {
    this.config = cfg;
  }

  setState(state: AccountState, detail?: string): void {
    if (state !== this.state) {
      this.since = Date.now();
      this.log.info({ state, detail }, `${this.name} is ${state}${detail ? `: ${detail}` : ''}`);
    }
    this.state = state;
    this.detail = detail;
    if ((state === 'retrying' || state === 'down' || state === 'banned') && detail)
      this.lastError = { message: detail, at: Date.now() };
  }

  private context(): PluginContext {
    const { store } = this.deps;
    const account = this.name;
    const pluginStore = pluginStoreFor(store, account, this.cfg.protocol);
    const posts = postReaderFor(store);
    return {
      account,
      protocol: this.cfg.protocol,
      instance: this.cfg.instance,
      config: this.cfg.settings,
      node: { hostname: this.deps.hostname, version: VERSION },
      log: this.log,
      signal: this.abort.signal,
      store: pluginStore,
      posts,
      endpoints: () => this.endpoints(),
      ingest: (post) => this.deps.ingest(account, post),
      setState: (state, detail) => this.setState(state, detail),
      resume: (target) =>
        this.deps.wake(
          this.endpoints()
            .filter((e) => target === undefined || e.target === target)
            .map((e) => e.key),
        ),
      onClose: (fn) => {
        this.closers.push(fn);
      },
      listen: (server, at) => this.listen(server, at),
      status: () => this.deps.status(),
      deliveryTimeoutMs: () => this.deps.deliveryTimeoutMs(),
      bridges: () => this.deps.bridges(),
      secret: (purpose) => this.deps.secret(purpose),
      provide: (name, service) => {
        if (!(this.def.provides ?? []).includes(name))
          throw new Error(
            `the ${this.cfg.protocol} plugin provides "${name}" without declaring it: add it to its definition's provides`,
          );
        this.closers.push(this.deps.services.provide(account, name, service));
      },
      service: (name) => {
        if (!(this.def.uses ?? []).some((u) => u.service === name))
          throw new Error(
            `the ${this.cfg.protocol} plugin uses "${name}" without declaring it: add { service: '${name}' } to its definition's uses`,
          );
        return this.deps.services.get(name);
      },
      onPost: (fn, opts) => {
        const off = this.deps.onPost(fn, opts);
        this.closers.push(off);
        return off;
      },
      onRemoved: (fn, opts) => {
        const off = this.deps.removals.onRemoved(fn, opts);
        this.closers.push(off);
        return off;
      },
      remove: (ids, reason, cause) =>
        this.deps.removals.remove({ ids }, { reason, by: account, cause, now: Date.now() }),
      metrics: () => this.deps.metrics(),
      storeWritable: () => this.deps.storeWritable(),
      peerNode: (target, hostname) => {
        for (const e of this.endpoints()) if (e.target === target) this.deps.peerNode(e.key, hostname);
      },
      holdsLease: () => this.deps.holdsLease?.(account) ?? true,
    } as PluginContext;
  }

  endpoints(): EndpointView[] {
    return endpointViews(this.deps.router(), this.name);
  }

  private listen(server: Server, at: ListenAddress): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(new AccountError(listenErrorMessage(this.name, at, err)));
      server.once('error', onError);
      server.listen({ host: at.host, port: at.port }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.log.error({ err }, `listener of ${this.name} failed`));
        this.closers.push(
          () =>
            new Promise<void>((r) => {
              server.close(() => r());
              (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
            }),
        );
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** Start the account; throws AccountError with a message for people. */
  async start(): Promise<void> {
    this.setState('starting');
    const timeout = this.def.startTimeoutMs ?? 15_000;
    try {
      this.handle = await withTimeout(
        Promise.resolve(this.def.start(this.context())),
        timeout,
        `starting account ${this.name}`,
      );
      if (!this.handle || typeof this.handle.deliver !== 'function')
        throw new AccountError(
          `the ${this.cfg.protocol} plugin's start() returned no deliver() for account ${this.name}`,
        );
      if (this.state === 'starting') this.setState('connected');
    } catch (err) {
      await this.runClosers();
      const message =
        err instanceof AccountError ? err.message : `account ${this.name} could not start: ${(err as Error).message}`;
      this.setState('down', message);
      throw new AccountError(message);
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.runClosers();
    this.setState('stopped');
  }

  private async runClosers(): Promise<void> {
    while (this.closers.length > 0) {
      const fn = this.closers.pop()!;
      try {
        await withTimeout(Promise.resolve().then(fn), CLOSE_TIMEOUT_MS, `closing account ${this.name}`);
      } catch (err) {
        this.log.warn({ err }, `a close hook of ${this.name} failed: ${(err as Error).message}`);
      }
    }
  }
}
