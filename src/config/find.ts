/**
 * Which config file peerpost uses: the one place that decides it, for the
 * daemon and for every command alike, so that `peerpost status` run anywhere
 * looks at the store of the daemon that `peerpost start` ran.
 *
 * Order: -c FILE, then $PEERPOST_CONFIG, then /etc/peerpost/peerpost.yaml when
 * it exists, then the config shipped with peerpost (config/peerpost.yaml of the
 * package). The working directory plays no part: a relative -c or
 * $PEERPOST_CONFIG is read from it, nothing else is.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where an operator puts the config of a node installed on the machine. */
export const SYSTEM_CONFIG = '/etc/peerpost/peerpost.yaml';

/** config/peerpost.yaml of the package (this file is dist/src/config/find.js). */
export const SHIPPED_CONFIG = fileURLToPath(new URL('../../../config/peerpost.yaml', import.meta.url));

/** How the config was found: -c, $PEERPOST_CONFIG, the system file, or the shipped default. */
export type ConfigSource = 'option' | 'env' | 'system' | 'shipped';

export interface FoundConfig {
  /** Absolute path of the config file (it may not exist when given by -c or $PEERPOST_CONFIG). */
  file: string;
  source: ConfigSource;
}

export interface FindOptions {
  /** -c FILE as given on the command line. */
  given?: string | undefined;
  /** Default process.env (PEERPOST_CONFIG is read from it). */
  env?: NodeJS.ProcessEnv;
  /** What a relative -c or $PEERPOST_CONFIG is relative to; default process.cwd(). */
  cwd?: string;
  /** Default SYSTEM_CONFIG; tests point it elsewhere. */
  systemFile?: string;
  /** Default SHIPPED_CONFIG. */
  shippedFile?: string;
  /** Default existsSync. */
  exists?: (file: string) => boolean;
}

/** The config file to use: -c, then $PEERPOST_CONFIG, then the system file when it exists, then the shipped one. */
export function findConfig(o: FindOptions = {}): FoundConfig {
  const cwd = o.cwd ?? process.cwd();
  if (o.given) return { file: resolve(cwd, o.given), source: 'option' };
  const fromEnv = (o.env ?? process.env).PEERPOST_CONFIG;
  if (fromEnv) return { file: resolve(cwd, fromEnv), source: 'env' };
  const system = o.systemFile ?? SYSTEM_CONFIG;
  if ((o.exists ?? existsSync)(system)) return { file: system, source: 'system' };
  return { file: o.shippedFile ?? SHIPPED_CONFIG, source: 'shipped' };
}

/** Why this file, in words: "given with -c", "from $PEERPOST_CONFIG", ... */
export function describeSource(found: FoundConfig, systemFile = SYSTEM_CONFIG): string {
  switch (found.source) {
    case 'option':
      return 'given with -c';
    case 'env':
      return 'from $PEERPOST_CONFIG';
    case 'system':
      return `${systemFile} exists`;
    case 'shipped':
      return `the default shipped with peerpost: no -c, no $PEERPOST_CONFIG, no ${systemFile}`;
  }
}
