/**
 * IRC text: formatting codes, safe lines, the nick prefix, and splitting a line
 * into pieces that fit the 512-byte limit once the server adds its prefix.
 * Pure functions, no I/O: unit-tested in test/unit/irc-text.test.ts.
 */
import { plural } from '../../src/plugin.js';

/** A wait as people read it: "2.5s", "30s". */
export const secs = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`);

/** UTF-8 bytes of a string, counted without encoding it (a lone surrogate counts as U+FFFD, as it is sent). */
export const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * mIRC formatting: \x02 bold, \x03 colour (fg[,bg], one or two digits each),
 * \x04 hex colour (RRGGBB[,RRGGBB]), \x0f reset, \x11 monospace, \x16 reverse,
 * \x1d italic, \x1e strikethrough, \x1f underline.
 */
const FORMATTING =
  /\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;
/** Every other control character but tab and line feed. */
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** IRC text as plain text for other protocols: formatting codes and other control characters removed. */
export function stripFormatting(text: string): string {
  return text.replace(FORMATTING, '').replace(CONTROLS, '');
}

/**
 * One line that is safe to put after "PRIVMSG #chan :": no CR, LF or NUL (a
 * relayed text can never inject a command), no other control characters, tabs
 * as spaces.
 */
export function safeLine(text: string): string {
  return text.replace(/[\r\n\t]/g, ' ').replace(/[\x00-\x1f\x7f]/g, '');
}

export interface PrefixVars {
  nick: string;
  bridge: string;
  protocol: string;
  origin: string;
}

/**
 * "<{nick}> " with its placeholders filled; unknown placeholders are left as they
 * are. `nickStyle` decorates the (already safe) nick: anti-highlight, colour.
 */
export function formatPrefix(format: string, vars: PrefixVars, nickStyle?: (nick: string) => string): string {
  return format
    .split(/(\{(?:nick|bridge|protocol|origin)\})/)
    .map((part) => {
      const m = /^\{(nick|bridge|protocol|origin)\}$/.exec(part);
      if (!m) return safeLine(part);
      const v = safeLine(vars[m[1] as keyof PrefixVars]);
      return m[1] === 'nick' && nickStyle ? nickStyle(v) : v;
    })
    .join('');
}

/** A prefix made by formatPrefix: safe, but colour, bold, italics, underline and reset codes are kept. */
export function safePrefix(prefix: string): string {
  return prefix.replace(/[\r\n\t]/g, ' ').replace(/[\x00\x01\x04-\x0e\x10-\x1c\x1e\x7f]/g, '');
}

/** U+200B ZERO WIDTH SPACE after the first grapheme: the nick reads the same but highlights nobody. */
export function antiHighlight(nick: string): string {
  const first = graphemes().segment(nick)[Symbol.iterator]().next();
  if (first.done || first.value.segment.length >= nick.length) return nick;
  return `${first.value.segment}\u200b${nick.slice(first.value.segment.length)}`;
}

/** mIRC colours readable on dark and light backgrounds (no white, black or greys). */
const NICK_COLOURS = [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13];

/** The same colour for the same nick, always (a hash of its lower-case form). */
export function nickColour(nick: string): number {
  let h = 2166136261;
  for (const ch of nick.toLowerCase()) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619) >>> 0;
  return NICK_COLOURS[h % NICK_COLOURS.length]!;
}

/** The nick as it is shown in a prefix: with a zero-width space inside (`antiHighlight`) and/or in its colour (`colour`). */
export function styleNick(nick: string, opts: { antiHighlight?: boolean; colour?: boolean }): string {
  let n = opts.antiHighlight ? antiHighlight(nick) : nick;
  if (opts.colour && n !== '') n = `\x03${String(nickColour(nick)).padStart(2, '0')}${n}\x03`;
  return n;
}

/**
 * Text as compared by the loop guard: formatting and zero-width characters
 * removed, white space collapsed, lower case.
 */
export function normalText(text: string): string {
  return stripFormatting(text)
    .replace(/[\u200b-\u200d\u2060\ufeff]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

/** The placeholders of `moreUrl`. */
export function urlTemplateProblem(t: string): string | undefined {
  if (/[\s\x00-\x1f\x7f]/.test(t)) return 'a URL has no spaces or control characters';
  const bad = [...t.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]).filter((k) => !['id', 'bridge'].includes(k!));
  if (bad.length) return `unknown placeholder {${bad[0]}} (expected {id} or {bridge})`;
  if (!t.includes('{id}')) return "the URL needs {id} (the post's Message-ID) to say which post";
  return undefined;
}

/** moreUrl with {id} and {bridge} filled in, URL-encoded. */
export function moreLink(template: string, post: { id: string; bridge: string }): string {
  return template.replace(/\{(id|bridge)\}/g, (_, k: 'id' | 'bridge') => encodeURIComponent(post[k]));
}

/** "N more line(s)", with where to read the rest when there is a link. */
export function moreText(n: number, link?: string): string {
  return `${plural(n, 'more line', 'more lines')}${link ? `: ${link}` : ''}`;
}

/** The placeholders a prefix format may use; anything else in braces is a config error. */
export function formatProblem(format: string): string | undefined {
  const bad = [...format.matchAll(/\{([^}]*)\}/g)]
    .map((m) => m[1])
    .filter((k) => !['nick', 'bridge', 'protocol', 'origin'].includes(k!));
  return bad.length ? `unknown placeholder {${bad[0]}} (expected {nick}, {bridge}, {protocol} or {origin})` : undefined;
}

/** The most a server may add in front of our text: USERLEN 10 (with "~"), HOSTLEN 63. */
export const WORST_USER = 10;
export const WORST_HOST = 63;

/**
 * Bytes left for the text of "PRIVMSG target :text" as other clients receive it:
 * 512 minus CRLF minus ":nick!user@host PRIVMSG target :".
 */
export function textBudget(
  self: { nick: string; user?: string; host?: string },
  target: string,
  command = 'PRIVMSG',
): number {
  const user = self.user ?? 'u'.repeat(WORST_USER);
  const host = self.host ?? 'h'.repeat(WORST_HOST);
  return 512 - 2 - byteLength(`:${self.nick}!${user}@${host} ${command} ${target} :`);
}

/** Made when first needed (a word to cut, antiHighlight): a segmenter loads ICU's break rules, some 3 MB of memory. */
let segmenter: Intl.Segmenter | undefined;
const graphemes = (): Intl.Segmenter => (segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' }));

/** Cut a word that is longer than `budget` bytes into pieces, between graphemes (or code points, for an absurd grapheme). */
function cutWord(word: string, budget: number): string[] {
  const out: string[] = [];
  let cur = '';
  let curBytes = 0;
  const push = (piece: string, bytes: number) => {
    if (curBytes + bytes > budget && cur !== '') {
      out.push(cur);
      cur = '';
      curBytes = 0;
    }
    cur += piece;
    curBytes += bytes;
  };
  for (const { segment } of graphemes().segment(word)) {
    const b = byteLength(segment);
    if (b <= budget) push(segment, b);
    else for (const cp of segment) push(cp, byteLength(cp));
  }
  if (cur !== '') out.push(cur);
  return out;
}

/**
 * Split one line of text into pieces of at most `budget` UTF-8 bytes: between
 * words where it can, inside a word only when the word alone is longer than the
 * budget, and then between graphemes — never inside a character or a grapheme
 * (unless one grapheme alone exceeds the budget). Spaces inside a piece are
 * kept; the spaces where it breaks are dropped.
 */
export function splitToBudget(text: string, budget: number): string[] {
  if (budget < 4) throw new Error(`splitToBudget: a budget of ${budget} bytes cannot hold a UTF-8 character`);
  // The common case, a line that fits whole: what the loop below gives for it (the spaces at its ends dropped).
  const whole = text.trim();
  if (byteLength(whole) <= budget) return whole === '' ? [] : [whole];
  const out: string[] = [];
  let cur = '';
  let curBytes = 0;
  let space = '';
  for (const m of text.matchAll(/\s+|\S+/g)) {
    const tok = m[0];
    if (/^\s/.test(tok)) {
      space = tok;
      continue;
    }
    const wb = byteLength(tok);
    const sb = cur === '' ? 0 : byteLength(space);
    if (curBytes + sb + wb <= budget) {
      cur += (cur === '' ? '' : space) + tok;
      curBytes += sb + wb;
    } else if (wb <= budget) {
      if (cur !== '') out.push(cur);
      cur = tok;
      curBytes = wb;
    } else {
      // A word longer than a whole line: start it on the current line when there is a fair amount of room left.
      const room = budget - curBytes - sb;
      let pieces: string[];
      if (cur !== '' && room >= 16) {
        const first = cutWord(tok, room)[0]!;
        cur += space + first;
        out.push(cur);
        pieces = cutWord(tok.slice(first.length), budget);
      } else {
        if (cur !== '') out.push(cur);
        pieces = cutWord(tok, budget);
      }
      cur = pieces.pop() ?? '';
      curBytes = byteLength(cur);
      out.push(...pieces);
    }
    space = '';
  }
  if (cur !== '') out.push(cur);
  return out;
}

/**
 * The IRC lines for some logical lines: each split to fit with its prefix;
 * every continuation keeps the prefix. Empty lines are left out (IRC cannot
 * send them). A prefix that would take more than half the budget is cut.
 */
export function ircLines(lines: readonly string[], prefix: string, budget: number): string[] {
  let p = safePrefix(prefix);
  if (byteLength(p) > budget / 2) p = cutWord(p, Math.floor(budget / 2))[0] ?? '';
  const room = budget - byteLength(p);
  const out: string[] = [];
  for (const line of lines) {
    const clean = safeLine(line).trimEnd();
    if (clean.trim() === '') continue;
    for (const piece of splitToBudget(clean, room)) out.push(p + piece);
  }
  return out;
}

/** At most `max` lines: the rest replaced by one "… (N more lines)" line. */
export function capLines(
  lines: string[],
  max: number,
  more = (n: number) => `… (${plural(n, 'more line', 'more lines')})`,
): string[] {
  if (lines.length <= max) return lines;
  const keep = lines.slice(0, Math.max(0, max - 1));
  return [...keep, more(lines.length - keep.length)];
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One line from the server as text: UTF-8 when it is valid UTF-8, else latin-1
 * (what old clients send), so that nothing becomes U+FFFD and nothing throws.
 */
export function decodeLenient(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}
