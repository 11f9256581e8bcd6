/**
 * The memory of what each shared place shows (src/digest/shown.ts) wired to the running daemon: it hears every
 * committed post, reads the current router and config, and forgets old entries every hour.
 */
import type { Logger } from 'pino';
import type { PeerpostConfig } from '../config/types.js';
import type { Core } from '../ingest/core.js';
import type { Router } from '../ingest/router.js';
import type { Store } from '../store.js';
import { SharedDeliveries, ShownMemory } from '../digest/shown.js';

const PRUNE_EVERY_MS = 3600_000;

export function sharedDigests(d: {
  store: Store;
  router: () => Router;
  config: () => PeerpostConfig;
  core: Pick<Core, 'onPost'>;
  log: Logger;
}): { deliveries: SharedDeliveries; stop: () => void } {
  const memory = new ShownMemory(d.store.db);
  const deliveries = new SharedDeliveries({
    memory,
    heldBy: (digestId) => d.store.digestPosts(digestId),
    hostname: () => d.config().node.hostname,
    settleMs: (bridge) => d.router().bridge(bridge)?.digest.settleMs ?? 10_000,
    chatEndpoints: (bridge) =>
      (d.router().bridge(bridge)?.endpoints ?? [])
        .filter((x) => d.router().styleOf(x.account) === 'chat')
        .map((x) => x.key),
    timeoutMs: () => d.config().delivery.timeoutMs,
    now: Date.now,
    log: d.log.child({ part: 'digests' }),
  });
  d.core.onPost((p) =>
    deliveries.observed(p, d.router().endpointAt(p.origin.account, p.origin.target)?.key, Date.now()),
  );
  const prune = () => {
    try {
      memory.prune(Date.now());
    } catch (err) {
      d.log.warn(
        { err },
        `forgetting old entries of the digest memory failed: ${(err as Error).message}; tried again in an hour`,
      );
    }
  };
  prune();
  const timer = setInterval(prune, PRUNE_EVERY_MS);
  timer.unref();
  return {
    deliveries,
    stop: () => {
      deliveries.stop();
      clearInterval(timer);
    },
  };
}
