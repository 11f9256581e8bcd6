/**
 * Header values and whole list messages, built safely from post content.
 *
 * Nothing from a post reaches a header line unsanitised: CR, LF and other
 * control characters become spaces, non-ASCII text becomes RFC 2047 encoded
 * words, and lines are folded at 78 characters (never inside a word of ours).
 * So a subject "hi\r\nBcc: x" stays one Subject header: "hi Bcc: x".
 */
import { encodeWord, quoteString, buildHeaderValue } from 'nodemailer/lib/mime-funcs';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import { createHash, randomBytes } from 'node:crypto';
import { formatSize, idProblem, type Post } from '../../../src/plugin.js';

/** Line length headers are folded to (RFC 5322 section 2.1.1 "SHOULD be no more than 78"). */
export const FOLD_AT = 78;
/** A header value longer than this (after cleaning) is cut, with an ellipsis. */
export const MAX_VALUE_CHARS = 900;

const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f\u0085\u2028\u2029]/g;

/** One line of text fit for a header: controls (CR and LF above all) turned into spaces, runs of space collapsed, trimmed, capped. */
export function cleanText(s: string, max = MAX_VALUE_CHARS): string {
  let t = s
    .replace(CONTROL, ' ')
    .replace(/[ \t]+/g, ' ')
    .trim();
  if (t.length > max) t = `${[...t.slice(0, max - 1)].join('').replace(/[\ud800-\udbff]$/, '')}…`;
  return t;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** An unstructured header value (Subject): ASCII as it is, anything else (or a word too long to fold) as encoded words. */
export function encodeUnstructured(text: string): string {
  const t = cleanText(text);
  const longWord = t.split(' ').some((w) => w.length > FOLD_AT - 12);
  if (PRINTABLE_ASCII.test(t) && !longWord && !/=\?/.test(t)) return t;
  return encodeWord(t, 'Q', 52);
}

/** A display name (phrase): always a quoted string when ASCII ("alice via commons"), encoded words otherwise. Empty gives ''. */
export function encodePhrase(name: string): string {
  const t = cleanText(name, 200);
  if (t === '') return '';
  if (PRINTABLE_ASCII.test(t) && !/=\?/.test(t)) return quoteString(t);
  return encodeWord(t, 'Q', 52);
}

/** A mail address fit for a header (and an envelope): no spaces, controls, angle brackets, commas or quotes-with-tricks. */
export function safeAddress(address: string): string | undefined {
  const a = address.trim();
  if (a.length > 254 || !/^[^\s<>(),;:\\"[\]\u0000-\u001f\u007f]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(a))
    return undefined;
  return a;
}

/** "Name" <address>, or <address> when the name is empty. The address must already be safe. */
export function formatAddress(name: string, address: string): string {
  const p = encodePhrase(name);
  return p ? `${p} <${address}>` : `<${address}>`;
}

/** A Message-ID (bare) in angle brackets, or undefined when it cannot be one (the core's own rule: printable ASCII, left@right, at most 250 octets). */
export function msgId(id: string): string | undefined {
  const t = id.trim().replace(/^<|>$/g, '');
  return idProblem(t) === undefined ? `<${t}>` : undefined;
}

/** "Name: value" folded at spaces to FOLD_AT characters a line, CRLF-terminated. */
export function headerLine(name: string, value: string): string {
  const words = value.split(' ');
  const lines: string[] = [];
  let line = `${name}:`;
  let first = true;
  for (const w of words) {
    if (w === '') continue;
    if (!first && line.length + 1 + w.length > FOLD_AT) {
      lines.push(line);
      line = ` ${w}`;
    } else {
      line += ` ${w}`;
    }
    first = false;
  }
  lines.push(line);
  return `${lines.join('\r\n')}\r\n`;
}

/** RFC 5322 date-time in UTC: "Fri, 27 Nov 2026 07:30:36 +0000". */
export function rfc5322Date(iso: string | Date): string {
  const d = iso instanceof Date ? iso : new Date(iso);
  const ok = Number.isFinite(d.getTime()) ? d : new Date();
  return ok.toUTCString().replace(/GMT$/, '+0000');
}

/** The body as MIME text/plain: 7bit when plain ASCII with short lines, quoted-printable otherwise. CRLF line ends. */
export function encodeBody(text: string): { cte: '7bit' | 'quoted-printable'; data: string } {
  const crlf = text.replace(/\r\n|\r|\n/g, '\r\n');
  const withEnd = crlf.endsWith('\r\n') ? crlf : `${crlf}\r\n`;
  const ascii = /^[\x09\x0d\x0a\x20-\x7e]*$/.test(withEnd) && !/[^\r]\n|\r[^\n]/.test(withEnd);
  const shortLines = withEnd.split('\r\n').every((l) => l.length <= 998);
  if (ascii && shortLines) return { cte: '7bit', data: withEnd };
  return { cte: 'quoted-printable', data: qpWrap(qpEncode(Buffer.from(withEnd, 'utf8')), 76) };
}

// ---- the list message ----

export interface ListInfoLike {
  name: string;
  address: string;
  description: string;
  subjectTag: string | false;
}

export interface LinksLike {
  archive?: string;
  post?(id: string): string;
  unsubscribe?(token: string): string;
}

/** Who the message is From, and whom replies go to. */
export interface FromChoice {
  from: string;
  replyTo?: string;
}

/** The list's own addresses. */
export function listAddresses(address: string): {
  local: string;
  domain: string;
  post: string;
  request: string;
  join: string;
  leave: string;
  owner: string;
  bounces: string;
} {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  return {
    local,
    domain,
    post: address,
    request: `${local}-request@${domain}`,
    join: `${local}-join@${domain}`,
    leave: `${local}-leave@${domain}`,
    owner: `${local}-owner@${domain}`,
    bounces: `${local}-bounces@${domain}`,
  };
}

const VIA_LABEL: Record<string, string> = {
  irc: 'IRC',
  nntp: 'news',
  news: 'news',
  finger: 'finger',
  web: 'web',
  cli: 'cli',
  mail: 'mail',
};

/** "IRC #commons", "news peerpost.commons": where a post came from, for the From display name. */
export function originLabel(post: Pick<Post, 'author' | 'origin'>): string {
  const via = VIA_LABEL[post.author.via] ?? post.author.via;
  // Put in from outside any endpoint (`peerpost post`): no place to name.
  if (!post.origin.account.includes('.')) return cleanText(via, 80);
  return cleanText(`${via} ${post.origin.target}`, 80);
}

/** The subject with the list tag, not repeated when already there ("Re: [commons] x"). */
/**
 * A digest's subject starts with its places in brackets ("[#commons] conversation, …"); with a list tag that
 * would read "[commons] [#commons] conversation": the places lose their brackets ("[commons] #commons: conversation, …").
 */
export function untagDigest(subject: string, tag: string | false): string {
  if (!tag) return subject;
  return subject.replace(/^\[([^\]]+)\]\s*/, (_, places: string) => `${places}: `);
}

export function taggedSubject(subject: string, tag: string | false): string {
  const s = cleanText(subject);
  if (!tag) return s;
  const t = cleanText(tag, 60);
  if (t === '' || s.toLowerCase().includes(t.toLowerCase())) return s;
  return `${t} ${s}`;
}

/** A subject for a post that has none (a chat line): its first words. */
export function subjectFromBody(post: Pick<Post, 'body' | 'author' | 'kind'>): string {
  const first = post.body.split('\n').find((l) => l.trim() !== '') ?? '';
  const line = cleanText(first, 200);
  const base = post.kind === 'action' ? `* ${cleanText(post.author.name, 60)} ${line}` : line;
  if (base === '') return '(no subject)';
  return base.length > 72 ? `${base.slice(0, 71).replace(/\s+\S*$/, '')}…` : base;
}

/** The content of one of a post's attachments (index `n` in `post.attachments`), kept by the list side. */
export interface AttachmentFile {
  n: number;
  filename: string;
  contentType: string;
  content: Buffer;
}

/**
 * A post carries what its attachments were (name, type, size); the mail names
 * at the end those it does not carry as files, so readers know what the
 * original had: all of them under `strip`, under `pass` those whose content is
 * not at hand (not kept, too large for the list, from another protocol).
 */
export function attachmentNote(
  post: Pick<Post, 'attachments'>,
  policy: 'pass' | 'strip',
  carried: ReadonlySet<number> = new Set(),
): string {
  const missing = post.attachments.map((a, n) => ({ a, n })).filter(({ n }) => policy === 'strip' || !carried.has(n));
  if (missing.length === 0) return '';
  const why = policy === 'strip' ? 'removed by the list' : 'not carried by the list';
  const items = missing
    .slice(0, 20)
    .map(
      ({ a }) =>
        `  ${cleanText(a.filename, 100) || '(no name)'} (${cleanText(a.contentType, 60)}, ${formatSize(a.size)})`,
    );
  if (missing.length > 20) items.push(`  ... and ${missing.length - 20} more`);
  const what =
    missing.length === post.attachments.length
      ? 'Attachments of the original message'
      : 'Other attachments of the original message';
  return `\n\n[${what}, ${why}:\n${items.join('\n')}]\n`;
}

const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** One attachment as a MIME part: base64, Content-Disposition attachment, the filename as RFC 2231 parameters when not plain ASCII. */
export function attachmentPart(f: AttachmentFile): Buffer {
  const type = MIME_TYPE.test(f.contentType.trim()) ? f.contentType.trim().toLowerCase() : 'application/octet-stream';
  // Never a message/* or multipart/* type: their content is opaque bytes here, not a structure we vouch for.
  const safeType = /^(message|multipart)\//.test(type) ? 'application/octet-stream' : type;
  const name = cleanText(f.filename, 200).replace(/[\\/]/g, '_') || 'attachment';
  const h =
    headerLine('Content-Type', buildHeaderValue({ value: safeType, params: { name } })) +
    headerLine('Content-Disposition', buildHeaderValue({ value: 'attachment', params: { filename: name } })) +
    headerLine('Content-Transfer-Encoding', 'base64');
  const b64 = f.content.toString('base64').replace(/.{76}/g, '$&\r\n').replace(/\r\n$/, '');
  return Buffer.from(`${h}\r\n${b64}\r\n`, 'ascii');
}

/** The text that goes in the body: an IRC action as "* alice waves". */
export function bodyText(post: Pick<Post, 'body' | 'author' | 'kind'>): string {
  if (post.kind === 'action') return `* ${cleanText(post.author.name, 60)} ${post.body}`;
  return post.body;
}

/**
 * A list message, built once per post: every header but the per-recipient
 * List-Unsubscribe (when it carries a recipient's one-click URL), and the body.
 * message(token) gives the bytes for one transaction.
 */
export interface ListMessage {
  /** True when the headers or the footer differ per recipient (their own links): one recipient per transaction. */
  perRecipient: boolean;
  message(unsubscribeToken?: string, address?: string): Buffer;
}

/** The list's footer under each post: its text for a recipient (their own links), or the same for all. */
export interface Footer {
  text(r?: { address: string; token: string }): string;
  /** True when text() differs per recipient. */
  perRecipient: boolean;
}

export interface ComposeInput {
  post: Post;
  list: ListInfoLike;
  links: LinksLike;
  from: FromChoice;
  /** node.hostname, for the trace header. */
  hostname: string;
  /** The list's attachment policy: `pass` sends `files` as attachments, `strip` names them in the text only. */
  attachments?: 'pass' | 'strip';
  /** The content of the post's attachments at hand (see plugins/mail/attachments.ts). */
  files?: AttachmentFile[];
  /** The footer under the text (plugins/mail/templates.ts). */
  footer?: Footer;
}

export function composeListMessage({
  post,
  list,
  links,
  from,
  hostname,
  attachments,
  files,
  footer,
}: ComposeInput): ListMessage {
  const addr = listAddresses(list.address);
  const h: string[] = [];
  h.push(headerLine('Date', rfc5322Date(post.date)));
  h.push(headerLine('From', from.from));
  if (from.replyTo) h.push(headerLine('Reply-To', from.replyTo));
  h.push(headerLine('To', formatAddress('', addr.post)));
  const base = post.subject && cleanText(post.subject) !== '' ? post.subject : subjectFromBody(post);
  const subject = taggedSubject(post.kind === 'digest' ? untagDigest(base, list.subjectTag) : base, list.subjectTag);
  h.push(headerLine('Subject', encodeUnstructured(subject)));
  // The post id is the Message-ID (the core only stores usable ids); a stable stand-in should one ever not be.
  const id =
    msgId(post.id) ??
    `<${createHash('sha256').update(post.id).digest('hex').slice(0, 32)}@${cleanText(hostname, 200).replace(/[^A-Za-z0-9.-]/g, '') || 'peerpost.invalid'}>`;
  h.push(headerLine('Message-ID', id));
  const parent = post.inReplyTo ? msgId(post.inReplyTo) : undefined;
  if (parent) h.push(headerLine('In-Reply-To', parent));
  const refs = [
    ...post.references,
    ...(post.inReplyTo && !post.references.includes(post.inReplyTo) ? [post.inReplyTo] : []),
  ]
    .map(msgId)
    .filter((r): r is string => r !== undefined);
  if (refs.length > 0) h.push(headerLine('References', [...new Set(refs)].slice(-40).join(' ')));
  h.push(headerLine('MIME-Version', '1.0'));
  const policy = attachments ?? 'pass';
  const carry = policy === 'pass' ? (files ?? []).filter((f) => post.attachments[f.n] !== undefined) : [];
  const text = bodyText(post) + attachmentNote(post, policy, new Set(carry.map((f) => f.n)));
  const multipart = carry.length > 0;
  // multipart/mixed: the text, then each file (RFC 2046 section 5.1.3). A random boundary: no post content can contain it.
  const boundary = `=_peerpost_${randomBytes(12).toString('hex')}`;
  if (!multipart) h.push(headerLine('Content-Type', 'text/plain; charset=utf-8'));
  else h.push(headerLine('Content-Type', `multipart/mixed; boundary="${boundary}"`));
  const fileParts = multipart
    ? Buffer.concat([
        ...carry.flatMap((f) => [Buffer.from(`--${boundary}\r\n`), attachmentPart(f)]),
        Buffer.from(`--${boundary}--\r\n`),
      ])
    : Buffer.alloc(0);
  /** The body (and its Content-Transfer-Encoding header when single-part) with this footer under the text. */
  const contentWith = (foot: string): { cte: string; content: Buffer } => {
    const body = encodeBody(foot ? `${text.replace(/\n+$/, '')}\n\n${foot}` : text);
    if (!multipart) return { cte: body.cte, content: Buffer.from(body.data, 'utf8') };
    return {
      cte: '',
      content: Buffer.concat([
        Buffer.from(`This is a message with attachments in MIME format.\r\n`),
        Buffer.from(
          `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${body.cte}\r\n\r\n${body.data}`,
          'utf8',
        ),
        fileParts,
      ]),
    };
  };
  const label = `${addr.local}.${addr.domain}`;
  const desc = encodePhrase(list.description || list.name);
  h.push(headerLine('List-Id', desc ? `${desc} <${label}>` : `<${label}>`));
  h.push(headerLine('List-Post', `<mailto:${addr.post}>`));
  h.push(headerLine('List-Help', `<mailto:${addr.request}?subject=help>`));
  h.push(headerLine('List-Subscribe', `<mailto:${addr.join}>`));
  h.push(headerLine('List-Owner', `<mailto:${addr.owner}>`));
  const archive = links.archive ? safeUrl(links.archive) : undefined;
  if (archive) h.push(headerLine('List-Archive', `<${archive}>`));
  const at = links.post ? safeUrl(links.post(post.id)) : undefined;
  if (at) h.push(headerLine('Archived-At', `<${at}>`));
  h.push(headerLine('Precedence', 'list'));
  h.push(headerLine('X-Loop', addr.post));
  h.push(headerLine('X-Peerpost-Bridge', `${cleanText(post.bridge, 100)} (via ${cleanText(post.author.via, 20)})`));
  h.push(headerLine('X-Peerpost-Node', cleanText(hostname, 200)));
  if (post.kind !== 'message') h.push(headerLine('X-Peerpost-Kind', cleanText(post.kind, 20)));

  const head = Buffer.from(h.join(''), 'utf8');
  const tailWith = (foot: string): Buffer => {
    const c = contentWith(foot);
    return Buffer.concat([
      Buffer.from(c.cte ? headerLine('Content-Transfer-Encoding', c.cte) : ''),
      Buffer.from('\r\n'),
      c.content,
    ]);
  };
  const shared = footer?.perRecipient ? undefined : tailWith(footer?.text() ?? '');
  const tailFor = (token?: string, address?: string): Buffer =>
    shared ?? tailWith(footer!.text(token !== undefined && address ? { address, token } : undefined));
  const mailtoLeave = `<mailto:${addr.leave}>`;
  const unsubscribe = links.unsubscribe;
  // No one-click link unless it is https (a web served over plain http gets mailto only): then the message is the
  // same for every recipient (unless the footer carries their own links), and goes in transactions of many recipients.
  const oneClick = unsubscribe !== undefined && safeUrl(unsubscribe('probe'))?.startsWith('https://') === true;
  if (!oneClick && shared) {
    const whole = Buffer.concat([head, Buffer.from(headerLine('List-Unsubscribe', mailtoLeave)), shared]);
    return { perRecipient: false, message: () => whole };
  }
  return {
    perRecipient: true,
    message(token?: string, address?: string) {
      const url = oneClick && token ? safeUrl(unsubscribe!(token)) : undefined;
      if (!url || !url.startsWith('https://'))
        return Buffer.concat([head, Buffer.from(headerLine('List-Unsubscribe', mailtoLeave)), tailFor(token, address)]);
      const lines =
        headerLine('List-Unsubscribe', `${mailtoLeave}, <${url}>`) +
        headerLine('List-Unsubscribe-Post', 'List-Unsubscribe=One-Click');
      return Buffer.concat([head, Buffer.from(lines), tailFor(token, address)]);
    },
  };
}

/** A URL fit for a header in angle brackets: http(s), printable ASCII (percent-encoded), no spaces, quotes or brackets. */
export function safeUrl(url: string): string | undefined {
  const u = url.trim();
  if (!/^https?:\/\/[\x21-\x7e]+$/.test(u) || /[<>"]/.test(u) || u.length > 900) return undefined;
  return u;
}

/** Robot mail: one text/plain message with Auto-Submitted: auto-generated. */
export function composeRobotMessage(m: {
  from: string;
  to: string;
  subject: string;
  text: string;
  listAddress: string;
  listDescription: string;
  inReplyTo?: string;
  headers?: Record<string, string>;
  messageId: string;
  date?: Date;
  /** node.hostname, for the trace header. */
  hostname?: string;
}): Buffer {
  const addr = listAddresses(m.listAddress);
  const h: string[] = [];
  h.push(headerLine('Date', rfc5322Date(m.date ?? new Date())));
  h.push(headerLine('From', m.from));
  h.push(headerLine('To', formatAddress('', m.to)));
  h.push(headerLine('Subject', encodeUnstructured(m.subject)));
  h.push(headerLine('Message-ID', `<${m.messageId}>`));
  const parent = m.inReplyTo ? msgId(m.inReplyTo) : undefined;
  if (parent) {
    h.push(headerLine('In-Reply-To', parent));
    h.push(headerLine('References', parent));
  }
  h.push(headerLine('Auto-Submitted', 'auto-generated'));
  h.push(headerLine('Precedence', 'list'));
  const desc = encodePhrase(m.listDescription);
  h.push(headerLine('List-Id', desc ? `${desc} <${addr.local}.${addr.domain}>` : `<${addr.local}.${addr.domain}>`));
  h.push(headerLine('X-Loop', addr.post));
  if (m.hostname) h.push(headerLine('X-Peerpost-Node', cleanText(m.hostname, 200)));
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (!/^[A-Za-z0-9-]{1,76}$/.test(k)) continue;
    if (k.toLowerCase() === 'reply-to') {
      const a = safeAddress(v);
      if (a) h.push(headerLine('Reply-To', formatAddress('', a)));
      continue;
    }
    if (RESERVED.has(k.toLowerCase())) continue;
    h.push(headerLine(k, PRINTABLE_ASCII.test(cleanText(v)) ? cleanText(v) : encodeUnstructured(v)));
  }
  const body = encodeBody(m.text);
  h.push(headerLine('MIME-Version', '1.0'));
  h.push(headerLine('Content-Type', 'text/plain; charset=utf-8'));
  h.push(headerLine('Content-Transfer-Encoding', body.cte));
  return Buffer.from(`${h.join('')}\r\n${body.data}`, 'utf8');
}

/** Headers a caller's extra headers may not set: the ones that decide where mail goes or how it is read. */
const RESERVED = new Set([
  'to',
  'cc',
  'bcc',
  'from',
  'sender',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'in-reply-to',
  'references',
  'auto-submitted',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'return-path',
  'received',
  'x-loop',
  'list-id',
  'precedence',
  'x-peerpost-node',
  'resent-to',
  'resent-cc',
  'resent-bcc',
]);
