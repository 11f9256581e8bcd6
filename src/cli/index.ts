/**
 * The commands beyond the core's five (src/cli.ts), one file each in this folder. Each names itself, says in one
 * line what it does (for `peerpost help`), and has its --help text; run() returns the exit status (EXIT).
 *
 * Each is loaded when it runs (src/bin.ts goes straight to it, without the rest of the CLI and the daemon): a
 * `peerpost export` of a large archive starts with only what it needs in memory.
 */
export interface CliCommand {
  name: string;
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

export const COMMAND_LOADERS: Readonly<Record<string, () => Promise<CliCommand>>> = {
  export: async () => (await import('./export.js')).exportCommand,
  import: async () => (await import('./import.js')).importCommand,
  search: async () => (await import('./search.js')).searchCommand,
  remove: async () => (await import('./remove.js')).removeCommand,
  migrate: async () => (await import('./migrate.js')).migrateCommand,
  removed: async () => (await import('./remove.js')).removedCommand,
};

/** The command of that name, loaded; undefined when there is none. */
export async function loadCommand(name: string | undefined): Promise<CliCommand | undefined> {
  const load = name !== undefined && Object.hasOwn(COMMAND_LOADERS, name) ? COMMAND_LOADERS[name] : undefined;
  return load ? await load() : undefined;
}

/** Every command, loaded (for `peerpost help`). */
export async function loadCommands(): Promise<CliCommand[]> {
  return Promise.all(Object.values(COMMAND_LOADERS).map((load) => load()));
}
