/**
 * The web plugin (style `feed`): a live page per bridge, the archive, a JSON and
 * WebSocket API, health and metrics. See plugins/web/README.md.
 *
 *   accounts:
 *     web.local: { listen: 127.0.0.1:8080, publicUrl: https://lists.example.org }
 *   bridges:
 *     commons:
 *       endpoints: [irc.libera/#commons, web.local/commons]   # /b/commons
 *
 * The web serves the bridges that name an endpoint of its account; the target
 * is the bridge's name on the web. The archive is the store itself, so a
 * delivery to a web endpoint has nothing left to do; live clients get each
 * post from ctx.onPost, right after it is committed.
 */
import { createServer } from 'node:http';
import { definePlugin, delivered, formatAddress, reloadPlan, type PluginContext } from '../../src/plugin.js';
import { createApp } from './app.js';
import { fileLink } from './site.js';
import { account, endpoint, targetProblem, type Config } from './schema.js';
import { Tokens } from './tokens.js';
import { OwnerAuth } from './owners.js';
import type { WebLinks } from './services.js';

export type { WebLinks } from './services.js';

/** http://HOST:PORT as people reach a listener (an any-address listener is reached by the node's hostname). */
export function defaultPublicUrl(host: string, port: number, hostname: string): string {
  const h = host === '0.0.0.0' || host === '::' ? hostname : host;
  return `http://${formatAddress(h, port)}`;
}

