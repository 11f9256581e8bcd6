/**
 * The irc plugin's record of who is who on a connection (people.ts), no sockets. Who is in which channel:
 * irc-channel.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { People } from '../../plugins/irc/people.js';

test('accounts and relay marks follow a nick change and are forgotten on a quit', () => {
  const p = new People();
  p.setAccount('alice', 'alice_acct');
  assert.equal(p.markRelay('bob'), true);
  assert.equal(p.markRelay('bob'), false, 'already known');
  p.renamed('alice', 'alicia');
  assert.equal(p.account('alicia'), 'alice_acct');
  assert.equal(p.account('alice'), undefined);
  p.renamed('bob', 'robert');
  assert.equal(p.isRelay('robert'), true);
  assert.equal(p.isRelay('bob'), false);
  p.quit('alicia');
  assert.equal(p.account('alicia'), undefined, 'forgotten on quit');
  p.setAccount('carol', 'c');
  p.setAccount('carol', undefined);
  assert.equal(p.account('carol'), undefined, 'logged out');
  p.clear();
  assert.equal(p.isRelay('robert'), false, 'a new connection starts empty');
});
