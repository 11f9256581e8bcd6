/**
 * The list logic without sockets: join → confirm → post, leave, the anti
 * subscription-bombing window, robots never answered, held posts, announce
 * lists, loops, bounces up to the threshold. The store is a real in-memory
 * SQLite; the sender and the core's ingest are fakes that record.
 */
import { test, describe, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { EndpointView, IncomingPost, IngestVerdict, PluginStore } from '../../src/plugin.js';
import { ListStore } from '../../plugins/mail/subscribe.js';
import { ListServer, type Outbound } from '../../plugins/mail/listserv.js';
import type { Envelope } from '../../plugins/mail/receive.js';
import { memoryPluginStore } from '../helpers/memory-store.js';
import { ProblemLog } from '../../plugins/mail/problems.js';
import { mailLists } from '../../plugins/mail/weblists.js';
import { MemberStore } from '../../plugins/mail/members.js';

const memoryStore = (): PluginStore => memoryPluginStore('mail', 'mail.lists');

const D = 'lists.example.org';
interface Robot {
  to: string;
  subject: string;
  text: string;
  from?: string;
  headers?: Record<string, string>;
}

let store: ListStore;
let robots: Robot[];
let forwarded: { to: string[]; raw: Buffer }[];
let ingested: IncomingPost[];
let verdict: (p: IncomingPost) => IngestVerdict;
let endpoints: EndpointView[];
let srv: ListServer;
let problems: ProblemLog;
let members: MemberStore;
let minted = 0;

const ep = (
  target: string,
  options: Record<string, unknown> = {},
  direction: EndpointView['direction'] = 'inout',
): EndpointView => ({
  key: `mail.lists/${target}`,
  target,
  bridge: 'commons',
  direction,
  options,
  description: 'The commons',
});

beforeEach(() => {
  const shared = memoryStore();
  store = new ListStore(shared, 'mail.lists');
  members = new MemberStore(shared, 'mail.lists');
  problems = new ProblemLog(memoryStore(), 'mail.lists');
  robots = [];
  forwarded = [];
  ingested = [];
  minted = 0;
  verdict = () => ({ status: 'accepted', id: `p${ingested.length}@x`, seq: ingested.length });
  endpoints = [
    ep('commons', { owners: ['owner@example.org'] }),
    ep('news', { policy: 'announce', owners: ['owner@example.org'] }),
    ep('sendonly', {}, 'out'),
  ];
  const out: Outbound = {
    sendRobot: async (m) =>
      void robots.push({
        to: m.to,
        subject: m.subject,
        text: m.text,
        ...(m.from ? { from: m.from } : {}),
        ...(m.headers ? { headers: m.headers } : {}),
      }),
    forward: async (_l, raw, to) => void forwarded.push({ to, raw }),
  };
  srv = new ListServer({
    account: 'mail.lists',
    domain: () => D,
    endpoints: () => endpoints,
    store,
    out,
    ingest: async (p) => {
      ingested.push(p);
      return verdict(p);
    },
    log: pino({ level: 'silent' }),
    parseBounce: async (raw) => {
      const m = /Final-Recipient: rfc822; (\S+)/.exec(raw.toString());
      return m
        ? {
            recipients: [
              { address: m[1]!, action: 'failed', status: '5.1.1', permanent: true, diagnostic: 'no such user' },
            ],
          }
        : undefined;
    },
    verpDecode: (local, list) =>
      local.startsWith(`${list}-bounces+`) ? local.slice(list.length + 9).replace('=', '@') : undefined,
    hostname: 'node.test.example',
    settings: () => ({
      expireMs: 3 * 86_400_000,
      windowMs: 86_400_000,
      bounces: { threshold: 3, once: 0, resetAfter: 7 * 86_400_000 },
    }),
    mintId: () => `minted${minted++}@test.example`,
    problems,
  });
});

const env = (to: string, from = 'alice@example.org'): Envelope => ({
  from,
  to: [to],
  remote: '127.0.0.1',
  smtpUtf8: false,
});
const mail = (headers: string[], body = 'hello') => Buffer.from([...headers, '', body, ''].join('\r\n'));
const send = (to: string, headers: string[], body?: string, from?: string) =>
  srv.message(mail(headers, body), env(to, from));
const tokenOf = (r: Robot) => /^confirm ([0-9a-f]{24})$/.exec(r.subject)![1]!;

describe('subscribing and unsubscribing by mail', () => {
  test('join → a confirmation request from the confirm address → reply confirms → welcome', async () => {
    const r = await send(`commons-join@${D}`, ['From: Alice <alice@example.org>', 'Subject: join']);
    assert.equal(r.code, 250);
    assert.equal(robots.length, 1);
    const req = robots[0]!;
    assert.equal(req.to, 'alice@example.org');
    const token = tokenOf(req);
    assert.equal(req.from, `commons-confirm+${token}@${D}`, 'a reply goes to the confirm address');
    assert.equal(req.headers?.['Reply-To'], `commons-confirm+${token}@${D}`);
    assert.match(req.text, /ignore this message/);
    assert.equal(store.member('commons', 'alice@example.org'), undefined, 'not subscribed before confirming');

    const c = await send(`commons-confirm+${token}@${D}`, ['From: alice@example.org', `Subject: Re: confirm ${token}`]);
    assert.equal(c.code, 250);
    assert.equal(store.member('commons', 'alice@example.org')?.name, 'Alice');
    assert.equal(robots[1]!.subject, 'Welcome to commons');
    assert.deepEqual(store.recipients('commons'), ['alice@example.org']);

    // the token is used up
    const again = await send(`commons-confirm+${token}@${D}`, ['From: alice@example.org']);
    assert.match(again.message, /unknown confirmation/);
  });

  test('confirming by "confirm TOKEN" to the request address works too', async () => {
    await send(`commons-request@${D}`, ['From: bob@example.org', 'Subject: subscribe']);
    const token = tokenOf(robots[0]!);
    await send(`commons-request@${D}`, ['From: bob@example.org', `Subject: Re: confirm ${token}`], '> quoted old text');
    assert.ok(store.member('commons', 'bob@example.org'));
  });

  test('anti subscription-bombing: one unrequested mail per address per window', async () => {
    for (let i = 0; i < 5; i++) await send(`commons-join@${D}`, ['From: victim@example.org']);
    assert.equal(robots.length, 1, 'five join requests, one confirmation mail');
    await send(`commons-request@${D}`, ['From: victim@example.org', 'Subject: help']);
    assert.equal(robots.length, 1, 'help to the same address in the window is not sent either');
    const token = tokenOf(robots[0]!);
    await send(`commons-confirm+${token}@${D}`, ['From: victim@example.org']);
    assert.ok(store.member('commons', 'victim@example.org'), 'the first confirmation still works');
  });

  test('robot mail is never answered, and never confirms (RFC 3834)', async () => {
    await send(`commons-join@${D}`, ['From: carol@example.org']);
    const token = tokenOf(robots[0]!);
    const vacation = await send(`commons-confirm+${token}@${D}`, [
      'From: carol@example.org',
      'Auto-Submitted: auto-replied',
      'Subject: Out of office',
    ]);
    assert.equal(vacation.code, 250);
    assert.equal(store.member('commons', 'carol@example.org'), undefined, 'a vacation reply does not confirm');
    await send(`commons-request@${D}`, ['From: dave@example.org', 'Precedence: junk', 'Subject: help']);
    await send(`commons-join@${D}`, ['From: erin@example.org'], 'x', '');
    assert.equal(robots.length, 1, 'only the first confirmation request went out');
  });

  test('leave → confirm → unsubscribed, goodbye', async () => {
    store.add('commons', 'frank@example.org');
    await send(`commons-leave@${D}`, ['From: frank@example.org']);
    assert.match(robots[0]!.text, /unsubscribe frank@example.org from/);
    await send(`commons-confirm+${tokenOf(robots[0]!)}@${D}`, ['From: frank@example.org']);
    assert.equal(store.member('commons', 'frank@example.org'), undefined);
    assert.equal(robots[1]!.subject, 'You have left commons');
  });

  test('an expired confirmation changes nothing', async () => {
    const p = store.createPending('commons', 'gina@example.org', 'subscribe', -1);
    const r = await send(`commons-confirm+${p.token}@${D}`, ['From: gina@example.org']);
    assert.match(r.message, /expired/);
    assert.equal(store.member('commons', 'gina@example.org'), undefined);
  });
});

describe('posting', () => {
  test('a member posts: the post reaches the core with its ids, the author and attachments', async () => {
    store.add('commons', 'alice@example.org');
    const r = await send(
      `commons@${D}`,
      [
        'From: Alice <alice@example.org>',
        'Subject: Hello all',
        'Message-ID: <m1@example.org>',
        'In-Reply-To: <m0@example.org>',
      ],
      'first line',
    );
    assert.equal(r.code, 250);
    assert.match(r.message, /posted to commons/);
    assert.equal(ingested.length, 1);
    const p = ingested[0]!;
    assert.deepEqual(
      [p.target, p.id, p.subject, p.body, p.inReplyTo, p.author],
      [
        'commons',
        'm1@example.org',
        'Hello all',
        'first line',
        'm0@example.org',
        { name: 'Alice', address: 'alice@example.org', via: 'mail' },
      ],
    );
    await send(`commons@${D}`, ['From: alice@example.org'], 'no id');
    assert.match(ingested[1]!.id!, /^minted0@test\.example$/, 'an id is minted before the post goes in');
  });

  test("the core's verdict is the SMTP reply: tempfail → 451, rejected → 550, duplicate → 250", async () => {
    store.add('commons', 'alice@example.org');
    verdict = () => ({ status: 'tempfail', code: 'store-full', reason: 'the store is full' });
    assert.equal((await send(`commons@${D}`, ['From: alice@example.org'])).code, 451);
    verdict = () => ({ status: 'rejected', code: 'loop', reason: 'loop: too many hops' });
    assert.equal((await send(`commons@${D}`, ['From: alice@example.org'])).code, 550);
    verdict = () => ({ status: 'duplicate', id: 'm1@example.org' });
    assert.equal((await send(`commons@${D}`, ['From: alice@example.org'])).code, 250);
  });

  test('a non-member is held, the owners are told, approve posts it once', async () => {
    const r = await send(`commons@${D}`, [
      'From: stranger@example.net',
      'Subject: hi there',
      'Message-ID: <s1@example.net>',
    ]);
    assert.equal(r.code, 250);
    assert.match(r.message, /held/);
    assert.equal(ingested.length, 0);
    const held = store.held('commons');
    assert.equal(held.length, 1);
    assert.equal(held[0]!.sender, 'stranger@example.net');
    const toOwner = robots.find((x) => x.to === 'owner@example.org')!;
    assert.match(toOwner.text, new RegExp(`peerpost held commons approve ${held[0]!.id}`));
    assert.ok(robots.some((x) => x.to === 'stranger@example.net' && /waits for approval/.test(x.subject)));
    const a = await srv.approve(held[0]!.id);
    assert.equal(a.ok, true);
    assert.equal(ingested.length, 1);
    assert.equal(ingested[0]!.id, 's1@example.net');
    assert.equal(store.held().length, 0);
    assert.deepEqual(await srv.approve(held[0]!.id), { ok: false, exit: 5, reason: `no held post #${held[0]!.id}` });
  });

  test('a held post with no decision for held.expire (14 days) is dropped; the owners are told, and the sender (once per window)', async () => {
    await send(`commons@${D}`, ['From: stranger@example.net', 'Subject: old news', 'Message-ID: <old@example.net>']);
    await send(`commons@${D}`, ['From: stranger@example.net', 'Subject: more news']);
    const [h, h2] = store.held();
    robots = [];
    assert.equal(await srv.expireHeld(h!.received + 13 * 86_400_000), 0, 'not yet after 13 days');
    assert.equal(store.held().length, 2);
    assert.equal(await srv.expireHeld(h2!.received + 14 * 86_400_000 + 1), 2);
    assert.deepEqual(store.held(), []);
    const owner = robots.filter((x) => x.to === 'owner@example.org');
    assert.deepEqual(
      owner.map((x) => x.subject),
      [
        `commons: held post #${h!.id} from stranger@example.net expired`,
        `commons: held post #${h2!.id} from stranger@example.net expired`,
      ],
    );
    assert.match(owner[0]!.text, /waited 14 days without a decision/);
    const sender = robots.filter((x) => x.to === 'stranger@example.net');
    assert.equal(
      sender.length,
      1,
      'the sender is told once per subscription.window (a forged sender gets one mail a day at most)',
    );
    assert.match(sender[0]!.subject, /not approved in time/);
    assert.deepEqual(await srv.approve(h!.id), { ok: false, exit: 5, reason: `no held post #${h!.id}` });
  });

  test('reject tells the sender; the post is gone', async () => {
    await send(`commons@${D}`, ['From: stranger@example.net', 'Subject: spam']);
    const id = store.held()[0]!.id;
    assert.deepEqual(await srv.reject(id, 'off topic'), { ok: true });
    assert.ok(
      robots.some((x) => x.to === 'stranger@example.net' && /not accepted/.test(x.subject) && /off topic/.test(x.text)),
    );
    assert.equal(store.held().length, 0);
  });

  test('announce lists take posts from owners only; others get 550', async () => {
    store.add('news', 'alice@example.org');
    const r = await send(`news@${D}`, ['From: alice@example.org']);
    assert.equal(r.code, 550);
    assert.match(r.message, /only the owners/);
    assert.equal((await send(`news@${D}`, ['From: Owner@Example.org'])).code, 250);
    assert.equal(ingested.length, 1);
  });

  test('mail another peerpost node wrote counts as a relay crossed; mail this node wrote is never posted', async () => {
    store.add('commons', 'alice@example.org');
    await send(`commons@${D}`, ['From: alice@example.org', 'X-Peerpost-Node: other.example']);
    assert.equal(ingested[0]!.hops, 1);
    await send(`commons@${D}`, ['From: alice@example.org', 'X-Peerpost-Node: node.test.example']);
    assert.equal(ingested.length, 1);
  });

  test('mail from this list itself, or automatic mail, never becomes a post', async () => {
    store.add('commons', 'alice@example.org');
    await send(`commons@${D}`, ['From: alice@example.org', `List-Id: <commons.${D}>`]);
    await send(`commons@${D}`, ['From: alice@example.org', `X-Loop: commons@${D}`]);
    await send(`commons@${D}`, ['From: alice@example.org', 'Auto-Submitted: auto-replied']);
    assert.equal(ingested.length, 0);
    assert.equal(store.held().length, 0);
  });
});

describe('recipients, owners, bounces', () => {
  test('only list addresses are accepted at RCPT; a send-only list takes no posts', () => {
    assert.equal(srv.recipient(`commons@${D}`), undefined);
    assert.equal(srv.recipient(`victim@example.net`)?.code, 550);
    assert.match(srv.recipient(`victim@example.net`)!.message, /relays nothing/);
    assert.equal(srv.recipient(`sendonly@${D}`)?.code, 550);
    assert.equal(srv.recipient(`sendonly-join@${D}`), undefined);
    assert.equal(srv.recipient(`sendonly-owner@${D}`)?.code, 550, 'no owners');
  });

  test('owner mail to a list without owners: 550 at RCPT, and at DATA when a reload took them away in between; nothing forwarded', async () => {
    assert.equal(srv.recipient(`commons-owner@${D}`), undefined);
    endpoints[0] = ep('commons', {});
    const r = await srv.message(mail(['From: someone@example.net', 'Subject: question']), env(`commons-owner@${D}`));
    assert.equal(r.code, 550);
    assert.match(r.message, /commons has no owners configured; write to the postmaster of lists\.example\.org/);
    assert.deepEqual(forwarded, []);
  });

  test('owner mail is forwarded unchanged to the owners', async () => {
    const raw = mail(['From: someone@example.net', 'Subject: question']);
    await srv.message(raw, env(`commons-owner@${D}`));
    assert.deepEqual(forwarded, [{ to: ['owner@example.org'], raw }]);
  });

  test('bounces raise the score; at the threshold delivery stops and the owners are told', async () => {
    store.add('commons', 'gone@example.net');
    store.add('commons', 'fine@example.net');
    const dsn = mail(
      ['From: MAILER-DAEMON@example.net', 'Content-Type: multipart/report; report-type=delivery-status'],
      'Final-Recipient: rfc822; gone@example.net',
    );
    for (let i = 0; i < 2; i++) await srv.message(dsn, env(`commons-bounces@${D}`, ''));
    assert.equal(store.member('commons', 'gone@example.net')!.bounceScore, 2);
    assert.ok(store.member('commons', 'gone@example.net')!.delivery);
    // VERP: the address comes from the bounce address itself
    await srv.message(
      mail(['From: MAILER-DAEMON@example.net'], 'unparseable'),
      env(`commons-bounces+gone=example.net@${D}`, ''),
    );
    const s = store.member('commons', 'gone@example.net')!;
    assert.equal(s.bounceScore, 3);
    assert.equal(s.delivery, false);
    assert.deepEqual(store.recipients('commons'), ['fine@example.net']);
    assert.ok(
      robots.some((x) => x.to === 'owner@example.org' && /delivery to gone@example.net disabled/.test(x.subject)),
    );
    // a 5xx while sending counts the same way (onBounce)
    await srv.bounced('commons', 'fine@example.net', '550 5.1.1 no such user');
    assert.equal(store.member('commons', 'fine@example.net')!.bounceScore, 1);
  });
});

describe('mail.lists: what the web pages ask', () => {
  const service = () => ({
    svc: mailLists(() => [
      {
        account: 'mail.lists',
        domain: D,
        log: pino({ level: 'silent' }),
        server: srv,
        store,
        problems,
        members,
        role: (e, who) => (who === 'owner@example.org' ? 'owner' : who === 'mod@example.org' ? 'moderator' : undefined),
      },
    ]),
  });

  test('subscribing from the web sends the mailed join\'s confirmation, or the "already" notice; the caller cannot tell', async () => {
    const { svc } = service();
    store.add('commons', 'alice@example.org');
    assert.deepEqual(await svc.subscribe('mail.lists', 'commons', 'Bob@Example.net'), { ok: true });
    assert.deepEqual(await svc.subscribe('mail.lists', 'commons', 'alice@example.org'), { ok: true });
    assert.deepEqual(
      robots.map((r) => [r.to, r.subject.replace(/[0-9a-f]{24}/, 'TOKEN')]),
      [
        ['bob@example.net', 'confirm TOKEN'],
        ['alice@example.org', 'commons: already subscribed'],
      ],
    );
    assert.match(robots[0]!.text, /asked to subscribe bob@example\.net to the list commons@/);
    // Within subscription.window: no second mail, the same answer.
    assert.deepEqual(await svc.subscribe('mail.lists', 'commons', 'bob@example.net'), { ok: true });
    assert.equal(robots.length, 2);
    const bad = await svc.subscribe('mail.lists', 'commons', 'not an address');
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.code, 'invalid');
    const none = await svc.subscribe('mail.lists', 'nosuch', 'carol@example.org');
    assert.equal(!none.ok && none.code, 'gone');
  });

  test('the login mail goes only to an owner or moderator', async () => {
    const { svc } = service();
    await svc.sendLoginLink('mail.lists', 'commons', 'mallory@example.org', 'http://x/l', 60_000);
    await svc.sendLoginLink('mail.lists', 'nosuch', 'owner@example.org', 'http://x/l', 60_000);
    assert.equal(robots.length, 0, 'nothing to a stranger, nothing for a list that is not here');
    await svc.sendLoginLink(
      'mail.lists',
      'commons',
      'OWNER@example.org',
      'http://x/l/commons/owner/login?t=T',
      1_800_000,
    );
    assert.equal(robots[0]!.to, 'owner@example.org');
    assert.equal(robots[0]!.subject, "commons: your link to the list's owner page");
    assert.match(robots[0]!.text, /http:\/\/x\/l\/commons\/owner\/login\?t=T\n/);
    assert.match(robots[0]!.text, /within\n30 minutes/);
    await svc.sendLoginLink('mail.lists', 'commons', 'mod@example.org', 'http://x/l/commons/owner/login?t=M', 60_000);
    assert.equal(robots[1]!.to, 'mod@example.org');
  });

  test('subscribers added, re-enabled and removed by an owner; bounces written down as delivery problems', async () => {
    const { svc } = service();
    assert.deepEqual(svc.addMember('mail.lists', 'commons', 'Carol@example.org', 'owner@example.org'), {
      ok: true,
      text: 'carol@example.org added (no confirmation asked)',
    });
    for (let i = 0; i < 3; i++) await srv.bounced('commons', 'carol@example.org', '5.1.1 no such user');
    const [m] = svc.members('mail.lists', 'commons');
    assert.deepEqual([m!.address, m!.receiving, m!.bounceScore, m!.mode], ['carol@example.org', false, 3, 'each']);
    assert.deepEqual(
      svc.problems('mail.lists', 'commons').map((p) => [p.address, p.score, p.disabled, p.reason]),
      [
        ['carol@example.org', 3, true, '5.1.1 no such user'],
        ['carol@example.org', 2, false, '5.1.1 no such user'],
        ['carol@example.org', 1, false, '5.1.1 no such user'],
      ],
    );
    assert.match(svc.addMember('mail.lists', 'commons', 'carol@example.org', 'o').ok ? 'ok' : '', /ok/);
    assert.equal(svc.members('mail.lists', 'commons')[0]!.receiving, true, 'delivery enabled again');
    assert.deepEqual(svc.removeMember('mail.lists', 'commons', 'carol@example.org', 'o'), {
      ok: true,
      text: 'carol@example.org removed',
    });
    assert.deepEqual(svc.members('mail.lists', 'commons'), []);
  });

  test("an owner sets a subscriber's mode with the words of `subscribers LIST set`; the list shows it", () => {
    const { svc } = service();
    store.add('commons', 'dana@example.org');
    const set = (words: string) => svc.setMode('mail.lists', 'commons', 'Dana@example.org', words, 'owner@example.org');
    assert.deepEqual(set('digest plain'), {
      ok: true,
      text: 'dana@example.org gets digest plain now (the member is not told)',
    });
    assert.equal(svc.members('mail.lists', 'commons')[0]!.mode, 'digest plain');
    assert.deepEqual(members.get('commons', 'dana@example.org').mode, 'digest', 'the same settings the mail side uses');
    assert.deepEqual(set('digest plain'), { ok: true, text: 'dana@example.org gets digest plain already' });
    assert.equal(
      (set('nomail until 2099-01-10') as { text: string }).text,
      'dana@example.org gets nomail until 2099-01-10 now (the member is not told)',
    );
    assert.equal(svc.members('mail.lists', 'commons')[0]!.mode, 'nomail until 2099-01-10');
    assert.equal(set('each').ok, true);
    assert.equal(svc.members('mail.lists', 'commons')[0]!.mode, 'each');
    // Nothing else, and nobody who is not subscribed.
    const r = set('sometimes');
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /is not a setting/);
    const stranger = svc.setMode('mail.lists', 'commons', 'zed@example.org', 'digest', 'owner@example.org');
    assert.deepEqual(stranger.ok ? '' : stranger.reason, 'zed@example.org is not subscribed to commons');
    assert.equal(store.member('commons', 'zed@example.org'), undefined);
  });
});
