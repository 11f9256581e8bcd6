/**
 * Conversation shapes (docs/design.md, "Chat meets mail"): rendering a chat
 * conversation as one digest article, and an article as a short announcement.
 * Pure functions, shared by the core and plugins.
 */
import type { Attachment, Post } from '../post.js';

/** Drop quoted text ("> ..."), attribution lines ("On ... wrote:") and the signature ("-- "). */
export function stripQuotesAndSignature(body: string): string {
  const out: string[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '-- ' || line === '--') break; // RFC 3676 signature separator ("--" tolerated)
    if (/^\s*>/.test(line)) continue;
    // "On Tue, 3 Mar 2026, Alice wrote:" just before a quote
    if (
      /\bwrote:\s*$/.test(line) &&
      lines
        .slice(i + 1)
        .find((l) => l.trim() !== '')
        ?.trimStart()
        .startsWith('>')
    )
      continue;
    out.push(line);
  }
  return out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * The lines an article becomes in a chat: "[bridge] author: Subject", then the
 * first `maxLines` non-empty lines of its own text (no quotes, no signature),
 * then "(N more lines)" when it was cut. Where to read the rest is the plugin's
 * to add (it knows the URL or the newsgroup).
 */
export function announce(
  post: Pick<Post, 'bridge' | 'author' | 'subject' | 'body'>,
  maxLines: number,
): { head: string; lines: string[]; more: number } {
  const own = stripQuotesAndSignature(post.body)
    .split('\n')
    .filter((l) => l.trim() !== '');
  const subject = post.subject?.trim();
  const head = subject ? `[${post.bridge}] ${post.author.name}: ${subject}` : `[${post.bridge}] ${post.author.name}:`;
  const lines = own.slice(0, maxLines);
  return { head, lines, more: own.length - lines.length };
}

const hhmm = (d: Date) => d.toISOString().slice(11, 16);
const day = (d: Date) => d.toISOString().slice(0, 10);

/** One chat line as it reads in a digest: "14:02 <alice> hello", "14:03 * alice waves". */
export function digestLine(post: Pick<Post, 'date' | 'author' | 'body' | 'kind'>): string {
  const d = new Date(post.date);
  const who =
    post.kind === 'action'
      ? `* ${post.author.name}`
      : post.kind === 'notice'
        ? `-${post.author.name}-`
        : `<${post.author.name}>`;
  const head = `${hhmm(d)} ${who} `;
  const pad = ' '.repeat(6);
  const [first = '', ...rest] = post.body.split('\n');
  return [head + first, ...rest.map((l) => pad + l)].join('\n');
}

export interface DigestText {
  subject: string;
  body: string;
  participants: string[];
}

/** The places a conversation was said in, as a digest's subject names them: "#commons", "#a, #b, #c, …". */
export function placesTag(lines: readonly (Pick<Post, 'origin'> & { bridge?: string })[]): string {
  // Places are endpoints ("#commons"); a line put in from outside any endpoint (`peerpost post`: its origin
  // is "cli", not an account "protocol.instance") names no place — the bridge stands for it when nothing else does.
  const fromPlaces = lines.filter((l) => l.origin.account.includes('.')).map((l) => l.origin.target);
  const places = [...new Set(fromPlaces.length ? fromPlaces : [lines[0]?.bridge ?? 'conversation'])];
  return places.length <= 3 ? places.join(', ') : `${places.slice(0, 3).join(', ')}, …`;
}

/**
 * A conversation as one article. Subject: "[#commons] conversation, 14:02–14:31 UTC (37 lines)";
 * across midnight the dates are shown too.
 */
export function renderDigest(
  lines: (Pick<Post, 'date' | 'author' | 'body' | 'kind' | 'origin'> & { bridge?: string })[],
): DigestText {
  if (lines.length === 0) throw new Error('renderDigest: no lines');
  const first = new Date(lines[0]!.date);
  const last = new Date(lines[lines.length - 1]!.date);
  const tag = placesTag(lines);
  const span =
    day(first) === day(last)
      ? `${hhmm(first)}–${hhmm(last)} UTC`
      : `${day(first)} ${hhmm(first)}–${day(last)} ${hhmm(last)} UTC`;
  const n = lines.length;
  const subject = `[${tag}] conversation, ${span} (${n} ${n === 1 ? 'line' : 'lines'})`;
  const header = day(first) === day(last) ? [`${day(first)} UTC`, ''] : [];
  const body: string[] = [...header];
  let lastDay = day(first);
  for (const l of lines) {
    const d = day(new Date(l.date));
    if (d !== lastDay) {
      body.push('', `${d} UTC`, '');
      lastDay = d;
    } else if (body.length === 0) body.push(`${d} UTC`, '');
    body.push(digestLine(l));
  }
  const participants = [...new Set(lines.map((l) => l.author.name))];
  return { subject, body: body.join('\n') + '\n', participants };
}

/** "alice", "alice and bob", "alice, bob and 3 others" */
export function participantsLabel(names: string[]): string {
  if (names.length <= 2) return names.join(' and ');
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`;
}

/** "512 bytes", "120 kB", "2.5 MB": a file's size as people read it. */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '? bytes';
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Text from a post's attachment (a name, a type), made one short line: no control characters, at most `max` characters. */
function oneShortLine(s: string, max: number): string {
  const t = s
    .replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return [...t].length > max ? `${[...t].slice(0, max - 1).join('')}…` : t;
}

/** What an attachment was, in a few words: "report.pdf, application/pdf, 120 kB". */
export function attachmentLabel(a: Pick<Attachment, 'filename' | 'contentType' | 'size'>): string {
  return `${oneShortLine(a.filename, 80) || '(no name)'}, ${oneShortLine(a.contentType, 60) || 'application/octet-stream'}, ${formatSize(a.size)}`;
}

/**
 * A post's attachments as lines at the end of an article's text: "[attachment: report.pdf, application/pdf,
 * 120 kB]", then where to download it when the file is kept (`url(n)`, n its index in `attachments`).
 * At most `max` lines of files; the rest are counted.
 */
export function attachmentLines(
  attachments: readonly Pick<Attachment, 'filename' | 'contentType' | 'size'>[],
  url: (n: number) => string | undefined = () => undefined,
  max = 20,
): string[] {
  const lines = attachments.slice(0, max).map((a, n) => {
    const link = url(n);
    return `[attachment: ${attachmentLabel(a)}]${link ? ` ${link}` : ''}`;
  });
  if (attachments.length > max) lines.push(`[and ${attachments.length - max} more attachments]`);
  return lines;
}

/**
 * A post's attachments in one short line for a chat: "[attachment: report.pdf, application/pdf, 120 kB]", or
 * "[3 attachments: report.pdf (120 kB), photo.jpg (2.1 MB), …]". Empty when it has none.
 */
export function attachmentsSummary(
  attachments: readonly Pick<Attachment, 'filename' | 'contentType' | 'size'>[],
): string {
  if (attachments.length === 0) return '';
  if (attachments.length === 1) return `[attachment: ${attachmentLabel(attachments[0]!)}]`;
  const names = attachments
    .slice(0, 3)
    .map((a) => `${oneShortLine(a.filename, 40) || '(no name)'} (${formatSize(a.size)})`);
  return `[${attachments.length} attachments: ${names.join(', ')}${attachments.length > 3 ? ', …' : ''}]`;
}
