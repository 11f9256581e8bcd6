/**
 * The mail plugin's sending side against a real SMTP server nobody here wrote:
 * aiosmtpd on 127.0.0.1 writing a Maildir, with per-address 4xx/5xx answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { ListSender, smtpSchema, type BounceEvent, type Recipient } from '../../plugins/mail/outbound/index.js';
import { mailCtx, post, target, LIST } from '../unit/mail-out-ctx.js';
import { startMaildirSink } from './mail-send-helpers.js';

function subscribers(n: number, domains = ['example.org', 'example.net', 'example.com']): Recipient[] {
  return Array.from({ length: n }, (_, i) => ({
    address: `user${i}@${domains[i % domains.length]}`,
    unsubscribeToken: `tok${i}`,
  }));
}

function header(msg: string, name: string): string[] {
  const head = msg.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  return head
    .split(/\r?\n/)
    .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .map((l) => l.slice(name.length + 1).trim());
}

test('pooled delivery: every subscriber gets the post once, grouped by domain, with the list headers', async (t) => {
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  const { ctx, close } = mailCtx();
  t.after(close);
  const sender = new ListSender(
    ctx,
    smtpSchema.parse({ host: '127.0.0.1', port: sink.port, recipientsPerTransaction: 10, pool: { maxConnections: 3 } }),
  );
  t.after(() => sender.close());
  const people = subscribers(95);
  const out = await sender.deliverPost(
    post({
      subject: 'Meeting on Friday',
      inReplyTo: 'parent@example.org',
      references: ['root@example.org', 'parent@example.org'],
    }),
    target(),
    LIST,
    () => people,
    { archive: 'https://web.example.org/commons', post: (id) => `https://web.example.org/p/${encodeURIComponent(id)}` },
  );
  assert.deepEqual(out, { result: 'delivered' });

  const tx = sink.transactions();
  const got = tx.flatMap((x) => x.to).sort();
  assert.deepEqual(got, people.map((p) => p.address).sort(), 'each subscriber exactly once, nobody else');
  for (const x of tx) {
    assert.ok(x.to.length <= 10, 'at most recipientsPerTransaction per transaction');
    assert.equal(new Set(x.to.map((a) => a.split('@')[1])).size, 1, 'one domain per transaction');
    assert.equal(x.from, 'commons-bounces@lists.example.org');
  }
  assert.equal(tx.length, 12, '32+32+31 recipients over three domains in tens: 4+4+4 transactions');

  const m = sink.messages()[0]!;
  const parsed = await simpleParser(m);
  assert.equal(parsed.subject, '[commons] Meeting on Friday');
  assert.equal(parsed.messageId, '<p1.abc@node.test.example>');
  assert.equal(parsed.inReplyTo, '<parent@example.org>');
  assert.deepEqual(parsed.references, ['<root@example.org>', '<parent@example.org>']);
  assert.equal(parsed.from?.value[0]?.name, 'alice (IRC #commons)');
  assert.equal(parsed.from?.value[0]?.address, 'commons@lists.example.org');
  assert.equal(parsed.text?.trim(), 'Hello, list.');
  assert.deepEqual(header(m, 'List-Id'), ['"The commons" <commons.lists.example.org>']);
  assert.deepEqual(header(m, 'List-Post'), ['<mailto:commons@lists.example.org>']);
  assert.deepEqual(header(m, 'List-Help'), ['<mailto:commons-request@lists.example.org?subject=help>']);
  assert.deepEqual(header(m, 'List-Subscribe'), ['<mailto:commons-join@lists.example.org>']);
  assert.deepEqual(header(m, 'List-Unsubscribe'), ['<mailto:commons-leave@lists.example.org>']);
  assert.deepEqual(header(m, 'List-Unsubscribe-Post'), [], 'no one-click without a per-recipient URL');
  assert.deepEqual(header(m, 'List-Archive'), ['<https://web.example.org/commons>']);
  assert.deepEqual(header(m, 'Archived-At'), ['<https://web.example.org/p/p1.abc%40node.test.example>']);
  assert.deepEqual(header(m, 'Precedence'), ['list']);
  assert.deepEqual(header(m, 'X-Loop'), ['commons@lists.example.org']);
  assert.equal(header(m, 'To').length, 1);
  assert.equal(header(m, 'Cc').length + header(m, 'Bcc').length, 0);
});

test('a 4xx defers only that recipient; the retry sends to it alone, once; a 5xx is a bounce', async (t) => {
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  sink.rules({ tempfail: { 'user4@example.org': 1 }, reject: ['user7@example.net'] });
  const { ctx, close } = mailCtx();
  t.after(close);
  const sender = new ListSender(ctx, smtpSchema.parse({ host: '127.0.0.1', port: sink.port }));
  t.after(() => sender.close());
  const bounces: BounceEvent[] = [];
  sender.onBounce = (e) => bounces.push(e);
  const people = subscribers(9, ['example.org', 'example.net']);
  const to = target();
  const first = await sender.deliverPost(post(), to, LIST, () => people, {});
  assert.equal(first.result, 'retry');
  assert.match((first as { reason: string }).reason, /1 of 9 recipients deferred .*451/);
  assert.equal(bounces.length, 1);
  assert.equal(bounces[0]!.address, 'user7@example.net');
  assert.equal(bounces[0]!.code, 550);
  assert.equal(bounces[0]!.permanent, true);
  assert.equal(bounces[0]!.list, 'commons');
  assert.match(bounces[0]!.reason, /User unknown/);
  const before = sink.transactions().flatMap((x) => x.to);
  assert.equal(before.length, 7, 'seven accepted at once');
  assert.ok(!before.includes('user4@example.org'));

  // The retry: the list has grown meanwhile; the snapshot of the first try is what counts.
  const second = await sender.deliverPost(
    post(),
    { ...to, attempt: 2 },
    LIST,
    () => [...people, { address: 'late@example.org', unsubscribeToken: 'x' }],
    {},
  );
  assert.deepEqual(second, { result: 'delivered' });
  const all = sink.transactions().flatMap((x) => x.to);
  assert.equal(all.length, 8);
  assert.deepEqual(
    sink.transactions().at(-1)!.to,
    ['user4@example.org'],
    'the retry went to the deferred recipient only',
  );
  assert.equal(all.filter((a) => a === 'user4@example.org').length, 1);
  assert.ok(!all.includes('late@example.org'));
  assert.equal(bounces.length, 1, 'the bounce is not reported twice');
});

test('VERP: one transaction per recipient, the envelope sender names the recipient', async (t) => {
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  const { ctx, close } = mailCtx();
  t.after(close);
  const sender = new ListSender(ctx, smtpSchema.parse({ host: '127.0.0.1', port: sink.port, verp: true }));
  t.after(() => sender.close());
  const people = subscribers(6);
  assert.equal((await sender.deliverPost(post(), target(), LIST, () => people, {})).result, 'delivered');
  const tx = sink.transactions();
  assert.equal(tx.length, 6);
  for (const x of tx) {
    assert.equal(x.to.length, 1);
    const [local, domain] = x.to[0]!.split('@');
    assert.equal(x.from, `commons-bounces+${local}=${domain}@lists.example.org`);
  }
});

test('connections are reused across transactions and posts (pool of 2)', async (t) => {
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  const { ctx, close } = mailCtx();
  t.after(close);
  const sender = new ListSender(
    ctx,
    smtpSchema.parse({ host: '127.0.0.1', port: sink.port, recipientsPerTransaction: 10, pool: { maxConnections: 2 } }),
  );
  t.after(() => sender.close());
  for (let i = 0; i < 3; i++) {
    assert.equal(
      (await sender.deliverPost(post({ id: `post${i}@x.example` }), target(), LIST, () => subscribers(60), {})).result,
      'delivered',
    );
  }
  assert.equal(sink.transactions().length, 18);
  assert.ok(sink.connections() <= 2, `18 transactions over ${sink.connections()} connections`);
});

test('a mail post from a DMARC p=reject domain goes out "alice via commons" with Reply-To; a relaxed domain keeps its From', async (t) => {
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  const { ctx, close } = mailCtx();
  t.after(close);
  const sender = new ListSender(
    ctx,
    smtpSchema.parse({
      host: '127.0.0.1',
      port: sink.port,
      dmarc: { policies: { 'strict.example': 'reject', 'relaxed.example': 'none' } },
    }),
  );
  t.after(() => sender.close());
  const mailPost = (id: string, address: string) =>
    post({
      id,
      author: { name: 'Alice Example', address, via: 'mail' },
      origin: { account: 'mail.lists', target: 'commons' },
    });
  await sender.deliverPost(
    mailPost('a@strict.example', 'alice@strict.example'),
    target(),
    LIST,
    () => subscribers(1),
    {},
  );
  await sender.deliverPost(
    mailPost('b@relaxed.example', 'alice@relaxed.example'),
    target(),
    LIST,
    () => subscribers(1),
    {},
  );
  const [strict, relaxed] = await Promise.all(sink.messages().map((m) => simpleParser(m)));
  const byId = new Map([strict!, relaxed!].map((p) => [p.messageId, p]));
  const s = byId.get('<a@strict.example>')!;
  assert.equal(s.from?.text, '"Alice Example via commons" <commons@lists.example.org>');
  assert.equal(s.replyTo?.text, '"Alice Example" <alice@strict.example>');
  const r = byId.get('<b@relaxed.example>')!;
  assert.equal(r.from?.text, '"Alice Example" <alice@relaxed.example>');
  assert.equal(r.replyTo, undefined);
});

test('with the web links: each subscriber gets an own one-click unsubscribe URL (RFC 8058), one transaction each', async (t) => {
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  const { ctx, close } = mailCtx();
  t.after(close);
  const sender = new ListSender(ctx, smtpSchema.parse({ host: '127.0.0.1', port: sink.port }));
  t.after(() => sender.close());
  const people = subscribers(4);
  const links = { unsubscribe: (tok: string) => `https://web.example.org/commons/unsubscribe?t=${tok}` };
  assert.equal((await sender.deliverPost(post(), target(), LIST, () => people, links)).result, 'delivered');
  const msgs = sink.messages();
  assert.equal(msgs.length, 4);
  for (const m of msgs) {
    const rcpt = header(m, 'X-RcptTo')[0]!;
    const i = people.findIndex((p) => p.address === rcpt);
    assert.deepEqual(header(m, 'List-Unsubscribe'), [
      `<mailto:commons-leave@lists.example.org>, <https://web.example.org/commons/unsubscribe?t=tok${i}>`,
    ]);
    assert.deepEqual(header(m, 'List-Unsubscribe-Post'), ['List-Unsubscribe=One-Click']);
  }
});

test('robot mail and forwarded owner mail: queued, a 4xx retried by the queue, delivered once with Auto-Submitted', async (t) => {
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  sink.rules({ tempfail: { 'new@example.net': 1 } });
  const { ctx, close } = mailCtx();
  t.after(close);
  const sender = new ListSender(
    ctx,
    smtpSchema.parse({ host: '127.0.0.1', port: sink.port, retryFirst: '200ms', retryMax: '1s' }),
  );
  t.after(() => sender.close());
  await sender.sendRobot({
    list: LIST,
    to: 'new@example.net',
    subject: 'Confirm: join commons',
    text: 'Reply to this mail to confirm.',
  });
  const owner = Buffer.from(
    'From: someone@example.net\r\nTo: commons-owner@lists.example.org\r\nSubject: a question\r\nMessage-ID: <q1@example.net>\r\n\r\nHello owners.\r\n',
  );
  await sender.forward(LIST, owner, ['owner@example.org']);
  const deadline = Date.now() + 10_000;
  while (sender.queued() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(sender.queued(), 0, 'the queue drained by itself (timer loop)');
  const tx = sink.transactions();
  assert.deepEqual(tx.map((x) => x.to).sort(), [['new@example.net'], ['owner@example.org']]);
  assert.ok(tx.every((x) => x.from === 'commons-bounces@lists.example.org'));
  const robot = sink.messages().find((m) => m.includes('X-RcptTo: new@example.net'))!;
  assert.deepEqual(header(robot, 'Auto-Submitted'), ['auto-generated']);
  assert.equal((await simpleParser(robot)).subject, 'Confirm: join commons');
  const fwd = sink.messages().find((m) => m.includes('X-RcptTo: owner@example.org'))!;
  assert.ok(fwd.endsWith(owner.toString()), 'the owner mail unchanged');
  assert.deepEqual(
    header(fwd, 'X-Loop'),
    ['commons@lists.example.org'],
    'with X-Loop on top, so a copy that comes back is recognised',
  );
});

test('a smarthost with a low recipient limit (452 past 3): the rest go at once in smaller transactions', async (t) => {
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  sink.rules({ maxRecipients: 3 });
  const { ctx, close } = mailCtx();
  t.after(close);
  const sender = new ListSender(ctx, smtpSchema.parse({ host: '127.0.0.1', port: sink.port }));
  t.after(() => sender.close());
  const people = subscribers(10, ['example.org']);
  assert.deepEqual(await sender.deliverPost(post(), target(), LIST, () => people, {}), { result: 'delivered' });
  const tx = sink.transactions();
  assert.deepEqual(
    tx.map((x) => x.to.length).sort((a, b) => b - a),
    [3, 3, 3, 1],
  );
  assert.deepEqual(tx.flatMap((x) => x.to).sort(), people.map((p) => p.address).sort());
});
