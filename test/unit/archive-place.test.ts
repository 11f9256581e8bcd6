// A post's place in the archive (migration 10): live posts by when they arrived, imported ones by their own date
// (never later than the import). Pages list newest first by place with a seq cursor that stays put, threads oldest
// first, and the live stream's reader (postsSince) leaves imported posts out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, Store, STORE_FILE } from '../../src/store.js';
import { registerFunctions } from '../../src/migrations.js';
import { removePosts } from '../../src/archive/removal.js';
import type { Post } from '../../src/post.js';
import { Writable } from 'node:stream';
import { searchArchive } from '../../src/archive/search.js';
import { exportTo, type ArchiveFilter, type ExportSource } from '../../src/archive/export.js';
import { readMboxrd } from '../../src/archive/mboxrd.js';

const post = (id: string, date: string, over: Partial<Post> = {}): Post => ({
  id,
  bridge: 'commons',
  origin: { account: 'irc', target: '#commons' },
  author: { name: 'alice', via: 'irc' },
  body: `text of ${id}`,
  kind: 'message',
  references: [],
  hops: 0,
  date,
  attachments: [],
  ...over,
});

const NOW = Date.parse('2026-12-05T12:00:00.000Z');
const ids = (ps: { id: string }[]) => ps.map((p) => p.id);

/** Two live posts today, then an old list archive imported (2019 and 2020), then a live post. */
function filled(): Store {
  const s = Store.open(':memory:');
  s.insertPost(post('live1@x', '2026-12-05T10:00:00.000Z'), NOW - 2 * 3600_000);
  s.insertPost(post('live2@x', '2026-12-05T11:00:00.000Z'), NOW - 3600_000);
  const old = (id: string, date: string, over: Partial<Post> = {}) =>
    s.insertPost(post(id, date, { origin: { account: 'import', target: 'import' }, ...over }), NOW, {
      imported: true,
    });
  old('old-root@x', '2019-03-01T09:00:00.000Z', { subject: 'Garden plans' });
  old('old-reply2@x', '2019-03-03T09:00:00.000Z', { references: ['old-root@x'], inReplyTo: 'old-root@x' });
  old('old-reply1@x', '2019-03-02T09:00:00.000Z', { references: ['old-root@x'], inReplyTo: 'old-root@x' });
  old('old-2020@x', '2020-06-01T09:00:00.000Z');
  // A date in the future (a wrong clock): placed when it was imported, not above every post to come.
  old('future@x', '2031-01-01T00:00:00.000Z');
  s.insertPost(post('live3@x', '2026-12-05T12:30:00.000Z'), NOW + 1800_000);
  // A live reply to the 2019 thread today.
  s.insertPost(
    post('live-reply@x', '2026-12-05T12:40:00.000Z', { references: ['old-root@x'], inReplyTo: 'old-root@x' }),
    NOW + 2400_000,
  );
  return s;
}

test('a bridge lists its posts newest first by place: imported posts among their own years, not on top', () => {
  const s = filled();
  try {
    assert.deepEqual(ids(s.latestPosts('commons', 100)), [
      'live-reply@x',
      'live3@x',
      'future@x',
      'live2@x',
      'live1@x',
      'old-2020@x',
      'old-reply2@x',
      'old-reply1@x',
      'old-root@x',
    ]);
    assert.equal(s.getPost('old-root@x')!.imported, true);
    assert.equal(s.getPost('live1@x')!.imported, undefined);
  } finally {
    s.close();
  }
});

test('paging by a seq cursor goes on from that post’s place, also when that post was removed meanwhile', () => {
  const s = filled();
  try {
    const pages: string[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = s.latestPosts('commons', 2, before);
      if (page.length === 0) break;
      pages.push(ids(page));
      before = page[page.length - 1]!.seq;
    }
    assert.deepEqual(pages, [
      ['live-reply@x', 'live3@x'],
      ['future@x', 'live2@x'],
      ['live1@x', 'old-2020@x'],
      ['old-reply2@x', 'old-reply1@x'],
      ['old-root@x'],
    ]);
    // A reader holds the cursor of old-2020 (the end of page 3); it is removed; the next page is the same.
    const cursor = s.getPost('old-2020@x')!.seq;
    removePosts(s, { ids: ['old-2020@x'] }, { reason: 'spam', by: 'test', cause: 'removed', now: NOW });
    assert.deepEqual(ids(s.latestPosts('commons', 2, cursor)), ['old-reply2@x', 'old-reply1@x']);
    // A newer import does not move a page already read: its posts go where their dates put them.
    s.insertPost(
      post('old-2018@x', '2018-01-01T00:00:00.000Z', { origin: { account: 'import', target: 'import' } }),
      NOW + 3600_000,
      { imported: true },
    );
    assert.deepEqual(ids(s.latestPosts('commons', 2, cursor)), ['old-reply2@x', 'old-reply1@x']);
    assert.deepEqual(ids(s.latestPosts('commons', 2, s.getPost('old-root@x')!.seq)), ['old-2018@x']);
  } finally {
    s.close();
  }
});

test('a thread is read oldest first by place; the live stream’s reader leaves imported posts out', () => {
  const s = filled();
  try {
    assert.deepEqual(ids(s.threadPosts('old-root@x')), ['old-root@x', 'old-reply1@x', 'old-reply2@x', 'live-reply@x']);
    assert.deepEqual(ids(s.postsSince('commons', 0)), ['live1@x', 'live2@x', 'live3@x', 'live-reply@x']);
  } finally {
    s.close();
  }
});

