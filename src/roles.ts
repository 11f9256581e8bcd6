/**
 * What an endpoint really does, for `peerpost check`: its direction allows posts in and out, and its plugin
 * may know that nothing ever comes in through it (a served finger plan, a web page nobody may post from).
 */
import type { AccountConfig, EndpointConfig } from './config/types.js';
import type { PluginDefinition } from './plugin.js';

export interface EndpointRole {
  /** What arrives through it feeds the bridge. */
  feeds: boolean;
  /** It receives the bridge's posts. */
  receives: boolean;
  /** Why it feeds nothing although its direction allows it (the plugin's words). */
  why?: string;
}

export function endpointRole(
  e: EndpointConfig,
  plugin: PluginDefinition | undefined,
  account: AccountConfig | undefined,
): EndpointRole {
  const receives = e.direction !== 'in';
  if (e.direction === 'out') return { feeds: false, receives };
  let why: string | undefined;
  try {
    why = account ? plugin?.noInput?.(e, account.settings) : undefined;
  } catch (err) {
    why = `the ${e.protocol} plugin could not say whether posts come in here: ${(err as Error).message}`;
  }
  return why ? { feeds: false, receives, why } : { feeds: true, receives };
}

/** "in + out", "in only", "out only", "nothing": eight characters wide, for a column. */
export function roleWords(r: EndpointRole): string {
  const w = r.feeds ? (r.receives ? 'in + out' : 'in only') : r.receives ? 'out only' : 'nothing';
  return w.padEnd(8);
}
