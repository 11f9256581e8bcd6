/**
 * The nntp plugin: every bridge a newsgroup. Two kinds of account:
 *
 *   accounts:
 *     nntp.local: { listen: 127.0.0.1:1119 }        # the built-in news server (local.ts)
 *     nntp.inn:   { server: news.example.org:119 }  # peering with a news server (peer.ts)
 *   bridges:
 *     commons:
 *       endpoints: [irc.libera/#commons, nntp.local/peerpost.commons, nntp.inn/peerpost.commons]
 *
 * See plugins/nntp/README.md.
 */
import { definePlugin, formatAddress, type PluginContext } from '../../src/plugin.js';
import { startLocal } from './local.js';
import { startPeer } from './peer.js';
import { account, isServerConfig, type Config, type ListenConfig, type ServerConfig } from './schema.js';
import { groupProblem } from './text.js';
import { importers } from './import.js';

export { checkPassword, hashPassword } from './local.js';

export default definePlugin<Config>({
  protocol: 'nntp',
  style: 'article',
  summary:
    'news (RFC 3977): every bridge a newsgroup on the built-in news server, and peering with news servers such as INN',
  account,
  validateTarget: groupProblem,
  importers,
  uses: [
    {
      service: 'web.links',
      optional: true,
      without: 'articles name the attachments of mail posts without a download link',
    },
  ],
  joinHint: (target, config) => {
    if (isServerConfig(config)) {
      return `${target} on news://${formatAddress(config.address.host, config.address.port)}`;
    }
    const h = config.listen.host;
    // An any-address listener: the reader fills in the host it reaches.
    return `news://${formatAddress(h === '0.0.0.0' || h === '::' ? 'HOST' : h, config.listen.port)}/${target}`;
  },
  // A peering account (its server: key) connects out and runs once; the built-in server listens in every process.
  singleHolder: (config) => isServerConfig(config),
  start(ctx: PluginContext<Config>) {
    return isServerConfig(ctx.config)
      ? startPeer(ctx as PluginContext<ServerConfig>)
      : startLocal(ctx as PluginContext<ListenConfig>);
  },
});
