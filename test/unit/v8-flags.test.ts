// The V8 flags `peerpost start` sets on itself (src/runtime/v8-flags.ts, issue 18): TurboFan and Sparkplug off while
// the daemon starts and back on after, the cold libraries loaded before `--no-lazy`, and node's own flags left to win.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { COLD_LIBRARIES, daemonRunning, daemonStarting } from '../../src/runtime/v8-flags.js';

const FLAGS = fileURLToPath(new URL('../../src/runtime/v8-flags.js', import.meta.url));

test('the cold libraries are loaded before --no-lazy; TurboFan goes off first and comes back after the start', async () => {
  const calls: string[] = [];
  const hooks = {
    set: (f: string) => calls.push(`set ${f}`),
    load: (m: string) => Promise.resolve(calls.push(`load ${m}`)),
    given: ['--max-semi-space-size=2', '--heap-growing-percent=40'],
  };
  assert.deepEqual(await daemonStarting(hooks), ['--no-turbofan', '--no-sparkplug', '--no-lazy']);
  assert.deepEqual(calls, [
    'set --no-turbofan',
    'set --no-sparkplug',
    ...COLD_LIBRARIES.map((m) => `load ${m}`),
    'set --no-lazy',
  ]);
  calls.length = 0;
  assert.deepEqual(daemonRunning(hooks), ['--turbofan', '--sparkplug']);
  assert.deepEqual(calls, ['set --turbofan', 'set --sparkplug']);
});

test("node's own choices win: --no-opt, --no-sparkplug, --jitless, --lite-mode, --lazy are not overridden", async () => {
  const cases: [string[], string[]][] = [
    [['--no-opt'], ['--no-sparkplug', '--no-lazy', '--sparkplug']],
    [['--turbofan'], ['--no-sparkplug', '--no-lazy', '--sparkplug']],
    [['--max-opt=2'], ['--no-sparkplug', '--no-lazy', '--sparkplug']],
    [['--no-sparkplug'], ['--no-turbofan', '--no-lazy', '--turbofan']],
    [['--jitless'], ['--no-lazy']],
    [['--lite-mode'], ['--no-lazy']],
    [['--lazy'], ['--no-turbofan', '--no-sparkplug', '--turbofan', '--sparkplug']],
  ];
  for (const [given, expected] of cases) {
    const calls: string[] = [];
    const hooks = { set: (f: string) => calls.push(f), load: () => Promise.resolve(), given };
    await daemonStarting(hooks);
    daemonRunning(hooks);
    assert.deepEqual(calls, expected, `given ${given.join(' ')}`);
  }
});

/** A child node: a hot function while the daemon starts, another after; which V8 optimized (%GetOptimizationStatus). */
const HOT = `
const { daemonStarting, daemonRunning } = await import(${JSON.stringify(FLAGS)});
const optimized = (f) => (%GetOptimizationStatus(f) & 16) !== 0; // bit 4: kTurboFanned
function starting(x) { return (x * 2 + 1) % 7; }
function running(x) { return (x * 3 + 1) % 7; }
const applied = await daemonStarting({ load: () => Promise.resolve(), given: [] });
let s = 0;
for (let i = 0; i < 3e6; i++) s += starting(i);
const a = optimized(starting);
daemonRunning({ given: [] });
for (let i = 0; i < 3e6; i++) s += running(i);
console.log(JSON.stringify({ applied, starting: a, running: optimized(running), s }));
`;

test('in V8 itself: a hot function is not optimized while the daemon starts, and is once it runs', () => {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', HOT], {
    encoding: 'utf8',
  });
  const r = JSON.parse(out) as { applied: string[]; starting: boolean; running: boolean };
  assert.deepEqual(r.applied, ['--no-turbofan', '--no-sparkplug', '--no-lazy']);
  assert.equal(r.starting, false, 'TurboFan optimized code while the daemon was starting');
  assert.equal(r.running, true, 'TurboFan did not come back after the start');
});
