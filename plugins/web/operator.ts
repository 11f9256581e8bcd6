/**
 * The operators' routes: /status (the daemon's status, a page or JSON), /healthz (the verdict for load balancers,
 * its details for operators) and /metrics (Prometheus text). Who may see them is admin.ts's judgement.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccountState, DaemonStatus } from '../../src/plugin.js';
import { Admin } from './admin.js';
import { statusPage } from './html.js';
import { html, json, send, type Route } from './http.js';
import { CONTENT_TYPE as METRICS_TYPE, metricsText } from './metrics.js';
import type { ProcessMonitor } from './process.js';
import type { Site } from './site.js';
import type { Stream } from './stream.js';

/** States in which an account counts as healthy: up, or on its way back by design. */
export const HEALTHY: ReadonlySet<AccountState> = new Set(['connected', 'listening', 'connecting', 'retrying']);

/**
 * /healthz: healthy when the store takes a write now, every account is up
 * or on its way back by design (connecting, retrying), and nothing (an outbox
 * row, robot mail) has waited longer than delivery.alertAfter. One line per check.
 */
export function healthReport(
  storeWritable: () => boolean,
  status: Pick<DaemonStatus, 'accounts'> & Partial<Pick<DaemonStatus, 'late'>>,
): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let writable: boolean;
  try {
    writable = storeWritable();
  } catch {
    writable = false;
  }
  let ok = writable;
  lines.push(writable ? 'store: writable' : 'store: NOT writable (new posts are turned away)');
  for (const a of status.accounts) {
    const good = HEALTHY.has(a.state);
    if (!good) ok = false;
    lines.push(`${a.name}: ${a.state}${good ? '' : ' (unhealthy)'}${a.detail ? ` — ${a.detail}` : ''}`);
  }
  for (const l of status.late ?? []) {
    ok = false;
    lines.push(`waiting too long (unhealthy): ${l}`);
  }
  return { ok, lines };
}

export function createOperatorRoutes(site: Site, stream: Stream, proc: ProcessMonitor): Route {
  const { d, cfg } = site;
  // The operator's pages: one judge per config (a reload hands over a new object).
  let admin = { of: d.config(), judge: new Admin(d.config()) };
  const operator = () => {
    if (admin.of !== cfg()) admin = { of: cfg(), judge: new Admin(cfg()) };
    return admin.judge;
  };
  /** Answers a refusal and returns false when the request may not see `path`. */
  const mayOperate = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    const v = operator().judge(req, path);
    if (v.ok) return true;
    send(res, v.status, 'text/plain; charset=utf-8', `${v.text}\n`, { 'Cache-Control': 'no-store', ...v.headers });
    return false;
  };

  return ({ req, res, url, path, only }) => {
    if (path === '/status') {
      only('GET');
      if (!mayOperate(req, res, '/status')) return true;
      // The same page as JSON (what `peerpost status --json` answers) for a program: Accept: application/json or ?format=json.
      if (url.searchParams.get('format') === 'json' || /\bapplication\/json\b/.test(req.headers.accept ?? ''))
        json(res, 200, d.status(), { 'Cache-Control': 'no-store', Vary: 'Accept' });
      else html(res, 200, statusPage(cfg().title, d.status()), { Vary: 'Accept' });
      return true;
    }
    if (path === '/healthz') {
      only('GET');
      const h = healthReport(d.storeWritable, d.status());
      // Load balancers get the verdict and what waited too long (endpoint and account names, counts, ages);
      // the other lines (account details, errors, host names) only operators.
      const lines = operator().judge(req, '/healthz').ok
        ? h.lines
        : [
            ...h.lines.filter((l) => l.startsWith('waiting too long')),
            '(the details are for operators: from an address in admin.allow, loopback by default, or with the admin token)',
          ];
      send(res, h.ok ? 200 : 503, 'text/plain; charset=utf-8', `${h.ok ? 'ok' : 'unhealthy'}\n${lines.join('\n')}\n`, {
        'Cache-Control': 'no-store',
      });
      return true;
    }
    if (path === '/metrics') {
      only('GET');
      if (!mayOperate(req, res, '/metrics')) return true;
      send(
        res,
        200,
        METRICS_TYPE,
        metricsText(
          d.metrics(),
          { streamClients: stream.clients.size, streamSlowCuts: stream.slowCuts },
          proc.gauges(),
        ),
        { 'Cache-Control': 'no-store' },
      );
      return true;
    }
    return false;
  };
}
