/**
 * Server-rendered pages. Everything a post carries is text and is escaped here
 * (escapeHtml); nothing from a post is ever inserted as markup. The pages work
 * without JavaScript; /static/live.js only adds live updates.
 */
import { formatSize, threadKey, type DaemonStatus, type StoredPost } from '../../src/plugin.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}

/** Control characters (other than newline and tab) shown as nothing; they have no business in a page. */
export function visible(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '');
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}]/g;

/** A body as HTML: escaped text, http(s) URLs as links (rel=nofollow), newlines kept by the stylesheet. */
export function bodyHtml(body: string): string {
  const text = visible(body);
  let out = '';
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    out += escapeHtml(text.slice(last, m.index));
    const url = m[0];
    out += `<a href="${escapeHtml(url)}" rel="nofollow noopener noreferrer">${escapeHtml(url)}</a>`;
    last = m.index + url.length;
  }
  return out + escapeHtml(text.slice(last));
}

/** "2026-11-27 14:02 UTC" */
/** A hidden field of a form. */
export const hidden = (name: string, value: string) =>
  `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;

export function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The protocol an account belongs to: "irc.libera" → "irc". */
export const protocolOf = (account: string) => account.split('.')[0]!;

export interface ThreadNode {
  post: StoredPost;
  replies: ThreadNode[];
}

/**
 * Group posts, given newest first as the store lists a bridge (by place: an imported post by its date, the rest by
 * arrival), into threads by inReplyTo, else the nearest of references that is among them. Threads come newest
 * activity first; replies oldest first. A post whose parent is not among `posts` starts a thread.
 */
export function threads(posts: readonly StoredPost[]): ThreadNode[] {
  // A post's rank: higher is newer (its place in the list, not its seq: an imported post's seq says nothing of its age).
  const rank = new Map<string, number>();
  posts.forEach((p, i) => {
    if (!rank.has(p.id)) rank.set(p.id, posts.length - i);
  });
  const byId = new Map<string, ThreadNode>();
  for (const p of [...posts].reverse()) if (!byId.has(p.id)) byId.set(p.id, { post: p, replies: [] });
  const rankOf = (n: ThreadNode) => rank.get(n.post.id)!;
  const parentOf = (p: StoredPost): ThreadNode | undefined => {
    const cands = [...(p.inReplyTo ? [p.inReplyTo] : []), ...[...p.references].reverse()];
    for (const id of cands) {
      const n = byId.get(id);
      // A parent must be older, which also rules out cycles in forged headers.
      if (n && rankOf(n) < rank.get(p.id)!) return n;
    }
    return undefined;
  };
  const roots: ThreadNode[] = [];
  const newest = new Map<ThreadNode, number>();
  const rootOf = new Map<ThreadNode, ThreadNode>();
  for (const n of byId.values()) {
    const parent = parentOf(n.post);
    if (parent) {
      parent.replies.push(n);
      const root = rootOf.get(parent)!;
      rootOf.set(n, root);
      newest.set(root, Math.max(newest.get(root)!, rankOf(n)));
    } else {
      roots.push(n);
      rootOf.set(n, n);
      newest.set(n, rankOf(n));
    }
  }
  return roots.sort((a, b) => newest.get(b)! - newest.get(a)!);
}

export interface Links {
  archive(name: string): string;
  post(id: string): string;
  /** The whole-thread page of a post (/t/ID#pSEQ); pages without it link no thread. */
  thread?(p: Pick<StoredPost, 'id' | 'seq' | 'inReplyTo' | 'references'>): string;
  /** For a post with attachments: the download link of attachment n, when the file is kept. */
  files?(p: Pick<StoredPost, 'id' | 'attachments'>): (n: number) => string | undefined;
}

/**
 * A post's attachments as a list under its text: each name (a download link where the file is kept), type
 * and size. Empty for a post without attachments.
 */
export function attachmentsHtml(
  attachments: StoredPost['attachments'],
  url: (n: number) => string | undefined = () => undefined,
): string {
  if (attachments.length === 0) return '';
  const items = attachments.map((a, n) => {
    const name = escapeHtml(visible(a.filename).trim() || '(no name)');
    const link = url(n);
    return `<li>${link ? `<a href="${escapeHtml(link)}" download>${name}</a>` : `<span class="file">${name}</span>`} <span class="dir">${escapeHtml(visible(a.contentType))}, ${escapeHtml(formatSize(a.size))}${link ? '' : ', not kept here'}</span></li>`;
  });
  return `<ul class="attachments" aria-label="attachments">${items.join('')}</ul>\n`;
}

/** Relative links used inside the pages (absolute ones come from publicUrl). */
export const relLinks: Links = {
  archive: (name) => `/b/${encodeURIComponent(name)}`,
  post: (id) => `/p/${encodeURIComponent(id)}`,
  thread: (p) => `${threadLink(threadKey(p))}#p${p.seq}`,
};

