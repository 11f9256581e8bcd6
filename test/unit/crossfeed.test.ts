/**
 * The feed of posts committed by other processes (PostListeners.feed, ctx.onPost's fromOtherProcesses), without
 * sockets: a table of posts stands for the database, `commit` for another process's commit, `tell` for this one's.
 * What a listener is told: every post once, in seq order, this process's merged with the others'; a wake-up that
 * comes late or not at all, or a read that fails, loses nothing; the feed reads only while someone listens so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { PostListeners, type PostFeedSource } from '../../src/ingest/post-listeners.js';
import type { Post, StoredPost } from '../../src/post.js';

const log = pino({ level: 'silent' });
const tick = () => new Promise((r) => setImmediate(r));

function post(seq: number, from = 'b'): StoredPost {
  return {
    id: `p${seq}@${from}`,
    bridge: 'commons',
    origin: { account: `${from}.acct`, target: 't' },
    author: { name: 'someone', via: 'test' },
    body: `post ${seq}`,
    kind: 'message',
    references: [],
    hops: 0,
    date: new Date(0).toISOString(),
    attachments: [],
    seq,
    receivedAt: new Date(0).toISOString(),
  };
}

/** The database: posts by seq; reads counted; `down` makes reads fail as PostgreSQL away would. */
function database(start = 0) {
  const rows: StoredPost[] = [];
  for (let s = 1; s <= start; s++) rows.push(post(s, 'old'));
  const db = {
    rows,
    reads: 0,
    down: false,
    /** Another process commits the next post; returns its seq. */
    commit(): number {
      const seq = (rows.at(-1)?.seq ?? 0) + 1;
      rows.push(post(seq, 'a'));
      return seq;
    },
    /** This process commits the next post (not told yet). */
    commitLocal(): StoredPost {
      const p = post((rows.at(-1)?.seq ?? 0) + 1, 'b');
      rows.push(p);
      return p;
    },
    source: {
      postsAfter(seq: number, limit: number): StoredPost[] {
        db.reads++;
        if (db.down) throw Object.assign(new Error('connection refused'), { code: 'PG_UNAVAILABLE' });
        return rows.filter((r) => r.seq > seq).slice(0, limit);
      },
      newestSeq(): number {
        if (db.down) throw Object.assign(new Error('connection refused'), { code: 'PG_UNAVAILABLE' });
        return rows.at(-1)?.seq ?? 0;
      },
    } satisfies PostFeedSource,
  };
  return db;
}

function tellLocal(l: PostListeners, p: StoredPost): void {
  const { seq, receivedAt: _r, ...rest } = p;
  l.tell(rest as Post, seq, 0);
}

test('posts of other processes reach a listener that asked for them, in seq order, each once; the past is not news', async () => {
  const db = database(3);
  const l = new PostListeners(log);
  const events: boolean[] = [];
  l.feed(db.source, (on) => events.push(on));
  const wide: number[] = [];
  const own: number[] = [];
  l.add((p) => own.push(p.seq));
  const off = l.add((p) => wide.push(p.seq), { fromOtherProcesses: true });
  assert.deepEqual(events, [true], 'the feed starts with its first listener');

  const s4 = db.commit();
  const s5 = db.commit();
  l.nudge(s4); // the NOTIFY of the first commit
  l.nudge(s5); // and of the second, in the same turn: one read
  await tick();
  assert.deepEqual(wide, [4, 5]);
  assert.equal(db.reads, 1, 'two wake-ups in one turn, one read');
  l.nudge(s5); // a late or repeated wake-up: nothing read, nothing told again
  l.nudge();
  await tick();
  assert.deepEqual(wide, [4, 5]);
  assert.deepEqual(own, [], 'a listener without the option hears only this process');

  off();
  assert.deepEqual(events, [true, false], 'the feed stops with its last listener');
  db.commit();
  l.nudge();
  await tick();
  assert.deepEqual(wide, [4, 5]);
});

test("this process's posts and the others' are merged in seq order: what others committed below a local post is told first", async () => {
  const db = database();
  const l = new PostListeners(log);
  l.feed(db.source);
  const wide: string[] = [];
  l.add((p) => wide.push(`${p.seq}${p.id.endsWith('@a') ? 'a' : 'b'}`), { fromOtherProcesses: true });

  db.commit(); // 1, its NOTIFY not here yet
  db.commit(); // 2
  const mine = db.commitLocal(); // 3
  tellLocal(l, mine);
  assert.deepEqual(wide, ['1a', '2a', '3b'], 'the others first, then this one: no seq skipped');

  // A group commit of this process (4, 5) told one by one: no read between them.
  const four = db.commitLocal();
  const five = db.commitLocal();
  const reads = db.reads;
  tellLocal(l, four);
  tellLocal(l, five);
  assert.equal(db.reads, reads, 'nothing read when nothing was committed elsewhere in between');

  // The NOTIFYs of 1 and 2 arrive now, late: nothing twice; the own ones (3, 4, 5) are not read as others'.
  l.nudge(1);
  l.nudge(2);
  l.nudge();
  await tick();
  assert.deepEqual(wide, ['1a', '2a', '3b', '4b', '5b']);

  // An imported archive's post of this process (not told): not fed as someone else's.
  const imported = db.commitLocal();
  l.passed(imported.seq);
  db.commit(); // 7
  l.nudge(7);
  await tick();
  assert.deepEqual(wide, ['1a', '2a', '3b', '4b', '5b', '7a']);
});

