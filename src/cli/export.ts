/**
 * peerpost export: a bridge's archive (or one thread of it) as an mboxrd file, gzip when the name ends in .gz
 * (src/archive/export.ts). Reads the store read-only, so it runs beside the daemon; the operator's export has the
 * real addresses, --public the bridge's public view of them (archive.addresses).
 */
import { findConfig } from '../config/find.js';
import { EXIT } from '../plugin.js';
import {
  dateBound,
  exportTo,
  exportToFile,
  type ArchiveFilter,
  type ExportSource,
  type ExportStats,
} from '../archive/export.js';
import { parse, err, loadOrReport, openToRead, UsageError, collectEvery } from './common.js';
import type { CliCommand } from './index.js';
import { plural } from '../util.js';
import { formatSize } from '../digest/shape.js';

const HELP = `Usage: peerpost export -b BRIDGE [--thread ID] [--since DATE] [--until DATE] [--public] [-o FILE]

Write the posts of a bridge, oldest first, as an mboxrd mailbox (what mail readers,
public-inbox, mailman and Python's mailbox module read), to FILE or to standard output.
Each post is the message it was (mail, news) or would be (a chat line: From
"alice <alice@irc.invalid>", its Message-ID, Date, References). Events (joins, parts)
are left out. FILE ending in .gz is written gzip-compressed; it is written as
FILE.part and renamed when complete, so an export cut short never looks whole.

  -b, --bridge BRIDGE  the bridge
  --thread ID          only the thread this post (a Message-ID, with or without <>) is in
  --since DATE         only posts dated at or after DATE (2026-01-01, or 2026-01-01T12:00; UTC)
  --until DATE         only posts dated before DATE (a day: up to its end)
  --public             addresses as the bridge's public views show them (archive.addresses;
                       what the web's /b/NAME.mbox.gz serves); without it, the real addresses
  -o, --output FILE    write to FILE (else standard output)

Reads the store without writing to it, so it runs while peerpost runs. Exit 5 when the
bridge (or the thread) has no posts in the store and the config does not name it.
`;

async function run(args: string[]): Promise<number> {
  const { values } = parse(args, {
    bridge: { type: 'string', short: 'b' },
    thread: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    public: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  const bridge = values.bridge;
  if (!bridge) throw new UsageError('which bridge? give -b BRIDGE');
  const filter: ArchiveFilter = { bridge };
  if (values.thread !== undefined) {
    const id = values.thread.trim().replace(/^<(.*)>$/, '$1');
    if (!id) throw new UsageError('--thread takes a Message-ID');
    filter.thread = id;
  }
  for (const which of ['since', 'until'] as const) {
    const v = values[which];
    if (v === undefined) continue;
    const at = dateBound(v, which);
    if (at === undefined)
      throw new UsageError(`--${which} takes a date (2026-01-31) or a date and time (2026-01-31T12:00), not "${v}"`);
    filter[which] = at;
  }
  if (filter.since && filter.until && filter.since >= filter.until)
    throw new UsageError(`--since ${values.since} is not before --until ${values.until}: no post could match`);
  const file = values.output;
  if (file === undefined && process.stdout.isTTY)
    throw new UsageError('standard output is a terminal: give -o FILE (FILE.gz for gzip), or redirect it (> FILE)');

  const found = findConfig({ given: values.config });
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  const configured = config.bridges[bridge];
  const store = openToRead(found, config);
  try {
    if (!configured && store.countPosts(bridge) === 0) {
      err(
        `peerpost export: there is no bridge "${bridge}": the config does not name it and the store holds no post of it`,
      );
      return EXIT.NOT_FOUND;
    }
    if (
      filter.thread !== undefined &&
      store.archivePage({ bridge, thread: filter.thread }, undefined, 1).posts.length === 0
    ) {
      err(`peerpost export: bridge ${bridge} holds no thread <${filter.thread}> (no post of it, and no reply to it)`);
      return EXIT.NOT_FOUND;
    }
    const addresses = values.public ? (configured?.archive.addresses ?? 'obfuscate') : 'show';
    const src: ExportSource = {
      page: (f, after, limit) => store.archivePage(f, after, limit),
      subject: (id) => store.getPost(id)?.subject,
    };
    const opts = { filter, addresses, afterPage: collectEvery(2) } as const;
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let stats: ExportStats;
    try {
      stats = file
        ? await exportToFile(src, opts, file, stop.signal)
        : await exportTo(src, opts, process.stdout, { end: false, signal: stop.signal });
    } catch (e) {
      const where = file ? `${file} was not written (nothing is left of it)` : 'standard output has part of it';
      if (stop.signal.aborted) err(`peerpost export: stopped; ${where}`);
      else if ((e as NodeJS.ErrnoException).code === 'EPIPE')
        err('peerpost export: the program reading standard output stopped reading; the export is incomplete');
      else err(`peerpost export: ${(e as Error).message}; ${where}`);
      return EXIT.FAILED;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const span = stats.first ? `, dated ${stats.first.slice(0, 10)} to ${stats.last!.slice(0, 10)}` : '';
    err(
      `exported ${plural(stats.messages, 'message')} of bridge ${bridge}${filter.thread ? ` (thread <${filter.thread}>)` : ''}${span}, ` +
        `${values.public ? `addresses as its public views show them (${addresses})` : 'with the real addresses'}, ` +
        `to ${file ?? 'standard output'} (${formatSize(stats.bytes)} of mbox text${file && /\.gz$/i.test(file) ? ', gzip' : ''})`,
    );
    return EXIT.OK;
  } finally {
    store.close();
  }
}

export const exportCommand: CliCommand = {
  name: 'export',
  summary: "write a bridge's archive (or one thread) as an mbox file",
  help: HELP,
  run,
};
