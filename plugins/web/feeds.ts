/**
 * Following a bridge or a thread: the Atom feeds /b/NAME/atom (the bridge's newest posts) and /t/ID/atom (the
 * thread's), with the posts as the public sees them; 304 when the reader has the feed already (ETag).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StoredPost } from '../../src/plugin.js';
import { ATOM_TYPE, atomFeed, uuidUrn } from './atom.js';
import { bridgeFeedLink, relLinks, threadFeedLink, threadLink } from './html.js';
import { HttpError, safeDecode, send, SECURITY_HEADERS, type Route } from './http.js';
import type { Site } from './site.js';

export function createFeeds(site: Site): Route {
  const { d, cfg, byName, byBridge, publicView, threadOf } = site;

  /** The newest `n` posts of a bridge that the pages show (no joins and parts), as the public sees them. */
  const newestShown = (bridge: string, n: number): StoredPost[] => {
    const pub = publicView();
    const out: StoredPost[] = [];
    let before: number | undefined;
    for (let round = 0; round < 5 && out.length < n; round++) {
      const batch = d.posts.latest(bridge, { limit: n, ...(before !== undefined ? { before } : {}) });
      for (const p of batch) if (p.kind !== 'event' && out.length < n) out.push(pub(p));
      if (batch.length < n) break;
      before = batch[batch.length - 1]!.seq;
    }
    return out;
  };
  /** An Atom feed of `posts` (newest first); 304 when the reader has it already (ETag). */
  const feed = (
    req: IncomingMessage,
    res: ServerResponse,
    posts: StoredPost[],
    f: { id: string; title: string; subtitle?: string; self: string; alternate: string },
  ) => {
    const policies = new Map(d.bridges().map((b) => [b.name, b.archive.addresses]));
    const policy = [...new Set(posts.map((p) => policies.get(p.bridge) ?? 'obfuscate'))].join(',');
    const newest = posts.reduce((m, p) => Math.max(m, p.seq), 0);
    const etag = `W/"${newest}-${posts.length}-${policy}"`;
    const headers = { 'Cache-Control': 'no-cache', ETag: etag };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ...SECURITY_HEADERS, ...headers });
      return res.end();
    }
    const body = atomFeed({
      ...f,
      site: cfg().title,
      posts,
      nameOf: (p) => byBridge(p.bridge)?.name ?? p.bridge,
      postUrl: d.postUrl,
      threadUrl: (p) => d.siteUrl(relLinks.thread!(p)),
      showEmail: (p) => policies.get(p.bridge) === 'show',
      now: new Date(),
    });
    return send(res, 200, ATOM_TYPE, body, headers);
  };

  return ({ req, res, path, only }) => {
    let m: RegExpExecArray | null;
    if ((m = /^\/b\/([^/]+)\/atom$/.exec(path))) {
      only('GET');
      const s = byName(safeDecode(m[1]!));
      if (!s) throw new HttpError(404, `There is no bridge ${safeDecode(m[1]!)} here.`);
      const view = d.bridges().find((b) => b.name === s.bridge);
      const posts = newestShown(s.bridge, cfg().feedEntries);
      feed(req, res, posts, {
        id: uuidUrn(`bridge:${s.bridge}@${d.hostname}`),
        title: `${s.name} · ${cfg().title}`,
        subtitle: view?.description ?? s.endpoint.description,
        self: d.siteUrl(bridgeFeedLink(s.name)),
        alternate: d.siteUrl(relLinks.archive(s.name)),
      });
      return true;
    }
    if ((m = /^\/t\/(.+)\/atom$/.exec(path))) {
      only('GET');
      const t = threadOf(safeDecode(m[1]!));
      const newest = t.posts.slice(-cfg().feedEntries).reverse();
      const first = t.posts[0]!;
      feed(req, res, newest, {
        id: uuidUrn(`thread:${t.key}`),
        title: `${first.subject ?? `A thread in ${byBridge(first.bridge)!.name}`} · ${cfg().title}`,
        self: d.siteUrl(threadFeedLink(t.key)),
        alternate: d.siteUrl(threadLink(t.key)),
      });
      return true;
    }
    return false;
  };
}
