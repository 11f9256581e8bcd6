/**
 * The irc plugin's record of who is where on a connection (people.ts), no sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { People } from '../../plugins/irc/people.js';

test('quits and nick changes are placed in the channels the nick is in; accounts and relay marks follow the nick', () => {
  const p = new People();
  p.selfJoined('#a');
  p.selfJoined('#b');
  p.names('#a', ['alice', 'bob']);
  p.joined('#b', 'alice');
  p.joined('#c', 'alice'); // a channel we are not in: not recorded
  p.setAccount('alice', 'alice_acct');
  assert.equal(p.markRelay('bob'), true);
  assert.equal(p.markRelay('bob'), false, 'already known');
  assert.deepEqual(p.renamed('alice', 'alicia'), ['#a', '#b']);
  assert.equal(p.account('alicia'), 'alice_acct');
  assert.equal(p.account('alice'), undefined);
  assert.deepEqual(p.renamed('bob', 'robert'), ['#a']);
  assert.equal(p.isRelay('robert'), true);
  p.left('#b', 'alicia');
  assert.deepEqual(p.quit('alicia'), ['#a']);
  assert.equal(p.account('alicia'), undefined, 'forgotten on quit');
  assert.deepEqual(p.quit('nobody'), []);
  p.clear();
  assert.deepEqual(p.quit('robert'), [], 'a new connection starts empty');
  assert.equal(p.isRelay('robert'), false);
});
