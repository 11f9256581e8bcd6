/**
 * A member's preferences page on the web (`/l/LIST/prefs?t=TOKEN`, the signed link in the footer of every list
 * mail): GET shows the settings and a form, a POST of the page's own form changes them. Part of the list pages
 * (./lists.ts, which routes here); the settings themselves are the mail plugin's (`mail.preferences`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  DeliveryMode,
  DigestFormat,
  MemberPreferences,
  MemberSettings,
  MemberSettingsChange,
  PreferencesRefusal,
  PublicList,
} from '../mail/services.js';
import { escapeHtml, hidden, messagePage, page } from './html.js';
import { prefsFormProblem, prefsFormToken } from './owners.js';
import type { ListPagesDeps } from './lists.js';

/** What the list pages lend the preferences page: a list's path, the form reader and the same-site check. */
export interface ListPageHelpers {
  base(l: PublicList): string;
  form(req: IncomingMessage): Promise<URLSearchParams>;
  /** Throws (403) for a POST from another site's page. */
  sameSite(req: IncomingMessage): void;
  /** The error page (503) for "the mailing lists are not running now", to throw. */
  unavailable(): Error;
}

export function createPrefsPages(d: ListPagesDeps, { base, form, sameSite, unavailable }: ListPageHelpers) {
  const cfg = () => d.config();

  const prefsSvc = (): MemberPreferences => {
    const s = d.preferences();
    if (!s) throw unavailable();
    return s;
  };
  const day = (h: number, zone: string) => `${String(h).padStart(2, '0')}:00 ${zone}`;
  /** The settings in words, as the mailed answer to `show` says them. */
  const settingsHtml = (s: MemberSettings, digestHour: number, zone: string) =>
    `<dl class="settings">
<dt>Delivery</dt><dd id="mode">${
      s.mode === 'each'
        ? 'each: every post, as it comes'
        : s.mode === 'digest'
          ? `digest: the list's digest, daily at ${day(digestHour, zone)} (sooner when it is full)`
          : `nomail: no mail from the list ${s.nomailUntil ? `until ${escapeHtml(s.nomailUntil)} (then every post again)` : 'until you change it'}`
    }</dd>
<dt>Digest form</dt><dd id="digest">${s.digestFormat === 'mime' ? 'mime: each post a message of its own' : 'plain: one text (RFC 1153)'}</dd>
<dt>Your own posts</dt><dd id="ownposts">${s.ownPosts ? 'on: you get a copy of your own posts' : 'off: you get no copy of your own posts'}</dd>
</dl>`;
  const radio = (name: string, value: string, on: boolean, label: string) =>
    `<label><input type="radio" name="${name}" value="${value}"${on ? ' checked' : ''}> ${label}</label>`;
  const option = (value: string, on: boolean, label: string) =>
    `<option value="${value}"${on ? ' selected' : ''}>${label}</option>`;
  const prefsForm = (l: PublicList, token: string, s: MemberSettings, digestHour: number, zone: string) =>
    `<form class="prefs" method="post" action="${escapeHtml(base(l))}/prefs">${hidden('t', token)}${hidden('csrf', prefsFormToken(d.prefsFormKey, token, cfg().lists.session))}
<fieldset><legend>Delivery</legend>
${radio('mode', 'each', s.mode === 'each', 'every post, as it comes')}<br>
${radio('mode', 'digest', s.mode === 'digest', `the digest, daily at ${day(digestHour, zone)}`)}<br>
${radio('mode', 'nomail', s.mode === 'nomail', 'no mail')} <label>until <input type="date" name="until" value="${escapeHtml(s.nomailUntil ?? '')}"></label> (empty: until you change it)
</fieldset>
<label>Digest form <select name="digest">${option('mime', s.digestFormat === 'mime', 'MIME (each post a message of its own)')}${option('plain', s.digestFormat === 'plain', 'plain text (RFC 1153)')}</select></label><br>
<label>Your own posts <select name="ownposts">${option('on', s.ownPosts, 'send me a copy')}${option('off', !s.ownPosts, 'no copy')}</select></label><br>
<button type="submit">Save</button>
</form>`;
  const prefsPage = (
    l: PublicList,
    token: string,
    p: {
      address: string;
      listAddress: string;
      settings: MemberSettings;
      digestHour: number;
      digestZone: string;
      unsubscribeToken: string;
    },
    note?: { cls: 'flash' | 'problem'; text: string },
  ) =>
    page({
      title: `${l.list}: your settings`,
      site: cfg().title,
      body: `<h1>Your settings on ${escapeHtml(l.list)}</h1>
