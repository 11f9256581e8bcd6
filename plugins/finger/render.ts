/**
 * What a finger client sees: a bridge's plan (plain or Thimbl), the list of
 * bridges, and the one-line answers. Every line ends in CRLF; nothing from a
 * post reaches the client unclean (see text.ts).
 */
import { plural, publicPost, type AddressPolicy, type Post } from '../../src/plugin.js';
import { clean, crlf, firstLine, oneLine, thimblTime, truncate, utc, type Charset } from './text.js';

export interface PlanPost {
  date: string;
  author: { name: string; address?: string; via: string };
  subject?: string;
  body: string;
  kind: string;
}

export interface PlanView {
  /** The finger name: the endpoint's target ("commons"). */
  name: string;
  bridge: string;
  hostname: string;
  description: string;
  /** Where to join the bridge, one place a line. */
  join: readonly string[];
  /** Newest first. */
  posts: readonly PlanPost[];
  /** Posts in the bridge in all. */
  total: number;
  verbose: boolean;
  charset: Charset;
}

/**
 * A message that came from a followed Thimbl plan: a Thimbl plan passes it on as it was (address, time, text),
 * since other nodes know it by an id made of exactly those.
 */
export function relayedThimbl(p: Pick<PlanPost, 'author' | 'kind'>): boolean {
  return p.author.via === 'finger' && p.kind === 'message' && !!p.author.address;
}

/**
 * A post as a plan shows it: mail addresses (the author's, and any in the subject or body) as the bridge's
 * archive.addresses policy says. In a Thimbl plan, a message relayed from a followed Thimbl plan stays as its
 * own plan published it (a finger address its owner made public, and the id other nodes know it by).
 */
export function planPost<P extends Post>(p: P, policy: AddressPolicy, thimbl: boolean): P {
  return thimbl && relayedThimbl(p) ? p : publicPost(p, policy);
}

/** Width of the short form: lines fit a 79-column terminal. */
const WIDTH = 79;

function authorName(p: PlanPost, charset: Charset): string {
  return oneLine(clean(p.author.name, charset)) || '?';
}

/** The classic plan: a header, where to join, then the newest posts, newest first. */
export function renderPlan(v: PlanView): string {
  const c = (s: string) => oneLine(clean(s, v.charset));
  const lines: string[] = [];
  const desc = c(v.description);
  lines.push(
    `Login: ${truncate(c(v.name), 30).padEnd(30)} Name: ${desc ? truncate(desc, WIDTH - 44) : `bridge ${c(v.bridge)}`}`,
  );
  lines.push(`Bridge: ${c(v.bridge)} on ${c(v.hostname)} (peerpost)`);
  if (v.verbose && desc.length > WIDTH - 44) lines.push(`Description: ${desc}`);
  if (v.join.length) {
    lines.push('Join:');
    for (const j of v.join) lines.push(`  ${clean(j, v.charset).replace(/\n/g, ' ').trim()}`);
  }
  lines.push('Plan:');
  if (v.posts.length === 0) {
    lines.push('No posts yet.');
    return crlf(lines);
  }
  lines.push(
    `${v.total === v.posts.length ? '' : `Newest ${v.posts.length} of `}${plural(v.total, 'post')}, newest first (times in UTC):`,
  );
  for (const p of v.posts) {
    const who = authorName(p, v.charset);
    const what = c(firstLine(p));
    if (v.verbose) {
      const addr = p.author.address ? ` <${c(p.author.address)}>` : '';
      lines.push(
        `${utc(p.date, true)}  ${who}${addr} via ${c(p.author.via)}${p.kind === 'message' ? '' : ` (${c(p.kind)})`}`,
      );
      if (p.subject) lines.push(`    Subject: ${c(p.subject)}`);
      const first = c(firstLine({ body: p.body }));
      if (first) lines.push(`    ${first}`);
      const more = p.body.split('\n').filter((l) => l.trim()).length - 1;
      if (more > 0) lines.push(`    (${plural(more, 'more line', 'more lines')})`);
    } else {
      const head = `${utc(p.date)}  ${truncate(who, 12).padEnd(12)}  `;
      lines.push(head + truncate(what, WIDTH - head.length));
    }
  }
  return crlf(lines);
}

export interface ThimblView extends PlanView {
  /** The address this plan is fingered at: "commons@host". */
  address: string;
  bio: string;
  properties: Readonly<Record<string, string>>;
  following: readonly { nick: string; address: string }[];
}

/** The longest Thimbl message text (Thimbl messages were short). */
const THIMBL_TEXT = 500;

/**
 * A Thimbl plan: a short header, then after "Plan:" one JSON object on one line.
 * Messages are oldest first, as Thimbl clients wrote them; `time` is "YYYYMMDDHHMMSS" UTC.
 */
export function renderThimbl(v: ThimblView): string {
  const c = (s: string) => oneLine(clean(s, 'utf-8'));
  const messages = [...v.posts].reverse().map((p) => {
    // A message that came from a followed Thimbl plan is passed on as it was (address, time, text), so a
    // node that follows both plans recognises it (same id) instead of taking it again, and loops die out.
    if (relayedThimbl(p) && p.author.address)
      return { time: thimblTime(p.date), address: c(p.author.address), text: c(p.body) };
    const subject = p.subject ? `${c(p.subject)} - ` : '';
    return {
      time: thimblTime(p.date),
      address: v.address,
      text: truncate(`${c(p.author.name)}: ${subject}${c(p.body)}`, THIMBL_TEXT),
    };
  });
  const plan = {
    name: c(v.description) || c(v.name),
    address: v.address,
    bio: c(v.bio),
    properties: Object.fromEntries(Object.entries(v.properties).map(([k, val]) => [c(k), c(val)])),
    following: v.following.map((f) => ({ nick: c(f.nick), address: c(f.address) })),
    messages,
    replies: {},
  };
  let json = JSON.stringify(plan);
  // Keep the answer printable ASCII when asked: JSON escapes say the same thing.
  if (v.charset === 'ascii')
    json = json.replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const lines = [
    `Login: ${truncate(c(v.name), 30).padEnd(30)} Name: ${truncate(c(v.description) || `bridge ${c(v.bridge)}`, WIDTH - 44)}`,
    'Plan:',
    json,
  ];
  return crlf(lines);
}

export interface ListEntry {
  name: string;
  description: string;
  posts: number;
  last?: string;
}

/** `finger @host`: the public bridges of this node. */
export function renderList(
  hostname: string,
  entries: readonly ListEntry[],
  charset: Charset,
  verbose: boolean,
): string {
  const c = (s: string) => oneLine(clean(s, charset));
  if (entries.length === 0) return crlf([`No public plans on ${c(hostname)}.`]);
  const lines = [`Bridges on ${c(hostname)} (finger NAME@${c(hostname)} for one):`];
  const w = Math.min(20, Math.max(...entries.map((e) => c(e.name).length)));
  for (const e of entries) {
    const head = `  ${truncate(c(e.name), 20).padEnd(w)}  `;
    const tail = verbose
      ? `  (${e.posts} post${e.posts === 1 ? '' : 's'}${e.last ? `, last ${utc(e.last)} UTC` : ''})`
      : '';
    lines.push(head + (verbose ? c(e.description) : truncate(c(e.description), WIDTH - head.length)) + tail);
  }
  return crlf(lines);
}

/** A one-line answer. */
export function oneLineAnswer(text: string): string {
  return crlf([oneLine(clean(text, 'ascii'))]);
}
