/**
 * What a plugin sees of the config: an account's endpoints (ctx.endpoints(), a command's accounts) and every
 * bridge with how to join each place (ctx.bridges(), for finger plans and web pages). One mapping each, used by a
 * running account, by the daemon and by the CLI when it runs a plugin's command against the store.
 */
import type { Logger } from 'pino';
import type { PeerpostConfig } from '../config/types.js';
import type { Router } from '../ingest/router.js';
import type { AccountState, BridgeView, EndpointView, PluginDefinition } from '../plugin.js';

/** An account's endpoints in the router's config, as a plugin sees them. */
export function endpointViews(router: Pick<Router, 'endpointsOf' | 'bridge'>, account: string): EndpointView[] {
  return router.endpointsOf(account).map((e) => ({
    key: e.key,
    target: e.target,
    bridge: e.bridge,
    direction: e.direction,
    options: e.options,
    description: router.bridge(e.bridge)?.description ?? '',
    ...(e.shape ? { shape: e.shape } : {}),
  }));
}

/**
 * Every bridge with its endpoints and how to join each (from its plugin's joinHint; one that throws is logged at
 * debug and gives no hint). `stateOf`: the account's state, undefined when it does not run.
 */
export function bridgeViews(
  config: PeerpostConfig,
  defs: ReadonlyMap<string, PluginDefinition>,
  stateOf: (account: string) => AccountState | undefined,
  log?: Pick<Logger, 'debug'>,
): BridgeView[] {
  return Object.values(config.bridges).map((b) => ({
    name: b.name,
    description: b.description,
    endpoints: b.endpoints.map((e) => {
      const def = defs.get(e.protocol);
      const account = config.accounts[e.account];
      let join: string | undefined;
      try {
        join =
          def?.joinHint && account
            ? def.joinHint(e.target, account.settings, { hostname: config.node.hostname })
            : undefined;
      } catch (err) {
        log?.debug({ err, endpoint: e.key }, 'joinHint failed');
      }
      const state = stateOf(e.account);
      return {
        key: e.key,
        account: e.account,
        protocol: e.protocol,
        target: e.target,
        direction: e.direction,
        ...(join ? { join } : {}),
        running: state !== undefined && state !== 'down' && state !== 'stopped',
      };
    }),
    archive: { ...b.archive },
  }));
}
