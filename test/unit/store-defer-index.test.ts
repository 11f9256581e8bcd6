/**
 * The daemon's store (deferIndex): a post's search row is written a moment after the post's commit, with others, in
 * a transaction of its own; search in the daemon (ctx.posts.search) writes what waits first; a crash's leftovers
 * are written when the store opens again. And syncAhead: the log is synced in the background, the data stays.
 */
import { test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/store.js';
import { INDEX_BATCH, INDEX_DELAY_MS } from '../../src/store/deferred-index.js';
import { SYNC_AHEAD_DELAY_MS } from '../../src/store/wal-sync.js';
import { searchArchive } from '../../src/archive/search.js';
import { postReaderFor } from '../../src/runtime/accounts.js';
import { removePosts } from '../../src/archive/removal.js';
import type { Post } from '../../src/post.js';

let n = 0;
function post(body: string, extra: Partial<Post> = {}): Post {
  n++;
  return {
    id: `d${n}.${process.pid}@test`,
    bridge: 'commons',
    origin: { account: 'nntp', target: 'local.commons' },
    author: { name: 'Alice Example', address: 'alice@example.org', via: 'nntp' },
    subject: `subject ${n}`,
    body,
    kind: 'message',
    references: [],
    hops: 0,
    date: new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(),
    attachments: [],
    ...extra,
  } as Post;
}

// The kill -9 test forks this file as its child (--child): the child registers no test.
const isChild = process.argv[2] === '--child';
const test: typeof nodeTest = isChild ? ((() => undefined) as unknown as typeof nodeTest) : nodeTest;

const found = (s: Store, word: string) => searchArchive(s.db, word).hits.map((h) => h.post.id);
const dir = () => mkdtempSync(join(tmpdir(), 'pp-defer-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('deferIndex: the row is written after the commit, within INDEX_DELAY_MS, in one transaction for many posts', async () => {
  const d = dir();
  const s = Store.open(d, { deferIndex: true });
  try {
    const a = post('the word marmalade');
    const b = post('more marmalade here');
    s.transaction(() => s.insertPost(a, Date.now()));
    s.transaction(() => s.insertPost(b, Date.now()));
    assert.ok(s.hasPost(a.id) && s.hasPost(b.id), 'the posts themselves are committed at once');
    assert.deepEqual(found(s, 'marmalade'), [], 'their rows wait');
    assert.equal(s.unindexedCount, 2);
    await sleep(INDEX_DELAY_MS + 100);
    assert.equal(s.unindexedCount, 0);
    assert.deepEqual(found(s, 'marmalade').sort(), [a.id, b.id].sort());
  } finally {
    s.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('deferIndex: search through ctx.posts finds a post stored a moment ago', () => {
  const d = dir();
  const s = Store.open(d, { deferIndex: true });
  try {
    const a = post('quince jelly');
    s.insertPost(a, Date.now());
    const hits = postReaderFor(s).search('quince', {});
    assert.deepEqual(
      hits.hits.map((h) => h.post.id),
      [a.id],
    );
  } finally {
    s.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('deferIndex: a batch of INDEX_BATCH posts is written without waiting for the timer', async () => {
  const d = dir();
  const s = Store.open(d, { deferIndex: true });
  try {
    s.transaction(() => {
      for (let i = 0; i < INDEX_BATCH; i++) s.insertPost(post(`bulk gooseberry ${i}`), Date.now());
    });
    await sleep(5); // a turn, not INDEX_DELAY_MS
    assert.equal(s.unindexedCount, 0);
    assert.equal(s.db.prepare('SELECT count(*) FROM archive_fts_docsize').pluck().get(), INDEX_BATCH);
    assert.equal(searchArchive(s.db, 'gooseberry', { limit: 5 }).hits.length, 5);
  } finally {
    s.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('deferIndex: a rolled back post, or one removed before its row was written, leaves no row; its seq reused is indexed as the new post', () => {
  const d = dir();
  const s = Store.open(d, { deferIndex: true });
  try {
    const gone = post('rolled back rhubarb');
    assert.throws(() =>
      s.transaction(() => {
        s.insertPost(gone, Date.now());
        throw new Error('rollback');
      }),
    );
    const next = post('apricot, stored where the rolled back one was');
    const seq = s.insertPost(next, Date.now());
    const removed = post('removed rhubarb');
    s.insertPost(removed, Date.now());
    removePosts(s, { ids: [removed.id] }, { reason: 'test', by: 'test', cause: 'removed', now: Date.now() });
    s.flushIndex();
    assert.ok(seq !== undefined);
    assert.deepEqual(found(s, 'rhubarb'), [], 'neither the rolled back post nor the removed one is found');
    assert.deepEqual(found(s, 'apricot'), [next.id]);
    const rows = s.db.prepare('SELECT count(*) FROM archive_fts_docsize').pluck().get();
    assert.equal(rows, 1, 'one row: the post that is there');
  } finally {
    s.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('deferIndex: close writes what waits; a store that was killed before writing gets the rows when it opens again', async () => {
  const d = dir();
  try {
    const s = Store.open(d, { deferIndex: true });
    const a = post('closing currant');
    s.insertPost(a, Date.now());
    s.close();
    const r = Store.open(d, { readonly: true, create: false });
    assert.deepEqual(found(r, 'currant'), [a.id], 'written by close');
    r.close();

    // A daemon killed (SIGKILL) right after its commits: the posts are there, their rows not.
    const child = fork(fileURLToPath(import.meta.url), ['--child', d], { stdio: 'pipe' });
    const ids = await new Promise<string[]>((res, rej) => {
      child.on('message', (m) => res(m as string[]));
      child.on('exit', (code) => rej(new Error(`the child exited ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const after = Store.open(d, { readonly: true, create: false });
    assert.equal(ids.filter((id) => after.hasPost(id)).length, ids.length, 'nothing lost on kill -9');
    assert.deepEqual(found(after, 'elderberry'), [], 'the rows were not written before the kill');
    after.close();
    const again = Store.open(d, { deferIndex: true });
    assert.deepEqual(found(again, 'elderberry').sort(), [...ids].sort(), 'written when the store opened again');
    // A command's store (not deferring) indexes at once; the daemon's next open leaves that row alone.
    again.close();
    const cmd = Store.open(d, { create: false });
    const c = post('elderberry from a command');
    cmd.insertPost(c, Date.now());
    cmd.close();
    const third = Store.open(d, { deferIndex: true });
    assert.equal(found(third, 'elderberry').length, ids.length + 1, 'each post found once');
    third.close();
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a store that never deferred opens deferring with nothing to redo (its mark starts at its newest post)', () => {
  const d = dir();
  try {
    const s = Store.open(d);
    for (let i = 0; i < 3; i++) s.insertPost(post(`plum ${i}`), Date.now());
    s.close();
    const t = Store.open(d, { deferIndex: true });
    assert.equal(found(t, 'plum').length, 3);
    assert.equal(t.db.prepare('SELECT count(*) FROM archive_fts_docsize').pluck().get(), 3, 'no row twice');
    t.close();
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('syncAhead: commits go on while the log is synced in the background, and close leaves every post', async () => {
  const d = dir();
  try {
    const s = Store.open(d, { deferIndex: true, syncAhead: true });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const p = post(`fig ${i}`);
      ids.push(p.id);
      s.transaction(() => s.insertPost(p, Date.now()));
      if (i % 10 === 0) await sleep(60); // past SYNC_AHEAD_MS: a sync starts after the next commit
    }
    s.close();
    const r = Store.open(d, { readonly: true, create: false });
    assert.equal(ids.filter((id) => r.hasPost(id)).length, 50);
    assert.equal(found(r, 'fig').length, 20, 'a page of the 50');
    r.close();
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('syncAhead: the sync starts a moment after the commit, not in its turn (the deliveries go first)', async () => {
  const d = dir();
  try {
    const s = Store.open(d, { deferIndex: true, syncAhead: true });
    const committed = performance.now();
    s.transaction(() => s.insertPost(post('plum'), Date.now()));
    await new Promise((r) => setImmediate(r)); // the turn of the commit, and the deliveries it hands on
    // On a loaded machine this turn may itself take longer than the delay; only then may the sync have started.
    if (performance.now() - committed < SYNC_AHEAD_DELAY_MS)
      assert.equal(s.syncsStarted, 0, 'a sync started on the heels of the commit');
    await sleep(SYNC_AHEAD_DELAY_MS + 40);
    assert.equal(s.syncsStarted, 1, 'no sync after the commit');
    s.transaction(() => s.insertPost(post('quince'), Date.now()));
    s.close(); // a sync waiting for its moment is dropped at the close, which leaves the posts in the store
    await sleep(SYNC_AHEAD_DELAY_MS + 40);
    assert.equal(s.syncsStarted, 1);
    const r = Store.open(d, { readonly: true, create: false });
    assert.equal(found(r, 'quince').length, 1);
    r.close();
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

// The child of the kill -9 test: store three posts, say so, wait to be killed.
if (isChild) {
  const s = Store.open(process.argv[3]!, { deferIndex: true });
  const ids = [0, 1, 2].map(() => {
    const p = post('killed elderberry');
    s.transaction(() => s.insertPost(p, Date.now()));
    return p.id;
  });
  // Sent, then the loop is held (no timer runs: the rows are never written) until the parent kills this process.
  process.send!(ids, () => {
    for (;;);
  });
}
