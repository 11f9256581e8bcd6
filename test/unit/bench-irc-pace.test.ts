import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedBenchBin, splitTimes } from '../../bench/irc-pace.js';
import { stampLines, type Stamps } from '../../bench/lib/pace-trace.js';

test('irc-pace finds the team matterbridge beside a checkout and beside a worktree’s parents', () => {
  const root = mkdtempSync(join(tmpdir(), 'pp-shared-'));
  try {
    const bin = join(root, 'shared', 'bench', 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'matterbridge.xz'), '');
    mkdirSync(join(root, 'main'));
    mkdirSync(join(root, 'wt', 'irc18'), { recursive: true });
    assert.equal(sharedBenchBin(join(root, 'main')), bin);
    assert.equal(sharedBenchBin(join(root, 'wt', 'irc18')), bin);
    // Nowhere: the place beside the checkout, named in the bench's message.
    rmSync(join(bin, 'matterbridge.xz'));
    assert.equal(sharedBenchBin(join(root, 'wt', 'irc18')), join(root, 'wt', 'shared', 'bench', 'bin'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('IRC_PACE_TRACE splits a line on one clock: the hop to the relay, its own time, its write, the hop back', () => {
  const bench = new Map([
    ['t-0', { sent: 100, received: 110 }],
    ['t-1', { sent: 200, received: 214 }],
    ['t-2', { sent: 300 }], // never arrived: left out
  ]);
  const relay: Record<string, Stamps> = {
    't-0': { data: 103, write: 104, written: 104.5 },
    't-1': { data: 205, write: 207, written: 208 },
  };
  assert.deepEqual(splitTimes(bench, relay), { hopIn: 4, own: 1.5, write: 0.75, hopOut: 5.75 });
  assert.equal(splitTimes(bench, {}), undefined, 'no stamp from the relay: no split');
});

test('the trace stamps the lines it is told to, and passes every call through unchanged', () => {
  const calls: unknown[][] = [];
  const proto = {
    emit(...a: unknown[]) {
      calls.push(['emit', ...a]);
      return true;
    },
    write(...a: unknown[]) {
      calls.push(['write', ...a]);
      return false;
    },
  };
  const rows: Record<string, Stamps> = {};
  stampLines(proto as never, /(tag-\d+)\b/, rows);
  assert.equal(proto.emit('data', 'x'), true);
  assert.equal(proto.write('PING :1\r\n'), false);
  assert.equal(proto.write('PRIVMSG #b :<tx> tag-7 the quick brown fox\r\n', 'utf8'), false);
  assert.deepEqual(Object.keys(rows), ['tag-7'], 'only the measured line');
  const r = rows['tag-7']!;
  assert.ok(r.data > 0 && r.data <= r.write && r.write <= r.written, JSON.stringify(r));
  assert.deepEqual(
    calls.map((c) => c[0]),
    ['emit', 'write', 'write'],
  );
  assert.deepEqual(calls[2], ['write', 'PRIVMSG #b :<tx> tag-7 the quick brown fox\r\n', 'utf8']);
});
