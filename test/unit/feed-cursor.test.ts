/**
 * FeedCursor (src/store/feed-cursor.ts): the policy of the feeds of other processes' posts and removals — start at
 * the newest, one read for the wake-ups of a turn, none for a wake-up already read past, a failing read reported at
 * most once every FEED_REPORT_EVERY_MS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { FEED_REPORT_EVERY_MS, FeedCursor } from '../../src/store/feed-cursor.js';

test('a feed starts at the newest position (0 when it cannot be read, said once) and starts once', () => {
  const c = new FeedCursor(() => {});
  const said: unknown[] = [];
  assert.equal(c.on, false);
  assert.equal(
    c.start(
      () => 41,
      (e) => said.push(e),
    ),
    true,
  );
  assert.equal(c.at, 41);
  assert.equal(
    c.start(
      () => 99,
      (e) => said.push(e),
    ),
    false,
    'already running',
  );
  assert.equal(c.at, 41);
  assert.equal(c.stop(), true);
  assert.equal(c.stop(), false);
  assert.equal(c.at, undefined);
  c.start(
    () => {
      throw new Error('PostgreSQL away');
    },
    (e) => said.push(e),
  );
  assert.equal(c.at, 0);
  assert.deepEqual(
    said.map((e) => (e as Error).message),
    ['PostgreSQL away'],
  );
});

test('the wake-ups of one turn make one read, in a later turn; none for a position read already or a stopped feed', async () => {
  let reads = 0;
  const c = new FeedCursor(() => reads++);
  c.nudge(); // not running: nothing
  await turn();
  assert.equal(reads, 0);
  c.start(
    () => 10,
    () => {},
  );
  c.nudge(11);
  c.nudge();
  c.nudge(12);
  assert.equal(reads, 0, 'not in the turn of the wake-up');
  await turn();
  assert.equal(reads, 1);
  c.nudge(10); // at or below the position: read already
  c.nudge(3);
  await turn();
  assert.equal(reads, 1);
  c.nudge(11);
  await turn();
  assert.equal(reads, 2);
});

test('a failing read is reported at once, then at most once every FEED_REPORT_EVERY_MS', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const c = new FeedCursor(() => {});
  let reports = 0;
  c.failed(() => reports++);
  c.failed(() => reports++);
  assert.equal(reports, 1);
  t.mock.timers.tick(FEED_REPORT_EVERY_MS);
  c.failed(() => reports++);
  assert.equal(reports, 1, 'not before the interval has passed');
  t.mock.timers.tick(1);
  c.failed(() => reports++);
  assert.equal(reports, 2);
});
