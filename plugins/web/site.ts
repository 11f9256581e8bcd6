/**
 * What the routes of the web plugin share: what the app is given (AppDeps), the bridges served here and the
 * names they are shown under, a post as the public sees it (addresses as its bridge's archive.addresses says),
 * as JSON (the API and the stream), with the links of its kept files, a removed post's 410, a thread served here
 * (its page and its feed), the bridges' summaries (the index page and /api/bridges), and the error page and
 * request body as this site's config sets them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  publicPost,
  publicRemoval,
  threadKey,
  type AddressPolicy,
  type BridgeView,
  type DaemonMetrics,
  type DaemonStatus,
  type EndpointView,
  type IncomingPost,
  type IngestVerdict,
  type Logger,
  type PostReader,
  type RemovalResult,
  type Services,
  type StoredPost,
} from '../../src/plugin.js';
import type { KeptAttachment } from '../mail/services.js';
import { relLinks, type BridgeSummary, type Links } from './html.js';
import { errorPage, HttpError, readBody } from './http.js';
import type { OwnerAuth } from './owners.js';
import type { Config } from './schema.js';

export interface Served {
  /** The name on the web: the endpoint's target. */
  name: string;
  bridge: string;
  endpoint: EndpointView;
}

export interface AppDeps {
  config(): Readonly<Config>;
  log: Logger;
  posts: PostReader;
  endpoints(): EndpointView[];
  bridges(): BridgeView[];
  status(): DaemonStatus;
  metrics(): DaemonMetrics;
  storeWritable(): boolean;
  /** The mail plugin's services (src/plugin.ts `Services`), each undefined while no mail account runs. */
  services: {
    unsubscribe(): Services['mail.unsubscribe'] | undefined;
    attachments(): Services['mail.attachments'] | undefined;
    lists(): Services['mail.lists'] | undefined;
    moderation(): Services['mail.moderation'] | undefined;
    preferences(): Services['mail.preferences'] | undefined;
  };
  /** Login links and sessions of the lists' owner pages (plugins/web/owners.ts). */
  auth: OwnerAuth;
  /** Signs the preferences page's form (its CSRF token; plugins/web/owners.ts prefsFormToken). */
  prefsFormKey: Buffer;
  /** Remove posts from the archive as `peerpost remove` does (an owner on the owner page). */
  remove(ids: readonly string[], reason: string): RemovalResult;
  ingest(post: IncomingPost): Promise<IngestVerdict>;
  /** Absolute link to a post (publicUrl). */
  postUrl(id: string): string;
  /** Absolute link to a path of this site ("/files/…"), under publicUrl. */
  siteUrl(path: string): string;
  /** The node's hostname: part of the Atom feeds' ids. */
  hostname: string;
}

/**
 * Where the web serves a kept file of a post: /files/ID/N/NAME (the id encoded whole, so its "/" stays one
 * segment; the name only for the browser's "save as").
 */
export function fileLink(postId: string, f: Pick<KeptAttachment, 'n' | 'filename'>): string {
  const name = f.filename.replace(/[\u0000-\u001f\u007f/\\]+/g, '_').slice(0, 120) || 'attachment';
  return `/files/${encodeURIComponent(postId)}/${f.n}/${encodeURIComponent(name)}`;
}

/** A post as the API and the stream show it; `fileUrl(n)`: the download link of attachment n, when the file is kept. */
export function postJson(
  p: StoredPost,
  name: string,
  url: (id: string) => string,
  fileUrl: (n: number) => string | undefined = () => undefined,
): Record<string, unknown> {
  return {
    id: p.id,
    seq: p.seq,
    bridge: name,
    origin: p.origin,
    author: p.author,
    ...(p.subject !== undefined ? { subject: p.subject } : {}),
    body: p.body,
    kind: p.kind,
    ...(p.inReplyTo !== undefined ? { inReplyTo: p.inReplyTo } : {}),
    references: p.references,
    date: p.date,
    receivedAt: p.receivedAt,
    ...(p.imported ? { imported: true } : {}),
    attachments: p.attachments.map((a, n) => {
      const u = fileUrl(n);
      return u ? { ...a, url: u } : a;
    }),
    url: url(p.id),
  };
}

export type Site = ReturnType<typeof createSite>;

