/**
 * The commands beyond the core's five (src/cli.ts), one file each in this folder. Each names itself, says in one
 * line what it does (for `peerpost help`), and has its --help text; run() returns the exit status (EXIT).
 */
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { searchCommand } from './search.js';
import { removeCommand, removedCommand } from './remove.js';

export interface CliCommand {
  name: string;
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

export const COMMANDS: readonly CliCommand[] = [
  exportCommand,
  importCommand,
  searchCommand,
  removeCommand,
  removedCommand,
];
