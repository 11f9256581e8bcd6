/**
 * The archive's import (issue 15, "Carry in and out"): raw messages (from an mbox, a Maildir, an MH folder, or an
 * importer of a plugin such as a newsgroup) parsed into posts and stored in batches, each batch one transaction
 * (the core's group commit). Message-ID, Date, In-Reply-To and References are kept, so threads are; a message
 * without a usable Message-ID gets one derived from its content (stableId), so importing again adds nothing (the
 * store answers duplicate). What cannot be read or parsed is counted and named, and the import goes on.
 */
import { createHash } from 'node:crypto';
import type { IncomingPost } from '../post.js';
import type { IngestVerdict } from '../plugin.js';
import { headerSection, isRefusal, messagePost, parseMessage, rawHeaders } from '../message/parse.js';
import type { MailboxItem } from './mailbox.js';

/** What one raw item of an import is: a message, one the archive holds already (by id), or something unreadable. */
export type ImportItem = MailboxItem | { kind: 'held'; id: string; where: string; done: number };

/** Where a batch is stored: the core of this process, or the running daemon's (through its control socket). */
export type StoreBatch = (posts: IncomingPost[]) => Promise<IngestVerdict[]>;

export interface ImportCounts {
  /** Items read (messages, held ones, unreadable ones). */
  read: number;
  imported: number;
  /** Already in the archive. */
  duplicate: number;
  /** Refused by the core, by verdict code ("removed" for a tombstone, "loop", "invalid"…), and ignored by a filter. */
  refused: Record<string, number>;
  /** Unreadable or unparsable, each named with where it is and why. */
  unparsable: { where: string; reason: string }[];
  /** Set when the import stopped before the end: why (the store could not take a batch). */
  stopped?: string;
}

export const newCounts = (): ImportCounts => ({ read: 0, imported: 0, duplicate: 0, refused: {}, unparsable: [] });

/** Headers that differ between copies of one message in different mailboxes (delivery, flags, transport). */
const VOLATILE = new Set([
  'received',
  'return-path',
  'delivered-to',
  'status',
  'x-status',
  'x-keywords',
  'x-uid',
  'x-imap',
  'x-imapbase',
  'content-length',
  'lines',
  'x-mozilla-status',
  'x-mozilla-status2',
  'x-mozilla-keys',
  'xref',
  'path',
  'nntp-posting-host',
  'x-original-to',
]);

/**
 * The id of a message without a usable Message-ID, from its content: the SHA-256 of its header fields (but those
 * a mailbox or a server adds, VOLATILE: names lower-cased, values unfolded with runs of white space as one space)
 * and its body (line ends as "\n", trailing white space and trailing empty lines dropped, ">From " quoting of any
 * depth undone: mailboxes quote differently). The same message gives
 * the same id from an mbox, a Maildir or an MH folder, and on every run.
 */
export function stableId(raw: Buffer): string {
  const section = headerSection(raw);
  const h = createHash('sha256');
  for (const [name, value] of rawHeaders(section)) {
    if (VOLATILE.has(name)) continue;
    h.update(`${name}:${value.replace(/\s+/g, ' ').trim()}\n`);
  }
  h.update('\n');
  const body = raw
    .subarray(section.length)
    .toString('latin1')
    .replace(/^\r?\n/, '')
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t]+$/gm, '')
    .replace(/^>+From /gm, 'From ')
    .replace(/\n+$/, '');
  h.update(body, 'latin1');
  return `${h.digest('hex').slice(0, 40)}@import.invalid`;
}

/** One raw message as the post to store, or why it cannot be one. */
export async function importPost(
  raw: Buffer,
  via: string,
): Promise<{ post: IncomingPost; note?: string } | { reason: string }> {
  let m;
  try {
    m = await parseMessage(raw);
  } catch (err) {
    return { reason: `it could not be parsed: ${(err as Error).message.slice(0, 200)}` };
  }
  if (isRefusal(m)) return { reason: m.message };
  const post = messagePost(m, 'import', via);
  if (!post.id) post.id = stableId(raw);
  return { post, ...(m.idNote ? { note: m.idNote } : {}) };
}

export interface ImportOptions {
  /** The protocol the messages came by, for the author's `via`: "mail" (a mailbox) or "nntp" (a newsgroup). */
  via: string;
  /** Posts per batch (one transaction each); a batch also ends at `batchBytes` of text. */
  batch?: number;
  batchBytes?: number;
  /** Messages parsed at once (mailparser works asynchronously: a few at a time keep the process busy). */
  parallel?: number;
  /** After each stored batch: the counts so far, and the last item's `done` (progress). */
  progress?: (counts: ImportCounts, done: number) => void;
  /** A batch the store answered "try later" for is tried again this many times (a second apart) before stopping. */
  retries?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Store the posts of `items` (one source) through `store`, adding to `counts`. Resolves at the end or a stop. */
export async function importItems(
  items: AsyncIterable<ImportItem>,
  store: StoreBatch,
  counts: ImportCounts,
  opts: ImportOptions,
): Promise<void> {
  const batchSize = opts.batch ?? 500;
  const batchBytes = opts.batchBytes ?? 4 * 1024 * 1024;
  const parallel = opts.parallel ?? 8;
  const retries = opts.retries ?? 5;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let raws: { raw: Buffer; where: string }[] = [];
  let posts: IncomingPost[] = [];
  let bytes = 0;
  let done = 0;

  const parse = async () => {
    const parsed = await Promise.all(raws.map((r) => importPost(r.raw, opts.via)));
    parsed.forEach((p, i) => {
      if ('reason' in p) counts.unparsable.push({ where: raws[i]!.where, reason: p.reason });
      else posts.push(p.post);
    });
    raws = [];
  };

  const flush = async (): Promise<boolean> => {
    await parse();
    let todo = posts;
    posts = [];
    bytes = 0;
    for (let attempt = 0; todo.length; attempt++) {
      const verdicts = await store(todo);
      const again: IncomingPost[] = [];
      let why = '';
      verdicts.forEach((v, i) => {
        switch (v.status) {
          case 'accepted':
            counts.imported++;
            break;
          case 'duplicate':
            counts.duplicate++;
            break;
          case 'ignored':
            counts.refused.ignored = (counts.refused.ignored ?? 0) + 1;
            break;
          case 'rejected':
            counts.refused[v.code] = (counts.refused[v.code] ?? 0) + 1;
            break;
          case 'tempfail':
            again.push(todo[i]!);
            why = v.reason;
        }
      });
      if (!again.length) break;
      if (attempt >= retries) {
        counts.stopped = `the store did not take ${again.length} messages: ${why}`;
        return false;
      }
      await sleep(1000);
      todo = again;
    }
    opts.progress?.(counts, done);
    return true;
  };

  for await (const item of items) {
    counts.read++;
    done = item.done;
    if (item.kind === 'unreadable') counts.unparsable.push({ where: item.where, reason: item.reason });
    else if (item.kind === 'held') counts.duplicate++;
    else {
      raws.push({ raw: item.raw, where: item.where });
      bytes += item.raw.length;
      if (raws.length >= parallel) await parse();
    }
    if (posts.length + raws.length >= batchSize || bytes >= batchBytes) if (!(await flush())) return;
  }
  await flush();
}
