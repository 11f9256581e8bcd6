/**
 * The archive's export: the posts of a bridge (or of one thread), oldest first by place (migration 10: a live post
 * by when it arrived, an imported one by its own date; the order the pages and threads show), as an mboxrd file
 * (gzip when the name ends in .gz), for `peerpost export` and the web's /b/NAME.mbox.gz and /t/ID.mbox.gz. So an
 * imported archive exported back reads in its original order, with the live posts after it where they came.
 *
 * Streamed: the store is read in pages by (place, seq), from an index (posts_by_place, posts_by_thread), a few
 * hundred posts at a time, each page its own short read, so
 * a running daemon writes on undisturbed), each post becomes a message (src/archive/message.ts), and the text
 * goes to the destination through a stream pipeline that waits whenever the destination is slow (backpressure).
 * So memory stays flat however large the bridge: a page and a chunk, never the whole archive.
 *
 * Events (joins, parts, quits, nick changes) are not messages and stay out, as they do from search.
 */
import { indexedBy, jsonField, type SqlDatabase } from '../sql.js';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { AddressPolicy } from '../config/types.js';
import { toStored, type Post, type StoredPost, type StoredRow } from '../post.js';
import { threadKeyOf } from './thread.js';
import { messageText, postMessage, cleanAddress } from './message.js';
import { fromLine, mboxrdEntry } from './mboxrd.js';

/** Which posts an export takes. */
export interface ArchiveFilter {
  /** One bridge (an export without a thread names one). */
  bridge?: string;
  /** The thread of this post (by its root: src/migrations.ts, migration 4), in every bridge unless `bridge` says one. */
  thread?: string;
  /** Posts dated (their Date) at or after this instant (ISO 8601 UTC, as the store keeps `date`). */
  since?: string;
  /** Posts dated before this instant. */
  until?: string;
}

/** Where a page of an export ends: its last post's place (ms) and seq; the next page starts after it. */
export interface ArchivePosition {
  at: number;
  seq: number;
}

/** A page of an export: its posts, oldest first, and where it ends (undefined for an empty page). */
export interface ArchivePageOf {
  posts: StoredPost[];
  end?: ArchivePosition;
}

/** Before every place (a place may be negative: a post dated before 1970). */
const START: ArchivePosition = { at: Number.MIN_SAFE_INTEGER, seq: 0 };

/** Posts in a page: at most this many are read at once. */
export const PAGE_SIZE = 500;
/** Text is handed to the stream in chunks of about this many characters. */
const CHUNK_CHARS = 64 * 1024;

const statements = new WeakMap<SqlDatabase, ReturnType<typeof prepare>>();

function prepare(db: SqlDatabase) {
  const dates = `AND ${jsonField(db, 'data', 'kind')} IS DISTINCT FROM 'event'
     AND (CAST(@since AS TEXT) IS NULL OR date >= @since)
     AND (CAST(@until AS TEXT) IS NULL OR date < @until)`;
  return {
    bridge: db.prepare(
      `SELECT seq, received_at, data, placed_at FROM posts ${indexedBy(db, 'posts_by_place')}
       WHERE bridge = @bridge AND (placed_at, seq) > (@at, @seq) ${dates} ORDER BY placed_at, seq LIMIT @limit`,
    ),
    thread: db.prepare(
      `SELECT seq, received_at, data, placed_at FROM posts ${indexedBy(db, 'posts_by_thread')}
       WHERE thread = @thread AND (placed_at, seq) > (@at, @seq)
       AND (CAST(@bridge AS TEXT) IS NULL OR bridge = @bridge) ${dates} ORDER BY placed_at, seq LIMIT @limit`,
    ),
  };
}

/**
 * One page of the archive: up to `limit` posts matching the filter after `after` (undefined: from the first),
 * oldest first by place. The next page starts after the page's `end`; an empty page is the end.
 */
export function archivePage(
  db: SqlDatabase,
  filter: ArchiveFilter,
  after: ArchivePosition | undefined,
  limit: number,
): ArchivePageOf {
  let q = statements.get(db);
  if (!q) statements.set(db, (q = prepare(db)));
  const args = {
    bridge: filter.bridge ?? null,
    at: (after ?? START).at,
    seq: (after ?? START).seq,
    limit,
    since: filter.since ?? null,
    until: filter.until ?? null,
  };
  type Row = StoredRow & { placed_at: number };
  let rows: Row[];
  if (filter.thread !== undefined) {
    rows = q.thread.all({ ...args, thread: threadKeyOf(db, filter.thread) }) as Row[];
  } else {
    if (filter.bridge === undefined) throw new Error('an export names a bridge or a thread');
    rows = q.bridge.all(args) as Row[];
  }
  const last = rows[rows.length - 1];
  return { posts: rows.map(toStored), ...(last ? { end: { at: last.placed_at, seq: last.seq } } : {}) };
}

/** What an export reads: pages of posts, and a post's subject (a reply without one is "Re: " its root's). */
export interface ExportSource {
  page(filter: ArchiveFilter, after: ArchivePosition | undefined, limit: number): ArchivePageOf;
  subject(id: string): string | undefined;
}

