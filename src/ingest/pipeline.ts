/**
 * The core and the digest keeper wired together, as the daemon, `peerpost post` (no daemon), the tests and the
 * benchmarks use them: a committed post's deliveries become outbox rows (handed to `outbox` once committed; with
 * none, they wait in the store for the daemon's next start), its digest lines go to the keeper, and ingested posts
 * and closed digests are told to the same post listeners, in commit order.
 */
import type { Logger } from 'pino';
import type { PeerpostConfig } from '../config/types.js';
import type { Store } from '../store.js';
import { outboxQueue, type Outbox } from '../delivery/outbox.js';
import { DigestKeeper } from '../digest/keeper.js';
import { Core, type CommitSinks } from './core.js';
import { PostListeners } from './post-listeners.js';
import type { Router } from './router.js';

export interface IngestPipeline {
  core: Core;
  /** Call start() to pick up conversations buffered before a restart; close() at shutdown. */
  keeper: DigestKeeper;
  /** Told of every committed post (ctx.onPost); on PostgreSQL also fed the posts of other processes (feed()). */
  listeners: PostListeners;
}

export function ingestPipeline(
  store: Store,
  router: Router,
  config: PeerpostConfig,
  outbox: (Pick<Outbox, 'kick'> & Partial<Pick<Outbox, 'first'>>) | undefined,
  log: { core: Logger; digests: Logger },
  now: () => number = Date.now,
  journal?: CommitSinks['journal'],
): IngestPipeline {
  const listeners = new PostListeners(log.core);
  const deliveries = outboxQueue(store, outbox);
  const keeper = new DigestKeeper(store, router, config, { deliveries, listeners }, log.digests, now);
  const core = new Core(
    store,
    router,
    config,
    { deliveries, digests: keeper, listeners, ...(journal ? { journal } : {}) },
    log.core,
    now,
  );
  return { core, keeper, listeners };
}
