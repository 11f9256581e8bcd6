/**
 * The archive's search: a parsed query (src/archive/query.ts) run over archive_fts (migration 9, written in the
 * transaction that stores a post, so a post is found the moment it is accepted). Its subject, body and author
 * columns hold what public pages show (names, subjects, bodies with every address as `hide` shows it: alice@…);
 * author_address and addresses hold the addresses. Index 'public' searches the first three only, so a hidden
 * address or domain cannot be searched for; 'full' (the operator's) all five.
 * The web searches 'public' (unless every bridge it searches shows addresses); the operator's CLI 'full'.
 *
 * Ranking: bm25 with subject weighing 4, author and author_address 2, body and addresses 1; ties newest first (the
 * latest stored); sort:date newest first by the post's place (migration 10, placed_at: a live post by when it
 * arrived, an imported one by its own date), the order every view lists a bridge in, seq breaking ties. before:
 * and after: bound the post's Date. A query matching more than CANDIDATES posts (and no date or thread filter) ranks
 * its newest CANDIDATES matches first, then the older ones (each part by bm25).
 * Paging: an opaque cursor (base64url JSON): an offset for relevance (scores shift as the archive grows, so no
 * key would stay put), the last (place, seq) for sort:date.
 * Highlights: src/archive/marks.ts wraps matches in random nonce markers, the text is HTML-escaped, then the
 * markers become <mark>: nothing a post holds can forge a mark or inject markup.
 */
import { randomBytes } from 'node:crypto';
import { dialectOf, type SqlDatabase } from '../sql.js';
import type { AddressPolicy } from '../config/types.js';
import { CodedError } from '../errors.js';
import { toStored, type StoredPost, type StoredRow } from '../post.js';
import { threadKeyOf } from './thread.js';
import { publicText } from './privacy.js';
import { parseQuery, type ParsedQuery } from './query.js';
import { markAll, snippet } from './marks.js';

export interface SearchOptions {
  /** Results per page (1..100, default 20). */
  limit?: number;
  /** The `next` of the previous page. */
  cursor?: string;
  /** Only these bridges (added to the query's own bridge: terms; a post must be in one of each list given). */
  bridges?: string[];
  /** Extra bounds beside the query's before:/after: (YYYY-MM-DD or ISO); the tighter bound wins. */
  before?: string;
  after?: string;
  /** How snippets show mail addresses: one policy, or one per bridge (public views); default show. */
  addresses?: AddressPolicy | ((bridge: string) => AddressPolicy);
  /**
   * Which index chooses the rows: 'full' (default: the operator's view, authors' addresses and every address in a
   * text) or 'public' (what a public page shows: names, subjects and bodies with addresses as `hide` shows them).
   * Marks are found in the post itself (src/archive/marks.ts) with the query's positive terms only, so no row is
   * dropped by them; a mark that would fall inside an address is left out. Snippets follow `addresses` in both.
   */
  index?: 'full' | 'public';
}

export interface SearchHit {
  post: StoredPost;
  /** bm25 score (lower is better; negative). */
  score: number;
  /** The subject with matches in <mark>, HTML-escaped. */
  subjectHtml: string;
  /** A piece of the body around the matches, <mark>ed, HTML-escaped. */
  snippetHtml: string;
  /** The same piece as plain text (no marks). */
  snippet: string;
}

export interface SearchPage {
  query: ParsedQuery;
  hits: SearchHit[];
  /** The cursor of the next page; undefined on the last. */
  next?: string;
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

interface Row {
  seq: number;
  score: number;
  /** The post's place (sort:date; 0 otherwise). */
  place: number;
}

interface Cursor {
  o?: number;
  /** sort:date: the last post's place and seq. */
  p?: number;
  s?: number;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (c && typeof c === 'object') {
      const { o, p, s } = c as Cursor;
      if (typeof o === 'number' && Number.isSafeInteger(o) && o >= 0 && p === undefined) return { o };
      if (
        typeof p === 'number' &&
        Number.isSafeInteger(p) &&
        typeof s === 'number' &&
        Number.isSafeInteger(s) &&
        o === undefined
      )
        return { p, s };
    }
  } catch {
    /* answered below */
  }
  throw new CodedError('bad-query', 'the cursor is not one a search gave: start the search again without it');
}

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML[c]!);
}

