/**
 * ListSender's bookkeeping with a scripted SMTP side (no sockets): per-recipient
 * state across retries and restarts, the time budget, concurrent retries of one
 * row, From rewriting, addresses that could smuggle a recipient, and the
 * durable robot/forward queue with backoff and expiry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListSender, smtpSchema, type BounceEvent, type Recipient } from '../../plugins/mail/outbound/index.js';
import type { SmtpSender, Outcome1 } from '../../plugins/mail/outbound/transport.js';
import { outcomes } from '../../plugins/mail/outbound/transport.js';
import { mailCtx, pluginStore, post, target, LIST } from './mail-out-ctx.js';
import type { CommandAccount, Outcome } from '../../src/plugin.js';
import { robotMailWaiting } from '../../plugins/mail/waiting.js';

interface Sent {
  sender: string;
  to: string[];
  raw: string;
}

/** An SMTP side that answers per address: 'ok', 'temp' (451), 'perm' (550), or throws the connection away ('down'). */
function scripted(
  answer: (address: string, n: number) => 'ok' | 'temp' | 'perm' | 'down' = () => 'ok',
  delayMs = 0,
): SmtpSender & { sent: Sent[]; tries: Map<string, number> } {
  const sent: Sent[] = [];
  const tries = new Map<string, number>();
  return {
    sent,
    tries,
    async send(sender, to, raw) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const out: Outcome1[] = [];
      const accepted: string[] = [];
      for (const a of to) {
        const n = (tries.get(a) ?? 0) + 1;
        tries.set(a, n);
        const x = answer(a, n);
        if (x === 'down')
          return to.map((address) => ({
            address,
            result: 'deferred' as const,
            code: null,
            reply: 'connect ECONNREFUSED 127.0.0.1:25',
          }));
        if (x === 'ok') accepted.push(a);
        out.push(
          x === 'ok'
            ? { address: a, result: 'sent', code: 250, reply: '250 ok' }
            : x === 'temp'
              ? { address: a, result: 'deferred', code: 451, reply: '451 4.7.1 try later' }
              : { address: a, result: 'bounced', code: 550, reply: '550 5.1.1 no such user' },
        );
      }
      if (accepted.length) sent.push({ sender, to: accepted, raw: raw.toString() });
      return out;
    },
    close() {},
  };
}

const people = (n: number, domain = 'example.org'): Recipient[] =>
  Array.from({ length: n }, (_, i) => ({ address: `u${i}@${domain}`, unsubscribeToken: `t${i}` }));

test('per-recipient state: deferred recipients are retried alone, across a restart of the sender (state in the store)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-mailout-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = smtpSchema.parse({});
  const row = target(7);
  const smtp = scripted((a, n) => (a === 'u3@example.org' && n <= 2 ? 'temp' : a === 'u5@example.org' ? 'perm' : 'ok'));
  let h = mailCtx({ dir });
  let sender = new ListSender(h.ctx, cfg, { smtp });
  const bounces: BounceEvent[] = [];
  sender.onBounce = (e) => bounces.push(e);
  const r1 = await sender.deliverPost(post(), row, LIST, () => people(8), {});
  assert.equal(r1.result, 'retry');
  assert.deepEqual(
    bounces.map((b) => [b.address, b.code, b.permanent]),
    [['u5@example.org', 550, true]],
  );
  await sender.close();
  h.close();

  // A new process: same store, the list changed meanwhile (u0 left, z joined): the snapshot still decides.
  h = mailCtx({ dir });
  const smtp2 = scripted((a, n) => (a === 'u3@example.org' && n <= 1 ? 'temp' : 'ok'));
  sender = new ListSender(h.ctx, cfg, { smtp: smtp2 });
  sender.onBounce = (e) => bounces.push(e);
  const r2 = await sender.deliverPost(
    post(),
    { ...row, attempt: 2 },
    LIST,
    () => [...people(8).slice(1), { address: 'z@example.org', unsubscribeToken: 'z' }],
    {},
  );
  assert.equal(r2.result, 'retry');
  const r3 = await sender.deliverPost(post(), { ...row, attempt: 3 }, LIST, () => [], {});
  assert.deepEqual(r3, { result: 'delivered' });
  assert.deepEqual(
    smtp2.sent.map((s) => s.to),
    [['u3@example.org']],
    'only the deferred recipient, once',
  );
  assert.equal(bounces.length, 1);
  const left = h.store.db.prepare('SELECT count(*) FROM mail_out_recipients').pluck().get();
  assert.equal(left, 0, 'state removed once the row is delivered');
  await sender.close();
  h.close();
});

