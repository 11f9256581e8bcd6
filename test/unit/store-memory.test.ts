// The store's memory does not grow with the archive (issue 19): SQLite's page cache of the store's connection is
// bounded to PAGE_CACHE_KIB, whatever better-sqlite3 was built with (16 MiB), for the daemon's store and for the
// CLI's read-only one. Before, a daemon's RSS rose by ~9 MB between 6,000 and 60,000 posts received by mail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAGE_CACHE_KIB, Store, STORE_FILE } from '../../src/store.js';
import type { Post } from '../../src/post.js';

const post = (n: number): Post => ({
  id: `<m${n}@example.org>`,
  bridge: 'commons',
  origin: { account: 'cli', target: 'commons' },
  author: { name: 'Alice Example', address: 'alice@example.org', via: 'mail' },
  subject: `post ${n}`,
  body: `A post to the list, a few lines long, number ${n}.\n\n`.repeat(8),
  kind: 'message',
  references: [],
  hops: 0,
  date: '2026-12-01T10:00:00.000Z',
  attachments: [],
});

/** The page cache's bound in KiB, from PRAGMA cache_size (negative: KiB; positive: pages of page_size bytes). */
const cacheKib = (s: Store): number => {
  const size = s.sqlite!.pragma('cache_size', { simple: true }) as number;
  return size < 0 ? -size : (size * (s.sqlite!.pragma('page_size', { simple: true }) as number)) / 1024;
};

test("a store's page cache is bounded to 2 MiB, for the daemon and for the CLI's read-only store, however large the store", () => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-store-mem-'));
  try {
    assert.ok(PAGE_CACHE_KIB <= 2048, `PAGE_CACHE_KIB is ${PAGE_CACHE_KIB}`);
    const s = Store.open(dir);
    assert.equal(cacheKib(s), PAGE_CACHE_KIB);
    // A store several times larger than the cache: the bound holds (it is not a share of the file).
    s.transaction(() => {
      for (let n = 0; n < 6000; n++) s.insertPost(post(n), Date.now());
    });
    s.sqlite!.pragma('wal_checkpoint(TRUNCATE)');
    assert.ok(statSync(join(dir, STORE_FILE)).size > 2 * PAGE_CACHE_KIB * 1024, 'the store is larger than the cache');
    assert.equal(cacheKib(s), PAGE_CACHE_KIB);
    s.close();
    const ro = Store.open(dir, { readonly: true, create: false });
    assert.equal(cacheKib(ro), PAGE_CACHE_KIB);
    assert.equal(ro.countPosts('commons'), 6000);
    ro.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