/** Marked text → its pieces, each marked or not (marks never nest). */
function pieces(marked: string, open: string, close: string): { text: string; mark: boolean }[] {
  const out: { text: string; mark: boolean }[] = [];
  for (const [i, part] of marked.split(open).entries()) {
    if (i === 0) {
      if (part) out.push({ text: part, mark: false });
      continue;
    }
    const at = part.indexOf(close);
    const inner = at < 0 ? part : part.slice(0, at);
    const after =
      at < 0
        ? ''
        : part
            .slice(at + close.length)
            .split(close)
            .join('');
    if (inner) out.push({ text: inner, mark: true });
    if (after) out.push({ text: after, mark: false });
  }
  return out;
}

/** Unmark one piece: it joins its unmarked neighbours. */
function unmark(ps: { text: string; mark: boolean }[], i: number): { text: string; mark: boolean }[] {
  const out: { text: string; mark: boolean }[] = [];
  for (const [j, p] of ps.entries()) {
    const q = j === i ? { text: p.text, mark: false } : p;
    const last = out[out.length - 1];
    if (last && !last.mark && !q.mark) last.text += q.text;
    else out.push({ ...q });
  }
  return out;
}

/**
 * Marked text → HTML with <mark>, and plain text; addresses shown per policy. Each piece is made public on its own;
 * when that differs from the whole text made public (a mark inside an address, which would split it and let part
 * of it through), the marks there are dropped until it does not: no address ever shows more than the policy lets.
 */
function render(marked: string, open: string, close: string, policy: AddressPolicy): { html: string; text: string } {
  let ps = pieces(marked, open, close);
  const whole = publicText(ps.map((p) => p.text).join(''), policy);
  const fits = () => ps.map((p) => publicText(p.text, policy)).join('') === whole;
  while (!fits()) {
    const i = ps.findIndex((p) => p.mark);
    if (i < 0) break;
    // Drop the marks that touch an address first: the one whose unmarking makes the most pieces agree.
    const better = ps.findIndex((p, j) => {
      if (!p.mark) return false;
      const u = unmark(ps, j);
      return u.map((x) => publicText(x.text, policy)).join('') === whole;
    });
    ps = unmark(ps, better >= 0 ? better : i);
  }
  if (!fits()) return { html: escapeHtml(whole), text: whole };
  const html = ps
    .map((p) =>
      p.mark ? `<mark>${escapeHtml(publicText(p.text, policy))}</mark>` : escapeHtml(publicText(p.text, policy)),
    )
    .join('');
  return { html, text: whole };
}

const statements = new WeakMap<SqlDatabase, ReturnType<typeof prepare>>();

/** bm25 over archive_fts, its columns weighed: subject, body, author, author_address, addresses. */
const BM25 = 'bm25(archive_fts, 4.0, 1.0, 2.0, 2.0, 1.0)';

/**
 * Relevance ranks the newest CANDIDATES matches of a query first, then the older ones: bm25 costs FTS5 a read of
 * every match's column sizes and positions (15 ms for a word in 32,000 of 100,000 posts), so a very common word is
 * scored over its newest 10,000 posts for the first pages (4 ms). A query with fewer matches is ranked whole.
 */
export const CANDIDATES = 10_000;

/** The columns the public search reads: what a public page shows (migration 9). */
const PUBLIC_COLUMNS = '{subject body author}';