/** The whole-thread page of the thread named by `key` (any of its posts' ids, or its root's). */
export const threadLink = (key: string) => `/t/${encodeURIComponent(key)}`;
/** The Atom feeds: a bridge's and a thread's (plugins/web/atom.ts). */
export const bridgeFeedLink = (name: string) => `/b/${encodeURIComponent(name)}/atom`;
export const threadFeedLink = (key: string) => `${threadLink(key)}/atom`;

/** One post as an <article>; `replies` nests its thread; `parent` links to the post it answers when that is not on the page. */
export function postHtml(p: StoredPost, links: Links, replies = '', parent?: string): string {
  const via = p.author.via || protocolOf(p.origin.account);
  const author = visible(p.author.name);
  const kind = p.kind === 'action' ? ' action' : p.kind === 'notice' ? ' notice' : p.kind === 'digest' ? ' digest' : '';
  return `<article class="post${kind}" id="p${p.seq}" data-id="${escapeHtml(p.id)}" data-seq="${p.seq}">
<header><span class="author">${escapeHtml(author)}</span>${p.author.address ? ` <span class="addr">&lt;${escapeHtml(visible(p.author.address))}&gt;</span>` : ''} <span class="via" title="${escapeHtml(`${p.origin.account}/${p.origin.target}`)}">${escapeHtml(via)}</span> <a class="time" href="${escapeHtml(links.post(p.id))}"><time datetime="${escapeHtml(p.date)}">${escapeHtml(shortTime(p.date))}</time></a>${links.thread ? ` <a class="tlink" href="${escapeHtml(links.thread(p))}">thread</a>` : ''}</header>
${parent ? `<a class="parent" href="${escapeHtml(links.post(parent))}">in reply to an earlier post</a>\n` : ''}${p.subject ? `<h3 class="subject">${escapeHtml(visible(p.subject))}</h3>\n` : ''}<div class="body">${bodyHtml(p.body)}</div>
${attachmentsHtml(p.attachments, links.files?.(p))}<div class="replies">${replies}</div>
</article>`;
}

export function threadHtml(n: ThreadNode, links: Links): string {
  const render = (node: ThreadNode): string => postHtml(node.post, links, node.replies.map(render).join('\n'));
  const parent = n.post.inReplyTo ?? n.post.references[n.post.references.length - 1];
  return `<div class="thread">${postHtml(n.post, links, n.replies.map(render).join('\n'), parent)}</div>`;
}

export interface PageOptions {
  title: string;
  site: string;
  body: string;
  /** Data for live.js, on <body>. */
  live?: { bridge: string; cursor: number };
  /** The index: live.js refreshes the account states. */
  states?: boolean;
  /** An Atom feed of what the page shows, for feed readers to discover (<link rel="alternate">). */
  feed?: { title: string; href: string };
  /** The search box in the header: a bridge's name scopes it to that bridge; false leaves it out (the search page has its own). */
  search?: string | false;
}

export function page(o: PageOptions): string {
  const live = o.live
    ? ` data-bridge="${escapeHtml(o.live.bridge)}" data-cursor="${o.live.cursor}"`
    : o.states
      ? ' data-states="1"'
      : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(o.title)} · ${escapeHtml(o.site)}</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
${o.feed ? `<link rel="alternate" type="application/atom+xml" title="${escapeHtml(o.feed.title)}" href="${escapeHtml(o.feed.href)}">\n` : ''}${o.live || o.states ? '<script src="/static/live.js" defer></script>\n' : ''}</head>
<body${live}>
<header class="site"><a href="/">${escapeHtml(o.site)}</a>${o.search === false ? '' : ` ${searchBox('', o.search)}`}</header>
<main>
${o.body}
</main>
<footer class="site">peerpost · <a href="/api/bridges">API</a></footer>
</body>
</html>
`;
}

/** The search box every page carries; on a bridge's page it searches that bridge. */
export function searchBox(q = '', bridge?: string, where = 'site'): string {
  return `<form class="search ${where}" role="search" action="/search" method="get"><input type="search" name="q" value="${escapeHtml(q)}" placeholder="Search${bridge ? ` ${escapeHtml(bridge)}` : ''}" aria-label="Search${bridge ? ` ${escapeHtml(bridge)}` : ' the archive'}" maxlength="10240">${bridge ? `<input type="hidden" name="bridge" value="${escapeHtml(bridge)}">` : ''}<button type="submit">Search</button></form>`;
}

export interface BridgeSummary {
  name: string;
  bridge: string;
  description: string;
  posts: number;
  last?: string;
  endpoints: {
    key: string;
    protocol: string;
    direction: string;
    join?: string;
    account: string;
    state: string;
    running: boolean;
  }[];
}

const stateClass = (s: string) =>
  s === 'connected' || s === 'listening'
    ? 'up'
    : s === 'retrying' || s === 'connecting' || s === 'starting'
      ? 'wait'
      : 'down';

export function indexPage(site: string, bridges: BridgeSummary[], links: Links): string {
  const items = bridges.map(
    (b) => `<section class="bridge">
