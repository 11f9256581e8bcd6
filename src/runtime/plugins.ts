/**
 * The plugins of a config and what the core learns from them: each protocol's definition, each account's style,
 * the accounts that echo (a mailing list), and the router built from them. Used by the daemon and the CLI.
 */
import type { PeerpostConfig, Style } from '../config/types.js';
import { Router } from '../ingest/router.js';
import { lookupPlugin, shippedDefinitions, type PluginLookup } from '../loader.js';
import { serviceGaps, serviceGapsNamed, type ServiceGap } from '../services.js';
import type { AccountHandle, PluginDefinition, TargetKey } from '../plugin.js';

/** The plugin definition of every account's protocol (config validation already proved they load). */
export async function pluginsFor(
  config: PeerpostConfig,
  lookup: PluginLookup = lookupPlugin,
): Promise<Map<string, PluginDefinition>> {
  const defs = new Map<string, PluginDefinition>();
  for (const a of Object.values(config.accounts)) {
    if (defs.has(a.protocol)) continue;
    const def = await lookup(a.protocol, config.plugins[a.protocol]);
    if (typeof def === 'string') throw new Error(def);
    defs.set(a.protocol, def);
  }
  return defs;
}

/** Accounts whose plugin delivers a post back to the endpoint it came from (a mailing list). */
export function echoesOf(config: PeerpostConfig, defs: Map<string, PluginDefinition>): Set<string> {
  return new Set(
    Object.values(config.accounts)
      .filter((a) => defs.get(a.protocol)?.echo === true)
      .map((a) => a.name),
  );
}

/**
 * The router for a config and its plugins. `handleOf`: the running account's handle, whose targetKey (learnt from
 * its server) comes before its plugin's.
 */
export function routerFor(
  config: PeerpostConfig,
  defs: Map<string, PluginDefinition>,
  handleOf: (account: string) => AccountHandle | undefined = () => undefined,
): Router {
  const byPlugin = new Map<string, TargetKey>();
  for (const a of Object.values(config.accounts)) {
    const key = defs.get(a.protocol)?.targetKey;
    if (key) byPlugin.set(a.name, key);
  }
  return new Router(
    config,
    stylesOf(config, defs),
    echoesOf(config, defs),
    (account) => handleOf(account)?.targetKey ?? byPlugin.get(account),
  );
}

export function stylesOf(config: PeerpostConfig, defs: Map<string, PluginDefinition>): Map<string, Style> {
  return new Map(Object.values(config.accounts).map((a) => [a.name, defs.get(a.protocol)!.style]));
}

/**
 * The optional services a plugin uses that no account of the config provides (a required one without a provider is
 * a config error already). Said by the daemon at start and by check. `lookup`: name the shipped plugins that would
 * provide each, which loads every shipped plugin — check does; the daemon passes null, so that it holds only the
 * plugins its accounts use (the others cost some 27 MB of memory for the life of the process).
 */
export function serviceGapsOf(
  config: PeerpostConfig,
  defs: Map<string, PluginDefinition>,
  lookup: PluginLookup | null = lookupPlugin,
): Promise<ServiceGap[]> {
  const accounts = Object.values(config.accounts).map((a) => ({ name: a.name, def: defs.get(a.protocol)! }));
  if (lookup === null) return Promise.resolve(serviceGaps(accounts));
  return serviceGapsNamed(accounts, () => shippedDefinitions(lookup));
}
