import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceMax, slope, svgPlot, toCsv } from '../../bench/lib/series.js';
import { soakOptions } from '../../bench/soak.js';
import { BIN, shebangFlags } from '../helpers/daemon.js';

test('the soak slope is the least-squares one: a line gives its own slope, noise around a flat line gives ~0', () => {
  assert.equal(slope([0, 1, 2, 3], [5, 7, 9, 11]), 2);
  assert.equal(slope([0, 1, 2, 3], [1, 3, 1, 3]), 0.4);
  assert.ok(Number.isNaN(slope([1], [1])), 'one point has no slope');
  assert.ok(Number.isNaN(slope([2, 2], [1, 5])), 'no spread in x, no slope');
  assert.equal(slope([0, 1, 2, NaN], [0, 1, 2, 100]), 1, 'a missing sample is left out, not taken as a value');
});

test('the soak CSV and plot: every column, blanks for missing samples; one panel per column, bursts marked', () => {
  const rows = [
    { t_s: 10, rss_mb: 100.12345, p99: NaN },
    { t_s: 20, rss_mb: 101, p99: 12 },
  ];
  assert.equal(toCsv(['t_s', 'rss_mb', 'p99'], rows), 't_s,rss_mb,p99\n10,100.123,\n20,101,12\n');
  const svg = svgPlot('a <soak>', rows, 't_s', [{ column: 'rss_mb', label: 'RSS (MB)' }], {
    warmupS: 10,
    bursts: [15],
  });
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /a &lt;soak&gt;/, 'text is escaped');
  assert.equal((svg.match(/<polyline /g) ?? []).length, 1);
  assert.equal((svg.match(/stroke="#c00"/g) ?? []).length, 1, 'one burst mark');
  assert.equal(niceMax(143), 200);
  assert.equal(niceMax(0.8), 1);
});

test('soak options: 30 minutes at 50 posts/s by default, a 3-minute smoke, each figure overridable, nonsense refused', () => {
  const full = soakOptions([]);
  assert.deepEqual([full.minutes, full.rate, full.burst, full.clients, full.subscribers], [30, 50, 500, 200, 1000]);
  const smoke = soakOptions(['--smoke']);
  assert.equal(smoke.minutes, 3);
  assert.ok(smoke.rate < full.rate && smoke.burst < full.burst);
  const o = soakOptions(['--minutes=60', '--rate=10', '--warmup=2']);
  assert.deepEqual([o.minutes, o.rate, o.warmupS], [60, 10, 120]);
  assert.throws(() => soakOptions(['--minutes=soon']), /--minutes wants a number/);
});

test("the soak's daemon gets the node flags of the peerpost executable's first line, as `peerpost start` does", () => {
  assert.deepEqual(shebangFlags(BIN), ['--max-semi-space-size=2', '--heap-growing-percent=40']);
});
