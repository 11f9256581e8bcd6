import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threadKey, threadTree, walkThread, type Threaded } from '../../src/archive/thread.js';

const post = (id: string, parent?: string, references: string[] = parent ? [parent] : []): Threaded => ({
  id,
  ...(parent !== undefined ? { inReplyTo: parent } : {}),
  references,
});

/** The walk as "depth:id" strings. */
const shape = (posts: Threaded[], rootId?: string) => {
  const root = threadTree(posts, rootId);
  return root ? [...walkThread(root)].map((s) => `${s.depth}:${s.node.post.id}`) : [];
};

test('a thread is a tree from its first post, each reply under its parent, replies oldest first', () => {
  const posts = [
    post('r@x'),
    post('a@x', 'r@x'),
    post('b@x', 'r@x'),
    post('a1@x', 'a@x', ['r@x', 'a@x']),
    post('b1@x', 'b@x', ['r@x', 'b@x']),
    post('a2@x', 'a@x', ['r@x', 'a@x']),
    post('a1i@x', 'a1@x', ['r@x', 'a@x', 'a1@x']),
  ];
  assert.deepEqual(shape(posts), ['0:r@x', '1:a@x', '2:a1@x', '3:a1i@x', '2:a2@x', '1:b@x', '2:b1@x']);
});

test('without In-Reply-To, the nearest held post of References is the parent', () => {
  const posts = [post('r@x'), post('a@x', 'r@x'), { id: 'c@x', references: ['r@x', 'a@x', 'gone@x'] }];
  assert.deepEqual(shape(posts), ['0:r@x', '1:a@x', '2:c@x']);
});

test('orphans (parent never seen or removed) hang under the root, and the root is the post named when held', () => {
  const posts = [post('first@x', 'lost@x'), post('o@x', 'missing@x'), post('n@x', 'first@x'), post('z@x')];
  assert.deepEqual(shape(posts), ['0:first@x', '1:o@x', '1:n@x', '1:z@x']);
  assert.deepEqual(shape(posts, 'n@x'), ['0:n@x', '1:first@x', '1:o@x', '1:z@x']);
  assert.deepEqual(shape(posts, 'not-held@x'), shape(posts), 'a root id not held: the first post');
  assert.equal(threadTree([]), undefined);
});

test('cycles from forged headers are cut: every post appears once, none is lost', () => {
  const posts = [post('r@x'), post('a@x', 'b@x'), post('b@x', 'c@x'), post('c@x', 'a@x'), post('self@x', 'self@x')];
  const walk = shape(posts);
  assert.equal(walk.length, 5);
  assert.deepEqual(new Set(walk.map((s) => s.slice(2))), new Set(['r@x', 'a@x', 'b@x', 'c@x', 'self@x']));
  assert.equal(walk[0], '0:r@x');
  assert.ok(walk.includes('1:self@x'), 'a post that answers itself hangs under the root');
  // The cycle a → b → c → a is cut once: one of them under the root, the others in a chain below it.
  assert.deepEqual(
    walk.filter((s) => s.slice(2) !== 'self@x').map((s) => Number(s[0])),
    [0, 1, 2, 3],
  );
  // Even the root may be named as a reply to a later post: it stays the root.
  assert.deepEqual(shape([post('r@x', 'a@x'), post('a@x', 'r@x')]), ['0:r@x', '1:a@x']);
});

test('a repeated id counts once', () => {
  assert.deepEqual(shape([post('r@x'), post('a@x', 'r@x'), post('a@x', 'r@x')]), ['0:r@x', '1:a@x']);
});

test('a chain of 100,000 replies is built and walked without running out of stack', () => {
  const posts: Threaded[] = [post('p0@x')];
  for (let i = 1; i < 100_000; i++) posts.push(post(`p${i}@x`, `p${i - 1}@x`));
  const root = threadTree(posts)!;
  let last = -1;
  let n = 0;
  for (const s of walkThread(root)) {
    assert.equal(s.depth, last + 1);
    last = s.depth;
    n++;
  }
  assert.equal(n, 100_000);
});

test("a post's thread key is the store's: first of References, else In-Reply-To, else itself", () => {
  assert.equal(threadKey(post('a@x')), 'a@x');
  assert.equal(threadKey({ id: 'b@x', inReplyTo: 'a@x', references: [] }), 'a@x');
  assert.equal(threadKey({ id: 'c@x', inReplyTo: 'b@x', references: ['r@x', 'b@x'] }), 'r@x');
});
