import { importCommand } from './import.js';

/**
 * The commands beyond the core's five (src/cli.ts), one file each in this folder. Each names itself, says in one
 * line what it does (for `peerpost help`), and has its --help text; run() returns the exit status (EXIT).
 */
export interface CliCommand {
  name: string;
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

export const COMMANDS: readonly CliCommand[] = [importCommand];
