/**
 * The loop guard for IRC (DESIGN.md, "Loop guard"), and the text of channel
 * events. Pure: unit-tested in test/unit/irc-relay.test.ts.
 *
 * IRC lines carry no Message-ID, so two relays in one channel (two peerpost
 * nodes bridging the same channel and the same newsgroup, or peerpost beside
 * another bridge bot) must recognise each other:
 * - a relay is known by its nick (config `relays.nicks`), by "peerpost" in its
 *   real name (WHO; every peerpost says so, and answers CTCP VERSION with
 *   "peerpost <version>"), or by the `+peerpost/id` tag on its lines;
 * - what a relay says is not relayed again (config `relays.lines: ignore`);
 * - each channel keeps a short memory (`relays.remember`) of what it already
 *   shows: the posts we said there (author, first line of text, the path it came
 *   by, the id) and the lines other relays said there; a post whose id, or whose
 *   author and text, the channel already shows by another path is not said again.
 */
import { normalText } from './text.js';

export type EventsMode = boolean | 'in' | 'out';
/** This channel's joins, parts, quits and nick changes become posts. */
export const eventsIn = (m: EventsMode | undefined): boolean => m === true || m === 'in';
/** Other places' events are shown in this channel. */
export const eventsOut = (m: EventsMode | undefined): boolean => m === true || m === 'out';

/** What another peerpost puts in its real name (the default is "peerpost relay"). */
export const isRelayRealname = (realname: string | undefined): boolean => /\bpeerpost\b/i.test(realname ?? '');

/** The client-only message tag that carries a post's Message-ID. */
export const ID_TAG = '+peerpost/id';

export type ChannelEvent =
  | { type: 'join'; nick: string }
  | { type: 'part'; nick: string; message?: string }
  | { type: 'quit'; nick: string; message?: string }
  | { type: 'kick'; nick: string; by: string; message?: string }
  | { type: 'nick'; nick: string; newNick: string };

/** The body of an event post: "alice joined", "alice left (bye)", "alice is now known as alicia". */
export function eventText(e: ChannelEvent): string {
  const why = (m?: string) => (m && m.trim() !== '' && m.trim() !== e.nick ? ` (${m.trim()})` : '');
  switch (e.type) {
    case 'join': return `${e.nick} joined`;
    case 'part': return `${e.nick} left${why(e.message)}`;
    // ngircd sends a client's own quit message in double quotes.
    case 'quit': return `${e.nick} quit${why(e.message?.replace(/^"(.*)"$/s, '$1'))}`;
    case 'kick': return `${e.nick} was kicked by ${e.by}${why(e.message)}`;
    case 'nick': return `${e.nick} is now known as ${e.newNick}`;
  }
}

/** What identifies a post for the memory. `text` is its first line (an article: its subject). */
export interface Said {
  id: string;
  author: string;
  text: string;
  /** The path it came by: "irc.libera/#commons", "nntp.local/peerpost.commons", "cli". */
  origin: string;
}

type Entry =
  | { at: number; kind: 'sent'; id: string; author: string; text: string; origin: string }
  | { at: number; kind: 'seen'; by: string; line: string; id?: string };

/** How much of the text must match: enough to be the same post, short enough to be on the first line. */
const MATCH_CHARS = 60;

export class RelayMemory {
  private readonly places = new Map<string, Entry[]>();

  constructor(
    private windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly max = 2000,
  ) {}

  setWindow(ms: number): void {
    this.windowMs = ms;
  }

  private list(place: string): Entry[] {
    let l = this.places.get(place);
    if (!l) this.places.set(place, (l = []));
    const cut = this.now() - this.windowMs;
    let drop = 0;
    while (drop < l.length && l[drop]!.at < cut) drop++;
    if (l.length - drop > this.max) drop = l.length - this.max;
    if (drop > 0) l.splice(0, drop);
    return l;
  }

  /** We said this post at `place`. */
  sent(place: string, s: Said): void {
    if (this.windowMs <= 0) return;
    this.list(place).push({ at: this.now(), kind: 'sent', id: s.id, author: normalText(s.author), text: normalText(s.text), origin: s.origin });
  }

  /** Another relay (`by`) said this line at `place` (with the post id it tagged it with, if any). */
  seen(place: string, by: string, line: string, id?: string): void {
    if (this.windowMs <= 0) return;
    this.list(place).push({ at: this.now(), kind: 'seen', by, line: normalText(line), ...(id ? { id } : {}) });
  }

  /** Why `place` already shows this post (so it is not said again), or undefined. */
  shown(place: string, s: Said): string | undefined {
    if (this.windowMs <= 0) return undefined;
    const author = normalText(s.author);
    const text = normalText(s.text).slice(0, MATCH_CHARS);
    for (const e of this.list(place)) {
      if (e.id !== undefined && e.id === s.id) return e.kind === 'sent' ? 'already said here' : `already said here by ${e.by} (same post id)`;
      if (text === '' || author === '') continue;
      if (e.kind === 'sent') {
        if (e.origin !== s.origin && e.author === author && e.text.slice(0, MATCH_CHARS) === text) return `already said here (the same text by ${s.author}, from ${e.origin})`;
      } else {
        const i = e.line.indexOf(author);
        if (i >= 0 && e.line.indexOf(text, i + author.length) >= 0) return `already said here by ${e.by}`;
      }
    }
    return undefined;
  }
}
