// The import's progress bar on a terminal (peerpost import): what was read and stored, the rate, and once the
// total is known the share done and the time left; refused and unreadable messages counted in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressLine } from '../../src/cli/import.js';
import { newCounts } from '../../src/archive/import.js';

test('the progress line: counts, rate, share done and ETA; refused and unreadable counted', () => {
  const c = newCounts();
  c.read = 2500;
  c.imported = 2000;
  c.duplicate = 400;
  c.refused = { removed: 60, loop: 20 };
  c.unparsable = Array.from({ length: 20 }, (_, i) => ({ where: `msg ${i}`, reason: 'not a message' }));
  // 10 s in, a quarter of the mailbox read: 30 s left.
  assert.equal(
    progressLine(c, 10_000, 0.25),
    '2500 read: 2000 imported, 400 already there, 80 refused, 20 unreadable · 250 messages/s · 25% · ETA 30s',
  );
  // The total not known (a news group still counting): no share, no ETA.
  assert.equal(
    progressLine(c, 10_000, undefined),
    '2500 read: 2000 imported, 400 already there, 80 refused, 20 unreadable · 250 messages/s',
  );
  // Nothing stored yet: no ETA to guess from.
  assert.equal(progressLine(newCounts(), 0, 0.1), '0 read: 0 imported, 0 already there · 0 messages/s');
});
