/**
 * A post's search words as PostgreSQL's tsvector text (the store on PostgreSQL, issue 17: src/store/pg/schema.ts).
 *
 * The words are the ones SQLite's unicode61 tokenizer finds, folded (src/archive/marks.ts); this writes them as
 * tsvector input (`'word':1A,5A 'other':2A`), which PostgreSQL reads as it is. Before, PostgreSQL ran
 * `to_tsvector('simple', …)` over the words joined by spaces: its text parser and dictionary on every post, inside
 * the group commit's statement, on the one connection that holds the posts lock. Reading the vector as written took
 * that statement 1.13x faster (bench/RESULTS.md), and the words no longer depend on the database's locale (its
 * parser splits a word at a character its LC_CTYPE does not call a letter, such as ² under en_US): the query is read
 * as written too (src/archive/search.ts), so a word is found as SQLite finds it.
 *
 * What to_tsvector('simple', words) gives, and so what this gives (test/integration/pg-tsvector.test.ts compares the
 * two on a real PostgreSQL): positions 1, 2, 3… in order; a word of more than 2,046 bytes left out, without a
 * position; a position above 16,383 written as 16,383; at most 255 positions of one word, the first ones.
 */
import { WORD_BYTES_MAX, termWords } from '../../archive/marks.js';
import { indexText } from '../../migrations.js';
import type { Post } from '../../post.js';

/** The highest position a tsvector holds (later words are all at it). */
const POSITION_MAX = 16383;
/** The most positions one word keeps (to_tsvector keeps the first ones). */
const POSITIONS_MAX = 255;
/** The most characters of one text's words the index takes, spaces between them counted (a tsvector holds at most 1 MB). */
const WORDS_CHARS_MAX = 256 * 1024;

export type Weight = 'A' | 'B' | 'C' | 'D';

const quote = (w: string) => `'${w.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** A text's words as tsvector text, each position with `weight` (D, the default, is not written). */
export function tsvectorText(text: string, weight: Weight): string {
  const at = new Map<string, number[]>();
  let position = 0;
  let chars = 0;
  for (const word of termWords(text)) {
    chars += (chars ? 1 : 0) + word.length;
    if (chars > WORDS_CHARS_MAX) break;
    if (Buffer.byteLength(word, 'utf8') > WORD_BYTES_MAX) continue;
    const p = Math.min(++position, POSITION_MAX);
    const list = at.get(word);
    if (!list) at.set(word, [p]);
    else if (list.length < POSITIONS_MAX && list[list.length - 1] !== p) list.push(p);
  }
  const w = weight === 'D' ? '' : weight;
  const out: string[] = [];
  for (const [word, list] of at) out.push(`${quote(word)}:${list.map((p) => `${p}${w}`).join(',')}`);
  return out.join(' ');
}

/**
 * A post's search fields as pp_insert_posts and the Store's indexPost take them, each its own tsvector, weighted as
 * SQLite's bm25 weighs their columns (subject 4: A, author 2: B, body 1: D; the author's address B, other addresses D):
 * public = s || a || b, whole = public || aa || ad. Undefined for an event (not indexed).
 */
export function searchFields(post: Post): { s: string; b: string; a: string; aa: string; ad: string } | undefined {
  if (post.kind === 'event') return undefined;
  const [s, b, a, aa, ad] = indexText(post);
  return {
    s: tsvectorText(s, 'A'),
    b: tsvectorText(b, 'D'),
    a: tsvectorText(a, 'B'),
    aa: tsvectorText(aa ?? '', 'B'),
    ad: tsvectorText(ad, 'D'),
  };
}
