/**
 * V8 flags `peerpost start` sets on itself while it starts (issue 18: the daemon's memory with one IRC account).
 *
 * - TurboFan, V8's optimizing compiler, and Sparkplug, its baseline compiler, are off until the daemon has started
 *   (daemonRunning()): the start-up runs a lot of code a few times (config validation, migrations, the plugins'
 *   set-up) that they would otherwise compile to machine code, paging in their own code (~4 MB of node's
 *   executable) and keeping what they made; none of it is on the path of a relayed line. With one IRC account the
 *   peak RSS fell by ~5 MB for TurboFan, ~0.5 MB more for Sparkplug (bench/RESULTS.md, irc-pace). After the start both
 *   are back, for the code that gets hot under load.
 * - `--no-lazy`: the daemon's code is compiled when it is loaded, not when a function first runs, so that the first
 *   line relayed after a start does not wait for the compiler (about 15 ms on the path of one IRC line). The
 *   libraries used only at the start or rarely (COLD_LIBRARIES: the config's parser and schemas, the logger, the
 *   SQLite binding's wrapper) are loaded before the flag is set, and compiled lazily: only what runs (~1.5 MB less).
 * - Once it runs, TurboFan waits for code that is really hot: a function is optimized after ten times the bytecode
 *   V8 would run before (`--interrupt-budget`, HOT_BUDGET), and a small function no sooner than another
 *   (`--max-bytecode-size-for-early-opt=0`). With V8's own thresholds, small helpers of node's own modules that any
 *   start calls many times (its argument checks) were often optimized within a second of it, and that one TurboFan
 *   compile paged in ~3.5 MB of node's executable (TurboFan's own code). Measured (2026-12-07, one IRC account):
 *   peak RSS in bench/irc-pace 65.8 MB against 69.4–70.6 with V8's thresholds; after 1,000 lines 20 ms apart 68.6
 *   against 75.0 (V8's thresholds: 18 functions optimized by then, none with these). Hot code is optimized later:
 *   a line 20 ms apart (bench/irc, 3 × 1,000 lines; 4 runs) p50 1.32, 1.32, 1.20, 1.22 ms against 1.19, 1.20 with
 *   V8's thresholds, p99 2.3–3.7 against 3.5–4.2. At a person's pace nothing gets that hot.
 *
 * Flags given to node by the person running it win: if `--no-opt`, `--turbofan`, `--sparkplug`, `--jitless`,
 * `--lite-mode`, `--lazy`/`--no-lazy`, `--interrupt-budget` or `--max-bytecode-size-for-early-opt` are among node's
 * own flags (or NODE_OPTIONS), the corresponding change is not made (with a choice about TurboFan, neither threshold
 * is changed).
 */
import { setFlagsFromString } from 'node:v8';

/** Loaded before `--no-lazy`: compiled lazily. Only modules the core depends on itself (never a plugin). */
export const COLD_LIBRARIES = ['zod', 'yaml', 'pino', 'better-sqlite3'] as const;

export interface FlagHooks {
  set?: (flag: string) => void;
  load?: (module: string) => Promise<unknown>;
  /** node's own flags: process.execArgv and NODE_OPTIONS. */
  given?: string[];
}

/** What node was started with, the person's choices about compilation. */
function givenFlags(): string[] {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].filter(Boolean);
}

const mentions = (given: string[], names: string[]) =>
  given.some((f) => names.some((n) => f === `--${n}` || f === `--no-${n}` || f.startsWith(`--${n}=`)));

/** Choices about the compilers on node's command line: leave TurboFan, resp. Sparkplug, alone then. */
const OPT_NAMES = ['opt', 'turbofan', 'jitless', 'lite-mode', 'max-opt'];
const SPARKPLUG_NAMES = ['sparkplug', 'jitless', 'lite-mode'];

const COMPILERS: [string[], string][] = [
  [OPT_NAMES, 'turbofan'],
  [SPARKPLUG_NAMES, 'sparkplug'],
];

/** A flag set, and kept in the list of those applied. */
const applier = (set: (flag: string) => void, applied: string[]) => (flag: string) => {
  set(flag);
  applied.push(flag);
};

/** Before the daemon's modules are loaded: TurboFan and Sparkplug off, the cold libraries loaded lazily, then `--no-lazy`. */
export async function daemonStarting(hooks: FlagHooks = {}): Promise<string[]> {
  const set = hooks.set ?? setFlagsFromString;
  const load = hooks.load ?? ((m: string) => import(m));
  const given = hooks.given ?? givenFlags();
  const applied: string[] = [];
  const apply = applier(set, applied);
  for (const [names, flag] of COMPILERS) if (!mentions(given, names)) apply(`--no-${flag}`);
  if (!mentions(given, ['lazy'])) {
    for (const m of COLD_LIBRARIES) await load(m);
    apply('--no-lazy');
  }
  return applied;
}

/** V8's `--interrupt-budget` (Node 20: 66 KB of bytecode run between two looks at a function), ten times over. */
export const HOT_BUDGET = 10 * 67584;

/** The thresholds TurboFan waits for once the daemon runs (unless node was given a choice about them or TurboFan). */
const HOT_FLAGS: [string, string][] = [
  ['interrupt-budget', `--interrupt-budget=${HOT_BUDGET}`],
  ['max-bytecode-size-for-early-opt', '--max-bytecode-size-for-early-opt=0'],
];

/** Once the daemon has started: TurboFan (for hot code) and Sparkplug back on (unless node was given a choice about them). */
export function daemonRunning(hooks: FlagHooks = {}): string[] {
  const set = hooks.set ?? setFlagsFromString;
  const given = hooks.given ?? givenFlags();
  const applied: string[] = [];
  const apply = applier(set, applied);
  if (!mentions(given, OPT_NAMES)) for (const [name, flag] of HOT_FLAGS) if (!mentions(given, [name])) apply(flag);
  for (const [names, flag] of COMPILERS) if (!mentions(given, names)) apply(`--${flag}`);
  return applied;
}
