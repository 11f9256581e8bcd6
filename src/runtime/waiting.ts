/**
 * What waits and is not an outbox row: lines in an open conversation (a digest not closed yet) and what
 * accounts hold in queues of their own (the mail plugin's robot mail, reported by its definition's
 * `waiting()`); and what has waited too long (delivery.alertAfter), for /healthz. Shared by the daemon's
 * status and metrics and by the CLI, which reads the same store when no daemon runs.
 *
 * Robot mail stays in the mail plugin's own queue, reported through `waiting()`, rather than becoming an
 * outbox row kind: an outbox row is a post (it is in the archive, and it waits in line behind the posts of
 * its endpoint), while a confirmation is one private message to one address that must not wait behind a
 * list post a subscriber's server keeps deferring, and is worthless once its token expired (robotExpire).
 * See "Robot mail" in plugins/mail/README.md.
 */
import type { PeerpostConfig } from '../config/types.js';
import type {
  CommandAccount,
  EndpointQueueStatus,
  OpenConversation,
  PluginDefinition,
  QueueWaiting,
} from '../plugin.js';
import type { StoredPost } from '../post.js';
import { formatDuration, plural } from '../util.js';

/** What the store tells about the digest buffer (Store.digestSummary, Store.digestLines). */
export interface DigestBuffer {
  digestSummary(): { bridge: string; n: number; first: number; last: number }[];
  digestLines(bridge: string): { post: StoredPost }[];
}

/** Where a buffered line was said, as a person names it. */
export function placeOf(post: Pick<StoredPost, 'origin' | 'author'>, accounts: ReadonlySet<string>): string {
  if (accounts.has(post.origin.account)) return post.origin.target;
  if (post.author.via === 'cli') return 'peerpost post';
  return post.origin.target || post.author.via;
}

/** Every bridge's open conversation with its lines' places and the time it closes at the latest. */
export function openConversations(store: DigestBuffer, config: PeerpostConfig): OpenConversation[] {
  const accounts = new Set(Object.keys(config.accounts));
  return store.digestSummary().map((s) => {
    const d = config.bridges[s.bridge]?.digest ?? { quietMs: 600_000, maxAgeMs: 7_200_000 };
    const places = [...new Set(store.digestLines(s.bridge).map((l) => placeOf(l.post, accounts)))];
    return {
      bridge: s.bridge,
      lines: s.n,
      places,
      first: s.first,
      last: s.last,
      closesBy: Math.min(s.last + d.quietMs, s.first + d.maxAgeMs),
    };
  });
}

/** Ask each plugin that has a `waiting()` about its accounts; a plugin that throws is reported, not fatal. */
export function collectWaiting(
  defs: ReadonlyMap<string, PluginDefinition>,
  accountsOf: (protocol: string) => CommandAccount[],
  onError: (protocol: string, err: unknown) => void = () => undefined,
): QueueWaiting[] {
  const out: QueueWaiting[] = [];
  for (const [protocol, def] of defs) {
    if (!def.waiting) continue;
    const accounts = accountsOf(protocol);
    if (accounts.length === 0) continue;
    try {
      out.push(...def.waiting(accounts));
    } catch (err) {
      onError(protocol, err);
    }
  }
  return out;
}

/** Whatever has waited longer than alertAfterMs, one sentence each (no hostnames or error texts: /healthz shows them). */
export function lateReasons(
  outbox: Pick<EndpointQueueStatus, 'endpoint' | 'pending' | 'oldest'>[],
  waiting: QueueWaiting[],
  alertAfterMs: number,
  now: number,
): string[] {
  const limit = `longer than delivery.alertAfter (${formatDuration(alertAfterMs)})`;
  const out: string[] = [];
  for (const o of outbox)
    if (o.pending > 0 && o.oldest !== null && now - o.oldest > alertAfterMs)
      out.push(
        `outbox: ${plural(o.pending, 'delivery', 'deliveries')} to ${o.endpoint} waiting, the oldest for ${formatDuration(now - o.oldest)}, ${limit}`,
      );
  for (const w of waiting)
    if (w.count > 0 && w.oldest !== null && now - w.oldest > alertAfterMs)
      out.push(`${w.account}: ${w.what}: ${w.count}, the oldest for ${formatDuration(now - w.oldest)}, ${limit}`);
  return out;
}

/** "robot mail waiting for the smarthost (mail.lists): 3, oldest 12m, next try in 40s; last error: …" */
export function waitingLine(w: QueueWaiting, now: number): string {
  const parts = [`${w.what} (${w.account}): ${w.count}`];
  if (w.oldest !== null) parts.push(`oldest ${formatDuration(Math.max(0, now - w.oldest))}`);
  if (w.nextAt !== null) parts.push(w.nextAt > now ? `next try in ${formatDuration(w.nextAt - now)}` : 'next try now');
  return `${parts.join(', ')}${w.lastError ? `; last error: ${w.lastError}` : ''}`;
}

/** 14:32 (local time); with the date when it is not today. */
export function clock(at: number, now: number): string {
  const d = new Date(at);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return d.toDateString() === new Date(now).toDateString()
    ? hm
    : `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${hm}`;
}

/**
 * "3 lines of #commons (bridge commons) wait for the conversation to close, at the latest 14:32".
 * running false: no daemon runs, so nothing closes until one starts (then at once if it is due by then).
 */
export function conversationLine(c: OpenConversation, now: number, running = true): string {
  const where = c.places.length ? c.places.join(', ') : `bridge ${c.bridge}`;
  const bridge = c.places.length ? ` (bridge ${c.bridge})` : '';
  const when =
    c.closesBy >= now
      ? `at the latest ${clock(c.closesBy, now)}${running ? '' : ' if peerpost runs by then (it does not run now)'}`
      : `due since ${clock(c.closesBy, now)} (it closes as soon as peerpost runs)`;
  return `${plural(c.lines, 'line', 'lines')} of ${where}${bridge} ${c.lines === 1 ? 'waits' : 'wait'} for the conversation to close, ${when}`;
}
