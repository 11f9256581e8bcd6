/**
 * The loop guard for IRC (docs/design.md, "Loop guard"), and the text of channel
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

/** What another peerpost puts in its real name (the default is "peerpost relay on {hostname}"). */
export const isRelayRealname = (realname: string | undefined): boolean => /\bpeerpost\b/i.test(realname ?? '');

/** The node.hostname in another peerpost's real name ("peerpost relay on news.example.org"), if it names one. */
export function relayNodeOf(realname: string | undefined): string | undefined {
  const m = /\bpeerpost\b.*\bon ([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)\s*$/i.exec(
    realname ?? '',
  );
  return m ? m[1]!.toLowerCase() : undefined;
}

/** The client-only message tag that carries a post's Message-ID. */
export const ID_TAG = '+peerpost/id';

export type ChannelEvent =
  | { type: 'join'; nick: string }
  | { type: 'part'; nick: string; message?: string }
  | { type: 'quit'; nick: string; message?: string }
  | { type: 'kick'; nick: string; by: string; message?: string }
  | { type: 'nick'; nick: string; newNick: string }
  /** Many quits of one netsplit, folded: `nick` is the first who left. */
  | { type: 'netsplit'; nick: string; nicks: string[]; servers: [string, string] };

/**
 * The two servers of a netsplit, from a quit reason: the server sets it to the names of the two servers that lost
 * each other ("hub.example.net leaf.example.net"), which no client can (a client's quit reason is prefixed or quoted).
 */
export function netsplitServers(reason: string | undefined): [string, string] | undefined {
  const m = /^([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+) ([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+)$/i.exec(reason?.trim() ?? '');
  return m ? [m[1]!, m[2]!] : undefined;
}

/** The body of an event post: "alice joined", "alice left (bye)", "alice is now known as alicia". */
export function eventText(e: ChannelEvent): string {
  const why = (m?: string) => (m && m.trim() !== '' && m.trim() !== e.nick ? ` (${m.trim()})` : '');
  switch (e.type) {
    case 'join':
      return `${e.nick} joined`;
    case 'part':
      return `${e.nick} left${why(e.message)}`;
    // ngircd sends a client's own quit message in double quotes.
    case 'quit':
      return `${e.nick} quit${why(e.message?.replace(/^"(.*)"$/s, '$1'))}`;
    case 'kick':
      return `${e.nick} was kicked by ${e.by}${why(e.message)}`;
    case 'nick':
      return `${e.nick} is now known as ${e.newNick}`;
    case 'netsplit': {
      const shown = e.nicks.slice(0, NETSPLIT_NICKS);
      const more = e.nicks.length - shown.length;
      return `netsplit ${e.servers[0]} ↔ ${e.servers[1]}: ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''} quit`;
    }
  }
}

/** The most nicks a folded netsplit line names; the rest are counted. */
const NETSPLIT_NICKS = 20;

/**
 * Folds the quits of a netsplit into one event per channel: the first quit with a netsplit reason opens a fold for
 * its channel and servers, later ones join it, and it is emitted `quietMs` after the last (at most `maxMs` after the
 * first). Pure but for the timers it is given.
 */
export class NetsplitFolder {
  private readonly open = new Map<
    string,
    { channel: string; servers: [string, string]; nicks: string[]; time?: number; first: number; timer: unknown }
  >();

  constructor(
    private readonly emit: (channel: string, e: Extract<ChannelEvent, { type: 'netsplit' }>, time?: number) => void,
    private readonly quietMs = 2_000,
    private readonly maxMs = 10_000,
    private readonly timers: { set(fn: () => void, ms: number): unknown; clear(t: unknown): void } = {
      set: (fn, ms) => setTimeout(fn, ms),
      clear: (t) => clearTimeout(t as NodeJS.Timeout),
    },
    private readonly now: () => number = Date.now,
  ) {}

  /** A netsplit quit of `nick` from `channel` (its key `ck`). */
  add(ck: string, channel: string, nick: string, servers: [string, string], time?: number): void {
    const k = `${ck} ${servers.join(' ')}`;
    let f = this.open.get(k);
    if (!f) {
      f = { channel, servers, nicks: [], first: this.now(), timer: undefined, ...(time !== undefined ? { time } : {}) };
      this.open.set(k, f);
    }
    f.nicks.push(nick);
    this.timers.clear(f.timer);
    const wait = Math.max(0, Math.min(this.quietMs, f.first + this.maxMs - this.now()));
    const fold = f;
    f.timer = this.timers.set(() => this.flush(k, fold), wait);
  }

  private flush(k: string, f: { channel: string; servers: [string, string]; nicks: string[]; time?: number }): void {
    if (this.open.get(k) !== f) return;
    this.open.delete(k);
    this.emit(f.channel, { type: 'netsplit', nick: f.nicks[0]!, nicks: f.nicks, servers: f.servers }, f.time);
  }

  /** Emit every open fold now (the connection closed). */
  flushAll(): void {
    for (const [k, f] of [...this.open]) {
      this.timers.clear(f.timer);
      this.flush(k, f);
    }
  }

  /** Forget every open fold (the account stops). */
  clear(): void {
    for (const f of this.open.values()) this.timers.clear(f.timer);
    this.open.clear();
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

const textKey = (author: string, text: string) => `${author}\u0000${text.slice(0, MATCH_CHARS)}`;

/** What one channel already shows, for `windowMs` (at most `max` entries): the posts we said there and the lines other relays said there. */
export class ChannelMemory {
  private readonly entries: Entry[] = [];
  private readonly byId = new Map<string, Entry>();
  /** 'sent' entries by author and the start of the text. */
  private readonly byText = new Map<string, Entry[]>();
  /** How many 'seen' entries (other relays' lines, matched by substring) there are. */
  private seenCount = 0;

  constructor(
    private windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly max = 2000,
  ) {}

  setWindow(ms: number): void {
    this.windowMs = ms;
  }

  /** Forget what is older than the window (or past the most kept). */
  private prune(): void {
    const l = this.entries;
    const cut = this.now() - this.windowMs;
    let drop = 0;
    while (drop < l.length && l[drop]!.at < cut) drop++;
    if (l.length - drop > this.max) drop = l.length - this.max;
    for (const e of l.splice(0, drop)) {
      if (e.id !== undefined && this.byId.get(e.id) === e) this.byId.delete(e.id);
      if (e.kind === 'seen') this.seenCount -= 1;
      else {
        const k = textKey(e.author, e.text);
        const same = this.byText.get(k);
        // The oldest of its key: it is the first of its list.
        if (same && same[0] === e) same.shift();
        if (same && same.length === 0) this.byText.delete(k);
      }
    }
  }

  private add(e: Entry): void {
    this.prune();
    this.entries.push(e);
    if (e.id !== undefined) this.byId.set(e.id, e);
    if (e.kind === 'seen') this.seenCount += 1;
    else {
      const k = textKey(e.author, e.text);
      const same = this.byText.get(k);
      if (same) same.push(e);
      else this.byText.set(k, [e]);
    }
  }

  /** We said this post here. */
  sent(s: Said): void {
    if (this.windowMs <= 0) return;
    this.add({
      at: this.now(),
      kind: 'sent',
      id: s.id,
      author: normalText(s.author),
      text: normalText(s.text),
      origin: s.origin,
    });
  }

  /** Another relay (`by`) said this line here (with the post id it tagged it with, if any). */
  seen(by: string, line: string, id?: string): void {
    if (this.windowMs <= 0) return;
    this.add({ at: this.now(), kind: 'seen', by, line: normalText(line), ...(id ? { id } : {}) });
  }

  /** Why this channel already shows this post (so it is not said again), or undefined. */
  shown(s: Said): string | undefined {
    if (this.windowMs <= 0) return undefined;
    this.prune();
    const byId = this.byId.get(s.id);
    if (byId) return byId.kind === 'sent' ? 'already said here' : `already said here by ${byId.by} (same post id)`;
    const author = normalText(s.author);
    const text = normalText(s.text).slice(0, MATCH_CHARS);
    if (text === '' || author === '') return undefined;
    for (const e of this.byText.get(textKey(author, text)) ?? []) {
      if (e.kind === 'sent' && e.origin !== s.origin)
        return `already said here (the same text by ${s.author}, from ${e.origin})`;
    }
    if (this.seenCount === 0) return undefined;
    for (const e of this.entries) {
      if (e.kind !== 'seen') continue;
      const i = e.line.indexOf(author);
      if (i >= 0 && e.line.indexOf(text, i + author.length) >= 0) return `already said here by ${e.by}`;
    }
    return undefined;
  }
}
