/**
 * The archive's mbox downloads (its export, src/archive/export.ts): /b/NAME.mbox.gz (a bridge) and /t/ID.mbox.gz
 * (a thread), at most MAX_EXPORTS at once, streamed as they are read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportTo, type ArchiveFilter } from '../../src/plugin.js';
import { HttpError, safeDecode, SECURITY_HEADERS, type Route } from './http.js';
import { fileLink, type Served, type Site } from './site.js';

/** mbox downloads served at once; more wait for a free turn (503 with Retry-After): each costs gzip's CPU. */
export const MAX_EXPORTS = 2;

export function createMbox(site: Site): Route {
  const { d, byName, byBridge, keptOf } = site;
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

  return async ({ req, res, path, only }) => {
    let m: RegExpExecArray | null;
    if ((m = /^\/b\/([^/]+)\.mbox\.gz$/.exec(path))) {
      only('GET');
      const s = byName(safeDecode(m[1]!));
      if (!s) throw new HttpError(404, `There is no bridge ${safeDecode(m[1]!)} here.`);
      await mbox(req, res, s, { bridge: s.bridge }, s.name);
      return true;
    }
    if ((m = /^\/t\/(.+)\.mbox\.gz$/.exec(path))) {
      only('GET');
      const id = safeDecode(m[1]!).replace(/^<(.*)>$/, '$1');
      // The thread's bridge: its post's, or (a thread whose first post is elsewhere) that of its first reply here.
      const bridge = d.posts.get(id)?.bridge ?? d.posts.archivePage({ thread: id }, undefined, 1).posts[0]?.bridge;
      const s = bridge !== undefined ? byBridge(bridge) : undefined;
      if (!s) throw new HttpError(404, 'There is no such thread here.');
      await mbox(req, res, s, { bridge: s.bridge, thread: id }, `${s.name}-thread`);
      return true;
    }
    return false;
  };
}