<h2><a href="${escapeHtml(links.archive(b.name))}">${escapeHtml(b.name)}</a></h2>
${b.description ? `<p class="description">${escapeHtml(b.description)}</p>\n` : ''}<p class="count">${b.posts} post${b.posts === 1 ? '' : 's'}${b.last ? `, the newest ${escapeHtml(shortTime(b.last))}` : ''}</p>
<table class="endpoints"><thead><tr><th>where</th><th>how to join</th><th>state</th></tr></thead><tbody>
${b.endpoints.map((e) => `<tr><td><span class="proto">${escapeHtml(e.protocol)}</span> ${escapeHtml(e.key)}${e.direction === 'inout' ? '' : ` <span class="dir">(${e.direction === 'in' ? 'only feeds the bridge' : 'only receives'})</span>`}</td><td>${e.join ? escapeHtml(e.join) : '—'}</td><td><span class="state ${stateClass(e.state)}" data-account="${escapeHtml(e.account)}">${escapeHtml(e.state)}</span></td></tr>`).join('\n')}
</tbody></table>
</section>`,
  );
  return page({
    title: 'Bridges',
    site,
    body: `<h1>Bridges</h1>\n${items.length ? items.join('\n') : '<p>No bridge names a web endpoint of this account yet.</p>'}`,
    states: true,
  });
}

export interface ArchiveView {
  site: string;
  name: string;
  description: string;
  posts: StoredPost[];
  total: number;
  /** The page starts before this seq (older pages); undefined for the newest page. */
  before?: number;
  /** More, older posts exist. */
  older?: number;
  join: { protocol: string; key: string; join?: string }[];
}

export function archivePage(v: ArchiveView, links: Links): string {
  const ts = threads(v.posts);
  const newest = v.posts.reduce((m, p) => Math.max(m, p.seq), 0);
  const nav = `<nav class="pages">${v.before !== undefined ? `<a href="${escapeHtml(links.archive(v.name))}">newest</a>` : ''}${v.older !== undefined ? ` <a rel="next" href="${escapeHtml(`${links.archive(v.name)}?before=${v.older}`)}">older posts</a>` : ''}</nav>`;
  const join = v.join
    .filter((j) => j.join)
    .map((j) => `<li><span class="proto">${escapeHtml(j.protocol)}</span> ${escapeHtml(j.join!)}</li>`)
    .join('');
  const body = `<h1>${escapeHtml(v.name)}</h1>
${v.description ? `<p class="description">${escapeHtml(v.description)}</p>\n` : ''}${join ? `<details class="join"><summary>Join in</summary><ul>${join}</ul></details>\n` : ''}<p class="count"><span id="total">${v.total}</span> <span id="total-noun">${v.total === 1 ? 'post' : 'posts'}</span>, newest first${v.before === undefined ? ' <span id="live" class="live" hidden>live</span>' : ''}</p>
<div id="threads">
${ts.map((t) => threadHtml(t, links)).join('\n')}
</div>
${v.posts.length ? '' : '<p class="empty">Nothing posted yet.</p>\n'}${nav}
<p class="export"><a href="${escapeHtml(links.archive(v.name))}.mbox.gz" download>The whole archive as a mailbox</a> (mbox, gzip)</p>`;
  return page({
    title: v.name,
    site: v.site,
    body,
    feed: { title: `${v.name} (Atom)`, href: bridgeFeedLink(v.name) },
    search: v.name,
    ...(v.before === undefined ? { live: { bridge: v.name, cursor: newest } } : {}),
  });
}

export function postPage(site: string, name: string, p: StoredPost, links: Links, parent?: StoredPost): string {
  const body = `<p class="crumbs"><a href="${escapeHtml(links.archive(name))}">${escapeHtml(name)}</a>${parent ? ` · in reply to <a href="${escapeHtml(links.post(parent.id))}">${escapeHtml(visible(parent.subject ?? parent.author.name))}</a>` : ''}</p>
