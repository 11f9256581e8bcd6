/**
 * An in-process core for unit tests: config built inline (no YAML), an
 * in-memory store, the real router, outbox and core, and endpoints whose
 * deliver() is a function the test controls. No sockets.
 */
import { pino } from 'pino';
import type { BridgeConfig, EndpointConfig, PeerpostConfig, Shape, Style, Direction } from '../../src/config/types.js';
import { Store } from '../../src/store.js';
import { Router } from '../../src/ingest/router.js';
import { Outbox } from '../../src/delivery/outbox.js';
import type { Core } from '../../src/ingest/core.js';
import { ingestPipeline } from '../../src/ingest/pipeline.js';
import type { DigestKeeper } from '../../src/digest/keeper.js';
import type { DeliveryTarget, FirstTarget, Outcome } from '../../src/plugin.js';
import type { Post } from '../../src/post.js';

export interface EndpointSpec {
  key: string;
  direction?: Direction;
  shape?: Shape;
  prefix?: string;
}

export interface BridgeSpec {
  endpoints: (string | EndpointSpec)[];
  ignoreNicks?: string[];
  ignorePatterns?: RegExp[];
  replace?: { pattern: RegExp; with: string }[];
  digest?: Partial<BridgeConfig['digest']>;
}

export function makeConfig(
  accounts: Record<string, Style>,
  bridges: Record<string, BridgeSpec>,
  delivery: Partial<PeerpostConfig['delivery']> = {},
): PeerpostConfig {
  const bridgeConfigs: Record<string, BridgeConfig> = {};
  for (const [name, b] of Object.entries(bridges)) {
    const endpoints: EndpointConfig[] = b.endpoints.map((spec) => {
      const s = typeof spec === 'string' ? { key: spec } : spec;
      const slash = s.key.indexOf('/');
      const account = s.key.slice(0, slash);
      return {
        key: s.key,
        account,
        protocol: account.split('.')[0]!,
        target: s.key.slice(slash + 1),
        bridge: name,
        direction: s.direction ?? 'inout',
        ...(s.shape ? { shape: s.shape } : {}),
        prefix: s.prefix ?? '!post',
        announceLines: 4,
        options: {},
      };
    });
    bridgeConfigs[name] = {
      name,
      description: '',
      endpoints,
      ignore: { nicks: (b.ignoreNicks ?? []).map((n) => n.toLowerCase()), patterns: b.ignorePatterns ?? [] },
      replace: b.replace ?? [],
      digest: { quietMs: 600_000, maxLines: 100, maxAgeMs: 7_200_000, settleMs: 10_000, ...b.digest },
      archive: { addresses: 'obfuscate' },
    };
  }
  return {
    file: '<test>',
    node: { hostname: 'test.example', data: ':memory:', maxHops: 5, durability: 'process' },
    delivery: {
      retryFirstMs: 1000,
      retryMaxMs: 60_000,
      giveUpAfterMs: 3 * 86_400_000,
      timeoutMs: 5000,
      shutdownGraceMs: 1000,
      alertAfterMs: 3_600_000,
      ...delivery,
    },
    plugins: {},
    accounts: Object.fromEntries(
      Object.keys(accounts).map((a) => [
        a,
        { name: a, protocol: a.split('.')[0]!, instance: a.split('.')[1]!, settings: {} },
      ]),
    ),
    bridges: bridgeConfigs,
  };
}

export type DeliverFn = (post: Post, to: DeliveryTarget) => Promise<Outcome> | Outcome;

export interface Fixture {
  config: PeerpostConfig;
  store: Store;
  router: Router;
  outbox: Outbox;
  core: Core;
  /** The digest keeper (src/digest/keeper.ts): start() picks up conversations buffered before a restart. */
  keeper: DigestKeeper;
  /** Every delivery attempt, in order. */
  attempts: { endpoint: string; post: Post; to: DeliveryTarget }[];
  /** Set per endpoint; default: delivered. */
  deliverers: Map<string, DeliverFn>;
  /** Set per endpoint: its delivery window (AccountHandle.deliveryWindow); default 1. */
  windows: Map<string, number>;
  /** Set per endpoint: its AccountHandle.sayFirst (a post said before its commit); default none. */
  firsts: Map<string, (post: Post, to: FirstTarget) => boolean>;
  /** The posts written ahead before being said first (the core's journal), in order. */
  noted: Post[];
  clock: { now: number };
  close(): Promise<void>;
}

export const silent = pino({ level: 'silent' });

export function fixture(
  accounts: Record<string, Style>,
  bridges: Record<string, BridgeSpec>,
  delivery: Partial<PeerpostConfig['delivery']> = {},
  opts: { store?: Store; clock?: { now: number } } = {},
): Fixture {
  const config = makeConfig(accounts, bridges, delivery);
  const store = opts.store ?? Store.open(':memory:');
  const router = new Router(config, new Map(Object.entries(accounts)));
  const attempts: Fixture['attempts'] = [];
  const deliverers = new Map<string, DeliverFn>();
  const windows = new Map<string, number>();
  const firsts = new Map<string, (post: Post, to: FirstTarget) => boolean>();
  const clock = opts.clock ?? { now: Date.UTC(2026, 10, 27, 14, 0, 0) };
  const now = () => clock.now;
  const outbox = new Outbox(
    store,
    config.delivery,
    (key) => {
      const endpoint = router.endpoint(key);
      if (!endpoint) return { ready: false, reason: 'not configured' };
      return {
        ready: true,
        endpoint,
        window: windows.get(key),
        ...(firsts.has(key) ? { first: (post: Post, to: FirstTarget) => firsts.get(key)!(post, to) } : {}),
        deliver: async (post, to) => {
          attempts.push({ endpoint: key, post, to });
          const fn = deliverers.get(key);
          return fn ? fn(post, to) : { result: 'delivered' };
        },
      };
    },
    silent,
    now,
  );
  const noted: Post[] = [];
  const { core, keeper } = ingestPipeline(store, router, config, outbox, { core: silent, digests: silent }, now, {
    note: (p) => noted.push(p),
  });
  return {
    config,
    store,
    router,
    outbox,
    core,
    keeper,
    attempts,
    deliverers,
    windows,
    firsts,
    noted,
    clock,
    async close() {
      core.close();
      await core.idle();
      keeper.close();
      await outbox.stop(100);
      store.close();
    },
  };
}

/** Let queued deliveries run (they are asynchronous). */
export async function settle(times = 20): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise((r) => setImmediate(r));
}

export const line = (target: string, name: string, body: string, extra: Record<string, unknown> = {}) => ({
  target,
  author: { name, via: 'irc' },
  body,
  ...extra,
});
