/**
 * IRC text, no sockets: splitting by the byte budget, formatting stripping,
 * the prefix format, safe lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  byteLength,
  capLines,
  formatPrefix,
  formatProblem,
  ircLines,
  safeLine,
  splitToBudget,
  stripFormatting,
  textBudget,
  WORST_HOST,
  WORST_USER,
} from '../../plugins/irc/text.js';

const graphemes = (s: string) =>
  [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s)].map((g) => g.segment);

/** The pieces fit, and joining them with single spaces (where the breaks were) gives the words back. */
function checkSplit(text: string, budget: number): string[] {
  const pieces = splitToBudget(text, budget);
  for (const p of pieces) {
    assert.ok(byteLength(p) <= budget, `"${p}" is ${byteLength(p)} bytes > ${budget}`);
    assert.ok(p.length > 0);
    assert.equal(Buffer.from(p, 'utf8').toString('utf8'), p, 'valid UTF-8');
    assert.ok(!/^\s|\s$/.test(p), `no space at either end of "${p}"`);
  }
  return pieces;
}

test('ASCII: breaks between words, every piece within the budget', () => {
  const text = 'the quick brown fox jumps over the lazy dog '.repeat(20).trim();
  const pieces = checkSplit(text, 50);
  assert.equal(pieces.join(' '), text);
  assert.ok(pieces.length > 10);
  // Greedy: a piece would not have taken the next word.
  for (let i = 0; i < pieces.length - 1; i++) {
    const next = pieces[i + 1]!.split(' ')[0]!;
    assert.ok(byteLength(`${pieces[i]} ${next}`) > 50);
  }
});

test('short text is one piece; inner spacing kept, spaces at the breaks dropped', () => {
  assert.deepEqual(splitToBudget('hello  world', 100), ['hello  world']);
  assert.deepEqual(splitToBudget('  padded  ', 100), ['padded']);
  assert.deepEqual(splitToBudget('aaaa bbbb', 4), ['aaaa', 'bbbb']);
  assert.deepEqual(splitToBudget('', 10), []);
});

test('CJK without spaces: cut between characters, never inside one (3 bytes each)', () => {
  const text = '東京都の空は今日も青い'.repeat(10);
  const pieces = checkSplit(text, 20);
  assert.equal(pieces.join(''), text);
  for (const p of pieces) assert.equal(byteLength(p) % 3, 0);
  assert.ok(pieces.every((p) => byteLength(p) === 18 || p === pieces.at(-1)));
});

test('emoji: ZWJ families, flags and skin tones stay whole', () => {
  const family = '👩‍👩‍👧‍👦'; // 25 bytes, one grapheme
  const text = `${family}🇫🇷👍🏽`.repeat(8);
  const pieces = checkSplit(text, 40);
  assert.equal(pieces.join(''), text);
  for (const p of pieces)
    for (const g of graphemes(p)) assert.ok([family, '🇫🇷', '👍🏽'].includes(g), `broken grapheme ${JSON.stringify(g)}`);
});

test('combining marks stay with their letter', () => {
  const word = 'e\u0301'.repeat(40); // é as e + combining acute, 3 bytes each
  const pieces = checkSplit(word, 10);
  assert.equal(pieces.join(''), word);
  for (const p of pieces) assert.ok(!p.startsWith('\u0301'));
});

test('a word longer than the budget: cut, and started on the current line when there is room', () => {
  const url = `https://example.org/${'x'.repeat(120)}`;
  const pieces = checkSplit(`see ${url} now`, 50);
  const joined = pieces.join('');
  assert.ok(joined === `see ${url} now` || joined === `see ${url}now`, joined);
  assert.ok(pieces[0]!.startsWith('see https://'), 'the long word starts on the line that had room');
  assert.equal(byteLength(pieces[0]!), 50);
  // Alone on a line with too little room left, the word starts a new line.
  const late = checkSplit(`${'a'.repeat(40)} ${url}`, 50);
  assert.equal(late[0], 'a'.repeat(40));
});

test('one grapheme bigger than the budget is cut between code points, not bytes', () => {
  const zalgo = `a${'\u0301'.repeat(30)}`; // one grapheme of 61 bytes
  const pieces = checkSplit(zalgo, 10);
  assert.equal(pieces.join(''), zalgo);
});

test('a budget too small for any character is a programming error', () => {
  assert.throws(() => splitToBudget('x', 3), /budget/);
});

test('the byte budget: 512 − CRLF − ":nick!user@host PRIVMSG target :", worst case until known', () => {
  assert.equal(
    textBudget({ nick: 'bot', user: '~bot', host: '127.0.0.1' }, '#c'),
    512 - 2 - ':bot!~bot@127.0.0.1 PRIVMSG #c :'.length,
  );
  assert.equal(textBudget({ nick: 'bot' }, '#c'), 512 - 2 - (':bot!@ PRIVMSG #c :'.length + WORST_USER + WORST_HOST));
  assert.ok(textBudget({ nick: 'bot' }, '#c') < textBudget({ nick: 'bot', user: '~bot', host: 'h' }, '#c'));
  assert.equal(
    textBudget({ nick: 'bot', user: 'u', host: 'h' }, '#café'),
    512 - 2 - byteLength(':bot!u@h PRIVMSG #café :'),
  );
});

