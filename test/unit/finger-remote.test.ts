/**
 * Reading followed plans without sockets: the real Thimbl plan of 2011 (with its
 * backslash-newline folds), times as strings or integers, plain plans and their
 * change detection, and the stable ids that keep a message to one post.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  normalisePlan,
  parseThimbl,
  parseThimblTime,
  planChange,
  planPart,
  planTextId,
  readRemotePlan,
  textHash,
  thimblMessageId,
  unfold,
} from '../../plugins/finger/remote.js';
import { idProblem } from '../../src/plugin.js';

// dist/test/unit → the sources' fixtures (not compiled, so read from the project tree).
const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/finger/thimbl-plan-2011.finger', import.meta.url));

test('the real Thimbl plan of dk@telekommunisten.org (2011) parses: folds removed, 21 messages in time order', () => {
  const answer = readFileSync(FIXTURE, 'utf8');
  const r = readRemotePlan(answer);
  assert.equal(r.kind, 'thimbl');
  if (r.kind !== 'thimbl') return;
  const p = r.plan;
  assert.equal(p.name, 'Dmytri Kleiner');
  assert.equal(p.address, 'dk@telekommunisten.org');
  assert.equal(p.messages.length, 21);
  assert.equal(p.messages[0]!.rawTime, '20101129060335');
  assert.equal(p.messages[0]!.date.toISOString(), '2010-11-29T06:03:35.000Z');
  assert.equal(p.messages[0]!.text, '@bernd, would be cool to inegrate thimbl in http://bau-ha.us\\!');
  // The fold inside a string ("timezones a\<newline>re") is gone.
  assert.ok(
    p.messages.some(
      (m) => m.text === '@mark, if we store the dats in GMT/UTC in the .plan, then timezones are no longer an issue',
    ),
  );
  assert.equal(p.messages[20]!.text, 'transmediale was fun, Thimbl got a distinction and moves onwards...');
  for (let i = 1; i < p.messages.length; i++) assert.ok(p.messages[i]!.date >= p.messages[i - 1]!.date);
  // Without unfolding, the fold inside the key "addres\<newline>s" breaks JSON.
  const part = planPart(answer);
  assert.ok('text' in part);
  if ('text' in part) assert.throws(() => JSON.parse(part.text));
  assert.doesNotThrow(() => JSON.parse(unfold((part as { text: string }).text)));
});

test('Thimbl time: a string or an integer, UTC; nonsense is skipped', () => {
  assert.equal(parseThimblTime('20110206192607')!.date.toISOString(), '2011-02-06T19:26:07.000Z');
  assert.equal(parseThimblTime(20110206192607)!.raw, '20110206192607');
  assert.equal(parseThimblTime('2011-02-06'), undefined);
  assert.equal(parseThimblTime('20111306192607'), undefined);
  assert.equal(parseThimblTime(null), undefined);
  const p = parseThimbl(
    '{"messages":[{"time":20110101000000,"text":"int"},{"time":"x","text":"bad"},{"time":"20100101000000","text":"str"},{"time":"20100101000000","text":"  "}]}',
  )!;
  assert.deepEqual(
    p.messages.map((m) => m.text),
    ['str', 'int'],
  );
});

test('stable ids: the same message (address, time, text) gets the same valid Message-ID, a different one another', () => {
  const m = { rawTime: '20110206192607', text: 'hello' };
  const a = thimblMessageId('dk@telekommunisten.org', m, 'telekommunisten.org');
  assert.equal(a, thimblMessageId('dk@telekommunisten.org', { ...m }, 'telekommunisten.org'));
  assert.notEqual(a, thimblMessageId('dk@telekommunisten.org', { ...m, text: 'hello!' }, 'telekommunisten.org'));
  assert.equal(idProblem(a), undefined);
  assert.match(a, /@telekommunisten\.org$/);
  assert.equal(idProblem(thimblMessageId('x@[::1]', m, '[::1]')), undefined);
  assert.equal(idProblem(planTextId('dk@127.0.0.1', 'text', '127.0.0.1')), undefined);
});

test('plain plans: the text after "Plan:" (the header changes every minute), cleaned; "No Plan." is no plan', () => {
  const answer =
    'Login: dk\r\nOn since Sun Feb  6 14:25 (EST) on pts/1\r\n   1 hour 25 minutes idle\r\nPlan:\r\nWorking on \x1b[1mpeerpost\x1b[0m.  \r\n\r\nBack Monday.\r\n\r\n';
  assert.deepEqual(readRemotePlan(answer), { kind: 'plain', text: 'Working on peerpost.\n\nBack Monday.' });
  const later = answer.replace('1 hour 25 minutes idle', '2 hours 3 minutes idle');
  assert.deepEqual(readRemotePlan(later), readRemotePlan(answer));
  assert.deepEqual(readRemotePlan('Login: dk\r\nNo Plan.\r\n'), { kind: 'none', why: 'no plan' });
  assert.equal(readRemotePlan('finger: dk: no such user.\r\n').kind, 'none');
  assert.deepEqual(readRemotePlan('just a plan, no header\n'), { kind: 'plain', text: 'just a plan, no header' });
  assert.equal(readRemotePlan('Plan:\n   \n').kind, 'none');
  assert.equal(readRemotePlan('Plan:\n{not json\n').kind, 'plain');
  assert.equal(normalisePlan('a \t\r\nb\r\n\r\n'), 'a\nb');
});

test('plain-plan change detection: a new text is posted once; a text seen before never again', () => {
  const seen: string[] = [];
  const take = (text: string) => {
    const c = planChange(seen, text);
    if (c) seen.push(c.hash);
    return c !== undefined;
  };
  assert.equal(take('first plan'), true);
  assert.equal(take('first plan'), false);
  assert.equal(take('second plan'), true);
  assert.equal(take('first plan'), false, 'back to an old text: not posted twice');
  assert.equal(seen.length, 2);
  assert.equal(textHash('x'), textHash('x'));
});
