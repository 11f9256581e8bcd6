/**
 * Counters and latency histograms per account, and the metrics built from them
 * and the store, for ctx.metrics() (the web plugin's /metrics). Kept in memory
 * since the daemon started, as Prometheus counters are.
 */
import type { AccountMetrics, DaemonMetrics, Histogram, IngestCounts, QueueWaiting } from '../plugin.js';

/** Seconds: from a few milliseconds (a live chat relay) to an hour (an outage). */
export const LATENCY_BOUNDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600];

export class LatencyHistogram {
  private readonly counts = new Array<number>(LATENCY_BOUNDS.length + 1).fill(0);
  private sum = 0;
  private count = 0;

  observe(seconds: number): void {
    const s = Math.max(0, seconds);
    let i = 0;
    while (i < LATENCY_BOUNDS.length && s > LATENCY_BOUNDS[i]!) i++;
    this.counts[i]!++;
    this.sum += s;
    this.count++;
  }

  snapshot(): Histogram {
    return { bounds: [...LATENCY_BOUNDS], counts: [...this.counts], sum: this.sum, count: this.count };
  }
}

export interface DeliveryCounters {
  delivered: number;
  retried: number;
  failed: number;
  latency: LatencyHistogram;
}

/** The outbox's events that the counters follow (Outbox). */
export interface OutboxReports {
  on(event: 'delivered', fn: (row: unknown, account: string, latencyMs: number) => void): unknown;
  on(event: 'retry' | 'dead', fn: (row: { endpoint: string }) => void): unknown;
}

export class DeliveryMetrics {
  private readonly byAccount = new Map<string, DeliveryCounters>();

  private of(account: string): DeliveryCounters {
    let c = this.byAccount.get(account);
    if (!c) this.byAccount.set(account, (c = { delivered: 0, retried: 0, failed: 0, latency: new LatencyHistogram() }));
    return c;
  }

  delivered(account: string, latencyMs: number): void {
    const c = this.of(account);
    c.delivered++;
    c.latency.observe(latencyMs / 1000);
  }

  retried(account: string): void {
    this.of(account).retried++;
  }

  failed(account: string): void {
    this.of(account).failed++;
  }

  /**
   * Count what the outbox reports: deliveries (also on the running account, for status), retries and dead
   * letters, each for the account of its endpoint (`accountOf`).
   */
  count(
    outbox: OutboxReports,
    accountOf: (endpoint: string) => string,
    running: (account: string) => { delivered: { count: number; lastAt: number } } | undefined,
  ): void {
    outbox.on('delivered', (_row, account, latencyMs) => {
      const a = running(account);
      if (a) {
        a.delivered.count++;
        a.delivered.lastAt = Date.now();
      }
      this.delivered(account, latencyMs);
    });
    outbox.on('retry', (row) => this.retried(accountOf(row.endpoint)));
    outbox.on('dead', (row) => this.failed(accountOf(row.endpoint)));
  }

  account(
    name: string,
    protocol: string,
    state: AccountMetrics['state'],
    ingested: IngestCounts | undefined,
  ): AccountMetrics {
    const c = this.of(name);
    return {
      protocol,
      state,
      ingested: { ...(ingested ?? { accepted: 0, duplicate: 0, ignored: 0, rejected: 0, tempfail: 0 }) },
      delivered: c.delivered,
      retried: c.retried,
      failed: c.failed,
      deliveryLatency: c.latency.snapshot(),
    };
  }
}

export interface MetricsParts {
  now: number;
  startedAt: number;
  /** In start order. */
  accounts: Iterable<{ name: string; cfg: { protocol: string }; state: AccountMetrics['state'] }>;
  deliveries: DeliveryMetrics;
  ingested: (account: string) => IngestCounts | undefined;
  /** Store.outboxStats(). */
  outbox: { endpoint: string; pending: number; dead: number; oldest: number | null }[];
  waiting: QueueWaiting[];
  /** Store.countPostsByBridge(). */
  postsByBridge: Record<string, number>;
}

/** What ctx.metrics() gives (the web's /metrics): ages in seconds, never negative. */
export function buildMetrics(p: MetricsParts): DaemonMetrics {
  const age = (at: number | null) => (at === null ? null : Math.max(0, p.now - at) / 1000);
  return {
    uptimeSeconds: (p.now - p.startedAt) / 1000,
    accounts: Object.fromEntries(
      [...p.accounts].map((a) => [a.name, p.deliveries.account(a.name, a.cfg.protocol, a.state, p.ingested(a.name))]),
    ),
    outbox: p.outbox.map((o) => ({
      endpoint: o.endpoint,
      pending: o.pending,
      dead: o.dead,
      oldestAgeSeconds: age(o.oldest),
    })),
    waiting: p.waiting.map((w) => ({
      account: w.account,
      name: w.name,
      count: w.count,
      oldestAgeSeconds: age(w.oldest),
    })),
    posts: { total: Object.values(p.postsByBridge).reduce((n, x) => n + x, 0), byBridge: p.postsByBridge },
  };
}