${postHtml(p, links)}
<p class="msgid">Message-ID: &lt;${escapeHtml(p.id)}&gt;</p>
<p class="export"><a href="/t/${escapeHtml(encodeURIComponent(p.id))}.mbox.gz" download>This thread as a mailbox</a> (mbox, gzip)</p>`;
  return page({ title: p.subject ? visible(p.subject) : `${visible(p.author.name)} in ${name}`, site, body });
}

export function messagePage(site: string, title: string, html: string): string {
  return page({ title, site, body: `<h1>${escapeHtml(title)}</h1>\n${html}` });
}

const ago = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120
    ? `${s} s`
    : s < 7200
      ? `${Math.round(s / 60)} min`
      : s < 172800
        ? `${Math.round(s / 3600)} h`
        : `${Math.round(s / 86400)} d`;
};

/** /status: each account's state and last error, and the outbox per endpoint (what waits, why, and dead letters). */
export function statusPage(site: string, st: DaemonStatus, now = Date.now()): string {
  const accounts = st.accounts
    .map(
      (a) =>
        `<tr><td>${escapeHtml(a.name)}</td><td><span class="state ${stateClass(a.state)}" data-account="${escapeHtml(a.name)}">${escapeHtml(a.state)}</span> <span class="dir">for ${ago(now - a.since)}</span></td><td>${a.detail ? escapeHtml(a.detail) : ''}${a.lastError ? `<br><span class="dir">last error ${ago(now - a.lastError.at)} ago: ${escapeHtml(a.lastError.message)}</span>` : ''}</td><td>${a.delivered}</td></tr>`,
    )
    .join('\n');
  const queues = st.outbox.filter((q) => q.pending > 0 || q.dead > 0);
  const outbox = queues
    .map(
      (q) =>
        `<tr><td>${escapeHtml(q.endpoint)}</td><td>${q.pending}${q.oldest !== null ? ` <span class="dir">(oldest ${ago(now - q.oldest)})</span>` : ''}</td><td>${q.waiting ? `${escapeHtml(q.waiting.reason)} <span class="dir">(since ${ago(now - q.waiting.since)} ago)</span>` : ''}</td><td>${q.dead}</td></tr>`,
    )
    .join('\n');
  const queued = (st.waiting ?? []).filter((w) => w.count > 0);
  const robot = queued.length
    ? `<h2>Waiting outside the outbox</h2>
<table class="endpoints"><thead><tr><th>account</th><th>what</th><th>waiting</th><th>last error</th></tr></thead><tbody>
${queued
  .map(
    (w) =>
      `<tr><td>${escapeHtml(w.account)}</td><td>${escapeHtml(w.what)}</td><td>${w.count}${w.oldest !== null ? ` <span class="dir">(oldest ${ago(now - w.oldest)})</span>` : ''}</td><td>${w.lastError ? escapeHtml(w.lastError) : ''}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`
    : '';
  const late = (st.late ?? []).length
    ? `<p class="state down">Waiting too long: ${(st.late ?? []).map((l) => escapeHtml(l)).join('<br>')}</p>`
    : '';
  const talks = (st.conversations ?? []).length
    ? `<h2>Open conversations</h2>
<p>${(st.conversations ?? [])
        .map(
          (c) =>
            `${escapeHtml(c.bridge)}: ${c.lines} line${c.lines === 1 ? '' : 's'} wait for the conversation to close (the digest goes to the lists and groups at the latest in ${ago(Math.max(0, c.closesBy - now))})`,
        )
        .join('<br>')}</p>`
    : '';
  const body = `<h1>Status</h1>
<p class="count">peerpost ${escapeHtml(st.version)}, up ${ago(st.uptimeMs)}</p>
${late}
<h2>Accounts</h2>
<table class="endpoints"><thead><tr><th>account</th><th>state</th><th>detail</th><th>delivered</th></tr></thead><tbody>
${accounts}
</tbody></table>
<h2>Outbox</h2>
${
  queues.length
    ? `<table class="endpoints"><thead><tr><th>endpoint</th><th>waiting</th><th>why</th><th>dead letters</th></tr></thead><tbody>
${outbox}
</tbody></table>
<p class="dir">Dead letters are deliveries given up for good; <code>peerpost outbox --dead</code> shows each with its reason, and <code>peerpost outbox --retry ROW</code> tries one again.</p>`
    : queued.length || (st.conversations ?? []).length
      ? '<p>No delivery waits in the outbox; what waits elsewhere is below.</p>'
      : '<p>Nothing waits: every post has reached every endpoint.</p>'
}
${robot}
${talks}`;
  return page({ title: 'Status', site, body, states: true });
}
