/**
 * The mailing lists on the web (issue 16): `/l` (the lists this site serves), `/l/LIST` (a list's page with a
 * subscribe form: the mailed double opt-in, the same answer whether the address is subscribed or not, rate
 * limited per client and per address) and `/l/LIST/owner` (the owner page: a one-time login link mailed to an
 * owner or moderator, a session cookie, CSRF-proof forms; held posts, subscribers, removing a post from the
 * archive, recent delivery problems), and `/l/LIST/prefs?t=TOKEN` (a member's preferences page, reached by the
 * signed link in the footer of every list mail: GET shows, a POST of the page's own form changes; ./list-prefs.ts). The lists
 * themselves are the mail plugin's (`mail.lists`, `mail.moderation`, `mail.preferences`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DaemonStatus, Logger, PostReader, RemovalResult } from '../../src/plugin.js';
import type { ListModeration, MailLists, MemberPreferences, ModeratorRole, PublicList } from '../mail/services.js';
import { escapeHtml, hidden, messagePage, page, shortTime, visible } from './html.js';
import {
  clientAddress,
  cookie,
  crossSite,
  overHttps,
  RateLimit,
  sameToken,
  type OwnerAuth,
  type Session,
} from './owners.js';
import type { Config } from './schema.js';
import { createPrefsPages } from './list-prefs.js';

export interface ListPagesDeps {
  config(): Readonly<Config>;
  log: Logger;
  lists(): MailLists | undefined;
  /** Held posts and bans (the mail plugin's `mail.moderation`). */
  moderation(): ListModeration | undefined;
  /** Members' settings by the signed link of their footer (the mail plugin's `mail.preferences`). */
  preferences(): MemberPreferences | undefined;
  /** Signs the preferences form (its CSRF token). */
  prefsFormKey: Buffer;
  /** The bridges this web account serves: a list is shown when its bridge is one of them. */
  served(): { name: string; bridge: string; endpoint: { key: string } }[];
  auth: OwnerAuth;
  status(): DaemonStatus;
  posts: PostReader;
  remove(ids: readonly string[], reason: string): RemovalResult;
  /** The site's origin as people reach it (publicUrl), "https://lists.example.org". */
  origin(): string;
  html(res: ServerResponse, status: number, body: string, headers?: Record<string, string>): void;
  readBody(req: IncomingMessage): Promise<Buffer>;
  /** An error page (thrown: the app answers it). */
  fail(status: number, message: string, headers?: Record<string, string>): Error;
}

const COOKIE = 'peerpost_owner';
/** The modes the owner page sets (the words of `peerpost subscribers LIST set ADDRESS …`). */
const MODES = ['each', 'digest mime', 'digest plain', 'nomail'];
const NO_LISTS =
  'The mailing lists are not running on this server right now; try again in a while. If it keeps failing, write to the list owner.';

const minutes = (ms: number) =>
  `${Math.max(1, Math.ceil(ms / 60_000))} minute${Math.ceil(ms / 60_000) === 1 ? '' : 's'}`;
const when = (ms: number) => shortTime(new Date(ms).toISOString());