test('the time budget: a big list hands back "retry at once" with its progress kept, and the next try finishes it', async (t) => {
  const h = mailCtx({ deliveryTimeoutMs: 100 });
  t.after(h.close);
  const smtp = scripted(() => 'ok', 15);
  const sender = new ListSender(h.ctx, smtpSchema.parse({ recipientsPerTransaction: 1, pool: { maxConnections: 1 } }), {
    smtp,
  });
  t.after(() => sender.close());
  const row = target();
  const r1 = await sender.deliverPost(post(), row, LIST, () => people(30), {});
  assert.equal(r1.result, 'retry');
  assert.equal((r1 as { delayMs?: number }).delayMs, 0);
  assert.match((r1 as { reason: string }).reason, /of 30 recipients not sent yet/);
  const first = smtp.sent.length;
  assert.ok(first > 0 && first < 30);
  let out: Outcome = r1;
  for (let i = 0; i < 10 && out.result === 'retry'; i++)
    out = await sender.deliverPost(post(), row, LIST, () => people(30), {});
  assert.deepEqual(out, { result: 'delivered' });
  assert.deepEqual(
    smtp.sent.flatMap((s) => s.to).sort(),
    people(30)
      .map((p) => p.address)
      .sort(),
    'everyone once',
  );
});

test('a retry of a row still being sent waits for it: nobody gets the post twice', async (t) => {
  const h = mailCtx();
  t.after(h.close);
  const smtp = scripted(() => 'ok', 20);
  const sender = new ListSender(h.ctx, smtpSchema.parse({ recipientsPerTransaction: 2 }), { smtp });
  t.after(() => sender.close());
  const row = target();
  const [a, b] = await Promise.all([
    sender.deliverPost(post(), row, LIST, () => people(10), {}),
    sender.deliverPost(post(), { ...row, attempt: 2 }, LIST, () => people(10), {}),
  ]);
  assert.equal(a.result, 'delivered');
  assert.equal(b.result, 'delivered');
  assert.equal(smtp.sent.flatMap((s) => s.to).length, 10);
});

test('the smarthost unreachable: every recipient waits, the reason says why', async (t) => {
  const h = mailCtx();
  t.after(h.close);
  const sender = new ListSender(h.ctx, smtpSchema.parse({}), { smtp: scripted(() => 'down') });
  t.after(() => sender.close());
  const out = await sender.deliverPost(post(), target(), LIST, () => people(3), {});
  assert.equal(out.result, 'retry');
  assert.match((out as { reason: string }).reason, /3 of 3 recipients deferred .*ECONNREFUSED/);
});

