/**
 * The HTTP side of the web plugin, put together: createApp builds the routes of the other modules and dispatches
 * each request to them in order (CORS preflight first, 404 last), answers what a route throws as an error page or
 * as JSON, and hands WebSocket upgrades to the stream (live.ts). Plain node:http; every response carries the
 * security headers of http.ts.
 *
 * The routes: operator.ts (/status, /healthz, /metrics), mbox.ts (/b/NAME.mbox.gz, /t/ID.mbox.gz), feeds.ts
 * (/b/NAME/atom, /t/ID/atom), pages.ts (/, /static/…, /b/NAME, /search, /p/ID, /t/ID), files.ts (/files/…),
 * unsubscribe.ts (/unsubscribe/TOKEN), lists.ts (/l/…), api.ts (/api/…); what they share is site.ts's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RemovedPost, StoredPost } from '../../src/plugin.js';
import { createApi } from './api.js';
import { createFeeds } from './feeds.js';
import { createFiles } from './files.js';
import { html, HttpError, json, SECURITY_HEADERS, type Exchange, type Route } from './http.js';
import { createListPages } from './lists.js';
import { createLive } from './live.js';
import { createMbox } from './mbox.js';
import { createOperatorRoutes } from './operator.js';
import { createPages } from './pages.js';
import { processMonitor } from './process.js';
import { createSite, type AppDeps } from './site.js';
import { Tokens } from './tokens.js';
import { createUnsubscribe } from './unsubscribe.js';

// Kept importable from here, where they were before the routes moved out: the unit tests import them.
export { healthReport } from './operator.js';
export { fileLink, postJson } from './site.js';

export function createApp(d: AppDeps) {
  const proc = processMonitor();
  let tokens = new Tokens(d.config().tokens);
  const site = createSite(d);
  const { cfg, byBridge, allowedOrigin, errorPage } = site;
  const live = createLive(site, () => tokens);
  const { stream, onUpgrade } = live;

  const listPages = createListPages({
    config: cfg,
    log: d.log,
    lists: () => d.services.lists(),
    moderation: () => d.services.moderation(),
    preferences: () => d.services.preferences(),
    served: site.served,
    auth: d.auth,
    prefsFormKey: d.prefsFormKey,
    status: () => d.status(),
    posts: d.posts,
    remove: (ids, reason) => d.remove(ids, reason),
    origin: () => new URL(d.siteUrl('/')).origin,
    html,
    readBody: site.readBody,
    fail: (status, message, headers) => new HttpError(status, message, headers),
  });

  // ---- routes ----
  // Tried in this order. The downloads come before the pages: /b/NAME would take "commons.mbox.gz" as a name,
  // /t/ID an id; and so do the feeds (/b/NAME/atom, /t/ID/atom). A Message-ID may hold "/", "@", "+"…, so it is
  // matched encoded (encodeURIComponent, as every link here writes it: "/" is %2F) and decoded after.
  const routes: Route[] = [
    createOperatorRoutes(site, stream, proc),
    createMbox(site),
    createFeeds(site),
    createPages(site),
    createFiles(site),
    createUnsubscribe(site),
    ({ req, res, url, path }) => (path === '/l' || path.startsWith('/l/')) && listPages.handle(req, res, url),
    createApi(site, () => tokens),
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const isApi = path === '/api' || path.startsWith('/api/');
    const origin = req.headers.origin;
    const cors: Record<string, string> =
      isApi && allowedOrigin(origin)
        ? { 'Access-Control-Allow-Origin': origin!, Vary: 'Origin' }
        : isApi
          ? { Vary: 'Origin' }
          : {};
    const get = method === 'GET' || method === 'HEAD';
    const only = (...methods: string[]) => {
      if (!methods.includes(method) && !(method === 'HEAD' && methods.includes('GET')))
        throw new HttpError(405, `${method} is not allowed here (only ${methods.join(', ')})`, {
          Allow: methods.join(', '),
        });
    };

    if (method === 'OPTIONS') {
      if (isApi && allowedOrigin(origin)) {
        res.writeHead(204, {
          ...SECURITY_HEADERS,
          ...cors,
          'Access-Control-Allow-Methods': 'GET, POST',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type',
          'Access-Control-Max-Age': '600',
        });
        return res.end();
      }
      throw new HttpError(403, 'cross-origin requests are not allowed from this origin (see corsOrigins)');
    }

    const x: Exchange = { req, res, url, path, method, get, isApi, cors, only };
    for (const route of routes) {
      const hit = route(x);
      if (typeof hit === 'boolean' ? hit : await hit) return;
    }
    throw new HttpError(
      404,
      isApi ? `no such API path: ${path} (GET /api lists them)` : 'There is no such page here.',
      cors,
    );
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: Error) => {
      const isApi = /^\/api(\/|\?|$)/.test(req.url ?? '');
      const e =
        err instanceof HttpError
          ? err
          : new HttpError(500, 'something went wrong on our side; nothing was kept; try again');
      if (!(err instanceof HttpError)) d.log.error({ err, url: req.url }, `web request failed: ${err.message}`);
      if (res.headersSent) return res.destroy();
      const close: Record<string, string> = e.status === 413 ? { Connection: 'close' } : {};
      if (isApi || req.url === '/healthz' || req.url === '/metrics')
        json(res, e.status, { error: e.message }, { ...e.headers, ...close });
      else
        errorPage(
          res,
          e.status,
          e.status === 404 ? 'Not found' : e.status === 410 ? 'Gone' : `Error ${e.status}`,
          e.message,
          {
            ...e.headers,
            ...close,
          },
        );
    });
  };

  return {
    onRequest,
    onUpgrade,
    stream,
    onPost: (p: StoredPost) => stream.onPost(p),
    onRemoved: (removed: readonly RemovedPost[]) => stream.onRemoved(removed.filter((r) => byBridge(r.bridge))),
    setTokens: (t: Tokens) => (tokens = t),
    endpointsChanged: () => stream.prune((bridge) => byBridge(bridge) !== undefined),
    async close() {
      proc.stop();
      listPages.close();
      await live.close();
    },
  };
}