<p class="who">For <strong>${escapeHtml(p.address)}</strong> on ${escapeHtml(p.listAddress)}.</p>
${note ? `<p class="${note.cls}">${escapeHtml(note.text)}</p>\n` : ''}${settingsHtml(p.settings, p.digestHour, p.digestZone)}
<h2>Change them</h2>
${prefsForm(l, token, p.settings, p.digestHour, p.digestZone)}
<p>By mail: write <code>show</code>, <code>set digest</code>, <code>set nomail until 2027-01-10</code>, <code>set each</code> or <code>set ownposts off</code> to ${escapeHtml(l.request)}. To leave the list: <a href="/unsubscribe/${escapeHtml(encodeURIComponent(p.unsubscribeToken))}">unsubscribe</a>.</p>`,
    });
  /**
   * A link that does not work: the same page and status whatever the reason (forged, cut short, another list's,
   * an address that has left), so that it tells nobody whether an address is subscribed.
   */
  const prefsRefused = (res: ServerResponse, l: PublicList, why: PreferencesRefusal | string) => {
    if (typeof why !== 'string' && why.code === 'unavailable') throw unavailable();
    d.log.info(
      { list: l.list },
      `a preferences link for ${l.list} was refused: ${typeof why === 'string' ? why : why.code}`,
    );
    return d.html(
      res,
      403,
      messagePage(
        cfg().title,
        'This settings link does not work',
        `<p>Nothing was changed. The link may have been cut short or altered, it may be another list's, or its address may have left ${escapeHtml(l.address)} since the mail was sent.</p>
<p>Use the link at the foot of a recent mail from the list, or write <code>help</code> to ${escapeHtml(l.request)} (<code>show</code>, <code>set digest</code>, <code>set nomail</code>, <code>set each</code>, <code>set ownposts off</code>).</p>
<p><a href="${escapeHtml(base(l))}">About ${escapeHtml(l.list)}</a></p>`,
      ),
      { 'Cache-Control': 'no-store' },
    );
  };
  /** What a token is about, when it is this list's and its member's; else a refusal. */
  const prefsInfo = (l: PublicList, token: string) => {
    const r = prefsSvc().info(token);
    if (!r.ok) return r;
    if (r.account !== l.account || r.list !== l.list) return 'a link of another list';
    return r;
  };

  /** GET: the member's settings and the form; changes nothing (a mail scanner following the link does no harm). */
  const prefsShow = (res: ServerResponse, l: PublicList, token: string) => {
    const r = prefsInfo(l, token);
    if (typeof r === 'string' || !r.ok) return prefsRefused(res, l, r);
    return d.html(res, 200, prefsPage(l, token, r), { 'Cache-Control': 'no-store' });
  };

  /** POST of the page's own form: same site, its form token, this list's link; answered with the settings now. */
  const prefsSave = async (req: IncomingMessage, res: ServerResponse, l: PublicList) => {
    sameSite(req);
    const f = await form(req);
    const token = f.get('t') ?? '';
    const r = prefsInfo(l, token);
    if (typeof r === 'string' || !r.ok) return prefsRefused(res, l, r);
    const bad = prefsFormProblem(d.prefsFormKey, token, f.get('csrf') ?? '');
    if (bad) {
      d.log.info({ list: l.list }, `a preferences form for ${l.list} was refused: ${bad}`);
      return d.html(
        res,
        403,
        prefsPage(l, token, r, { cls: 'problem', text: `Refused: ${bad}. Nothing was changed; use the form below.` }),
        { 'Cache-Control': 'no-store' },
      );
    }
    const mode = (f.get('mode') ?? '') as DeliveryMode;
    const until = (f.get('until') ?? '').trim();
    const change: MemberSettingsChange = {
      ...(mode ? { mode } : {}),
      ...(mode === 'nomail' ? { nomailUntil: until || null } : {}),
      ...(f.has('digest') ? { digestFormat: f.get('digest') as DigestFormat } : {}),
      ...(f.has('ownposts') ? { ownPosts: f.get('ownposts') === 'on' } : {}),
    };
    if (f.has('ownposts') && !['on', 'off'].includes(f.get('ownposts')!))
      return d.html(
        res,
        400,
        prefsPage(l, token, r, { cls: 'problem', text: 'Nothing was changed: own posts is on or off.' }),
        { 'Cache-Control': 'no-store' },
      );
    const s = await prefsSvc().set(token, change);
    if (!s.ok) {
      if (s.code !== 'bad-settings') return prefsRefused(res, l, s);
      return d.html(res, 400, prefsPage(l, token, r, { cls: 'problem', text: `Nothing was changed: ${s.reason}.` }), {
        'Cache-Control': 'no-store',
      });
    }
    if (s.changed) d.log.info({ list: l.list }, `a member of ${l.list} changed their settings on the web`);
    return d.html(
      res,
      200,
      prefsPage(
        l,
        token,
        { ...r, settings: s.settings },
        {
          cls: 'flash',
          text: s.changed
            ? 'Saved: these are your settings now.'
            : 'Nothing to change: these were your settings already.',
        },
      ),
      { 'Cache-Control': 'no-store' },
    );
  };

  return { show: prefsShow, save: prefsSave };
}
