/**
 * GET /files/ID/N/NAME: a kept file of a post this site shows (the mail plugin's `mail.attachments`), as a
 * download, never rendered by the browser here. Its link is site.ts's fileLink.
 */
import type { ServerResponse } from 'node:http';
import { HttpError, safeDecode, send, type Route } from './http.js';
import type { Site } from './site.js';

export function createFiles(site: Site): Route {
  const { d, byBridge } = site;

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
    send(res, 200, type, f.content, {
      'Content-Disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(f.filename)}`,
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Cache-Control': 'private, max-age=3600',
    });
  };

  return ({ res, path, only }) => {
    const m = /^\/files\/([^/]+)\/(\d{1,4})(?:\/[^/]*)?$/.exec(path);
    if (!m) return false;
    only('GET');
    file(res, m[1]!, Number(m[2]));
    return true;
  };
}