/** The rows of a page chosen from the index. */
function prepareOrder(db: SqlDatabase) {
  const fts = 'archive_fts';
  // posts_search (migration 8; 11 added placed_at) covers seq, bridge, date and place: a match's filters and its
  // place are read from a small index, not from the posts' rows (each holding the post's JSON, with placed_at after
  // it), which made a common word's query several times slower.
  const bridgeOk = `(@bridges IS NULL OR p.bridge IN (SELECT value FROM json_each(@bridges)))
      AND (@bridges2 IS NULL OR p.bridge IN (SELECT value FROM json_each(@bridges2)))`;
  const from = `FROM ${fts} CROSS JOIN posts p INDEXED BY posts_search ON p.seq = ${fts}.rowid
    WHERE ${fts} MATCH @match
      AND ${bridgeOk}
      AND (@before IS NULL OR p.date < @before)
      AND (@after IS NULL OR p.date >= @after)
      AND (@thread IS NULL OR p.thread = @thread)`;
  return {
    /**
     * By relevance with no date or thread filter: the best @k matches from the index alone (bm25 in FTS5, no row
     * of posts read), then the bridge filter over those; searchArchive widens @k when too few pass.
     */
    top: db.prepare(
      `WITH top AS (SELECT rowid AS seq, ${BM25} AS score FROM ${fts} WHERE ${fts} MATCH @match
                      AND rowid >= @lo AND rowid < @hi
                    ORDER BY score, rowid DESC LIMIT @k)
       SELECT top.seq, top.score, 0 AS place FROM top CROSS JOIN posts p INDEXED BY posts_search ON p.seq = top.seq
       WHERE ${bridgeOk}
       ORDER BY top.score, top.seq DESC LIMIT @limit OFFSET @offset`,
    ),
    matches: db
      .prepare(`SELECT count(*) FROM ${fts} WHERE ${fts} MATCH @match AND rowid >= @lo AND rowid < @hi`)
      .pluck(),
    /** The matches in [@lo, @hi) that pass the bridge filter. */
    passing: db
      .prepare(
        `SELECT count(*) FROM ${fts} CROSS JOIN posts p INDEXED BY posts_search ON p.seq = ${fts}.rowid
         WHERE ${fts} MATCH @match AND ${fts}.rowid >= @lo AND ${fts}.rowid < @hi AND ${bridgeOk}`,
      )
      .pluck(),
    /** The seq of the @n-th newest match (undefined when there are fewer): where the candidate set starts. */
    nth: db
      .prepare(`SELECT rowid FROM ${fts} WHERE ${fts} MATCH @match ORDER BY rowid DESC LIMIT 1 OFFSET @n - 1`)
      .pluck(),
    relevance: db.prepare(
      `SELECT p.seq, ${BM25} AS score, 0 AS place ${from}
       ORDER BY score, p.seq DESC LIMIT @limit OFFSET @offset`,
    ),
    /** sort:date: newest first by place, as the bridge pages list (src/store.ts, latest), after the cursor. */
    date: db.prepare(
      `SELECT p.seq, ${BM25} AS score, p.placed_at AS place
       ${from} AND (@cp IS NULL OR (p.placed_at, p.seq) < (@cp, @cs))
       ORDER BY p.placed_at DESC, p.seq DESC LIMIT @limit`,
    ),
  };
}

/**
 * The same choices on PostgreSQL (issue 17; src/store/pg/schema.ts): archive_fts holds a tsvector per index (public,
 * whole) with subject, author and body weighed as bm25 weighs them here (A 4, B 2, D 1: ts_rank's weights 1, 0.5, 0.25), the
 * query as tsquery text (ParsedQuery.tsquery), read as written (its words folded as the index's: src/store/pg/tsvector.ts). A lower score is better, as with bm25: the rank negated. Every match
 * is ranked (GIN finds them; no candidate window).
 */
function prepareOrderPg(db: SqlDatabase, column: 'public' | 'whole') {
  const from = `FROM (SELECT CAST(CAST(@tsquery AS TEXT) AS TSQUERY) AS q) AS query
    JOIN archive_fts f ON f.${column} @@ query.q
    JOIN posts p ON p.seq = f.seq
    WHERE (CAST(@bridges AS TEXT) IS NULL OR p.bridge IN (SELECT jsonb_array_elements_text(CAST(@bridges AS JSONB))))
      AND (CAST(@bridges2 AS TEXT) IS NULL OR p.bridge IN (SELECT jsonb_array_elements_text(CAST(@bridges2 AS JSONB))))
      AND (CAST(@before AS TEXT) IS NULL OR p.date < @before)
      AND (CAST(@after AS TEXT) IS NULL OR p.date >= @after)
      AND (CAST(@thread AS TEXT) IS NULL OR p.thread = @thread)`;
  const score = `-ts_rank('{0.25, 0, 0.5, 1}', f.${column}, query.q)`;
  return {
    relevance: db.prepare(
      `SELECT p.seq, ${score} AS score, 0 AS place ${from} ORDER BY score, p.seq DESC LIMIT @limit OFFSET @offset`,
    ),
    date: db.prepare(
      `SELECT p.seq, ${score} AS score, p.placed_at AS place
       ${from} AND (CAST(@cp AS BIGINT) IS NULL OR (p.placed_at, p.seq) < (@cp, @cs))
       ORDER BY p.placed_at DESC, p.seq DESC LIMIT @limit`,
    ),
  };
}

