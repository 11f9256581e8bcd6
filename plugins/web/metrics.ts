/**
 * /metrics: the daemon's counters in the Prometheus text exposition format
 * (version 0.0.4): posts in and out per account, outbox depth and age, the
 * depth and age of the accounts' own queues (robot mail), the
 * delivery latency histogram, each account's connection state, the web's
 * own stream clients, and the process itself (memory, open files, event-loop
 * lag; under the names prom-client uses, so common Node dashboards work).
 */
import type { AccountState, DaemonMetrics } from '../../src/plugin.js';
import type { ProcessGauges } from './process.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const STATES: readonly AccountState[] = [
  'starting',
  'connecting',
  'connected',
  'listening',
  'retrying',
  'down',
  'banned',
  'stopped',
];

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const labels = (l: Record<string, string>) => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

/** A number as Prometheus writes it (+Inf, NaN, integers without a fraction). */
export function num(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  return String(x);
}

class Out {
  private lines: string[] = [];
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, l: Record<string, string>, v: number): void {
    this.lines.push(`${name}${labels(l)} ${num(v)}`);
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

export interface WebGauges {
  /** WebSocket stream clients connected now. */
  streamClients: number;
  /** Stream clients cut for reading too slowly, since start. */
  streamSlowCuts: number;
}

export function metricsText(m: DaemonMetrics, web?: WebGauges, proc?: ProcessGauges): string {
  const o = new Out();
  const accounts = Object.entries(m.accounts).sort(([a], [b]) => a.localeCompare(b));

  o.family(
    'peerpost_posts_in_total',
    'counter',
    'Posts handed to the core by an account, by verdict (accepted, duplicate, ignored, rejected, tempfail).',
  );
  for (const [name, a] of accounts)
    for (const [verdict, n] of Object.entries(a.ingested))
      o.sample('peerpost_posts_in_total', { account: name, protocol: a.protocol, verdict }, n);

  o.family(
    'peerpost_posts_out_total',
    'counter',
    'Deliveries to an account, by result: delivered, retried (returned retry, threw or timed out), failed (became dead letters).',
  );
  for (const [name, a] of accounts) {
    o.sample('peerpost_posts_out_total', { account: name, protocol: a.protocol, result: 'delivered' }, a.delivered);
    o.sample('peerpost_posts_out_total', { account: name, protocol: a.protocol, result: 'retried' }, a.retried);
    o.sample('peerpost_posts_out_total', { account: name, protocol: a.protocol, result: 'failed' }, a.failed);
  }

  o.family('peerpost_account_state', 'gauge', 'The state of each account: 1 for the state it is in, 0 for the others.');
  for (const [name, a] of accounts)
    for (const s of STATES)
      o.sample('peerpost_account_state', { account: name, protocol: a.protocol, state: s }, a.state === s ? 1 : 0);

  o.family('peerpost_account_up', 'gauge', '1 when the account is connected or listening, else 0.');
  for (const [name, a] of accounts)
    o.sample(
      'peerpost_account_up',
      { account: name, protocol: a.protocol },
      a.state === 'connected' || a.state === 'listening' ? 1 : 0,
    );

  o.family(
    'peerpost_delivery_latency_seconds',
    'histogram',
    'From a post being received to its delivery to an endpoint of the account.',
  );
  for (const [name, a] of accounts) {
    const h = a.deliveryLatency;
    let cum = 0;
    h.bounds.forEach((b, i) => {
      cum += h.counts[i] ?? 0;
      o.sample('peerpost_delivery_latency_seconds_bucket', { account: name, le: num(b) }, cum);
    });
    cum += h.counts[h.bounds.length] ?? 0;
    o.sample('peerpost_delivery_latency_seconds_bucket', { account: name, le: '+Inf' }, cum);
    o.sample('peerpost_delivery_latency_seconds_sum', { account: name }, h.sum);
    o.sample('peerpost_delivery_latency_seconds_count', { account: name }, h.count);
  }

  const outbox = [...m.outbox].sort((a, b) => a.endpoint.localeCompare(b.endpoint));
  o.family('peerpost_outbox_pending', 'gauge', 'Deliveries waiting in the outbox, per endpoint.');
  for (const e of outbox) o.sample('peerpost_outbox_pending', { endpoint: e.endpoint }, e.pending);
  o.family(
    'peerpost_outbox_dead',
    'gauge',
    'Dead letters (deliveries given up, with their reason in `peerpost outbox --dead`), per endpoint.',
  );
  for (const e of outbox) o.sample('peerpost_outbox_dead', { endpoint: e.endpoint }, e.dead);
  o.family(
    'peerpost_outbox_oldest_age_seconds',
    'gauge',
    'Age of the oldest waiting delivery, per endpoint (0 when none waits).',
  );
  for (const e of outbox)
    o.sample('peerpost_outbox_oldest_age_seconds', { endpoint: e.endpoint }, e.oldestAgeSeconds ?? 0);

  // Queues the accounts keep outside the outbox (the mail plugin's robot mail): one pair of families per queue name.
  const queues = new Map<string, DaemonMetrics['waiting']>();
  for (const w of [...(m.waiting ?? [])].sort((a, b) => a.account.localeCompare(b.account))) {
    if (!/^[a-z][a-z0-9_]*$/.test(w.name)) continue;
    queues.set(w.name, [...(queues.get(w.name) ?? []), w]);
  }
  for (const [name, ws] of [...queues].sort(([a], [b]) => a.localeCompare(b))) {
    const what = name.replace(/_/g, ' ');
    o.family(
      `peerpost_${name}_waiting`,
      'gauge',
      `Messages waiting in the ${what} queue (outside the outbox), per account.`,
    );
    for (const w of ws) o.sample(`peerpost_${name}_waiting`, { account: w.account }, w.count);
    o.family(
      `peerpost_${name}_oldest_seconds`,
      'gauge',
      `Age of the oldest message in the ${what} queue, per account (0 when none waits).`,
    );
    for (const w of ws) o.sample(`peerpost_${name}_oldest_seconds`, { account: w.account }, w.oldestAgeSeconds ?? 0);
  }

  o.family('peerpost_posts_stored', 'gauge', 'Posts in the store (the archive), per bridge.');
  for (const [bridge, n] of Object.entries(m.posts.byBridge).sort(([a], [b]) => a.localeCompare(b)))
    o.sample('peerpost_posts_stored', { bridge }, n);
  o.family('peerpost_posts_stored_total', 'gauge', 'Posts in the store, all bridges.');
  o.sample('peerpost_posts_stored_total', {}, m.posts.total);

  o.family('peerpost_uptime_seconds', 'gauge', 'Seconds since the daemon started.');
  o.sample('peerpost_uptime_seconds', {}, m.uptimeSeconds);

  if (web) {
    o.family('peerpost_web_stream_clients', 'gauge', 'WebSocket clients of /api/stream connected now.');
    o.sample('peerpost_web_stream_clients', {}, web.streamClients);
    o.family(
      'peerpost_web_stream_slow_cuts_total',
      'counter',
      'Stream clients cut (close code 4008) because they read too slowly.',
    );
    o.sample('peerpost_web_stream_slow_cuts_total', {}, web.streamSlowCuts);
  }

  if (proc) {
    const g = (name: string, help: string, v: number) => {
      o.family(name, 'gauge', help);
      o.sample(name, {}, v);
    };
    g('process_resident_memory_bytes', 'Resident memory size of the daemon in bytes.', proc.residentBytes);
    if (proc.openFds !== undefined) g('process_open_fds', 'Open file descriptors of the daemon.', proc.openFds);
    g('nodejs_heap_size_used_bytes', 'V8 heap used, in bytes.', proc.heapUsedBytes);
    g('nodejs_heap_size_total_bytes', 'V8 heap allocated, in bytes.', proc.heapTotalBytes);
    g(
      'nodejs_external_memory_bytes',
      'Memory of C++ objects bound to JavaScript (Buffers included), in bytes.',
      proc.externalBytes,
    );
    g(
      'nodejs_array_buffers_bytes',
      'Memory of ArrayBuffers and Buffers, in bytes (part of the external memory).',
      proc.arrayBuffersBytes,
    );
    g(
      'nodejs_eventloop_lag_p99_seconds',
      'The 99th percentile of the event loop delay over the last completed 10 s window, in seconds.',
      proc.eventLoopLagP99Seconds,
    );
    g(
      'nodejs_eventloop_lag_max_seconds',
      'The largest event loop delay over the last completed 10 s window, in seconds.',
      proc.eventLoopLagMaxSeconds,
    );
  }
  return o.text();
}
