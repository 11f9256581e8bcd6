/** DMARC look-ups for From rewriting, through an injected resolver (no network). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DmarcCache,
  organisationalDomain,
  parseDmarcRecord,
  type DmarcResolver,
} from '../../plugins/mail/outbound/dmarc.js';

function resolver(records: Record<string, string[] | 'fail' | 'hang'>): DmarcResolver & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async resolveTxt(name: string) {
      calls.push(name);
      const r = records[name];
      if (r === 'fail') throw Object.assign(new Error('queryTxt ESERVFAIL'), { code: 'ESERVFAIL' });
      if (r === 'hang') return new Promise<string[][]>(() => {});
      if (!r) throw Object.assign(new Error('queryTxt ENOTFOUND'), { code: 'ENOTFOUND' });
      return r.map((t) => [t]);
    },
  };
}

test('records: p= and sp=, and what is not DMARC', () => {
  assert.equal(parseDmarcRecord('v=DMARC1; p=reject; rua=mailto:x@y', false), 'reject');
  assert.equal(parseDmarcRecord('v=DMARC1;p=none;sp=quarantine', true), 'quarantine');
  assert.equal(parseDmarcRecord('v=DMARC1;p=none;sp=quarantine', false), 'none');
  assert.equal(parseDmarcRecord('v=spf1 -all', false), undefined);
  assert.equal(parseDmarcRecord('v=DMARC1; p=bogus', false), 'none');
});

test('organisational domain: the last two labels, three under co.uk-like registries', () => {
  assert.equal(organisationalDomain('mail.example.org'), 'example.org');
  assert.equal(organisationalDomain('a.b.example.co.uk'), 'example.co.uk');
  assert.equal(organisationalDomain('example.org'), 'example.org');
  assert.equal(organisationalDomain('x.example.de'), 'example.de');
});

test('look-ups: own record, organisational fallback (sp=), none, cached; DNS trouble is "unknown" for a short while', async () => {
  let now = 0;
  const r = resolver({
    '_dmarc.strict.example.net': ['some other txt', 'v=DMARC1; p=reject'],
    '_dmarc.example.org': ['v=DMARC1; p=none; sp=quarantine'],
    '_dmarc.broken.example.net': 'fail',
    '_dmarc.slow.example.net': 'hang',
  });
  const c = new DmarcCache(r, { cacheTtlMs: 3_600_000, timeoutMs: 50, now: () => now });
  assert.equal(await c.policy('strict.example.net'), 'reject');
  assert.equal(await c.policy('STRICT.example.net'), 'reject');
  assert.deepEqual(r.calls, ['_dmarc.strict.example.net'], 'the second answer came from the cache');
  assert.equal(await c.policy('lists.example.org'), 'quarantine', 'the subdomain policy of the organisational domain');
  assert.equal(await c.policy('example.org'), 'none');
  assert.equal(await c.policy('nothing.example.net'), 'none');
  assert.equal(await c.policy('broken.example.net'), 'unknown');
  assert.equal(await c.policy('slow.example.net'), 'unknown', 'a look-up that takes too long');
  const n = r.calls.length;
  now += 60_000;
  await c.policy('broken.example.net');
  assert.equal(r.calls.length, n, 'a failure is cached too ...');
  now += 300_000;
  await c.policy('broken.example.net');
  assert.equal(r.calls.length, n + 1, '... but only for five minutes');
  now += 3_600_000;
  await c.policy('strict.example.net');
  assert.equal(r.calls.at(-1), '_dmarc.strict.example.net', 'an answer expires after cacheTtl');
});

test('fixed policies from the config win and need no DNS; concurrent look-ups share one query', async () => {
  const r = resolver({ '_dmarc.example.net': ['v=DMARC1; p=reject'] });
  const c = new DmarcCache(r, {
    cacheTtlMs: 1000,
    timeoutMs: 1000,
    policies: { 'fixed.example': 'reject', 'example.com': 'quarantine' },
  });
  assert.equal(await c.policy('fixed.example'), 'reject');
  assert.equal(await c.policy('sub.example.com'), 'quarantine');
  assert.deepEqual(r.calls, []);
  assert.equal(await c.policy('lists.example'), 'none');
  assert.equal(await c.policy('host.test'), 'none');
  assert.deepEqual(r.calls, [], 'special-use names (RFC 6761) are never looked up');
  const all = await Promise.all([c.policy('example.net'), c.policy('example.net'), c.policy('example.net')]);
  assert.deepEqual(all, ['reject', 'reject', 'reject']);
  assert.equal(r.calls.length, 1);
});
