/**
 * The HTTP side of the web plugin: routing, pages, the JSON API, health,
 * metrics, one-click unsubscribe, and the WebSocket upgrade of /api/stream.
 * Plain node:http; every response carries the security headers below.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import {
  publicPost,
  threadKey,
  type AccountState,
  type AddressPolicy,
  type BridgeView,
  type DaemonMetrics,
  type DaemonStatus,
  type EndpointView,
  type IncomingPost,
  type ErrorCode,
  type IngestVerdict,
  type Logger,
  type PostReader,
  type Services,
  type StoredPost,
  type ArchiveFilter,
  type RemovedPost,
  type RemovalResult,
} from '../../src/plugin.js';
import { exportTo, publicRemoval } from '../../src/plugin.js';
import type { KeptAttachment, UnsubscribeRefusal } from '../mail/services.js';
import {
  archivePage,
  escapeHtml,
  indexPage,
  messagePage,
  postPage,
  bridgeFeedLink,
  relLinks,
  statusPage,
  threadFeedLink,
  threadLink,
  type BridgeSummary,
  type Links,
} from './html.js';
import { Admin } from './admin.js';
import { ICON_SVG, LIVE_JS, STYLE_CSS } from './assets.js';
import { CONTENT_TYPE as METRICS_TYPE, metricsText } from './metrics.js';
import { processMonitor } from './process.js';
import { parsePostInput, verdictAnswer, type PostInput } from './posting.js';
import type { Config } from './schema.js';
import { Stream, type StreamClient } from './stream.js';
import { mayPost, Tokens, type Grant } from './tokens.js';
import { apiIndex } from './api-index.js';
import { ATOM_TYPE, atomFeed, uuidUrn } from './atom.js';
import { threadPage } from './thread.js';
import { BadSearch, searchLimit, searchPage, searchParams, webSearch } from './search.js';
import { createListPages } from './lists.js';
import type { OwnerAuth } from './owners.js';

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** States in which an account counts as healthy: up, or on its way back by design. */
export const HEALTHY: ReadonlySet<AccountState> = new Set(['connected', 'listening', 'connecting', 'retrying']);

/**
 * /healthz: healthy when the store takes a write now, every account is up
 * or on its way back by design (connecting, retrying), and nothing (an outbox
 * row, robot mail) has waited longer than delivery.alertAfter. One line per check.
 */
export function healthReport(
  storeWritable: () => boolean,
  status: Pick<DaemonStatus, 'accounts'> & Partial<Pick<DaemonStatus, 'late'>>,
): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let writable: boolean;
  try {
    writable = storeWritable();
  } catch {
    writable = false;
  }
  let ok = writable;
  lines.push(writable ? 'store: writable' : 'store: NOT writable (new posts are turned away)');
  for (const a of status.accounts) {
    const good = HEALTHY.has(a.state);
    if (!good) ok = false;
    lines.push(`${a.name}: ${a.state}${good ? '' : ' (unhealthy)'}${a.detail ? ` — ${a.detail}` : ''}`);
  }
  for (const l of status.late ?? []) {
    ok = false;
    lines.push(`waiting too long (unhealthy): ${l}`);
  }
  return { ok, lines };
}

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

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const MAX_TOKEN_PATH = 1024;
/** mbox downloads served at once; more wait for a free turn (503 with Retry-After): each costs gzip's CPU. */
export const MAX_EXPORTS = 2;

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