test("addresses that could smuggle another recipient, and the list's own addresses, are skipped; duplicates count once; an empty list is delivered at once", async (t) => {
  const h = mailCtx();
  t.after(h.close);
  const smtp = scripted();
  const sender = new ListSender(h.ctx, smtpSchema.parse({}), { smtp });
  t.after(() => sender.close());
  const bad = [
    'a@example.org, evil@attacker.example',
    'b@example.org\r\nRCPT TO:<evil@attacker.example>',
    '<evil@attacker.example>',
    'nobody',
  ];
  const list = [
    ...bad.map((address) => ({ address, unsubscribeToken: 'x' })),
    { address: 'ok@Example.ORG', unsubscribeToken: 'y' },
    { address: 'ok@example.org', unsubscribeToken: 'y' },
    { address: 'commons@lists.example.org', unsubscribeToken: 'loop' },
    { address: 'commons-owner@lists.example.org', unsubscribeToken: 'loop' },
  ];
  const out = await sender.deliverPost(post(), target(), LIST, () => list, {});
  assert.deepEqual(out, { result: 'delivered' });
  assert.deepEqual(
    smtp.sent.map((s) => s.to),
    [['ok@example.org']],
  );
  assert.deepEqual(await sender.deliverPost(post({ id: 'other@x' }), target(), LIST, () => [], {}), {
    result: 'delivered',
  });
  assert.equal(
    (await sender.deliverPost(post(), target(), { ...LIST, address: 'not an address' }, () => list, {})).result,
    'failed',
  );
});

test('From: chat posts from the list address with origin; mail posts kept or rewritten per DMARC policy and mode', async (t) => {
  const h = mailCtx();
  t.after(h.close);
  const mk = (fromRewrite: 'dmarc' | 'always' | 'never') =>
    new ListSender(
      h.ctx,
      smtpSchema.parse({
        fromRewrite,
        dmarc: { policies: { 'strict.example': 'reject', 'relaxed.example': 'none', 'q.example': 'quarantine' } },
      }),
      { smtp: scripted() },
    );
  const s = mk('dmarc');
  t.after(() => s.close());
  const mail = (address: string) =>
    post({ author: { name: 'Bob', address, via: 'mail' }, origin: { account: 'mail.lists', target: 'commons' } });
  assert.deepEqual(await s.fromFor(post(), LIST, LIST.address), {
    from: '"alice (IRC #commons)" <commons@lists.example.org>',
  });
  assert.deepEqual(
    await s.fromFor(
      post({ author: { name: 'carol', via: 'nntp' }, origin: { account: 'nntp.local', target: 'peerpost.commons' } }),
      LIST,
      LIST.address,
    ),
    { from: '"carol (news peerpost.commons)" <commons@lists.example.org>' },
  );
  assert.deepEqual(await s.fromFor(mail('bob@relaxed.example'), LIST, LIST.address), {
    from: '"Bob" <bob@relaxed.example>',
  });
  assert.deepEqual(await s.fromFor(mail('bob@strict.example'), LIST, LIST.address), {
    from: '"Bob via commons" <commons@lists.example.org>',
    replyTo: '"Bob" <bob@strict.example>',
  });
  assert.deepEqual(await s.fromFor(mail('bob@mail.q.example'), LIST, LIST.address), {
    from: '"Bob via commons" <commons@lists.example.org>',
    replyTo: '"Bob" <bob@mail.q.example>',
  });
  const always = mk('always');
  const never = mk('never');
  t.after(() => always.close());
  t.after(() => never.close());
  assert.equal(
    (await always.fromFor(mail('bob@relaxed.example'), LIST, LIST.address)).replyTo,
    '"Bob" <bob@relaxed.example>',
  );
  assert.deepEqual(await never.fromFor(mail('bob@strict.example'), LIST, LIST.address), {
    from: '"Bob" <bob@strict.example>',
  });
});