test('resume after a gap: wake-ups lost or reads failing (PostgreSQL away), everything arrives once afterwards, by seq', async () => {
  const db = database(10);
  const l = new PostListeners(log);
  l.feed(db.source);
  const wide: number[] = [];
  l.add((p) => wide.push(p.seq), { fromOtherProcesses: true });

  // The listen connection is down: 11..13 committed, no NOTIFY; the reconnect (or the slow poll) nudges.
  db.commit();
  db.commit();
  db.commit();
  l.nudge();
  await tick();
  assert.deepEqual(wide, [11, 12, 13]);

  // Reads fail for a while: nothing is told, the cursor stays; the next nudge after it is back reads from there.
  db.down = true;
  db.commit(); // 14
  l.nudge(14);
  await tick();
  assert.deepEqual(wide, [11, 12, 13]);
  db.down = false;
  db.commit(); // 15
  l.nudge(15);
  await tick();
  assert.deepEqual(wide, [11, 12, 13, 14, 15]);

  // A read fails just when a local post is told: it is told (its commit went through), and when reads work again
  // the others' posts below it come, and it is not told a second time.
  db.commit(); // 16
  const mine = db.commitLocal(); // 17
  db.down = true;
  tellLocal(l, mine);
  db.down = false;
  db.commit(); // 18
  l.nudge(18);
  await tick();
  assert.deepEqual(wide, [11, 12, 13, 14, 15, 17, 16, 18], 'each once (16 late: the read below 17 failed)');

  // Many at once (more than one read's batch): all, in order.
  const first = db.commit();
  for (let i = 0; i < 449; i++) db.commit();
  l.nudge();
  await tick();
  const tail = wide.slice(8);
  assert.equal(tail.length, 450);
  assert.deepEqual(
    tail,
    Array.from({ length: 450 }, (_, i) => first + i),
  );
});

test('without a feed (SQLite, one process) a listener with the option is an ordinary one: nothing is read', () => {
  const db = database(5);
  const l = new PostListeners(log);
  const wide: number[] = [];
  l.add((p) => wide.push(p.seq), { fromOtherProcesses: true });
  const mine = db.commitLocal();
  tellLocal(l, mine);
  l.nudge();
  assert.deepEqual(wide, [6]);
  assert.equal(db.reads, 0);
  assert.equal(l.feeding, false);
});

test("held (a group commit on PostgreSQL's ingest lane under way): what is told meanwhile waits, then every listener is told in seq order, a post read by the feed meanwhile not twice", async () => {
  const db = database(2);
  const l = new PostListeners(log);
  l.feed(db.source);
  const wide: number[] = [];
  const own: number[] = [];
  l.add((p) => own.push(p.seq));
  l.add((p) => wide.push(p.seq), { fromOtherProcesses: true });
  await tick();
  const release = l.hold();
  // The lane commits 3 and 4 (answered later); the main connection commits a digest, 5, and tells it at once.
  const three = db.commitLocal();
  const four = db.commitLocal();
  const five = db.commitLocal();
  tellLocal(l, five);
  assert.deepEqual([own, wide], [[], []], 'nothing told before the commit before it is answered');
  // Another process commits 6; its wake-up reads the feed: 3, 4 (this process's, committed, not answered yet) and
  // 5 and 6 reach the wide listener, read from the store.
  db.commit();
  l.nudge();
  await tick();
  await tick();
  assert.deepEqual(wide, [3, 4, 5, 6]);
  // The lane's answer: its posts told, then the release tells what waited; all in seq order, none twice.
  tellLocal(l, four);
  tellLocal(l, three);
  assert.deepEqual(own, [], 'still held');
  release();
  release(); // once is enough
  assert.deepEqual(own, [3, 4, 5]);
  assert.deepEqual(wide, [3, 4, 5, 6]);
  // Not held any more: told at once.
  const seven = db.commitLocal();
  tellLocal(l, seven);
  assert.deepEqual(own, [3, 4, 5, 7]);
  assert.deepEqual(wide, [3, 4, 5, 6, 7]);
});

test('held without a feed (one process): the posts told meanwhile come in seq order at the release; a post passed over (imported) keeps its place', () => {
  const l = new PostListeners(log);
  const own: number[] = [];
  l.add((p) => own.push(p.seq));
  const release = l.hold();
  tellLocal(l, post(12));
  l.passed(11);
  tellLocal(l, post(10));
  assert.deepEqual(own, []);
  release();
  assert.deepEqual(own, [10, 12]);
});

test('two group commits under way: the first answered tells what is at or below its highest seq, the rest waits for the second', () => {
  const l = new PostListeners(log);
  const own: number[] = [];
  l.add((p) => own.push(p.seq));
  const first = l.hold();
  const second = l.hold();
  // A digest committed on the main connection while both wait: seq 5, between them.
  tellLocal(l, post(5));
  // The first is answered: 3 and 4.
  tellLocal(l, post(3));
  tellLocal(l, post(4));
  first(4);
  assert.deepEqual(own, [3, 4], 'the first commit told at its answer; the digest above it waits');
  // The second is answered: 6 and 7.
  tellLocal(l, post(7));
  tellLocal(l, post(6));
  assert.deepEqual(own, [3, 4]);
  second(7);
  assert.deepEqual(own, [3, 4, 5, 6, 7]);
});
