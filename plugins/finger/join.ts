/**
 * "Where to join" a bridge: its other endpoints that people can read, each as
 * its own plugin describes it (joinHint), from ctx.bridges().
 */
import type { BridgeView } from '../../src/plugin.js';

/**
 * The join lines of a bridge: every endpoint of another account that runs and
 * that receives (not `in` only), as "irc     #commons on irc.libera.chat".
 */
export function joinLines(bridge: BridgeView | undefined, self: string): string[] {
  if (!bridge) return [];
  return bridge.endpoints
    .filter((e) => e.account !== self && e.direction !== 'in' && e.running)
    .map((e) => `${e.protocol.padEnd(7)} ${e.join ?? e.key}`);
}

/** How to finger a served plan: "commons@host" (with the port when it is not 79). */
export function fingerAddress(target: string, hostname: string, port: number): string {
  return port === 79 ? `finger ${target}@${hostname}` : `finger ${target}@${hostname} (port ${port})`;
}
