/**
 * The plugin API (src/plugin.ts re-exports all of it): what the daemon reports of itself — `peerpost status` and the
 * web's health page (DaemonStatus), and the counters behind /metrics (DaemonMetrics).
 */
import type { AccountState } from '../plugin.js';

export interface IngestCounts {
  accepted: number;
  duplicate: number;
  ignored: number;
  rejected: number;
  tempfail: number;
}

export interface AccountStatus {
  name: string;
  protocol: string;
  state: AccountState;
  /** ms since the epoch when the state began. */
  since: number;
  detail: string | null;
  lastError: { message: string; at: number } | null;
  endpoints: string[];
  delivered: number;
  ingested: IngestCounts | null;
}

export interface EndpointQueueStatus {
  endpoint: string;
  pending: number;
  dead: number;
  /** created_at (ms) of the oldest pending row. */
  oldest: number | null;
  /** Why deliveries to it wait, and since when. */
  waiting: { reason: string; since: number } | null;
}

/**
 * Messages an account keeps in a queue of its own, outside the outbox (the mail plugin's robot mail), as its
 * plugin's `waiting()` reports them. Shown by `peerpost outbox`, `peerpost status`, the web's /status and /metrics;
 * one older than delivery.alertAfter makes /healthz unhealthy.
 */
export interface QueueWaiting {
  /** "mail.lists" */
  account: string;
  /** Metric-safe ([a-z_]+): "robot_mail" gives peerpost_robot_mail_waiting and peerpost_robot_mail_oldest_seconds. */
  name: string;
  /** What waits, for what: "robot mail waiting for the smarthost". */
  what: string;
  count: number;
  /** ms since the epoch: when the oldest one was queued. */
  oldest: number | null;
  /** The reason the last try failed, if one did. */
  lastError: string | null;
  /** ms since the epoch: the next try, if one is due. */
  nextAt: number | null;
}

/** A bridge's conversation that holds lines and has not closed into a digest yet. */
export interface OpenConversation {
  bridge: string;
  lines: number;
  /** Where its lines were said: "#commons", "peerpost post". */
  places: string[];
  /** ms since the epoch: its first and last line. */
  first: number;
  last: number;
  /** ms since the epoch: when it closes at the latest, min(last + digest.quiet, first + digest.maxAge). */
  closesBy: number;
}

/** What `peerpost status` shows; also given to plugins (the web's health page). */
export interface DaemonStatus {
  pid: number;
  version: string;
  uptimeMs: number;
  config: string;
  data: string;
  accounts: AccountStatus[];
  outbox: EndpointQueueStatus[];
  /** Lines waiting in each bridge's open conversation. */
  digests: Record<string, number>;
  /** The same conversations: where their lines come from and when each closes at the latest. */
  conversations: OpenConversation[];
  /** What accounts hold in queues of their own (robot mail), one entry per account and queue. */
  waiting: QueueWaiting[];
  /** delivery.alertAfter, in ms. */
  alertAfterMs: number;
  /** Whatever has waited longer than delivery.alertAfter, one sentence each; /healthz is unhealthy while any. */
  late: string[];
  /**
   * Several processes on one PostgreSQL database (src/runtime/leases.ts): every live process, what it holds and since
   * when (times in ms since the epoch). Absent on SQLite (one process).
   */
  processes?: ProcessView[];
}

/** A peerpost process on a shared PostgreSQL database, as `peerpost status` shows it (src/runtime/leases.ts). */
export interface ProcessView {
  id: string;
  host: string;
  pid: number;
  /** ms since the epoch. */
  started: number;
  heartbeat: number;
  /** The process answering. */
  self: boolean;
  leases: { name: string; epoch: number; since: number; expires: number }[];
}

/** A latency histogram: counts per bucket (not cumulative); bucket i holds values <= bounds[i], the last one the rest. */
export interface Histogram {
  /** Upper bounds in seconds, ascending; +Inf is implied after the last. */
  bounds: number[];
  /** length bounds.length + 1. */
  counts: number[];
  /** Seconds. */
  sum: number;
  count: number;
}

export interface AccountMetrics {
  protocol: string;
  state: AccountState;
  /** Posts in, by verdict. */
  ingested: IngestCounts;
  /** Deliveries that succeeded. */
  delivered: number;
  /** Delivery attempts that answered retry (or threw, or timed out). */
  retried: number;
  /** Deliveries that became dead letters. */
  failed: number;
  /** From the post's arrival in the store to its delivery, per delivery. */
  deliveryLatency: Histogram;
}

export interface DaemonMetrics {
  uptimeSeconds: number;
  accounts: Record<string, AccountMetrics>;
  outbox: { endpoint: string; pending: number; dead: number; oldestAgeSeconds: number | null }[];
  /** Queues of the accounts' own (robot mail): depth and the oldest one's age. */
  waiting: { account: string; name: string; count: number; oldestAgeSeconds: number | null }[];
  posts: { total: number; byBridge: Record<string, number> };
}
