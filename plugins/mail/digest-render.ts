/**
 * A list digest as a message (issue 16): numbered "Vol V, Issue N", a table of contents, its own Message-ID.
 *
 * - mime: multipart/mixed of a text/plain masthead with the table of contents, a multipart/digest
 *   (RFC 2046 section 5.1.5) holding each post as a message/rfc822 part, and the footer as text/plain — the
 *   layout Mailman's MIME digests have, so mail programs show each post as a message of its own.
 * - plain: one text/plain body per RFC 1153: the masthead, "Today's Topics", a line of 70 hyphens, each post
 *   with its Date, From and Subject lines and its text, posts separated by a line of 30 hyphens, the footer,
 *   and "End of LIST Digest, Vol V, Issue N" over a line of asterisks.
 *
 * Pure: the same input gives the same bytes (a digest rendered again after a crash is the same message).
 */
import { createHash } from 'node:crypto';
import { plural, type Post } from '../../src/plugin.js';
import {
  bodyText,
  cleanText,
  encodeBody,
  encodePhrase,
  encodeUnstructured,
  formatAddress,
  headerLine,
  listAddresses,
  msgId,
  originLabel,
  rfc5322Date,
  safeAddress,
  subjectFromBody,
} from './outbound/headers.js';

export interface DigestInput {
  list: { name: string; address: string; description: string };
  volume: number;
  issue: number;
  /** When the digest closed (its Date). */
  date: Date;
  /** The posts, oldest first. */
  posts: Post[];
  format: 'mime' | 'plain';
  /** The list's footer for digests (no per-member links: one digest goes to many). */
  footer: string;
  /** node.hostname: the Message-ID's right side and the trace header. */
  hostname: string;
  /** Names the digest apart from another account's list of the same name (part of the Message-ID). */
  account: string;
  /** The archive's page, when the web serves one. */
  archive?: string;
  /**
   * The issue's post count when `posts` are only its first ones (a member's last digest, who left digest mode
   * while it was open): a Message-ID of its own, since it is another message than the whole issue.
   */
  partOf?: number;
}

/** "commons Digest, Vol 1, Issue 3" */
export const digestTitle = (list: string, volume: number, issue: number): string =>
  `${list} Digest, Vol ${volume}, Issue ${issue}`;

/** The digest's own Message-ID (bare): the same every time the same issue is rendered. */
export function digestMessageId(
  i: Pick<DigestInput, 'list' | 'volume' | 'issue' | 'hostname' | 'account' | 'format' | 'partOf'> & {
    posts?: readonly unknown[];
  },
) {
  const host = cleanText(i.hostname, 200).replace(/[^A-Za-z0-9.-]/g, '') || 'peerpost.invalid';
  const h = createHash('sha256').update(`${i.account}\n${i.list.address}`).digest('hex').slice(0, 12);
  const name = i.list.name.replace(/[^A-Za-z0-9._-]/g, '') || 'list';
  const part = i.partOf !== undefined && i.posts ? `.first${i.posts.length}` : '';
  return `${name}-digest.v${i.volume}.i${i.issue}${part}.${i.format}.${h}@${host}`;
}

const subjectOf = (p: Post): string =>
  p.subject && cleanText(p.subject) !== '' ? cleanText(p.subject, 200) : subjectFromBody(p);

/** Who wrote a post, as a From: the author's address for mail, else the name and where it came from at the list address. */
function authorOf(p: Post, listAddress: string): { header: string; text: string } {
  const name = cleanText(p.author.name, 100);
  const address = p.author.via === 'mail' && p.author.address ? safeAddress(p.author.address) : undefined;
  if (address) return { header: formatAddress(name, address), text: name ? `${name} <${address}>` : address };
  const label = `${name} (${originLabel(p)})`;
  return { header: formatAddress(label, listAddress), text: label };
}

/** The table of contents: "   1. Subject (author)", wrapped as RFC 1153 shows it. */
export function tableOfContents(posts: Post[]): string[] {
  return posts.map((p, i) => {
    const who = cleanText(p.author.name, 60) || 'someone';
    const n = `${String(i + 1).padStart(4)}. `;
    const line = `${n}${subjectOf(p)} (${who})`;
    return line.length <= 76 ? line : `${n}${subjectOf(p)}\n${' '.repeat(n.length + 3)}(${who})`;
  });
}

function masthead(i: DigestInput): string[] {
  const a = listAddresses(i.list.address);
  return [
    `Send ${i.list.name} mailing list submissions to`,
    `\t${a.post}`,
    '',
    'To change how you get the list (each post, the digest, no mail), write "help" to',
    `\t${a.request}`,
    '',
    'You can reach the people who run the list at',
    `\t${a.owner}`,
    ...(i.archive ? ['', 'The archive:', `\t${i.archive}`] : []),
    '',
    `When replying, please edit your Subject line so it is more specific than "Re: Contents of ${i.list.name} digest..."`,
  ];
}

/** A body line that would read as RFC 1153's separator is shifted by one space. */
const guard = (text: string): string =>
  text
    .split('\n')
    .map((l) => (/^-{30}/.test(l) ? ` ${l}` : l))
    .join('\n');

const SEP70 = '-'.repeat(70);
const SEP30 = '-'.repeat(30);

