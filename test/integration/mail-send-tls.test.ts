/**
 * Sending through a smarthost that needs TLS and a login (aiosmtpd with a
 * throwaway certificate): STARTTLS + AUTH with our own CA file, implicit TLS,
 * and the failures a person must be told about (wrong password, untrusted certificate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ListSender, smtpSchema } from '../../plugins/mail/outbound/index.js';
import { mailCtx, post, target, LIST } from '../unit/mail-out-ctx.js';
import { selfSignedCert, startMaildirSink } from './mail-send-helpers.js';

const one = [{ address: 'reader@example.org', unsubscribeToken: 't' }];

test('STARTTLS required, AUTH with the configured login, the CA from smtp.tls.ca', async (t) => {
  const tls = selfSignedCert();
  t.after(() => rmSync(tls.dir, { recursive: true, force: true }));
  const sink = await startMaildirSink({ tls, auth: { user: 'lists', pass: 's3cret' } });
  t.after(() => sink.stop());
  const h = mailCtx();
  t.after(h.close);
  const base = { host: '127.0.0.1', port: sink.port, requireTLS: true, tls: { ca: tls.cert } };

  const good = new ListSender(h.ctx, smtpSchema.parse({ ...base, auth: { user: 'lists', pass: 's3cret' } }));
  t.after(() => good.close());
  assert.deepEqual(await good.deliverPost(post(), target(), LIST, () => one, {}), { result: 'delivered' });
  assert.deepEqual(
    sink.transactions().map((x) => x.to),
    [['reader@example.org']],
  );

  const wrong = new ListSender(h.ctx, smtpSchema.parse({ ...base, auth: { user: 'lists', pass: 'nope' } }));
  t.after(() => wrong.close());
  const w = await wrong.deliverPost(post({ id: 'w@x' }), target(), LIST, () => one, {});
  assert.equal(w.result, 'retry');
  assert.match((w as { reason: string }).reason, /535|auth/i);

  const untrusted = new ListSender(
    h.ctx,
    smtpSchema.parse({ host: '127.0.0.1', port: sink.port, requireTLS: true, auth: { user: 'lists', pass: 's3cret' } }),
  );
  t.after(() => untrusted.close());
  const u = await untrusted.deliverPost(post({ id: 'u@x' }), target(), LIST, () => one, {});
  assert.equal(u.result, 'retry');
  assert.match((u as { reason: string }).reason, /certificate/i);
  assert.equal(sink.transactions().length, 1, 'nothing sent without the login or over an untrusted connection');
});

test('implicit TLS (secure: true)', async (t) => {
  const tls = selfSignedCert();
  t.after(() => rmSync(tls.dir, { recursive: true, force: true }));
  const sink = await startMaildirSink({ implicitTls: tls });
  t.after(() => sink.stop());
  const h = mailCtx();
  t.after(h.close);
  const sender = new ListSender(
    h.ctx,
    smtpSchema.parse({ host: '127.0.0.1', port: sink.port, secure: true, tls: { ca: tls.cert } }),
  );
  t.after(() => sender.close());
  assert.deepEqual(await sender.deliverPost(post(), target(), LIST, () => one, {}), { result: 'delivered' });
  assert.equal(sink.messages().length, 1);
});

test('a CA file that cannot be read is a clear error at start', () => {
  const h = mailCtx();
  try {
    assert.throws(
      () => new ListSender(h.ctx, smtpSchema.parse({ tls: { ca: '/nonexistent/ca.pem' } })),
      /smtp\.tls\.ca: cannot read \/nonexistent\/ca\.pem/,
    );
  } finally {
    h.close();
  }
});
