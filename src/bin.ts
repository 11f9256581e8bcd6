#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=40
/**
 * The node flags of the first line (also in package.json's `start` and contrib/peerpost.service) bound V8's heap:
 * `--max-semi-space-size=2`, a young generation of 2 MB semi-spaces; `--heap-growing-percent=40`, after a full
 * collection the heap may grow to 1.4 times what survived it before the next one. By default V8 lets it grow up to
 * 4 times on a machine with a few GB: under mail at 500 posts/s the old generation held ~25 MB and reserved ~65–70
 * (peak RSS 172–183 MB, growing with the posts); with the flag it reserves ~28 and peak RSS is ~105 MB, the same
 * after 6,000 posts and after 60,000 (issue 19, bench/RESULTS.md). There is no hard limit: a heap that needs more
 * still gets it.
 *
 * The `peerpost` executable (package.json bin). A command of the archive (src/cli/index.ts) is loaded alone, without
 * the rest of the CLI and the daemon's modules; everything else goes through src/cli.ts.
 */
import { loadCommand } from './cli/index.js';
import { daemonStarting } from './runtime/v8-flags.js';

const argv = process.argv.slice(2);
// The daemon starts with TurboFan off (back on once it has started) and compiles its own code when it loads it, not
// when a function first runs (src/runtime/v8-flags.ts).
if (argv[0] === 'start') await daemonStarting();

async function run(): Promise<number> {
  const command = await loadCommand(argv[0]);
  if (command) {
    const { reportFailure } = await import('./cli/common.js');
    return command.run(argv.slice(1)).catch((e: unknown) => reportFailure(argv[0], e));
  }
  const { main } = await import('./cli.js');
  return main(argv);
}

run().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`peerpost: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(4);
  },
);