/** The RFC 1153 body (also used for its unit tests). */
export function plainBody(i: DigestInput): string {
  const title = digestTitle(i.list.name, i.volume, i.issue);
  const out: string[] = [
    `${i.list.name} Digest\t${rfc5322Date(i.date)}\tVolume ${i.volume} : Issue ${i.issue}`,
    '',
    ...masthead(i),
    '',
    "Today's Topics:",
    '',
    ...tableOfContents(i.posts),
    '',
    '',
    SEP70,
    '',
  ];
  i.posts.forEach((p, n) => {
    if (n > 0) out.push('', SEP30, '');
    out.push(`Message: ${n + 1}`);
    out.push(`Date: ${rfc5322Date(p.date)}`);
    out.push(`From: ${authorOf(p, i.list.address).text}`);
    out.push(`Subject: ${subjectOf(p)}`);
    const id = msgId(p.id);
    if (id) out.push(`Message-ID: ${id}`);
    out.push('');
    out.push(guard(bodyText(p).replace(/\n+$/, '')));
  });
  out.push('', SEP30, '');
  if (i.footer.trim()) out.push(guard(i.footer.replace(/\n+$/, '')), '', SEP30, '');
  const end = `End of ${title}`;
  out.push(end, '*'.repeat(end.length), '');
  return out.join('\n');
}

/** One post as an RFC 5322 message, for a message/rfc822 part. */
function postMessage(p: Post, listAddress: string): string {
  const h: string[] = [];
  h.push(headerLine('Date', rfc5322Date(p.date)));
  h.push(headerLine('From', authorOf(p, listAddress).header));
  h.push(headerLine('Subject', encodeUnstructured(subjectOf(p))));
  const id = msgId(p.id);
  if (id) h.push(headerLine('Message-ID', id));
  const parent = p.inReplyTo ? msgId(p.inReplyTo) : undefined;
  if (parent) h.push(headerLine('In-Reply-To', parent));
  h.push(headerLine('MIME-Version', '1.0'));
  const body = encodeBody(bodyText(p));
  h.push(headerLine('Content-Type', 'text/plain; charset=utf-8'));
  h.push(headerLine('Content-Transfer-Encoding', body.cte));
  return `${h.join('')}\r\n${body.data}`;
}

/** A boundary no content can hold: derived from the digest's id, checked against the parts. */
function boundaryFor(seed: string, parts: string[]): string {
  for (let n = 0; ; n++) {
    const b = `=_peerpost_digest_${createHash('sha256').update(`${seed}/${n}`).digest('hex').slice(0, 24)}`;
    if (!parts.some((p) => p.includes(b))) return b;
  }
}

const textPart = (text: string): string => {
  const b = encodeBody(text);
  return `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${b.cte}\r\n\r\n${b.data}`;
};

/** The whole digest message, headers and body. */
export function renderDigest(i: DigestInput): Buffer {
  const a = listAddresses(i.list.address);
  const title = digestTitle(i.list.name, i.volume, i.issue);
  const id = digestMessageId(i);
  const h: string[] = [];
  h.push(headerLine('Date', rfc5322Date(i.date)));
  h.push(headerLine('From', formatAddress(`${cleanText(i.list.name, 60)} list`, a.request)));
  h.push(headerLine('To', formatAddress('', a.post)));
  h.push(headerLine('Reply-To', formatAddress('', a.post)));
  h.push(headerLine('Subject', encodeUnstructured(title)));
  h.push(headerLine('Message-ID', `<${id}>`));
  h.push(headerLine('MIME-Version', '1.0'));
  const label = `${a.local}.${a.domain}`;
  const desc = encodePhrase(i.list.description || i.list.name);
  h.push(headerLine('List-Id', desc ? `${desc} <${label}>` : `<${label}>`));
  h.push(headerLine('List-Post', `<mailto:${a.post}>`));
  h.push(headerLine('List-Help', `<mailto:${a.request}?subject=help>`));
  h.push(headerLine('List-Subscribe', `<mailto:${a.join}>`));
  h.push(headerLine('List-Unsubscribe', `<mailto:${a.leave}>`));
  h.push(headerLine('Precedence', 'list'));
  h.push(headerLine('X-Loop', a.post));
  h.push(headerLine('X-Peerpost-Node', cleanText(i.hostname, 200)));
  h.push(headerLine('X-Peerpost-Kind', `digest ${i.format}`));
  if (i.format === 'plain') {
    const b = encodeBody(plainBody(i));
    h.push(headerLine('Content-Type', 'text/plain; charset=utf-8'));
    h.push(headerLine('Content-Transfer-Encoding', b.cte));
    return Buffer.from(`${h.join('')}\r\n${b.data}`, 'utf8');
  }
  const top = [
    `${title}`,
    '',
    ...masthead(i),
    '',
    "Today's Topics:",
    '',
    ...tableOfContents(i.posts),
    '',
    `(${plural(i.posts.length, 'message')} follow, each a message of its own.)`,
    '',
  ].join('\n');
  const messages = i.posts.map((p) => postMessage(p, i.list.address));
  const inner = boundaryFor(`${id}/digest`, messages);
  // In a multipart/digest a part's type is message/rfc822 by default (RFC 2046 section 5.1.5); it is said anyway.
  const digest =
    `Content-Type: multipart/digest; boundary="${inner}"\r\n\r\n` +
    messages.map((m) => `--${inner}\r\nContent-Type: message/rfc822\r\n\r\n${m}`).join('') +
    `--${inner}--\r\n`;
  const parts = [textPart(top), digest, ...(i.footer.trim() ? [textPart(i.footer)] : [])];
  const outer = boundaryFor(`${id}/mixed`, parts);
  h.push(headerLine('Content-Type', `multipart/mixed; boundary="${outer}"`));
  const body =
    `This is a digest of the list ${cleanText(i.list.name, 60)} in MIME format.\r\n` +
    parts.map((p) => `--${outer}\r\n${p}`).join('') +
    `--${outer}--\r\n`;
  return Buffer.from(`${h.join('')}\r\n${body}`, 'utf8');
}
