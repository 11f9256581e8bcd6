/**
 * A stored post as a news article (RFC 5536), and its overview line
 * (RFC 3977 8.3). Everything is rendered from the post at read time.
 */
import { attachmentLines, type Post } from '../../src/plugin.js';
import { encodeWords, oneLine, rfc5322Date } from './text.js';

export interface Placement {
  hostname: string;
  group: string;
  number: number;
  /** Where attachment n of the post can be downloaded (the web plugin, when it serves the kept file). */
  fileUrl?: (n: number) => string | undefined;
}

export interface RenderedArticle {
  /** Header fields in order (values already encoded; folded where long). */
  headers: [string, string][];
  /** Body lines, without line ends. */
  body: string[];
}

/** Subject: the post's, or the first line of its body, or "(no subject)". */
export function subjectOf(post: Post): string {
  if (post.subject && post.subject.trim()) return oneLine(post.subject);
  const first = post.body.split('\n').find((l) => l.trim() !== '');
  if (!first) return '(no subject)';
  const s = oneLine(post.kind === 'action' ? `* ${post.author.name} ${first}` : first);
  return [...s].length > 72 ? `${[...s].slice(0, 70).join('')}…` : s;
}

/** A display name as an RFC 5322 phrase: quoted where it holds specials, encoded where not ASCII. */
function phrase(name: string): string {
  const n = oneLine(name) || 'unknown';
  if (!/^[\x20-\x7e]*$/.test(n)) return encodeWords(n);
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(n) ? n : `"${n.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * From: `name <address>`, or `name <name@invalid>` for authors without an
 * address (RFC 6761 .invalid); news servers that want a dotted domain get
 * `name@HOST.invalid` (invalidDomain).
 */
export function fromHeader(author: Post['author'], invalidDomain = 'invalid'): string {
  const address =
    author.address && /^[^\s<>@]+@[^\s<>@]+$/.test(author.address)
      ? author.address
      : `${
          author.name
            .toLowerCase()
            .replace(/[^a-z0-9._-]+/g, '')
            .replace(/^\.+|\.+$/g, '') || 'unknown'
        }@${invalidDomain}`;
  return `${phrase(author.name)} <${address}>`;
}

/** Fold a list of items onto continuation lines so no line passes 78 characters. */
function foldList(items: string[], nameLen: number): string {
  let line = nameLen + 2;
  let out = '';
  for (const it of items) {
    if (out && line + 1 + it.length > 78) {
      out += '\r\n ' + it;
      line = 1 + it.length;
    } else {
      out += (out ? ' ' : '') + it;
      line += (out ? 1 : 0) + it.length;
    }
  }
  return out;
}

export function renderArticle(post: Post, at: Placement): RenderedArticle {
  const refs = post.references.length ? post.references : post.inReplyTo ? [post.inReplyTo] : [];
  const h: [string, string][] = [
    ['Path', `${at.hostname}!not-for-mail`],
    ['From', fromHeader(post.author)],
    ['Newsgroups', at.group],
    ['Subject', encodeWords(subjectOf(post))],
    ['Date', rfc5322Date(new Date(post.date))],
    ['Message-ID', `<${post.id}>`],
  ];
  if (refs.length)
    h.push([
      'References',
      foldList(
        refs.map((r) => `<${r}>`),
        'References'.length,
      ),
    ]);
  if (post.inReplyTo) h.push(['In-Reply-To', `<${post.inReplyTo}>`]);
  h.push(
    ['Injection-Date', rfc5322Date(new Date((post as { receivedAt?: string }).receivedAt ?? post.date))],
    ['Xref', `${at.hostname} ${at.group}:${at.number}`],
    ['MIME-Version', '1.0'],
    ['Content-Type', 'text/plain; charset=UTF-8'],
    ['Content-Transfer-Encoding', '8bit'],
  );
  if (post.kind !== 'message') h.push(['X-Peerpost-Kind', post.kind]);
  h.push(['X-Peerpost-Bridge', `${post.bridge} (via ${oneLine(post.author.via)})`], ['X-Peerpost-Node', at.hostname]);
  const text = post.kind === 'action' && !post.subject ? `* ${post.author.name} ${post.body}` : post.body;
  // Strip control characters other than tab from the body (no terminal escapes reach a newsreader).
  const body = text
    .replace(/\r\n?/g, '\n')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
    .split('\n');
  // What files the post had (a mail post's attachments), at the end of the text: a news article is text only.
  if (post.attachments.length) {
    while (body.length && body[body.length - 1] === '') body.pop();
    body.push('', ...attachmentLines(post.attachments, at.fileUrl));
  }
  return { headers: h, body };
}

/** The header block as sent (CRLF line ends, no final blank line). */
export const headText = (a: RenderedArticle): string => a.headers.map(([n, v]) => `${n}: ${v}`).join('\r\n');
export const bodyText = (a: RenderedArticle): string => a.body.join('\r\n');
/** The whole article as sent before dot-stuffing. */
export const articleText = (a: RenderedArticle): string => `${headText(a)}\r\n\r\n${bodyText(a)}`;

/** A header's value, unfolded, by name (any case); ":bytes" and ":lines" are the metadata items. */
export function headerValue(a: RenderedArticle, name: string): string | undefined {
  const n = name.toLowerCase();
  if (n === ':bytes') return String(Buffer.byteLength(articleText(a)) + 2);
  if (n === ':lines') return String(a.body.length);
  const f = a.headers.find(([k]) => k.toLowerCase() === n);
  return f ? f[1].replace(/\r\n[ \t]+/g, ' ') : undefined;
}

export const OVERVIEW_FMT = [
  'Subject:',
  'From:',
  'Date:',
  'Message-ID:',
  'References:',
  ':bytes',
  ':lines',
  'Xref:full',
];

/** The octets of articleText(a), without making it: the sum of its lines and their line ends. */
function articleBytes(a: RenderedArticle): number {
  let n = 4; // the blank line between head and body: "\r\n\r\n" after the last header
  for (const [k, v] of a.headers) n += Buffer.byteLength(k) + 2 + Buffer.byteLength(v) + 2;
  for (const l of a.body) n += Buffer.byteLength(l) + 2;
  // No line end after the last header (headText) nor after the last body line (bodyText), when there is one.
  return n - 2 - (a.body.length > 0 ? 2 : 0);
}

/**
 * One overview line (without CRLF): number, then the fields of OVERVIEW_FMT, tab-separated. The same fields as
 * headerValue gives (rendered once for each article a POST or a delivery numbers: one pass over the headers).
 */
export function overviewLine(a: RenderedArticle, number: number): string {
  const want = new Map<string, string>([
    ['subject', ''],
    ['from', ''],
    ['date', ''],
    ['message-id', ''],
    ['references', ''],
    ['xref', ''],
  ]);
  const found = new Set<string>();
  for (const [k, v] of a.headers) {
    const n = k.toLowerCase();
    if (want.has(n) && !found.has(n)) {
      found.add(n);
      want.set(n, v.replace(/\r\n[ \t]+/g, ' '));
    }
  }
  const f = (v: string) => oneLine(v).replace(/\t/g, ' ');
  return [
    String(number),
    f(want.get('subject')!),
    f(want.get('from')!),
    f(want.get('date')!),
    f(want.get('message-id')!),
    f(want.get('references')!),
    String(articleBytes(a) + 2),
    String(a.body.length),
    `Xref: ${f(want.get('xref')!)}`,
  ].join('\t');
}