test('robot mail is queued durably, sent with Auto-Submitted from LIST-bounces@, retried with backoff, dropped after it expires', async (t) => {
  const h = mailCtx();
  t.after(h.close);
  let now = 1_000_000;
  let mode: 'temp' | 'ok' = 'temp';
  const smtp = scripted(() => mode);
  const sender = new ListSender(h.ctx, smtpSchema.parse({ retryFirst: '1m', retryMax: '10m', robotExpire: '1h' }), {
    smtp,
    now: () => now,
  });
  t.after(() => sender.close());
  await sender.sendRobot({
    list: LIST,
    to: 'new@example.net',
    subject: 'Confirm your subscription to commons',
    text: 'Reply to confirm.',
    headers: { 'Reply-To': 'commons-confirm+tok@lists.example.org' },
  });
  await sender.flushQueue();
  assert.equal(sender.queued(), 1, 'deferred, still queued');
  const row = h.store.db.prepare('SELECT next_at, attempts, last_error FROM mail_out_queue').get() as {
    next_at: number;
    attempts: number;
    last_error: string;
  };
  assert.equal(row.attempts, 1);
  assert.ok(
    row.next_at >= now + 30_000 && row.next_at <= now + 60_000,
    'first retry after retryFirst (1m), between half and all of it (the shared backoff policy)',
  );
  assert.match(row.last_error, /451/);
  await sender.flushQueue();
  assert.equal(smtp.tries.get('new@example.net'), 1, 'not due yet: not tried again');
  now += 70_000;
  mode = 'ok';
  await sender.flushQueue();
  assert.equal(sender.queued(), 0);
  assert.equal(smtp.sent.length, 1);
  assert.equal(smtp.sent[0]!.sender, 'commons-bounces@lists.example.org');
  assert.deepEqual(smtp.sent[0]!.to, ['new@example.net']);
  assert.match(smtp.sent[0]!.raw, /\r\nAuto-Submitted: auto-generated\r\n/);
  assert.match(
    smtp.sent[0]!.raw,
    /\r\nX-Peerpost-Node: node\.test\.example\r\n/,
    'the trace header the list side recognises its own mail by',
  );
  assert.match(smtp.sent[0]!.raw, /\r\nFrom: "commons list" <commons-request@lists\.example\.org>\r\n/);
  assert.match(smtp.sent[0]!.raw, /\r\nReply-To: <commons-confirm\+tok@lists\.example\.org>\r\n/);

  mode = 'temp';
  await sender.sendRobot({ list: LIST, to: 'late@example.net', subject: 's', text: 't' });
  await sender.flushQueue();
  now += 2 * 3_600_000;
  await sender.flushQueue();
  assert.equal(sender.queued(), 0, 'expired and dropped (with a warning in the log)');
  await assert.rejects(
    sender.sendRobot({ list: LIST, to: 'a@b.org, c@d.org', subject: 's', text: 't' }),
    /not a mail address/,
  );
});

test('forward(): the raw message unchanged to the owners; a 5xx owner is reported, the rest delivered', async (t) => {
  const h = mailCtx();
  t.after(h.close);
  const smtp = scripted((a) => (a === 'gone@example.org' ? 'perm' : 'ok'));
  const sender = new ListSender(h.ctx, smtpSchema.parse({}), { smtp });
  t.after(() => sender.close());
  const bounces: BounceEvent[] = [];
  sender.onBounce = (e) => bounces.push(e);
  const raw = Buffer.from(
    'From: someone@example.net\r\nTo: commons-owner@lists.example.org\r\nSubject: question\r\n\r\nHi owners\r\n',
  );
  await sender.forward(LIST, raw, ['owner@example.org', 'gone@example.org', 'owner@example.org', 'bad address']);
  await sender.flushQueue();
  assert.equal(sender.queued(), 0);
  assert.deepEqual(
    smtp.sent.map((s) => [s.sender, s.to]),
    [['commons-bounces@lists.example.org', ['owner@example.org']]],
  );
  assert.equal(
    smtp.sent[0]!.raw,
    `X-Loop: commons@lists.example.org\r\n${raw.toString()}`,
    'unchanged but for X-Loop on top',
  );
  assert.deepEqual(
    bounces.map((b) => b.address),
    ['gone@example.org'],
  );
  await assert.rejects(sender.forward(LIST, raw, ['not an address']), /no usable address/);
  await assert.rejects(
    sender.forward(LIST, raw, ['commons-owner@lists.example.org', 'Commons@Lists.Example.org']),
    /own addresses are never used/,
    'owner mail never loops back to the list',
  );
  await assert.rejects(
    sender.sendRobot({ list: LIST, to: 'commons-request@lists.example.org', subject: 's', text: 't' }),
    /not a mail address robot mail can go to/,
  );
});

