// The archive's schema (migration 4): a store written before it gains each post's thread and a full-text index
// of its existing posts; the index follows every insert and delete in the same transaction; posts are never rewritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, Store, STORE_FILE } from '../../src/store.js';
import type { Post } from '../../src/post.js';

const post = (id: string, over: Partial<Post> = {}): Post => ({
  id,
  bridge: 'commons',
  origin: { account: 'cli', target: 'commons' },
  author: { name: 'Alice Example', address: 'alice@example.org', via: 'mail' },
  body: 'hello',
  kind: 'message',
  references: [],
  hops: 0,
  date: '2026-12-01T10:00:00.000Z',
  attachments: [],
  ...over,
});

const matches = (s: Store, q: string) =>
  s.db
    .prepare('SELECT p.id FROM archive_fts f JOIN posts p ON p.seq = f.rowid WHERE archive_fts MATCH ? ORDER BY p.seq')
    .pluck()
    .all(q) as string[];

test('a store from before the archive gains threads and an index of the posts it holds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-archive-'));
  try {
    const old = new Database(join(dir, STORE_FILE));
    for (const m of MIGRATIONS.slice(0, 3)) old.exec(m);
    old.pragma('user_version = 3');
    const ins = old.prepare('INSERT INTO posts (id, bridge, received_at, data) VALUES (?, ?, ?, ?)');
    ins.run(
      'root@x',
      'commons',
      1,
      JSON.stringify(post('root@x', { subject: 'Garden plans', body: 'tomatoes and beans' })),
    );
    ins.run(
      'reply@x',
      'commons',
      2,
      JSON.stringify(
        post('reply@x', {
          body: 'more beans',
          author: { name: 'bob', via: 'irc' },
          references: ['root@x'],
          inReplyTo: 'root@x',
        }),
      ),
    );
    ins.run('join@x', 'commons', 3, JSON.stringify(post('join@x', { kind: 'event', body: 'bob joined beans' })));
    old.close();

    const s = Store.open(dir);
    try {
      assert.equal(s.sqlite!.pragma('user_version', { simple: true }), MIGRATIONS.length);
      assert.deepEqual(matches(s, 'beans'), ['root@x', 'reply@x'], 'existing posts are found, events are not');
      assert.deepEqual(matches(s, 'author:alice'), ['root@x']);
      assert.deepEqual(matches(s, 'subject:garden'), ['root@x']);
      assert.deepEqual(
        s.db.prepare('SELECT id, date FROM posts ORDER BY seq').all(),
        ['root@x', 'reply@x', 'join@x'].map((id) => ({ id, date: post(id).date })),
        'each post gains its date as a column (search and export filter on it)',
      );
      assert.deepEqual(s.db.prepare('SELECT id FROM posts WHERE thread = ? ORDER BY seq').pluck().all('root@x'), [
        'root@x',
        'reply@x',
      ]);

      s.insertPost(post('new@x', { body: 'Beans again, naïvely', references: ['root@x', 'reply@x'] }), 4);
      assert.deepEqual(
        matches(s, 'beans'),
        ['root@x', 'reply@x', 'new@x'],
        'a new post is found the moment it is stored',
      );
      assert.deepEqual(matches(s, 'naively'), ['new@x'], 'diacritics fold');
      assert.equal(s.db.prepare('SELECT thread FROM posts WHERE id = ?').pluck().get('new@x'), 'root@x');

      assert.deepEqual(
        s.threadPosts('new@x').map((p) => p.id),
        ['root@x', 'reply@x', 'new@x'],
        'a thread is found from any of its posts',
      );
      assert.deepEqual(
        s.threadPosts('root@x').map((p) => p.id),
        ['root@x', 'reply@x', 'new@x'],
      );
      s.db.prepare('DELETE FROM posts WHERE id = ?').run('reply@x');
      assert.deepEqual(matches(s, 'beans'), ['root@x', 'new@x'], 'a deleted post leaves the index');
      s.db.prepare('DELETE FROM posts WHERE id = ?').run('join@x');
      s.db.exec(`INSERT INTO archive_fts (archive_fts) VALUES ('integrity-check')`);
      assert.throws(() => s.db.prepare(`UPDATE posts SET data = '{}' WHERE id = 'root@x'`).run(), /never rewritten/);
    } finally {
      s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