export function createListPages(d: ListPagesDeps) {
  const cfg = () => d.config();
  const clients = new RateLimit(cfg().lists.perClient, cfg().lists.per);
  const addresses = new RateLimit(cfg().lists.perAddress, cfg().lists.per);
  const sweep = setInterval(() => {
    clients.sweep();
    addresses.sweep();
    try {
      d.auth.purge();
    } catch (err) {
      d.log.warn({ err }, `purging old owner sessions failed (tried again later): ${(err as Error).message}`);
    }
  }, 60_000);
  sweep.unref();

  const svc = (): MailLists => {
    const s = d.lists();
    if (!s) throw d.fail(503, NO_LISTS, { 'Retry-After': '300' });
    return s;
  };
  /** The lists shown here: those whose bridge this web account serves. */
  const shown = (): (PublicList & { archive: string })[] => {
    const s = d.lists();
    if (!s) return [];
    const served = new Map(d.served().map((x) => [x.bridge, x.name]));
    const seen = new Set<string>();
    return s.lists().flatMap((l) => {
      const name = served.get(l.bridge);
      if (name === undefined || seen.has(l.list)) return [];
      seen.add(l.list);
      return [{ ...l, archive: `/b/${encodeURIComponent(name)}` }];
    });
  };
  const listOf = (name: string) => {
    svc();
    const l = shown().find((x) => x.list === name);
    if (!l) throw d.fail(404, `There is no list ${name} here.`);
    return l;
  };
  /** The moderation service and the list's name there ("commons" or "mail.lists/commons"). */
  const mod = (l: PublicList): { m: ListModeration; name: string } => {
    const m = d.moderation();
    if (!m) throw d.fail(503, NO_LISTS, { 'Retry-After': '300' });
    const e = m
      .lists()
      .find((x) => x.account === l.account && (x.list === l.list || x.list === `${l.account}/${l.list}`));
    if (!e) throw d.fail(404, `There is no list ${l.list} here.`);
    return { m, name: e.list };
  };
  const roleOf = (l: PublicList, address: string) => {
    const { m, name } = mod(l);
    return m.role(name, address);
  };
  const base = (l: PublicList) => `/l/${encodeURIComponent(l.list)}`;

  const form = async (req: IncomingMessage): Promise<URLSearchParams> => {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    const body = await d.readBody(req);
    if (type !== 'application/x-www-form-urlencoded')
      throw d.fail(415, 'Send the form as the page does (application/x-www-form-urlencoded).');
    return new URLSearchParams(body.toString('utf8'));
  };
  /** A POST from another site's page is refused before anything else (CSRF). */
  const sameSite = (req: IncomingMessage) => {
    const host = String(req.headers.host ?? '');
    const why = crossSite(req, [d.origin(), `http://${host}`, `https://${host}`]);
    if (why) {
      d.log.info({ url: req.url, origin: req.headers.origin }, `a cross-site form was refused: ${why}`);
      throw d.fail(403, `Refused: ${why}. Use the form on this site's own page.`);
    }
  };
  const limited = (req: IncomingMessage, address: string) => {
    const c = cfg().lists;
    clients.set(c.perClient, c.per);
    addresses.set(c.perAddress, c.per);
    const ip = clientAddress(req);
    const a = clients.take([`ip:${ip}`]);
    const b = a.ok ? addresses.take([`to:${address.trim().toLowerCase()}`]) : a;
    if (b.ok) return;
    d.log.info({ client: ip }, 'a list form was refused: too many requests');
    throw d.fail(
      429,
      `Too many requests from here or for this address. Nothing was sent; try again in ${minutes(b.retryAfterMs)}.`,
      { 'Retry-After': String(Math.ceil(b.retryAfterMs / 1000)) },
    );
  };

  // ---- the public pages ----

  const indexPage = () => {
    const ls = shown();
    const items = ls
      .map(
        (l) =>
          `<li><a href="${escapeHtml(base(l))}"><strong>${escapeHtml(l.list)}</strong></a> — ${escapeHtml(l.address)}${l.description ? `<br><span class="desc">${escapeHtml(visible(l.description))}</span>` : ''}</li>`,
      )
      .join('\n');
    return page({
      title: 'Mailing lists',
      site: cfg().title,
      body: `<h1>Mailing lists</h1>\n${ls.length ? `<ul class="lists">\n${items}\n</ul>` : '<p>No mailing list is served here.</p>'}`,
    });
  };

  const subscribeForm = (l: PublicList) =>
    `<form class="subscribe" method="post" action="${escapeHtml(base(l))}/subscribe"><label>Your address <input type="email" name="address" required maxlength="254" autocomplete="email"></label> <button type="submit">Subscribe</button></form>`;

  const listPage = (l: PublicList & { archive: string }) =>
    page({
      title: l.list,
      site: cfg().title,
      body: `<h1>${escapeHtml(l.list)}</h1>
${l.description ? `<p class="desc">${escapeHtml(visible(l.description))}</p>\n` : ''}<dl class="list">
<dt>Address</dt><dd>${escapeHtml(l.address)}</dd>
<dt>Posting</dt><dd>${escapeHtml(l.posting)}</dd>
<dt>Archive</dt><dd><a href="${escapeHtml(l.archive)}">${escapeHtml(l.archive)}</a></dd>
</dl>
<h2>Subscribe</h2>
<p>We mail you a message to confirm; nothing happens until you answer it.</p>
${subscribeForm(l)}
<p>Or send any mail to ${escapeHtml(l.join)}. To leave, send any mail to ${escapeHtml(l.leave)}, or use the link at the foot of every list mail. Commands and help: ${escapeHtml(l.request)}. The owners: ${escapeHtml(l.owner)}.</p>
<p class="owner"><a href="${escapeHtml(base(l))}/owner">Owner page</a></p>`,
    });

  const subscribe = async (req: IncomingMessage, res: ServerResponse, l: PublicList) => {
    sameSite(req);
    const f = await form(req);
    const address = (f.get('address') ?? '').trim();
    if (!address) throw d.fail(400, 'Write your mail address in the form.');
    limited(req, address);
    // A banned address gets the same answer, and no mail (the mail side decides).
    const r = await svc().subscribe(l.account, l.list, address);
    if (!r.ok) throw d.fail(r.code === 'invalid' ? 400 : 503, `Nothing was sent: ${r.reason}.`);
    // The same words whether the address is subscribed already or not: the mail tells which.
    return d.html(
      res,
      200,
      messagePage(
        cfg().title,
        'Check your mail',
        `<p>A message about <strong>${escapeHtml(l.address)}</strong> is on its way to <strong>${escapeHtml(address)}</strong>. If the address is not subscribed yet, it asks you to confirm: answer it to join. Nothing changes until you do.</p>
<p>Nothing arrived? Look in your spam folder. Within a day, another request for the same address sends no new message.</p>
<p><a href="${escapeHtml(base(l))}">Back to ${escapeHtml(l.list)}</a></p>`,
      ),
      { 'Cache-Control': 'no-store' },
    );
  };

  // ---- the owner page ----

  const cookieHeader = (req: IncomingMessage, l: PublicList, value: string, maxAgeS: number) =>
    `${COOKIE}=${value}; Path=${base(l)}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${overHttps(req, cfg().publicUrl) ? '; Secure' : ''}`;

  /** The session of this request for this list, with the role its address has now (owners may change on reload). */
  const sessionOf = (
    req: IncomingMessage,
    l: PublicList,
  ): { id: string; s: Session; role: ModeratorRole } | undefined => {
    const id = cookie(req, COOKIE);
    const s = d.auth.session(id);
    if (!id || !s || s.account !== l.account || s.list !== l.list) return undefined;
    const role = roleOf(l, s.address);
    return role ? { id, s, role } : undefined;
  };

  const loginForm = (l: PublicList, problem?: string) =>
    page({
      title: `${l.list}: owner page`,
      site: cfg().title,
      body: `<h1>Owner page of ${escapeHtml(l.list)}</h1>
${problem ? `<p class="problem">${escapeHtml(problem)}</p>\n` : ''}<p>Owners and moderators of ${escapeHtml(l.address)} log in with a link sent by mail; there is no password.</p>
<form class="login" method="post" action="${escapeHtml(base(l))}/owner/link"><label>Your address <input type="email" name="address" required maxlength="254" autocomplete="email"></label> <button type="submit">Mail me a login link</button></form>`,
    });

  const askLink = async (req: IncomingMessage, res: ServerResponse, l: PublicList) => {
    sameSite(req);
    const f = await form(req);
    const address = (f.get('address') ?? '').trim().toLowerCase();
    if (!address) throw d.fail(400, 'Write your mail address in the form.');
    limited(req, address);
    const s = svc();
    const valid = cfg().lists.loginExpire;
    if (roleOf(l, address)) {
      const token = d.auth.link({ account: l.account, list: l.list, address }, valid);
      const link = `${d.origin()}${base(l)}/owner/login?t=${encodeURIComponent(token)}`;
      // Not awaited: the answer comes as fast for an owner as for anyone else.
      s.sendLoginLink(l.account, l.list, address, link, valid).catch((err: Error) =>
        d.log.error({ err, list: l.list }, `the owner page's login link could not be mailed: ${err.message}`),
      );
    } else d.log.info({ list: l.list }, `a login link for ${l.list} was asked for an address that does not run it`);
    return d.html(
      res,
      200,
      messagePage(
        cfg().title,
        'Check your mail',
        `<p>If <strong>${escapeHtml(address)}</strong> is an owner or moderator of ${escapeHtml(l.address)}, a login link is on its way to it. It works once, within ${minutes(valid)}.</p>`,
      ),
      { 'Cache-Control': 'no-store' },
    );
  };

  /** GET of a login link: asks before it logs in, so that a mail scanner following the link does not use it up. */
  const loginPage = (res: ServerResponse, l: PublicList, token: string) => {
    const c = d.auth.check(token, l.list);
    if ('problem' in c) return d.html(res, 403, loginForm(l, `${c.problem}.`), { 'Cache-Control': 'no-store' });
    return d.html(
      res,
      200,
      page({
        title: `${l.list}: log in`,
        site: cfg().title,
        body: `<h1>Owner page of ${escapeHtml(l.list)}</h1>
<p>Log in as <strong>${escapeHtml(c.address)}</strong>?</p>
<form class="confirm" method="post" action="${escapeHtml(base(l))}/owner/login">${hidden('t', token)}<button type="submit">Log in</button></form>`,
      }),
      { 'Cache-Control': 'no-store' },
    );
  };

  const login = async (req: IncomingMessage, res: ServerResponse, l: PublicList) => {
    sameSite(req);
    const f = await form(req);
    const c = d.auth.use(f.get('t') ?? '', l.list);
    const refuse = (why: string) => {
      d.log.info({ list: l.list }, `an owner login to ${l.list} was refused: ${why}`);
      return d.html(res, 403, loginForm(l, `${why}.`), { 'Cache-Control': 'no-store' });
    };
    if ('problem' in c) return refuse(c.problem);
    if (c.account !== l.account) return refuse('this login link is for another list');
    if (!roleOf(l, c.address)) return refuse(`${c.address} no longer runs ${l.list}`);
    const ttl = cfg().lists.session;
    const id = d.auth.open({ account: l.account, list: l.list, address: c.address }, ttl);
    d.log.info({ list: l.list, address: c.address }, `${c.address} logged in to the owner page of ${l.list}`);
    res.writeHead(303, {
      Location: `${base(l)}/owner`,
      'Set-Cookie': cookieHeader(req, l, id, Math.floor(ttl / 1000)),
      'Cache-Control': 'no-store',
      'Content-Length': '0',
    });
    res.end();
  };

  const ownerPage = async (l: PublicList, who: { id: string; s: Session; role: ModeratorRole }) => {
    const s = svc();
    const csrf = hidden('csrf', who.s.csrf);
    const act = `${escapeHtml(base(l))}/owner/act`;
    const button = (what: string, label: string, extra = '') =>
      `<form class="act" method="post" action="${act}">${csrf}${hidden('do', what)}${extra}<button type="submit">${label}</button></form>`;
    if (who.s.flash) d.auth.flash(who.id, null);
    const { m, name } = mod(l);
    const list = m.held(name);
    const held = [];
    for (const h of 'ok' in list ? [] : list) {
      const p = await m.heldPost(name, h.id);
      held.push({ ...h, excerpt: p.ok ? p.text.slice(0, 2000) : '' });
    }
    const owner = who.role === 'owner';
    const heldHtml = held.length
      ? held
          .map(
            (
              h,
            ) => `<li class="held" id="held-${h.id}"><p><strong>#${h.id}</strong> from <strong>${escapeHtml(h.sender)}</strong>, ${escapeHtml(when(h.received))}: ${escapeHtml(visible(h.subject || '(no subject)'))}<br><span class="why">held: ${escapeHtml(h.reason)}</span></p>
<pre class="excerpt">${escapeHtml(visible(h.excerpt))}</pre>
<div class="actions">${button('approve', 'Approve', hidden('id', String(h.id)))}${button('discard', 'Discard', hidden('id', String(h.id)))}${button('reject', 'Reject', `${hidden('id', String(h.id))}<input type="text" name="reason" placeholder="reason (sent to the sender)" maxlength="300">`)}${owner ? button('ban', 'Discard and ban the sender', hidden('id', String(h.id))) : ''}</div></li>`,
          )
          .join('\n')
      : '';
    let body = `<h1>Owner page of ${escapeHtml(l.list)}</h1>
<p class="who">Logged in as <strong>${escapeHtml(who.s.address)}</strong> (${who.role}). ${button('logout', 'Log out')}</p>
${who.s.flash ? `<p class="flash">${escapeHtml(who.s.flash)}</p>\n` : ''}<h2>Held posts (${held.length})</h2>
${held.length ? `<ul class="held">\n${heldHtml}\n</ul>` : '<p>No post waits for a decision.</p>'}`;
    if (owner) {
      const members = s.members(l.account, l.list);
      const bans = m.bans(name, who.s.address);
      const banRows = 'ok' in bans ? [] : bans;
      const modeForm = (m: { address: string; mode: string }) =>
        `<form class="act mode" method="post" action="${act}">${csrf}${hidden('do', 'set-mode')}${hidden('address', m.address)}<select name="mode" aria-label="mode of ${escapeHtml(m.address)}">${MODES.map((x) => `<option value="${x}"${m.mode === x || (x === 'nomail' && m.mode.startsWith('nomail')) ? ' selected' : ''}>${x}</option>`).join('')}</select><button type="submit">Set</button></form>`;
      const rows = members
        .map(
          (m) =>
            `<tr><td>${escapeHtml(m.address)}${m.name ? ` (${escapeHtml(visible(m.name))})` : ''}</td><td><span class="mode">${escapeHtml(m.mode)}</span>${m.receiving ? '' : ' — <strong>delivery off (bounces)</strong>'}${modeForm(m)}</td><td>${m.bounceScore}${m.lastBounce ? ` (last ${escapeHtml(when(m.lastBounce))})` : ''}</td><td>${escapeHtml(when(m.since))}</td><td>${button('remove', 'Remove', hidden('address', m.address))}${m.receiving ? '' : button('add', 'Send again', hidden('address', m.address))}</td></tr>`,
        )
        .join('\n');
      const problems = s.problems(l.account, l.list, 30);
      const endpoint = `${l.account}/${l.list}`;
      const q = d.status().outbox.find((o) => o.endpoint === endpoint);
      body += `
<h2>Subscribers (${members.length})</h2>
<form class="act add" method="post" action="${act}">${csrf}${hidden('do', 'add')}<label>Add <input type="email" name="address" required maxlength="254"></label> <button type="submit">Add (no confirmation)</button></form>
${members.length ? `<table class="members"><thead><tr><th>address</th><th>mode</th><th>bounce score</th><th>since</th><th></th></tr></thead><tbody>\n${rows}\n</tbody></table>` : '<p>No subscribers yet.</p>'}
<h2>Bans (${banRows.length})</h2>
<p>A banned address cannot subscribe or post, and gets no robot mail. Patterns: <code>*@spam.example</code>, or a regular expression between slashes.</p>
<form class="act ban" method="post" action="${act}">${csrf}${hidden('do', 'ban-pattern')}<label>Ban <input type="text" name="pattern" required maxlength="300"></label> <button type="submit">Ban</button></form>
${
  banRows.length
    ? `<ul class="bans">\n${banRows
        .map(
          (b) =>
            `<li><code>${escapeHtml(b.pattern)}</code> (${b.scope === 'account' ? 'every list of this server' : 'this list'}${b.source === 'config' ? ', in the config file' : b.by ? `, by ${escapeHtml(b.by)}` : ''}) ${b.source === 'added' && b.scope === 'list' ? button('unban', 'Lift', hidden('pattern', b.pattern)) : ''}</li>`,
        )
        .join('\n')}\n</ul>`
    : ''
}
<h2>Remove a post from the archive</h2>
<form class="act" method="post" action="${act}">${csrf}${hidden('do', 'remove-post')}<label>Message-ID or link <input type="text" name="post" required maxlength="1000"></label> <label>Reason (shown on its page) <input type="text" name="reason" maxlength="300"></label> <button type="submit">Remove</button></form>
<h2>Delivery problems</h2>
<p>${q ? `${q.pending} post${q.pending === 1 ? '' : 's'} waiting to go out to the list, ${q.dead} undeliverable (dead letters: the server's operator sees them with <code>peerpost outbox --dead</code>).` : 'Nothing waits to go out to the list.'}</p>
${
  problems.length
    ? `<table class="problems"><thead><tr><th>when</th><th>address</th><th>what</th><th>score</th></tr></thead><tbody>\n${problems
        .map(
          (p) =>
            `<tr><td>${escapeHtml(when(p.at))}</td><td>${escapeHtml(p.address)}</td><td>${escapeHtml(visible(p.reason))}</td><td>${p.score}${p.disabled ? ' — delivery off' : ''}</td></tr>`,
        )
        .join('\n')}\n</tbody></table>`
    : '<p>No bounces in the last 30 days.</p>'
}`;
    }
    return page({ title: `${l.list}: owner page`, site: cfg().title, body });
  };

  /** The id of a post named by its Message-ID (with or without <>) or by a link to it (/p/ID). */
  const postIdOf = (text: string): string => {
    let t = text.trim();
    const m = /\/p\/([^?#\s]+)/.exec(t);
    if (m) {
      try {
        t = decodeURIComponent(m[1]!);
      } catch {
        t = m[1]!;
      }
    }
    return t.replace(/^<(.*)>$/, '$1');
  };

  const act = async (req: IncomingMessage, res: ServerResponse, l: PublicList) => {
    sameSite(req);
    const f = await form(req);
    const who = sessionOf(req, l);
    if (!who) throw d.fail(403, 'You are not logged in to this owner page (or the session ended): ask for a new link.');
    if (!sameToken(f.get('csrf') ?? '', who.s.csrf)) {
      d.log.info({ list: l.list }, 'an owner form without its CSRF token was refused');
      throw d.fail(403, 'Refused: the form is not from this session (reload the owner page and try again).');
    }
    const s = svc();
    const by = who.s.address;
    const what = f.get('do') ?? '';
    const done = (text: string) => {
      d.auth.flash(who.id, text);
      res.writeHead(303, { Location: `${base(l)}/owner`, 'Cache-Control': 'no-store', 'Content-Length': '0' });
      res.end();
    };
    if (what === 'logout') {
      d.auth.close(who.id);
      res.writeHead(303, {
        Location: `${base(l)}/owner`,
        'Set-Cookie': cookieHeader(req, l, '', 0),
        'Cache-Control': 'no-store',
        'Content-Length': '0',
      });
      return res.end();
    }
    const { m, name } = mod(l);
    if (what === 'ban' && who.role !== 'owner')
      throw d.fail(403, 'Moderators decide held posts; banning is for the owners.');
    if (what === 'approve' || what === 'reject' || what === 'discard' || what === 'ban') {
      const id = Number(f.get('id'));
      if (!Number.isInteger(id) || id <= 0) throw d.fail(400, 'Which held post? (the form lost its number)');
      const r = await m.decide(name, id, what, { reason: (f.get('reason') ?? '').trim(), by });
      return done(r.ok ? `Post #${id}: ${r.summary}.` : `Nothing was done: ${r.reason}.`);
    }
    if (who.role !== 'owner') throw d.fail(403, 'Moderators decide held posts; the rest is for the owners.');
    if (what === 'ban-pattern' || what === 'unban') {
      const pattern = (f.get('pattern') ?? '').trim();
      const r = what === 'ban-pattern' ? m.ban(name, pattern, by) : m.unban(name, pattern, by);
      if (!r.ok) return done(`Nothing was done: ${r.reason}.`);
      return done(
        what === 'ban-pattern'
          ? r.changed
            ? `${pattern} is banned from ${l.list}.`
            : `${pattern} was banned already.`
          : r.changed
            ? `The ban of ${pattern} is lifted.`
            : `${pattern} was not banned.`,
      );
    }
    if (what === 'set-mode') {
      const address = f.get('address') ?? '';
      const mode = f.get('mode') ?? '';
      if (!MODES.includes(mode)) throw d.fail(400, `"${mode.slice(0, 40)}" is not a mode: ${MODES.join(', ')}.`);
      const r = s.setMode(l.account, l.list, address, mode, by);
      return done(r.ok ? r.text : `Nothing was done: ${r.reason}.`);
    }
    if (what === 'add' || what === 'remove') {
      const address = f.get('address') ?? '';
      const r =
        what === 'add' ? s.addMember(l.account, l.list, address, by) : s.removeMember(l.account, l.list, address, by);
      return done(r.ok ? r.text : `Nothing was done: ${r.reason}.`);
    }
    if (what === 'remove-post') {
      const id = postIdOf(f.get('post') ?? '');
      const p = id ? d.posts.get(id) : undefined;
      if (!p || p.bridge !== l.bridge) return done(`Nothing was removed: no post <${id}> in the archive of ${l.list}.`);
      const reason = (f.get('reason') ?? '').trim() || `removed by the owners of ${l.list}`;
      const r = d.remove([p.id], reason);
      d.log.info({ list: l.list, id: p.id, by }, `post <${p.id}> removed from the archive by ${by} (owner page)`);
      return done(
        r.removed.length
          ? `Post <${p.id}> removed from the archive: ${reason}.`
          : `Post <${p.id}> was removed already.`,
      );
    }
    throw d.fail(400, `Unknown action "${what.slice(0, 40)}".`);
  };

  // A member's preferences page (the footer's settings link): ./list-prefs.ts.
  const prefs = createPrefsPages(d, {
    base,
    form,
    sameSite,
    unavailable: () => d.fail(503, NO_LISTS, { 'Retry-After': '300' }),
  });

  /** Routes under /l; false when the path is not one of them. */
  const handle = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const only = (...methods: string[]) => {
      if (!methods.includes(method) && !(method === 'HEAD' && methods.includes('GET')))
        throw d.fail(405, `${method} is not allowed here (only ${methods.join(', ')})`, { Allow: methods.join(', ') });
    };
    if (path === '/l' || path === '/l/') {
      only('GET');
      d.html(res, 200, indexPage());
      return true;
    }
    const m = /^\/l\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return false;
    let name: string;
    try {
      name = decodeURIComponent(m[1]!);
    } catch {
      throw d.fail(404, 'There is no such list here.');
    }
    const rest = m[2] ?? '';
    const l = listOf(name);
    switch (rest) {
      case '':
      case '/':
        only('GET');
        d.html(res, 200, listPage(l));
        return true;
      case '/subscribe':
        only('POST');
        await subscribe(req, res, l);
        return true;
      case '/owner': {
        only('GET');
        const who = sessionOf(req, l);
        d.html(res, 200, who ? await ownerPage(l, who) : loginForm(l), { 'Cache-Control': 'no-store' });
        return true;
      }
      case '/owner/link':
        only('POST');
        await askLink(req, res, l);
        return true;
      case '/owner/login':
        only('GET', 'POST');
        if (method === 'POST') await login(req, res, l);
        else loginPage(res, l, url.searchParams.get('t') ?? '');
        return true;
      case '/owner/act':
        only('POST');
        await act(req, res, l);
        return true;
      case '/prefs':
        only('GET', 'POST');
        if (method === 'POST') await prefs.save(req, res, l);
        else prefs.show(res, l, url.searchParams.get('t') ?? '');
        return true;
      default:
        throw d.fail(404, 'There is no such page here.');
    }
  };

  return {
    handle,
    close: () => clearInterval(sweep),
  };
}
