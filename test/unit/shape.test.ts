import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  announce,
  digestLine,
  renderDigest,
  stripQuotesAndSignature,
  participantsLabel,
} from '../../src/digest/shape.js';

const at = (hhmm: string, day = '2026-11-27') => `${day}T${hhmm}:00.000Z`;
const l = (
  time: string,
  name: string,
  body: string,
  kind: 'message' | 'action' | 'notice' = 'message',
  day?: string,
) => ({
  date: at(time, day),
  author: { name, via: 'irc' },
  body,
  kind,
  origin: { account: 'irc.a', target: '#commons' },
});

test('quoted text, attribution lines and signatures are left out', () => {
  const body = 'On Tue, Alice wrote:\n> old text\n> more\n\nMy answer.\nSecond line.\n\n-- \nBob\nhttp://bob.example';
  assert.equal(stripQuotesAndSignature(body), 'My answer.\nSecond line.');
});

test('announce: a head line, the first lines of the own text, and how many were left out', () => {
  const a = announce(
    {
      bridge: 'commons',
      author: { name: 'alice', via: 'mail' },
      subject: 'Meeting moved',
      body: '> quoted\nline 1\n\nline 2\nline 3\nline 4\n-- \nsig',
    },
    2,
  );
  assert.equal(a.head, '[commons] alice: Meeting moved');
  assert.deepEqual(a.lines, ['line 1', 'line 2']);
  assert.equal(a.more, 2);
});

test('digest lines: message, action, notice, and multi-line bodies indented', () => {
  assert.equal(digestLine(l('14:02', 'alice', 'hello')), '14:02 <alice> hello');
  assert.equal(digestLine(l('14:03', 'bob', 'waves', 'action')), '14:03 * bob waves');
  assert.equal(digestLine(l('14:04', 'srv', 'note', 'notice')), '14:04 -srv- note');
  assert.equal(digestLine(l('14:05', 'alice', 'a\nb')), '14:05 <alice> a\n      b');
});

test('a conversation becomes one article with the subject of docs/design.md', () => {
  const d = renderDigest([l('14:02', 'alice', 'hi'), l('14:10', 'bob', 'hello'), l('14:31', 'alice', 'bye')]);
  assert.equal(d.subject, '[#commons] conversation, 14:02–14:31 UTC (3 lines)');
  assert.equal(d.body, '2026-11-27 UTC\n\n14:02 <alice> hi\n14:10 <bob> hello\n14:31 <alice> bye\n');
  assert.deepEqual(d.participants, ['alice', 'bob']);
});

test('a conversation across midnight shows the dates', () => {
  const d = renderDigest([
    l('23:58', 'alice', 'late', 'message', '2026-11-27'),
    l('00:03', 'bob', 'early', 'message', '2026-11-28'),
  ]);
  assert.equal(d.subject, '[#commons] conversation, 2026-11-27 23:58–2026-11-28 00:03 UTC (2 lines)');
  assert.match(d.body, /2026-11-27 UTC\n\n23:58 <alice> late\n\n2026-11-28 UTC\n\n00:03 <bob> early/);
});

test('participants label', () => {
  assert.equal(participantsLabel(['a']), 'a');
  assert.equal(participantsLabel(['a', 'b']), 'a and b');
  assert.equal(participantsLabel(['a', 'b', 'c']), 'a, b and c');
  assert.equal(participantsLabel(['a', 'b', 'c', 'd', 'e']), 'a, b and 3 others');
});

test('a line put in from the shell (`peerpost post`) names no place in the digest subject; only such lines: the bridge', () => {
  const shell = {
    ...l('14:05', 'dave', 'from the shell'),
    origin: { account: 'cli', target: 'cli' },
    bridge: 'commons',
  };
  assert.equal(
    renderDigest([l('14:02', 'alice', 'hi'), shell]).subject,
    '[#commons] conversation, 14:02–14:05 UTC (2 lines)',
  );
  assert.equal(renderDigest([shell]).subject, '[commons] conversation, 14:05–14:05 UTC (1 line)');
});
