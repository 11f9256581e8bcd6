import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markdown, mergeSection } from '../../bench/lib/result.js';

test('a benchmark run replaces its own section of RESULTS.md and keeps the others', () => {
  const a1 = markdown(
    'core',
    [
      {
        figure: 'ingest',
        value: 1000,
        unit: 'posts/s',
        min: 900,
        max: 1100,
        runs: 3,
        target: { atLeast: 500 },
        anchor: 'INN: 3,000/s',
      },
    ],
    1.5,
  );
  let doc = mergeSection('# Benchmark results\n', 'core', a1);
  doc = mergeSection(
    doc,
    'finger',
    markdown('finger', [{ figure: 'queries', value: 5, unit: 'q/s', note: 'a | pipe' }], 2),
  );
  assert.match(doc, /\| ingest \| 1,000 posts\/s \| 900 – 1,100 \(3\) \| >= 500 \| meets \| INN: 3,000\/s \|/);
  const a2 = markdown('core', [{ figure: 'ingest', value: 2000, unit: 'posts/s' }], 1);
  doc = mergeSection(doc, 'core', a2);
  assert.equal(doc.match(/<!-- bench:core -->/g)?.length, 1, 'one core section, replaced');
  assert.match(doc, /2,000 posts\/s/);
  assert.doesNotMatch(doc, /1,000 posts\/s/);
  assert.match(doc, /<!-- bench:finger -->[\s\S]*queries[\s\S]*<!-- \/bench:finger -->/, 'the finger section stays');
  assert.ok(doc.indexOf('bench:core') < doc.indexOf('bench:finger'), 'sections keep their place');
});
