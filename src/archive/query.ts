/**
 * The archive's search language, parsed into an FTS5 MATCH expression (over archive_fts, migration 9: the public
 * search narrows it to the public columns) and filters
 * the SQL applies beside it (src/archive/search.ts).
 *
 *   words          every word must appear (in subject, body or author)
 *   "a phrase"     the words in this order
 *   word*          a word starting so
 *   -word          must not appear (also -"a phrase", -author:bob)
 *   author:alice   in the author (name or address; the public search: the name only); subject:word in the subject
 *   bridge:NAME    only that bridge (several: any of them)
 *   before:DATE    dated before DATE (YYYY-MM-DD or ISO 8601); after:DATE at or after it
 *   thread:ID      only the thread of that post
 *   sort:date      newest first (default: relevance, newest as the tiebreak)
 *
 * Every user word becomes a quoted FTS5 string ("" for a quote inside), so nothing typed can be read by FTS5 as
 * its own syntax (AND, OR, NOT, NEAR(, column filters, ^, parentheses): no query raises an FTS syntax error. A
 * query that cannot be run (empty, only negative terms, a bad date, over 10 KB) is a CodedError 'bad-query'.
 */
import { CodedError } from '../errors.js';
import { bareId } from '../post.js';
import { WORD_BYTES_MAX, termWords, type MarkTerm } from './marks.js';

/** The longest query taken, in UTF-8 octets. */
export const MAX_QUERY_OCTETS = 10 * 1024;
/** The most terms one query may hold. */
export const MAX_TERMS = 64;

export type SearchSort = 'relevance' | 'date';

export interface ParsedQuery {
  /** The FTS5 MATCH expression. */
  match: string;
  /**
   * The same query as PostgreSQL's tsquery text (the store on PostgreSQL, src/store/pg/schema.ts): each term's folded
   * words quoted, a phrase's joined by <->, author: and subject: as the weights their columns are indexed with.
   */
  tsquery: string;
  bridges: string[];
  /** ISO 8601 UTC instants: date < before, date >= after. */
  before?: string;
  after?: string;
  /** A post id (bare): only its thread. */
  thread?: string;
  sort: SearchSort;
  /** The words and phrases searched for (positive ones), for people. */
  terms: string[];
  /** The same, as the marks on a results page look for them (src/archive/marks.ts). */
  highlight: MarkTerm[];
}

function bad(message: string): CodedError {
  return new CodedError('bad-query', message);
}

/** A term has something to find when it holds a letter or digit (what FTS5's unicode61 tokenizer indexes). */
const TOKEN_CHAR = /[\p{L}\p{N}\p{Co}]/u;

