/**
 * Text that reaches a finger client: no control characters from posts, ever.
 * A relayed IRC line may carry terminal escape sequences or mIRC colour codes;
 * none of that may reach the terminal of the person who runs `finger`.
 */

export type Charset = 'ascii' | 'utf-8';

// ESC sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), DCS/SOS/PM/APC (ESC P/X/^/_ ... ESC \), two-byte ESC x.
const ESCAPES =
  /\x1b\[[0-?]*[ -/]*[@-~]?|\x1b[\]PX^_][\s\S]*?(?:\x07|\x1b\\|$)|\x1b[ -/]*[0-~]?|\x9b[0-?]*[ -/]*[@-~]?|[\x90\x98\x9d\x9e\x9f][\s\S]*?(?:\x07|\x9c|$)/g;
// mIRC formatting: colour \x03[fg[,bg]], hex colour \x04RRGGBB[,RRGGBB], bold, italic, underline, strike, monospace, reverse, reset.
const MIRC =
  /\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x1d\x1f\x1e\x11\x16\x0f]/g;
// What is left of C0, DEL and C1 (tab and newline are handled by the callers), plus
// Unicode controls that reorder or hide text (bidi overrides and isolates, zero-width, line/paragraph separators).
const CONTROLS =
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g;

/**
 * Strip escape sequences, IRC formatting and every control character; tabs become
 * a space. Newlines ("\n") stay (callers split lines); "\r" is dropped.
 * With charset "ascii", letters lose their accents and anything else outside
 * printable ASCII becomes "?".
 */
export function clean(text: string, charset: Charset = 'ascii'): string {
  let s = text.replace(/\r\n?/g, '\n').replace(ESCAPES, '').replace(MIRC, '').replace(/\t/g, ' ');
  s = s.replace(CONTROLS, '');
  if (charset === 'ascii') s = toAscii(s);
  return s;
}

const ASCII_LETTERS: Record<string, string> = {
  '\u00f8': 'o',
  '\u00d8': 'O',
  '\u0142': 'l',
  '\u0141': 'L',
  '\u0111': 'd',
  '\u0110': 'D',
  '\u00e6': 'ae',
  '\u00c6': 'AE',
  '\u0153': 'oe',
  '\u0152': 'OE',
  '\u00fe': 'th',
  '\u00de': 'Th',
};

/** Printable ASCII only: accents dropped (é → e), a few look-alikes mapped, the rest "?". */
export function toAscii(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018\u2019\u201a\u2032]/g, "'")
    .replace(/[\u201c\u201d\u201e\u2033]/g, '"')
    .replace(/[\u2010-\u2015\u2212]/g, '-')
    .replace(/\u2026/g, '...')
    .replace(/[\u00a0\u2000-\u200a\u202f\u205f\u3000]/g, ' ')
    .replace(/\u00df/g, 'ss')
    .replace(
      /[\u00f8\u00d8\u0142\u0141\u0111\u0110\u00e6\u00c6\u0153\u0152\u00fe\u00de]/g,
      (ch) => ASCII_LETTERS[ch] ?? '?',
    )
    .replace(/[^\n\x20-\x7e]/gu, '?');
}

/** One line: every run of whitespace (newlines too) becomes one space. */
export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** At most `max` characters (code points), with "..." when cut. */
export function truncate(s: string, max: number): string {
  const cps = [...s];
  if (cps.length <= max) return s;
  return (
    cps
      .slice(0, Math.max(0, max - 3))
      .join('')
      .trimEnd() + '...'
  );
}

/** The first line that says something: the subject, else the first non-empty, non-quoted line of the body. */
export function firstLine(post: { subject?: string; body: string }): string {
  if (post.subject && post.subject.trim()) return post.subject.trim();
  const lines = post.body.split('\n').map((l) => l.trim());
  return lines.find((l) => l && !l.startsWith('>')) ?? lines.find((l) => l) ?? '';
}

/** Lines joined with CRLF, the last one terminated too. */
export function crlf(lines: readonly string[]): string {
  return lines.length === 0 ? '' : lines.join('\r\n') + '\r\n';
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** "2026-11-27 05:44" (UTC); with seconds when asked. */
export function utc(date: string | Date, seconds = false): string {
  const d = typeof date === 'string' ? new Date(date) : date;
  if (Number.isNaN(d.getTime())) return '????-??-?? ??:??';
  const s = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  return seconds ? `${s}:${pad2(d.getUTCSeconds())}` : s;
}

/** Thimbl's time stamp: "YYYYMMDDHHMMSS", UTC. */
export function thimblTime(date: string | Date): string {
  const d = typeof date === 'string' ? new Date(date) : date;
  return `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}`;
}
