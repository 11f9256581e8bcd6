/**
 * Moderation without sockets: the signed tokens of held notices, the decision in a reply, ban patterns, and the
 * config errors of a bad ban (issue 16).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signModeration, verifyModeration, findDecision } from '../../plugins/mail/moderate.js';
import { parseBan, firstMatch } from '../../plugins/mail/bans.js';
import { classify, listAddresses, listNameProblem } from '../../plugins/mail/lists.js';
import { formatConfigError, parseConfig } from '../../src/config/load.js';
import { lookupPlugin } from '../../src/loader.js';

const key = randomBytes(32);
const c = { account: 'mail.lists', list: 'commons', id: 42 };

describe('moderation tokens', () => {
  test('a token verifies for its account, list and held id, in any case', () => {
    const t = signModeration(key, c);
    assert.match(t, /^42-[0-9a-f]{20}$/);
    assert.deepEqual(verifyModeration(key, c.account, c.list, t), { id: 42 });
    assert.deepEqual(
      verifyModeration(key, c.account, c.list, t.toUpperCase()),
      { id: 42 },
      'a mail system may upper-case it',
    );
    // It fits an address and the address is recognised as the list's moderate address.
    const at = listAddresses('commons', 'lists.example.org').moderate(t);
    assert.deepEqual(classify(at, ['commons'], 'lists.example.org'), {
      list: 'commons',
      kind: 'moderate',
      detail: t,
      local: `commons-moderate+${t}`,
    });
    assert.ok(at.split('@')[0]!.length <= 64, 'a local part of at most 64 characters for a short list name');
  });

  test('refused: another list, another account, another key, another id, an altered or cut MAC, junk', () => {
    const t = signModeration(key, c);
    const bad = (token: string, list = c.list, account = c.account, k = key) => {
      const r = verifyModeration(k, account, list, token);
      assert.ok('problem' in r, `${token} on ${account}/${list} was taken`);
      return r.problem;
    };
    assert.match(bad(t, 'other'), /not valid for other/);
    bad(t, c.list, 'mail.elsewhere');
    bad(t, c.list, c.account, randomBytes(32));
    bad(t.replace(/^42/, '43'));
    bad(t.slice(0, -1) + (t.endsWith('0') ? '1' : '0'));
    assert.match(bad(t.slice(0, -2)), /malformed/);
    for (const j of [
      '',
      '42',
      '-',
      'x-0123456789abcdef0123',
      `42-${'g'.repeat(20)}`,
      `${'9'.repeat(16)}-${'0'.repeat(20)}`,
    ])
      bad(j);
  });

  test('the address of a list ending in -moderate would collide: such a name is refused', () => {
    assert.match(listNameProblem('team-moderate') ?? '', /moderate address of the list "team"/);
    assert.equal(classify('commons-moderate@lists.example.org', ['commons'], 'lists.example.org'), undefined);
  });
});

describe('the decision in a reply', () => {
  test('the first command among the subject and first lines; quotes and the notice subject are no command', () => {
    assert.deepEqual(findDecision('Re: commons: post #3 from x@y awaits approval', 'approve\n\n> reject'), {
      action: 'approve',
      reason: '',
    });
    assert.deepEqual(findDecision('Re: commons: post #3', 'Reject: off topic, sorry\nmore'), {
      action: 'reject',
      reason: 'off topic, sorry',
    });
    assert.deepEqual(findDecision('discard', ''), { action: 'discard', reason: '' });
    assert.deepEqual(findDecision('Re: x', '> approve\nBAN\n'), { action: 'ban', reason: '' });
    assert.equal(findDecision('Re: commons: post #3 from spammer: approve me', '> approve\n-- \napprove'), undefined);
    assert.equal(findDecision('Re: x', 'I approve of this\n'), undefined, 'a command is the first word');
  });
});

describe('ban patterns', () => {
  test('an address, a glob, a regex: compared without case', () => {
    const a = parseBan('Spammer@Example.org');
    assert.ok(!('problem' in a) && a.kind === 'address' && a.pattern === 'spammer@example.org');
    assert.ok(a.test('SPAMMER@example.ORG') && !a.test('spammer@example.org.evil') && !a.test('xspammer@example.org'));

    const g = parseBan('*@spam.example');
    assert.ok(!('problem' in g) && g.kind === 'glob');
    assert.ok(g.test('anyone@spam.example') && g.test('A.B+c@SPAM.example'));
    assert.ok(
      !g.test('anyone@notspam.example') && !g.test('anyone@spam.example.org') && !g.test('anyone@spamxexample'),
    );
    const sub = parseBan('*@*.spam.example');
    assert.ok(!('problem' in sub) && sub.test('a@mx.spam.example') && !sub.test('a@spam.example'));
    const q = parseBan('bot?@example.org');
    assert.ok(!('problem' in q) && q.test('bot1@example.org') && !q.test('bot12@example.org'));

    const r = parseBan('/^bot[0-9]+@/');
    assert.ok(!('problem' in r) && r.kind === 'regex' && r.pattern === '/^bot[0-9]+@/');
    assert.ok(r.test('BOT7@example.org') && !r.test('robot7@example.org'));
    assert.ok(!('problem' in parseBan('/x@y/i')));
  });

  test('what cannot be a pattern says why', () => {
    const problem = (p: string) => {
      const b = parseBan(p);
      assert.ok('problem' in b, `${p} was taken`);
      return b.problem;
    };
    assert.match(problem('/([a-z/'), /not a valid regular expression/);
    assert.match(problem('/abc/g'), /written \/…\//);
    assert.match(problem('*spam*'), /a glob names a whole address/);
    assert.match(problem('not an address'), /write an address, a glob/);
    assert.match(problem(''), /empty/);
    assert.match(problem(`/${'a'.repeat(400)}/`), /longer than/);
  });

  test('firstMatch: the first pattern that matches; a broken one never matches', () => {
    const ps = ['/([/', 'x@example.org', '*@spam.example'];
    assert.equal(firstMatch(ps, 'a@spam.example'), '*@spam.example');
    assert.equal(firstMatch(ps, 'X@Example.org'), 'x@example.org');
    assert.equal(firstMatch(ps, 'ok@example.org'), undefined);
  });
});

describe('bans in the config', () => {
  const load = (accountExtra: string, endpointExtra: string) =>
    parseConfig(
      [
        'accounts:',
        `  mail.lists: { domain: lists.example.org${accountExtra} }`,
        'bridges:',
        '  commons:',
        '    endpoints:',
        `      - { endpoint: mail.lists/commons, owners: [o@example.org]${endpointExtra} }`,
        '',
      ].join('\n'),
      'test.yaml',
      { lookup: lookupPlugin, env: {}, cwd: '/' },
    );

  test('good bans and moderators load', async () => {
    const r = await load(
      ", bans: ['/^bot[0-9]+@/', '*@spam.example']",
      ", moderators: [m@example.org], bans: ['x@example.org']",
    );
    assert.deepEqual(r.ok ? [] : r.errors.map(formatConfigError), []);
  });

  test('a bad regex is a config error naming the key, on the account and on a list', async () => {
    const acct = await load(", bans: ['/([a-z/']", '');
    assert.equal(acct.ok, false);
    const a = (acct as { errors: Parameters<typeof formatConfigError>[0][] }).errors.map(formatConfigError).join('\n');
    assert.match(a, /bans/);
    assert.match(a, /not a valid regular expression/);
    const list = await load('', ", bans: ['ok@example.org', '/(/']");
    assert.equal(list.ok, false);
    const l = (list as { errors: Parameters<typeof formatConfigError>[0][] }).errors.map(formatConfigError).join('\n');
    assert.match(l, /bans/);
    assert.match(l, /"\/\(\/" is not a valid regular expression/);
    const mods = await load('', ', moderators: [not-an-address]');
    assert.equal(mods.ok, false);
    assert.match(
      (mods as { errors: Parameters<typeof formatConfigError>[0][] }).errors.map(formatConfigError).join('\n'),
      /moderators/,
    );
  });
});
