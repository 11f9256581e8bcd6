/**
 * Posts kept per bridge (/metrics, archive pages, finger plans): brought up to date from the last count by the posts stored since, not counted
 * again over the whole archive at every scrape (issue 19: a scrape every 15 s of a daemon with millions of posts);
 * and still exact after a removal, a rolled-back transaction, and another process's writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store.js';
import { removePosts } from '../../src/archive/removal.js';
import type { Post } from '../../src/post.js';

let n = 0;
function post(bridge: string): Post {
  n++;
  return {
    id: `c${n}.${process.pid}@test`,
    bridge,
    origin: { account: 'nntp', target: 'local.commons' },
    author: { name: 'Alice Example', address: 'alice@example.org', via: 'nntp' },
    subject: `subject ${n}`,
    body: `body ${n}`,
    kind: 'message',
    references: [],
    hops: 0,
    date: new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(),
    attachments: [],
  } as Post;
}

/** Both ways of asking agree: every bridge's count, and one bridge's (pages and plans ask for one). */
function counts(s: Store): Record<string, number> {
  const all = s.countPostsByBridge();
  for (const [bridge, n] of Object.entries(all)) assert.equal(s.countPosts(bridge), n, `countPosts(${bridge})`);
  assert.equal(s.countPosts('no-such-bridge'), 0);
  return all;
}

/** The truth: every post counted. */
function truth(s: Store): Record<string, number> {
  const rows = s.db.prepare('SELECT bridge, count(*) AS n FROM posts GROUP BY bridge').all() as {
    bridge: string;
    n: number;
  }[];
  return Object.fromEntries(rows.map((r) => [r.bridge, r.n]));
}

function withStore(fn: (s: Store, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'pp-counts-'));
  const s = Store.open(dir);
  try {
    fn(s, dir);
  } finally {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('posts per bridge: new posts are added to the last count without counting the archive again', () => {
  withStore((s) => {
    for (let i = 0; i < 30; i++) s.insertPost(post(i % 3 ? 'commons' : 'list'), Date.now());
    assert.deepEqual(counts(s), { commons: 20, list: 10 });
    const full = s.postCounts.fullCounts;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 7; i++) s.insertPost(post(i % 2 ? 'commons' : 'other'), Date.now());
      assert.deepEqual(counts(s), truth(s));
    }
    assert.equal(s.postCounts.fullCounts, full, 'no full count while posts only came in');
    assert.deepEqual(counts(s), { commons: 35, list: 10, other: 20 });
  });
});

test('posts per bridge: exact after a removal, after a rolled-back transaction, and inside one', () => {
  withStore((s) => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const p = post('commons');
      ids.push(p.id);
      s.insertPost(p, Date.now());
    }
    assert.deepEqual(counts(s), { commons: 10 });
    // The newest post removed, then another stored: SQLite would give it the removed one's seq but for tombstones.
    removePosts(s, { ids: [ids[9]!, ids[2]!] }, { reason: 'test', by: 'test', cause: 'removed', now: Date.now() });
    assert.deepEqual(counts(s), { commons: 8 });
    s.insertPost(post('commons'), Date.now());
    assert.deepEqual(counts(s), { commons: 9 });
    // A transaction that counted its own uncommitted post, then rolled back: not kept.
    assert.throws(() =>
      s.db.transaction(() => {
        s.insertPost(post('list'), Date.now());
        assert.deepEqual(counts(s), { commons: 9, list: 1 });
        throw new Error('roll back');
      })(),
    );
    assert.deepEqual(counts(s), { commons: 9 });
    assert.deepEqual(counts(s), truth(s));
  });
});

test("posts per bridge: another process's writes to the same store (peerpost import, remove) are counted", () => {
  withStore((s, dir) => {
    for (let i = 0; i < 5; i++) s.insertPost(post('commons'), Date.now());
    assert.deepEqual(counts(s), { commons: 5 });
    const other = Store.open(dir);
    try {
      const gone = post('commons');
      other.insertPost(gone, Date.now());
      other.insertPost(post('list'), Date.now());
      assert.deepEqual(counts(s), { commons: 6, list: 1 });
      const before = s.postCounts.fullCounts;
      removePosts(other, { ids: [gone.id] }, { reason: 'test', by: 'test', cause: 'removed', now: Date.now() });
      assert.deepEqual(counts(s), { commons: 5, list: 1 });
      assert.equal(s.postCounts.fullCounts, before + 1, "the other connection's commit made it count again");
    } finally {
      other.close();
    }
  });
});
