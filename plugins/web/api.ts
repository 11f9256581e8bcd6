/**
 * The JSON API: /api (its index, api-index.ts), /api/bridges, a bridge's posts (GET, paged by cursor; POST with a
 * token), /api/search and /api/posts/ID. Addresses as the pages show them, or real to a token that may post to the
 * post's bridge. The stream (/api/stream) is live.ts's.
 */
import type { IncomingMessage } from 'node:http';
import type { StoredPost } from '../../src/plugin.js';
import { apiIndex } from './api-index.js';
import { cursor, HttpError, json, safeDecode, type Route } from './http.js';
import { parsePostInput, webPost } from './posting.js';
import { BadSearch, searchLimit, searchParams, webSearch } from './search.js';
import type { Site } from './site.js';
import { mayPost, type Tokens } from './tokens.js';

export function createApi(site: Site, tokens: () => Tokens): Route {
  const { d, cfg, served, byName, byBridge, gone, toJson, publicView, summaries, readBody } = site;

  /**
   * How the API shows a post to a request: with its real addresses to a token that may post to the post's
   * bridge, else as the public sees it. A token that is not valid is refused (401), not taken for none.
   */
  const apiView = (req: IncomingMessage, cors: Record<string, string>): ((p: StoredPost) => StoredPost) => {
    const pub = publicView();
    if (req.headers.authorization === undefined) return pub;
    const grant = tokens().fromHeader(req.headers.authorization);
    if ('problem' in grant)
      throw new HttpError(401, `${grant.problem} (without a token, the API shows addresses as the pages do)`, {
        ...cors,
        'WWW-Authenticate': 'Bearer realm="peerpost"',
      });
    return (p) => (mayPost(grant, p.bridge) ? p : pub(p));
  };

  return async ({ req, res, url, path, get, cors, only }) => {
    if (path === '/api' || path === '/api/') {
      only('GET');
      json(res, 200, apiIndex(tokens().enabled), cors);
      return true;
    }
    if (path === '/api/bridges') {
      only('GET');
      json(res, 200, { bridges: summaries() }, cors);
      return true;
    }
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/bridges\/([^/]+)\/posts$/.exec(path))) {
      const s = byName(safeDecode(m[1]!));
      if (get) {
        only('GET');
        if (!s) throw new HttpError(404, `no bridge ${safeDecode(m[1]!)} here`, cors);
        const before = cursor(url.searchParams.get('before'), 'before');
        const limitText = url.searchParams.get('limit');
        const limit = limitText === null ? cfg().pageSize : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          throw new HttpError(400, 'limit must be a whole number from 1 to 500', cors);
        const view = apiView(req, cors);
        const posts = d.posts.latest(s.bridge, { limit, ...(before !== undefined ? { before } : {}) });
        const oldest = posts[posts.length - 1]?.seq;
        json(
          res,
          200,
          {
            bridge: s.name,
            posts: posts.map((p) => toJson(view(p))),
            next: posts.length === limit && oldest !== undefined ? oldest : null,
          },
          cors,
        );
        return true;
      }
      only('GET', 'POST');
      if (!tokens().enabled)
        throw new HttpError(
          403,
          'posting from the web is off: no token is configured (see tokens in plugins/web/README.md)',
          cors,
        );
      const grant = tokens().fromHeader(req.headers.authorization);
      if ('problem' in grant)
        throw new HttpError(401, grant.problem, { ...cors, 'WWW-Authenticate': 'Bearer realm="peerpost"' });
      if (!s) throw new HttpError(404, `no bridge ${safeDecode(m[1]!)} here`, cors);
      const type = String(req.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (type !== 'application/json')
        throw new HttpError(415, 'send the post as application/json: {"body": "…", "subject": "…"}', cors);
      const raw = await readBody(req);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, 'the body is not valid JSON', cors);
      }
      const input = parsePostInput(parsed);
      if (typeof input === 'string') throw new HttpError(400, input, cors);
      const a = await webPost(d, grant, s, input);
      json(res, a.status, a.body, a.status === 503 ? { ...cors, 'Retry-After': '5' } : cors);
      return true;
    }
    if (path === '/api/search') {
      only('GET');
      try {
        const sp = {
          ...searchParams(url),
          ...(() => {
            const l = searchLimit(url.searchParams.get('limit'));
            return l !== undefined ? { limit: l } : {};
          })(),
        };
        const r = webSearch(d.posts, served(), d.bridges(), sp);
        json(
          res,
          200,
          {
            results: r.hits.map((h) => ({
              ...toJson(h.post),
              score: h.score,
              snippet: h.snippet,
              highlight: { subject: h.subjectHtml, snippet: h.snippetHtml },
            })),
            next: r.next ?? null,
          },
          cors,
        );
        return true;
      } catch (e) {
        if (e instanceof BadSearch) throw new HttpError(400, e.message, cors);
        throw e;
      }
    }
    if ((m = /^\/api\/posts\/(.+)$/.exec(path))) {
      only('GET');
      const p = d.posts.get(safeDecode(m[1]!));
      if (!p) gone(safeDecode(m[1]!), cors);
      if (!p || !byBridge(p.bridge)) throw new HttpError(404, 'no such post here', cors);
      json(res, 200, toJson(apiView(req, cors)(p)), cors);
      return true;
    }
    return false;
  };
}