test('outcomes(): nodemailer answers mapped per recipient', () => {
  const rej = (recipient: string, code: number) =>
    Object.assign(new Error('Recipient command failed'), {
      recipient,
      responseCode: code,
      response: `${code} x`,
      code: 'EENVELOPE',
      command: 'RCPT TO',
    });
  assert.deepEqual(
    outcomes(
      ['a', 'b', 'c'],
      { accepted: ['a'], rejectedErrors: [rej('b', 451), rej('c', 550)], response: '250 ok' },
      undefined,
    ).map((o) => o.result),
    ['sent', 'deferred', 'bounced'],
  );
  const all = Object.assign(new Error("Can't send mail - all recipients were rejected"), {
    code: 'EENVELOPE',
    responseCode: 550,
    rejectedErrors: [rej('a', 550), rej('b', 452)],
  });
  assert.deepEqual(
    outcomes(['a', 'b'], undefined, all).map((o) => o.result),
    ['bounced', 'deferred'],
  );
  const data = Object.assign(new Error('Message failed'), {
    code: 'EMESSAGE',
    responseCode: 554,
    response: '554 5.7.1 spam',
    command: 'DATA',
  });
  assert.deepEqual(
    outcomes(['a', 'b'], undefined, data).map((o) => o.result),
    ['bounced', 'bounced'],
  );
  const mail = Object.assign(new Error('Mail command failed'), {
    code: 'EENVELOPE',
    responseCode: 553,
    command: 'MAIL FROM',
  });
  assert.deepEqual(
    outcomes(['a'], undefined, mail).map((o) => o.result),
    ['deferred'],
    'a refused sender is our problem, not a bounce',
  );
  const conn = Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' });
  assert.deepEqual(
    outcomes(['a'], undefined, conn).map((o) => [o.result, o.code]),
    [['deferred', null]],
  );
});

test('452 "too many recipients": the rest go at once in new transactions of the size the server took', async (t) => {
  const h = mailCtx();
  t.after(h.close);
  const sent: string[][] = [];
  const smtp: SmtpSender = {
    async send(_sender, to) {
      // A server that takes 3 recipients per transaction, like a smarthost with a low recipient limit.
      sent.push(to.slice(0, 3));
      return to.map((address, i) =>
        i < 3
          ? { address, result: 'sent' as const, code: 250, reply: '250 ok' }
          : { address, result: 'deferred' as const, code: 452, reply: '452 4.5.3 Too many recipients' },
      );
    },
    close() {},
  };
  const sender = new ListSender(h.ctx, smtpSchema.parse({ recipientsPerTransaction: 10 }), { smtp });
  t.after(() => sender.close());
  assert.deepEqual(await sender.deliverPost(post(), target(), LIST, () => people(10), {}), { result: 'delivered' });
  assert.deepEqual(
    sent.map((s) => s.length).sort((a, b) => b - a),
    [3, 3, 3, 1],
  );
  assert.deepEqual(
    sent.flat().sort(),
    people(10)
      .map((p) => p.address)
      .sort(),
  );
});

