#!/usr/bin/env -S node --max-semi-space-size=2
/** The `peerpost` executable (package.json bin). */
import { main } from './cli.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`peerpost: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(4);
  },
);
