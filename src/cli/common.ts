/**
 * What every command of the peerpost CLI shares: its common options (-c, --verbose, --help), argument parsing
 * with usage errors, output for people, finding the config and the store (never creating one).
 * The core commands are in src/cli.ts; the archive's in this folder, one file each, listed in src/cli/index.ts.
 */
import { openConfiguredStore } from '../store/open.js';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile, formatConfigError } from '../config/load.js';
import { describeSource, type FoundConfig } from '../config/find.js';
import type { PeerpostConfig } from '../config/types.js';
import { lookupPlugin } from '../loader.js';
import { Store, NoStoreError, StoreError, STORE_FILE } from '../store.js';
import { EXIT } from '../plugin.js';

export const COMMON = {
  config: { type: 'string', short: 'c' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export class UsageError extends Error {}

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  positionals = false,
) {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');
export const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');

export const hasStore = (data: string) => existsSync(join(data, STORE_FILE));

/**
 * In a terminal (standard output), or with --verbose: the first line, on standard error so that
 * --json stays readable, names the config and the store this command uses.
 */
export function announce(found: FoundConfig, config: PeerpostConfig | undefined, verbose: boolean | undefined): void {
  if (!verbose && !process.stdout.isTTY) return;
  const how =
    found.source === 'option'
      ? ' (-c)'
      : found.source === 'env'
        ? ' ($PEERPOST_CONFIG)'
        : found.source === 'shipped'
          ? ' (the default shipped with peerpost)'
          : '';
  const store = config ? `, store ${config.node.data}${hasStore(config.node.data) ? '' : ' (no store there yet)'}` : '';
  err(`peerpost: config ${found.file}${how}${store}`);
}

export async function loadOrReport(found: FoundConfig, verbose?: boolean): Promise<PeerpostConfig | undefined> {
  const r = await loadConfigFile(found.file, { lookup: lookupPlugin });
  announce(found, r.ok ? r.config : undefined, verbose);
  if (r.ok) return r.config;
  for (const e of r.errors) err(formatConfigError(e));
  err(
    `${r.errors.length} error${r.errors.length === 1 ? '' : 's'} in ${found.file} (${describeSource(found)}); nothing was started or changed.`,
  );
  return undefined;
}

/** No daemon answers and there is no store where the config points: the command stops (exit 7). */
export class NoStoreHere extends Error {
  constructor(found: FoundConfig, config: PeerpostConfig) {
    super(
      `there is no peerpost store in ${config.node.data} (node.data of ${found.file}, ${describeSource(found)}), ` +
        `and no daemon answers there; nothing was changed.\n` +
        `Only \`peerpost start\` creates a store. If peerpost runs with another config, name it: -c FILE or ` +
        `PEERPOST_CONFIG=FILE. If this is its config, set node.data to where its store is ` +
        `(a relative node.data is read from the config file's directory).`,
    );
  }
}

/** The store this config names, which must exist: commands other than start never create one. */
export function openStore(found: FoundConfig, config: PeerpostConfig): Store {
  try {
    return openConfiguredStore(config.node, { create: false });
  } catch (e) {
    if (e instanceof NoStoreError) throw new NoStoreHere(found, config);
    throw e;
  }
}

/** Open the store to read: read-only when its schema is this peerpost's, else as other commands do (migrated). */
export function openToRead(found: FoundConfig, config: PeerpostConfig): Store {
  if (config.node.database) return openStore(found, config); // PostgreSQL: a connection reads as well as it writes
  if (!hasStore(config.node.data)) throw new NoStoreHere(found, config);
  try {
    return Store.open(config.node.data, { readonly: true, create: false });
  } catch (e) {
    if (e instanceof StoreError && e.code === 'SCHEMA') throw e;
    return openStore(found, config); // a store from before the archive: brought up to date first
  }
}

/** A command's error, told: what went wrong on stderr, and the exit status it means. */
export function reportFailure(cmd: string | undefined, e: unknown): number {
  if (e instanceof NoStoreHere) {
    err(`peerpost ${cmd}: ${e.message}`);
    return EXIT.NO_STORE;
  }
  if (e instanceof UsageError) {
    err(`peerpost ${cmd}: ${e.message}\n(see peerpost ${cmd} --help)`);
    return EXIT.USAGE;
  }
  err(`peerpost ${cmd}: ${(e as Error).message}`);
  return EXIT.FAILED;
}

/**
 * A full garbage collection every `n` calls (the export: every 1,000 posts; the import: every 1,000 messages, its peak RSS at 10,000 messages 179 → 155 MB). What
 * a long command reads outlives a few young-generation collections while it is written out, so it reaches the old
 * generation, which V8 lets grow to several times what is live (12 MB) before it collects: the export took 135 MB of
 * RSS at 100,000 posts. Collected as it goes, a command stays near what it needs, whatever the archive's size. A
 * command's process only: the daemon never does this (its web export runs beside deliveries a full collection
 * would pause).
 */
export function collectEvery(n: number): (() => void) | undefined {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  if (typeof gc !== 'function') return undefined;
  let count = 0;
  return () => {
    if (++count % n === 0) (gc as () => void)();
  };
}