function preparePg(db: SqlDatabase) {
  return {
    public: prepareOrderPg(db, 'public'),
    whole: prepareOrderPg(db, 'whole'),
    posts: db.prepare(`SELECT seq, received_at, data FROM posts
       WHERE seq IN (SELECT CAST(jsonb_array_elements_text(CAST(@seqs AS JSONB)) AS BIGINT))`),
  };
}

const statementsPg = new WeakMap<SqlDatabase, ReturnType<typeof preparePg>>();

/**
 * Two steps: the page's rows are chosen first with only their seq, score and (sort:date) place carried through the
 * sort, so a word in half the archive does not make SQLite build a snippet and carry a post's JSON for every match;
 * then the chosen rows' posts are read (one statement) and marked in JavaScript (src/archive/marks.ts), from the post
 * already read rather than by FTS5's snippet(), which would read and tokenize each post again.
 */
function prepare(db: SqlDatabase) {
  return {
    order: prepareOrder(db),
    posts: db.prepare(
      `SELECT seq, received_at, data FROM posts WHERE seq IN (SELECT CAST(value AS INTEGER) FROM json_each(@seqs))`,
    ),
  };
}

function tighter(a: string | undefined, b: string | undefined, pick: (x: string, y: string) => boolean) {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return pick(a, b) ? a : b;
}

/** The page's rows on SQLite (FTS5): see prepareOrder. */
function sqliteRows(
  order: ReturnType<typeof prepareOrder>,
  q: ParsedQuery,
  args: Record<string, unknown> & { match: string; bridges: string | null; bridges2: string | null },
  cursor: Cursor,
  limit: number,
  f: { before: string | undefined; after: string | undefined; thread: string | null },
): Row[] {
  const { before, after, thread } = f;
  let rows: Row[];
  if (q.sort === 'relevance' && before === undefined && after === undefined && thread === null) {
    const filter = { match: args.match, bridges: args.bridges, bridges2: args.bridges2 };
    /** `count` rows from `offset` of the matches with a seq in [lo, hi), best first. */
    const best = (lo: number, hi: number, offset: number, count: number): Row[] => {
      // The best k by the index alone; when the bridge filter leaves too few, k grows until it holds every match.
      let total: number | undefined;
      for (let k = Math.max(256, (offset + count) * 4); ; k *= 8) {
        const got = order.top.all({ ...filter, lo, hi, k, limit: count, offset }) as Row[];
        if (got.length >= count) return got;
        total ??= order.matches.get({ match: args.match, lo, hi }) as number;
        if (k >= total) return got;
      }
    };
    const offset = cursor.o ?? 0;
    const end = Number.MAX_SAFE_INTEGER;
    // The candidates: the newest CANDIDATES matches, ranked first; the older ones after them (ranked alike), so
    // paging on still reaches every match. A word in a third of the archive is scored over 10,000 posts, not all.
    const lo = (order.nth.get({ match: args.match, n: CANDIDATES }) as number | undefined) ?? 0;
    rows = best(lo, end, offset, limit + 1);
    if (rows.length <= limit && lo > 0) {
      const first = order.passing.get({ ...filter, lo, hi: end }) as number;
      rows = rows.concat(best(0, lo, Math.max(0, offset - first), limit + 1 - rows.length));
    }
  } else {
    rows = order[q.sort]!.all(args) as Row[];
  }
  return rows;
}

