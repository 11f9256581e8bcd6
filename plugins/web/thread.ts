/**
 * The whole-thread page (/t/ID): a thread as an indented tree from its first post (src/archive/thread.ts), each
 * post with its author, date and body. The tree is written as one flat list, each item with its depth (a class
 * for the indentation, capped so that a very deep thread stays readable; data-depth the true depth), so a thread
 * of any depth renders without recursion.
 */
import { threadTree, walkThread, type StoredPost } from '../../src/plugin.js';
import { escapeHtml, page, postHtml, threadFeedLink, visible, type Links } from './html.js';

/** Deeper replies are indented as this depth (data-depth keeps the real one). */
export const MAX_INDENT = 12;

export interface ThreadView {
  site: string;
  /** The thread's key (its root's id as the store names it): the page's and the feed's address. */
  key: string;
  /** The posts as the public sees them, oldest first, of the bridges served here. */
  posts: readonly StoredPost[];
  /** The web name of a post's bridge. */
  nameOf(p: StoredPost): string;
}

export function threadPage(v: ThreadView, links: Links): string {
  const root = threadTree(v.posts, v.key);
  if (!root) throw new Error('a thread page needs at least one post');
  const first = root.post;
  const name = v.nameOf(first);
  const title = first.subject ? visible(first.subject) : `A thread in ${name}`;
  const items: string[] = [];
  for (const { node, depth } of walkThread(root)) {
    const inner = postHtml(node.post, { ...links, thread: undefined });
    items.push(`<li class="depth-${Math.min(depth, MAX_INDENT)}" data-depth="${depth}">${inner}</li>`);
  }
  const count = v.posts.length;
  const body = `<p class="crumbs"><a href="${escapeHtml(links.archive(name))}">${escapeHtml(name)}</a> · <a href="${escapeHtml(threadFeedLink(v.key))}">Atom feed of this thread</a></p>
<h1>${escapeHtml(title)}</h1>
<p class="count">${count} post${count === 1 ? '' : 's'} in this thread, from its first</p>
<ol class="tree">
${items.join('\n')}
</ol>`;
  return page({
    title,
    site: v.site,
    body,
    feed: { title: `${title} (Atom)`, href: threadFeedLink(v.key) },
  });
}