export default definePlugin<Config>({
  protocol: 'web',
  style: 'feed',
  summary: 'the web: a live page per bridge, the archive, a JSON and WebSocket API, health and metrics',
  account,
  endpoint,
  validateTarget: targetProblem,
  provides: ['web.links'],
  uses: [
    {
      service: 'mail.unsubscribe',
      optional: true,
      without: 'one-click unsubscribe links (/unsubscribe/…) answer 503, "the mailing lists are not running"',
    },
    { service: 'mail.attachments', optional: true, without: 'pages name attachments but offer no download' },
    {
      service: 'mail.lists',
      optional: true,
      without: "the mailing lists' pages (/l/LIST, their subscribe form and owner page) answer 503",
    },
    {
      service: 'mail.moderation',
      optional: true,
      without: 'the owner pages of the mailing lists (/l/LIST/owner) answer 503',
    },
    {
      service: 'mail.preferences',
      optional: true,
      without: "members' preferences pages (/l/LIST/prefs, the footer's settings link) answer 503",
    },
  ],
  joinHint: (target, config, node) =>
    `${config.publicUrl ?? defaultPublicUrl(config.listen.host, config.listen.port, node.hostname)}/b/${encodeURIComponent(target)}`,
  // Posts come in from the web only with a token that may post to the bridge (the API and the stream).
  noInput: (e, config) =>
    config.tokens.length === 0
      ? `posting from the web is off: no token in accounts.${e.key.slice(0, e.key.indexOf('/'))}.tokens`
      : config.tokens.some((t) => t.bridges.includes('*') || t.bridges.includes(e.bridge))
        ? undefined
        : `no token in accounts.${e.key.slice(0, e.key.indexOf('/'))}.tokens may post to bridge ${e.bridge}`,
  async start(ctx: PluginContext<Config>) {
    let cfg = ctx.config;
    let base = cfg.publicUrl ?? defaultPublicUrl(cfg.listen.host, cfg.listen.port, ctx.node.hostname);
    const postUrl = (id: string) => `${base}/p/${encodeURIComponent(id)}`;

    const app = createApp({
      config: () => cfg,
      log: ctx.log,
      posts: ctx.posts,
      endpoints: () => ctx.endpoints(),
      bridges: () => ctx.bridges(),
      status: () => ctx.status(),
      metrics: () => ctx.metrics(),
      storeWritable: () => ctx.storeWritable(),
      services: {
        unsubscribe: () => ctx.service('mail.unsubscribe'),
        attachments: () => ctx.service('mail.attachments'),
        lists: () => ctx.service('mail.lists'),
        moderation: () => ctx.service('mail.moderation'),
        preferences: () => ctx.service('mail.preferences'),
      },
      auth: new OwnerAuth(ctx.store, ctx.secret('owner-login')),
      prefsFormKey: ctx.secret('prefs-form'),
      remove: (ids, reason) => ctx.remove(ids, reason, 'removed'),
      ingest: (p) => ctx.ingest(p),
      postUrl,
      siteUrl: (path) => `${base}${path}`,
      hostname: ctx.node.hostname,
    });
    // Every post of the archive, whichever process on the database took it in: the live stream of a browser
    // connected here shows what arrived through the other processes too, in seq order (plugins/web/README.md).
    ctx.onPost((p) => app.onPost(p), { fromOtherProcesses: true });
    // So are removals: a post another process removed leaves the browsers connected here too.
    ctx.onRemoved((r) => app.onRemoved(r), { fromOtherProcesses: true });

    const server = createServer(
      {
        requestTimeout: cfg.requestTimeout,
        headersTimeout: Math.min(cfg.requestTimeout, 20_000),
        maxHeaderSize: 16 * 1024,
      },
      app.onRequest,
    );
    server.on('upgrade', app.onUpgrade);
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    const at = await ctx.listen(server, cfg.listen);
    // Registered after listen() so that it runs before the listener closes (close hooks run in reverse):
    // stream clients get 1001 at once, and the server does not wait on their sockets.
    ctx.onClose(() => app.close());
    if (!cfg.publicUrl) base = defaultPublicUrl(cfg.listen.host, at.port, ctx.node.hostname);
    const where = formatAddress(cfg.listen.host, at.port);
    ctx.setState('listening', where);
    if (cfg.tokens.length === 0)
      ctx.log.info(`posting from the web is off (no token in accounts.${ctx.account}.tokens)`);

    const links = (): WebLinks => ({
      archive: (bridge) => {
        const e = ctx.endpoints().find((x) => x.bridge === bridge);
        return e ? `${base}/b/${encodeURIComponent(e.target)}` : undefined;
      },
      post: postUrl,
      unsubscribe: (token) => `${base}/unsubscribe/${encodeURIComponent(token)}`,
      preferences: (bridge, list, token) =>
        ctx.endpoints().some((e) => e.bridge === bridge)
          ? `${base}/l/${encodeURIComponent(list)}/prefs?t=${encodeURIComponent(token)}`
          : undefined,
      attachment: (postId, n) => {
        const p = ctx.posts.get(postId);
        if (!p || !ctx.endpoints().some((e) => e.bridge === p.bridge)) return undefined;
        const f = ctx
          .service('mail.attachments')
          ?.kept(postId)
          .find((k) => k.n === n);
        return f ? `${base}${fileLink(postId, f)}` : undefined;
      },
    });
    try {
      ctx.provide('web.links', links);
    } catch (err) {
      // One provider per name: with two web accounts, the first one started makes the links.
      ctx.log.warn(
        `${ctx.account} does not provide web.links (${(err as Error).message}); links in mail and IRC point to the web account that does`,
      );
    }

    return {
      async reload(next) {
        // The core hands over the block already validated (durations in ms, listen as { host, port }).
        const n = next as Config;
        // The listener and the stream's limits are fixed when they are made.
        if (reloadPlan(cfg, n, { restartOn: ['listen', 'stream', 'requestTimeout'] }) === 'restart') return 'restart';
        cfg = n;
        base = cfg.publicUrl ?? defaultPublicUrl(cfg.listen.host, at.port, ctx.node.hostname);
        app.setTokens(new Tokens(cfg.tokens));
        return 'applied';
      },
      endpointsChanged() {
        app.endpointsChanged();
      },
      // The archive is the store: a post delivered here is already on the pages, and live clients had it from onPost.
      async deliver() {
        return delivered();
      },
    };
  },
});
