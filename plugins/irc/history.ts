/**
 * What was said while the bot was away (IRCv3 `draft/chathistory`): the pure
 * part, tested as text in test/unit/irc-history.test.ts. The connection's part
 * (asking, holding live lines back, replaying): replay.ts.
 *
 * - A channel's mark is the last line the bot saw there: its `msgid` and its
 *   server-time. It is kept in the plugin's store (`history:<channel>`), so a
 *   restart of peerpost catches up too.
 * - After every join the bot asks `CHATHISTORY LATEST <chan> timestamp=<mark − 1 ms> <limit>`
 *   (latestRequest): the newest lines after the mark, in order. By time, not by
 *   `msgid=`: Ergo answers a msgid it no longer holds with an empty batch, the
 *   same answer as "nothing new", and a mark whose line fell out of the history
 *   would lose everything after it without a word. The millisecond before the
 *   mark takes in lines of the mark's own millisecond; the mark's msgid then
 *   cuts the answer exactly (planReplay), and the post ids made from msgids
 *   (postIdFor) make the core drop what it already holds. An answer as long as
 *   asked that does not reach the mark is followed by the page before it
 *   (beforeRequest, needsPageBefore, mergePage) while the replay could take
 *   more lines.
 * - The answer is bounded by `history.maxLines` and `history.maxAge`; what lies
 *   beyond is a gap, reported (gapText), never skipped without a word.
 */
import { createHash } from 'node:crypto';
import type { MessageEvent, MessageType } from './events.js';

/** The last line seen in a channel. */
export interface Mark {
  /** Its IRCv3 msgid, when the server gave one. */
  msgid?: string;
  /** Its server-time (or when we joined), ms since the epoch. */
  time: number;
}

/** A line of a channel as irc-framework hands it over (live, or inside a chathistory batch). */
export interface Line {
  type: MessageType;
  ev: MessageEvent;
}

/** The capabilities that give the CHATHISTORY command, in order of preference. */
export const HISTORY_CAPS = ['draft/chathistory', 'chathistory'] as const;

/** The batch types of a CHATHISTORY answer. */
export const HISTORY_BATCHES: ReadonlySet<string> = new Set(['chathistory', 'draft/chathistory']);

/** A line's msgid tag, when it has a usable one. */
export function msgidOf(ev: Pick<MessageEvent, 'tags'>): string | undefined {
  const v = ev.tags?.msgid ?? ev.tags?.['draft/msgid'];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The mark a line leaves (its msgid and server-time; `now` when it carries no time). */
export function markOf(ev: Pick<MessageEvent, 'tags' | 'time'>, now: number): Mark {
  const msgid = msgidOf(ev);
  const time = typeof ev.time === 'number' && Number.isFinite(ev.time) ? ev.time : now;
  return msgid === undefined ? { time } : { msgid, time };
}

/** A stored mark, checked (the store holds JSON: anything else is no mark). */
export function readMark(v: unknown): Mark | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { msgid, time } = v as Record<string, unknown>;
  if (typeof time !== 'number' || !Number.isFinite(time)) return undefined;
  return typeof msgid === 'string' && msgid !== '' ? { msgid, time } : { time };
}

/**
 * The most lines one CHATHISTORY request may ask for: the server's ISUPPORT `CHATHISTORY=N`
 * (or `draft/CHATHISTORY`); 0 or none means no limit of its own.
 */
