/**
 * The mail plugin's `waiting()`: robot mail (confirmations, welcome and goodbye, held-post and bounce notices,
 * help) and owner mail forwarded by the list, queued for the smarthost in mail_out_queue. The core shows it in
 * `peerpost outbox`, `peerpost status`, the web's /status and /metrics (peerpost_robot_mail_waiting,
 * peerpost_robot_mail_oldest_seconds), and /healthz turns unhealthy once one waited past delivery.alertAfter.
 *
 * Why this queue is not outbox rows: see "Robot mail" in plugins/mail/README.md.
 */
import type { CommandAccount, QueueWaiting } from '../../src/plugin.js';
import { queueSummary } from './outbound/state.js';

export const ROBOT_MAIL = { name: 'robot_mail', what: 'robot mail waiting for the smarthost' } as const;

/** One entry per mail account; a list no account serves now counts for the first account (it sends it). */
export function robotMailWaiting(accounts: CommandAccount[]): QueueWaiting[] {
  if (accounts.length === 0) return [];
  // Every mail account of a store shares one queue table; each list belongs to the account that serves it.
  const lists = queueSummary(accounts[0]!.store);
  const owner = new Map<string, string>();
  for (const a of accounts) for (const e of a.endpoints()) if (!owner.has(e.target)) owner.set(e.target, a.account);
  const out = new Map<string, QueueWaiting & { lastErrorAt: number }>(
    accounts.map((a) => [
      a.account,
      {
        account: a.account,
        ...ROBOT_MAIL,
        count: 0,
        oldest: null,
        lastError: null,
        nextAt: null,
        lastErrorAt: -Infinity,
      },
    ]),
  );
  for (const l of lists) {
    const w = out.get(owner.get(l.list) ?? accounts[0]!.account)!;
    w.count += l.count;
    w.oldest = w.oldest === null ? l.oldest : Math.min(w.oldest, l.oldest);
    w.nextAt = w.nextAt === null ? l.nextAt : Math.min(w.nextAt, l.nextAt);
    if (l.lastError !== null && (l.lastErrorAt ?? 0) > w.lastErrorAt) {
      w.lastError = l.lastError;
      w.lastErrorAt = l.lastErrorAt ?? 0;
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- lastErrorAt is only for picking the latest error
  return [...out.values()].map(({ lastErrorAt, ...w }) => w);
}
