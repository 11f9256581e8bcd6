/**
 * The mailing lists on the web, with the real mail and web plugins in one daemon, aiosmtpd as the smarthost
 * (a Maildir), swaks for mail in, and headless Chromium for the forms:
 * - /l and /l/commons; the subscribe form in a browser sends the confirmation mail (the mailed join's token and
 *   text), and confirming it by mail subscribes;
 * - the same answer for a subscribed and an unsubscribed address; a subscribe flood against one address, and
 *   one client's flood, get 429 with nothing sent;
 * - the owner page in a browser: a login link mailed to the owner, followed, a held post approved, and the post
 *   delivered to the subscribers;
 * - security: a forged, a replayed and another list's login link refused; no mail for a non-owner (the same
 *   answer); a cross-site POST (no or a wrong CSRF token, a foreign Origin, Sec-Fetch-Site: cross-site)
 *   refused; the cookie HttpOnly, SameSite=Strict, Secure behind an HTTPS proxy; a moderator-less list's owner
 *   page lists subscribers, removes a post from the archive (410 on its page);
 * - a member's preferences page: the settings link of a list mail received at aiosmtpd, followed in Chromium,
 *   switched to digest, saved (the CLI agrees, and the owner page shows the mode and sets it back); a GET (a mail
 *   scanner) changes nothing; a list the web does not serve keeps the by-mail words in its footer;
 * - held posts decided on the owner page (reject with its reason to the sender, discard telling no one, ban), a
 *   ban pattern added there refusing a web subscription silently; a moderator's session decides held posts but is
 *   refused a ban or a subscriber change;
 * - a subscriber the smarthost refuses (550) shows under the owner page's delivery problems, with a bounce score;
 * - security of that page: a forged or altered link, another list's link, the link of an address that has left
 *   (replayed from an old mail), a cross-site POST (no or another form token, a foreign Origin, Sec-Fetch-Site:
 *   cross-site) are refused and change nothing; the refusals read the same, telling nobody who is subscribed.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { world, cli, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import { startMaildirSink, freePort, type MaildirSink } from './mail-send-helpers.js';
import { ensureSwaks, swaks, header, messagesTo } from './mail-helpers.js';
import { launchChromium } from '../peers/chromium.js';
import type { Browser } from 'playwright-core';

const D = 'lists.test.example';
const OWNER = 'owner@example.org';
const OTHER_OWNER = 'boss@example.org';
const MOD = 'mod@example.org';

let sink: MaildirSink;
let w: World;
let daemon: Running;
let smtpPort: number;
let webPort: number;
let base: string;
let browser: Browser;

/** The text of a mail, its quoted-printable undone. */
const bodyOf = (m: string) =>
  m
    .slice(m.indexOf('\n\n') + 2)
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
const mailTo = (addr: string) => messagesTo(sink, addr);
const loginLinks = (addr: string) =>
  mailTo(addr)
    .map((m) => /(http:\/\/\S+\/owner\/login\?t=\S+)/.exec(bodyOf(m))?.[1])
    .filter((x): x is string => x !== undefined);
const prefsLinks = (addr: string) =>
  mailTo(addr)
    .map((m) => /(http:\/\/\S+\/l\/[^/\s]+\/prefs\?t=\S+)/.exec(bodyOf(m))?.[1])
    .filter((x): x is string => x !== undefined);
/** A member's settings as the CLI shows them. */
const settingsOf = async (list: string, address: string) => {
  const r = await cli(['subscribers', list, 'show', address, '--json', '-c', w.config]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { settings: { mode: string; digestFormat: string; ownPosts: boolean } }).settings;
};
/** Post to a list by mail (swaks) and wait for it at `to`; the mail as received. */
async function postAndReceive(list: string, from: string, to: string, id: string): Promise<string> {
  const s = await swaks(smtpPort, [
    '--from',
    from,
    '--to',
    `${list}@${D}`,
    '--header',
    `Subject: about ${id}`,
    '--header',
    `Message-Id: <${id}>`,
    '--body',
    `a post (${id})`,
  ]);
  assert.ok(
    s.replies.some((x) => /^250 .*posted/.test(x)),
    s.out,
  );
  return until(() => mailTo(to).find((m) => header(m, 'Message-ID')[0] === `<${id}>`), `<${id}> at ${to}`, 15_000);
}
const subscribers = async (list: string) => {
  const r = await cli(['subscribers', list, 'list', '--json', '-c', w.config]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { address: string }[]).map((s) => s.address);
};

