/**
 * A stored post as the RFC 5322 message it was (mail and news posts) or would be (chat lines, web and CLI posts),
 * for the archive's export (src/archive/export.ts). The store keeps a post, not the bytes it came in as: the
 * message is rebuilt from what the post holds — its Message-ID, In-Reply-To, References, Date, From, Subject and
 * text — as the news server renders its articles (plugins/nntp/article.ts), so an export and the group agree.
 *
 *   - From: the author's name and address; an author without one (an IRC nick, a web or CLI poster) gets an
 *     address under the reserved top-level domain .invalid (RFC 6761) naming the protocol: `alice <alice@irc.invalid>`.
 *     A public view (`addresses` other than show) never puts a real address in a header: the name, with the
 *     address as the bridge's policy shows it (alice@…ample.org) after it, and the same .invalid address.
 *   - Subject: the post's; else, for a reply, "Re: " and its thread root's subject; else the first line of the text
 *     (an IRC action as `* alice waves`), as the news group shows it.
 *   - Text: text/plain; charset=utf-8, 7bit when ASCII, 8bit otherwise, quoted-printable when a line is longer than
 *     RFC 5322's 998 octets or holds a control character; non-ASCII header text as RFC 2047 encoded words.
 *   - Attachments: the store keeps what they were (name, type, size), not their content (the mail plugin keeps the
 *     files for a while, in its own table): the message names them at the end of its text, with a download link
 *     where the caller knows one (the web, while the file is kept), as a news article does.
 *   - What peerpost knows beyond the message: X-Peerpost-Kind (a chat action, a notice, a digest),
 *     X-Peerpost-Origin (the endpoint it came in by) and X-Peerpost-Via (the protocol).
 */
import type { AddressPolicy } from '../config/types.js';
import { attachmentLines } from '../digest/shape.js';
import type { Post } from '../post.js';
import { publicAuthor, publicPost } from './privacy.js';

/** RFC 5322 2.1.1: a line is at most 998 octets, and SHOULD be at most 78 characters. */
const MAX_LINE_OCTETS = 998;
const FOLD_AT = 78;

export interface MessageOptions {
  /**
   * What the message shows of mail addresses: `show` (the operator's export: the real From), or the bridge's
   * public policy (obfuscate, hide), applied to From, Subject and text (src/archive/privacy.ts).
   */
  addresses?: AddressPolicy;
  /** The subject of the post's thread root, for a reply without a subject of its own ("Re: …"). */
  rootSubject?: string;
  /** Where attachment n of the post can be downloaded, when the caller knows (the web, while the file is kept). */
  fileUrl?: (n: number) => string | undefined;
}

export interface Message {
  /** Header fields in order, values encoded and folded ("\r\n " between lines). */
  headers: [string, string][];
  /** The body as it goes on the wire after the blank line (already transfer-encoded), lines joined by "\r\n". */
  body: string;
}

/** No line breaks or other controls in a header value: each run becomes one space. */
export function oneLine(s: string): string {
  return s
    .replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
}

const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * RFC 2047 encoded words (UTF-8, base64) for text that is not printable ASCII, each word at most 75 characters and
 * never splitting a character; the words are separated by a space (which a decoder drops between encoded words).
 */