/** Run a query (text, or parsed) over the archive. Throws CodedError 'bad-query' for a query or cursor that cannot run. */
export function searchArchive(db: SqlDatabase, query: string | ParsedQuery, opts: SearchOptions = {}): SearchPage {
  const q = typeof query === 'string' ? parseQuery(query) : query;
  const pg = dialectOf(db) === 'postgres';
  const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(opts.limit ?? DEFAULT_LIMIT)));
  const cursor = opts.cursor ? decodeCursor(opts.cursor) : {};
  if (q.sort === 'date' ? cursor.o !== undefined : cursor.p !== undefined) {
    throw new CodedError('bad-query', 'the cursor is not one this search gave: start the search again without it');
  }
  // Extra bounds (the API's before=/after=) parse as the query language's do.
  const extra =
    opts.before || opts.after
      ? parseQuery(`x ${opts.before ? `before:${opts.before}` : ''} ${opts.after ? `after:${opts.after}` : ''}`)
      : undefined;
  const before = tighter(q.before, extra?.before, (x, y) => x < y);
  const after = tighter(q.after, extra?.after, (x, y) => x > y);
  const thread = q.thread === undefined ? null : threadKeyOf(db, q.thread);
  const nonce = randomBytes(8).toString('hex');
  const open = `\u0002${nonce}[\u0003`;
  const close = `\u0002${nonce}]\u0003`;
  const index = opts.index ?? 'full';
  if (index !== 'full' && index !== 'public') throw new Error(`no search index ${String(index)}`);
  const args = {
    // The public search: every term within the public columns (an inner column filter, author:, narrows it further).
    match: index === 'public' ? `${PUBLIC_COLUMNS} : (${q.match})` : q.match,
    bridges: q.bridges.length ? JSON.stringify(q.bridges) : null,
    bridges2: opts.bridges ? JSON.stringify(opts.bridges) : null,
    before: before ?? null,
    after: after ?? null,
    thread,
    limit: limit + 1,
    ...(q.sort === 'date' ? { cp: cursor.p ?? null, cs: cursor.s ?? null } : { offset: cursor.o ?? 0 }),
  };
  let rows: Row[];
  let postsOf: (seqs: number[]) => StoredRow[];
  if (pg) {
    let st = statementsPg.get(db);
    if (!st) statementsPg.set(db, (st = preparePg(db)));
    const order = index === 'public' ? st.public : st.whole;
    const { match: _match, ...rest } = args;
    rows = order[q.sort].all({ ...rest, tsquery: q.tsquery }) as Row[];
    postsOf = (seqs) => st.posts.all({ seqs: JSON.stringify(seqs) }) as StoredRow[];
  } else {
    let st = statements.get(db);
    if (!st) statements.set(db, (st = prepare(db)));
    rows = sqliteRows(st.order, q, args, cursor, limit, { before, after, thread });
    postsOf = (seqs) => st.posts.all({ seqs: JSON.stringify(seqs) }) as StoredRow[];
  }
  const more = rows.length > limit;
  if (more) rows.pop();
  const policyOf =
    typeof opts.addresses === 'function'
      ? opts.addresses
      : (): AddressPolicy => (opts.addresses as AddressPolicy) ?? 'show';
  const stored = new Map(rows.length ? postsOf(rows.map((r) => r.seq)).map((m) => [m.seq, m] as const) : []);
  const hits = rows.flatMap((row): SearchHit[] => {
    const m = stored.get(row.seq);
    if (!m) return [];
    const post = toStored(m);
    const policy = policyOf(post.bridge);
    const subj = render(markAll(post.subject ?? '', q.highlight, open, close), open, close, policy);
    const snip = render(snippet(post.body, q.highlight, open, close), open, close, policy);
    return [{ post, score: row.score, subjectHtml: subj.html, snippetHtml: snip.html, snippet: snip.text }];
  });
  const last = rows[rows.length - 1];
  const next =
    !more || !last
      ? undefined
      : q.sort === 'date'
        ? encodeCursor({ p: last.place, s: last.seq })
        : encodeCursor({ o: (cursor.o ?? 0) + limit });
  return { query: q, hits, next };
}
