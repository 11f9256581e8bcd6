/**
 * A mail or news message (RFC 5322, MIME) turned into what a post needs, with
 * mailparser (issue 4, "Parsing"; moved to the core for the archive's import, issue 15): text/plain preferred, HTML-only mail made readable text, RFC 2047
 * words decoded, any charset to UTF-8, attachments listed. Quoted text and
 * signatures stay in the body: the core's announce shape leaves them out where
 * a post is shown short (chat).
 *
 * Bad input is refused with a reply code and a reason a person can act on, or
 * taken safely; nothing in here throws for anything a client can send.
 */
import type { ParsedMail, AddressObject } from 'mailparser';

/**
 * mailparser (with iconv-lite, libmime, htmlparser2) is loaded on the first message parsed, not when the plugin API
 * is imported: a daemon that parses no mail does not carry it (some 10 MB).
 */
let mailparser: Promise<typeof import('mailparser')> | undefined;
const simpleParser: (typeof import('mailparser'))['simpleParser'] = (async (...args: unknown[]) => {
  mailparser ??= import('mailparser');
  return ((await mailparser).simpleParser as (...a: unknown[]) => Promise<ParsedMail>)(...args);
}) as never;
import { bareId, idProblem, type Attachment, type IncomingPost } from '../post.js';

/** Largest header section taken (RFC 5322 has no limit; a real mail's is a few KB). */
export const MAX_HEADER_BYTES = 64 * 1024;

export interface Refusal {
  code: number;
  /** Enhanced status code (RFC 3463). */
  status: string;
  message: string;
}

export interface ParsedMessage {
  /** The Message-ID without <>, when the mail had a usable one. */
  id?: string;
  /** Why a Message-ID present in the mail was not used (a new one is minted). */
  idNote?: string;
  from?: { name: string; address: string };
  subject: string;
  body: string;
  inReplyTo?: string;
  references: string[];
  date?: Date;
  attachments: Attachment[];
  /** The content of each attachment, in the order of `attachments` (the list keeps them: plugins/mail/attachments.ts). */
  files: { filename: string; contentType: string; content: Buffer }[];
  /** Auto-Submitted other than "no", or Precedence bulk/junk: never answered, never posted. */
  autoSubmitted: boolean;
  /** Lower-cased List-Id values (without <>) and X-Loop values. */
  listIds: string[];
  xLoops: string[];
  /** X-Peerpost-Node values: the peerpost nodes that wrote this mail (lower-cased). */
  nodes: string[];
  /** A digest written by a peerpost node (X-Peerpost-Node and X-Peerpost-Kind: digest): it stays a digest here. */
  digest: boolean;
  /** Raw header lines by lower-case name (unfolded), for a few checks. */
  header(name: string): string[];
}

/** Remove CR, LF and other control characters from a one-line value (a subject, a name). */
export function oneLine(s: string): string {
  return s
    .replace(/[\x00-\x1f\x7f\u2028\u2029]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Body text: "\n" line ends, no NULs or other control characters but tab and newline. */
export function cleanBody(s: string): string {
  return s
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n+$/, '');
}

/** The header section of a raw message: up to the first empty line. */
export function headerSection(raw: Buffer): Buffer {
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x0a) continue;
    if (raw[i + 1] === 0x0a) return raw.subarray(0, i + 1);
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return raw.subarray(0, i + 1);
  }
  return raw;
}

/** Unfolded header lines of a raw header section, as [lower-case name, value]. */
export function rawHeaders(section: Buffer): [string, string][] {
  const out: [string, string][] = [];
  for (const line of section.toString('latin1').split(/\r?\n(?![ \t])/)) {
    const m = /^([\x21-\x39\x3b-\x7e]+):[ \t]*([\s\S]*)$/.exec(line);
    if (m) out.push([m[1]!.toLowerCase(), m[2]!.replace(/\r?\n[ \t]+/g, ' ').trim()]);
  }
  return out;
}

function msgIds(v: string | string[] | undefined): string[] {
  const all = (Array.isArray(v) ? v : v ? [v] : []).flatMap((s) => s.match(/<[^<>\s]+>/g) ?? s.split(/\s+/));
  return all.map(bareId).filter((id) => id && !idProblem(id));
}

const refuse = (code: number, status: string, message: string): Refusal => ({ code, status, message });

