/**
 * The irc plugin: IRC channels on any number of networks (irc-framework), relayed
 * both ways. This file is the definition only: the schema, the style, how a channel
 * name is folded, what it uses; each account is an IrcAccount (account.ts), its
 * channels Channel models (channel.ts), and the modules beside them are pure (text,
 * render, events, casemap, bucket, confirm, relay). See plugins/irc/README.md,
 * "Code layout".
 */
import { definePlugin, formatAddress } from '../../src/plugin.js';
import { IrcAccount } from './account.js';
import { CASE_FOLDS } from './casemap.js';
import { accountSchema, channelProblem, endpointSchema, type IrcConfig } from './schema.js';
export { accountSchema, endpointSchema, channelProblem, type IrcConfig } from './schema.js';
export { escapeTag } from './render.js';

export default definePlugin<IrcConfig>({
  protocol: 'irc',
  style: 'chat',
  summary: 'IRC channels on any number of networks (irc-framework)',
  account: accountSchema,
  endpoint: endpointSchema,
  validateTarget: channelProblem,
  // A connection to a network: with several processes on one database, it runs in the holder of its lease only.
  singleHolder: () => true,
  uses: [
    {
      service: 'web.links',
      optional: true,
      without: 'a long post cut short in a channel says how many lines are left out, without a link to the rest',
    },
  ],
  // Before a connection says otherwise (its ISUPPORT CASEMAPPING: the handle's targetKey), channels fold as rfc1459.
  targetKey: CASE_FOLDS.rfc1459,
  joinHint: (target, config) =>
    `${target} on ${formatAddress(config.host, config.port ?? (config.tls === false ? 6667 : 6697))}${config.tls === false ? '' : ' (TLS)'}`,
  start(ctx) {
    const account = new IrcAccount(ctx);
    ctx.onClose(() => account.stop());
    ctx.signal.addEventListener('abort', () => void account.stop(), { once: true });
    account.start();
    return {
      deliver: (post, to) => account.deliver(post, to),
      sayFirst: (post, to) => account.sayFirst(post, to),
      get deliveryWindow() {
        return account.window;
      },
      get targetKey() {
        return account.targetKey;
      },
      endpointsChanged: () => account.endpointsChanged(),
      async reload(next) {
        const parsed = accountSchema.safeParse(next);
        return parsed.success ? account.reload(parsed.data) : 'restart';
      },
    };
  },
});
