/**
 * A thread as a tree: what the web's whole-thread page (/t/ID) and its Atom feed show. The posts come as
 * Store.threadPosts / PostReader.thread hold them (every post whose thread column names the same root, oldest
 * first); each one hangs under the post it answers (In-Reply-To, else the nearest of its References that is
 * among them). Headers are whatever senders wrote, so the tree is built to hold against all of it:
 *
 *  - a post whose parent is not held (never seen, removed, on another bridge) hangs under the root;
 *  - a cycle (A answers B, B answers A: forged or broken headers) is cut where it closes, that post under the root;
 *  - a thread of ten thousand posts in one chain is built and walked without recursion.
 */
import type { SqlDatabase, SqlStatement } from '../sql.js';
import type { Post } from '../post.js';

/** What a tree needs of a post. */
export type Threaded = Pick<Post, 'id' | 'inReplyTo' | 'references'>;

export interface ThreadTreeNode<P extends Threaded> {
  post: P;
  /** Replies, in the order the posts came (oldest first). */
  replies: ThreadTreeNode<P>[];
}

/**
 * The thread a post belongs to, as the store's `posts.thread` column computes it (migration 4): the first of its
 * References, else what it answers, else the post itself. /t/ID links use it, so every post of a thread links to
 * the same page.
 */
export function threadKey(p: Threaded): string {
  return p.references[0] ?? p.inReplyTo ?? p.id;
}

/**
 * The tree of `posts` (oldest first, as the store gives them). The root is the post `rootId` names when it is
 * among them, else the first post; every other post hangs under its parent or, without one, under the root.
 * Undefined for no posts. A repeated id counts once (the first).
 */
export function threadTree<P extends Threaded>(posts: readonly P[], rootId?: string): ThreadTreeNode<P> | undefined {
  const nodes = new Map<string, ThreadTreeNode<P>>();
  for (const p of posts) if (!nodes.has(p.id)) nodes.set(p.id, { post: p, replies: [] });
  if (nodes.size === 0) return undefined;
  const root = (rootId !== undefined ? nodes.get(rootId) : undefined) ?? nodes.values().next().value!;

  // Each post's parent among the held posts: In-Reply-To first, then References from the nearest.
  const parent = new Map<ThreadTreeNode<P>, ThreadTreeNode<P>>();
  for (const n of nodes.values()) {
    if (n === root) continue;
    const p = n.post;
    let found: ThreadTreeNode<P> | undefined;
    const cands = p.inReplyTo !== undefined ? [p.inReplyTo] : [];
    for (let i = p.references.length - 1; i >= 0; i--) cands.push(p.references[i]!);
    for (const id of cands) {
      const c = nodes.get(id);
      if (c && c !== n) {
        found = c;
        break;
      }
    }
    parent.set(n, found ?? root);
  }

  // Cut cycles: walk up from each post until the root or a post known to reach it; a walk that meets itself
  // closes a cycle, and the post where it closes goes under the root. Each post is walked once: linear.
  const state = new Map<ThreadTreeNode<P>, 'walking' | 'reaches-root'>([[root, 'reaches-root']]);
  for (const start of nodes.values()) {
    const path: ThreadTreeNode<P>[] = [];
    let cur = start;
    while (state.get(cur) === undefined) {
      state.set(cur, 'walking');
      path.push(cur);
      const up = parent.get(cur)!;
      if (state.get(up) === 'walking') {
        parent.set(cur, root);
        break;
      }
      cur = up;
    }
    for (const n of path) state.set(n, 'reaches-root');
  }

  // Replies in the order the posts came.
  for (const n of nodes.values()) if (n !== root) parent.get(n)!.replies.push(n);
  return root;
}

export interface WalkStep<P extends Threaded> {
  node: ThreadTreeNode<P>;
  /** 0 for the root, 1 for its replies, … */
  depth: number;
}

/** The tree depth-first, each post before its replies, replies oldest first; no recursion, so any depth. */
export function* walkThread<P extends Threaded>(root: ThreadTreeNode<P>): Generator<WalkStep<P>> {
  const stack: WalkStep<P>[] = [{ node: root, depth: 0 }];
  while (stack.length > 0) {
    const step = stack.pop()!;
    yield step;
    for (let i = step.node.replies.length - 1; i >= 0; i--)
      stack.push({ node: step.node.replies[i]!, depth: step.depth + 1 });
  }
}

const threadKeys = new WeakMap<SqlDatabase, SqlStatement>();

/**
 * The thread a post belongs to, as the store keeps it (posts.thread, migration 4: the first of its References,
 * else what it answers, else its own id); for an id not held, the id itself (it may be a thread's root).
 */
export function threadKeyOf(db: SqlDatabase, id: string): string {
  let st = threadKeys.get(db);
  if (!st) threadKeys.set(db, (st = db.prepare('SELECT thread FROM posts WHERE id = ?').pluck()));
  return (st.get(id) as string | undefined) ?? id;
}
