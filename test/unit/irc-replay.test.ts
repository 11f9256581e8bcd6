/**
 * The connection's part of the chathistory replay (plugins/irc/replay.ts), on a stand-in connection (an
 * EventEmitter, no socket): the request after a join, live lines held back until the answer is relayed,
 * a refused or unanswered request, the marks moving only once a line's post is committed, kept in the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { History } from '../../plugins/irc/replay.js';
import type { IrcAccount } from '../../plugins/irc/account.js';
import type { MessageEvent, MessageType } from '../../plugins/irc/events.js';

const T0 = Date.parse('2026-12-05T12:00:00.000Z');
const tick = () => new Promise((r) => setImmediate(r));

function setup(opts: { caps?: string[]; maxLines?: number; mark?: object } = {}) {
  const kv = new Map<string, unknown>();
  if (opts.mark) kv.set('history:#talk', opts.mark);
  const written: string[] = [];
  const processed: string[] = [];
  const closers: (() => unknown)[] = [];
  const caps = opts.caps ?? ['draft/chathistory', 'batch', 'server-time', 'message-tags'];
  const client = Object.assign(new EventEmitter(), {
    connection: new EventEmitter(),
    network: {
      cap: { isEnabled: (c: string) => caps.includes(c) },
      supports: (k: string) => (k === 'CHATHISTORY' ? '1000' : undefined),
    },
    user: { nick: 'relay' },
    caseCompare: (a: string, b: string) => a.toLowerCase() === b.toLowerCase(),
    requested: [] as string[],
    requestCap(c: string | string[]) {
      this.requested.push(...(Array.isArray(c) ? c : [c]));
    },
  });
  const chan = { name: '#Talk' };
  const account = {
    ctx: {
      account: 'irc.ergo',
      node: { hostname: 'node.example' },
      log: pino({ level: 'silent' }),
      signal: new AbortController().signal,
      onClose: (fn: () => unknown) => closers.push(fn),
      store: {
        get: (k: string) => kv.get(k),
        set: (k: string, v: unknown) => kv.set(k, JSON.parse(JSON.stringify(v))),
      },
    },
    // The lines here are dated 2026-12-05: a window of 100 years keeps the test from depending on today's date.
    cfg: { history: { replay: true, maxAge: 100 * 365 * 86_400_000, maxLines: opts.maxLines ?? 1000 } },
    client,
    channel: (n: string) => (n.toLowerCase() === '#talk' ? chan : undefined),
    bucket: { take: async () => {} },
    write: async (_c: unknown, line: string) => {
      written.push(line);
      return true;
    },
    incoming: { process: (_t: MessageType, ev: MessageEvent) => processed.push(ev.message) },
    reportState: () => {},
  };
  const h = new History(account as unknown as IrcAccount);
  h.wire(client as never, () => true);
  const line = (msgid: string, secs: number, message: string, batch = false, nick = 'alice'): MessageEvent =>
    ({
      nick,
      target: '#talk',
      message,
      time: T0 + secs * 1000,
      tags: { msgid },
      ...(batch ? { batch: { id: '1', type: 'chathistory', params: ['#talk'] } } : {}),
    }) as MessageEvent;
  const close = () => closers.forEach((f) => f());
  return { h, client, kv, written, processed, line, close };
}

test('after a join: CHATHISTORY LATEST from the mark; live lines wait for the answer and follow it, once', async () => {
  const s = setup({ mark: { msgid: 'm1', time: T0 + 1000 } });
  assert.deepEqual(s.client.requested, ['draft/chathistory', 'chathistory']);
  s.client.emit('join', { nick: 'relay', channel: '#talk', time: T0 + 9000 });
  await tick();
  assert.deepEqual(s.written, ['CHATHISTORY LATEST #Talk timestamp=2026-12-05T12:00:00.999Z 1000']);
  // Live lines while the answer is awaited: held back.
  assert.equal(s.h.take('privmsg', s.line('m4', 10, 'live, also in the answer')), true);
  assert.equal(s.h.take('privmsg', s.line('m5', 11, 'live only')), true);
  // The answer (irc-framework hands a batch's lines over at its end).
  for (const ev of [
    s.line('m1', 1, 'the mark', true),
    s.line('m2', 2, 'away one', true),
    s.line('_j', 3, 'bob joined the channel', true, 'HistServ'),
    s.line('m3', 4, 'away two', true),
    s.line('m4', 10, 'live, also in the answer', true),
  ])
    assert.equal(s.h.take('privmsg', ev), true);
  assert.deepEqual(s.processed, []);
  s.client.emit('batch end chathistory', { params: ['#talk'] });
  assert.deepEqual(s.processed, ['away one', 'away two', 'live, also in the answer', 'live only']);
  // The replay is over: live lines go on at once.
  assert.equal(s.h.take('privmsg', s.line('m6', 12, 'later')), false);
  assert.deepEqual(s.h.notes(), []);
  s.close();
});

test('the first join of a channel asks for nothing: the mark starts at the join, written at once', async () => {
  const s = setup();
  s.client.emit('join', { nick: 'relay', channel: '#talk', time: T0 });
  await tick();
  assert.deepEqual(s.written, []);
  assert.deepEqual(s.kv.get('history:#talk'), { time: T0 });
  assert.equal(s.h.take('privmsg', s.line('m1', 1, 'live')), false);
  s.close();
});

test('without the capability (or with history.replay false) nothing is asked and nothing held', async () => {
  const s = setup({ caps: ['batch'], mark: { time: T0 } });
  s.client.emit('join', { nick: 'relay', channel: '#talk', time: T0 });
  await tick();
  assert.deepEqual(s.written, []);
  assert.equal(s.h.take('privmsg', s.line('m1', 1, 'live')), false);
  assert.equal(s.h.postId('#talk', s.line('m1', 1, 'live')), undefined);
  s.close();
});

test('a refused request is reported, and the live lines held back go on', async () => {
  const s = setup({ mark: { time: T0 } });
  s.client.emit('join', { nick: 'relay', channel: '#talk' });
  await tick();
  s.h.take('privmsg', s.line('m5', 11, 'live'));
  s.client.connection.emit('message', {
    command: 'FAIL',
    params: ['CHATHISTORY', 'INVALID_TARGET', 'LATEST', '#talk', 'Messages could not be retrieved'],
  });
  assert.deepEqual(s.processed, ['live']);
  assert.match(
    s.h.notes()[0]!,
    /^lines said in #Talk after (?:\S+ )?12:00:00 UTC may not have been relayed: .*INVALID_TARGET/,
  );
  s.close();
});

test('a gap beyond history.maxLines is shown in the notes', async () => {
  const s = setup({ mark: { msgid: 'm0', time: T0 }, maxLines: 2 });
  s.client.emit('join', { nick: 'relay', channel: '#talk' });
  await tick();
  assert.match(s.written[0]!, / 5$/);
  for (const [i, t] of ['a', 'b', 'c', 'd'].entries()) s.h.take('privmsg', s.line(`m${i + 1}`, i + 1, t, true));
  s.client.emit('batch end chathistory', { params: ['#talk'] });
  assert.deepEqual(s.processed, ['c', 'd']);
  assert.match(
    s.h.notes()[0]!,
    /^2 lines said in #Talk between (?:\S+ )?12:00:00 UTC and (?:\S+ )?12:00:03 UTC were not relayed/,
  );
  s.close();
});

test('a lost connection drops what was held (the next join asks again from the same mark)', async () => {
  const s = setup({ mark: { time: T0 } });
  s.client.emit('join', { nick: 'relay', channel: '#talk' });
  await tick();
  s.h.take('privmsg', s.line('m5', 11, 'live'));
  s.client.emit('close');
  assert.equal(s.h.take('privmsg', s.line('m6', 12, 'on a new connection')), false);
  assert.deepEqual(s.h.mark('#talk'), { time: T0 });
  s.close();
});

test("a channel's mark moves once the line's post is committed, in the order the lines came", async () => {
  const s = setup({ mark: { time: T0 } });
  let commit!: () => void;
  const first = new Promise<void>((r) => (commit = r));
  s.h.seen('#talk', s.line('m1', 1, 'stored later'), first);
  s.h.seen('#talk', s.line('m2', 2, 'not relayed (our own)'), undefined);
  await tick();
  assert.deepEqual(s.h.mark('#talk'), { time: T0 });
  commit();
  await tick();
  assert.deepEqual(s.h.mark('#talk'), { msgid: 'm2', time: T0 + 2000 });
  s.close();
  assert.deepEqual(s.kv.get('history:#talk'), { msgid: 'm2', time: T0 + 2000 });
  // The post id of a line: from its msgid, the same for the same line.
  assert.equal(s.h.postId('#talk', s.line('m1', 1, 'x')), s.h.postId('#TALK', s.line('m1', 99, 'y')));
});

test('a full answer that does not reach the mark: the page before is asked for, and the whole is replayed in order', async () => {
  const s = setup({ mark: { msgid: 'm1', time: T0 + 1000 }, maxLines: 2 });
  s.client.emit('join', { nick: 'relay', channel: '#talk' });
  await tick();
  assert.deepEqual(s.written, ['CHATHISTORY LATEST #Talk timestamp=2026-12-05T12:00:00.999Z 5']);
  const hist = (id: string, secs: number) => s.line(id, secs, `${id} joined the channel`, true, 'HistServ');
  for (const ev of [
    hist('_a', 4),
    s.line('m5', 5, 'e', true),
    hist('_b', 6),
    s.line('m7', 7, 'g', true),
    hist('_c', 8),
  ])
    s.h.take('privmsg', ev);
  s.client.emit('batch end chathistory', { params: ['#talk'] });
  await tick();
  assert.equal(s.written[1], 'CHATHISTORY BEFORE #Talk timestamp=2026-12-05T12:00:04.001Z 5');
  assert.deepEqual(s.processed, []);
  for (const ev of [s.line('m1', 1, 'mark', true), s.line('m2', 2, 'b', true), hist('_a', 4)]) s.h.take('privmsg', ev);
  s.client.emit('batch end chathistory', { params: ['#talk'] });
  // maxLines 2: the newest two, and the gap says one line was left out.
  assert.deepEqual(s.processed, ['e', 'g']);
  assert.match(
    s.h.notes()[0]!,
    /^1 line said in #Talk between (?:\S+ )?12:00:01 UTC and (?:\S+ )?12:00:05 UTC was not relayed/,
  );
  s.close();
});

test('a page before refused: what came is replayed, and what is before it reported', async () => {
  const s = setup({ mark: { msgid: 'm1', time: T0 + 1000 }, maxLines: 2 });
  s.client.emit('join', { nick: 'relay', channel: '#talk' });
  await tick();
  const hist = (id: string, secs: number) => s.line(id, secs, `${id} joined the channel`, true, 'HistServ');
  for (const ev of [
    hist('_a', 4),
    s.line('m5', 5, 'e', true),
    hist('_b', 6),
    s.line('m7', 7, 'g', true),
    hist('_c', 8),
  ])
    s.h.take('privmsg', ev);
  s.client.emit('batch end chathistory', { params: ['#talk'] });
  await tick();
  s.h.take('privmsg', s.line('m9', 9, 'live'));
  s.client.connection.emit('message', {
    command: 'FAIL',
    params: ['CHATHISTORY', 'MESSAGE_ERROR', 'BEFORE', '#talk', 'Messages could not be retrieved'],
  });
  assert.deepEqual(s.processed, ['e', 'g', 'live']);
  assert.match(
    s.h.notes()[0]!,
    /^lines said in #Talk between (?:\S+ )?12:00:01 UTC and (?:\S+ )?12:00:05 UTC were not relayed/,
  );
  s.close();
});