test('ircLines: every piece carries the prefix and fits; empty lines left out', () => {
  const long = 'word '.repeat(200).trim();
  const out = ircLines(['first', '', long, '   '], '<alice> ', 100);
  assert.equal(out[0], '<alice> first');
  for (const l of out) {
    assert.ok(l.startsWith('<alice> '));
    assert.ok(byteLength(l) <= 100);
  }
  assert.equal(
    out
      .slice(1)
      .map((l) => l.slice(8))
      .join(' '),
    long,
  );
});

test('ircLines: CR, LF, NUL and controls can never reach the wire; an absurd prefix is cut', () => {
  const out = ircLines(['subject\r\nJOIN #other\0x'], '<a\r\nQUIT> ', 400);
  assert.equal(out.length, 1);
  assert.ok(!/[\r\n\0]/.test(out[0]!));
  assert.equal(out[0], '<a  QUIT> subject  JOIN #otherx');
  const huge = ircLines(['text'], `<${'n'.repeat(500)}> `, 100);
  assert.ok(byteLength(huge[0]!) <= 100);
  assert.ok(huge[0]!.endsWith('text'));
});

test('safeLine: tabs and line ends become spaces, other controls go', () => {
  assert.equal(safeLine('a\tb\r\nc\x00d\x01e\x7f'), 'a b  cde');
});

test('capLines: at most max lines, the last saying how many were left out', () => {
  const l = ['1', '2', '3', '4', '5'];
  assert.deepEqual(capLines(l, 5), l);
  assert.deepEqual(capLines(l, 3), ['1', '2', '… (3 more lines)']);
  assert.deepEqual(capLines(['1', '2'], 1), ['… (2 more lines)']);
  assert.deepEqual(capLines(l, 4), ['1', '2', '3', '… (2 more lines)']);
});

test('mIRC formatting is stripped: colours (with and without background), hex colours, bold, italics, reset …', () => {
  assert.equal(stripFormatting('\x0304red\x03 \x0312,01blue on black\x03 \x033x'), 'red blue on black x');
  assert.equal(
    stripFormatting('\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x1estrike\x1e \x11mono\x11 \x16rev\x16 \x0fplain'),
    'bold italic under strike mono rev plain',
  );
  assert.equal(stripFormatting('\x04FF0000,00FF00hex\x04 done'), 'hex done');
  assert.equal(stripFormatting('\x03,5 comma stays'), ',5 comma stays');
  assert.equal(stripFormatting('\x031234'), '34', 'at most two digits of colour');
  assert.equal(stripFormatting('score 10\x03 5'), 'score 10 5');
  assert.equal(stripFormatting('bell\x07 nul\x00'), 'bell nul');
  assert.equal(stripFormatting('naïve 東京 👩‍👩‍👧'), 'naïve 東京 👩‍👩‍👧');
});

test('prefix format: {nick} {bridge} {protocol} {origin}; unknown placeholders are a config error', () => {
  const vars = { nick: 'alice', bridge: 'commons', protocol: 'mail', origin: 'mail.lists' };
  assert.equal(formatPrefix('<{nick}> ', vars), '<alice> ');
  assert.equal(formatPrefix('[{bridge}/{protocol}] {nick}: ', vars), '[commons/mail] alice: ');
  assert.equal(formatPrefix('{origin} <{nick}> ', vars), 'mail.lists <alice> ');
  assert.equal(formatPrefix('', vars), '');
  assert.equal(formatPrefix('<{nick}> ', { ...vars, nick: 'evil\r\nQUIT' }), '<evil  QUIT> ');
  assert.equal(formatProblem('<{nick}> '), undefined);
  assert.match(formatProblem('<{user}> ')!, /unknown placeholder \{user\}/);
});

test('lines from the server: UTF-8 when valid, latin-1 otherwise, never U+FFFD', async () => {
  const { decodeLenient } = await import('../../plugins/irc/text.js');
  assert.equal(decodeLenient(Buffer.from('café 東京 👍🏽', 'utf8')), 'café 東京 👍🏽');
  assert.equal(decodeLenient(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x6f, 0x6c, 0xe9])), 'café olé');
  assert.equal(decodeLenient(Buffer.from([0xe6, 0x9d])), 'æ\x9d', 'a cut UTF-8 sequence is latin-1 too');
  assert.equal(decodeLenient(new Uint8Array(0)), '');
});

test('render: the CLIENTTAGDENY rules for our client-only tag', async () => {
  const { tagDenied } = await import('../../plugins/irc/render.js');
  assert.equal(tagDenied([]), false);
  assert.equal(tagDenied(['*']), true);
  assert.equal(tagDenied(['*', '-peerpost/id']), false, 'denied in general, ours allowed');
  assert.equal(tagDenied(['peerpost/id']), true);
  assert.equal(tagDenied(['typing']), false);
});
