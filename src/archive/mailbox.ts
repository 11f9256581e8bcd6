/**
 * Reading an old list archive (issue 15, "Carry in and out"): mbox files (mboxrd and mboxo), Maildir folders
 * (cur/ and new/) and MH folders (numbered files), one message at a time. An mbox is streamed in chunks: memory
 * holds the message being read, never the file. What is not a mail message (a binary file in a Maildir, a message
 * too big, text before the first From_ line) is handed on as `unreadable`, named, and the reading goes on.
 *
 * mbox (RFC 4155): a message starts at a "From " line at the start of the file or after an empty line, when the
 * line looks like a From_ line ("From SENDER DATE", the date holding a time hh:mm); the empty line before it
 * belongs to the format, not to the message. mboxrd and mboxo cannot be told apart by their content (both write a
 * body line "From x" as ">From x"; they differ only in a body line that already began with ">From", which mboxrd
 * quotes once more and mboxo leaves), so the reader is told: `mboxrd` (the default: what peerpost's export,
 * public-inbox and mutt write) takes one ">" off every line matching ^>+"From "; `mboxo` (what Python's mailbox
 * and older tools write) takes the ">" off only ^>"From " (one ">"), and leaves ">>From" lines as they are.
 */
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export type MboxVariant = 'mboxrd' | 'mboxo';
export type MailboxFormat = 'mbox' | 'maildir' | 'mh';

/** Larger than this, a message is skipped as unreadable (a real archive's largest are a few MB). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export type MailboxItem =
  | {
      kind: 'message';
      raw: Buffer;
      /** Where it is, for a person: "archive.mbox at byte 1234", "Maildir/cur/1700000000.x:2,S". */
      where: string;
      /** Bytes of the source read so far (for progress: out of `Mailbox.bytes`). */
      done: number;
    }
  | { kind: 'unreadable'; where: string; reason: string; done: number };

export interface Mailbox {
  path: string;
  format: MailboxFormat;
  /** The size of what is read, in bytes (the mbox file, or every message file of the folder). */
  bytes: number;
  /** Message files of a Maildir or MH folder (an mbox: undefined, known only once read). */
  files?: number;
  read(): AsyncGenerator<MailboxItem>;
}

/** What cannot be read at all (no such path, a folder of no known shape): the import names it and goes on. */
export class MailboxError extends Error {}

