// The V8 flags `peerpost start` sets on itself (src/runtime/v8-flags.ts, issue 18): TurboFan and Sparkplug off while
// the daemon starts and back on after (TurboFan for hot code only), the cold libraries loaded before `--no-lazy`, and
// node's own flags left to win.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { COLD_LIBRARIES, HOT_BUDGET, daemonRunning, daemonStarting } from '../../src/runtime/v8-flags.js';

const HOT = [`--interrupt-budget=${HOT_BUDGET}`, '--max-bytecode-size-for-early-opt=0'];

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
  assert.deepEqual(daemonRunning(hooks), [...HOT, '--turbofan', '--sparkplug']);
  assert.deepEqual(calls, [...HOT.map((f) => `set ${f}`), 'set --turbofan', 'set --sparkplug']);
});

test("node's own choices win: --no-opt, --no-sparkplug, --jitless, --lite-mode, --lazy, the budgets are not overridden", async () => {
  const cases: [string[], string[]][] = [
    [['--no-opt'], ['--no-sparkplug', '--no-lazy', '--sparkplug']],
    [['--turbofan'], ['--no-sparkplug', '--no-lazy', '--sparkplug']],
    [['--max-opt=2'], ['--no-sparkplug', '--no-lazy', '--sparkplug']],
    [['--no-sparkplug'], ['--no-turbofan', '--no-lazy', ...HOT, '--turbofan']],
    [['--jitless'], ['--no-lazy']],
    [['--lite-mode'], ['--no-lazy']],
    [['--lazy'], ['--no-turbofan', '--no-sparkplug', ...HOT, '--turbofan', '--sparkplug']],
    [
      ['--interrupt-budget=1000'],
      ['--no-turbofan', '--no-sparkplug', '--no-lazy', HOT[1]!, '--turbofan', '--sparkplug'],
    ],
    [
      ['--max-bytecode-size-for-early-opt=20'],
      ['--no-turbofan', '--no-sparkplug', '--no-lazy', HOT[0]!, '--turbofan', '--sparkplug'],
    ],
  ];
  for (const [given, expected] of cases) {
    const calls: string[] = [];
    const hooks = { set: (f: string) => calls.push(f), load: () => Promise.resolve(), given };
    await daemonStarting(hooks);
    daemonRunning(hooks);
    assert.deepEqual(calls, expected, `given ${given.join(' ')}`);
  }
});

/**
 * A child node: a hot function while the daemon starts, a warm one and a hot one after (or, with `defaults`, the warm
 * one under V8's own thresholds); which V8 optimized (%GetOptimizationStatus).
 */
const CHILD = `
const { daemonStarting, daemonRunning } = await import(${JSON.stringify(FLAGS)});
const optimized = (f) => (%GetOptimizationStatus(f) & 16) !== 0; // bit 4: kTurboFanned
function starting(x) { return (x * 2 + 1) % 7; }
function warm(x) { return (x * 5 + 1) % 7; }
function running(x) { return (x * 3 + 1) % 7; }
// The calls, from a caller V8 leaves alone: each function is optimized for itself, never inlined into its caller.
function calls(f, n) { let s = 0; for (let i = 0; i < n; i++) s += f(i); return s; }
%NeverOptimizeFunction(calls);
if (process.argv.includes('defaults')) {
  calls(warm, 2e4);
  console.log(JSON.stringify({ warm: optimized(warm) }));
} else {
  const applied = await daemonStarting({ load: () => Promise.resolve(), given: [] });
  calls(starting, 3e6);
  const a = optimized(starting);
  daemonRunning({ given: [] });
  calls(warm, 2e4);
  const w = optimized(warm);
  calls(running, 3e6);
  console.log(JSON.stringify({ applied, starting: a, warm: w, running: optimized(running) }));
}
`;

const child = (...args: string[]) =>
  JSON.parse(
    execFileSync(
      process.execPath,
      ['--allow-natives-syntax', '--no-concurrent-recompilation', '--input-type=module', '-e', CHILD, '--', ...args],
      {
        encoding: 'utf8',
      },
    ),
  ) as { applied: string[]; starting: boolean; warm: boolean; running: boolean };

test('in V8 itself: nothing is optimized while the daemon starts; once it runs, hot code is, merely warm code not', () => {
  const r = child();
  assert.deepEqual(r.applied, ['--no-turbofan', '--no-sparkplug', '--no-lazy']);
  assert.equal(r.starting, false, 'TurboFan optimized code while the daemon was starting');
  assert.equal(r.warm, false, 'TurboFan optimized a small function called 20,000 times once the daemon ran');
  assert.equal(r.running, true, 'TurboFan did not come back after the start');
  // The same 20,000 calls under V8's own thresholds are optimized: the daemon's thresholds are what keeps it out.
  assert.equal(child('defaults').warm, true, "V8's own thresholds did not optimize the warm function");
});