export function createApp(d: AppDeps) {
  const proc = processMonitor();
  let tokens = new Tokens(d.config().tokens);
  const cfg = () => d.config();
  // The operator's pages: one judge per config (a reload hands over a new object).
  let admin = { of: d.config(), judge: new Admin(d.config()) };
  const operator = () => {
    if (admin.of !== cfg()) admin = { of: cfg(), judge: new Admin(cfg()) };
    return admin.judge;
  };
  /** Answers a refusal and returns false when the request may not see `path`. */
  const mayOperate = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    const v = operator().judge(req, path);
    if (v.ok) return true;
    send(res, v.status, 'text/plain; charset=utf-8', `${v.text}\n`, { 'Cache-Control': 'no-store', ...v.headers });
    return false;
  };

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
  /**
   * How the API shows a post to a request: with its real addresses to a token that may post to the post's
   * bridge, else as the public sees it. A token that is not valid is refused (401), not taken for none.
   */
  const apiView = (req: IncomingMessage, cors: Record<string, string>): ((p: StoredPost) => StoredPost) => {
    const pub = publicView();
    if (req.headers.authorization === undefined) return pub;
    const grant = tokens.fromHeader(req.headers.authorization);
    if ('problem' in grant)
      throw new HttpError(401, `${grant.problem} (without a token, the API shows addresses as the pages do)`, {
        ...cors,
        'WWW-Authenticate': 'Bearer realm="peerpost"',
      });
    return (p) => (mayPost(grant, p.bridge) ? p : pub(p));
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

  // ---- posting (API and stream) ----
  const post = async (
    grant: Grant,
    s: Served,
    input: PostInput,
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    if (!mayPost(grant, s.bridge))
      return {
        status: 403,
        body: {
          status: 'rejected',
          code: 'not-allowed' satisfies ErrorCode,
          error: `the token "${grant.name}" may not post to bridge ${s.bridge}`,
        },
      };
    if (s.endpoint.direction === 'out')
      return {
        status: 403,
        body: {
          status: 'rejected',
          code: 'receive-only' satisfies ErrorCode,
          error: `${s.endpoint.key} only receives (direction: out): posting there is off`,
        },
      };
    const v = await d.ingest({
      target: s.name,
      author: { name: input.from ?? grant.name, via: 'web' },
      body: input.body,
      kind: 'message',
      ...(input.subject ? { subject: input.subject } : {}),
      ...(input.inReplyTo ? { inReplyTo: input.inReplyTo } : {}),
      ...(input.references ? { references: input.references } : {}),
      ...(input.id ? { id: input.id } : {}),
    });
    if (v.status === 'accepted')
      d.log.info({ id: v.id, bridge: s.bridge, token: grant.name }, `posted from the web to ${s.bridge}`);
    return verdictAnswer(v, d.postUrl);
  };

  // ---- the stream ----
  const c0 = cfg();
  const stream = new Stream({
    posts: d.posts,
    log: d.log,
    maxBuffered: c0.stream.maxBuffered,
    heartbeatMs: c0.stream.heartbeat,
    stallMs: Math.max(10_000, c0.stream.heartbeat),
    // The stream is public (it takes no token): addresses as the pages show them.
    toJson: (p) => toJson(publicView()(p)),
    async onMessage(c: StreamClient, msg: unknown) {
      const m = msg as Record<string, unknown>;
      const ref = typeof m?.ref === 'string' || typeof m?.ref === 'number' ? { ref: m.ref } : {};
      if (m?.type !== 'post')
        return {
          type: 'error',
          ...ref,
          error: 'unknown message: the stream takes {"type":"post","token":"…","body":"…"}',
        };
      if (!tokens.enabled)
        return { type: 'error', ...ref, error: 'posting from the web is off (no token is configured)' };
      const grant = typeof m.token === 'string' ? tokens.check(m.token) : undefined;
      if (!grant) return { type: 'error', ...ref, error: 'the token is not valid' };
      const { type: _t, token: _k, ref: _r, ...rest } = m;
      const input = parsePostInput(rest);
      if (typeof input === 'string') return { type: 'error', ...ref, error: input };
      const s = byBridge(c.bridge);
      if (!s) return { type: 'error', ...ref, error: 'this bridge is no longer served here' };
      const a = await post(grant, s, input);
      return { type: 'posted', ...ref, ...a.body };
    },
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: c0.stream.maxMessage,
    clientTracking: false,
    perMessageDeflate: false,
  });

  // ---- helpers ----
  const allowedOrigin = (origin: string | undefined) => origin !== undefined && cfg().corsOrigins.includes(origin);

  const send = (
    res: ServerResponse,
    status: number,
    type: string,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'Content-Type': type,
      'Content-Length': String(Buffer.byteLength(body)),
      ...headers,
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  const html = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) =>
    send(res, status, 'text/html; charset=utf-8', body, { 'Cache-Control': 'no-cache', ...headers });
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), {
      'Cache-Control': 'no-cache',
      ...headers,
    });
  const errorPage = (
    res: ServerResponse,
    status: number,
    title: string,
    text: string,
    headers: Record<string, string> = {},
  ) => html(res, status, messagePage(cfg().title, title, `<p>${escapeHtml(text)}</p>`), headers);

  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const max = cfg().maxBody;
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > max) return reject(new HttpError(413, `the request body is larger than ${max} bytes`));
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) {
          req.removeAllListeners('data');
          req.resume();
          reject(new HttpError(413, `the request body is larger than ${max} bytes`));
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const cursor = (v: string | null, what: string): number | undefined => {
    if (v === null || v === '') return undefined;
    if (!/^\d{1,15}$/.test(v))
      throw new HttpError(400, `${what} must be a post's seq number (a cursor), not ${JSON.stringify(v.slice(0, 30))}`);
    return Number(v);
  };

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

  // ---- unsubscribe (RFC 8058) ----
  const unsubscribeToken = (raw: string): string => {
    let t: string;
    try {
      t = decodeURIComponent(raw);
    } catch {
      throw new HttpError(400, 'This unsubscribe link is damaged: check that it was copied whole.');
    }
    if (!t || t.length > MAX_TOKEN_PATH || /[\s\u0000-\u001f]/.test(t))
      throw new HttpError(400, 'This unsubscribe link is damaged: check that it was copied whole.');
    return t;
  };
  const NO_LISTS =
    'Unsubscribing is not available right now: the mailing lists are not running on this server. Try again in a while; if it keeps failing, write to the list owner.';

  /** A refused link: a page that says why and that nothing changed (404 not valid, 410 list gone, 503 try later). */
  const refused = (res: ServerResponse, r: UnsubscribeRefusal) =>
    r.code === 'unavailable'
      ? errorPage(res, 503, 'Unsubscribe', NO_LISTS, { 'Retry-After': '300' })
      : errorPage(res, r.code === 'gone' ? 410 : 404, 'Unsubscribe', `Nothing was changed: ${r.reason}.`);

  const unsubscribe = async (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const token = unsubscribeToken(raw);
    const site = cfg().title;
    const svc = d.services.unsubscribe();
    if (req.method === 'POST') {
      await readBody(req); // RFC 8058: "List-Unsubscribe=One-Click"; the link itself is the authority
      if (!svc) return errorPage(res, 503, 'Unsubscribe', NO_LISTS, { 'Retry-After': '300' });
      const r = await svc.unsubscribe(token);
      if (!r.ok) return refused(res, r);
      if (r.unsubscribed) d.log.info({ list: r.list }, `unsubscribed an address from ${r.list} by its one-click link`);
      return html(
        res,
        200,
        messagePage(
          site,
          'Unsubscribed',
          r.unsubscribed
            ? `<p><strong>${escapeHtml(r.address)}</strong> no longer receives <strong>${escapeHtml(r.listAddress)}</strong>.</p>`
            : `<p><strong>${escapeHtml(r.address)}</strong> was not subscribed to <strong>${escapeHtml(r.listAddress)}</strong> (any more): nothing to do.</p>`,
        ),
      );
    }
    if (!svc) return errorPage(res, 503, 'Unsubscribe', NO_LISTS, { 'Retry-After': '300' });
    const info = svc.info(token);
    if (!info.ok) return refused(res, info);
    if (!info.subscribed)
      return html(
        res,
        200,
        messagePage(
          site,
          'Unsubscribe',
          `<p><strong>${escapeHtml(info.address)}</strong> does not receive <strong>${escapeHtml(info.listAddress)}</strong> (any more): nothing to do.</p>`,
        ),
      );
    return html(
      res,
      200,
      messagePage(
        site,
        'Unsubscribe',
        `<p>Stop sending <strong>${escapeHtml(info.listAddress)}</strong> to <strong>${escapeHtml(info.address)}</strong>?</p>\n<form class="confirm" method="post" action="/unsubscribe/${escapeHtml(encodeURIComponent(token))}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
      ),
    );
  };

  /** GET /files/ID/N/NAME: a kept file of a post this site shows, as a download (never rendered by the browser here). */
  const file = (res: ServerResponse, rawId: string, n: number) => {
    const id = safeDecode(rawId);
    const p = d.posts.get(id);
    if (!p || !byBridge(p.bridge) || !p.attachments[n]) throw new HttpError(404, 'There is no such file here.');
    const files = d.services.attachments();
    if (!files)
      throw new HttpError(
        503,
        'The files of mail posts are not available right now: the mailing lists are not running on this server. Try again in a while.',
        { 'Retry-After': '300' },
      );
    const f = files.file(id, n);
    if (!f)
      throw new HttpError(
        410,
        `${p.attachments[n]!.filename || 'This file'} is no longer kept here (files of mail posts are kept for a while only).`,
      );
    const type = /^(image\/(png|jpeg|gif|webp)|application\/pdf|text\/plain)$/i.test(f.contentType.trim())
      ? f.contentType.trim().toLowerCase()
      : 'application/octet-stream';
    const ascii = f.filename.replace(/[^\x20-\x7e]|["\\]/g, '_') || 'attachment';
    return send(res, 200, type, f.content, {
      'Content-Disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(f.filename)}`,
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Cache-Control': 'private, max-age=3600',
    });
  };

  // ---- following: the thread page and the Atom feeds ----
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

  // ---- mbox downloads (the archive's export, src/archive/export.ts) ----
  let exporting = 0;
  /**
   * GET /b/NAME.mbox.gz and /t/ID.mbox.gz: the posts as an mboxrd file, gzip-compressed, streamed as they are read
   * (memory flat however large the bridge). Served as application/gzip, the file itself: with application/mbox
   * and Content-Encoding: gzip, browsers and curl would unpack it and save plain text under a name ending in .gz.
   * Always the public view of addresses (the bridge's archive.addresses).
   */
  const mbox = async (req: IncomingMessage, res: ServerResponse, s: Served, filter: ArchiveFilter, name: string) => {
    if (exporting >= MAX_EXPORTS)
      throw new HttpError(503, `${MAX_EXPORTS} archive downloads are running; try again in a minute.`, {
        'Retry-After': '60',
      });
    const policy = d.bridges().find((b) => b.name === s.bridge)?.archive.addresses ?? 'obfuscate';
    const file = `${name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || 'archive'}.mbox.gz`;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'application/gzip',
      'Content-Disposition': `attachment; filename="${file}"`,
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') return res.end();
    exporting++;
    try {
      const stats = await exportTo(
        {
          page: (f, after, limit) => d.posts.archivePage(f, after, limit),
          subject: (id) => d.posts.get(id)?.subject,
        },
        {
          filter,
          addresses: policy,
          fileUrl: (p, n) => {
            const f = keptOf(p).find((k) => k.n === n);
            return f ? d.siteUrl(fileLink(p.id, f)) : undefined;
          },
        },
        res,
        { gzip: true },
      );
      d.log.debug({ bridge: s.bridge, messages: stats.messages, bytes: stats.bytes }, `served ${file}`);
    } catch (err) {
      // The reader went away (or the store failed): the response is cut, so the download is visibly incomplete.
      d.log.debug({ err, bridge: s.bridge }, `${file} not served whole: ${(err as Error).message}`);
      res.destroy();
    } finally {
      exporting--;
    }
  };

  const listPages = createListPages({
    config: cfg,
    log: d.log,
    lists: () => d.services.lists(),
    moderation: () => d.services.moderation(),
    preferences: () => d.services.preferences(),
    served,
    auth: d.auth,
    prefsFormKey: d.prefsFormKey,
    status: () => d.status(),
    posts: d.posts,
    remove: (ids, reason) => d.remove(ids, reason),
    origin: () => new URL(d.siteUrl('/')).origin,
    html,
    readBody,
    fail: (status, message, headers) => new HttpError(status, message, headers),
  });

  // ---- routes ----
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

    if (path === '/') {
      only('GET');
      return html(res, 200, indexPage(cfg().title, summaries(), relLinks));
    }
    if (path === '/static/style.css') {
      only('GET');
      return send(res, 200, 'text/css; charset=utf-8', STYLE_CSS, { 'Cache-Control': 'max-age=300' });
    }
    if (path === '/static/icon.svg' || path === '/favicon.ico') {
      only('GET');
      return send(res, 200, 'image/svg+xml', ICON_SVG, { 'Cache-Control': 'max-age=86400' });
    }
    if (path === '/static/live.js') {
      only('GET');
      return send(res, 200, 'text/javascript; charset=utf-8', LIVE_JS, { 'Cache-Control': 'max-age=300' });
    }
    if (path === '/status') {
      only('GET');
      if (!mayOperate(req, res, '/status')) return;
      // The same page as JSON (what `peerpost status --json` answers) for a program: Accept: application/json or ?format=json.
      if (url.searchParams.get('format') === 'json' || /\bapplication\/json\b/.test(req.headers.accept ?? ''))
        return json(res, 200, d.status(), { 'Cache-Control': 'no-store', Vary: 'Accept' });
      return html(res, 200, statusPage(cfg().title, d.status()), { Vary: 'Accept' });
    }
    if (path === '/healthz') {
      only('GET');
      const h = healthReport(d.storeWritable, d.status());
      // Load balancers get the verdict and what waited too long (endpoint and account names, counts, ages);
      // the other lines (account details, errors, host names) only operators.
      const lines = operator().judge(req, '/healthz').ok
        ? h.lines
        : [
            ...h.lines.filter((l) => l.startsWith('waiting too long')),
            '(the details are for operators: from an address in admin.allow, loopback by default, or with the admin token)',
          ];
      return send(
        res,
        h.ok ? 200 : 503,
        'text/plain; charset=utf-8',
        `${h.ok ? 'ok' : 'unhealthy'}\n${lines.join('\n')}\n`,
        { 'Cache-Control': 'no-store' },
      );
    }
    if (path === '/metrics') {
      only('GET');
      if (!mayOperate(req, res, '/metrics')) return;
      return send(
        res,
        200,
        METRICS_TYPE,
        metricsText(
          d.metrics(),
          { streamClients: stream.clients.size, streamSlowCuts: stream.slowCuts },
          proc.gauges(),
        ),
        { 'Cache-Control': 'no-store' },
      );
    }
    let m: RegExpExecArray | null;
    // The downloads come before the pages: /b/NAME would take "commons.mbox.gz" as a name, /t/ID an id.
    if ((m = /^\/b\/([^/]+)\.mbox\.gz$/.exec(path))) {
      only('GET');
      const s = byName(safeDecode(m[1]!));
      if (!s) throw new HttpError(404, `There is no bridge ${safeDecode(m[1]!)} here.`);
      return mbox(req, res, s, { bridge: s.bridge }, s.name);
    }
    if ((m = /^\/t\/(.+)\.mbox\.gz$/.exec(path))) {
      only('GET');
      const id = safeDecode(m[1]!).replace(/^<(.*)>$/, '$1');
      // The thread's bridge: its post's, or (a thread whose first post is elsewhere) that of its first reply here.
      const bridge = d.posts.get(id)?.bridge ?? d.posts.archivePage({ thread: id }, undefined, 1).posts[0]?.bridge;
      const s = bridge !== undefined ? byBridge(bridge) : undefined;
      if (!s) throw new HttpError(404, 'There is no such thread here.');
      return mbox(req, res, s, { bridge: s.bridge, thread: id }, `${s.name}-thread`);
    }
    // Route order: the longer forms of /b/NAME and /t/ID come first. A Message-ID may hold "/", "@", "+"…, so it
    // is matched encoded (encodeURIComponent, as every link here writes it: "/" is %2F) and decoded after; /t/ID
    // ends the list, since its (.+) takes anything. /b/NAME.mbox.gz and /t/ID.mbox.gz (the export) go
    // before /b/NAME and /t/ID too.
    if ((m = /^\/b\/([^/]+)\/atom$/.exec(path))) {
      only('GET');
      const s = byName(safeDecode(m[1]!));
      if (!s) throw new HttpError(404, `There is no bridge ${safeDecode(m[1]!)} here.`);
      const view = d.bridges().find((b) => b.name === s.bridge);
      const posts = newestShown(s.bridge, cfg().feedEntries);
      return feed(req, res, posts, {
        id: uuidUrn(`bridge:${s.bridge}@${d.hostname}`),
        title: `${s.name} · ${cfg().title}`,
        subtitle: view?.description ?? s.endpoint.description,
        self: d.siteUrl(bridgeFeedLink(s.name)),
        alternate: d.siteUrl(relLinks.archive(s.name)),
      });
    }
    if ((m = /^\/t\/(.+)\/atom$/.exec(path))) {
      only('GET');
      const t = threadOf(safeDecode(m[1]!));
      const newest = t.posts.slice(-cfg().feedEntries).reverse();
      const first = t.posts[0]!;
      return feed(req, res, newest, {
        id: uuidUrn(`thread:${t.key}`),
        title: `${first.subject ?? `A thread in ${byBridge(first.bridge)!.name}`} · ${cfg().title}`,
        self: d.siteUrl(threadFeedLink(t.key)),
        alternate: d.siteUrl(threadLink(t.key)),
      });
    }
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
      return html(
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
    }
    if (path === '/search') {
      only('GET');
      const sp = searchParams(url);
      if (!sp.q.trim()) return html(res, 200, searchPage(cfg().title, sp, pageLinks));
      try {
        const r = webSearch(d.posts, served(), d.bridges(), sp);
        return html(
          res,
          200,
          searchPage(cfg().title, sp, pageLinks, r, undefined, url.searchParams.get('prev') ?? undefined),
        );
      } catch (e) {
        if (!(e instanceof BadSearch)) throw e;
        return html(res, 400, searchPage(cfg().title, sp, pageLinks, undefined, e.message));
      }
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
      return html(
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
    }
    if ((m = /^\/t\/(.+)$/.exec(path))) {
      only('GET');
      const t = threadOf(safeDecode(m[1]!));
      return html(
        res,
        200,
        threadPage(
          { site: cfg().title, key: t.key, posts: t.posts, nameOf: (p) => byBridge(p.bridge)?.name ?? p.bridge },
          pageLinks,
        ),
      );
    }
    if ((m = /^\/files\/([^/]+)\/(\d{1,4})(?:\/[^/]*)?$/.exec(path))) {
      only('GET');
      return file(res, m[1]!, Number(m[2]));
    }
    if ((m = /^\/unsubscribe\/([^/]+)$/.exec(path))) {
      only('GET', 'POST');
      return unsubscribe(req, res, m[1]!);
    }

    if ((path === '/l' || path.startsWith('/l/')) && (await listPages.handle(req, res, url))) return;

    // ---- API ----
    if (path === '/api' || path === '/api/') {
      only('GET');
      return json(res, 200, apiIndex(tokens.enabled), cors);
    }
    if (path === '/api/bridges') {
      only('GET');
      return json(res, 200, { bridges: summaries() }, cors);
    }
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
        return json(
          res,
          200,
          {
            bridge: s.name,
            posts: posts.map((p) => toJson(view(p))),
            next: posts.length === limit && oldest !== undefined ? oldest : null,
          },
          cors,
        );
      }
      only('GET', 'POST');
      if (!tokens.enabled)
        throw new HttpError(
          403,
          'posting from the web is off: no token is configured (see tokens in plugins/web/README.md)',
          cors,
        );
      const grant = tokens.fromHeader(req.headers.authorization);
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
      const a = await post(grant, s, input);
      return json(res, a.status, a.body, a.status === 503 ? { ...cors, 'Retry-After': '5' } : cors);
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
        return json(
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
      return json(res, 200, toJson(apiView(req, cors)(p)), cors);
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

  const reject = (socket: Duplex, status: number, text: string) => {
    const body = `${text}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 403 ? 'Forbidden' : status === 503 ? 'Service Unavailable' : 'Bad Request'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api/stream')
      return reject(socket, 404, 'WebSockets are served at /api/stream?bridge=NAME&since=CURSOR');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigin(origin)) {
      // Same origin: the page came from this server, as reached directly (Host) or through the proxy (publicUrl).
      let same: boolean;
      try {
        same = new URL(origin).host === req.headers.host || new URL(origin).origin === new URL(d.postUrl('x@y')).origin;
      } catch {
        same = false;
      }
      if (!same) return reject(socket, 403, `pages of ${origin} may not open the stream (see corsOrigins)`);
    }
    const name = url.searchParams.get('bridge');
    const s = name ? byName(name) : undefined;
    if (!s) return reject(socket, 404, name ? `no bridge ${name} here` : 'name the bridge: /api/stream?bridge=NAME');
    let since: number | undefined;
    try {
      since = cursor(url.searchParams.get('since'), 'since');
    } catch (err) {
      return reject(socket, 400, (err as Error).message);
    }
    if (stream.clients.size >= cfg().stream.maxClients)
      return reject(socket, 503, `too many stream clients (${cfg().stream.maxClients}); try again later`);
    wss.handleUpgrade(req, socket, head, (ws) => stream.attach(ws, s.bridge, s.name, since));
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
      await stream.close();
      wss.close();
    },
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