/** Parse one received message; a Refusal when it cannot be taken at all. */
export async function parseMessage(raw: Buffer): Promise<ParsedMessage | Refusal> {
  const section = headerSection(raw);
  if (section.length > MAX_HEADER_BYTES)
    return refuse(
      552,
      '5.3.4',
      `the header section is ${Math.round(section.length / 1024)} KB; this list takes at most ${MAX_HEADER_BYTES / 1024} KB of headers`,
    );
  const headers = rawHeaders(section);
  const header = (name: string) => headers.filter(([n]) => n === name).map(([, v]) => v);
  const ids = header('message-id');
  if (ids.length > 1)
    return refuse(554, '5.6.0', `the message has ${ids.length} Message-ID headers; RFC 5322 allows one`);
  if (header('from').length > 1)
    return refuse(554, '5.6.0', `the message has ${header('from').length} From headers; RFC 5322 allows one`);

  let p: ParsedMail;
  try {
    p = await simpleParser(raw, {
      skipHtmlToText: false,
      skipTextToHtml: true,
      skipImageLinks: true,
      skipTextLinks: true,
      maxHtmlLengthToParse: 2 * 1024 * 1024,
    });
  } catch (err) {
    return refuse(
      554,
      '5.6.0',
      `the message could not be read as MIME: ${oneLine((err as Error).message).slice(0, 200)}`,
    );
  }

  const fromObj = (Array.isArray(p.from) ? p.from[0] : p.from) as AddressObject | undefined;
  const first = fromObj?.value.find((a) => a.address);
  const from = first?.address
    ? { name: oneLine(first.name ?? '').slice(0, 200), address: oneLine(first.address).slice(0, 254) }
    : undefined;

  let id: string | undefined;
  let idNote: string | undefined;
  if (ids.length === 1) {
    const bare = bareId(ids[0]!);
    const problem = idProblem(bare);
    if (problem) idNote = `${problem}; a new Message-ID was given`;
    else id = bare;
  }
  const references = msgIds(p.references);
  const inReplyTo = msgIds(p.inReplyTo)[0] ?? references[references.length - 1];

  let body = typeof p.text === 'string' ? p.text : '';
  if (!body.trim() && typeof p.html === 'string') body = '(an HTML message with no text)';
  const parts = (p.attachments ?? []).filter((a) => !(a.related && a.contentDisposition === 'inline'));
  const attachments: Attachment[] = parts.map((a) => ({
    filename: oneLine(a.filename ?? 'unnamed').slice(0, 200) || 'unnamed',
    contentType: oneLine(a.contentType ?? 'application/octet-stream').slice(0, 100),
    size: a.size ?? a.content?.length ?? 0,
  }));
  const files = parts.map((a, i) => ({
    filename: attachments[i]!.filename,
    contentType: attachments[i]!.contentType,
    content: Buffer.isBuffer(a.content) ? a.content : Buffer.alloc(0),
  }));

  const autoHeader = header('auto-submitted').map((v) => v.toLowerCase().split(';')[0]!.trim());
  const precedence = header('precedence').map((v) => v.toLowerCase().trim());
  const autoSubmitted =
    autoHeader.some((v) => v !== 'no') ||
    precedence.some((v) => v === 'bulk' || v === 'junk') ||
    header('x-autoreply').length > 0 ||
    header('x-autorespond').length > 0;

  const date =
    p.date && !Number.isNaN(p.date.getTime()) && p.date.getTime() < Date.now() + 86_400_000 && p.date.getTime() > 0
      ? p.date
      : undefined;

  return {
    ...(id ? { id } : {}),
    ...(idNote ? { idNote } : {}),
    ...(from ? { from } : {}),
    subject: oneLine(p.subject ?? '').slice(0, 998),
    body: cleanBody(body),
    ...(inReplyTo ? { inReplyTo } : {}),
    references,
    ...(date ? { date } : {}),
    attachments,
    files,
    autoSubmitted,
    listIds: header('list-id').map((v) => (/<([^<>]+)>/.exec(v)?.[1] ?? v).trim().toLowerCase()),
    xLoops: header('x-loop').map((v) => (/<([^<>]+)>/.exec(v)?.[1] ?? v).trim().toLowerCase()),
    nodes: header('x-peerpost-node').map((v) => v.trim().toLowerCase()),
    digest:
      header('x-peerpost-node').length > 0 &&
      header('x-peerpost-kind').some((v) => v.trim().toLowerCase() === 'digest'),
    header,
  };
}

export const isRefusal = (x: ParsedMessage | Refusal): x is Refusal => 'code' in x && 'status' in x;

/**
 * The IncomingPost of a parsed message arriving at `target`: author from From (else `fallbackSender`), subject,
 * body, Message-ID (when usable), In-Reply-To and References, Date, the attachments' names; a digest written by a
 * peerpost node stays a digest, and each X-Peerpost-Node header counts as a relay crossed.
 */
export function messagePost(m: ParsedMessage, target: string, via = 'mail', fallbackSender = ''): IncomingPost {
  const address = m.from?.address ?? fallbackSender;
  const at = address.lastIndexOf('@');
  const local = at > 0 && at < address.length - 1 ? address.slice(0, at) : undefined;
  const name = m.from?.name || local || address || 'unknown';
  return {
    target,
    author: { name, ...(address ? { address } : {}), via },
    ...(m.subject ? { subject: m.subject } : {}),
    body: m.body,
    kind: m.digest ? 'digest' : 'message',
    ...(m.id ? { id: m.id } : {}),
    ...(m.inReplyTo ? { inReplyTo: m.inReplyTo } : {}),
    references: m.references,
    ...(m.date ? { date: m.date } : {}),
    attachments: m.attachments,
    // Written by another peerpost node: one relay crossed at least (the core refuses past node.maxHops).
    ...(m.nodes.length ? { hops: m.nodes.length } : {}),
  };
}
