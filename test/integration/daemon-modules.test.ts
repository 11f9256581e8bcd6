// What `peerpost start` loads with one IRC account (issue 18: its memory): the IRC plugin and the core's own
// libraries, none of the other plugins or their libraries (each a few MB of RSS). The daemon runs as the
// executable runs it (its node flags), against a real ngircd, and relays a line before its modules are listed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shebangFlags, startDaemon } from '../helpers/daemon.js';
import { ensureNgircd, freePort, startIrcd, stopIrcd, User, type Ircd } from './irc-helpers.js';

/** A node --import hook: every module node loads (ES modules by URL, CommonJS by file), one a line, to MODULES_OUT. */
const TRACER = `
import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
const out = process.env.MODULES_OUT;
const { port1, port2 } = new MessageChannel();
port1.on('message', (u) => appendFileSync(out, u + '\\n'));
port1.unref();
register('data:text/javascript,' + encodeURIComponent(
  'let port; export function initialize(d) { port = d.port; }' +
  'export async function load(url, ctx, next) { port.postMessage(url); return next(url, ctx); }'),
  { data: { port: port2 }, transferList: [port2] });
const Module = createRequire(import.meta.url)('module');
const compile = Module.prototype._compile;
Module.prototype._compile = function (content, file) { appendFileSync(out, 'file://' + file + '\\n'); return compile.apply(this, arguments); };
`;

test('an IRC-only daemon loads the IRC plugin and none of the others, nor their libraries', async () => {
  ensureNgircd();
  const dir = mkdtempSync(join(tmpdir(), 'pp-modules-'));
  chmodSync(dir, 0o755); // ngircd runs as nobody
  let ircd: Ircd | undefined;
  const tx = new User('txmods');
  const rx = new User('rxmods');
  try {
    ircd = startIrcd(await freePort(), join(dir, 'ngircd'), '0', 'irc.modules.local');
    await tx.connect(ircd.port, '#a');
    await rx.connect(ircd.port, '#b');
    const config = join(dir, 'pp.yaml');
    writeFileSync(
      config,
      `node: { hostname: modules.local, data: ${join(dir, 'data')} }\naccounts:\n` +
        `  irc.local: { host: 127.0.0.1, port: ${ircd.port}, tls: false, nick: modbot }\nbridges:\n  ab:\n` +
        `    endpoints:\n      - { endpoint: irc.local/#a, direction: in }\n` +
        `      - { endpoint: irc.local/#b, direction: out }\n`,
    );
    const tracer = join(dir, 'tracer.mjs');
    writeFileSync(tracer, TRACER);
    const listed = join(dir, 'modules.txt');
    writeFileSync(listed, '');
    const d = await startDaemon(config, [], {
      nodeFlags: [...shebangFlags(), '--import', tracer],
      env: { MODULES_OUT: listed },
    });
    try {
      await rx.waitFor((l) => /^:modbot!\S+ JOIN :?#b$/i.test(l), 'the bot joins #b', 30_000);
      tx.send('PRIVMSG #a :a line to relay');
      await rx.waitFor((l) => / PRIVMSG #b :.*a line to relay/.test(l), 'the line relayed to #b', 15_000);
    } finally {
      assert.equal(await d.stop('SIGTERM'), 0, `peerpost's exit after SIGTERM; logs:\n${d.logs.join('\n')}`);
    }
    const urls = readFileSync(listed, 'utf8').split('\n').filter(Boolean);
    const packages = new Set(urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean));
    const plugins = new Set(urls.map((u) => /\/dist\/plugins\/([^/]+)\//.exec(u)?.[1]).filter(Boolean));
    assert.ok(packages.has('irc-framework'), `the IRC library was loaded: ${[...packages].join(' ')}`);
    assert.deepEqual([...plugins], ['irc'], 'plugins loaded');
    for (const other of ['pg', 'mailparser', 'nodemailer', 'smtp-server', 'ws', 'pino-pretty', 'playwright-core'])
      assert.ok(!packages.has(other), `${other} was loaded by an IRC-only daemon (${[...packages].join(' ')})`);
    // peerpost's own transport (plugins/irc/transport.ts): irc-framework's, with its SOCKS client and iconv-lite, stays out.
    for (const lib of ['socks', 'ip-address', 'smart-buffer', 'iconv-lite'])
      assert.ok(!packages.has(lib), `${lib} (irc-framework's transport) was loaded (${[...packages].join(' ')})`);
    assert.ok(
      !urls.some((u) => u.endsWith('/irc-framework/src/transports/net.js')),
      "irc-framework's own transport was loaded",
    );
  } finally {
    tx.close();
    rx.close();
    stopIrcd(ircd);
    rmSync(dir, { recursive: true, force: true });
  }
});
