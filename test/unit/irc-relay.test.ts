/**
 * The irc plugin's loop guard (plugins/irc/relay.ts), channel event texts, and
 * the prefix decorations (anti-highlight, colour by nick, the "more lines" link).
 * Pure functions: no sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NetsplitFolder,
  ChannelMemory,
  eventText,
  eventsIn,
  eventsOut,
  isRelayRealname,
  relayNodeOf,
  netsplitServers,
} from '../../plugins/irc/relay.js';
import {
  antiHighlight,
  formatPrefix,
  ircLines,
  moreLink,
  moreText,
  nickColour,
  normalText,
  stripFormatting,
  styleNick,
  urlTemplateProblem,
} from '../../plugins/irc/text.js';
import { accountSchema, endpointSchema, escapeTag } from '../../plugins/irc/index.js';

test('event texts: join, part, quit, kick, nick change; a reason that only repeats the nick is left out', () => {
  assert.equal(eventText({ type: 'join', nick: 'alice' }), 'alice joined');
  assert.equal(eventText({ type: 'part', nick: 'alice', message: 'bye' }), 'alice left (bye)');
  assert.equal(eventText({ type: 'part', nick: 'alice', message: 'alice' }), 'alice left');
  assert.equal(eventText({ type: 'quit', nick: 'alice', message: 'Ping timeout' }), 'alice quit (Ping timeout)');
  assert.equal(eventText({ type: 'quit', nick: 'alice' }), 'alice quit');
  assert.equal(
    eventText({ type: 'quit', nick: 'alice', message: '"gone home"' }),
    'alice quit (gone home)',
    'the quotes ngircd puts around a quit message',
  );
  assert.equal(
    eventText({ type: 'kick', nick: 'alice', by: 'bob', message: 'spam' }),
    'alice was kicked by bob (spam)',
  );
  assert.equal(eventText({ type: 'nick', nick: 'alice', newNick: 'alicia' }), 'alice is now known as alicia');
});

test('events option: true both ways, "in" posts this channel\'s, "out" shows others\', false neither', () => {
  assert.deepEqual(
    [true, 'in', 'out', false, undefined].map((m) => [eventsIn(m as never), eventsOut(m as never)]),
    [
      [true, true],
      [true, false],
      [false, true],
      [false, false],
      [false, false],
    ],
  );
});

test('another peerpost is known by "peerpost" in its real name', () => {
  assert.ok(isRelayRealname('peerpost relay'));
  assert.ok(isRelayRealname('commons bridge (PeerPost)'));
  assert.ok(!isRelayRealname('Peter Post'));
  assert.ok(!isRelayRealname(undefined));
  // Its node: "peerpost relay on HOST" at the end of the real name.
  assert.equal(relayNodeOf('peerpost relay on One.Example.org'), 'one.example.org');
  assert.equal(relayNodeOf('peerpost relay'), undefined);
  assert.equal(relayNodeOf('peerpost relay on localhost'), undefined, 'a dotted name only');
  assert.equal(relayNodeOf('a bot on host.example'), undefined, 'not a peerpost');
  assert.equal(relayNodeOf('peerpost relay on bad_host.example'), undefined);
});

test('memory: a post said here is not said again by another path; the same path again is a real repeat', () => {
  let now = 1_000_000;
  const m = new ChannelMemory(60_000, () => now);
  const other = new ChannelMemory(60_000, () => now);
  const a = { id: 'a@x', author: 'alice', text: 'hello there', origin: 'nntp.local/peerpost.commons' };
  assert.equal(m.shown(a), undefined);
  m.sent(a);
  assert.match(m.shown(a)!, /already said here/, 'the same id');
  // The same text by the same author, with another id, from another path: a second copy.
  assert.match(
    m.shown({ ...a, id: 'b@y', origin: 'mail.list/commons', text: 'Hello   THERE' })!,
    /the same text by alice/,
  );
  // ... from the same path: alice said it twice.
  assert.equal(m.shown({ ...a, id: 'c@x' }), undefined);
  // Another channel (its own memory) does not show it.
  assert.equal(other.shown({ ...a, id: 'b@y', origin: 'mail.list/commons' }), undefined);
  // Forgotten after the window.
  now += 61_000;
  assert.equal(m.shown({ ...a, id: 'b@y', origin: 'mail.list/commons' }), undefined);
});

test('memory: a line another relay said (any prefix format, colours, zero-width spaces) counts as shown', () => {
  const m = new ChannelMemory(60_000);
  m.seen('otherbot', '[irc.b] <\x0304b\u200bob\x03> the meeting is at noon, in the usual room');
  const post = { id: 'p@x', author: 'bob', text: 'the meeting is at noon, in the usual room', origin: 'irc.a/#c' };
  assert.match(m.shown(post)!, /by otherbot/);
  assert.equal(m.shown({ ...post, author: 'carol' }), undefined, 'another author');
  assert.equal(m.shown({ ...post, text: 'something else' }), undefined, 'another text');
  // A tagged line: the id is enough.
  m.seen('otherbot', 'anything', 'q@y');
  assert.match(m.shown({ ...post, id: 'q@y', text: 'different' })!, /same post id/);
  // remember: 0 turns the memory off.
  const off = new ChannelMemory(0);
  off.sent(post);
  assert.equal(off.shown(post), undefined);
});

test('anti-highlight: a zero-width space after the first grapheme; colour: the same nick, the same colour', () => {
  assert.equal(antiHighlight('alice'), 'a\u200blice');
  assert.equal(antiHighlight('a'), 'a');
  assert.equal(antiHighlight('👩‍👩‍👧x'), '👩‍👩‍👧\u200bx');
  assert.equal(nickColour('Alice'), nickColour('alice'));
  const colours = new Set(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina'].map(nickColour));
  assert.ok(colours.size >= 4, 'nicks are spread over the palette');
  for (const c of colours) assert.ok(![0, 1, 14, 15].includes(c), 'no white, black or grey');
  const both = styleNick('bob', { antiHighlight: true, colour: true });
  assert.match(both, /^\x03\d\db\u200bob\x03$/);
  assert.equal(stripFormatting(both), 'b\u200bob');
  assert.equal(styleNick('bob', {}), 'bob');
});

test("the prefix keeps the nick's colour on the wire, and still nothing else", () => {
  const p = formatPrefix(
    '[{origin}] <{nick}> ',
    { nick: 'bo\r\nb', bridge: 'b', protocol: 'irc', origin: 'irc\x03a' },
    (n) => styleNick(n, { colour: true }),
  );
  assert.equal(p, `[irca] <\x03${String(nickColour('bo  b')).padStart(2, '0')}bo  b\x03> `);
  const lines = ircLines(['hi'], p, 400);
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.includes('\x03'), 'the colour code is kept');
  assert.ok(!/[\r\n\0]/.test(lines[0]!));
  // Without a style, control characters in the format are still removed.
  assert.equal(ircLines(['hi'], '<a\x01\r\nb> ', 400)[0], '<a  b> hi');
});

test('moreUrl: placeholders {id} and {bridge}, URL-encoded; a template without {id} or with spaces is refused', () => {
  assert.equal(
    moreLink('https://example.org/{bridge}/p/{id}', { id: 'a/b@x y', bridge: 'commons' }),
    'https://example.org/commons/p/a%2Fb%40x%20y',
  );
  assert.equal(moreText(3, 'https://e/1'), '3 more lines: https://e/1');
  assert.equal(moreText(1), '1 more line');
  assert.match(urlTemplateProblem('https://e/{bridge}')!, /needs \{id\}/);
  assert.match(urlTemplateProblem('https://e/{id} x')!, /spaces/);
  assert.match(urlTemplateProblem('https://e/{post}/{id}')!, /unknown placeholder \{post\}/);
  assert.equal(urlTemplateProblem('https://e/p/{id}'), undefined);
});

test('normalText: what the memory compares', () => {
  assert.equal(normalText('  <\x02B\u200bob\x02>   Hello\tWorld '), '<bob> hello world');
});

test('message tag values are escaped', () => {
  assert.equal(escapeTag('a b;c\\d'), 'a\\sb\\:c\\\\d');
});

test('config: the new keys default off, and are checked', () => {
  const c = accountSchema.parse({ host: 'h', nick: 'n' });
  assert.equal(c.events, false);
  assert.equal(c.antiHighlight, false);
  assert.equal(c.nickColours, false);
  assert.equal(c.moreUrl, undefined);
  assert.equal(c.eventFormat, '*** ');
  assert.deepEqual(c.relays, { nicks: [], detect: true, lines: 'ignore', remember: 600_000, tags: true });
  assert.equal(accountSchema.safeParse({ host: 'h', nick: 'n', events: 'both' }).success, false);
  assert.equal(accountSchema.safeParse({ host: 'h', nick: 'n', moreUrl: 'https://e/' }).success, false);
  assert.equal(accountSchema.safeParse({ host: 'h', nick: 'n', relays: { lines: 'drop' } }).success, false);
  assert.equal(accountSchema.safeParse({ host: 'h', nick: 'n', eventFormat: '{who} ' }).success, false);
  assert.deepEqual(endpointSchema.parse({ events: 'in' }), { events: 'in' });
});

test('config: tlsCa, tlsCert, tlsKey need TLS; SASL EXTERNAL needs a client certificate', () => {
  const ok = (o: object) => accountSchema.safeParse({ host: 'h', nick: 'n', ...o }).success;
  assert.ok(ok({ tlsCa: '/ca.pem' }));
  assert.ok(!ok({ tlsCa: '/ca.pem', tls: false }));
  assert.ok(!ok({ tlsKey: '/k.pem' }), 'a key without its certificate');
  assert.ok(ok({ tlsCert: '/c.pem', sasl: { mechanism: 'EXTERNAL' } }));
  assert.ok(!ok({ sasl: { mechanism: 'EXTERNAL' } }), 'EXTERNAL without a certificate');
  assert.ok(!ok({ tlsCert: '/c.pem', sasl: { mechanism: 'EXTERNAL', password: 'x' } }), 'EXTERNAL takes no password');
  assert.ok(ok({ sasl: { account: 'a', password: 'p' } }));
});

test('a netsplit quit is told by its reason: two server names, which no client can send', () => {
  assert.deepEqual(netsplitServers('hub.example.net leaf.example.net'), ['hub.example.net', 'leaf.example.net']);
  assert.deepEqual(netsplitServers('irc.a.local irc.b.local'), ['irc.a.local', 'irc.b.local']);
  for (const not of [
    undefined,
    '',
    'Ping timeout: 240 seconds',
    'Quit: going home',
    '"a.b c.d"',
    'a.b c.d e.f',
    'hub.example.net',
    'Quit: a.b c.d',
  ]) {
    assert.equal(netsplitServers(not), undefined, `${not} is no netsplit`);
  }
  assert.equal(
    eventText({ type: 'netsplit', nick: 'alice', nicks: ['alice', 'bob'], servers: ['a.net', 'b.net'] }),
    'netsplit a.net ↔ b.net: alice, bob quit',
  );
  const many = Array.from({ length: 25 }, (_, i) => `u${i}`);
  assert.match(
    eventText({ type: 'netsplit', nick: 'u0', nicks: many, servers: ['a.net', 'b.net'] }),
    /: u0, u1, .*, u19 and 5 more quit$/,
  );
});

test('the quits of one netsplit fold into one event per channel, after a quiet time (at most maxMs after the first)', () => {
  let now = 0;
  const timers: { fn: () => void; at: number; live: boolean }[] = [];
  const clock = {
    set: (fn: () => void, ms: number) => {
      const t = { fn, at: now + ms, live: true };
      timers.push(t);
      return t;
    },
    clear: (t: unknown) => {
      if (t) (t as { live: boolean }).live = false;
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers)
      if (t.live && t.at <= now) {
        t.live = false;
        t.fn();
      }
  };
  const out: string[] = [];
  const f = new NetsplitFolder(
    (channel, e) => out.push(`${channel} ${eventText(e)}`),
    2_000,
    5_000,
    clock,
    () => now,
  );
  const split: [string, string] = ['hub.net', 'leaf.net'];
  f.add('#a', '#A', 'alice', split);
  f.add('#b', '#B', 'alice', split);
  advance(1_000);
  f.add('#a', '#A', 'bob', split);
  advance(1_500);
  assert.deepEqual(out, ['#B netsplit hub.net ↔ leaf.net: alice quit'], '#B was quiet for 2 s; #A was not');
  advance(600);
  assert.deepEqual(out.slice(1), ['#A netsplit hub.net ↔ leaf.net: alice, bob quit']);
  // A split that goes on and on is told after maxMs anyway.
  out.length = 0;
  for (let i = 0; i < 10; i++) {
    f.add('#a', '#A', `n${i}`, split);
    advance(900);
  }
  assert.equal(out.length, 1, `told 5 s after its first quit: ${out.join(' | ')}`);
  assert.match(out[0]!, /: n0, n1, n2, n3, n4, n5 quit$/);
  // The connection closes: what is open is told at once.
  f.flushAll();
  assert.equal(out.length, 2);
  assert.match(out[1]!, /: n6, n7, n8, n9 quit$/);
});
