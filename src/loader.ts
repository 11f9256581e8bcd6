/**
 * Finds the plugin for a protocol: plugins/<protocol>/index.js shipped with
 * peerpost, or the module a config names under `plugins:` (a path or a package).
 * The core never imports a plugin by name; it loads what the config names.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import type { PluginDefinition } from './plugin.js';
import { STYLES } from './config/types.js';
import { declarationProblem } from './services.js';

const PLUGINS_DIR = fileURLToPath(new URL('../plugins/', import.meta.url));

/** Protocols shipped in plugins/. */
export function shippedProtocols(): string[] {
  if (!existsSync(PLUGINS_DIR)) return [];
  return readdirSync(PLUGINS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(`${PLUGINS_DIR}${d.name}/index.js`))
    .map((d) => d.name)
    .sort();
}

/** The definitions of the shipped plugins that load (to name which plugin provides a missing service). */
export async function shippedDefinitions(lookup: PluginLookup = lookupPlugin): Promise<PluginDefinition[]> {
  const defs: PluginDefinition[] = [];
  for (const protocol of shippedProtocols()) {
    const def = await lookup(protocol);
    if (typeof def !== 'string') defs.push(def);
  }
  return defs;
}

export type PluginLookup = (protocol: string, customModule?: string) => Promise<PluginDefinition | string>;

const cache = new Map<string, Promise<PluginDefinition | string>>();

/** Load and check a plugin; a string is a message saying why it cannot be used. */
export const lookupPlugin: PluginLookup = (protocol, customModule) => {
  const key = `${protocol}\0${customModule ?? ''}`;
  let p = cache.get(key);
  if (!p) {
    p = load(protocol, customModule);
    cache.set(key, p);
  }
  return p;
};

async function load(protocol: string, customModule?: string): Promise<PluginDefinition | string> {
  let spec: string;
  if (customModule !== undefined) {
    spec = isAbsolute(customModule) ? pathToFileURL(customModule).href : customModule;
  } else {
    if (!/^[a-z][a-z0-9-]*$/.test(protocol)) return `"${protocol}" is not a protocol name`;
    const file = `${PLUGINS_DIR}${protocol}/index.js`;
    if (!existsSync(file)) {
      const known = shippedProtocols();
      return `no plugin for protocol "${protocol}" (shipped: ${known.length ? known.join(', ') : 'none yet'}; name a module for it under plugins:)`;
    }
    spec = pathToFileURL(file).href;
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(spec)) as { default?: unknown };
  } catch (err) {
    return `the plugin module for "${protocol}" (${customModule ?? spec}) could not be loaded: ${(err as Error).message}`;
  }
  const def = mod.default as Partial<PluginDefinition> | undefined;
  const what = `the plugin module for "${protocol}" (${customModule ?? spec})`;
  if (!def || typeof def !== 'object') return `${what} has no default export (expected definePlugin({...}))`;
  if (def.protocol !== protocol) return `${what} declares protocol "${String(def.protocol)}", not "${protocol}"`;
  if (!STYLES.includes(def.style as never))
    return `${what} declares no valid style (expected one of ${STYLES.join(', ')})`;
  if (typeof (def.account as { safeParse?: unknown } | undefined)?.safeParse !== 'function')
    return `${what} has no account schema`;
  if (typeof def.start !== 'function') return `${what} has no start() function`;
  const services = declarationProblem(def);
  if (services) return `${what} cannot be used: ${services}`;
  return def as PluginDefinition;
}
