/**
 * draft/relaymsg, no sockets: the relayed nick (relaymsg.ts), its config check, what the server's refusals hold
 * back, the confirmation of RELAYMSG lines by their echo (confirm.ts), and the lines (render.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Client } from 'irc-framework';
import {
  RelayMsg,
  RETRY_AFTER,
  nickPart,
  refusalScope,
  relayNick,
  relayNickProblem,
  separatorProblem,
  type RelayHost,
} from '../../plugins/irc/relaymsg.js';
import { Confirmer, relayRefusal } from '../../plugins/irc/confirm.js';
import { fallbackLines, postLines, relayLines, type RenderConfig } from '../../plugins/irc/render.js';
import { accountSchema } from '../../plugins/irc/schema.js';
import type { Post } from '../../src/plugin.js';

const vars = (nick: string, protocol = 'mail') => ({ nick, protocol, bridge: 'commons', origin: 'mail.lists' });

test('relaymsgNick: {nick} and a separator no ordinary nick has are needed; reserved characters and unknown placeholders are refused', () => {
  assert.equal(relayNickProblem('{nick}/{protocol}'), undefined);
  assert.equal(relayNickProblem('{nick}|{bridge}/'), undefined);
  assert.match(relayNickProblem('{protocol}/x')!, /needs \{nick\}/);
  assert.match(relayNickProblem('{nick}/{network}')!, /unknown placeholder \{network\}/);
  assert.match(relayNickProblem('{nick}.{protocol}')!, /"\." cannot be in a nick/);
  assert.match(relayNickProblem('{nick} {protocol}')!, /cannot be in a nick/);
  assert.match(relayNickProblem('{nick}-{protocol}')!, /needs a separator/);
  assert.match(relayNickProblem('{nick}{protocol}')!, /needs a separator/);
  const bad = accountSchema.safeParse({ host: 'h', nick: 'bot', relaymsgNick: '{nick}_{protocol}' });
  assert.ok(!bad.success && bad.error.issues[0]!.path.join('.') === 'relaymsgNick');
  const ok = accountSchema.parse({ host: 'h', nick: 'bot' });
  assert.equal(ok.relaymsg, false, 'off by default');
  assert.equal(ok.relaymsgNick, '{nick}/{protocol}');
});

test('the template is checked against the separators the server advertises', () => {
  assert.equal(separatorProblem('{nick}/{protocol}', '/'), undefined);
  assert.equal(separatorProblem('{nick}|{protocol}', '/|'), undefined);
  assert.match(separatorProblem('{nick}|{protocol}', '/')!, /none of the separators the server allows .*\(\/\)/);
  assert.equal(separatorProblem('{nick}|{protocol}', ''), undefined, 'a server that names none asks for none');
});

test('names are made into nicks: accents dropped, other characters a single _ inside and nothing at the ends', () => {
  assert.equal(nickPart('Jane Doe'), 'Jane_Doe');
  assert.equal(nickPart('José Müller'), 'Jose_Muller');
  assert.equal(nickPart('  "bob" (work)  '), 'bob_work');
  assert.equal(nickPart('bob_'), 'bob_', 'what a nick may have is kept');
  assert.equal(nickPart('[m]oe|away'), '[m]oe|away');
  assert.equal(nickPart('山田'), '');
  assert.equal(relayNick('{nick}/{protocol}', vars('Jane Doe')), 'Jane_Doe/mail');
  assert.equal(relayNick('{nick}/{protocol}', vars('alice@example.org')), 'alice_example_org/mail');
  assert.equal(relayNick('{nick}/{origin}', vars('alice')), 'alice/mail_lists');
  assert.equal(relayNick('{nick}/{protocol}', vars('42')), '_42/mail', 'a nick does not start with a digit');
  assert.equal(relayNick('{nick}/{protocol}', vars('山田')), undefined, 'a name with nothing IRC allows');
  assert.equal(relayNick('{nick}/{protocol}', vars('---')), undefined);
});

test('a relayed nick fits NICKLEN: the author part is shortened, the rest kept', () => {
  assert.equal(relayNick('{nick}/{protocol}', vars('Bartholomew Featherstonehaugh'), 16), 'Bartholomew/mail');
  assert.equal(relayNick('{nick}/{protocol}', vars('Jane Doe Smith'), 10), 'Jane/mail', 'no "_" left by the cut');
  assert.equal(relayNick('{nick}/{protocol}', vars('Jane Doe Smith'), 13), 'Jane_Doe/mail');
  assert.equal(relayNick('{nick}/{protocol}', vars('alice'), 30), 'alice/mail', 'short enough: as it is');
  assert.equal(relayNick('{nick}/{bridge}{protocol}', vars('alice'), 12), undefined, 'no room for the author');
});

test('what a refusal holds back: a nick, a channel, or the connection', () => {
  assert.equal(refusalScope('FAIL RELAYMSG INVALID_NICK'), 'nick');
  assert.equal(refusalScope('FAIL RELAYMSG BANNED'), 'nick');
  assert.equal(refusalScope('FAIL RELAYMSG PRIVS_NEEDED'), 'channel');
  assert.equal(refusalScope('FAIL RELAYMSG SOMETHING_NEW'), 'channel');
  assert.equal(refusalScope('FAIL RELAYMSG NOT_ENABLED'), 'connection');
  assert.equal(refusalScope('421'), 'connection');
  assert.deepEqual(
    relayRefusal({
      command: 'FAIL',
      params: ['RELAYMSG', 'PRIVS_NEEDED', 'You cannot relay messages to this channel'],
    }),
    { code: 'FAIL RELAYMSG PRIVS_NEEDED', text: 'You cannot relay messages to this channel' },
  );
  assert.deepEqual(relayRefusal({ command: '421', params: ['bot', 'RELAYMSG', 'Unknown command'] }), {
    code: '421',
    text: 'Unknown command',
  });
  assert.equal(relayRefusal({ command: 'FAIL', params: ['CHATHISTORY', 'INVALID_TARGET', 'x'] }), undefined);
  assert.equal(relayRefusal({ command: '421', params: ['bot', 'FOO', 'Unknown command'] }), undefined);
});

// ── the confirmation ──────────────────────────────────────────────────────────

function confirmer(echo = true) {
  const written: string[] = [];
  const c = new Confirmer(
    {
      take: () => Promise.resolve(),
      write: async (l) => (written.push(l), true),
      key: (ch) => ch.toLowerCase(),
      echo: () => echo,
      self: (nick) => nick === 'relay',
      relayedBySelf: (nick) => nick === 'relay' || nick === 'relay_',
    },
    't',
  );
  return { c, written };
}

const tagged = (by: string, nick: string, chan: string) => ({
  command: 'PRIVMSG',
  nick,
  params: [chan, 'text'],
  tags: { 'draft/relaymsg': by },
});

test("echo-message: a RELAYMSG line's echo comes from the relayed nick, tagged with ours (or a nick we had): it confirms", async () => {
  const { c, written } = confirmer();
  const d = c.begin('#a');
  c.line(d, true);
  c.line(d, true);
  c.onMessage(tagged('other', 'bob/discord', '#a'));
  c.onMessage({ command: 'PRIVMSG', nick: 'alice/mail', params: ['#a', 'no tag: a person'] });
  c.onMessage(tagged('relay', 'alice/mail', '#a'));
  c.onMessage(tagged('relay_', 'alice/mail', '#a'));
  assert.deepEqual(await c.end(d), { ok: true });
  assert.deepEqual(written, [], 'no PING');
});

test('echo-message: FAIL RELAYMSG names no channel: it answers our oldest RELAYMSG line owed an answer; the echoed lines are known', async () => {
  const { c } = confirmer();
  // #b begun first: the order of the lines on the wire decides, not the order of the deliveries.
  const b = c.begin('#b');
  const a = c.begin('#a');
  c.line(a, true); // seq 1
  c.line(b, false); // seq 2 (an ordinary line)
  c.line(a, true); // seq 3
  c.line(b, true); // seq 4
  c.onMessage(tagged('relay', 'alice/mail', '#a')); // answers seq 1
  c.onMessage({ command: 'PRIVMSG', nick: 'relay', params: ['#b', 'x'] }); // seq 2
  const fail = { command: 'FAIL', params: ['RELAYMSG', 'PRIVS_NEEDED', 'You cannot relay messages to this channel'] };
  c.onMessage(fail); // seq 3: #a
  c.onMessage(fail); // seq 4: #b
  const ra = await c.end(a);
  const rb = await c.end(b);
  assert.ok(!ra.ok && 'refused' in ra);
  assert.deepEqual(ra.said, [0], '#a: its first line was shown, its second refused');
  assert.equal(ra.refused[0]!.channel, '#a');
  assert.equal(ra.refused[0]!.relay, true);
  assert.ok(!rb.ok && 'refused' in rb);
  assert.deepEqual(rb.said, [0]);
  assert.equal(rb.refused[0]!.channel, '#b');
});

test('without echo-message: FAIL RELAYMSG counts against every delivery that wrote a RELAYMSG line, none else', async () => {
  const { c, written } = confirmer(false);
  const a = c.begin('#a');
  const b = c.begin('#b');
  c.line(a, true);
  c.line(b, false);
  c.onMessage({ command: 'FAIL', params: ['RELAYMSG', 'PRIVS_NEEDED', 'no'] });
  const ra = c.end(a);
  const rb = c.end(b);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const token = written.at(-1)!.slice('PING :'.length);
  c.onMessage({ command: 'PONG', params: ['irc.test', token] });
  const got = await ra;
  assert.ok(!got.ok && 'refused' in got && got.refused[0]!.relay && got.said === undefined);
  assert.deepEqual(await rb, { ok: true });
});

// ── the lines ─────────────────────────────────────────────────────────────────

const cfg = {
  maxLines: 10,
  antiHighlight: false,
  nickColours: false,
  format: '<{nick}> ',
  eventFormat: '*** ',
} as RenderConfig;
const post = (body: string, kind: Post['kind'] = 'message'): Post => ({
  id: 'p1@example.org',
  bridge: 'commons',
  origin: { account: 'cli', target: 'commons' },
  author: { name: 'alice', via: 'cli' },
  body,
  kind,
  references: [],
  hops: 0,
  date: '2026-12-05T10:00:00.000Z',
  attachments: [],
});
const stream = { shape: 'stream' as const, announceLines: 5 };

test('relay lines have no prefix; an action leaves room for CTCP ACTION; the rest after a refusal gets the prefix', () => {
  assert.deepEqual(relayLines(cfg, post('hello\nworld'), stream, 100), ['hello', 'world']);
  const words = Array.from({ length: 12 }, (_, i) => `word${i}`).join(' ');
  const act = relayLines(cfg, post(words, 'action'), stream, 40);
  assert.ok(
    act.every((l) => Buffer.byteLength(l) <= 40 - 9),
    'room for \\x01ACTION …\\x01',
  );
  assert.deepEqual(act.join(' '), words);
  const rest = fallbackLines(cfg, post(words), stream, ['word10 word11'], 400);
  assert.deepEqual(rest, ['<alice> word10 word11']);
  assert.deepEqual(fallbackLines(cfg, post(words, 'action'), stream, ['waves'], 400), ['* alice waves']);
  const announce = { shape: 'announce' as const, announceLines: 3 };
  const article = { ...post('one\ntwo'), subject: 'Minutes' };
  assert.deepEqual(relayLines(cfg, article, announce, 400), postLines(cfg, article, announce, 400));
  assert.deepEqual(fallbackLines(cfg, article, announce, ['two'], 400), ['two'], 'an announcement has no prefix');
});

// ── what the account remembers ────────────────────────────────────────────────

function account(opts: { cap?: string | false; relaymsg?: boolean } = {}) {
  let now = 1_000_000;
  const logs: string[] = [];
  let reports = 0;
  const host = {
    cfg: { relaymsg: opts.relaymsg ?? true, relaymsgNick: '{nick}/{protocol}' },
    key: (s: string) => s.toLowerCase(),
    ctx: {
      log: {
        info: (_: object, m: string) => logs.push(m),
        warn: (_: object, m: string) => logs.push(`warn: ${m}`),
        debug: () => {},
      },
      resume: () => {},
    },
    reportState: () => (reports += 1),
    later: () => undefined,
  } as unknown as RelayHost;
  const client = Object.assign(new EventEmitter(), {
    user: { nick: 'relay' },
    caseCompare: (x: string, y: string) => x.toLowerCase() === y.toLowerCase(),
    requestCap: () => {},
    network: {
      cap: {
        isEnabled: (c: string) => c === 'draft/relaymsg' && opts.cap !== false,
        available: new Map(opts.cap === false ? [] : [['draft/relaymsg', opts.cap ?? '/']]),
      },
      supports: (f: string) => (f === 'NICKLEN' ? '32' : undefined),
    },
  }) as unknown as Client;
  const r = new RelayMsg(host, () => now);
  r.connecting(client);
  r.wire(client, () => true);
  return { r, client, logs, later: (ms: number) => (now += ms), reports: () => reports };
}

test('RelayMsg: a channel refused is held back until +o for the bot, a nick refused only for that nick', () => {
  const { r, client, logs } = account();
  const p = post('hi');
  assert.equal(r.plan(client, '#a', p), 'alice/cli');
  assert.equal(r.plan(client, '#a', { ...p, kind: 'event' }), undefined, 'events are the bot’s own words');
  r.refused('#a', 'alice/cli', [{ code: 'FAIL RELAYMSG PRIVS_NEEDED', channel: '#a', text: 'no', relay: true }]);
  assert.equal(r.plan(client, '#a', p), undefined);
  assert.equal(r.plan(client, '#b', p), 'alice/cli', 'another channel is not held back');
  assert.match(r.status(client)!, /^relaymsg on; RELAYMSG refused in #a \(FAIL RELAYMSG PRIVS_NEEDED: no\)/);
  r.refused('#a', 'alice/cli', [{ code: 'FAIL RELAYMSG PRIVS_NEEDED', channel: '#a', text: 'no', relay: true }]);
  assert.equal(logs.filter((l) => l.startsWith('warn: ')).length, 1, 'a second post refused alike: one warning');
  client.emit('mode', { target: '#a', modes: [{ mode: '+o', param: 'someone' }] });
  assert.equal(r.plan(client, '#a', p), undefined, 'someone else’s +o changes nothing');
  client.emit('mode', { target: '#A', modes: [{ mode: '+o', param: 'RELAY' }] });
  assert.equal(r.plan(client, '#a', p), 'alice/cli');
  assert.match(logs.at(-1)!, /the bot is a channel operator now: RELAYMSG is tried again in #A/);
  r.refused('#a', 'alice/cli', [{ code: 'FAIL RELAYMSG INVALID_NICK', channel: '#a', text: 'bad', relay: true }]);
  assert.equal(r.plan(client, '#a', p), undefined);
  assert.equal(r.plan(client, '#a', { ...p, author: { name: 'bob', via: 'cli' } }), 'bob/cli');
  assert.match(
    r.status(client)!,
    /RELAYMSG as alice\/cli refused in #a \(FAIL RELAYMSG INVALID_NICK: bad\); said with the prefix/,
  );
});

test('RelayMsg: a refusal is tried again after RETRY_AFTER; NOT_ENABLED holds until the next connection', () => {
  const { r, client, later } = account();
  const p = post('hi');
  r.refused('#a', 'alice/cli', [{ code: 'FAIL RELAYMSG PRIVS_NEEDED', channel: '#a', text: 'no', relay: true }]);
  later(RETRY_AFTER);
  assert.equal(r.plan(client, '#a', p), 'alice/cli');
  r.refused('#a', 'alice/cli', [{ code: 'FAIL RELAYMSG NOT_ENABLED', channel: '#a', text: 'off', relay: true }]);
  later(RETRY_AFTER * 10);
  assert.equal(r.plan(client, '#b', p), undefined);
  assert.match(r.status(client)!, /^relaymsg off: the server refused RELAYMSG \(FAIL RELAYMSG NOT_ENABLED: off\)/);
  r.connecting(client);
  assert.equal(r.plan(client, '#b', p), 'alice/cli');
});

test('RelayMsg: no capability, or no separator the server allows: prefixed lines, and the status says why; off: nothing said', () => {
  const none = account({ cap: false });
  assert.equal(none.r.plan(none.client, '#a', post('hi')), undefined);
  assert.equal(
    none.r.status(none.client),
    'relaymsg off: the server does not offer draft/relaymsg; lines go with their prefix',
  );
  const pipe = account({ cap: '|' });
  assert.equal(pipe.r.plan(pipe.client, '#a', post('hi')), undefined);
  assert.match(
    pipe.r.status(pipe.client)!,
    /relaymsg off: relaymsgNick "\{nick\}\/\{protocol\}" has none of the separators the server allows in a relayed nick \(\|\)/,
  );
  const off = account({ relaymsg: false });
  assert.equal(off.r.plan(off.client, '#a', post('hi')), undefined);
  assert.equal(off.r.status(off.client), undefined);
});

test('RelayMsg: the nicks we had on this connection are ours (an echo may name the one we sent it with)', () => {
  const { r, client } = account();
  client.emit('registered');
  assert.ok(r.isOurs(client, 'RELAY'));
  client.emit('nick', { nick: 'relay', new_nick: 'relay_' });
  (client as unknown as { user: { nick: string } }).user.nick = 'relay_';
  assert.ok(r.isOurs(client, 'relay'), 'the nick we had');
  assert.ok(r.isOurs(client, 'relay_'));
  assert.ok(!r.isOurs(client, 'otherbot'));
  r.connecting(client);
  assert.ok(!r.isOurs(client, 'relay'), 'a new connection: only the nick we have');
});
