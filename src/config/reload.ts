/**
 * What a config reload changed in one account's block, and whether the account
 * can take it in place. Every plugin's reload() asks this (through the plugin
 * API) instead of comparing keys itself; the plugin names the keys that are
 * fixed while the account runs (a listener's address, a connection's server),
 * or the keys it can apply in place.
 */
import type { NodeConfig } from './types.js';

/** Values compared as the config gives them: key order does not matter, a pattern by its source and flags. */
function canonical(v: unknown): unknown {
  if (v instanceof RegExp) return `/${v.source}/${v.flags}`;
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** Two config values are the same (deeply; undefined and a missing key are the same). */
export function sameSetting(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** The top-level keys whose values differ between two blocks (in the order of next, then keys only prev has). */
export function changedKeys<T extends object>(prev: T, next: T): (keyof T & string)[] {
  const keys = [...new Set([...Object.keys(next), ...Object.keys(prev)])] as (keyof T & string)[];
  return keys.filter((k) => !sameSetting(prev[k], next[k]));
}

/**
 * A plugin's reload() answer for a new block: 'restart' when a key that is fixed while the account runs changed,
 * else 'applied' (the plugin then takes the new block). Name the fixed keys (`restartOn`), or the keys the plugin
 * applies in place (`inPlace`: a change to any other key restarts, the safer choice for a new key).
 */
export function reloadPlan<T extends object>(
  prev: T,
  next: T,
  rule: { restartOn: readonly (keyof T)[] } | { inPlace: readonly (keyof T)[] },
): 'applied' | 'restart' {
  const changed = changedKeys(prev, next);
  const restarts =
    'restartOn' in rule
      ? changed.some((k) => rule.restartOn.includes(k))
      : changed.some((k) => !rule.inPlace.includes(k));
  return restarts ? 'restart' : 'applied';
}

/** The node keys that changed and that a reload cannot apply (the store, the node's name, the durability). */
export function nodeChanges(running: NodeConfig, next: NodeConfig): ('data' | 'hostname' | 'durability')[] {
  return (['data', 'hostname', 'durability'] as const).filter((key) => next[key] !== running[key]);
}