function ftsString(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/** A term as tsquery text: its words (folded, as the index holds them) quoted, in order, the last a prefix if asked. */
function tsTerm(words: readonly string[], prefix: boolean, weight: string): string {
  const quoted = words.map(
    (w, i) =>
      `'${w.replace(/\\/g, '\\\\').replace(/'/g, "''")}'${prefix && i === words.length - 1 ? ':*' + weight : weight ? ':' + weight : ''}`,
  );
  return quoted.length === 1 ? quoted[0]! : `(${quoted.join(' <-> ')})`;
}

/** Split a query into raw terms: whitespace separates, a double quote at a term's start (after - or key:) opens a phrase. */
function lex(input: string): { neg: boolean; key?: string; value: string; quoted: boolean }[] {
  const out: { neg: boolean; key?: string; value: string; quoted: boolean }[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    while (i < n && /\s/.test(input[i]!)) i++;
    if (i >= n) break;
    let neg = false;
    if (input[i] === '-' && i + 1 < n && !/\s/.test(input[i + 1]!)) {
      neg = true;
      i++;
    }
    let key: string | undefined;
    const km = /^([a-zA-Z]+):(?=\S)/.exec(input.slice(i, i + 16));
    if (km && ['author', 'subject', 'bridge', 'before', 'after', 'thread', 'sort'].includes(km[1]!.toLowerCase())) {
      key = km[1]!.toLowerCase();
      i += km[0].length;
    }
    if (input[i] === '"') {
      const end = input.indexOf('"', i + 1);
      const stop = end < 0 ? n : end;
      out.push({ neg, key, value: input.slice(i + 1, stop), quoted: true });
      i = end < 0 ? n : end + 1;
    } else {
      let j = i;
      while (j < n && !/\s/.test(input[j]!)) j++;
      out.push({ neg, key, value: input.slice(i, j), quoted: false });
      i = j;
    }
  }
  return out;
}

/** A date bound as an ISO instant: YYYY-MM-DD (midnight UTC) or a full ISO 8601 date-time. */
function dateBound(key: string, value: string): string {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const iso = day ? `${value}T00:00:00.000Z` : value;
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(iso) ? Date.parse(iso) : NaN;
  if (Number.isNaN(t) || (day && new Date(t).toISOString().slice(0, 10) !== value)) {
    throw bad(`${key}:${value} is not a date: write ${key}:YYYY-MM-DD (as ${key}:2026-01-31)`);
  }
  return new Date(t).toISOString();
}

/** Parse a search query; throws CodedError 'bad-query' with a message for people. */
export function parseQuery(text: string): ParsedQuery {
  if (Buffer.byteLength(text, 'utf8') > MAX_QUERY_OCTETS) {
    throw bad(`the query is longer than ${MAX_QUERY_OCTETS / 1024} KB: search with fewer words`);
  }
  // FTS5 reads a NUL inside a quoted string as its end ("unterminated string"): a NUL separates words, as a space.
  const input = text.replace(/\u0000/g, ' ');
  const pos: string[] = [];
  const negs: string[] = [];
  const tsPos: string[] = [];
  const tsNegs: string[] = [];
  const terms: string[] = [];
  const highlight: MarkTerm[] = [];
  const q: ParsedQuery = { match: '', tsquery: '', bridges: [], sort: 'relevance', terms, highlight };
  const lexed = lex(input);
  if (lexed.length > MAX_TERMS) throw bad(`the query has ${lexed.length} terms: at most ${MAX_TERMS} are taken`);
  for (const t of lexed) {
    const { key, value } = t;
    if (key === 'bridge' || key === 'before' || key === 'after' || key === 'thread' || key === 'sort') {
      if (t.neg) throw bad(`-${key}: cannot be negated; only words, phrases, author: and subject: can`);
      if (key === 'bridge') q.bridges.push(value);
      else if (key === 'before') q.before = dateBound(key, value);
      else if (key === 'after') q.after = dateBound(key, value);
      else if (key === 'thread') {
        const id = bareId(value);
        if (!id) throw bad('thread: needs the id of a post');
        q.thread = id;
      } else {
        const s = value.toLowerCase();
        if (s === 'date' || s === 'newest') q.sort = 'date';
        else if (s === 'relevance' || s === 'rank') q.sort = 'relevance';
        else throw bad(`sort:${value} is not a sort: write sort:date (newest first) or sort:relevance`);
      }
      continue;
    }
    // A word or a phrase, perhaps in one column. Nothing to find in it (only punctuation): left out.
    if (!TOKEN_CHAR.test(value)) continue;
    const prefix = !t.quoted && value.length > 1 && value.endsWith('*') && TOKEN_CHAR.test(value.slice(0, -1));
    let expr = prefix ? `${ftsString(value.replace(/\*+$/, ''))}*` : ftsString(value);
    if (key === 'author') expr = `{author author_address}: ${expr}`;
    else if (key === 'subject') expr = `{subject}: ${expr}`;
    const words = termWords(prefix ? value.replace(/\*+$/, '') : value);
    if (words.some((w) => Buffer.byteLength(w, 'utf8') > WORD_BYTES_MAX))
      throw bad(
        `the query has a word of more than ${WORD_BYTES_MAX} bytes; no word that long is searched for: leave it out`,
      );
    const ts = tsTerm(words, prefix, key === 'author' ? 'B' : key === 'subject' ? 'A' : '');
    if (t.neg) {
      negs.push(expr);
      tsNegs.push(ts);
    } else {
      tsPos.push(ts);
      pos.push(expr);
      terms.push(key ? `${key}:${value}` : value);
      highlight.push({
        ...(key === 'author' || key === 'subject' ? { column: key } : {}),
        words,
        prefix,
      });
    }
  }
  if (pos.length === 0) {
    throw bad(
      negs.length > 0
        ? 'a search cannot be only -words: say what to look for too (as: meeting -cancelled)'
        : 'the query has no word to look for: type a word, a "phrase" or author:NAME',
    );
  }
  q.match = `(${pos.join(' AND ')})${negs.map((e) => ` NOT ${e}`).join('')}`;
  q.tsquery = [...tsPos, ...tsNegs.map((e) => `!${e}`)].join(' & ');
  return q;
}
