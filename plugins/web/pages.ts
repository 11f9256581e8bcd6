/**
 * The archive's pages: the index (/), a bridge's archive paged by cursor (/b/NAME), the search page (/search), a
 * post (/p/ID) and a whole thread (/t/ID), every post as the public sees it; and the static files the pages use.
 */
import { ICON_SVG, LIVE_JS, STYLE_CSS } from './assets.js';
import { archivePage, indexPage, postPage, relLinks } from './html.js';
import { cursor, html, HttpError, safeDecode, send, type Route } from './http.js';
import { BadSearch, searchPage, searchParams, webSearch } from './search.js';
import type { Site } from './site.js';
import { threadPage } from './thread.js';

export function createPages(site: Site): Route {
  const { d, cfg, served, byName, byBridge, gone, publicView, threadOf, pageLinks, summaries } = site;

  return ({ res, url, path, only }) => {
    if (path === '/') {
      only('GET');
      html(res, 200, indexPage(cfg().title, summaries(), relLinks));
      return true;
    }
    if (path === '/static/style.css') {
      only('GET');
      send(res, 200, 'text/css; charset=utf-8', STYLE_CSS, { 'Cache-Control': 'max-age=300' });
      return true;
    }
    if (path === '/static/icon.svg' || path === '/favicon.ico') {
      only('GET');
      send(res, 200, 'image/svg+xml', ICON_SVG, { 'Cache-Control': 'max-age=86400' });
      return true;
    }
    if (path === '/static/live.js') {
      only('GET');
      send(res, 200, 'text/javascript; charset=utf-8', LIVE_JS, { 'Cache-Control': 'max-age=300' });
      return true;
    }
    let m: RegExpExecArray | null;
    if ((m = /^\/b\/([^/]+)\/?$/.exec(path))) {
      only('GET');
      const s = byName(safeDecode(m[1]!));
      if (!s) throw new HttpError(404, `There is no bridge ${safeDecode(m[1]!)} here.`);
      const before = cursor(url.searchParams.get('before'), 'before');
      const size = cfg().pageSize;
      const posts = d.posts.latest(s.bridge, { limit: size, ...(before !== undefined ? { before } : {}) });
      const oldest = posts[posts.length - 1]?.seq;
      const older =
        posts.length === size && oldest !== undefined && d.posts.latest(s.bridge, { limit: 1, before: oldest }).length
          ? oldest
          : undefined;
      const view = d.bridges().find((b) => b.name === s.bridge);
      html(
        res,
        200,
        archivePage(
          {
            site: cfg().title,
            name: s.name,
            description: view?.description ?? s.endpoint.description,
            posts: posts.filter((p) => p.kind !== 'event').map(publicView()),
            total: d.posts.count(s.bridge),
            ...(before !== undefined ? { before } : {}),
            ...(older !== undefined ? { older } : {}),
            join: (view?.endpoints ?? [])
              .filter((e) => e.account !== s.endpoint.key.split('/')[0])
              .map((e) => ({ protocol: e.protocol, key: e.key, ...(e.join ? { join: e.join } : {}) })),
          },
          pageLinks,
        ),
      );
      return true;
    }
    if (path === '/search') {
      only('GET');
      const sp = searchParams(url);
      if (!sp.q.trim()) {
        html(res, 200, searchPage(cfg().title, sp, pageLinks));
        return true;
      }
      try {
        const r = webSearch(d.posts, served(), d.bridges(), sp);
        html(res, 200, searchPage(cfg().title, sp, pageLinks, r, undefined, url.searchParams.get('prev') ?? undefined));
      } catch (e) {
        if (!(e instanceof BadSearch)) throw e;
        html(res, 400, searchPage(cfg().title, sp, pageLinks, undefined, e.message));
      }
      return true;
    }
    if ((m = /^\/p\/(.+)$/.exec(path))) {
      only('GET');
      const p = d.posts.get(safeDecode(m[1]!));
      const s = p && byBridge(p.bridge);
      if (!p) gone(safeDecode(m[1]!));
      if (!p || !s) throw new HttpError(404, 'There is no such post here.');
      const parentId = p.inReplyTo ?? p.references[p.references.length - 1];
      const parent = parentId ? d.posts.get(parentId) : undefined;
      const pub = publicView();
      html(
        res,
        200,
        postPage(
          cfg().title,
          s.name,
          pub(p),
          pageLinks,
          parent && parent.bridge === p.bridge ? pub(parent) : undefined,
        ),
      );
      return true;
    }
    // /t/ID comes last: its (.+) takes anything (the app tries /t/ID/atom and /t/ID.mbox.gz before).
    if ((m = /^\/t\/(.+)$/.exec(path))) {
      only('GET');
      const t = threadOf(safeDecode(m[1]!));
      html(
        res,
        200,
        threadPage(
          { site: cfg().title, key: t.key, posts: t.posts, nameOf: (p) => byBridge(p.bridge)?.name ?? p.bridge },
          pageLinks,
        ),
      );
      return true;
    }
    return false;
  };
}
