/**
 * What the daemon answers on its control socket (src/runtime/control.ts), and the operator's actions on the
 * outbox (retry a row, retry every dead row, drop a row), which the CLI also takes against the store when no
 * daemon runs.
 */
import type { Logger } from 'pino';
import type { ControlRequest } from './control.js';
import type { CommandResult, DaemonStatus, IngestVerdict } from '../plugin.js';
import type { IncomingPost } from '../post.js';
import type { OutboxRow, Store } from '../store.js';
import type { Removals, RemovalResult } from '../archive/removal.js';

export type OutboxRequest = Extract<ControlRequest, { cmd: 'retry' } | { cmd: 'drop' }>;
export interface OutboxAnswer {
  ok: boolean;
  error?: string;
  count?: number;
  row?: OutboxRow;
}

/**
 * Retry or drop outbox rows in the store. `kick` and `wake`: a running outbox tries them now (the CLI, offline,
 * leaves them to the next start). `dropped`: said when a row is dropped.
 */
export function outboxAction(
  store: Pick<Store, 'outboxRow' | 'requeue' | 'requeueAllDead' | 'dropRow'>,
  req: OutboxRequest,
  on: {
    kick?: (endpoint: string) => void;
    wake?: (endpoints: string[]) => void;
    dropped?: (r: OutboxRow) => void;
  } = {},
): OutboxAnswer {
  if (req.cmd === 'drop') {
    const r = store.dropRow(req.row);
    if (!r) return { ok: false, error: `there is no outbox row ${req.row}` };
    on.dropped?.(r);
    return { ok: true, row: r };
  }
  if (req.row !== undefined) {
    const r = store.outboxRow(req.row);
    if (!r || !store.requeue(req.row)) return { ok: false, error: `there is no outbox row ${req.row}` };
    on.kick?.(r.endpoint);
    return { ok: true, count: 1 };
  }
  const { count, endpoints } = store.requeueAllDead(req.bridge);
  on.wake?.(endpoints);
  return { ok: true, count };
}

export interface RequestParts {
  store: Store;
  status: () => DaemonStatus;
  inject: (
    bridge: string,
    post: IncomingPost,
    via?: string,
    opts?: { deliver?: boolean; imported?: boolean },
  ) => Promise<IngestVerdict>;
  kick: (endpoint: string) => void;
  wake: (endpoints: string[]) => void;
  reload: () => Promise<unknown>;
  runCommand: (name: string, args: string[], cwd: string, json: boolean) => Promise<CommandResult>;
  removals: Pick<Removals, 'remove'>;
  log: Logger;
}

/** The daemon's answer to one control request. */
export async function answerRequest(req: ControlRequest, d: RequestParts): Promise<unknown> {
  switch (req.cmd) {
    case 'status':
      return d.status();
    case 'post':
      return d.inject(req.bridge, {
        target: 'cli',
        author: { name: req.from ?? process.env.USER ?? 'peerpost', via: 'cli' },
        body: req.body,
        ...(req.subject ? { subject: req.subject } : {}),
      });
    case 'import':
      // Handed over together, so the batch is one group commit (one transaction) of the daemon's core.
      return Promise.all(
        req.posts.map((p) => d.inject(req.bridge, p, 'import', { deliver: req.deliver, imported: true })),
      );
    case 'retry':
    case 'drop':
      return outboxAction(d.store, req, {
        kick: d.kick,
        wake: d.wake,
        dropped: (r) =>
          d.log.warn(
            { row: r.row, post: r.postId, endpoint: r.endpoint },
            `outbox row ${r.row} (${r.postId} to ${r.endpoint}) dropped by the operator`,
          ),
      });
    case 'reload':
      return d.reload();
    case 'remove':
      return removeRequest(d.removals, req, d.log);
    case 'plugin':
      return d.runCommand(req.name, req.args, req.cwd, req.json);
    default:
      return { error: `unknown command ${(req as { cmd: string }).cmd}` };
  }
}

/** What `peerpost remove` asks (through the daemon, or on the store when none runs): ids or an author's posts. */
export type RemoveRequest = Extract<ControlRequest, { cmd: 'remove' }>;
export interface RemoveAnswer {
  ok: boolean;
  error?: string;
  removed?: { id: string; bridge: string; dropped: number }[];
  blocked?: string[];
  already?: string[];
}

export function removeRequest(
  removals: Pick<Removals, 'remove'>,
  req: RemoveRequest,
  log?: Pick<Logger, 'warn'>,
): RemoveAnswer {
  if (req.reason.trim() === '') return { ok: false, error: 'a removal needs a reason (--reason TEXT)' };
  const target = req.author !== undefined ? { author: req.author } : { ids: req.ids ?? [] };
  const r: RemovalResult = removals.remove(target, {
    reason: req.reason,
    by: req.by,
    cause: 'removed',
    now: Date.now(),
  });
  for (const p of r.removed)
    log?.warn(
      { post: p.id, bridge: p.bridge, reason: req.reason, by: req.by, dropped: p.dropped },
      `post ${p.id} (bridge ${p.bridge}) removed by ${req.by}: ${req.reason}`,
    );
  return {
    ok: true,
    removed: r.removed.map((p) => ({ id: p.id, bridge: p.bridge, dropped: p.dropped })),
    blocked: r.blocked,
    already: r.already,
  };
}
