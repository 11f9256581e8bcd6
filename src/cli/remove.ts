/**
 * peerpost remove: posts leave the archive for good (src/archive/removal.ts), through the running daemon (so every
 * view forgets them at once and news peers get a cancel where an account says sendCancels), or on the store
 * when none runs. peerpost removed: the tombstones, with their reasons.
 */
import { findConfig } from '../config/find.js';
import { EXIT } from '../plugin.js';
import { ask } from '../runtime/control.js';
import { removeRequest, type RemoveAnswer, type RemoveRequest } from '../runtime/requests.js';
import { Removals, listTombstones } from '../archive/removal.js';
import { parse, out, err, loadOrReport, openStore, UsageError } from './common.js';
import type { CliCommand } from './index.js';
import { plural } from '../util.js';

const REMOVE_HELP = `Usage: peerpost remove ID… --reason TEXT
       peerpost remove --author ADDRESS --reason TEXT

Remove posts from the archive for good: each leaves every view (the web answers
410 Gone with the reason, the built-in news server 430, finger and search forget
it), its undelivered outbox rows are dropped, news peers are sent a cancel where
the account says sendCancels: true, and a tombstone keeps it from coming back by
any path (a resend, a news peer, an import). An ID not held here is tombstoned
all the same, so it never arrives.

  ID…               Message-IDs, with or without <>
  --author ADDRESS  every post this mail address sent (any case)
  --reason TEXT     why (required): kept in the tombstone, shown on the web's 410 page

Through the running daemon when one answers; else on the store directly, and
the accounts hear of it when peerpost next starts (news cancels are sent then).
Exit 5 when no post matched.
`;

const REMOVED_HELP = `Usage: peerpost removed [-b BRIDGE] [--json]

List the tombstones of removed posts, newest first: when, the Message-ID, the
bridge, the cause (removed by an operator, retention by archive.keep, cancel by
a news peer), who, and why.

  -b, --bridge BRIDGE  only this bridge's
  --json               as JSON
`;

async function runRemove(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { reason: { type: 'string' }, author: { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  if (values.help) {
    process.stdout.write(REMOVE_HELP);
    return EXIT.OK;
  }
  const reason = values.reason?.trim();
  if (!reason) throw new UsageError('say why: --reason TEXT (kept in the tombstone and shown where the post was)');
  if (values.author !== undefined && positionals.length > 0)
    throw new UsageError('give Message-IDs or --author ADDRESS, not both');
  if (values.author === undefined && positionals.length === 0)
    throw new UsageError('which posts? give their Message-IDs, or --author ADDRESS');
  if (values.author !== undefined && !/^[^\s@]+@[^\s@]+$/.test(values.author.trim()))
    throw new UsageError(`--author takes a mail address (alice@example.org), not "${values.author}"`);
  const by = process.env.SUDO_USER ?? process.env.USER ?? 'operator';
  const req: RemoveRequest = {
    cmd: 'remove',
    reason,
    by,
    ...(values.author !== undefined ? { author: values.author.trim() } : { ids: positionals }),
  };
  const found = findConfig({ given: values.config });
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  let answer = (await ask(config.node.data, req)) as RemoveAnswer | { error: string } | undefined;
  const live = answer !== undefined;
  if (!live) {
    const store = openStore(found, config);
    try {
      answer = removeRequest(new Removals(store, { offline: true }), req);
    } finally {
      store.close();
    }
  }
  if (!answer || 'error' in answer || !answer.ok) {
    err(`peerpost remove: ${(answer as { error?: string }).error ?? 'refused'}; nothing was removed`);
    return EXIT.FAILED;
  }
  if (values.json) out(JSON.stringify(answer, null, 2));
  else {
    for (const p of answer.removed ?? [])
      out(
        `removed ${p.id} (bridge ${p.bridge})${p.dropped ? `; ${plural(p.dropped, 'undelivered copy', 'undelivered copies')} dropped` : ''}`,
      );
    for (const id of answer.blocked ?? []) out(`${id} is not held here: tombstoned, so it never arrives`);
    for (const id of answer.already ?? []) out(`${id} was removed already`);
    const n = answer.removed?.length ?? 0;
    if (n === 0 && (answer.blocked ?? []).length === 0 && (answer.already ?? []).length === 0)
      out(`no post of ${values.author} is held here; nothing was removed`);
    else if (!live && n > 0)
      out(
        config.node.database
          ? 'no peerpost process answered here: the store is changed; the processes running on this database hear of it within seconds (one of them sends the news cancels), or, if none runs, when peerpost starts'
          : 'peerpost is not running: the store is changed; the accounts hear of it when peerpost starts (news cancels are sent then)',
      );
  }
  return (answer.removed?.length ?? 0) + (answer.blocked?.length ?? 0) > 0 || (answer.already?.length ?? 0) > 0
    ? EXIT.OK
    : EXIT.NOT_FOUND;
}

async function runRemoved(args: string[]): Promise<number> {
  const { values } = parse(args, { bridge: { type: 'string', short: 'b' }, json: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(REMOVED_HELP);
    return EXIT.OK;
  }
  const found = findConfig({ given: values.config });
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  const store = openStore(found, config);
  try {
    const list = listTombstones(store, values.bridge, 100_000);
    if (values.json) {
      out(
        JSON.stringify(
          list.map((t) => ({ ...t, at: new Date(t.at).toISOString() })),
          null,
          2,
        ),
      );
      return EXIT.OK;
    }
    if (list.length === 0) {
      out(`no post was removed${values.bridge ? ` from bridge ${values.bridge}` : ''}`);
      return EXIT.OK;
    }
    for (const t of list)
      out(
        `${new Date(t.at).toISOString().slice(0, 16).replace('T', ' ')}  ${t.id}  ${t.bridge ?? '(not held)'}  ${t.cause} by ${t.by}: ${t.reason}`,
      );
    out(plural(list.length, 'post') + ' removed');
  } finally {
    store.close();
  }
  return EXIT.OK;
}

export const removeCommand: CliCommand = {
  name: 'remove',
  summary: 'remove posts from the archive for good (a tombstone keeps them out)',
  help: REMOVE_HELP,
  run: runRemove,
};

export const removedCommand: CliCommand = {
  name: 'removed',
  summary: 'list removed posts with their reasons',
  help: REMOVED_HELP,
  run: runRemoved,
};
