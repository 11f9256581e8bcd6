/**
 * The sending side under the real core and outbox: an IRC line reaches a list
 * through the outbox; aiosmtpd defers one subscriber (451) and refuses another
 * (550). The outbox retries the post after its backoff, the deferred subscriber
 * alone gets it then, everyone exactly once, and the refusal is one bounce.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { fixture, line } from '../helpers/core-fixture.js';
import { ListSender, smtpSchema, type BounceEvent } from '../../plugins/mail/outbound/index.js';
import { mailCtx, LIST } from '../unit/mail-out-ctx.js';
import { startMaildirSink } from './mail-send-helpers.js';

test('a 4xx for one subscriber: retried by the outbox later and delivered once; a 5xx is a bounce', async (t) => {
  const sink = await startMaildirSink();
  t.after(() => sink.stop());
  sink.rules({ tempfail: { 'carol@example.net': 1 }, reject: ['dave@example.org'] });
  const clock = {
    get now() {
      return Date.now();
    },
  } as { now: number };
  const f = fixture(
    { 'irc.libera': 'chat', 'mail.lists': 'article' },
    { commons: { endpoints: ['irc.libera/#commons', { key: 'mail.lists/commons', shape: 'stream' }] } },
    { retryFirstMs: 300, retryMaxMs: 600 },
    { clock },
  );
  t.after(() => f.close());
  const h = mailCtx({ store: f.store });
  t.after(h.close);
  const sender = new ListSender(h.ctx, smtpSchema.parse({ host: '127.0.0.1', port: sink.port }));
  t.after(() => sender.close());
  const bounces: BounceEvent[] = [];
  sender.onBounce = (e) => bounces.push(e);
  const people = [
    'alice@example.org',
    'bob@example.org',
    'carol@example.net',
    'dave@example.org',
    'erin@example.net',
  ].map((address, i) => ({ address, unsubscribeToken: `t${i}` }));
  f.deliverers.set('mail.lists/commons', (post, to) => sender.deliverPost(post, to, LIST, () => people, {}));

  const v = await f.core.ingest('irc.libera', line('#commons', 'alice', 'the meeting moved to Friday'));
  assert.equal(v.status, 'accepted');
  const deadline = Date.now() + 10_000;
  while (f.store.listOutbox({ endpoint: 'mail.lists/commons' }).length > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(f.store.listOutbox({ endpoint: 'mail.lists/commons' }), [], 'delivered: the row left the outbox');

  const attempts = f.attempts.filter((a) => a.endpoint === 'mail.lists/commons');
  assert.equal(attempts.length, 2, 'one retry');
  const tx = sink.transactions();
  const got = tx.flatMap((x) => x.to).sort();
  assert.deepEqual(
    got,
    ['alice@example.org', 'bob@example.org', 'carol@example.net', 'erin@example.net'],
    'everyone but the refused one, once each',
  );
  assert.deepEqual(tx.at(-1)!.to, ['carol@example.net'], 'the retry went to the deferred subscriber alone');
  assert.deepEqual(
    bounces.map((b) => [b.address, b.code]),
    [['dave@example.org', 550]],
  );
  const m = await simpleParser(sink.messages()[0]!);
  assert.equal(m.from?.text, '"alice (IRC #commons)" <commons@lists.example.org>');
  assert.equal(m.messageId, `<${attempts[0]!.post.id}>`);
});
