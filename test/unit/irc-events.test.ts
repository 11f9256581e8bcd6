/**
 * IRC → bridge: what irc-framework's message events become, from plain event
 * objects (no sockets); and the plugin's config schema as `peerpost check` sees it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { translate, type MessageEvent, type MessageType, type Translation } from '../../plugins/irc/events.js';
import plugin, { accountSchema, channelProblem } from '../../plugins/irc/index.js';
import { loadConfigFile, formatConfigError } from '../../src/config/load.js';
import { lookupPlugin } from '../../src/loader.js';

const channels = ['#Commons', '#other'];
const t: Translation = {
  ownNick: 'ppbot',
  sameNick: (a, b) => a.toLowerCase() === b.toLowerCase(),
  channel: (x) => channels.find((c) => c.toLowerCase() === x.toLowerCase()),
  notices: false,
};
const ev = (over: Partial<MessageEvent> = {}): MessageEvent => ({
  nick: 'alice',
  ident: '~a',
  hostname: 'h',
  target: '#commons',
  message: 'hello',
  ...over,
});

test('a PRIVMSG in a configured channel is a post by the nick, at the configured spelling of the channel', () => {
  assert.deepEqual(translate('privmsg', ev(), t), {
    target: '#Commons',
    author: { name: 'alice', via: 'irc' },
    body: 'hello',
    kind: 'message',
  });
});

test('ACTION is kind action; NOTICE only with notices: true', () => {
  assert.equal((translate('action', ev({ message: 'waves' }), t) as { kind: string }).kind, 'action');
  assert.deepEqual(translate('notice', ev(), t), { skip: 'a notice (notices: false)' });
  assert.equal((translate('notice', ev(), { ...t, notices: true }) as { kind: string }).kind, 'notice');
});

test('server-time becomes the date of the post', () => {
  const time = Date.parse('2026-11-27T05:00:00.123Z');
  const p = translate('privmsg', ev({ time }), t) as { date: Date };
  assert.equal(p.date.toISOString(), '2026-11-27T05:00:00.123Z');
  assert.equal('date' in (translate('privmsg', ev(), t) as object), false, 'no tag: the core dates it');
});

test('own lines, server notices, private messages, other channels and empty lines are not posts', () => {
  assert.deepEqual(translate('privmsg', ev({ nick: 'PPBot' }), t), { skip: 'our own line' });
  assert.deepEqual(translate('notice', ev({ nick: undefined, from_server: true }), { ...t, notices: true }), {
    skip: 'from the server',
  });
  assert.deepEqual(translate('privmsg', ev({ target: 'ppbot' }), t), { skip: 'a private message' });
  assert.deepEqual(translate('privmsg', ev({ target: '#elsewhere' }), t), {
    skip: '#elsewhere is not a configured channel',
  });
  assert.deepEqual(translate('privmsg', ev({ message: '\x02\x03' }), t), { skip: 'empty once formatting is stripped' });
});

test('formatting is stripped from what is relayed', () => {
  assert.equal(
    (translate('privmsg', ev({ message: '\x0304red\x03 \x02bold\x02' }), t) as { body: string }).body,
    'red bold',
  );
});

test('events from an EventEmitter fake: only the lines that should be posts come out, in order', () => {
  const fake = new EventEmitter();
  const posts: string[] = [];
  for (const type of ['privmsg', 'action', 'notice'] as MessageType[]) {
    fake.on(type, (e: MessageEvent) => {
      const r = translate(type, e, t);
      if (!('skip' in r)) posts.push(`${r.kind}:${r.author.name}:${r.body}`);
    });
  }
  fake.emit('privmsg', ev({ message: 'one' }));
  fake.emit('privmsg', ev({ nick: 'ppbot', message: 'echo' }));
  fake.emit('action', ev({ nick: 'bob', message: 'two' }));
  fake.emit('notice', ev({ message: 'three' }));
  fake.emit('privmsg', ev({ target: '#OTHER', message: 'four' }));
  assert.deepEqual(posts, ['message:alice:one', 'action:bob:two', 'message:alice:four']);
});

test('channel targets: #, &, ! or + first; no spaces, commas or controls', () => {
  for (const ok of ['#commons', '&local', '!ABCDEchan', '+modeless', '#café'])
    assert.equal(channelProblem(ok), undefined, ok);
  assert.match(channelProblem('commons')!, /starts with #/);
  assert.match(channelProblem('#a b')!, /no spaces/);
  assert.match(channelProblem('#a,#b')!, /commas/);
  assert.match(channelProblem('#')!, /more than/);
  assert.equal(plugin.validateTarget, channelProblem);
});

test('account defaults', () => {
  const c = accountSchema.parse({ host: 'irc.example.org', nick: 'bot' });
  assert.equal(c.tls, true);
  assert.equal(c.tlsVerify, true);
  assert.equal(c.port, undefined);
  assert.equal(c.format, '<{nick}> ');
  assert.deepEqual(c.flood, { burst: 5, interval: 500, maxWait: 30_000, window: 8 });
  assert.deepEqual(c.reconnect, { first: 2000, max: 300_000 });
  assert.equal(c.notices, false);
  assert.equal(c.maxLines, 10);
});

test('peerpost check: unknown keys, bad nicks, bad formats and bad channels are errors; channel keys are endpoint options', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-irc-'));
  tt.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'peerpost.yaml');
  const load = async (yaml: string) => {
    writeFileSync(file, yaml);
    const r = await loadConfigFile(file, { lookup: lookupPlugin, env: {}, cwd: dir });
    return r.ok ? [] : r.errors.map(formatConfigError).map((e) => e.slice(file.length + 1));
  };
  assert.deepEqual(
    await load(`accounts:
  irc.net: { host: irc.example.org, nick: bot, sasl: { account: bot, password: pw }, flood: { burst: 3, interval: 1s } }
bridges:
  commons:
    endpoints: [irc.net/#commons, { endpoint: irc.net/#secret, key: hunter2 }]
`),
    [],
  );
  const errs = await load(`accounts:
  irc.net: { host: irc.example.org, nick: 9bot, prot: 6667, format: '<{user}> ' }
bridges:
  commons:
    endpoints: [irc.net/commons, { endpoint: irc.net/#x, kee: y }]
`);
  assert.equal(errs.length, 5, errs.join('\n'));
  assert.ok(
    errs.some((e) => /unknown key "prot" \(did you mean "port"\?\)/.test(e)),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => /nick.*not a valid IRC nick/.test(e)),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => /format.*unknown placeholder \{user\}/.test(e)),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => /starts with #/.test(e)),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => /"kee"/.test(e)),
    errs.join('\n'),
  );
});

test('tlsFingerprint: SHA-256 in hex, with or without colons, any case; only with tls', async () => {
  const { normalFingerprint } = await import('../../plugins/irc/transport.js');
  const hex = 'ab'.repeat(32);
  assert.equal(normalFingerprint(hex), Array(32).fill('AB').join(':'));
  assert.equal(normalFingerprint(Array(32).fill('aB').join(':')), Array(32).fill('AB').join(':'));
  assert.equal(normalFingerprint('ab'.repeat(20)), undefined, 'SHA-1 is too short');
  assert.ok(accountSchema.safeParse({ host: 'h', nick: 'n', tlsFingerprint: hex }).success);
  assert.ok(!accountSchema.safeParse({ host: 'h', nick: 'n', tlsFingerprint: 'nope' }).success);
  const plain = accountSchema.safeParse({ host: 'h', nick: 'n', tls: false, tlsFingerprint: hex });
  assert.ok(!plain.success);
  assert.match(plain.error.issues[0]!.message, /needs tls: true/);
});

test('IRCv3 account-tag: the services account goes into author.account; none, "*" or junk leaves it out', () => {
  assert.deepEqual(translate('privmsg', ev({ account: 'alice_acct' }), t), {
    target: '#Commons',
    author: { name: 'alice', via: 'irc', account: 'alice_acct' },
    body: 'hello',
    kind: 'message',
  });
  assert.equal(
    (translate('action', ev({ message: 'waves', account: 'Al' }), t) as { author: { account?: string } }).author
      .account,
    'Al',
  );
  // irc-framework passes the tag as `account`; a raw tags object works too.
  assert.equal(
    (translate('privmsg', ev({ tags: { account: 'fromtag' } }), t) as { author: { account?: string } }).author.account,
    'fromtag',
  );
  for (const bad of [undefined, false, '', '*', 'two words', 'a\r\nJOIN #x'] as const) {
    const p = translate('privmsg', ev({ account: bad as string | false | undefined }), t) as { author: object };
    assert.equal('account' in p.author, false, `account ${JSON.stringify(bad)}`);
  }
});

test('without account-tag, the account known from extended-join / account-notify is used; an explicit "not logged in" wins', () => {
  const known: Translation = { ...t, accountOf: (n) => (n.toLowerCase() === 'alice' ? 'alice_acct' : undefined) };
  assert.equal((translate('privmsg', ev(), known) as { author: { account?: string } }).author.account, 'alice_acct');
  assert.equal(
    (translate('privmsg', ev({ account: 'tagged' }), known) as { author: { account?: string } }).author.account,
    'tagged',
    'the tag wins',
  );
  assert.equal('account' in (translate('privmsg', ev({ account: false }), known) as { author: object }).author, false);
  assert.equal('account' in (translate('privmsg', ev({ nick: 'bob' }), known) as { author: object }).author, false);
});
