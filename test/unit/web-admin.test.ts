/**
 * Who may see /status, /metrics and the details of /healthz, without sockets:
 * requests are stand-ins carrying only what the judge reads (the peer address
 * and the headers). Loopback by default, never through a proxy, nobody by
 * address once publicUrl is set, anyone with the admin token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Admin, allowedRanges, PROXY_HEADERS } from '../../plugins/web/admin.js';
import { account } from '../../plugins/web/schema.js';
import { isLoopbackHost } from '../../src/plugin.js';

const TOKEN = 'the-admin-token-0123456789';
const req = (remoteAddress: string, headers: Record<string, string> = {}) =>
  ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;
const judge = (block: Record<string, unknown>) => new Admin(account.parse(block));
const verdict = (a: Admin, r: IncomingMessage) => {
  const v = a.judge(r, '/status');
  return v.ok ? `ok by ${v.why}` : `${v.status}`;
};

test('by default: loopback (IPv4, IPv6, IPv4-mapped) is let in; other addresses are refused with 403 and how to get in', () => {
  const a = judge({});
  assert.deepEqual(allowedRanges(account.parse({})), ['127.0.0.0/8', '::1']);
  for (const addr of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
    assert.equal(verdict(a, req(addr)), 'ok by address', addr);
  for (const addr of ['192.0.2.1', '10.0.0.1', '::ffff:192.0.2.1', '2001:db8::1', '']) {
    const v = a.judge(req(addr), '/metrics');
    assert.equal(v.ok, false, addr);
    if (v.ok) continue;
    assert.equal(v.status, 403);
    assert.match(v.text, /^\/metrics is for the operators of this server, and it is not shown to this address\./);
    assert.match(
      v.text,
      /set admin\.token in the web account of the config and send it as "Authorization: Bearer TOKEN"/,
    );
  }
});

test('a request through a proxy (any of its headers) is not let in by its loopback address', () => {
  const a = judge({});
  for (const h of PROXY_HEADERS) {
    const v = a.judge(req('127.0.0.1', { [h]: h === 'forwarded' ? 'for=192.0.2.1' : '192.0.2.1' }), '/status');
    assert.equal(v.ok, false, h);
    if (!v.ok) assert.match(v.text, /not shown to requests that come through a proxy/);
  }
});

test('publicUrl set: no address is let in unless admin.allow is written; then only as written', () => {
  const published = judge({ publicUrl: 'https://lists.example.org' });
  assert.equal(verdict(published, req('127.0.0.1')), '403');
  const v = published.judge(req('127.0.0.1'), '/status');
  if (!v.ok) assert.match(v.text, /shown to no address without the token here\. Set admin\.token/);
  const listed = judge({ publicUrl: 'https://lists.example.org', admin: { allow: ['127.0.0.1', '10.1.0.0/16'] } });
  assert.equal(verdict(listed, req('127.0.0.1')), 'ok by address');
  assert.equal(verdict(listed, req('10.1.200.3')), 'ok by address');
  assert.equal(verdict(listed, req('127.0.0.2')), '403');
  assert.equal(verdict(listed, req('127.0.0.1', { 'x-forwarded-for': '10.1.0.1' })), '403');
  // allow: [] closes every address, with or without publicUrl.
  assert.equal(verdict(judge({ admin: { allow: [] } }), req('127.0.0.1')), '403');
});

test('the admin token: let in from anywhere, through a proxy too; a wrong or malformed one is refused with 401', () => {
  const a = judge({ admin: { token: TOKEN } });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  assert.equal(verdict(a, req('192.0.2.1', bearer(TOKEN))), 'ok by token');
  assert.equal(verdict(a, req('127.0.0.1', { ...bearer(TOKEN), 'x-forwarded-for': '192.0.2.1' })), 'ok by token');
  assert.equal(verdict(a, req('192.0.2.1', { authorization: `bearer   ${TOKEN}` })), 'ok by token');
  for (const wrong of [`${TOKEN}x`, TOKEN.slice(0, -1), 'x', TOKEN.toUpperCase()]) {
    const v = a.judge(req('192.0.2.1', bearer(wrong)), '/metrics');
    assert.equal(v.ok, false, wrong);
    if (v.ok) continue;
    assert.equal(v.status, 401);
    assert.equal(v.headers['WWW-Authenticate'], 'Bearer realm="peerpost admin"');
    assert.match(v.text, /not the admin token/);
  }
  // A presented token is judged alone: a wrong one is refused even from loopback.
  assert.equal(verdict(a, req('127.0.0.1', bearer('wrong-token-0123456789'))), '401');
  // Another kind of Authorization (a proxy's Basic login) is no token: the address decides.
  assert.equal(verdict(a, req('127.0.0.1', { authorization: 'Basic YWxpY2U6c2VjcmV0' })), 'ok by address');
  assert.equal(verdict(a, req('192.0.2.1', { authorization: `Basic ${TOKEN}` })), '401');
  assert.equal(verdict(a, req('192.0.2.1', { authorization: 'Bearer' })), '401');
  // None presented from afar: 401 with the challenge, saying what to send.
  const v = a.judge(req('192.0.2.1'), '/status');
  assert.equal(v.ok, false);
  if (!v.ok) {
    assert.equal(v.status, 401);
    assert.match(v.text, /send the admin token as "Authorization: Bearer TOKEN"/);
  }
  // No token configured: any presented one is refused, and the text says none is configured.
  const none = judge({}).judge(req('192.0.2.1', bearer(TOKEN)), '/status');
  assert.equal(none.ok, false);
  if (!none.ok) assert.match(none.text, /none is configured/);
});

test('isLoopbackHost: loopback listeners only', () => {
  for (const h of ['127.0.0.1', '127.9.9.9', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
    assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.0.2.1', 'lists.example.org', '::ffff:10.0.0.1', '128.0.0.1'])
    assert.equal(isLoopbackHost(h), false, h);
});
