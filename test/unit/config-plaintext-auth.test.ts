/**
 * `peerpost check` (the config loader, with the real plugins) refuses a
 * password or token that would cross the network in clear: AUTHINFO users on a
 * news server listening beyond loopback without TLS, web tokens on a web
 * listener beyond loopback without a TLS proxy in front; unless the account
 * says so explicitly (allowPlaintextAuth: true). The error names the file,
 * line, column and key, and says what to do. Also: a missing secret names its
 * variable at its line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatConfigError, parseConfig } from '../../src/config/load.js';
import { lookupPlugin } from '../../src/loader.js';

const Y = (...lines: string[]) => lines.join('\n') + '\n';
const FILE = '/etc/peerpost/peerpost.yaml';
const ENV = { NEWS_ALICE_PASSWORD: 'alice-secret', WEB_TOKEN: 'web-token-0123456789', ADMIN: 'admin-token-0123456789' };

async function check(text: string, env: Record<string, string> = ENV): Promise<string[]> {
  const r = await parseConfig(text, FILE, { lookup: lookupPlugin, env, cwd: '/tmp' });
  return r.ok ? [] : r.errors.map(formatConfigError);
}

/** A news server (lines 2-5 + extra) with one user, bridged. */
const news = (listen: string, ...extra: string[]) =>
  Y(
    'accounts:',
    '  nntp.news:',
    `    listen: ${listen}`,
    '    posting: { allow: authenticated }',
    '    users: { alice: "${NEWS_ALICE_PASSWORD}" }',
    ...extra,
    'bridges:',
    '  commons: { endpoints: [nntp.news/peerpost.commons] }',
  );

test('AUTHINFO users on 0.0.0.0 without TLS: refused at the users key, with what to do', async () => {
  const errors = await check(news('0.0.0.0:119'));
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /^\/etc\/peerpost\/peerpost\.yaml:5:12 {2}accounts\.nntp\.news\.users: /);
  assert.match(errors[0]!, /AUTHINFO passwords would cross the network in clear/);
  assert.match(errors[0]!, /listens on 0\.0\.0\.0:119 without TLS/);
  assert.match(errors[0]!, /Add tls: \{ cert, key \}/);
  assert.match(errors[0]!, /listen on 127\.0\.0\.1/);
  assert.match(errors[0]!, /set allowPlaintextAuth: true/);
  // Any address beyond loopback, IPv6 too.
  assert.equal((await check(news('192.0.2.7:1119'))).length, 1);
  assert.match((await check(news('"[::]:119"')))[0]!, /listens on \[::\]:119 without TLS/);
});

test('AUTHINFO users: allowed with allowPlaintextAuth: true, with tls, or on loopback', async () => {
  assert.deepEqual(await check(news('0.0.0.0:119', '    allowPlaintextAuth: true')), []);
  assert.deepEqual(
    await check(news('0.0.0.0:119', '    tls: { cert: /etc/peerpost/tls/cert.pem, key: /etc/peerpost/tls/key.pem }')),
    [],
  );
  for (const listen of ['127.0.0.1:1119', '127.0.0.2:1119', 'localhost:1119', '"[::1]:1119"', '1119'])
    assert.deepEqual(await check(news(listen)), [], listen);
  // No users, no passwords: a public read-only server needs nothing.
  assert.deepEqual(
    await check(
      Y('accounts:', '  nntp.news: { listen: 0.0.0.0:119 }', 'bridges:', '  c: { endpoints: [nntp.news/peerpost.c] }'),
    ),
    [],
  );
});

test('allowPlaintextAuth is a key of the news server, not of a peering account', async () => {
  const errors = await check(
    Y(
      'accounts:',
      '  nntp.peer: { server: news.example.org, allowPlaintextAuth: true }',
      'bridges:',
      '  c: { endpoints: [nntp.peer/peerpost.c] }',
    ),
  );
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /allowPlaintextAuth.*is a key of the built-in server/);
});

/** A web account (lines 2-3 + extra), bridged. */
const web = (...extra: string[]) =>
  Y('accounts:', '  web.w:', ...extra, 'bridges:', '  commons: { endpoints: [web.w/commons] }');

test('web tokens on a listener beyond loopback without a TLS proxy: refused at the key; allowed when said so', async () => {
  const errors = await check(
    web(
      '    listen: 0.0.0.0:8080',
      '    admin: { token: "${ADMIN}" }',
      '    tokens: [{ name: bot, token: "${WEB_TOKEN}", bridges: [commons] }]',
    ),
  );
  assert.deepEqual(
    errors.map((e) => e.replace(/: the web listens.*/, '')),
    [`${FILE}:4:21  accounts.web.w.admin.token`, `${FILE}:5:13  accounts.web.w.tokens`].map(
      (where, i) => `${where}: ${i === 0 ? 'the admin token' : 'posting tokens'} would cross the network in clear`,
    ),
  );
  assert.match(
    errors[0]!,
    /listen on 127\.0\.0\.1 behind a TLS proxy and set publicUrl: https:\/\/…, or set allowPlaintextAuth: true/,
  );
  assert.deepEqual(
    await check(
      web(
        '    listen: 0.0.0.0:8080',
        '    allowPlaintextAuth: true',
        '    tokens: [{ name: bot, token: "${WEB_TOKEN}", bridges: [commons] }]',
      ),
    ),
    [],
  );
  // TLS at a proxy elsewhere (publicUrl https://), or loopback behind a local proxy: fine.
  assert.deepEqual(
    await check(
      web('    listen: 0.0.0.0:8080', '    publicUrl: https://lists.example.org', '    admin: { token: "${ADMIN}" }'),
    ),
    [],
  );
  assert.deepEqual(await check(web('    listen: 127.0.0.1:8080', '    admin: { token: "${ADMIN}" }')), []);
  // No token at all on 0.0.0.0: nothing secret travels.
  assert.deepEqual(await check(web('    listen: 0.0.0.0:8080')), []);
});

test('admin: the token at least 16 characters (its value never shown), allow a list of addresses and ranges', async () => {
  const errors = await check(
    web(
      '    admin:',
      '      token: short',
      '      allow: [127.0.0.1, 10.0.0.0/8, "::1", fd00::/8, 10.0.0.0/33, nothost]',
    ),
  );
  assert.deepEqual(errors, [
    `${FILE}:4:14  accounts.web.w.admin.token: the admin token must be at least 16 characters long (use e.g. \`openssl rand -hex 24\`)`,
    `${FILE}:5:55  accounts.web.w.admin.allow[4]: "10.0.0.0/33": the prefix length after / must be a whole number from 0 to 32`,
    `${FILE}:5:68  accounts.web.w.admin.allow[5]: "nothost" is not an address or a range (expected e.g. 127.0.0.1, 127.0.0.0/8, ::1 or fd00::/8)`,
  ]);
});

test('a missing secret is an error that names the variable, the file, the line and the key', async () => {
  const errors = await check(news('127.0.0.1:1119'), {});
  assert.deepEqual(errors, [
    `${FILE}:5:21  environment variable NEWS_ALICE_PASSWORD is not set (used in accounts.nntp.news.users.alice): set it in peerpost's environment (export NEWS_ALICE_PASSWORD=…; under systemd, Environment=NEWS_ALICE_PASSWORD=… in a drop-in)`,
  ]);
});
