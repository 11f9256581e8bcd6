/**
 * A stand-in for the web plugin in the mail tests (protocol "webstub"): it
 * provides "web.links" as the web plugin does, and serves the one-click
 * unsubscribe URL over HTTP by calling the mail plugin's services —
 * GET /unsubscribe/TOKEN → info(), POST → unsubscribe() of `mail.unsubscribe` —
 * answering with their result as JSON.
 */
import { createServer } from 'node:http';
import { definePlugin, z, delivered, listenAddress } from '../../src/plugin.js';

const BASE = 'https://web.test.example';

export default definePlugin({
  protocol: 'webstub',
  style: 'feed',
  account: z.strictObject({ listen: listenAddress('127.0.0.1:0') }),
  provides: ['web.links'],
  uses: [{ service: 'mail.unsubscribe', optional: true, without: '/unsubscribe answers 503' }],
  async start(ctx) {
    ctx.provide('web.links', () => ({
      archive: (bridge: string) => `${BASE}/${bridge}`,
      post: (id: string) => `${BASE}/p/${encodeURIComponent(id)}`,
      unsubscribe: (token: string) => `${BASE}/unsubscribe/${token}`,
      attachment: () => undefined,
      preferences: () => undefined,
    }));
    const server = createServer((req, res) => {
      const m = /^\/unsubscribe\/([^/?]+)$/.exec(req.url ?? '');
      if (!m) return void res.writeHead(404).end();
      const post = req.method === 'POST';
      const svc = ctx.service('mail.unsubscribe');
      if (!svc) return void res.writeHead(503).end('no mail.unsubscribe');
      req.resume();
      req.on('end', () => {
        const token = decodeURIComponent(m[1]!);
        Promise.resolve(post ? svc.unsubscribe(token) : svc.info(token)).then(
          (r) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(r)),
          (e: Error) => res.writeHead(500).end(e.message),
        );
      });
    });
    const at = await ctx.listen(server, ctx.config.listen);
    ctx.setState('listening', `127.0.0.1:${at.port}`);
    return { deliver: async () => delivered() };
  },
});