export function createSite(d: AppDeps) {
  const cfg = () => d.config();
  const served = (): Served[] => d.endpoints().map((e) => ({ name: e.target, bridge: e.bridge, endpoint: e }));
  const byName = (name: string) => served().find((s) => s.name === name);
  const byBridge = (bridge: string) => served().find((s) => s.bridge === bridge);
  /** A post removed from a bridge served here (peerpost remove, archive.keep, a cancel) is 410 Gone, saying why. */
  const gone = (id: string, headers: Record<string, string> = {}) => {
    const t = d.posts.removed(id);
    if (t?.bridge && byBridge(t.bridge)) throw new HttpError(410, publicRemoval(t), headers);
  };
  /** The files of a post that the mail plugin keeps now (none when no mail account runs). */
  const keptOf = (p: Pick<StoredPost, 'id' | 'attachments'>): KeptAttachment[] => {
    if (p.attachments.length === 0) return [];
    try {
      return d.services.attachments()?.kept(p.id) ?? [];
    } catch (err) {
      d.log.warn({ err, id: p.id }, `the kept files of ${p.id} could not be read; the page names them without links`);
      return [];
    }
  };
  const toJson = (p: StoredPost) => {
    const kept = keptOf(p);
    return postJson(p, byBridge(p.bridge)?.name ?? p.bridge, d.postUrl, (n) => {
      const f = kept.find((k) => k.n === n);
      return f ? d.siteUrl(fileLink(p.id, f)) : undefined;
    });
  };
  /**
   * Addresses stay private (src/archive/privacy.ts): every public view shows a post as its bridge's
   * archive.addresses says. `publicView()` reads the policies once for a request's posts.
   */
  const publicView = (): ((p: StoredPost) => StoredPost) => {
    const policies = new Map<string, AddressPolicy>(d.bridges().map((b) => [b.name, b.archive.addresses]));
    return (p) => publicPost(p, policies.get(p.bridge) ?? 'obfuscate');
  };
  /** A thread by any of its posts' ids (or its root's): its key and its posts served here, shown publicly. */
  const threadOf = (id: string): { key: string; posts: StoredPost[] } => {
    const pub = publicView();
    const posts = d.posts
      .thread(id)
      .filter((p) => p.kind !== 'event' && byBridge(p.bridge))
      .map(pub);
    if (posts.length === 0) throw new HttpError(404, 'There is no such thread here.');
    return { key: threadKey(posts[0]!), posts };
  };
  /** Links inside the pages, with the download link of each kept file. */
  const pageLinks: Links = {
    ...relLinks,
    files: (p) => {
      const kept = keptOf(p);
      return (n) => {
        const f = kept.find((k) => k.n === n);
        return f ? fileLink(p.id, f) : undefined;
      };
    },
  };
  /** The bridges served here, each with its post count, newest post and endpoints (the index page, /api/bridges). */
  const summaries = (): BridgeSummary[] => {
    const states = new Map(d.status().accounts.map((a) => [a.name, a]));
    const views = new Map(d.bridges().map((b) => [b.name, b]));
    return served().map((s) => {
      const b = views.get(s.bridge);
      const last = d.posts.latest(s.bridge, { limit: 1 })[0];
      return {
        name: s.name,
        bridge: s.bridge,
        description: b?.description ?? s.endpoint.description,
        posts: d.posts.count(s.bridge),
        ...(last ? { last: last.date } : {}),
        endpoints: (b?.endpoints ?? []).map((e) => ({
          key: e.key,
          protocol: e.protocol,
          direction: e.direction,
          account: e.account,
          ...(e.join ? { join: e.join } : {}),
          running: e.running,
          state: states.get(e.account)?.state ?? (e.running ? 'running' : 'stopped'),
        })),
      };
    });
  };
  return {
    d,
    cfg,
    served,
    byName,
    byBridge,
    gone,
    keptOf,
    toJson,
    publicView,
    threadOf,
    pageLinks,
    summaries,
    /** Pages whose origin may call the API and open the stream (corsOrigins). */
    allowedOrigin: (origin: string | undefined) => origin !== undefined && cfg().corsOrigins.includes(origin),
    /** An error page with the site's title. */
    errorPage: (res: ServerResponse, status: number, title: string, text: string, headers?: Record<string, string>) =>
      errorPage(res, cfg().title, status, title, text, headers),
    /** A request's body, at most maxBody bytes. */
    readBody: (req: IncomingMessage) => readBody(req, cfg().maxBody),
  };
}