/** A form POST as a browser on this site sends it (or as told). */
const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });

/** Ask for a login link for `address` on `list` and wait for it in the sink. */
async function mailedLink(list: string, address: string): Promise<string> {
  const before = loginLinks(address).length;
  const r = await post(`/l/${list}/owner/link`, { address }, { 'x-forwarded-for': '198.51.100.50' });
  assert.equal(r.status, 200, await r.text());
  return until(() => loginLinks(address)[before], `the login link mailed to ${address}`, 15_000);
}

/** The owner's session (logged in by the login test, behind an HTTPS proxy), with the owner page's CSRF token. */
let session: { cookie: string; csrf: string; setCookie: string } | undefined;
async function sessionOf(r: Response, path: string) {
  const setCookie = r.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  const page = await (await fetch(`${base}${path}`, { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  assert.ok(csrf, page);
  return { cookie, csrf, setCookie };
}

describe('mailing lists on the web', () => {
  before(async () => {
    ensureSwaks();
    sink = await startMaildirSink();
    [smtpPort, webPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${webPort}`;
    w = world();
    w.writeConfig(`
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${smtpPort}
    limits: { messages: 1000 }
    smtp: { host: 127.0.0.1, port: ${sink.port}, fromRewrite: never }
  web.local:
    listen: 127.0.0.1:${webPort}
    lists: { perClient: 6, perAddress: 3, per: 1h }
bridges:
  commons:
    description: The commons discussion
    endpoints:
      - { endpoint: mail.test/commons, owners: [${OWNER}], moderators: [${MOD}] }
      - web.local/commons
  other:
    endpoints:
      - { endpoint: mail.test/other, owners: [${OTHER_OWNER}] }
      - web.local/other
  hidden:
    endpoints:
      - { endpoint: mail.test/hidden, owners: [${OWNER}] }
`);
    daemon = await startDaemon(w.config);
    for (const a of ['alice@example.org', 'bob@example.net']) {
      const r = await cli(['subscribers', 'commons', 'add', a, '-c', w.config]);
      assert.equal(r.code, 0, r.stderr);
    }
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await daemon?.stop();
    await sink?.stop();
    w?.cleanup();
  });

  test('/l lists the lists of the bridges the web serves; /l/commons shows how to post, the archive and a form', async () => {
    const index = await (await fetch(`${base}/l`)).text();
    assert.match(index, /href="\/l\/commons"/);
    assert.match(index, /href="\/l\/other"/);
    assert.doesNotMatch(index, /hidden/, 'a list whose bridge the web does not serve is not shown');
    assert.equal((await fetch(`${base}/l/hidden`)).status, 404);
    const r = await fetch(`${base}/l/commons`);
    assert.equal(r.status, 200);
    const page = await r.text();
    assert.match(page, /The commons discussion/);
    assert.match(page, new RegExp(`commons@${D.replace(/\./g, '\\.')}`));
    assert.match(page, /members post by writing to/);
    assert.match(page, /href="\/b\/commons"/);
    assert.match(page, /<form class="subscribe" method="post" action="\/l\/commons\/subscribe">/);
  });

  test('a browser subscribes with the form; the confirmation mail arrives, and confirming it subscribes', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/l/commons`);
    await page.fill('input[name=address]', 'carol@example.net');
    await page.click('form.subscribe button');
    await page.waitForSelector('h1:text("Check your mail")');
    assert.match((await page.textContent('main'))!, /carol@example\.net/);
    await page.close();
    const req = await until(
      () => mailTo('carol@example.net').find((m) => /^Subject: confirm [0-9a-f]{24}/m.test(m)),
      'the confirmation request',
      15_000,
    );
    const token = /^Subject: confirm ([0-9a-f]{24})/m.exec(req)![1]!;
    assert.match(bodyOf(req), /asked to subscribe carol@example\.net to the list commons@/);
    assert.ok(!(await subscribers('commons')).includes('carol@example.net'), 'not before confirming');
    const s = await swaks(smtpPort, ['--from', 'carol@example.net', '--to', `commons-confirm+${token}@${D}`]);
    assert.ok(
      s.replies.some((x) => /^250 /.test(x)),
      s.out,
    );
    assert.ok((await subscribers('commons')).includes('carol@example.net'));
  });

  test('the same answer whether the address is subscribed or not; a flood against one address gets 429', async () => {
    const ask = (address: string, ip: string) => post('/l/commons/subscribe', { address }, { 'x-forwarded-for': ip });
    const member = await ask('alice@example.org', '198.51.100.1');
    const stranger = await ask('dave@example.com', '198.51.100.2');
    assert.equal(member.status, 200);
    assert.equal(stranger.status, stranger.status);
    const a = (await member.text()).replaceAll('alice@example.org', 'ADDRESS');
    const b = (await stranger.text()).replaceAll('dave@example.com', 'ADDRESS');
    assert.equal(a, b);
    // The mail tells them apart, in private.
    await until(() => mailTo('alice@example.org').find((m) => /already subscribed/.test(m)), "alice's notice");
    await until(() => mailTo('dave@example.com').find((m) => /^Subject: confirm /m.test(m)), "dave's request");

    // One address, asked for from many clients: three per hour, then 429 and nothing sent.
    const victim = 'victim@example.com';
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await ask(victim, `203.0.113.${i + 1}`)).status);
    assert.deepEqual(codes, [200, 200, 200, 429, 429, 429]);
    const r = await ask(victim.toUpperCase(), '203.0.113.99');
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.match(
      await r.text(),
      /Too many requests from here or for this address\. Nothing was sent; try again in \d+ minutes?\./,
    );
    // The mail side sends one robot mail per address and day anyway.
    await until(() => mailTo(victim).length === 1, 'one confirmation request to the victim');
    // One client asking for many addresses: perClient (6) per hour.
    const many: number[] = [];
    for (let i = 0; i < 8; i++) many.push((await ask(`x${i}@example.com`, '192.0.2.7')).status);
    assert.deepEqual(many, [200, 200, 200, 200, 200, 200, 429, 429]);
    // A bad address is a 400 that says why (and is not counted as sent).
    const bad = await ask('not an address', '192.0.2.8');
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /is not a mail address/);
  });

  test('the owner page in a browser: log in by the mailed link, approve a held post, it reaches the subscribers', async () => {
    // A stranger's post to a members-only list is held.
    const s = await swaks(smtpPort, [
      '--from',
      'stranger@example.com',
      '--to',
      `commons@${D}`,
      '--header',
      'Subject: may I?',
      '--header',
      'Message-Id: <held.1@example.com>',
      '--body',
      'a post from outside',
    ]);
    assert.ok(
      s.replies.some((x) => /^250 .*held/.test(x)),
      s.out,
    );
    const page = await browser.newPage();
    await page.goto(`${base}/l/commons`);
    await page.click('text=Owner page');
    await page.fill('form.login input[name=address]', OWNER);
    await page.click('form.login button');
    await page.waitForSelector('h1:text("Check your mail")');
    const link = await until(() => loginLinks(OWNER)[0], 'the login link', 15_000);
    await page.goto(link);
    await page.click('form.confirm button');
    await page.waitForSelector('p.who');
    assert.match((await page.textContent('p.who'))!, new RegExp(`Logged in as ${OWNER} \\(owner\\)`));
    const c = (await page.context().cookies()).find((x) => x.name === 'peerpost_owner');
    assert.ok(c);
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(c.secure, false, 'over plain http the cookie cannot be Secure');
    assert.equal(c.path, '/l/commons');
    const held = page.locator('li.held', { hasText: 'may I?' });
    assert.match((await held.textContent())!, /a post from outside/);
    await held.locator('form.act:has(input[value=approve]) button').click();
    await page.waitForSelector('p.flash');
    assert.match((await page.textContent('p.flash'))!, /approved/);
    assert.equal(await page.locator('li.held', { hasText: 'may I?' }).count(), 0);
    await page.close();
    for (const a of ['alice@example.org', 'bob@example.net'])
      await until(
        () => mailTo(a).find((m) => header(m, 'Message-ID')[0] === '<held.1@example.com>'),
        `the approved post at ${a}`,
        15_000,
      );
  });

  test("login links: forged, replayed and another list's are refused; a non-owner gets the same answer and no mail", async () => {
    const link = await mailedLink('commons', OWNER);
    const u = new URL(link);
    const t = u.searchParams.get('t')!;
    // Forged: another signature; altered: another address in the claim.
    const forged = `${t.slice(0, -4)}${t.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const r1 = await post('/l/commons/owner/login', { t: forged });
    assert.equal(r1.status, 403);
    assert.match(await r1.text(), /not valid/);
    assert.equal(r1.headers.get('set-cookie'), null);
    const [payload, sig] = t.split('.');
    const altered = Buffer.from(
      Buffer.from(payload!, 'base64url').toString('utf8').replace(OWNER, 'mallory@example.org'),
    ).toString('base64url');
    assert.equal((await post('/l/commons/owner/login', { t: `${altered}.${sig}` })).status, 403);
    // Used once (here behind an HTTPS proxy, which makes the cookie Secure), then never again.
    const first = await post('/l/commons/owner/login', { t }, { 'x-forwarded-proto': 'https' });
    assert.equal(first.status, 303);
    assert.equal(first.headers.get('location'), '/l/commons/owner');
    session = await sessionOf(first, '/l/commons/owner');
    const again = await post('/l/commons/owner/login', { t });
    assert.equal(again.status, 403);
    assert.match(await again.text(), /used already/);
    // The owner of another list cannot use that list's link here.
    const otherLink = await mailedLink('other', OTHER_OWNER);
    const ot = new URL(otherLink).searchParams.get('t')!;
    const r3 = await post('/l/commons/owner/login', { t: ot });
    assert.equal(r3.status, 403);
    assert.match(await r3.text(), /another list/);
    // A stranger asking for a link gets the owner's answer, and no mail.
    const ans = async (address: string) =>
      (
        await (await post('/l/commons/owner/link', { address }, { 'x-forwarded-for': '198.51.100.60' })).text()
      ).replaceAll(address, 'ADDRESS');
    assert.equal(await ans('mallory@example.org'), await ans(OWNER));
    await until(() => loginLinks(OWNER).length >= 2, 'the second link');
    assert.equal(mailTo('mallory@example.org').length, 0);
  });

  test('cross-site POSTs are refused: no or a wrong CSRF token, a foreign Origin, Sec-Fetch-Site: cross-site', async () => {
    assert.ok(session, 'logged in by the test before');
    const { cookie, csrf, setCookie } = session;
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    assert.match(setCookie, /; Path=\/l\/commons/);
    assert.match(setCookie, /; Secure/, 'behind a proxy that says https');
    const add = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      post('/l/commons/owner/act', { do: 'add', address: 'erin@example.org', ...fields }, { cookie, ...headers });
    for (const [fields, headers] of [
      [{}, {}],
      [{ csrf: 'x'.repeat(csrf.length) }, {}],
      [{ csrf }, { origin: 'https://evil.example' }],
      [{ csrf }, { origin: 'null' }],
      [{ csrf }, { 'sec-fetch-site': 'cross-site' }],
      [{ csrf }, { 'sec-fetch-site': 'same-site' }],
    ] as [Record<string, string>, Record<string, string>][]) {
      const r = await add(fields, headers);
      assert.equal(r.status, 403, JSON.stringify({ fields, headers }));
      assert.match(await r.text(), /Refused/);
    }
    assert.ok(!(await subscribers('commons')).includes('erin@example.org'), 'nothing changed');
    // Without the session cookie, a good token does nothing either.
    const anon = await post('/l/commons/owner/act', { do: 'add', address: 'erin@example.org', csrf });
    assert.equal(anon.status, 403);
    // The page's own form works.
    const ok = await add({ csrf }, { origin: base, 'sec-fetch-site': 'same-origin' });
    assert.equal(ok.status, 303);
    assert.ok((await subscribers('commons')).includes('erin@example.org'));
    // The session is for commons only.
    const there = await (await fetch(`${base}/l/other/owner`, { headers: { cookie } })).text();
    assert.match(there, /Mail me a login link/);
  });

  test('an owner sees subscribers and bounce scores, removes one, and removes a post from the archive', async () => {
    assert.ok(session, 'logged in by the test before');
    const { cookie, csrf } = session;
    const s = await swaks(smtpPort, [
      '--from',
      'alice@example.org',
      '--to',
      `commons@${D}`,
      '--header',
      'Subject: oops',
      '--header',
      'Message-Id: <oops.1@example.org>',
      '--body',
      'something I should not have said',
    ]);
    assert.ok(
      s.replies.some((x) => /^250 .*posted/.test(x)),
      s.out,
    );
    const ownerPage = async () => (await fetch(`${base}/l/commons/owner`, { headers: { cookie } })).text();
    const page = await ownerPage();
    assert.match(page, /<h2>Subscribers \(\d+\)<\/h2>/);
    assert.match(page, /bob@example\.net<\/td><td><span class="mode">each<\/span><form class="act mode"/);
    assert.match(page, /<h2>Delivery problems<\/h2>/);
    const act = (fields: Record<string, string>) => post('/l/commons/owner/act', { csrf, ...fields }, { cookie });
    assert.equal((await act({ do: 'remove', address: 'bob@example.net' })).status, 303);
    assert.ok(!(await subscribers('commons')).includes('bob@example.net'));
    assert.match(await ownerPage(), /bob@example\.net removed/);
    // A post of another bridge cannot be removed from here; this list's can, by its link.
    assert.equal(
      (await act({ do: 'remove-post', post: `${base}/p/oops.1%40example.org`, reason: "at the poster's request" }))
        .status,
      303,
    );
    assert.match(await ownerPage(), /removed from the archive: at the poster&#39;s request/);
    const gone = await fetch(`${base}/p/oops.1%40example.org`);
    assert.equal(gone.status, 410);
    assert.match(await gone.text(), /at the poster&#39;s request/);
  });

  test('a member follows the settings link of a list mail in Chromium, switches to digest; saved, and the CLI agrees', async () => {
    const m = await postAndReceive('commons', 'alice@example.org', 'alice@example.org', 'prefs.1@example.org');
    assert.match(bodyOf(m), /Your settings \(digest, no mail, own posts\): http:\/\/\S+\/l\/commons\/prefs\?t=/);
    const link = prefsLinks('alice@example.org').at(-1)!;
    assert.ok(link.startsWith(`${base}/l/commons/prefs?t=`), link);
    // A mail scanner follows the link (even with words that look like a change): nothing changes.
    for (const url of [link, `${link}&mode=nomail`]) {
      const r = await fetch(url);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    }
    assert.equal((await settingsOf('commons', 'alice@example.org')).mode, 'each');

    const page = await browser.newPage();
    await page.goto(link);
    assert.match((await page.textContent('h1'))!, /Your settings on commons/);
    assert.match((await page.textContent('p.who'))!, /alice@example\.org/);
    assert.match((await page.textContent('#mode'))!, /^each/);
    await page.check('form.prefs input[name=mode][value=digest]');
    await page.selectOption('form.prefs select[name=digest]', 'plain');
    await page.click('form.prefs button');
    await page.waitForSelector('p.flash');
    assert.match((await page.textContent('p.flash'))!, /Saved/);
    assert.match((await page.textContent('#mode'))!, /^digest: the list's digest, daily at 06:00 UTC/);
    assert.match((await page.textContent('#digest'))!, /^plain/);
    assert.equal(await page.isChecked('form.prefs input[name=mode][value=digest]'), true, 'the form shows it too');
    await page.close();
    assert.deepEqual(await settingsOf('commons', 'alice@example.org'), {
      mode: 'digest',
      digestFormat: 'plain',
      nomailUntil: null,
      ownPosts: true,
    });
    // The owner page shows her mode, and sets it back with the words of `subscribers commons set`.
    assert.ok(session, 'logged in by the test before');
    const { cookie, csrf } = session;
    const owner = await (await fetch(`${base}/l/commons/owner`, { headers: { cookie } })).text();
    assert.match(owner, /alice@example\.org<\/td><td><span class="mode">digest plain<\/span>/);
    const r = await post(
      '/l/commons/owner/act',
      { csrf, do: 'set-mode', address: 'alice@example.org', mode: 'each' },
      { cookie },
    );
    assert.equal(r.status, 303);
    assert.equal((await settingsOf('commons', 'alice@example.org')).mode, 'each');
    assert.match(
      await (await fetch(`${base}/l/commons/owner`, { headers: { cookie } })).text(),
      /alice@example\.org gets each now \(the member is not told\)/,
    );
    const bad = await post(
      '/l/commons/owner/act',
      { csrf, do: 'set-mode', address: 'alice@example.org', mode: 'weekly' },
      { cookie },
    );
    assert.equal(bad.status, 400);
    assert.equal((await settingsOf('commons', 'alice@example.org')).mode, 'each');
  });

  test("a list the web does not serve keeps the footer's by-mail words", async () => {
    const add = await cli(['subscribers', 'hidden', 'add', 'alice@example.org', '-c', w.config]);
    assert.equal(add.code, 0, add.stderr);
    const m = await postAndReceive('hidden', 'alice@example.org', 'alice@example.org', 'hidden.1@example.org');
    assert.match(bodyOf(m), /Your settings \(digest, no mail, own posts\): write "help" to hidden-request@/);
    assert.doesNotMatch(bodyOf(m), /\/prefs\?t=/);
  });

  test("the preferences page refuses forged, altered, another list's and a left member's links, and cross-site POSTs", async () => {
    const link = prefsLinks('alice@example.org').find((l) => l.includes('/l/commons/'))!;
    const t = new URL(link).searchParams.get('t')!;
    const formOf = async (path: string) => {
      const html = await (await fetch(`${base}${path}`)).text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
      assert.ok(csrf, html);
      return csrf;
    };
    const csrf = await formOf(`/l/commons/prefs?t=${encodeURIComponent(t)}`);
    const save = (fields: Record<string, string>, headers: Record<string, string> = {}, list = 'commons') =>
      post(`/l/${list}/prefs`, { mode: 'nomail', digest: 'plain', ownposts: 'off', ...fields }, headers);
    const unchanged = async () =>
      assert.deepEqual(await settingsOf('commons', 'alice@example.org'), {
        mode: 'each',
        digestFormat: 'plain',
        nomailUntil: null,
        ownPosts: true,
      });
    /** A refusal's page with the link's particulars taken out: they must all read the same. */
    const refusal = async (r: Response) => {
      assert.equal(r.status, 403);
      return (await r.text()).replace(/<p class="problem">.*<\/p>/, '');
    };

    // Forged (another signature) and altered (another address under alice's signature): GET and POST.
    const forged = `${t.slice(0, -4)}${t.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const [payload, sig] = t.split('.');
    const altered = `${Buffer.from(Buffer.from(payload!, 'base64url').toString('utf8').replace('alice@example.org', 'bob@example.net')).toString('base64url')}.${sig}`;
    const forgedPage = await refusal(await fetch(`${base}/l/commons/prefs?t=${encodeURIComponent(forged)}`));
    assert.match(forgedPage, /This settings link does not work/);
    assert.match(forgedPage, /Nothing was changed/);
    assert.equal(await refusal(await fetch(`${base}/l/commons/prefs?t=${encodeURIComponent(altered)}`)), forgedPage);
    assert.equal(await refusal(await fetch(`${base}/l/commons/prefs`)), forgedPage, 'no token at all');
    assert.equal(await refusal(await save({ t: forged, csrf })), forgedPage);
    assert.equal(await refusal(await save({ t: altered, csrf })), forgedPage);
    await unchanged();

    // Another list's link: alice's link from a mail of `other` does nothing on commons (nor on other, from here).
    assert.equal((await cli(['subscribers', 'other', 'add', 'alice@example.org', '-c', w.config])).code, 0);
    await postAndReceive('other', 'alice@example.org', 'alice@example.org', 'other.1@example.org');
    const otherLink = prefsLinks('alice@example.org').find((l) => l.includes('/l/other/'))!;
    const ot = new URL(otherLink).searchParams.get('t')!;
    assert.equal(await refusal(await fetch(`${base}/l/commons/prefs?t=${encodeURIComponent(ot)}`)), forgedPage);
    const otherCsrf = await formOf(`/l/other/prefs?t=${encodeURIComponent(ot)}`);
    assert.equal(await refusal(await save({ t: ot, csrf: otherCsrf })), forgedPage);
    assert.equal(await refusal(await save({ t, csrf }, {}, 'other')), forgedPage.replaceAll('commons', 'other'));
    await unchanged();
    assert.equal((await settingsOf('other', 'alice@example.org')).mode, 'each');

    // Replayed from an old mail after the member left: refused, reads like a forged link, and resubscribes nobody.
    const c = await postAndReceive('commons', 'alice@example.org', 'carol@example.net', 'prefs.2@example.org');
    assert.match(bodyOf(c), /\/l\/commons\/prefs\?t=/);
    const ct = new URL(prefsLinks('carol@example.net').at(-1)!).searchParams.get('t')!;
    const carolCsrf = await formOf(`/l/commons/prefs?t=${encodeURIComponent(ct)}`);
    assert.equal((await cli(['subscribers', 'commons', 'remove', 'carol@example.net', '-c', w.config])).code, 0);
    const left = await refusal(await fetch(`${base}/l/commons/prefs?t=${encodeURIComponent(ct)}`));
    assert.equal(left, forgedPage, 'the page says nothing of whether the address is subscribed');
    assert.equal(await refusal(await save({ t: ct, csrf: carolCsrf })), forgedPage);
    assert.ok(!(await subscribers('commons')).includes('carol@example.net'));

    // Cross-site POSTs with alice's good link: no form token, another link's, one altered, a foreign Origin,
    // Sec-Fetch-Site: cross-site.
    for (const [fields, headers] of [
      [{ t }, {}],
      [{ t, csrf: otherCsrf }, {}],
      [{ t, csrf: csrf.replace(/^\d+/, (n) => String(Number(n) + 86_400_000)) }, {}],
      [{ t, csrf }, { origin: 'https://evil.example' }],
      [{ t, csrf }, { 'sec-fetch-site': 'cross-site' }],
    ] as [Record<string, string>, Record<string, string>][]) {
      const r = await save(fields, headers);
      assert.equal(r.status, 403, JSON.stringify({ fields, headers }));
      assert.match(await r.text(), /Refused/);
    }
    await unchanged();
    // The page's own form, as a browser on this site sends it, works.
    const ok = await save({ t, csrf }, { origin: base, 'sec-fetch-site': 'same-origin' });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /Saved: these are your settings now/);
    assert.deepEqual(await settingsOf('commons', 'alice@example.org'), {
      mode: 'nomail',
      digestFormat: 'plain',
      nomailUntil: null,
      ownPosts: false,
    });
  });

  test('on the owner page: reject with a reason, discard, ban; a banned pattern; a moderator decides but may not ban', async () => {
    assert.ok(session, 'logged in by the test before');
    const { cookie, csrf } = session;
    const hold = async (from: string, subj: string) => {
      const s = await swaks(smtpPort, ['--from', from, '--to', `commons@${D}`, '--header', `Subject: ${subj}`]);
      assert.ok(
        s.replies.some((x) => /^250 .*held/.test(x)),
        s.out,
      );
    };
    const heldId = async (subj: string, c = cookie) => {
      const page = await (await fetch(`${base}/l/commons/owner`, { headers: { cookie: c } })).text();
      const li = page.split('<li class="held"').find((x) => x.includes(subj));
      return li ? /name="id" value="(\d+)"/.exec(li)![1]! : undefined;
    };
    const act = (fields: Record<string, string>, c = cookie, token = csrf) =>
      post('/l/commons/owner/act', { csrf: token, ...fields }, { cookie: c });
    await hold('rej@example.com', 'reject me');
    await hold('dis@example.com', 'discard me');
    await hold('spam@example.com', 'ban me');

    // The owner rejects with a reason: the sender is told it.
    const rej = (await until(() => heldId('reject me'), 'the held post on the page'))!;
    assert.equal((await act({ do: 'reject', id: rej, reason: 'not for this list' })).status, 303);
    await until(
      () => mailTo('rej@example.com').find((m) => /not accepted by the owners: not for this list/.test(bodyOf(m))),
      'the rejection with its reason',
      15_000,
    );

    // A moderator logs in by the mailed link: may discard, may not ban nor manage subscribers.
    const modLink = await mailedLink('commons', MOD);
    const r = await post('/l/commons/owner/login', { t: new URL(modLink).searchParams.get('t')! });
    assert.equal(r.status, 303);
    const mod = await sessionOf(r, '/l/commons/owner');
    const modPage = await (await fetch(`${base}/l/commons/owner`, { headers: { cookie: mod.cookie } })).text();
    assert.match(modPage, /\(moderator\)/);
    assert.doesNotMatch(modPage, /Discard and ban the sender/, 'no ban button for a moderator');
    const ban = (await heldId('ban me'))!;
    const modBan = await act({ do: 'ban', id: ban }, mod.cookie, mod.csrf);
    assert.equal(modBan.status, 403);
    assert.equal((await act({ do: 'add', address: 'friend@example.org' }, mod.cookie, mod.csrf)).status, 403);
    assert.ok(!(await subscribers('commons')).includes('friend@example.org'));
    const dis = (await heldId('discard me', mod.cookie))!;
    assert.equal((await act({ do: 'discard', id: dis }, mod.cookie, mod.csrf)).status, 303);
    assert.equal(await heldId('discard me'), undefined, 'discarded');

    // The owner bans the sender of a held post, and a pattern.
    assert.equal((await act({ do: 'ban', id: ban })).status, 303);
    assert.equal((await act({ do: 'ban-pattern', pattern: '*@pests.example' })).status, 303);
    const page = await (await fetch(`${base}/l/commons/owner`, { headers: { cookie } })).text();
    assert.equal(await heldId('ban me'), undefined);
    assert.match(page, /<code>spam@example\.com<\/code> \(this list, by owner@example\.org\)/);
    assert.match(page, /<code>\*@pests\.example<\/code> \(this list, by owner@example\.org\)/);
    const bans = await cli(['bans', 'commons', '-c', w.config]);
    assert.match(bans.stdout, /\*@pests\.example/);

    // A banned address asking to subscribe on the web gets the usual answer, and no mail at all.
    const ask = (address: string, ip: string) => post('/l/commons/subscribe', { address }, { 'x-forwarded-for': ip });
    const banned = await ask('eve@pests.example', '198.51.100.70');
    const fine = await ask('frank@example.com', '198.51.100.71');
    assert.equal(banned.status, 200);
    assert.equal(
      (await banned.text()).replaceAll('eve@pests.example', 'A'),
      (await fine.text()).replaceAll('frank@example.com', 'A'),
    );
    await until(() => mailTo('frank@example.com').find((m) => /^Subject: confirm /m.test(m)), "frank's request");
    await sleep(1000);
    assert.deepEqual(mailTo('eve@pests.example'), []);
    assert.deepEqual(
      mailTo('dis@example.com').map((m) => header(m, 'Subject')[0]),
      ['commons: your post waits for approval'],
      'discard tells no one (the sender had only the notice that the post waits)',
    );
    assert.equal(
      mailTo('spam@example.com').filter((m) => /not accepted/.test(m)).length,
      0,
      'a banned sender gets no robot reply',
    );
  });

  test("the smarthost refuses a subscriber (550): the owner page shows it under delivery problems, with the member's bounce score", async () => {
    assert.ok(session, 'logged in by the test before');
    const { cookie } = session;
    sink.rules({ reject: ['gone@example.org'] });
    assert.equal((await cli(['subscribers', 'commons', 'add', 'gone@example.org', '-c', w.config])).code, 0);
    await postAndReceive('commons', 'alice@example.org', 'erin@example.org', 'bounce.1@example.org');
    const page = await until(
      async () => {
        const html = await (await fetch(`${base}/l/commons/owner`, { headers: { cookie } })).text();
        return /<table class="problems">[\s\S]*gone@example\.org/.test(html) ? html : undefined;
      },
      'the problem on the owner page',
      20_000,
    );
    const problems = page.slice(page.indexOf('<table class="problems">'));
    assert.match(problems, /gone@example\.org<\/td><td>[^<]*User unknown/);
    const row = page.split('<tr>').find((r) => r.startsWith('<td>gone@example.org</td>'))!;
    assert.ok(row, 'gone@ is listed among the subscribers');
    assert.match(row, /<\/td><td>[1-9]\d*( \(last [^)]*\))?<\/td>/, 'with a bounce score above 0');
  });
});