/** Open a path: a file is an mbox; a folder is a Maildir (cur/ and new/) or an MH folder (numbered files). */
export async function openMailbox(path: string, opts: { mbox?: MboxVariant } = {}): Promise<Mailbox> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new MailboxError(`${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (st.isFile()) {
    const variant = opts.mbox ?? 'mboxrd';
    return { path, format: 'mbox', bytes: st.size, read: () => readMbox(path, variant) };
  }
  if (!st.isDirectory()) throw new MailboxError(`${path} is neither a file (an mbox) nor a folder (Maildir, MH)`);
  const names = await readdir(path);
  const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
  let files: string[];
  let format: MailboxFormat;
  if ((await isDir(join(path, 'cur'))) && (await isDir(join(path, 'new')))) {
    format = 'maildir';
    files = [];
    for (const sub of ['new', 'cur']) {
      const entries = (await readdir(join(path, sub))).filter((n) => !n.startsWith('.')).sort(byMaildirName);
      files.push(...entries.map((n) => join(sub, n)));
    }
  } else if (names.includes('.mh_sequences') || names.some((n) => /^\d+$/.test(n))) {
    format = 'mh';
    files = names.filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
  } else
    throw new MailboxError(
      `${path} is a folder, but neither a Maildir (it has no cur/ and new/) nor an MH folder (it has no numbered files)`,
    );
  let bytes = 0;
  const sizes: number[] = [];
  for (const f of files) {
    const s = await stat(join(path, f)).catch(() => undefined);
    sizes.push(s?.isFile() ? s.size : 0);
    bytes += sizes[sizes.length - 1]!;
  }
  return { path, format, bytes, files: files.length, read: () => readFiles(path, files, sizes) };
}

/** Maildir names begin with the time of delivery ("1700000000.M1P2.host:2,S"): in that order, then by name. */
function byMaildirName(a: string, b: string): number {
  const ta = Number(/^\d+/.exec(a)?.[0] ?? NaN);
  const tb = Number(/^\d+/.exec(b)?.[0] ?? NaN);
  if (ta !== tb && !Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Why these bytes are not a mail message (a binary file, no header), or undefined when they may be one. */
export function notAMessage(raw: Buffer): string | undefined {
  if (raw.length === 0) return 'it is empty';
  const head = raw.subarray(0, 8192);
  const nul = head.indexOf(0);
  if (nul >= 0) return `it is binary (a NUL byte at offset ${nul}), not a mail message`;
  // The first line is a header field: a name of printable characters but ":", then ":".
  const nl = head.indexOf(0x0a);
  const first = head.subarray(0, nl < 0 ? head.length : nl).toString('latin1');
  if (!/^[\x21-\x39\x3b-\x7e]+:/.test(first)) return 'it does not begin with a header field ("Name: value")';
  return undefined;
}

async function* readFiles(dir: string, files: string[], sizes: number[]): AsyncGenerator<MailboxItem> {
  let done = 0;
  for (let i = 0; i < files.length; i++) {
    const where = join(dir, files[i]!);
    done += sizes[i]!;
    if (sizes[i]! > MAX_MESSAGE_BYTES) {
      yield { kind: 'unreadable', where, reason: `it is larger than ${MAX_MESSAGE_BYTES >> 20} MB`, done };
      continue;
    }
    let raw: Buffer;
    try {
      const fh = await open(where, 'r');
      try {
        raw = await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      yield { kind: 'unreadable', where, reason: `it cannot be read (${e.code ?? e.message})`, done };
      continue;
    }
    const why = notAMessage(raw);
    if (why) yield { kind: 'unreadable', where, reason: why, done };
    else yield { kind: 'message', raw, where, done };
  }
}

const FROM_ = Buffer.from('From ');

/** A From_ line: "From " then a sender and a date with a time ("From alice@example.org Mon Jan  1 10:00:00 2001"). */
function isFromLine(line: Buffer): boolean {
  if (line.length < 8 || line.compare(FROM_, 0, 5, 0, 5) !== 0) return false;
  return /^From \S*\s.*\d\d?:\d\d/.test(line.subarray(0, 200).toString('latin1'));
}

const isBlank = (line: Buffer) => line.length === 1 || (line.length === 2 && line[0] === 0x0d);

/** How many ">" a line starts with before "From ", or 0. */
function fromQuotes(line: Buffer): number {
  let i = 0;
  while (i < line.length && line[i] === 0x3e) i++;
  return i > 0 && line.length >= i + 5 && line.compare(FROM_, 0, 5, i, i + 5) === 0 ? i : 0;
}

/** The messages of an mbox file, streamed. */
export async function* readMbox(file: string, variant: MboxVariant = 'mboxrd'): AsyncGenerator<MailboxItem> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  /** Byte offset of the current message's From_ line (-1: before the first one). */
  let start = -1;
  let prevBlank = true;
  let pos = 0;
  let rest: Buffer = Buffer.alloc(0);

  const finish = (done: number): MailboxItem | undefined => {
    const where = start < 0 ? `${file} before the first From line` : `${file} at byte ${start}`;
    if (tooBig)
      return { kind: 'unreadable', where, reason: `the message is larger than ${MAX_MESSAGE_BYTES >> 20} MB`, done };
    let raw = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    if (start < 0) {
      // Text before the first From_ line: nothing when blank, else named (a file that is no mbox at all, or a
      // damaged start).
      if (raw.toString('latin1').trim() === '') return undefined;
      return {
        kind: 'unreadable',
        where,
        reason: `${raw.length} bytes that belong to no message (an mbox starts with a "From " line)`,
        done,
      };
    }
    // The empty line before the next From_ line is the format's.
    if (raw.length >= 2 && raw[raw.length - 1] === 0x0a) {
      if (raw[raw.length - 2] === 0x0a) raw = raw.subarray(0, raw.length - 1);
      else if (raw.length >= 4 && raw.subarray(raw.length - 4).toString('latin1') === '\r\n\r\n')
        raw = raw.subarray(0, raw.length - 2);
    }
    const why = notAMessage(raw);
    return why ? { kind: 'unreadable', where, reason: why, done } : { kind: 'message', raw, where, done };
  };

  const take = (line: Buffer) => {
    if (tooBig) return;
    size += line.length;
    if (size > MAX_MESSAGE_BYTES) {
      tooBig = true;
      parts = [];
      return;
    }
    parts.push(line);
  };

  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    const base = pos - rest.length;
    let at = 0;
    for (let nl = buf.indexOf(0x0a, at); nl >= 0; nl = buf.indexOf(0x0a, at)) {
      const line = buf.subarray(at, nl + 1);
      const offset = base + at;
      at = nl + 1;
      if (prevBlank && line[0] === 0x46 && isFromLine(line)) {
        const item = finish(offset);
        if (item) yield item;
        start = offset;
        tooBig = false;
        prevBlank = false;
        continue;
      }
      prevBlank = isBlank(line);
      if (line[0] === 0x3e) {
        const q = fromQuotes(line);
        if (q > 0 && (variant === 'mboxrd' || q === 1)) {
          take(line.subarray(1));
          continue;
        }
      }
      take(line);
    }
    pos += chunk.length;
    // A line longer than a chunk stays whole in `rest` (copied, so the chunk can go).
    rest = Buffer.from(buf.subarray(at));
  }
  if (rest.length) take(rest);
  const last = finish(pos);
  if (last) yield last;
}
