/**
 * The irc plugin's delivery confirmation (a PING after a post's lines), no sockets:
 * a fake connection that records what is written and lets the test answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Confirmer, refusalText } from '../../plugins/irc/confirm.js';

function fake(opts: { deferMs?: number; scarce?: () => boolean } = {}) {
  const written: string[] = [];
  let tokens = Infinity;
  const waiting: (() => void)[] = [];
  let up = true;
  let echo = false;
  const c = new Confirmer(
    {
      take: () => (tokens-- > 0 ? Promise.resolve() : new Promise<void>((r) => waiting.push(r))),
      write: async (line) => {
        if (!up) return false;
        written.push(line);
        return true;
      },
      key: (ch) => ch.toLowerCase(),
      echo: () => echo,
      self: (nick) => nick === 'relay',
      ...(opts.deferMs !== undefined ? { deferMs: () => opts.deferMs! } : {}),
      ...(opts.scarce ? { scarce: opts.scarce } : {}),
    },
    't',
  );
  return {
    c,
    written,
    limit: (n: number) => (tokens = n),
    give: () => waiting.shift()?.(),
    down: () => (up = false),
    echoOn: () => (echo = true),
    pong: (token: string) => c.onMessage({ command: 'PONG', params: ['irc.test', token] }),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('a delivery is confirmed only when the PONG after its lines arrives', async () => {
  const f = fake();
  const d = f.c.begin('#a');
  let result: unknown;
  void f.c.end(d).then((r) => (result = r));
  await tick();
  assert.deepEqual(f.written, ['PING :t1']);
  assert.equal(result, undefined, 'not before the PONG');
  assert.equal(
    f.c.onMessage({ command: 'PONG', params: ['irc.test', 'other'] }),
    false,
    "not ours (irc-framework's keep-alive)",
  );
  await tick();
  assert.equal(result, undefined);
  assert.equal(f.pong('t1'), true);
  await tick();
  assert.deepEqual(result, { ok: true });
});

test("a 404 for its channel before the PONG makes it refused, with the server's words; other channels are not touched", async () => {
  const f = fake();
  const a = f.c.begin('#A');
  const b = f.c.begin('#b');
  f.c.line(a);
  f.c.line(b);
  // The refusal comes back while the lines are still being written (before end()).
  f.c.onMessage({ command: '404', params: ['relay', '#a', 'Cannot send to channel'] });
  const ra = f.c.end(a);
  const rb = f.c.end(b);
  await tick();
  assert.deepEqual(f.written, ['PING :t1'], 'one PING confirms both');
  f.pong('t1');
  const got = await ra;
  assert.deepEqual(got, { ok: false, refused: [{ code: '404', channel: '#a', text: 'Cannot send to channel' }] });
  assert.deepEqual(await rb, { ok: true });
  if (!got.ok && 'refused' in got)
    assert.equal(refusalText(got.refused), 'the server refused a line in #a (404 Cannot send to channel)');
});

test('with the bucket empty, the PING waits for a token, and deliveries that end meanwhile share it', async () => {
  const f = fake();
  f.limit(0);
  const a = f.c.begin('#a');
  const ra = f.c.end(a);
  const b = f.c.begin('#b');
  const rb = f.c.end(b);
  await tick();
  assert.deepEqual(f.written, [], 'no token yet');
  f.give();
  await tick();
  assert.deepEqual(f.written, ['PING :t1']);
  f.pong('t1');
  assert.deepEqual(await Promise.all([ra, rb]), [{ ok: true }, { ok: true }]);
});

test('a delivery that ends after a PING was written waits for the next one', async () => {
  const f = fake();
  const a = f.c.begin('#a');
  const ra = f.c.end(a);
  await tick();
  const b = f.c.begin('#b');
  let rbDone = false;
  const rb = f.c.end(b).then((r) => ((rbDone = true), r));
  await tick();
  f.pong('t1');
  assert.deepEqual(await ra, { ok: true });
  await tick();
  assert.equal(rbDone, false, "#b's lines went after PING t1");
  assert.deepEqual(f.written, ['PING :t1', 'PING :t2']);
  f.pong('t2');
  assert.deepEqual(await rb, { ok: true });
});

test('the connection closes before the PONG: the delivery is lost (sent again), never confirmed', async () => {
  const f = fake();
  const a = f.c.begin('#a');
  const ra = f.c.end(a);
  await tick();
  f.c.close('disconnected');
  assert.deepEqual(await ra, { ok: false, lost: 'disconnected' });
  const late = f.c.begin('#a');
  assert.deepEqual(await late.done, { ok: false, lost: 'disconnected' }, 'a closed confirmer confirms nothing');
});

test('a PING that cannot be written loses its deliveries', async () => {
  const f = fake();
  f.down();
  const a = f.c.begin('#a');
  const r = await f.c.end(a);
  assert.ok(!r.ok && 'lost' in r);
});

test('numerics that are not refusals, or name no channel of ours, change nothing', async () => {
  const f = fake();
  const a = f.c.begin('#a');
  f.c.onMessage({ command: 'PRIVMSG', params: ['#a', 'hello'] });
  f.c.onMessage({ command: '404', params: ['relay', '#other', 'Cannot send to channel'] });
  f.c.onMessage({ command: '404', params: ['relay'] });
  const r = f.c.end(a);
  await tick();
  f.pong('t1');
  assert.deepEqual(await r, { ok: true });
});

test('echo-message: every line answered by its echo settles the delivery at once, with no PING', async () => {
  const f = fake();
  f.echoOn();
  const d = f.c.begin('#a');
  f.c.line(d);
  f.c.line(d);
  f.c.onMessage({ command: 'PRIVMSG', nick: 'relay', params: ['#A', 'one'] });
  let result: unknown;
  void f.c.end(d).then((r) => (result = r));
  await tick();
  assert.equal(result, undefined, 'one line still owes its echo');
  f.c.onMessage({ command: 'PRIVMSG', nick: 'someone', params: ['#a', 'not ours'] });
  await tick();
  assert.equal(result, undefined);
  f.c.onMessage({ command: 'PRIVMSG', nick: 'relay', params: ['#a', 'two'] });
  await tick();
  assert.deepEqual(result, { ok: true });
  assert.deepEqual(f.written, [], 'no PING');
});

test("echo-message: a refusal is a line's answer; the delivery is refused", async () => {
  const f = fake();
  f.echoOn();
  const d = f.c.begin('#a');
  f.c.line(d);
  f.c.line(d);
  f.c.onMessage({ command: 'PRIVMSG', nick: 'relay', params: ['#a', 'one'] });
  f.c.onMessage({
    command: '404',
    params: ['relay', '#a', 'You cannot send messages to this channel whilst the +m mode is set.'],
  });
  const r = await f.c.end(d);
  assert.ok(!r.ok && 'refused' in r && r.refused[0]!.code === '404');
  assert.deepEqual(f.written, []);
});

test('echo-message: answers that do not come within ECHO_WAIT are asked for with a PING; a line neither echoed nor refused is lost', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const f = fake();
  f.echoOn();
  const d = f.c.begin('#a');
  f.c.line(d);
  const r = f.c.end(d);
  assert.deepEqual(f.written, []);
  t.mock.timers.tick(3_000);
  await tick();
  assert.deepEqual(f.written, ['PING :t1']);
  f.pong('t1');
  const got = await r;
  assert.ok(!got.ok && 'lost' in got && /neither echoed nor refused a line in #a/.test(got.lost), JSON.stringify(got));
});

test('one PING for a window of posts: while the next post of the channel is being written, the PING waits for it', async () => {
  const f = fake();
  const results: unknown[] = [];
  const a = f.c.begin('#a');
  f.c.line(a);
  void f.c.end(a).then((r) => results.push(['a', r]));
  // The outbox starts the next post as soon as a's lines are written (within the same turn).
  const b = f.c.begin('#a');
  await tick();
  assert.deepEqual(f.written, [], 'no PING while b is still writing');
  f.c.line(b);
  void f.c.end(b).then((r) => results.push(['b', r]));
  const c = f.c.begin('#a');
  f.c.line(c);
  void f.c.end(c).then((r) => results.push(['c', r]));
  await tick();
  await tick();
  assert.deepEqual(f.written, ['PING :t1'], 'one PING after the last line confirms all three');
  f.pong('t1');
  await tick();
  assert.deepEqual(results, [
    ['a', { ok: true }],
    ['b', { ok: true }],
    ['c', { ok: true }],
  ]);
});

test('the PING waits for deliveries still writing at most deferMs after the first it confirms ended', async () => {
  const f = fake({ deferMs: 40 });
  const a = f.c.begin('#a');
  f.c.line(a);
  const ra = f.c.end(a);
  const b = f.c.begin('#b'); // waits for flood control, say, and does not end soon
  f.c.line(b);
  await tick();
  assert.deepEqual(f.written, []);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(f.written, ['PING :t1'], 'written once the wait is over');
  f.pong('t1');
  assert.deepEqual(await ra, { ok: true });
  let bDone = false;
  void b.done.then(() => (bDone = true));
  await tick();
  assert.equal(bDone, false, "b was not in that PING's batch: it had not ended");
});

test('a delivery that gives up (drop) releases the PING that waited for it', async () => {
  const f = fake();
  const a = f.c.begin('#a');
  f.c.line(a);
  const ra = f.c.end(a);
  const b = f.c.begin('#a');
  await tick();
  assert.deepEqual(f.written, []);
  f.c.drop(b);
  await tick();
  await tick();
  assert.deepEqual(f.written, ['PING :t1']);
  f.pong('t1');
  assert.deepEqual(await ra, { ok: true });
});

test('a refusal counts against the posts of its channel that had written a line when it came, not a later one', async () => {
  const f = fake();
  const a = f.c.begin('#a');
  f.c.line(a);
  const ra = f.c.end(a);
  const b = f.c.begin('#a');
  // The server refuses a's line (+m) before b wrote anything: it cannot be about b's lines.
  f.c.onMessage({ command: '404', params: ['relay', '#a', 'Cannot send to channel'] });
  f.c.line(b);
  const rb = f.c.end(b);
  await tick();
  await tick();
  assert.deepEqual(f.written, ['PING :t1']);
  f.pong('t1');
  const got = await ra;
  assert.ok(!got.ok && 'refused' in got, 'a is refused');
  assert.deepEqual(await rb, { ok: true }, 'b is not');
});

test('a refusal while two posts of the channel were written: both count as refused (the server does not say which line)', async () => {
  const f = fake();
  const a = f.c.begin('#a');
  f.c.line(a);
  const ra = f.c.end(a);
  const b = f.c.begin('#a');
  f.c.line(b);
  const rb = f.c.end(b);
  f.c.onMessage({ command: '404', params: ['relay', '#a', 'Cannot send to channel'] });
  await tick();
  await tick();
  f.pong('t1');
  const [x, y] = await Promise.all([ra, rb]);
  assert.ok(!x.ok && 'refused' in x);
  assert.ok(!y.ok && 'refused' in y, 'sent again: at worst shown twice, never counted as said when refused');
});

test('with flood-control tokens to spare, each post gets its PING at once, even while the next one is being written', async () => {
  let scarce = false;
  const f = fake({ scarce: () => scarce });
  const a = f.c.begin('#a');
  f.c.line(a);
  const ra = f.c.end(a);
  const b = f.c.begin('#a');
  f.c.line(b);
  await tick();
  await tick();
  assert.deepEqual(f.written, ['PING :t1'], 'not deferred: a PING costs no line any time now');
  f.pong('t1');
  assert.deepEqual(await ra, { ok: true });
  // Tokens short now: the next PING waits for the post being written.
  scarce = true;
  const rb = f.c.end(b);
  const c = f.c.begin('#a');
  await tick();
  await tick();
  assert.deepEqual(f.written, ['PING :t1']);
  f.c.line(c);
  const rc = f.c.end(c);
  await tick();
  await tick();
  assert.deepEqual(f.written, ['PING :t1', 'PING :t2'], 'one PING for b and c');
  f.pong('t2');
  assert.deepEqual(await Promise.all([rb, rc]), [{ ok: true }, { ok: true }]);
});
