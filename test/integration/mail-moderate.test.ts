/**
 * Owners and moderators by mail (issue 16): held notices answered by reply, refusals of everything that is not an
 * owner's or moderator's reply with a valid unused token, and bans. The daemon as a user runs it, real clients
 * (Python's smtplib, swaks) and a real smarthost (aiosmtpd writing a Maildir).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cli, until, sleep } from '../helpers/daemon.js';
import { mailingLists, ensureSwaks, swaks, pySend, rfc822, header } from './mail-helpers.js';

const D = 'lists.test.example';
const OWNER = 'owner@example.org';
const MOD = 'mod@example.org';

const lists = mailingLists();
const { mailTo, waitMail } = lists;

/** A post to a list from `from`; returns the SMTP reply. */
const post = (from: string, subject: string, list = 'commons') =>
  lists.mail(from, `${list}@${D}`, subject, `Text of ${subject}.`);

/** The notice of a held post to `to`, its id and the address to reply to. */
async function notice(to: string, subject: string) {
  const m = await waitMail(
    to,
    (x) => /awaits approval/.test(x) && x.includes(subject),
    `the held notice of "${subject}"`,
  );
  const replyTo = header(m, 'Reply-To')[0]!.replace(/^<|>$/g, '');
  return { m, id: /post #(\d+)/.exec(m)![1]!, replyTo, token: /\+([^@]+)@/.exec(replyTo)![1]! };
}

/** A mail client's reply to a notice: the decision first, the notice quoted below. */
const reply = (from: string, to: string, first: string, subject = 'Re: commons: post awaits approval') =>
  lists.mail(from, to, subject, `${first}\n\n> A post to commons was held.\n`);

async function heldIds(list: string): Promise<string[]> {
  const r = await cli(['held', list, '-c', lists.w.config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { id: number }[]).map((h) => String(h.id));
}

const copies = (addr: string, id: string) =>
  mailTo(addr).filter((m) => header(m, 'Message-ID')[0] === `<${id}>`).length;

describe('moderation by mail', () => {
  before(async () => {
    ensureSwaks();
    await lists.start(
      ({ w, port, sinkPort }) => `
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${port}
    limits: { messages: 1000 }
    subscription: { window: 0s }
    bans: ['/^bot[0-9]+@/']
    smtp: { host: 127.0.0.1, port: ${sinkPort}, fromRewrite: never }
  sinkart.a: { file: ${w.sink('a')} }
bridges:
  commons:
    endpoints:
      - { endpoint: mail.test/commons, owners: [${OWNER}], moderators: [${MOD}], bans: ['*@spam.example'] }
      - sinkart.a/x
  other:
    endpoints:
      - { endpoint: mail.test/other, owners: [${OWNER}] }
`,
    );
    await lists.subscribe('commons', ['alice@example.org', 'bob@example.org']);
  });
  after(() => lists.stop());

  test('the notice comes from a signed moderate address; a non-owner replying decides nothing; the owner approves by reply and the post reaches every subscriber once', async () => {
    const p = await post('stranger@example.org', 'Approve me');
    assert.equal(p.code, 250, p.message);
    const o = await notice(OWNER, 'Approve me');
    assert.match(o.replyTo, new RegExp(`^commons-moderate\\+${o.id}-[0-9a-f]{20}@${D.replace(/\./g, '\\.')}$`));
    assert.equal(header(o.m, 'From')[0]!.includes(o.replyTo), true, header(o.m, 'From').join());
    await notice(MOD, 'Approve me'); // the moderator is told too

    const eve = await reply('eve@example.org', o.replyTo, 'approve');
    assert.equal(eve.code, 250);
    await waitMail('eve@example.org', (m) => /neither an owner nor a moderator/.test(m), 'the refusal to a non-owner');
    assert.deepEqual(await heldIds('commons'), [o.id], 'still held after the non-owner');

    const ok = await reply(OWNER, o.replyTo, 'Approve');
    assert.equal(ok.code, 250, ok.message);
    await waitMail(OWNER, (m) => new RegExp(`post #${o.id} approved`).test(m), 'the confirmation to the owner');
    for (const a of ['alice@example.org', 'bob@example.org'])
      await waitMail(a, (m) => header(m, 'Message-ID')[0] === `<${p.id}>`, 'the approved post');
    await until(() => lists.w.delivered('a').find((d) => d.id === p.id), 'the approved post on the bridge');
    assert.deepEqual(await heldIds('commons'), []);

    // Replayed: the same notice answered again (by the moderator) decides nothing and says who did.
    const again = await reply(MOD, o.replyTo, 'approve');
    assert.equal(again.code, 250);
    await waitMail(
      MOD,
      (m) => /already|was approved by owner@example\.org/.test(m) && /Nothing was decided/.test(m),
      'the refusal of a replay',
    );
    await sleep(1000);
    for (const a of ['alice@example.org', 'bob@example.org']) assert.equal(copies(a, p.id), 1, `${a} got it once`);
    assert.equal(lists.w.delivered('a').filter((d) => d.id === p.id).length, 1, 'the bridge got it once');
  });

  test('a moderator rejects by reply: the sender gets the reason', async () => {
    await post('outsider@example.org', 'Off topic thing');
    const m = await notice(MOD, 'Off topic thing');
    const r = await reply(MOD, m.replyTo, 'reject off topic here, sorry');
    assert.equal(r.code, 250, r.message);
    await waitMail(
      'outsider@example.org',
      (x) => /was not accepted by the owners: off topic here, sorry/.test(x),
      'the rejection with its reason',
    );
    await waitMail(MOD, (x) => new RegExp(`post #${m.id} rejected`).test(x), 'the confirmation to the moderator');
    assert.deepEqual(await heldIds('commons'), []);
  });

  test("a forged token and another list's token are refused; nothing is decided", async () => {
    await post('forger-target@example.org', 'Keep me held');
    const o = await notice(OWNER, 'Keep me held');
    const forged = `commons-moderate+${o.id}-${'0123456789abcdef0123'}@${D}`;
    assert.notEqual(forged, o.replyTo);
    await reply(OWNER, forged, 'approve');
    await waitMail(OWNER, (m) => /not valid for commons/.test(m), 'the refusal of a forged token');

    await post('x@example.org', 'For the other list', 'other');
    const other = await notice(OWNER, 'For the other list');
    // The other list's valid token, used at commons' moderate address (and its own id on commons does not exist).
    const r = await reply(OWNER, `commons-moderate+${other.token}@${D}`, 'approve');
    assert.equal(r.code, 250);
    await until(
      () => mailTo(OWNER).filter((m) => /not valid for commons/.test(m)).length >= 2,
      "the refusal of another list's token",
    );
    // Even a valid token on the right list cannot be moved to another held post: the id is signed.
    const moved = o.token.replace(/^\d+/, other.id);
    await reply(OWNER, `commons-moderate+${moved}@${D}`, 'approve');
    await until(
      () => mailTo(OWNER).filter((m) => /not valid for commons/.test(m)).length >= 3,
      'the refusal of a moved token',
    );
    assert.deepEqual(await heldIds('commons'), [o.id]);
    assert.deepEqual(await heldIds('other'), [other.id]);
    assert.equal(lists.w.delivered('a').filter((d) => /Keep me held/.test(d.subject ?? '')).length, 0);
    // Clean up by reply: discard tells nobody but the owner.
    await reply(OWNER, o.replyTo, 'discard');
    await waitMail(OWNER, (m) => new RegExp(`post #${o.id} discarded`).test(m), 'the discard confirmation');
    await reply(OWNER, other.replyTo, 'discard');
    await until(async () => (await heldIds('other')).length === 0 || undefined, 'the other post discarded');
    assert.equal(
      mailTo('forger-target@example.org').filter((m) => /not accepted/.test(m)).length,
      0,
      'discard tells no one',
    );
  });

  test('ban by reply; banned addresses (by reply, config glob, account regex, CLI) get no robot reply and are not relayed', async () => {
    await post('spammer@example.net', 'Buy now');
    const o = await notice(OWNER, 'Buy now');
    await reply(OWNER, o.replyTo, 'ban');
    await waitMail(
      OWNER,
      (m) => new RegExp(`post #${o.id} discarded`).test(m) && /peerpost bans commons remove/.test(m),
      'the ban confirmation',
    );
    const list = await cli(['bans', 'commons', '-c', lists.w.config]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /spammer@example\.net\s+\(added by owner@example\.org/);
    assert.match(list.stdout, /\*@spam\.example\s+\(config: bans of commons\)/);

    const add = await cli(['bans', 'commons', 'add', 'pest@example.com', '-c', lists.w.config]);
    assert.equal(add.code, 0, add.stderr);
    const bad = await cli(['bans', 'commons', 'add', '/([a-z/', '-c', lists.w.config]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a valid regular expression/);

    const banned = ['spammer@example.net', 'anyone@spam.example', 'bot42@example.org', 'pest@example.com'];
    const before = lists.sink.messages().length;
    const had = new Map(banned.map((a) => [a, mailTo(a).length])); // the spammer was told once that the post was held
    for (const a of banned) {
      const p = await post(a, `Banned post from ${a}`);
      assert.equal(p.code, 250, p.message);
      const j = await swaks(lists.port, [
        '--from',
        a,
        '--to',
        `commons-join@${D}`,
        '--header',
        'Subject: subscribe',
        '--body',
        'x',
      ]);
      assert.equal(j.last, 221, j.out);
      const rq = await pySend(
        lists.port,
        a,
        [`commons-request@${D}`],
        rfc822([`From: ${a}`, 'Subject: subscribe'], ''),
      );
      assert.equal(rq.code, 250);
    }
    // A marker that does get a reply: once it is here, the banned mail was handled long since.
    await pySend(
      lists.port,
      'marker@example.org',
      [`commons-request@${D}`],
      rfc822(['From: marker@example.org', 'Subject: help'], ''),
    );
    await waitMail('marker@example.org', (m) => /Help for commons/.test(m), 'the marker');
    await sleep(1000);
    for (const a of banned) assert.equal(mailTo(a).length, had.get(a), `no robot mail to ${a}`);
    assert.equal(
      lists.sink
        .messages()
        .slice(before)
        .filter((m) => /Banned post from/.test(m)).length,
      0,
      'no banned post reached anyone',
    );
    assert.equal(lists.w.delivered('a').filter((d) => /Banned post/.test(d.subject ?? '')).length, 0, 'nor the bridge');
    assert.deepEqual(await heldIds('commons'), [], 'nor is it held');
    const subs = await cli(['subscribers', 'commons', '-c', lists.w.config, '--json']);
    assert.deepEqual(
      (JSON.parse(subs.stdout) as { address: string }[]).map((s) => s.address),
      ['alice@example.org', 'bob@example.org'],
    );

    // Lifted: the address is heard again.
    const rm = await cli(['bans', 'commons', 'remove', 'pest@example.com', '-c', lists.w.config]);
    assert.equal(rm.code, 0, rm.stderr);
    const cfgBan = await cli(['bans', 'commons', 'remove', '*@spam.example', '-c', lists.w.config]);
    assert.equal(cfgBan.code, 5);
    assert.match(cfgBan.stdout, /banned by the config file/);
    await pySend(
      lists.port,
      'pest@example.com',
      [`commons-request@${D}`],
      rfc822(['From: pest@example.com', 'Subject: help'], ''),
    );
    await waitMail('pest@example.com', (m) => /Help for commons/.test(m), 'help after the ban is lifted');
  });

  test('`peerpost held ban` shares the decision: a notice answered afterwards is told who decided', async () => {
    await post('late@example.org', 'Decided on the server');
    const o = await notice(OWNER, 'Decided on the server');
    const r = await cli(['held', 'commons', 'ban', o.id, '-c', lists.w.config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /banned from commons/);
    await reply(OWNER, o.replyTo, 'approve');
    await waitMail(
      OWNER,
      (m) => /was discarded and its sender banned by the command line/.test(m),
      'the refusal naming the decision',
    );
  });
});
