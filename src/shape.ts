/**
 * Conversation shapes (docs/design.md, "Chat meets mail"): rendering a chat
 * conversation as one digest article, and an article as a short announcement.
 * Pure functions, shared by the core and plugins.
 */
import type { Post } from './post.js';

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
  // Places are endpoints ("#commons"); a line put in from outside any endpoint (`peerpost post`: its origin
  // is "cli", not an account "protocol.instance") names no place — the bridge stands for it when nothing else does.
  const fromPlaces = lines.filter((l) => l.origin.account.includes('.')).map((l) => l.origin.target);
  const places = [...new Set(fromPlaces.length ? fromPlaces : [lines[0]!.bridge ?? 'conversation'])];
  const tag = places.length <= 3 ? places.join(', ') : `${places.slice(0, 3).join(', ')}, …`;
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
