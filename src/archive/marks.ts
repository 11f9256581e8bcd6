/**
 * Where a search's words are in a post's text, for the marks on a results page: the subject with every match
 * marked, and a snippet of the body (a window of words around the best matches, as FTS5's snippet() chooses one).
 *
 * Done here on the post the search already read, not by FTS5's highlight() and snippet(): those read the post
 * again through the index's content view (three JSON parses of the stored post) and tokenize the whole column,
 * which for a long post (a mailed patch of 40 KB) costs more than the search itself.
 *
 * Words are found as FTS5's unicode61 tokenizer (remove_diacritics 2) finds them: runs of letters, digits and
 * private-use characters (with their combining marks), compared case-folded and without diacritics.
 */

/** A word or phrase of a query, as marks look for it. */
export interface MarkTerm {
  /** Only in this column (author:, subject:); else in any. */
  column?: 'author' | 'subject';
  /** The words of the term, folded (a phrase has several). */
  words: string[];
  /** The last word is a prefix (word*). */
  prefix: boolean;
}

interface Token {
  start: number;
  end: number;
  word: string;
}

interface Hit {
  /** Token index of its first word, and how many words. */
  at: number;
  len: number;
  term: number;
}

const TOKEN = /[\p{L}\p{N}\p{Co}][\p{L}\p{N}\p{Co}\p{M}]*/gu;
const NON_ASCII = /[^\u0000-\u007f]/;
const MARKS = /\p{M}/gu;

/**
 * The longest word the search index holds, in UTF-8 bytes: PostgreSQL's tsvector holds none longer (it leaves such a
 * word out: src/store/pg/tsvector.ts), and a query is refused one (src/archive/query.ts), on either store alike.
 */
export const WORD_BYTES_MAX = 2046;

/** A word as the index keeps it: lower case, diacritics removed. */
export function fold(word: string): string {
  const lower = word.toLowerCase();
  return NON_ASCII.test(lower) ? lower.normalize('NFD').replace(MARKS, '') : lower;
}

/** The tokens of text[from..to): a token cut by `from` is left out, one cut by `to` is kept whole. */
export function tokenize(text: string, from = 0, to = text.length): Token[] {
  const out: Token[] = [];
  const re = new RegExp(TOKEN.source, 'gu');
  re.lastIndex = from;
  for (let m = re.exec(text); m && m.index < to; m = re.exec(text)) {
    if (m.index === from && from > 0 && /[\p{L}\p{N}\p{Co}\p{M}]/u.test(text[from - 1]!)) continue;
    out.push({ start: m.index, end: m.index + m[0].length, word: fold(m[0]) });
  }
  return out;
}

/** How much of a long body a snippet looks at: a mailed patch of 40 KB is not tokenized whole (4 KB: a window of 32 words needs a few hundred characters). */
const REGION = 4 * 1024;

/**
 * The part of a long text a snippet is chosen from: around the first place one of the terms' first words appears
 * (found as plain text, case-folded), else the start.
 */