export function serverLimit(isupport: unknown): number | undefined {
  const n = typeof isupport === 'string' ? Number(isupport) : typeof isupport === 'number' ? isupport : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * How many items to ask for: twice maxLines and one more, within the server's limit. The server counts the
 * joins, parts and quits of its answer (HistServ's lines) against the limit too; the room for them keeps a
 * busy channel's replay whole, and one more than maxLines lines tells that there were more.
 */
export function requestLimit(maxLines: number, server: number | undefined): number {
  return server === undefined ? 2 * maxLines + 1 : Math.min(2 * maxLines + 1, server);
}

/** The request for the newest lines of `channel` after `mark`. */
export function latestRequest(channel: string, mark: Mark, limit: number): string {
  return `CHATHISTORY LATEST ${channel} timestamp=${new Date(mark.time - 1).toISOString()} ${limit}`;
}

/**
 * The request for the page before an answer's first line (`first`, its server-time): up to and including
 * that millisecond (lines of it already had are dropped by msgid: mergePage).
 */
export function beforeRequest(channel: string, first: number, limit: number): string {
  return `CHATHISTORY BEFORE ${channel} timestamp=${new Date(first + 1).toISOString()} ${limit}`;
}

/** An earlier page in front of what was had, less the lines already had (by msgid). */
export function mergePage(page: readonly Line[], had: readonly Line[]): Line[] {
  const known = new Set(had.map((l) => msgidOf(l.ev)).filter((id) => id !== undefined));
  return [...page.filter((l) => !known.has(msgidOf(l.ev) ?? '')), ...had];
}

/** The answer so far reaches back to the mark: its line is in it, or a line older than it. */
export function reachesMark(all: readonly Line[], mark: Mark): boolean {
  if (mark.msgid !== undefined && all.some((l) => msgidOf(l.ev) === mark.msgid)) return true;
  const first = all[0]?.ev.time;
  return typeof first === 'number' && first < mark.time;
}

/**
 * After a page of the answer (`page`, of `requested` asked for; `all`: every page so far, merged): ask for the
 * page before it while the server gave all it was asked (it may hold more), the mark is not reached, the
 * page brought something new, and the replay could still take more lines (maxLines). Past maxLines the
 * rest is a gap anyway, and `wasCut` says so.
 */
export function needsPageBefore(
  page: readonly Line[],
  fresh: number,
  all: readonly Line[],
  lim: { mark: Mark; requested: number; maxLines: number; separators?: string },
): boolean {
  if (!wasCut(page, all, lim.mark, lim.requested) || fresh === 0) return false;
  return all.filter((l) => isPerson(l.ev, lim.separators)).length <= lim.maxLines;
}

/** The last page was as long as asked and the answer does not reach the mark: lines before it may be missing. */
export function wasCut(page: readonly Line[], all: readonly Line[], mark: Mark, requested: number): boolean {
  return page.length >= requested && !reachesMark(all, mark);
}

/**
 * Ergo's history service: without `draft/event-playback` the joins, parts, quits and nick changes of a
 * history answer come as PRIVMSGs from HistServ ("alice joined the channel"). Never a person's line.
 */
export function isHistoryService(ev: Pick<MessageEvent, 'nick' | 'ident'>): boolean {
  return ev.nick?.toLowerCase() === 'histserv';
}

/**
 * A name only RELAYMSG can put on a line (it holds one of the server's relaymsg separators, the value of
 * its `draft/relaymsg` capability: "/" on Ergo, where no client's nick may hold one): a relay's line. Ergo
 * keeps such a line in its history without the `draft/relaymsg` tag (and without client tags such as
 * `+peerpost/id`) that marks it live, so in a history answer the name is all that tells it: ours or
 * another relay's, it is not relayed again.
 */
export function isRelayedName(nick: string | undefined, separators: string | undefined): boolean {
  if (!nick || !separators) return false;
  for (const c of separators) if (nick.includes(c)) return true;
  return false;
}

/** A person's line (not HistServ's, not a RELAYMSG line). */
function isPerson(ev: MessageEvent, separators: string | undefined): boolean {
  return !isHistoryService(ev) && !isRelayedName(ev.nick, separators);
}

/** What a history answer holds that is not relayed, and why. */
export interface Gap {
  channel: string;
  /** Lines left out (a lower bound when `more`). */
  lines: number;
  /** The answer was cut at the request's limit: there may be more before its first line. */
  more: boolean;
  /** The mark's time: the gap starts after it. */
  from: number;
  /** The first line replayed (or the time of the answer): the gap ends before it. */
  to: number;
}

export interface ReplayPlan {
  /** The lines to relay, in the server's order. */
  replay: Line[];
  /** The msgids of every line of the answer (the live lines held back are checked against them). */
  msgids: Set<string>;
  /** Lines beyond the window, when there are any (or may be). */
  gap?: Gap;
}

export interface ReplayLimits {
  mark: Mark;
  /** When the answer came, ms. */
  now: number;
  /** history.maxAge, ms. */
  maxAgeMs: number;
  /** history.maxLines. */
  maxLines: number;
  /** The server cut the answer (wasCut): lines before its first one may be missing. */
  cut: boolean;
  /** The server's relaymsg separators (isRelayedName), when it offers `draft/relaymsg`. */
  separators?: string;
}

/**
 * What to relay of a CHATHISTORY answer: every person's line after the mark (the mark's own msgid cuts it
 * exactly; HistServ's lines and RELAYMSG lines are left out), not older than maxAge, at most the newest
 * maxLines; the rest is the gap.
 */
export function planReplay(channel: string, items: readonly Line[], lim: ReplayLimits): ReplayPlan {
  const msgids = new Set<string>();
  for (const it of items) {
    const id = msgidOf(it.ev);
    if (id !== undefined) msgids.add(id);
  }
  let after = items;
  const at = lim.mark.msgid === undefined ? -1 : items.findIndex((it) => msgidOf(it.ev) === lim.mark.msgid);
  if (at >= 0) after = items.slice(at + 1);
  // Without the mark's own line: what is older than the mark was seen (or said before the first join).
  if (at < 0) after = after.filter((it) => typeof it.ev.time !== 'number' || it.ev.time >= lim.mark.time);
  const people = after.filter((it) => isPerson(it.ev, lim.separators));
  const oldest = lim.now - lim.maxAgeMs;
  const fresh = people.filter((it) => typeof it.ev.time !== 'number' || it.ev.time >= oldest);
  const replay = fresh.length > lim.maxLines ? fresh.slice(fresh.length - lim.maxLines) : fresh;
  const more = lim.cut;
  const left = people.length - replay.length;
  const plan: ReplayPlan = { replay, msgids };
  if (left > 0 || more) {
    const first = replay[0]?.ev.time;
    plan.gap = {
      channel,
      lines: left,
      more,
      from: lim.mark.time,
      to: typeof first === 'number' ? first : lim.now,
    };
  }
  return plan;
}

/** The live lines held back while a channel's history was replayed, less those the answer held already. */
export function liveAfter(held: readonly Line[], answered: ReadonlySet<string>): Line[] {
  return held.filter((l) => {
    const id = msgidOf(l.ev);
    return id === undefined || !answered.has(id);
  });
}

/** "12:40:09 UTC" (and the date when it is not today's, "2026-12-04 23:59:01 UTC"). */
export function clock(ms: number, now: number): string {
  const iso = new Date(ms).toISOString();
  const day = iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10);
  return `${day ? '' : `${iso.slice(0, 10)} `}${iso.slice(11, 19)} UTC`;
}

/** The gap in words, for the log and `peerpost status`. */
export function gapText(g: Gap, limits: { maxLines: number; maxAge: string }, now: number): string {
  const n = g.lines === 1 ? '1 line' : `${g.lines} lines`;
  const what = g.more ? (g.lines > 0 ? `more than ${n}` : 'lines') : n;
  return (
    `${what} said in ${g.channel} between ${clock(g.from, now)} and ${clock(g.to, now)} ` +
    `${g.lines === 1 && !g.more ? 'was' : 'were'} not relayed: the replay after a reconnect takes at most ` +
    `${limits.maxLines} lines from the last ${limits.maxAge} (history.maxLines, history.maxAge)`
  );
}

/** A reason the history could not be had, in words. */
export function failText(channel: string, from: number, why: string, now: number): string {
  return `lines said in ${channel} after ${clock(from, now)} may not have been relayed: the server's history could not be had (${why})`;
}

/**
 * The post id of a line the server gave a msgid: the same line, live or replayed, before or after a
 * restart, is the same post, and the core keeps it once. Unique per account and channel (one node may
 * bridge one channel twice, by two accounts), and a valid Message-ID whatever the msgid holds.
 */
export function postIdFor(msgid: string, account: string, channelKey: string, hostname: string): string {
  const left = /^[A-Za-z0-9_.~+=-]{1,100}$/.test(msgid)
    ? msgid
    : createHash('sha256').update(msgid).digest('hex').slice(0, 32);
  return `irc.${left}.${placeOf(account, channelKey, hostname)}`;
}

/** The part of a post id after the msgid, per account and channel (worked out once: it is on every line's way). */
const places = new Map<string, string>();
function placeOf(account: string, channelKey: string, hostname: string): string {
  const k = `${account}\n${channelKey}\n${hostname}`;
  let p = places.get(k);
  if (p === undefined) {
    const host = /^[\x21-\x7e]+$/.test(hostname) && !/[<>@]/.test(hostname) ? hostname : 'irc.invalid';
    p = `${createHash('sha256').update(`${account}\n${channelKey}`).digest('hex').slice(0, 10)}@${host}`;
    if (places.size > 1000) places.clear();
    places.set(k, p);
  }
  return p;
}

/** A duration as a person writes it in the config: "1h", "90m", "45s". */
export function span(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