export interface ExportOptions {
  filter: ArchiveFilter;
  /** show: the operator's export, real addresses; obfuscate or hide: a public view (src/archive/privacy.ts). */
  addresses: AddressPolicy;
  /** Only these posts (the web: posts of the bridges it serves); the others are passed over. */
  accept?: (p: StoredPost) => boolean;
  /** Where attachment n of a post can be downloaded, when known. */
  fileUrl?: (p: StoredPost, n: number) => string | undefined;
  pageSize?: number;
  /** Called after each page is written (the CLI collects garbage there: see src/cli/export.ts). */
  afterPage?: () => void;
}

export interface ExportStats {
  /** Messages written. */
  messages: number;
  /** Octets of mbox text written (before gzip). */
  bytes: number;
  /** The first and last post date written (ISO). */
  first?: string;
  last?: string;
}

/** The root of a post's thread as its references name it, when it is not the post itself. */
const rootOf = (p: Post) => p.references[0] ?? p.inReplyTo;

/** The mboxrd text of an export, in chunks; `stats` counts as it goes. */
export function* mboxrdChunks(src: ExportSource, opts: ExportOptions, stats: ExportStats): Generator<string> {
  const limit = opts.pageSize ?? PAGE_SIZE;
  // Subjects of thread roots, for replies without one (a small cache: a thread's replies come close together).
  const roots = new Map<string, string | undefined>();
  const rootSubject = (p: Post): string | undefined => {
    if (p.subject) return undefined;
    const id = rootOf(p);
    if (id === undefined) return undefined;
    if (!roots.has(id)) {
      if (roots.size >= 1000) roots.delete(roots.keys().next().value!);
      roots.set(id, src.subject(id));
    }
    return roots.get(id);
  };
  let after: ArchivePosition | undefined;
  let chunk = '';
  for (;;) {
    const { posts: page, end } = src.page(opts.filter, after, limit);
    if (page.length === 0 || !end) break;
    after = end;
    for (const p of page) {
      if (opts.accept && !opts.accept(p)) continue;
      const root = rootSubject(p);
      const m = postMessage(p, {
        addresses: opts.addresses,
        ...(root !== undefined ? { rootSubject: root } : {}),
        ...(opts.fileUrl ? { fileUrl: (n: number) => opts.fileUrl!(p, n) } : {}),
      });
      const sender = opts.addresses === 'show' && cleanAddress(p.author.address) ? p.author.address : undefined;
      chunk += mboxrdEntry(fromLine(sender, new Date(p.date)), messageText(m));
      stats.messages++;
      stats.first ??= p.date;
      stats.last = p.date;
      if (chunk.length >= CHUNK_CHARS) {
        stats.bytes += Buffer.byteLength(chunk);
        yield chunk;
        chunk = '';
      }
    }
    opts.afterPage?.();
    if (page.length < limit) break;
  }
  if (chunk) {
    stats.bytes += Buffer.byteLength(chunk);
    yield chunk;
  }
}

/** Write the export to a stream (standard output, an HTTP response), waiting for it as it drains. */
export async function exportTo(
  src: ExportSource,
  opts: ExportOptions,
  dest: Writable,
  o: { gzip?: boolean; end?: boolean; signal?: AbortSignal } = {},
): Promise<ExportStats> {
  const stats: ExportStats = { messages: 0, bytes: 0 };
  const text = Readable.from(mboxrdChunks(src, opts, stats), { objectMode: false, encoding: 'utf8' });
  const how = { end: o.end ?? true, ...(o.signal ? { signal: o.signal } : {}) };
  if (o.gzip) await pipeline(text, createGzip(), dest, how);
  else await pipeline(text, dest, how);
  return stats;
}

/**
 * A --since or --until bound (also the web's ?since= and ?until=) as an ISO instant: a day (2026-01-31) or a
 * date and time (2026-01-31T12:00, 2026-01-31 12:00:00Z; UTC unless it names a zone). A day as `until` takes the
 * whole day in. Undefined when the text is not a date.
 */
export function dateBound(text: string, which: 'since' | 'until'): string | undefined {
  const t = text.trim();
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (day) {
    const d = new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])));
    if (d.getUTCDate() !== Number(day[3]) || d.getUTCMonth() !== Number(day[2]) - 1) return undefined;
    if (which === 'until') d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString();
  }
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$/i.exec(t);
  if (!m) return undefined;
  const d = new Date(`${m[1]}T${m[2]}${m[3] ?? 'Z'}`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** A file name that asks for gzip. */
export const wantsGzip = (file: string) => /\.gz$/i.test(file);

/**
 * Write the export to FILE: first to FILE.part, renamed to FILE only once complete, so an export cut short (a
 * full disk, Ctrl-C) never looks whole; on failure the .part file is removed. Gzip when FILE ends in .gz.
 */
export async function exportToFile(
  src: ExportSource,
  opts: ExportOptions,
  file: string,
  signal?: AbortSignal,
): Promise<ExportStats> {
  const part = `${file}.part`;
  try {
    const stats = await exportTo(src, opts, createWriteStream(part, { flags: 'w' }), {
      gzip: wantsGzip(file),
      ...(signal ? { signal } : {}),
    });
    await rename(part, file);
    return stats;
  } catch (e) {
    await unlink(part).catch(() => undefined);
    throw e;
  }
}
