/**
 * The web's search of the archive: /search (a page of results with the matches marked, paged by cursor) and
 * /api/search (JSON). Only the bridges this web account serves are searched, by the names it shows them under, and
 * every result is the bridge's public view of addresses (archive.addresses), snippets included. The rows are
 * chosen from the public index (names, subjects, bodies with addresses as `hide` shows them), so no one learns
 * which posts an address they cannot see sent or names; only when every bridge searched shows addresses
 * (archive.addresses: show) is the full index searched, and an author's address found.
 */
import type { AddressPolicy, BridgeView, ParsedQuery, PostReader, SearchHit } from '../../src/plugin.js';
import { CodedError, parseQuery, publicPost, SEARCH_MAX_LIMIT } from '../../src/plugin.js';
import { escapeHtml, page, searchBox, shortTime, type Links } from './html.js';

export interface SearchServed {
  /** The name the web shows. */
  name: string;
  /** The bridge's own name. */
  bridge: string;
}

export interface SearchParams {
  q: string;
  /** A served name (the web's), or undefined for all. */
  bridge?: string;
  before?: string;
  after?: string;
  cursor?: string;
  limit?: number;
}

export interface SearchResult {
  query: ParsedQuery;
  hits: (SearchHit & { name: string })[];
  next?: string;
}

/** A search that cannot run: the message says why (the web answers 400). */
export class BadSearch extends Error {}

/** Run a search over the served bridges; throws BadSearch for a query, bridge or cursor that cannot run. */
export function webSearch(
  posts: PostReader,
  served: readonly SearchServed[],
  views: readonly BridgeView[],
  p: SearchParams,
): SearchResult {
  const nameOf = new Map(served.map((s) => [s.bridge, s.name]));
  const bridgeOf = new Map(served.map((s) => [s.name, s.bridge]));
  const policies = new Map(views.map((v) => [v.name, v.archive.addresses]));
  const policy = (bridge: string): AddressPolicy => policies.get(bridge) ?? 'obfuscate';
  try {
    const q = parseQuery(p.q);
    // bridge:NAME in the query speaks the web's names; a name not served matches nothing.
    const query: ParsedQuery = { ...q, bridges: q.bridges.map((n) => bridgeOf.get(n) ?? `\u0000${n}`) };
    let only = served.map((s) => s.bridge);
    if (p.bridge !== undefined && p.bridge !== '') {
      const b = bridgeOf.get(p.bridge);
      if (b === undefined) throw new BadSearch(`there is no bridge ${p.bridge} here`);
      only = [b];
    }
    const index = only.length > 0 && only.every((b) => policy(b) === 'show') ? 'full' : 'public';
    const r = posts.search(query, {
      index,
      bridges: only,
      ...(p.before ? { before: p.before } : {}),
      ...(p.after ? { after: p.after } : {}),
      ...(p.cursor ? { cursor: p.cursor } : {}),
      ...(p.limit !== undefined ? { limit: p.limit } : {}),
      addresses: policy,
    });
    return {
      query: r.query,
      hits: r.hits.map((h) => ({
        ...h,
        post: publicPost(h.post, policy(h.post.bridge)),
        name: nameOf.get(h.post.bridge) ?? h.post.bridge,
      })),
      ...(r.next ? { next: r.next } : {}),
    };
  } catch (e) {
    if (e instanceof CodedError && e.code === 'bad-query') throw new BadSearch(e.message);
    throw e;
  }
}

/** The parameters of /search and /api/search. */
export function searchParams(url: URL): SearchParams {
  const g = (k: string) => url.searchParams.get(k) ?? undefined;
  const bridge = g('bridge');
  const before = g('before');
  const after = g('after');
  const cursor = g('cursor');
  return {
    q: g('q') ?? '',
    ...(bridge ? { bridge } : {}),
    ...(before ? { before } : {}),
    ...(after ? { after } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

/** The limit= of the API: 1..100. */
export function searchLimit(text: string | null): number | undefined {
  if (text === null || text === '') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > SEARCH_MAX_LIMIT)
    throw new BadSearch(`limit must be a whole number from 1 to ${SEARCH_MAX_LIMIT}`);
  return n;
}

/** The /search page: the box, the results with their marks, next/previous. */
export function searchPage(
  site: string,
  p: SearchParams,
  links: Links,
  r?: SearchResult,
  problem?: string,
  previous?: string,
): string {
  const base = (extra: Record<string, string>) => {
    const u = new URLSearchParams({ q: p.q, ...(p.bridge ? { bridge: p.bridge } : {}), ...extra });
    return `/search?${u.toString()}`;
  };
  const where = p.bridge ? ` in ${escapeHtml(p.bridge)}` : '';
  let body = `<h1>Search${where}</h1>\n${searchBox(p.q, p.bridge, 'main')}\n`;
  if (p.bridge && p.q)
    body += `<p class="scope"><a href="${escapeHtml(`/search?${new URLSearchParams({ q: p.q }).toString()}`)}">Search every bridge</a></p>\n`;
  if (problem) body += `<p class="problem" role="alert">${escapeHtml(problem)}</p>\n`;
  if (r) {
    if (r.hits.length === 0)
      body += `<p class="empty">No post matches${p.cursor ? ' beyond the previous page' : ''}.</p>\n`;
    body += `<ol class="results">\n${r.hits
      .map((h) => {
        const post = h.post;
        const who = post.author.address ? `${post.author.name} <${post.author.address}>` : post.author.name;
        const subject = post.subject
          ? `<a class="subject" href="${escapeHtml(links.post(post.id))}">${h.subjectHtml}</a>`
          : '';
        return `<li class="result"><header>${subject} <span class="bridge"><a href="${escapeHtml(links.archive(h.name))}">${escapeHtml(h.name)}</a></span> <span class="author">${escapeHtml(who)}</span> <a class="time" href="${escapeHtml(links.post(post.id))}"><time datetime="${escapeHtml(post.date)}">${escapeHtml(shortTime(post.date))}</time></a></header>
<p class="snippet">${h.snippetHtml}</p></li>`;
      })
      .join('\n')}\n</ol>\n`;
    const nav = [
      p.cursor
        ? `<a rel="prev" href="${escapeHtml(base(previous ? { cursor: previous } : {}))}">previous results</a>`
        : '',
      r.next
        ? `<a rel="next" href="${escapeHtml(base({ cursor: r.next, ...(p.cursor ? { prev: p.cursor } : {}) }))}">more results</a>`
        : '',
    ].filter(Boolean);
    if (nav.length) body += `<nav class="pages">${nav.join(' ')}</nav>\n`;
  }
  return page({ title: p.q ? `Search: ${p.q.slice(0, 80)}` : 'Search', site, body, search: false });
}
