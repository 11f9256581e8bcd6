/**
 * The mail plugin's sending side against Postfix's smtp-sink (test/peers/smtp-sink.sh),
 * which dumps each transaction with its envelope: a larger list in 50-recipient
 * transactions grouped by domain, and VERP envelope senders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ListSender, smtpSchema, verpDecode, type Recipient } from '../../plugins/mail/outbound/index.js';
import { mailCtx, post, target, LIST } from '../unit/mail-out-ctx.js';
import { startDumpingSink } from './mail-send-helpers.js';

const people = (n: number, domains: number): Recipient[] =>
  Array.from({ length: n }, (_, i) => ({ address: `m${i}@d${i % domains}.example.org`, unsubscribeToken: `t${i}` }));

test('2,000 subscribers over 4 domains: 40 transactions of 50, one domain each, everyone exactly once', async (t) => {
  const sink = await startDumpingSink();
  t.after(() => {
    sink.stop();
    rmSync(sink.dir, { recursive: true, force: true });
  });
  const h = mailCtx();
  t.after(h.close);
  const sender = new ListSender(h.ctx, smtpSchema.parse({ host: '127.0.0.1', port: sink.port }));
  t.after(() => sender.close());
  const list = people(2000, 4);
  assert.deepEqual(await sender.deliverPost(post(), target(), LIST, () => list, {}), { result: 'delivered' });
  const tx = sink.transactions();
  assert.equal(tx.length, 40);
  for (const x of tx) {
    assert.equal(x.from, 'commons-bounces@lists.example.org');
    assert.equal(x.to.length, 50);
    assert.equal(new Set(x.to.map((a) => a.split('@')[1])).size, 1);
  }
  assert.deepEqual(tx.flatMap((x) => x.to).sort(), list.map((p) => p.address).sort());
});

test('VERP through smtp-sink: one transaction each, and every envelope sender decodes back to its recipient', async (t) => {
  const sink = await startDumpingSink();
  t.after(() => {
    sink.stop();
    rmSync(sink.dir, { recursive: true, force: true });
  });
  const h = mailCtx();
  t.after(h.close);
  const sender = new ListSender(h.ctx, smtpSchema.parse({ host: '127.0.0.1', port: sink.port, verp: true }));
  t.after(() => sender.close());
  const list = people(40, 3);
  assert.equal((await sender.deliverPost(post(), target(), LIST, () => list, {})).result, 'delivered');
  const tx = sink.transactions();
  assert.equal(tx.length, 40);
  for (const x of tx) {
    assert.equal(x.to.length, 1);
    const local = x.from.slice(0, x.from.lastIndexOf('@'));
    assert.equal(x.from.slice(x.from.lastIndexOf('@') + 1), 'lists.example.org');
    assert.equal(verpDecode(local, 'commons'), x.to[0]);
  }
});
