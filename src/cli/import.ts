/**
 * `peerpost import -b BRIDGE [--deliver] [--mboxo] [--nntp URL]… [--json] [FILE|DIR…]`: an old archive (mbox,
 * Maildir, MH, or a newsgroup through a plugin's importer) into a bridge (src/archive/import.ts).
 *
 * How it writes: when a daemon answers on the control socket, each batch goes to it (`import` request) and its core
 * stores it as one group commit. The daemon stays the store's only writer, so its own commits (a mail being
 * acknowledged, an IRC line) never wait on a long import transaction or fail on a busy store, and with --deliver
 * its outbox starts the deliveries at once. With no daemon, the import opens the store itself and runs the same
 * core (one transaction per batch); with --deliver the outbox rows wait for the next start.
 */
import { findConfig } from '../config/find.js';
import type { PeerpostConfig } from '../config/types.js';
import { EXIT } from '../plugin.js';
import { createLogger } from '../log.js';
import { ask } from '../runtime/control.js';
import { ingestPipeline } from '../ingest/pipeline.js';
import { pluginsFor, routerFor } from '../runtime/plugins.js';
import { shippedDefinitions } from '../loader.js';
import type { Importer, ImportSource, IngestVerdict } from '../plugin.js';
import type { IncomingPost } from '../post.js';
import type { Store } from '../store.js';
import { formatDuration, plural } from '../util.js';
import { MailboxError, openMailbox, type Mailbox } from '../archive/mailbox.js';
import { importItems, newCounts, type ImportCounts, type ImportItem, type StoreBatch } from '../archive/import.js';
import { parse, out, err, loadOrReport, openStore, UsageError, collectEvery } from './common.js';
import type { CliCommand } from './index.js';

const HELP = `Usage: peerpost import -b BRIDGE [--deliver] [--mboxo] [--json] FILE|DIR…
       peerpost import -b BRIDGE [--deliver] --nntp news://[USER:PASSWORD@]HOST[:PORT]/GROUP

Read an old archive into a bridge: an mbox file, a Maildir folder (cur/ and new/)
or an MH folder (numbered files), or with --nntp a newsgroup of any news server
(nntps:// for TLS). Message-IDs, dates and threads (References, In-Reply-To) are
kept; a message without a Message-ID gets one made from its content, so running
the same import again adds nothing. A message that cannot be read is named (file
and byte offset) and skipped; the import goes on.

Nothing imported is sent anywhere: the posts join the archive (the web pages,
search, the news group) but no endpoint receives them, unless --deliver.

  --deliver   send the imported posts to the bridge's endpoints too
  --mboxo     the mbox is mboxo: only ">From " (one ">") is unquoted (default
              mboxrd: one ">" comes off every ">…>From " line)
  --nntp URL  import a newsgroup; given again, several
  --json      print the counts as JSON at the end

Through the running daemon when one runs (it stays the one writer of the store);
otherwise straight into the store (exit 7 when there is none).
Exit: 0 done (unreadable messages are named, not fatal), 2 a path or URL that
cannot be read (nothing imported), 4 stopped (the store did not take a batch;
what was stored stays, run it again to go on), 5 no such bridge.
`;

async function importerFor(config: PeerpostConfig, scheme: string): Promise<Importer | undefined> {
  const defs = [...(await pluginsFor(config)).values(), ...(await shippedDefinitions())];
  for (const d of defs) {
    const i = d.importers?.find((x) => x.scheme === scheme);
    if (i) return i;
  }
  return undefined;
}

interface Source {
  name: string;
  /** Total in its unit (bytes of a mailbox, articles of a group), when known. */
  total?: number;
  unit: 'bytes' | 'messages';
  items: AsyncIterable<ImportItem>;
  close?: () => Promise<void>;
}

function describe(m: Mailbox): string {
  if (m.format === 'mbox') return `${m.path} (mbox, ${(m.bytes / 1048576).toFixed(1)} MB)`;
  return `${m.path} (${m.format === 'mh' ? 'MH' : 'Maildir'}, ${plural(m.files ?? 0, 'file')})`;
}