test('the listing reads posts_by_place, and a thread posts_by_thread, without a sort step', () => {
  const s = filled();
  try {
    const plan = (sql: string, ...args: unknown[]) =>
      (s.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join('; ');
    const latest = plan(
      `SELECT seq, received_at, data, imported FROM posts INDEXED BY posts_by_place
       WHERE bridge = ? AND (placed_at, seq) < (?, ?) ORDER BY placed_at DESC, seq DESC LIMIT ?`,
      'commons',
      NOW,
      10,
      20,
    );
    // SQLite shows the row-value bound (placed_at, seq) < (?, ?) by its first column.
    assert.match(latest, /SEARCH posts USING INDEX posts_by_place \(bridge=\? AND placed_at<\?\)/);
    assert.doesNotMatch(latest, /TEMP B-TREE/);
    const thread = plan(
      'SELECT seq, received_at, data, imported FROM posts WHERE thread = ? ORDER BY placed_at, seq LIMIT ?',
      'x',
      10,
    );
    assert.match(thread, /SEARCH posts USING INDEX posts_by_thread \(thread=\?\)/);
    assert.doesNotMatch(thread, /TEMP B-TREE/);
  } finally {
    s.close();
  }
});

test('a store from before places gains them: imported posts (by their origin) at their dates, the rest as received', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-place-'));
  try {
    const old = new Database(join(dir, STORE_FILE));
    registerFunctions(old);
    for (const m of MIGRATIONS.slice(0, 9)) old.exec(m);
    old.pragma('user_version = 9');
    const ins = old.prepare('INSERT INTO posts (id, bridge, received_at, data, date) VALUES (?, ?, ?, ?, ?)');
    const live = post('live@x', '2026-12-05T10:00:00.000Z');
    const imported = post('old@x', '2019-03-01T09:00:00.000Z', { origin: { account: 'import', target: 'import' } });
    ins.run(live.id, 'commons', NOW - 1000, JSON.stringify(live), live.date);
    ins.run(imported.id, 'commons', NOW, JSON.stringify(imported), imported.date);
    old.close();
    const s = Store.open(dir);
    try {
      const rows = s.db.prepare('SELECT id, placed_at, imported FROM posts ORDER BY seq').all();
      assert.deepEqual(rows, [
        { id: 'live@x', placed_at: NOW - 1000, imported: 0 },
        { id: 'old@x', placed_at: Date.parse('2019-03-01T09:00:00.000Z'), imported: 1 },
      ]);
      assert.deepEqual(ids(s.latestPosts('commons')), ['live@x', 'old@x']);
    } finally {
      s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('posts of one commit share a place: seq orders them, and a page boundary between them loses none', () => {
  const s = Store.open(':memory:');
  try {
    for (let i = 1; i <= 7; i++) s.insertPost(post(`burst${i}@x`, '2026-12-05T12:00:00.000Z'), NOW);
    const seen: string[] = [];
    let before: number | undefined;
    for (;;) {
      const page = s.latestPosts('commons', 3, before);
      if (page.length === 0) break;
      seen.push(...ids(page));
      before = page[page.length - 1]!.seq;
    }
    assert.deepEqual(
      seen,
      [7, 6, 5, 4, 3, 2, 1].map((i) => `burst${i}@x`),
    );
  } finally {
    s.close();
  }
});

test('search sort:date lists by place as the pages do, and its cursor pages on through every match once', () => {
  const s = filled();
  try {
    const byPlace = ids(s.latestPosts('commons', 100));
    assert.deepEqual(ids(searchArchive(s.db, 'text sort:date', { limit: 100 }).hits.map((h) => h.post)), byPlace);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = searchArchive(s.db, 'text sort:date', { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...ids(page.hits.map((h) => h.post)));
      cursor = page.next;
    } while (cursor);
    assert.deepEqual(seen, byPlace);
  } finally {
    s.close();
  }
});

test('retention counts from a post’s place: an imported 2019 post leaves, a live post of today stays', () => {
  const s = filled();
  try {
    // archive.keep: 2y, swept at NOW + 1 h: what was placed before then leaves (Retention's target).
    const r = removePosts(
      s,
      { bridge: 'commons', before: NOW + 3600_000 - 2 * 365 * 86_400_000 },
      { reason: 'keep', by: 'retention', cause: 'retention', now: NOW + 3600_000 },
    );
    assert.deepEqual(ids(r.removed), ['old-root@x', 'old-reply1@x', 'old-reply2@x', 'old-2020@x']);
    assert.deepEqual(ids(s.latestPosts('commons', 100)), ['live-reply@x', 'live3@x', 'future@x', 'live2@x', 'live1@x']);
  } finally {
    s.close();
  }
});

test('an export is written in place order, a thread too, across pages', async () => {
  const s = filled();
  try {
    const src: ExportSource = { page: (f, a, l) => s.archivePage(f, a, l), subject: (id) => s.getPost(id)?.subject };
    const run = async (filter: ArchiveFilter) => {
      let text = '';
      const sink = new Writable({
        write(c, _e, cb) {
          text += c.toString();
          cb();
        },
      });
      await exportTo(src, { filter, addresses: 'show', pageSize: 2 }, sink);
      return readMboxrd(text).map((m) => /Message-ID: <([^>]+)>/.exec(m)![1]);
    };
    assert.deepEqual(await run({ bridge: 'commons' }), ids(s.latestPosts('commons', 100)).reverse());
    assert.deepEqual(await run({ thread: 'old-reply2@x' }), [
      'old-root@x',
      'old-reply1@x',
      'old-reply2@x',
      'live-reply@x',
    ]);
  } finally {
    s.close();
  }
});