function region(text: string, terms: readonly MarkTerm[]): [number, number] {
  if (text.length <= REGION) return [0, text.length];
  // An ASCII text is searched without a lower-cased copy (a case-blind pattern finds the same place: 0.4 ms, not
  // 3.6, in 370 KB); any other is lower-cased, and looked into only when that keeps every character where it was.
  const ascii = !NON_ASCII.test(text);
  const lower = ascii ? text : text.toLowerCase();
  let first = -1;
  if (lower.length === text.length) {
    for (const t of terms) {
      const w = t.words[0];
      if (!w || (t.column !== undefined && t.column !== ('body' as string))) continue;
      const i = ascii ? text.search(new RegExp(w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i')) : lower.indexOf(w);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
  }
  const from = first < 0 ? 0 : Math.max(0, first - REGION / 4);
  return [from, Math.min(text.length, from + REGION)];
}

/** The words of a query term, folded. */
export function termWords(text: string): string[] {
  return tokenize(text).map((t) => t.word);
}

function findHits(tokens: Token[], terms: readonly MarkTerm[], column: 'subject' | 'body'): Hit[] {
  const usable = terms
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => t.words.length > 0 && (t.column === undefined || t.column === column));
  if (!usable.length) return [];
  const hits: Hit[] = [];
  for (let at = 0; at < tokens.length; at++) {
    for (const { t, i } of usable) {
      const n = t.words.length;
      if (at + n > tokens.length) continue;
      let ok = true;
      for (let k = 0; k < n && ok; k++) {
        const w = tokens[at + k]!.word;
        ok = t.prefix && k === n - 1 ? w.startsWith(t.words[k]!) : w === t.words[k];
      }
      if (ok) {
        hits.push({ at, len: n, term: i });
        break;
      }
    }
  }
  return hits;
}

/** text[from..to) with the hits (token spans inside [first, last)) wrapped in open/close; overlapping hits merge. */
function wrap(
  text: string,
  tokens: Token[],
  hits: Hit[],
  from: number,
  to: number,
  first: number,
  last: number,
  open: string,
  close: string,
): string {
  let out = '';
  let pos = from;
  let i = 0;
  while (i < hits.length) {
    const h = hits[i]!;
    if (h.at < first || h.at + h.len > last) {
      i++;
      continue;
    }
    let end = h.at + h.len;
    let j = i + 1;
    while (j < hits.length && hits[j]!.at < end && hits[j]!.at + hits[j]!.len <= last) {
      end = Math.max(end, hits[j]!.at + hits[j]!.len);
      j++;
    }
    const s = tokens[h.at]!.start;
    const e = tokens[end - 1]!.end;
    out += text.slice(pos, s) + open + text.slice(s, e) + close;
    pos = e;
    i = j;
  }
  return out + text.slice(pos, to);
}

/** The whole text with every match marked (the subject). */
export function markAll(text: string, terms: readonly MarkTerm[], open: string, close: string): string {
  const tokens = tokenize(text);
  const hits = findHits(tokens, terms, 'subject');
  return hits.length ? wrap(text, tokens, hits, 0, text.length, 0, tokens.length, open, close) : text;
}

/**
 * A window of `size` words of the body around its best matches, marked: the window holding the most different
 * terms (then the most matches), centred on them; `ellipsis` where the text is cut. A text of `size` words or
 * fewer is given whole; a body without a match gives its first words.
 */
export function snippet(
  text: string,
  terms: readonly MarkTerm[],
  open: string,
  close: string,
  ellipsis = '…',
  size = 32,
): string {
  const [lo, hi] = region(text, terms);
  const tokens = tokenize(text, lo, hi);
  const hits = findHits(tokens, terms, 'body');
  const whole = lo === 0 && hi === text.length;
  if (whole && tokens.length <= size) return wrap(text, tokens, hits, 0, text.length, 0, tokens.length, open, close);
  let start = 0;
  if (hits.length) {
    let best = -1;
    for (let i = 0; i < hits.length; i++) {
      const from = hits[i]!.at;
      const seen = new Set<number>();
      let score = 0;
      let lastEnd = from;
      for (let j = i; j < hits.length && hits[j]!.at + hits[j]!.len <= from + size; j++) {
        score += seen.has(hits[j]!.term) ? 1 : 1000;
        seen.add(hits[j]!.term);
        lastEnd = hits[j]!.at + hits[j]!.len;
      }
      if (score > best) {
        best = score;
        start = Math.max(0, from - Math.floor((size - (lastEnd - from)) / 2));
      }
    }
  }
  start = Math.max(0, Math.min(start, tokens.length - size));
  const end = Math.min(tokens.length, start + size);
  if (end === 0) return whole ? text : '';
  const cutBefore = start > 0 || lo > 0;
  const cutAfter = end < tokens.length || hi < text.length;
  const from = cutBefore ? tokens[start]!.start : 0;
  const to = cutAfter ? tokens[end - 1]!.end : text.length;
  return (
    (cutBefore ? ellipsis : '') +
    wrap(text, tokens, hits, from, to, start, end, open, close) +
    (cutAfter ? ellipsis : '')
  );
}
