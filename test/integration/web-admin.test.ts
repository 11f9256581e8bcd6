/**
 * Nothing private is public: the real daemon with a web account, an IRC
 * account that cannot connect (nothing listens on its port) and a mailing list
 * whose smarthost does not exist. The operator, on loopback or with the admin
 * token, sees the errors and host names on /status, /metrics and /healthz; a
 * visitor (a request through a proxy, X-Forwarded-For) is refused those and
 * finds no error text nor host name on any public page or API answer. A
 * reload that sets publicUrl closes loopback too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { cli, runOnce, startDaemon, world, type World } from '../helpers/daemon.js';
import { freePort, listeningPort } from '../peers/finger.js';

const ADMIN = 'admin-token-for-the-test-0123456789';
/** What a visitor's request looks like once nginx has relayed it. */
const VISITOR: Record<string, string> = { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' };

function config(w: World, ircPort: number, web: string): string {
  return `node:
  hostname: test.example
  data: ${w.data}
accounts:
  web.t:
    listen: 127.0.0.1:0
${web}
  irc.down: { host: 127.0.0.1, port: ${ircPort}, tls: false, nick: bridgebot }
  mail.m:
    domain: lists.test.example
    listen: 127.0.0.1:0
    smtp: { host: smarthost.invalid, port: 25 }
bridges:
  commons:
    endpoints: [web.t/commons, irc.down/#commons, { endpoint: mail.m/commons, policy: open }]
`;
}

async function get(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { headers });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

/** GET until the page matches (up to 20 s), then the last answer: it must match. */
async function getUntil(url: string, want: RegExp, headers: Record<string, string> = {}) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await get(url, headers);
    if (want.test(r.text) || Date.now() > deadline) {
      assert.match(r.text, want, url);
      return r;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

test('/status and /metrics: loopback by default, never through a proxy, anywhere with the admin token; the public site shows no account error nor host name', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const ircPort = await freePort(); // nothing listens there: the IRC account keeps failing
  writeFileSync(w.config, config(w, ircPort, `    admin: { token: ${ADMIN} }`));
  await runOnce(w.config); // the store exists only once the daemon has run: no other command creates one
  assert.equal((await cli(['subscribers', 'commons', 'add', 'carol@example.org', '-c', w.config])).code, 0);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const base = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.t')}`;
  const posted = await cli([
    'post',
    '-c',
    w.config,
    '-b',
    'commons',
    '--from',
    'alice',
    '--subject',
    'Hello',
    'hi all',
  ]);
  assert.equal(posted.code, 0, posted.stderr);
  const id = /<([^>]+)>/.exec(posted.stdout)![1]!;

  // The operator on loopback: /status shows the failing account and why mail waits, host names and all.
  const deadline = Date.now() + 45_000; // the smarthost's name fails in DNS; slow where no resolver answers
  for (;;) {
    const r = await get(`${base}/status`);
    assert.equal(r.status, 200, r.text);
    const status = r.text;
    if (/ECONNREFUSED/.test(status) && /smarthost\.invalid/.test(status)) break;
    assert.ok(Date.now() < deadline, `/status shows the IRC error and the smarthost's name:\n${status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // The account goes from `retrying` to `connecting` for each attempt and back: read until it is seen retrying
  // (on a loaded machine one read may fall inside an attempt).
  let r = await getUntil(
    `${base}/metrics`,
    /^peerpost_account_state\{account="irc\.down",protocol="irc",state="retrying"\} 1$/m,
  );
  assert.equal(r.status, 200);
  r = await getUntil(`${base}/healthz`, /^irc\.down: retrying — .*ECONNREFUSED/m);
  assert.equal(r.status, 200);

  // Through a proxy, loopback is not enough: 401 (a token is configured), saying how to get in.
  for (const path of ['/status', '/metrics']) {
    for (const headers of <Record<string, string>[]>[
      VISITOR,
      { forwarded: 'for=198.51.100.7;proto=https' },
      { 'x-real-ip': '198.51.100.7' },
    ]) {
      r = await get(`${base}${path}`, headers);
      assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}: ${r.text}`);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="peerpost admin"');
      assert.match(
        r.text,
        /not shown to requests that come through a proxy: send the admin token as "Authorization: Bearer TOKEN"/,
      );
      assert.doesNotMatch(r.text, /ECONNREFUSED|smarthost|peerpost_/);
    }
    // With the admin token, from anywhere.
    r = await get(`${base}${path}`, { ...VISITOR, authorization: `Bearer ${ADMIN}` });
    assert.equal(r.status, 200, `${path} with the token`);
    assert.match(r.text, path === '/status' ? /smarthost\.invalid/ : /^peerpost_uptime_seconds \d+/m);
    // A wrong token: 401, from loopback too.
    for (const headers of <Record<string, string>[]>[VISITOR, {}]) {
      r = await get(`${base}${path}`, { ...headers, authorization: `Bearer ${ADMIN.slice(0, -1)}x` });
      assert.equal(r.status, 401, `${path} with a wrong token`);
      assert.match(r.text, /not the admin token/);
    }
  }

  // What a visitor may see: nothing of the errors, the IRC server's failure, nor the smarthost's name.
  const secrets =
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|getaddrinfo|smarthost|disconnected|reconnecting|trying again|deferred|last error|bridgebot/i;
  const pages = ['/', '/b/commons', `/p/${encodeURIComponent(id)}`, '/no/such/page', '/api/bridges'];
  pages.push('/api/bridges/commons/posts', `/api/posts/${encodeURIComponent(id)}`, '/api/nothing', '/healthz');
  for (const path of pages) {
    r = await get(`${base}${path}`, VISITOR);
    assert.ok([200, 404].includes(r.status), `${path}: ${r.status}`);
    assert.doesNotMatch(r.text, secrets, `${path} shows nothing private:\n${r.text}`);
  }
  // The index still shows each account's state (not its detail), and /healthz its verdict.
  assert.match((await getUntil(`${base}/`, /data-account="irc\.down">retrying</, VISITOR)).text, /data-account/);
  r = await get(`${base}/healthz`, VISITOR);
  assert.equal(r.status, 200);
  assert.equal(
    r.text,
    'ok\n(the details are for operators: from an address in admin.allow, loopback by default, or with the admin token)\n',
  );
  assert.doesNotMatch((await get(`${base}/`)).text, /href="\/status"/, 'the public footer does not link to /status');

  // A reload that sets publicUrl and drops the token: loopback alone no longer opens them (403, what to do).
  writeFileSync(w.config, config(w, ircPort, '    publicUrl: https://lists.test.example'));
  d.proc.kill('SIGHUP');
  await d.waitForLog(/config reloaded/);
  for (const path of ['/status', '/metrics']) {
    r = await get(`${base}${path}`);
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /shown to no address without the token here\. Set admin\.token in the web account/);
  }
});
