/**
 * The moderation code behind replies, `peerpost held` and the `mail.moderation` service, without sockets: who may
 * do what, one decision per held post, bans applied to posting and subscribing. A real in-memory SQLite; the
 * sender and the core's ingest are fakes that record.
 */
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { EndpointView, IncomingPost, IngestVerdict } from '../../src/plugin.js';
import { ListStore } from '../../plugins/mail/subscribe.js';
import { ListServer, type Outbound } from '../../plugins/mail/listserv.js';
import { ModerationStore } from '../../plugins/mail/bans.js';
import { Moderation, listModeration } from '../../plugins/mail/moderate.js';
import type { ListModeration } from '../../plugins/mail/services.js';
import { memoryPluginStore } from '../helpers/memory-store.js';

const D = 'lists.example.org';
const OWNER = 'owner@example.org';
const MOD = 'mod@example.org';
let robots: { to: string; subject: string; text: string; from?: string }[];
let ingested: IncomingPost[];
let verdict: () => IngestVerdict;
let srv: ListServer;
let store: ListStore;
let svc: ListModeration;

const ep = (target: string, options: Record<string, unknown>): EndpointView => ({
  key: `mail.lists/${target}`,
  target,
  bridge: target,
  direction: 'inout',
  options,
  description: '',
});

beforeEach(() => {
  const ps = memoryPluginStore('mail', 'mail.lists');
  store = new ListStore(ps, 'mail.lists');
  const mod = new ModerationStore(ps, 'mail.lists');
  robots = [];
  ingested = [];
  verdict = () => ({ status: 'accepted', id: `p${ingested.length}@x`, seq: ingested.length });
  const endpoints = [
    ep('commons', { owners: [OWNER], moderators: [MOD], bans: ['*@spam.example'] }),
    ep('other', { owners: ['other-owner@example.org'] }),
  ];
  const out: Outbound = {
    sendRobot: async (m) =>
      void robots.push({ to: m.to, subject: m.subject, text: m.text, ...(m.from ? { from: m.from } : {}) }),
    forward: async () => undefined,
  };
  // eslint-disable-next-line prefer-const
  let moderation: Moderation;
  srv = new ListServer({
    account: 'mail.lists',
    domain: () => D,
    endpoints: () => endpoints,
    store,
    out,
    ingest: async (p) => {
      ingested.push(p);
      await new Promise((r) => setTimeout(r, 5));
      return verdict();
    },
    log: pino({ level: 'silent' }),
    parseBounce: async () => undefined,
    verpDecode: () => undefined,
    settings: () => ({ expireMs: 86_400_000, windowMs: 0, bounces: { threshold: 3, once: 0, resetAfter: 1 } }),
    mintId: () => `m${Math.random()}@x`,
    moderation: {
      notifyHeld: (...a) => moderation.notifyHeld(...a),
      mail: (...a) => moderation.mail(...a),
      banned: (...a) => moderation.banned(...a),
      expired: (h) => moderation.expired(h),
    },
  });
  moderation = new Moderation({
    account: 'mail.lists',
    domain: () => D,
    lists: srv,
    store,
    mod,
    out,
    log: pino({ level: 'silent' }),
    key: randomBytes(32),
    accountBans: () => ['/^bot[0-9]+@/'],
    windowMs: () => 0,
  });
  svc = listModeration(() => [moderation]);
});

const mail = (from: string, to: string, subject: string, id = `${Math.random()}@example.org`) =>
  srv.message(
    Buffer.from(
      `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${id}>\r\n\r\nbody of ${subject}\r\n`,
    ),
    { from, to: [to], remote: '127.0.0.1', smtpUtf8: false },
  );

