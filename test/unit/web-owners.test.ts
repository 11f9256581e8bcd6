/**
 * The owner page's locks, without sockets: login links signed, expiring, single use and bound to their list;
 * sessions kept only as hashes; the cross-site judge (Sec-Fetch-Site, Origin); HTTPS behind a proxy; the
 * client address behind a loopback proxy; the sliding-window rate limit; the preferences form's token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { memoryPluginStore } from '../helpers/memory-store.js';
import {
  OwnerAuth,
  RateLimit,
  clientAddress,
  cookie,
  crossSite,
  overHttps,
  prefsFormProblem,
  prefsFormToken,
  sameToken,
  signLogin,
  verifyLogin,
} from '../../plugins/web/owners.js';

const req = (headers: Record<string, string>, remote = '127.0.0.1') =>
  ({ headers, socket: { remoteAddress: remote } }) as unknown as IncomingMessage;
const who = { account: 'mail.lists', list: 'commons', address: 'owner@example.org' };

test('a login link works once, for its list, until it expires; a forged or altered one never', () => {
  const store = memoryPluginStore('web');
  const key = randomBytes(32);
  const auth = new OwnerAuth(store, key);
  const t0 = 1_000_000;
  const t = auth.link(who, 60_000, t0);
  assert.deepEqual(verifyLogin(key, t), {
    ...who,
    expires: t0 + 60_000,
    nonce: (verifyLogin(key, t) as { nonce: string }).nonce,
  });
  assert.match(JSON.stringify(verifyLogin(randomBytes(32), t)), /not valid/, "another server's key");
  const [p, sig] = t.split('.');
  const altered = Buffer.from(Buffer.from(p!, 'base64url').toString().replace('owner@', 'evil@')).toString('base64url');
  assert.match(JSON.stringify(auth.use(`${altered}.${sig}`, 'commons', t0)), /not valid/);
  assert.match(JSON.stringify(auth.use(t, 'other', t0)), /another list/);
  assert.match(JSON.stringify(auth.use(t, 'commons', t0 + 60_001)), /expired/);
  assert.equal((auth.use(t, 'commons', t0) as { address: string }).address, 'owner@example.org');
  assert.match(JSON.stringify(auth.use(t, 'commons', t0 + 1)), /used already/);
  assert.match(JSON.stringify(auth.check(t, 'commons', t0 + 1)), /owner@example\.org/, 'check does not use it');
  // A second link of the same owner is a new one.
  assert.equal((auth.use(auth.link(who, 60_000, t0), 'commons', t0) as { list: string }).list, 'commons');
  assert.match(JSON.stringify(verifyLogin(key, signLogin(key, { ...who, expires: 1 }).slice(0, -1))), /not valid/);
});

test('a session is found by its id only (the store keeps a hash), ends at its time, and closes', () => {
  const store = memoryPluginStore('web');
  const auth = new OwnerAuth(store, randomBytes(32));
  const id = auth.open(who, 1000, 5000);
  const s = auth.session(id, 5500)!;
  assert.equal(s.address, 'owner@example.org');
  assert.match(s.csrf, /^[A-Za-z0-9_-]{32}$/);
  const rows = store.prepare('SELECT id FROM web_owner_sessions').pluck().all() as string[];
  assert.ok(!rows.includes(id), 'the id itself is not stored');
  assert.equal(auth.session(id, 6001), undefined, 'past its time');
  auth.flash(id, 'done');
  assert.equal(auth.session(id, 5600)!.flash, 'done');
  auth.close(id);
  assert.equal(auth.session(id, 5600), undefined);
  assert.equal(auth.session(undefined), undefined);
  assert.ok(sameToken(s.csrf, s.csrf));
  // Another token of the same length (its last character changed: a random token ends in x one time in 64).
  assert.ok(!sameToken(s.csrf, `${s.csrf.slice(0, -1)}${s.csrf.endsWith('x') ? 'y' : 'x'}`));
});

test('cross-site: Sec-Fetch-Site other than same-origin/none, or a foreign Origin, is refused', () => {
  const mine = ['https://lists.example.org'];
  assert.equal(crossSite(req({}), mine), undefined, 'a program without either header');
  assert.equal(
    crossSite(req({ origin: 'https://lists.example.org', 'sec-fetch-site': 'same-origin' }), mine),
    undefined,
  );
  assert.equal(crossSite(req({ origin: 'null', 'sec-fetch-site': 'same-origin' }), mine), undefined, 'no-referrer');
  assert.match(crossSite(req({ origin: 'null' }), mine)!, /another site/);
  assert.match(crossSite(req({ origin: 'https://evil.example' }), mine)!, /Origin: https:\/\/evil\.example/);
  assert.match(crossSite(req({ 'sec-fetch-site': 'cross-site' }), mine)!, /Sec-Fetch-Site: cross-site/);
  assert.match(crossSite(req({ 'sec-fetch-site': 'same-site' }), mine)!, /another site/);
  assert.match(
    crossSite(req({ origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }), mine)!,
    /another site/,
  );
});

test('HTTPS, the client address and cookies as a proxy passes them on', () => {
  assert.equal(overHttps(req({}), 'https://lists.example.org'), true);
  assert.equal(overHttps(req({}), undefined), false);
  assert.equal(overHttps(req({ 'x-forwarded-proto': 'https' }), 'http://x'), true);
  assert.equal(overHttps(req({ forwarded: 'for=1.2.3.4;proto=https' }), undefined), true);
  assert.equal(overHttps(req({ forwarded: 'for=1.2.3.4;proto=http' }), undefined), false);
  assert.equal(
    clientAddress(req({ 'x-forwarded-for': '1.1.1.1, 203.0.113.9' })),
    '203.0.113.9',
    'what the proxy appended',
  );
  assert.equal(
    clientAddress(req({ 'x-forwarded-for': '203.0.113.9' }, '198.51.100.1')),
    '198.51.100.1',
    'not from loopback: the peer',
  );
  assert.equal(clientAddress(req({ 'x-forwarded-for': 'junk' })), '127.0.0.1');
  assert.equal(clientAddress(req({}, '::ffff:192.0.2.1')), '192.0.2.1');
  assert.equal(cookie(req({ cookie: 'a=1; peerpost_owner=abc; b=2' }), 'peerpost_owner'), 'abc');
  assert.equal(cookie(req({}), 'peerpost_owner'), undefined);
});

test('the rate limit: max per key in a sliding window, nothing counted when refused, then free again', () => {
  const r = new RateLimit(2, 1000);
  assert.equal(r.take(['a'], 0).ok, true);
  assert.equal(r.take(['a'], 100).ok, true);
  const no = r.take(['a'], 200);
  assert.deepEqual(no, { ok: false, retryAfterMs: 800 });
  assert.equal(r.take(['b'], 200).ok, true, 'another key');
  assert.equal(r.take(['a'], 1000).ok, true, 'the first one left the window');
  r.sweep(5000);
  assert.equal(r.size, 0);
  assert.equal(new RateLimit(0, 1000).take(['a']).ok, true, '0: no limit');
});

test("the preferences form's token: good for its link until it expires; another link's, an altered or a forged one never", () => {
  const key = randomBytes(32);
  const now = Date.UTC(2026, 11, 6);
  const t = prefsFormToken(key, 'LINK-A', 3_600_000, now);
  assert.equal(prefsFormProblem(key, 'LINK-A', t, now + 3_599_999), undefined);
  assert.match(prefsFormProblem(key, 'LINK-A', t, now + 3_600_001)!, /too old/);
  assert.match(prefsFormProblem(key, 'LINK-B', t, now)!, /not valid for this link/);
  const later = t.replace(/^\d+/, String(now + 86_400_000));
  assert.match(prefsFormProblem(key, 'LINK-A', later, now)!, /not valid/, 'a longer life cannot be written in');
  assert.match(prefsFormProblem(randomBytes(32), 'LINK-A', t, now)!, /not valid/, "another server's");
  for (const bad of ['', 'x', `${now}.short`, `${t} `])
    assert.match(prefsFormProblem(key, 'LINK-A', bad, now)!, /no good form token/);
});