test('waiting(): robot mail deferred by the smarthost is counted per account with its age and last error, and gone once sent', async (t) => {
  const h = mailCtx();
  t.after(h.close);
  let now = 5_000_000;
  let mode: 'down' | 'ok' = 'down';
  const smtp = scripted(() => mode);
  const sender = new ListSender(h.ctx, smtpSchema.parse({ retryFirst: '1m', retryMax: '10m' }), {
    smtp,
    now: () => now,
  });
  t.after(() => sender.close());
  const account = (name: string, lists: string[]) =>
    ({
      account: name,
      store: pluginStore(h.store),
      endpoints: () => lists.map((target) => ({ key: `${name}/${target}`, target })),
    }) as unknown as CommandAccount;
  const accounts = [account('mail.lists', ['commons']), account('mail.other', ['elsewhere'])];
  assert.deepEqual(
    robotMailWaiting(accounts).map((w) => [w.account, w.count]),
    [
      ['mail.lists', 0],
      ['mail.other', 0],
    ],
    'every account has an entry, even with nothing queued',
  );
  await sender.sendRobot({ list: LIST, to: 'new@example.net', subject: 'Confirm', text: 'Reply to confirm.' });
  now += 1000;
  await sender.sendRobot({ list: LIST, to: 'two@example.net', subject: 'Confirm', text: 'Reply to confirm.' });
  await sender.flushQueue();
  now += 60_000;
  const [w, other] = robotMailWaiting(accounts);
  assert.equal(w!.account, 'mail.lists');
  assert.equal(w!.name, 'robot_mail');
  assert.equal(w!.what, 'robot mail waiting for the smarthost');
  assert.equal(w!.count, 2);
  assert.equal(w!.oldest, 5_000_000, 'the oldest is the first one queued');
  assert.match(w!.lastError!, /ECONNREFUSED/);
  assert.ok(w!.nextAt! > 5_001_000, 'the next try is after the deferral');
  assert.equal(other!.count, 0, "the other account's lists hold nothing");
  // A list no account serves any more still counts: for the first account, which sends it.
  assert.equal(robotMailWaiting([account('mail.x', [])])[0]!.count, 2);
  now += 3_600_000;
  mode = 'ok';
  await sender.flushQueue();
  assert.equal(robotMailWaiting(accounts)[0]!.count, 0, 'sent: nothing waits');
});

test('waiting(): nothing to say on a store where no mail account has started (no queue table)', () => {
  const h = mailCtx();
  try {
    const a = { account: 'mail.lists', store: pluginStore(h.store), endpoints: () => [] } as unknown as CommandAccount;
    assert.deepEqual(
      robotMailWaiting([a]).map((w) => w.count),
      [0],
    );
  } finally {
    h.close();
  }
});

test('a digest for many members is stored once, whatever the number of transactions; the copy goes with its last row', async (t) => {
  let clock = 1_000_000;
  const smtp = scripted((a, n) => (a === 'slow@d1.example.org' && n === 1 ? 'temp' : 'ok'));
  const c = mailCtx();
  t.after(() => c.close());
  const sender = new ListSender(c.ctx, smtpSchema.parse({ recipientsPerTransaction: 50 }), {
    smtp,
    now: () => clock,
  });
  t.after(() => sender.close());
  const members = Array.from({ length: 1000 }, (_, i) => `m${i}@d${i % 4}.example.org`);
  members.push('slow@d1.example.org');
  const raw = Buffer.from(`Subject: commons Digest, Vol 1, Issue 1\r\n\r\n${'a digest line\r\n'.repeat(5000)}`);
  sender.queueDigest(LIST, members, raw);
  const db = c.store.db;
  const stored = () =>
    db
      .prepare(
        `SELECT (SELECT coalesce(sum(length(raw)), 0) FROM mail_out_queue) + (SELECT coalesce(sum(length(raw)), 0) FROM mail_out_bodies) AS bytes`,
      )
      .pluck()
      .get() as number;
  const rows = () => db.prepare('SELECT count(*) FROM mail_out_queue').pluck().get() as number;
  // 1,001 members in batches of at most 50 per domain: 21 transactions, one copy of the message.
  assert.equal(rows(), 21);
  assert.equal(stored(), raw.length);
  await sender.flushQueue();
  // Everyone has it once, the same message; one recipient waits for a retry, and the copy waits with it.
  const got = smtp.sent.flatMap((s) => s.to);
  assert.equal(new Set(got).size, 1000);
  assert.ok(smtp.sent.every((s) => s.raw === raw.toString()));
  assert.equal(rows(), 1);
  assert.equal(stored(), raw.length);
  clock += 3_600_000;
  await sender.flushQueue();
  assert.ok(smtp.sent.some((s) => s.to.includes('slow@d1.example.org')));
  assert.equal(rows(), 0);
  assert.equal(stored(), 0, 'the copy is gone with the last row');
});