async function hold(from = 'stranger@example.org', subject = 'hello'): Promise<number> {
  const r = await mail(from, `commons@${D}`, subject);
  const id = /\(#(\d+)\)/.exec(r.message);
  assert.ok(id, r.message);
  return Number(id[1]);
}

test('roles: owners do everything, moderators decide held posts only, others nothing', async () => {
  assert.equal(svc.role('commons', 'Owner@Example.org'), 'owner');
  assert.equal(svc.role('commons', MOD), 'moderator');
  assert.equal(svc.role('commons', 'x@example.org'), undefined);
  assert.equal(svc.role('nosuch', OWNER), undefined);
  assert.deepEqual(
    svc.lists().map((l) => [l.list, l.owners, l.moderators]),
    [
      ['commons', [OWNER], [MOD]],
      ['other', ['other-owner@example.org'], []],
    ],
  );
  const id = await hold();
  // The notice goes to the owner and the moderator, from the signed moderate address.
  const notices = robots.filter((r) => /awaits approval/.test(r.subject));
  assert.deepEqual(notices.map((n) => n.to).sort(), [MOD, OWNER]);
  assert.match(notices[0]!.from!, new RegExp(`^commons-moderate\\+${id}-[0-9a-f]{20}@${D}$`));

  const no = await svc.decide('commons', id, 'approve', { by: 'x@example.org' });
  assert.ok(!no.ok && no.code === 'not-allowed', JSON.stringify(no));
  const otherOwner = await svc.decide('commons', id, 'approve', { by: 'other-owner@example.org' });
  assert.ok(!otherOwner.ok && otherOwner.code === 'not-allowed', "another list's owner");
  for (const call of [
    svc.bans('commons', MOD),
    svc.ban('commons', 'a@b.example', MOD),
    svc.unban('commons', 'a@b.example', MOD),
  ])
    assert.ok(!Array.isArray(call) && !call.ok && call.code === 'not-allowed', JSON.stringify(call));
  assert.equal(ingested.length, 0);

  const yes = await svc.decide('commons', id, 'approve', { by: MOD });
  assert.ok(yes.ok, JSON.stringify(yes));
  assert.equal(yes.by, MOD);
  assert.equal(ingested.length, 1);
  const again = await svc.decide('commons', id, 'approve', { by: OWNER });
  assert.ok(!again.ok && again.code === 'decided');
  assert.match(again.reason, /was approved by mod@example\.org at /);
  assert.equal(ingested.length, 1);
});

test('two decisions at once on one post: one is taken, the other told', async () => {
  const id = await hold();
  const [a, b] = await Promise.all([
    svc.decide('commons', id, 'approve', { by: OWNER }),
    svc.decide('commons', id, 'approve', { by: MOD }),
  ]);
  assert.equal([a, b].filter((r) => r.ok).length, 1, JSON.stringify([a, b]));
  assert.equal(ingested.length, 1);
});

test('approve that the store cannot take now: refused, the post stays held', async () => {
  const id = await hold();
  verdict = () => ({ status: 'tempfail', code: 'store-full', reason: 'the disk is full' });
  const r = await svc.decide('commons', id, 'approve', { by: OWNER });
  assert.ok(!r.ok && r.code === 'failed', JSON.stringify(r));
  assert.deepEqual(
    (svc.held('commons') as { id: number }[]).map((h) => h.id),
    [id],
  );
  const detail = await svc.heldPost('commons', id);
  assert.ok(detail.ok && /body of hello/.test(detail.text));
});

test('bans: config (list, account), added by a ban decision and by an owner; owners are never banned', async () => {
  assert.equal(svc.banned('commons', 'x@spam.example')?.scope, 'list');
  assert.equal(svc.banned('commons', 'bot9@example.org')?.scope, 'account');
  assert.equal(svc.banned('other', 'x@spam.example'), undefined, "another list's ban does not apply");
  const id = await hold('pest@example.net');
  const r = await svc.decide('commons', id, 'ban', { by: MOD });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(svc.banned('commons', 'PEST@example.net'), {
    ...svc.banned('commons', 'pest@example.net'),
    pattern: 'pest@example.net',
    source: 'added',
  });
  const bad = svc.ban('commons', '/(/', OWNER);
  assert.ok(!bad.ok && bad.code === 'bad-pattern');
  const cfg = svc.unban('commons', '*@spam.example', OWNER);
  assert.ok(!cfg.ok && /config file/.test(cfg.reason));
  const own = svc.ban('commons', '*@example.org', OWNER);
  assert.ok(own.ok && own.changed);
  assert.equal(svc.banned('commons', OWNER), undefined, 'an owner is never banned');
  assert.equal(svc.banned('commons', MOD), undefined, 'nor a moderator');

  // A banned sender: taken with 250, nothing posted or held, no robot mail; subscribing neither.
  robots = [];
  for (const from of ['pest@example.net', 'x@spam.example', 'bot1@example.org']) {
    const p = await mail(from, `commons@${D}`, 'spam');
    assert.equal(p.code, 250);
    const j = await mail(from, `commons-join@${D}`, 'subscribe');
    assert.equal(j.code, 250);
    const q = await mail(from, `commons-request@${D}`, 'subscribe');
    assert.equal(q.code, 250);
  }
  assert.deepEqual(robots, []);
  assert.equal(ingested.length, 0);
  assert.deepEqual(svc.held('commons'), []);
  const lifted = svc.unban('commons', 'pest@example.net', OWNER);
  assert.ok(lifted.ok && lifted.changed);
  assert.equal(svc.banned('commons', 'pest@example.net'), undefined);
});

test('a confirmation asked for before a ban subscribes nobody after it', async () => {
  await mail('late@example.org', `commons-join@${D}`, 'subscribe');
  const token = /confirm ([0-9a-f]{24})/.exec(robots.find((r) => r.to === 'late@example.org')!.subject)![1]!;
  assert.ok(svc.ban('commons', 'late@example.org', OWNER).ok);
  const r = await mail('late@example.org', `commons-confirm+${token}@${D}`, `Re: confirm ${token}`);
  assert.equal(r.code, 250);
  assert.equal(store.member('commons', 'late@example.org'), undefined);
});
