/**
 * `peerpost import --nntp news://[USER:PASSWORD@]HOST[:PORT]/GROUP` (nntps:// for TLS from the first byte): a
 * newsgroup of any NNTP server read into a bridge's archive with this plugin's client. GROUP gives the range;
 * OVER (XOVER), a thousand articles at a time, gives each article's number and Message-ID; ARTICLE fetches only
 * those the archive does not hold yet, so an interrupted import run again fetches only what is missing. A server
 * without OVER is read with ARTICLE for every number of the range.
 */
import type { ImportItem, Importer, ImportSource } from '../../src/plugin.js';
import { NntpClient, NntpError } from './client.js';
import { groupProblem } from './text.js';

/** The largest article fetched (a bigger one is named and skipped). */
const MAX_ARTICLE = 64 * 1024 * 1024;
const SPAN = 1000;

function importer(scheme: 'news' | 'nntps'): Importer {
  const tls = scheme === 'nntps';
  return {
    scheme,
    summary: `a newsgroup of any news server: ${scheme}://[USER:PASSWORD@]HOST[:PORT]/GROUP (port ${tls ? 563 : 119} by default)`,
    async open(url, env): Promise<ImportSource> {
      const group = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
      const problem = group ? groupProblem(group) : 'no newsgroup is named (the path of the URL)';
      if (problem) throw new Error(`${url.href}: ${problem}`);
      if (!url.hostname) throw new Error(`${url.href}: no server is named`);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = url.port ? Number(url.port) : tls ? 563 : 119;
      const where = `${scheme}://${url.host}/${group}`;
      const c = await NntpClient.connect({
        host,
        port,
        tls,
        readerMode: true,
        timeoutMs: env.timeoutMs ?? 60_000,
        ...(url.username ? { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : {}),
      });
      let g: { count: number; low: number; high: number };
      try {
        g = await c.group(group);
      } catch (err) {
        c.close();
        if (err instanceof NntpError && err.code === 411)
          throw new Error(`${where}: the server has no such group`, { cause: err });
        throw err;
      }
      env.log.info({ group, ...g }, `importing ${group} from ${url.host}: ${g.count} articles`);

      async function* items(): AsyncGenerator<ImportItem> {
        let done = 0;
        let over = true;
        const fetch = async (n: number): Promise<ImportItem> => {
          const at = `${where} article ${n}`;
          const a = await c.article(n, MAX_ARTICLE);
          if (a === undefined)
            return { kind: 'unreadable', where: at, reason: 'the server no longer has it (423)', done };
          if (a === 'too big')
            return { kind: 'unreadable', where: at, reason: `it is larger than ${MAX_ARTICLE >> 20} MB`, done };
          return { kind: 'message', raw: a, where: at, done };
        };
        for (let lo = g.low; g.count > 0 && lo <= g.high; lo += SPAN) {
          const hi = Math.min(g.high, lo + SPAN - 1);
          if (over) {
            let list: { number: number; id: string }[] | undefined;
            try {
              list = await c.over(lo, hi);
            } catch (err) {
              if (!(err instanceof NntpError)) throw err;
              env.log.info({ code: err.code }, `${where}: no OVER (${err.message}); reading every article number`);
              over = false;
            }
            if (list) {
              for (const { number, id } of list) {
                done++;
                if (env.has(id)) yield { kind: 'held', id, where: `${where} article ${number}`, done };
                else yield await fetch(number);
              }
              continue;
            }
          }
          for (let n = lo; n <= hi; n++) {
            const a = await c.article(n, MAX_ARTICLE);
            if (a === undefined) continue; // no article of this number (gaps are normal)
            done++;
            yield a === 'too big'
              ? {
                  kind: 'unreadable',
                  where: `${where} article ${n}`,
                  reason: `it is larger than ${MAX_ARTICLE >> 20} MB`,
                  done,
                }
              : { kind: 'message', raw: a, where: `${where} article ${n}`, done };
          }
        }
      }

      return {
        total: g.count,
        items: items(),
        close: async () => c.close(),
      };
    },
  };
}

/** The importers of the nntp plugin: news:// and nntps://. */
export const importers: Importer[] = [importer('news'), importer('nntps')];