export function encodeWords(s: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const ch of s) {
    // 45 octets of UTF-8 are 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" = 72.
    if (chunk && Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(' ');
}

/** Unstructured text (Subject): as it is when printable ASCII (and not looking like an encoded word), else encoded. */
export function encodeText(s: string): string {
  const t = oneLine(s);
  return PRINTABLE.test(t) && !t.includes('=?') ? t : encodeWords(t);
}

/** A display name as an RFC 5322 phrase: atoms as they are, a quoted string for specials, encoded words when not ASCII. */
export function encodePhrase(name: string): string {
  const n = oneLine(name);
  if (!PRINTABLE.test(n) || n.includes('=?')) return encodeWords(n);
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(n) ? n : `"${n.replace(/(["\\])/g, '\\$1')}"`;
}

/** An address fit for a header as it is: printable ASCII local@domain, nothing a parser would split on. */
const CLEAN_ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
export const cleanAddress = (a: string | undefined): a is string =>
  a !== undefined && a.length <= 254 && CLEAN_ADDRESS.test(a);

/** An address under .invalid for an author without a usable one: the name's letters at the protocol (alice@irc.invalid). */
export function invalidAddress(name: string, via: string): string {
  const local =
    name
      .toLowerCase()
      .replace(/[^a-z0-9._+-]+/g, '')
      .replace(/\.{2,}/g, '.')
      .replace(/^\.+|\.+$/g, '')
      .slice(0, 64) || 'unknown';
  const domain = via.toLowerCase().replace(/[^a-z0-9-]+/g, '') || 'peerpost';
  return `${local}@${domain}.invalid`;
}

/** RFC 5322 date-time in UTC: "Fri, 05 Dec 2026 03:22:05 +0000". */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** The From header of a post as the policy shows it. */
export function fromHeader(post: Post, addresses: AddressPolicy = 'show'): string {
  const a = post.author;
  if (addresses === 'show' && cleanAddress(a.address)) {
    const name = oneLine(a.name);
    return name ? `${encodePhrase(name)} <${a.address}>` : `<${a.address}>`;
  }
  // A public view: the address as the policy shows it goes into the name; the header's address is not a real one.
  const shown = publicAuthor(a, addresses);
  const name = oneLine(shown.name);
  const addr = shown.address !== undefined ? oneLine(shown.address) : undefined;
  const label = addr && !name.includes(addr) ? (name ? `${name} (${addr})` : addr) : name || 'unknown';
  const at = addr?.lastIndexOf('@') ?? -1;
  const local = addr !== undefined && at > 0 && addresses !== 'hide' ? addr.slice(0, at) : name;
  return `${encodePhrase(label)} <${invalidAddress(local, a.via || 'peerpost')}>`;
}

/** The subject a post is shown with (see the file comment). */
export function subjectOf(post: Post, rootSubject?: string): string {
  if (post.subject && oneLine(post.subject)) return oneLine(post.subject);
  if (rootSubject && oneLine(rootSubject)) {
    const s = oneLine(rootSubject);
    return /^re:/i.test(s) ? s : `Re: ${s}`;
  }
  const first = post.body.split('\n').find((l) => l.trim() !== '');
  if (!first) return '(no subject)';
  const s = oneLine(post.kind === 'action' ? `* ${post.author.name} ${first}` : first);
  return [...s].length > 72 ? `${[...s].slice(0, 70).join('')}…` : s;
}

/** "Name: value" folded at spaces so that lines keep to 78 characters where a word allows. */
export function foldHeader(name: string, value: string): string {
  const words = value.split(' ').filter((w) => w !== '');
  let out = `${name}:`;
  let line = out.length;
  for (const w of words) {
    if (line + 1 + w.length > FOLD_AT && line > name.length + 1) {
      out += `\r\n ${w}`;
      line = 1 + w.length;
    } else {
      out += ` ${w}`;
      line += 1 + w.length;
    }
  }
  return out;
}

/** Quoted-printable (RFC 2045 6.7) of UTF-8 text whose lines are "\n"-separated; soft breaks keep lines to 76. */
export function quotedPrintable(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const bytes = Buffer.from(line, 'utf8');
      let out = '';
      let len = 0;
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i]!;
        const last = i === bytes.length - 1;
        // Printable ASCII but "=", and space or tab unless at the end of the line, go as they are.
        const plain = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last);
        const piece = plain ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
        if (len + piece.length > 75) {
          out += '=\r\n';
          len = 0;
        }
        out += piece;
        len += piece.length;
      }
      return out;
    })
    .join('\r\n');
}

/** The text of a post as a message body (before transfer encoding): an action as "* alice waves", files named at the end. */
function textOf(post: Post, fileUrl?: (n: number) => string | undefined): string {
  const text = post.kind === 'action' && !post.subject ? `* ${post.author.name} ${post.body}` : post.body;
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  if (post.attachments.length) {
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    lines.push('', ...attachmentLines(post.attachments, fileUrl));
  }
  return lines.join('\n');
}

/** The Content-Transfer-Encoding a text needs: 7bit, 8bit, or quoted-printable (a long line, a control character). */
export function transferEncoding(text: string): '7bit' | '8bit' | 'quoted-printable' {
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) return 'quoted-printable';
  const ascii = PRINTABLE.test(text.replace(/[\n\t]/g, ''));
  for (const line of text.split('\n'))
    if ((ascii ? line.length : Buffer.byteLength(line, 'utf8')) > MAX_LINE_OCTETS) return 'quoted-printable';
  return ascii ? '7bit' : '8bit';
}

/** A post as a message: its header fields and its body, ready to be written (see the file comment). */
export function postMessage(stored: Post, opts: MessageOptions = {}): Message {
  const addresses = opts.addresses ?? 'show';
  const post = publicPost(stored, addresses);
  const rootSubject =
    opts.rootSubject !== undefined && addresses !== 'show'
      ? publicPost({ ...post, subject: opts.rootSubject }, addresses).subject
      : opts.rootSubject;
  const refs = post.references.length ? post.references : post.inReplyTo ? [post.inReplyTo] : [];
  const date = new Date(post.date);
  const h: [string, string][] = [
    ['From', fromHeader(stored, addresses)],
    ['Subject', encodeText(subjectOf(post, rootSubject))],
    ['Date', rfc5322Date(Number.isNaN(date.getTime()) ? new Date(0) : date)],
    ['Message-ID', `<${post.id}>`],
  ];
  if (post.inReplyTo) h.push(['In-Reply-To', `<${post.inReplyTo}>`]);
  if (refs.length) h.push(['References', refs.map((r) => `<${r}>`).join(' ')]);
  const text = textOf(post, opts.fileUrl);
  const cte = transferEncoding(text);
  h.push(
    ['MIME-Version', '1.0'],
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Transfer-Encoding', cte],
    ['X-Peerpost-Origin', oneLine(`${post.origin.account}/${post.origin.target}`)],
    ['X-Peerpost-Via', oneLine(post.author.via) || 'unknown'],
  );
  if (post.kind !== 'message') h.push(['X-Peerpost-Kind', post.kind]);
  const body = cte === 'quoted-printable' ? quotedPrintable(text) : text.replace(/\n/g, '\r\n');
  return { headers: h, body };
}

/** The whole message as RFC 5322 text: CRLF line ends, folded headers, a blank line, the body, a final CRLF. */
export function messageText(m: Message): string {
  const head = m.headers.map(([n, v]) => foldHeader(n, v)).join('\r\n');
  return `${head}\r\n\r\n${m.body}${m.body.endsWith('\r\n') || m.body === '' ? '' : '\r\n'}`;
}
