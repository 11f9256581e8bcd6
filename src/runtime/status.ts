/**
 * What `peerpost status`, the web's /status and /healthz show: each account's state, the outbox, what waits
 * outside it (robot mail, open conversations) and what has waited too long. Built here from plain parts, so the
 * daemon (through its control socket) and the CLI (against the store, when no daemon runs) say the same things.
 */
import type { PeerpostConfig } from '../config/types.js';
import type {
  AccountState,
  CommandAccount,
  DaemonStatus,
  IngestCounts,
  OpenConversation,
  PluginDefinition,
  QueueWaiting,
} from '../plugin.js';
import { collectWaiting, lateReasons, openConversations, type DigestBuffer } from './waiting.js';

/** A running account as status shows it (AccountRuntime). */
export interface AccountLike {
  name: string;
  cfg: { protocol: string };
  state: AccountState;
  since: number;
  detail?: string | undefined;
  lastError?: { message: string; at: number } | undefined;
  endpoints(): { key: string }[];
  delivered: { count: number };
}

export interface StatusParts {
  now: number;
  pid: number;
  version: string;
  startedAt: number;
  config: Pick<PeerpostConfig, 'file' | 'node' | 'delivery'>;
  /** In start order. */
  accounts: Iterable<AccountLike>;
  ingested: (account: string) => IngestCounts | undefined;
  /** Store.outboxStats(). */
  outbox: { endpoint: string; pending: number; dead: number; oldest: number | null }[];
  /** Why an endpoint's deliveries wait now, and since when (Outbox.waiting). */
  outboxWaiting: (endpoint: string) => { reason: string; since: number } | undefined;
  /** Lines in each bridge's open conversation (DigestKeeper.lines()). */
  digests: Record<string, number>;
  conversations: OpenConversation[];
  waiting: QueueWaiting[];
}

export function buildStatus(p: StatusParts): DaemonStatus {
  return {
    pid: p.pid,
    version: p.version,
    uptimeMs: p.now - p.startedAt,
    config: p.config.file,
    data: p.config.node.data,
    accounts: [...p.accounts].map((a) => ({
      name: a.name,
      protocol: a.cfg.protocol,
      state: a.state,
      since: a.since,
      detail: a.detail ?? null,
      lastError: a.lastError ?? null,
      endpoints: a.endpoints().map((e) => e.key),
      delivered: a.delivered.count,
      ingested: p.ingested(a.name) ?? null,
    })),
    outbox: p.outbox.map((s) => ({ ...s, waiting: p.outboxWaiting(s.endpoint) ?? null })),
    digests: p.digests,
    conversations: p.conversations,
    waiting: p.waiting,
    alertAfterMs: p.config.delivery.alertAfterMs,
    late: lateReasons(p.outbox, p.waiting, p.config.delivery.alertAfterMs, p.now),
  };
}

/** What is said when a plugin's waiting() throws (the rest of the status is still shown). */
export function waitingFailed(protocol: string, err: unknown): string {
  return `the ${protocol} plugin could not tell what waits in its queue: ${(err as Error).message}`;
}

/**
 * What waits outside the outbox, read from the store: the accounts' own queues (robot mail, asked of each plugin's
 * waiting() with the accounts `accountsOf` gives) and the open conversations (of one bridge, when given).
 */
export function waitingOutside(
  store: DigestBuffer,
  config: PeerpostConfig,
  defs: ReadonlyMap<string, PluginDefinition>,
  accountsOf: (protocol: string) => CommandAccount[],
  onError: (protocol: string, err: unknown) => void,
  bridge?: string,
): { waiting: QueueWaiting[]; conversations: OpenConversation[] } {
  const waiting = collectWaiting(defs, accountsOf, onError);
  const conversations = openConversations(store, config).filter((c) => bridge === undefined || c.bridge === bridge);
  return { waiting, conversations };
}
