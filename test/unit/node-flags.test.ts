// The node flags `peerpost start` runs with (the executable's first line; issue 19): the same in every place that
// starts the daemon, accepted by this node, and doing what they are there for: V8's heap stays within twice what
// is live while garbage is promoted (by default V8 lets it grow to 4–5 times, the daemon's peak RSS with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BIN, shebangFlags } from '../helpers/daemon.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('npm start and the systemd unit run node with the flags of the executable', () => {
  const flags = shebangFlags(BIN);
  assert.ok(flags.includes('--heap-growing-percent=40'), `the executable's flags: ${flags.join(' ')}`);
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: { start: string } };
  assert.ok(pkg.scripts.start.includes(`node ${flags.join(' ')} dist/src/bin.js start`), pkg.scripts.start);
  const unit = readFileSync(`${ROOT}contrib/peerpost.service`, 'utf8');
  assert.match(
    unit,
    new RegExp(`^ExecStart=/usr/bin/node ${flags.join(' ')} /opt/peerpost/dist/src/bin.js start`, 'm'),
  );
});

test('the large pages the systemd unit offers (commented out) are a NODE_OPTIONS this node takes', () => {
  const unit = readFileSync(`${ROOT}contrib/peerpost.service`, 'utf8');
  const m = /^#Environment=NODE_OPTIONS=(\S+)$/m.exec(unit);
  assert.ok(m, 'the unit offers NODE_OPTIONS for large pages');
  assert.equal(m[1], '--use-largepages=silent');
  const run = (options: string) =>
    execFileSync(process.execPath, ['-e', 'console.log("up")'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: options },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  assert.equal(run(m[1]), 'up', 'node starts with it');
  assert.throws(() => run('--use-largepages=sometimes'), 'a value node does not know stops it: the check can fail');
});

/** A child node: ~20 MB live, and objects that survive a few scavenges (promoted), then die; its largest heap. */
const CHURN = `
const live = Array.from({ length: 200000 }, (_, i) => ({ i, s: 'x'.repeat(60) + i }));
const ring = new Array(20000);
let maxTotal = 0;
for (let n = 0; n < 1500000; n++) {
  ring[n % ring.length] = { n, s: 'post body '.repeat(8) + n, a: [n, n + 1] };
  if (n % 5000 === 0) maxTotal = Math.max(maxTotal, process.memoryUsage().heapTotal);
}
globalThis.gc();
console.log(JSON.stringify({ maxTotal, live: process.memoryUsage().heapUsed, kept: live.length + ring.length }));
`;

test("with the executable's flags, V8's heap stays near what is live under promoted garbage, well below without them", () => {
  const run = (flags: string[]) =>
    JSON.parse(execFileSync(process.execPath, [...flags, '--expose-gc', '-e', CHURN], { encoding: 'utf8' })) as {
      maxTotal: number;
      live: number;
    };
  const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
  const ours = run(shebangFlags(BIN));
  assert.ok(
    // Within 2.5x (1.4x by the flag, plus the young generation and V8's timing of a loaded machine's GCs).
    ours.maxTotal < 2.5 * ours.live,
    `heap total reached ${mb(ours.maxTotal)} for ${mb(ours.live)} live, with ${shebangFlags(BIN).join(' ')}`,
  );
  // The test can tell: without the flags, V8 lets the same heap grow further.
  const plain = run([]);
  assert.ok(
    plain.maxTotal > ours.maxTotal * 1.25,
    `without the flags: ${mb(plain.maxTotal)} for ${mb(plain.live)} live; with them ${mb(ours.maxTotal)}`,
  );
});