/** The progress bar's line on a terminal: counts, rate and (the total known) the share done and the time left. */
export function progressLine(c: ImportCounts, elapsedMs: number, fraction: number | undefined): string {
  const s = elapsedMs / 1000;
  const stored = c.imported + c.duplicate;
  const rate = s > 0 ? Math.round(c.read / s) : 0;
  const refused = Object.values(c.refused).reduce((a, b) => a + b, 0);
  let line = `${c.read} read: ${c.imported} imported, ${c.duplicate} already there`;
  if (refused) line += `, ${refused} refused`;
  if (c.unparsable.length) line += `, ${c.unparsable.length} unreadable`;
  line += ` · ${rate} messages/s`;
  if (fraction !== undefined && fraction > 0 && stored > 0) {
    const left = (s / fraction) * (1 - fraction) * 1000;
    line += ` · ${Math.min(100, Math.floor(fraction * 100))}% · ETA ${formatDuration(Math.max(0, left))}`;
  }
  return line;
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      bridge: { type: 'string', short: 'b' },
      deliver: { type: 'boolean' },
      mboxo: { type: 'boolean' },
      nntp: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    },
    true,
  );
  if (values.help) {
    out(HELP);
    return EXIT.OK;
  }
  if (!values.bridge) throw new UsageError('which bridge? give -b BRIDGE');
  const urls = values.nntp ?? [];
  if (!positionals.length && !urls.length)
    throw new UsageError('what to import? name an mbox, a Maildir or MH folder, or --nntp URL');
  const found = findConfig({ given: values.config });
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  const bridge = values.bridge;
  if (!config.bridges[bridge]) {
    err(
      `peerpost import: there is no bridge "${bridge}" in ${found.file} (bridges: ${Object.keys(config.bridges).join(', ') || 'none'}); nothing was imported`,
    );
    return EXIT.NOT_FOUND;
  }
  const deliver = values.deliver ?? false;
  const log = createLogger({ level: values.verbose ? 'info' : 'warn', pretty: false, destination: process.stderr });

  // The daemon, when one runs, stores the batches; else this process does.
  const daemon = (await ask(config.node.data, { cmd: 'status' }).catch(() => undefined)) !== undefined;
  const store: Store = openStore(found, config);
  const sources: Source[] = [];
  const closeAll = async () => {
    for (const s of sources) await s.close?.().catch(() => undefined);
  };
  let keeperClose: (() => void) | undefined;
  try {
    // Every source is opened before anything is imported: a wrong path or URL stops here, with nothing done.
    for (const p of positionals) {
      try {
        const m = await openMailbox(p, { mbox: values.mboxo ? 'mboxo' : 'mboxrd' });
        sources.push({ name: describe(m), total: m.bytes, unit: 'bytes', items: m.read() });
      } catch (e) {
        if (e instanceof MailboxError) {
          await closeAll();
          err(`peerpost import: ${e.message}; nothing was imported`);
          return EXIT.USAGE;
        }
        throw e;
      }
    }
    for (const u of urls) {
      let url: URL;
      try {
        url = new URL(u);
      } catch {
        await closeAll();
        throw new UsageError(`--nntp ${u} is not a URL (news://HOST[:PORT]/GROUP)`);
      }
      const scheme = url.protocol.replace(/:$/, '');
      const importer = await importerFor(config, scheme);
      if (!importer) {
        await closeAll();
        throw new UsageError(`no plugin imports ${scheme}:// URLs (news:// and nntps:// are the nntp plugin's)`);
      }
      let src: ImportSource;
      try {
        src = await importer.open(url, { log, has: (id) => store.hasPost(id) });
      } catch (e) {
        await closeAll();
        err(`peerpost import: ${u}: ${(e as Error).message}; nothing was imported`);
        return EXIT.USAGE;
      }
      sources.push({
        name: `${url.protocol}//${url.host}${url.pathname}${src.total !== undefined ? ` (${plural(src.total, 'article')})` : ''}`,
        ...(src.total !== undefined ? { total: src.total } : {}),
        unit: 'messages',
        items: src.items,
        close: () => src.close(),
      });
    }

    let local: StoreBatch | undefined;
    const inProcess = async (): Promise<StoreBatch> => {
      if (local) return local;
      const router = routerFor(config, await pluginsFor(config));
      const { core, keeper } = ingestPipeline(store, router, config, undefined, { core: log, digests: log });
      keeperClose = () => keeper.close();
      local = (posts: IncomingPost[]) =>
        Promise.all(posts.map((p) => core.inject(bridge, p, 'import', { deliver, imported: true })));
      return local;
    };
    let viaDaemon = daemon;
    const collect = collectEvery(2);
    const storeBatch: StoreBatch = async (posts) => {
      collect?.();
      if (viaDaemon) {
        const answer = (await ask(config.node.data, { cmd: 'import', bridge, deliver, posts }, 300_000)) as
          IngestVerdict[] | { error: string } | undefined;
        if (answer !== undefined && !Array.isArray(answer))
          throw new Error(`peerpost refused the batch: ${answer.error}`);
        if (answer !== undefined) return answer;
        // The daemon stopped during the import: go on straight into the store.
        viaDaemon = false;
        log.warn('the daemon stopped answering; the import goes on straight into the store');
      }
      return (await inProcess())(posts);
    };

    const tty = process.stderr.isTTY && !values.json;
    if (tty || values.verbose)
      err(
        `importing into bridge ${bridge}${daemon ? ' through the running daemon' : ''}: ${sources.map((s) => s.name).join(', ')}`,
      );
    const counts = newCounts();
    const started = performance.now();
    const sameUnit = sources.every((s) => s.unit === sources[0]!.unit && s.total !== undefined);
    const grand = sameUnit ? sources.reduce((a, s) => a + s.total!, 0) : undefined;
    let before = 0;
    let lastShown = 0;
    for (const s of sources) {
      await importItems(s.items, storeBatch, counts, {
        via: s.unit === 'messages' ? 'nntp' : 'mail',
        progress: (c, done) => {
          if (!tty) return;
          const now = performance.now();
          if (now - lastShown < 200) return;
          lastShown = now;
          const fraction = grand ? (before + done) / grand : undefined;
          process.stderr.write(`\r\x1b[K${progressLine(c, performance.now() - started, fraction)}`);
        },
      });
      before += s.total ?? 0;
      await s.close?.();
      if (counts.stopped) break;
    }
    if (tty) process.stderr.write('\r\x1b[K');
    const seconds = (performance.now() - started) / 1000;
    const refused = Object.values(counts.refused).reduce((a, b) => a + b, 0);
    if (values.json) {
      out(
        JSON.stringify({
          bridge,
          delivered: deliver,
          read: counts.read,
          imported: counts.imported,
          duplicate: counts.duplicate,
          refused: counts.refused,
          unparsable: counts.unparsable,
          seconds: Math.round(seconds * 10) / 10,
          ...(counts.stopped ? { stopped: counts.stopped } : {}),
        }),
      );
    } else {
      const rate = seconds > 0 ? Math.round(counts.read / seconds) : counts.read;
      out(
        `${plural(counts.imported, 'message')} imported into bridge ${bridge}, ${counts.duplicate} already there` +
          (refused
            ? `, ${refused} refused (${Object.entries(counts.refused)
                .map(([code, n]) => `${code}: ${n}`)
                .join(', ')})`
            : '') +
          `, ${counts.unparsable.length} unreadable — ${counts.read} read in ${formatDuration(seconds * 1000)} (${rate} messages/s)`,
      );
      for (const u of counts.unparsable.slice(0, 20)) out(`  unreadable: ${u.where}: ${u.reason}`);
      if (counts.unparsable.length > 20)
        out(`  … and ${counts.unparsable.length - 20} more unreadable (--json lists them all)`);
      if (counts.imported)
        out(
          deliver
            ? daemon
              ? 'they are being delivered to the endpoints of the bridge'
              : 'they are delivered to the endpoints of the bridge when peerpost next starts'
            : 'nothing was delivered: they are in the archive only (--deliver sends them to the endpoints)',
        );
    }
    if (counts.stopped) {
      err(
        `peerpost import: stopped: ${counts.stopped}. What was imported stays; run the same import again to go on (what is there is skipped).`,
      );
      return EXIT.FAILED;
    }
    return EXIT.OK;
  } finally {
    keeperClose?.();
    await closeAll();
    store.close();
  }
}

export const importCommand: CliCommand = {
  name: 'import',
  summary: 'read an old archive (mbox, Maildir, MH, a newsgroup) into a bridge',
  help: HELP,
  run,
};
