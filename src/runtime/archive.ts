/**
 * What the running daemon does for the archive: removals (a tombstone, then every account told), the outbox
 * forgetting a removed post's rows, the retention sweep of each bridge's archive.keep (at start and hourly), and
 * telling the accounts of removals made while peerpost was stopped.
 */
import type { Logger } from 'pino';
import type { PeerpostConfig } from '../config/types.js';
import type { Outbox } from '../delivery/outbox.js';
import type { Store } from '../store.js';
import { Removals } from '../archive/removal.js';
import { Retention } from '../archive/retention.js';

/** The removals of a store; an account failing to forget a removed post is logged, never stops the others. */
export function removalsFor(store: Store, log: Logger): Removals {
  return new Removals(store, {
    onError: (err, what) =>
      what === 'log'
        ? log.warn({ err }, (err as Error).message)
        : log.error({ err }, `an account failed to forget a removed post: ${(err as Error).message}`),
    onClaimed: (removed) =>
      log.info(
        { removed: removed.map((r) => r.id) },
        `${removed.length} post${removed.length === 1 ? '' : 's'} removed with no daemon to ask (peerpost remove on another machine): told here, once for the node (news cancels, the news overview)`,
      ),
  });
}

/** Start the archive's upkeep once the accounts run; returns what stops it. */
export function startArchive(deps: {
  removals: Removals;
  outbox: Outbox;
  config: () => PeerpostConfig;
  log: Logger;
}): () => void {
  const { removals, outbox, log } = deps;
  // Rows this process may hold in memory, whichever process removed their post (the database dropped them already).
  removals.onRemoved((removed) => outbox.forget(removed.map((r) => r.post.seq)), { fromOtherProcesses: true });
  const retention = new Retention({
    removals,
    bridges: () => Object.entries(deps.config().bridges).map(([name, b]) => ({ name, keepMs: b.archive.keepMs })),
    now: () => Date.now(),
    log: (msg, fields) => log.info(fields, msg),
  });
  retention.start();
  const untold = removals.tellUntold();
  if (untold > 0)
    log.info({ removed: untold }, `${untold} posts removed while peerpost was stopped: the accounts are told now`);
  return () => retention.stop();
}
