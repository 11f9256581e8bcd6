/**
 * Fake plugin definitions for unit tests of the config loader: schemas and
 * target rules only; start() is never called.
 *
 *   irc    (chat)    account { host, port = 6667, nick, password?, tls = false },
 *                    endpoint keys { nickFormat? }, targets must start with "#", and fold as the real
 *                    plugin's do by default (rfc1459: "#Commons" and "#COMMONS" are one channel)
 *   nntp   (article) account { listen = 127.0.0.1:1119, path? }, no endpoint keys
 *   finger (plan)    account { plan = "" } as a z.object() (not strict: the loader must still refuse unknown keys)
 */
import { definePlugin, z, delivered, listenAddress, type PluginDefinition } from '../../src/plugin.js';
import type { PluginLookup } from '../../src/loader.js';
import { CASE_FOLDS } from '../../plugins/irc/casemap.js';

const noop = () => ({ deliver: async () => delivered() });

export const ircPlugin = definePlugin({
  protocol: 'irc',
  style: 'chat',
  account: z.strictObject({
    host: z.string(),
    port: z.number().int().min(1).max(65535).default(6667),
    nick: z.string(),
    password: z.string().optional(),
    tls: z.boolean().default(false),
  }),
  endpoint: z.strictObject({ nickFormat: z.string().optional() }),
  validateTarget: (t) => (t.startsWith('#') ? undefined : `an IRC target is a channel starting with "#", e.g. #${t}`),
  targetKey: CASE_FOLDS.rfc1459,
  start: noop,
});

export const nntpPlugin = definePlugin({
  protocol: 'nntp',
  style: 'article',
  account: z.strictObject({ listen: listenAddress('127.0.0.1:1119'), path: z.string().optional() }),
  start: noop,
});

export const fingerPlugin = definePlugin({
  protocol: 'finger',
  style: 'plan',
  account: z.object({ plan: z.string().default('') }),
  start: noop,
});

const FAKES: Record<string, PluginDefinition> = { irc: ircPlugin, nntp: nntpPlugin, finger: fingerPlugin };

/** A lookup over the fakes that records how it was called. */
export function fakeLookup(): { lookup: PluginLookup; calls: { protocol: string; module?: string | undefined }[] } {
  const calls: { protocol: string; module?: string | undefined }[] = [];
  const lookup: PluginLookup = async (protocol, module) => {
    calls.push({ protocol, module });
    if (module !== undefined) {
      // A custom module "provides" any protocol, with the nntp schema.
      return { ...nntpPlugin, protocol };
    }
    return (
      FAKES[protocol] ??
      `no plugin for protocol "${protocol}" (shipped: ${Object.keys(FAKES).join(', ')}; name a module for it under plugins:)`
    );
  };
  return { lookup, calls };
}
