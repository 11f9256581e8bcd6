/**
 * The pure part of the chathistory replay (plugins/irc/history.ts): the request, what of an answer is
 * relayed, the gap and its words, the live lines held back, the post ids and the stored marks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clock,
  failText,
  gapText,
  isHistoryService,
  isRelayedName,
  mergePage,
  needsPageBefore,
  reachesMark,
  wasCut,
  beforeRequest,
  latestRequest,
  liveAfter,
  markOf,
  planReplay,
  postIdFor,
  readMark,
  requestLimit,
  serverLimit,
  span,
  type Line,
} from '../../plugins/irc/history.js';
import { idProblem } from '../../src/plugin.js';
import { accountSchema } from '../../plugins/irc/schema.js';

const T0 = Date.parse('2026-12-05T12:00:00.000Z');
const line = (msgid: string | undefined, secs: number, text: string, nick = 'alice'): Line => ({
  type: 'privmsg',
  ev: {
    nick,
    target: '#talk',
    message: text,
    time: T0 + secs * 1000,
    ...(msgid === undefined ? {} : { tags: { msgid } }),
  },
});
const texts = (ls: readonly Line[]) => ls.map((l) => l.ev.message);
const limits = (over: Partial<Parameters<typeof planReplay>[2]> = {}) => ({
  mark: { msgid: 'm1', time: T0 + 1000 },
  now: T0 + 60_000,
  maxAgeMs: 3_600_000,
  maxLines: 1000,
  cut: false,
  ...over,
});

test('the request asks for the newest lines after the millisecond before the mark, by time', () => {
  assert.equal(
    latestRequest('#talk', { msgid: 'abc', time: T0 }, 1001),
    'CHATHISTORY LATEST #talk timestamp=2026-12-05T11:59:59.999Z 1001',
  );
});

test("the request's limit: room for as many joins and parts as lines, and one more, within the server's CHATHISTORY=N", () => {
  assert.equal(serverLimit('1000'), 1000);
  assert.equal(serverLimit(undefined), undefined);
  assert.equal(serverLimit('0'), undefined);
  assert.equal(serverLimit('lots'), undefined);
  assert.equal(requestLimit(1000, undefined), 2001);
  assert.equal(requestLimit(1000, 1000), 1000);
  assert.equal(requestLimit(50, 1000), 101);
});

test("the answer is cut exactly after the mark's msgid, in the server's order, lines of the same millisecond kept", () => {
  const items = [line('m0', 1, 'before'), line('m1', 1, 'the mark'), line('m2', 1, 'same ms'), line('m3', 5, 'later')];
  const plan = planReplay('#talk', items, limits());
  assert.deepEqual(texts(plan.replay), ['same ms', 'later']);
  assert.equal(plan.gap, undefined);
  assert.deepEqual([...plan.msgids], ['m0', 'm1', 'm2', 'm3']);
});

test("HistServ's lines (joins and parts without event-playback) are never relayed", () => {
  const items = [
    line('_j1', 2, 'bob joined the channel', 'HistServ'),
    line('m2', 3, 'hello'),
    line('_p1', 4, 'bob left the channel (bye)', 'HistServ'),
  ];
  assert.equal(isHistoryService({ nick: 'HistServ' }), true);
  assert.equal(isHistoryService({ nick: 'histserv' }), true);
  assert.equal(isHistoryService({ nick: 'alice' }), false);
  assert.deepEqual(texts(planReplay('#talk', items, limits()).replay), ['hello']);
});

test("RELAYMSG lines in the history (a name with the server's separator; Ergo drops their tags) are not relayed", () => {
  const items = [line('m2', 2, 'hello', 'zed/mail'), line('m3', 3, 'mine'), line('m4', 4, 'x', 'a/b')];
  assert.equal(isRelayedName('zed/mail', '/'), true);
  assert.equal(isRelayedName('zed', '/'), false);
  assert.equal(isRelayedName('zed/mail', undefined), false);
  assert.deepEqual(texts(planReplay('#talk', items, limits({ separators: '/' })).replay), ['mine']);
  assert.equal(planReplay('#talk', items, limits({ separators: '/' })).gap, undefined);
  // A server without relaymsg: a name is a name.
  assert.deepEqual(texts(planReplay('#talk', items, limits()).replay), ['hello', 'mine', 'x']);
});

test('a mark the answer does not hold (no msgid, or gone): every line after its time is replayed', () => {
  const items = [line('m2', 2, 'one'), line('m3', 3, 'two')];
  assert.deepEqual(texts(planReplay('#talk', items, limits({ mark: { time: T0 } })).replay), ['one', 'two']);
  assert.deepEqual(texts(planReplay('#talk', items, limits()).replay), ['one', 'two']);
});

test('more lines than maxLines: the newest are replayed, and the gap says how many are not and since when', () => {
  const items = [line('m2', 2, 'a'), line('m3', 3, 'b'), line('m4', 4, 'c'), line('m5', 5, 'd')];
  const plan = planReplay('#talk', items, limits({ maxLines: 2 }));
  assert.deepEqual(texts(plan.replay), ['c', 'd']);
  assert.deepEqual(plan.gap, { channel: '#talk', lines: 2, more: false, from: T0 + 1000, to: T0 + 4000 });
  assert.equal(
    gapText(plan.gap!, { maxLines: 2, maxAge: '1h' }, T0 + 60_000),
    '2 lines said in #talk between 12:00:01 UTC and 12:00:04 UTC were not relayed: the replay after a reconnect ' +
      'takes at most 2 lines from the last 1h (history.maxLines, history.maxAge)',
  );
});

test('an answer cut by the server at the limit, without the mark: "more than" (the server may hold more)', () => {
  const items = [line('m7', 7, 'a'), line('m8', 8, 'b'), line('m9', 9, 'c')];
  const mark = { msgid: 'm1', time: T0 + 1000 };
  assert.equal(wasCut(items, items, mark, 3), true);
  assert.equal(wasCut(items, items, mark, 4), false);
  const plan = planReplay('#talk', items, limits({ maxLines: 2, cut: true }));
  assert.deepEqual(texts(plan.replay), ['b', 'c']);
  assert.equal(plan.gap?.more, true);
  assert.equal(plan.gap?.lines, 1);
  assert.match(gapText(plan.gap!, { maxLines: 2, maxAge: '1h' }, T0), /^more than 1 line said in #talk/);
  assert.match(gapText({ ...plan.gap!, lines: 0 }, { maxLines: 2, maxAge: '1h' }, T0), /^lines said in #talk/);
  // The mark inside a full answer, or a line older than it: nothing was cut before it.
  const withMark = [line('m1', 1, 'mark'), line('m2', 2, 'a'), line('m3', 3, 'b')];
  assert.equal(wasCut(withMark, withMark, mark, 3), false);
  const older = [line('m0', 0, 'older'), line('m2', 2, 'a'), line('m3', 3, 'b')];
  assert.equal(reachesMark(older, mark), true);
  assert.equal(wasCut(older, older, mark, 3), false);
});

test('paging back: while a full page does not reach the mark and the replay could take more, ask for the page before', () => {
  const mark = { msgid: 'm1', time: T0 + 1000 };
  const lim = { mark, requested: 3, maxLines: 5 };
  const last = [line('m7', 7, 'g'), line('_j', 8, 'relay joined the channel', 'HistServ'), line('m9', 9, 'i')];
  assert.equal(needsPageBefore(last, 3, last, lim), true);
  assert.equal(beforeRequest('#talk', T0 + 7000, 3), 'CHATHISTORY BEFORE #talk timestamp=2026-12-05T12:00:07.001Z 3');
  // The page before (its last line was in the first page too: the same millisecond).
  const page = [line('m5', 5, 'e'), line('m6', 6, 'f'), line('m7', 7, 'g')];
  const all = mergePage(page, last);
  assert.deepEqual(texts(all), ['e', 'f', 'g', 'relay joined the channel', 'i']);
  assert.equal(needsPageBefore(page, 2, all, lim), true);
  // Enough lines for the replay (more than maxLines): no more pages; the rest is a gap.
  assert.equal(needsPageBefore(page, 2, all, { ...lim, maxLines: 3 }), false);
  // A page that brought nothing new, or one not full, or one that reaches the mark: the end.
  assert.equal(needsPageBefore(page, 0, all, lim), false);
  assert.equal(needsPageBefore(page.slice(1), 2, all, lim), false);
  const reaching = [line('m1', 1, 'mark'), line('m2', 2, 'b'), line('m3', 3, 'c')];
  assert.equal(needsPageBefore(reaching, 3, mergePage(reaching, all), lim), false);
  // The whole answer replayed in order, cut at the mark.
  const whole = mergePage(reaching, all);
  assert.deepEqual(texts(planReplay('#talk', whole, limits({ maxLines: 6 })).replay), ['b', 'c', 'e', 'f', 'g', 'i']);
});

test('without the mark in the answer, lines older than the mark are left out (seen, or before the first join)', () => {
  const items = [line('m0', 0, 'before'), line('m2', 2, 'after')];
  assert.deepEqual(texts(planReplay('#talk', items, limits({ mark: { time: T0 + 1000 } })).replay), ['after']);
});

test('lines older than maxAge are not replayed, and are counted in the gap', () => {
  const items = [line('m2', 2, 'old'), line('m3', 3500, 'fresh')];
  const plan = planReplay('#talk', items, limits({ now: T0 + 3_600_000 + 60_000, maxAgeMs: 3_600_000 }));
  assert.deepEqual(texts(plan.replay), ['fresh']);
  assert.equal(plan.gap?.lines, 1);
  assert.match(gapText(plan.gap!, { maxLines: 1000, maxAge: '1h' }, T0), /^1 line said in #talk .* was not relayed/);
});

test('live lines held back during the replay follow it, less those the answer already held', () => {
  const held = [line('m3', 3, 'in both'), line('m4', 4, 'live only'), line(undefined, 5, 'no msgid')];
  assert.deepEqual(texts(liveAfter(held, new Set(['m2', 'm3']))), ['live only', 'no msgid']);
});

test('the post id of a line: from its msgid, the same every time, a valid Message-ID, per account and channel', () => {
  const id = postIdFor('9xs3nun6aku3gua4r8a4ub2yi2', 'irc.ergo', '#talk', 'node.example');
  assert.match(id, /^irc\.9xs3nun6aku3gua4r8a4ub2yi2\.[0-9a-f]{10}@node\.example$/);
  assert.equal(idProblem(id), undefined);
  assert.equal(postIdFor('9xs3nun6aku3gua4r8a4ub2yi2', 'irc.ergo', '#talk', 'node.example'), id);
  assert.notEqual(postIdFor('9xs3nun6aku3gua4r8a4ub2yi2', 'irc.ergo', '#other', 'node.example'), id);
  assert.notEqual(postIdFor('9xs3nun6aku3gua4r8a4ub2yi2', 'irc.other', '#talk', 'node.example'), id);
  const odd = postIdFor('<odd id> with spaces@', 'irc.ergo', '#talk', 'node.example');
  assert.equal(idProblem(odd), undefined);
  assert.equal(idProblem(postIdFor('x', 'irc.ergo', '#talk', 'bad host<>')), undefined);
});

test('a mark from a line, and from the store (anything else than a mark is none)', () => {
  assert.deepEqual(markOf({ tags: { msgid: 'abc' }, time: T0 }, 5), { msgid: 'abc', time: T0 });
  assert.deepEqual(markOf({}, 5), { time: 5 });
  assert.deepEqual(readMark({ msgid: 'abc', time: T0 }), { msgid: 'abc', time: T0 });
  assert.deepEqual(readMark({ time: T0 }), { time: T0 });
  assert.equal(readMark({ msgid: 'abc' }), undefined);
  assert.equal(readMark('x'), undefined);
  assert.equal(readMark(null), undefined);
});

test('words: clock times, durations, a failed request', () => {
  assert.equal(clock(T0 + 1000, T0), '12:00:01 UTC');
  assert.equal(clock(T0 - 86_400_000, T0), '2026-12-04 12:00:00 UTC');
  assert.equal(span(3_600_000), '1h');
  assert.equal(span(90 * 60_000), '90m');
  assert.equal(span(45_000), '45s');
  assert.equal(
    failText('#talk', T0, 'no answer within 30s', T0),
    "lines said in #talk after 12:00:00 UTC may not have been relayed: the server's history could not be had (no answer within 30s)",
  );
});

test('history keys: replay on, 1 h, 1,000 lines by default; bad values are config errors', () => {
  const c = accountSchema.parse({ host: 'h', nick: 'bot' });
  assert.deepEqual(c.history, { replay: true, maxAge: 3_600_000, maxLines: 1000 });
  const d = accountSchema.parse({ host: 'h', nick: 'bot', history: { maxAge: '10m', maxLines: 50 } });
  assert.deepEqual(d.history, { replay: true, maxAge: 600_000, maxLines: 50 });
  assert.equal(accountSchema.safeParse({ host: 'h', nick: 'bot', history: { maxLines: 0 } }).success, false);
  assert.equal(accountSchema.safeParse({ host: 'h', nick: 'bot', history: { lines: 5 } }).success, false);
});
