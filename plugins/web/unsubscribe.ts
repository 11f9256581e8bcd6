/**
 * One-click unsubscribe (RFC 8058): /unsubscribe/TOKEN, the link of a list mail's List-Unsubscribe. GET shows a
 * confirming form, POST (the form, or a mail client's "List-Unsubscribe=One-Click") unsubscribes; the token and
 * the list are the mail plugin's (`mail.unsubscribe`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UnsubscribeRefusal } from '../mail/services.js';
import { escapeHtml, messagePage } from './html.js';
import { html, HttpError, type Route } from './http.js';
import type { Site } from './site.js';

const MAX_TOKEN_PATH = 1024;

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

export function createUnsubscribe(site: Site): Route {
  const { d, cfg, errorPage, readBody } = site;

  /** No mail lists to ask now: try later. */
  const unavailable = (res: ServerResponse) => errorPage(res, 503, 'Unsubscribe', NO_LISTS, { 'Retry-After': '300' });
  /** A refused link: a page that says why and that nothing changed (404 not valid, 410 list gone, 503 try later). */
  const refused = (res: ServerResponse, r: UnsubscribeRefusal) =>
    r.code === 'unavailable'
      ? unavailable(res)
      : errorPage(res, r.code === 'gone' ? 410 : 404, 'Unsubscribe', `Nothing was changed: ${r.reason}.`);

  const unsubscribe = async (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const token = unsubscribeToken(raw);
    /** A page of the site saying `body` under `heading` (200). */
    const say = (heading: string, body: string) => html(res, 200, messagePage(cfg().title, heading, body));
    const svc = d.services.unsubscribe();
    if (req.method === 'POST') {
      await readBody(req); // RFC 8058: "List-Unsubscribe=One-Click"; the link itself is the authority
      if (!svc) return unavailable(res);
      const r = await svc.unsubscribe(token);
      if (!r.ok) return refused(res, r);
      if (r.unsubscribed) d.log.info({ list: r.list }, `unsubscribed an address from ${r.list} by its one-click link`);
      return say(
        'Unsubscribed',
        r.unsubscribed
          ? `<p><strong>${escapeHtml(r.address)}</strong> no longer receives <strong>${escapeHtml(r.listAddress)}</strong>.</p>`
          : `<p><strong>${escapeHtml(r.address)}</strong> was not subscribed to <strong>${escapeHtml(r.listAddress)}</strong> (any more): nothing to do.</p>`,
      );
    }
    if (!svc) return unavailable(res);
    const info = svc.info(token);
    if (!info.ok) return refused(res, info);
    if (!info.subscribed)
      return say(
        'Unsubscribe',
        `<p><strong>${escapeHtml(info.address)}</strong> does not receive <strong>${escapeHtml(info.listAddress)}</strong> (any more): nothing to do.</p>`,
      );
    return say(
      'Unsubscribe',
      `<p>Stop sending <strong>${escapeHtml(info.listAddress)}</strong> to <strong>${escapeHtml(info.address)}</strong>?</p>\n<form class="confirm" method="post" action="/unsubscribe/${escapeHtml(encodeURIComponent(token))}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
    );
  };

  return async ({ req, res, path, only }) => {
    const m = /^\/unsubscribe\/([^/]+)$/.exec(path);
    if (!m) return false;
    only('GET', 'POST');
    await unsubscribe(req, res, m[1]!);
    return true;
  };
}
