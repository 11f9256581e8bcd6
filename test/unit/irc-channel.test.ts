/**
 * The irc plugin's Channel model (plugins/irc/channel.ts), no sockets: our own join state through join, kick,
 * rejoin, part, a refused JOIN and a lost connection; the members through NAMES, joins, parts, kicks, quits, a
 * netsplit and nick changes; a refusal of our lines; the channel's loop-guard memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Channel } from '../../plugins/irc/channel.js';

/** A channel on a clock the test moves. */
function channel(name = '#commons') {
  const clock = { now: 1_000_000 };
  const chan = new Channel(name, 60_000, () => clock.now);
  return { chan, clock };
}

test('join: a JOIN sent waits for its answer; our JOIN back means joined, with no problem and nobody known yet', () => {
  const { chan } = channel();
  assert.equal(chan.joined, false);
  assert.equal(chan.wantsJoin, true, 'a new channel is to be joined');
  chan.joinSent();
  assert.equal(chan.wantsJoin, false, 'not twice while the JOIN is on its way');
  chan.joinUnanswered();
  assert.equal(chan.wantsJoin, true, 'a JOIN the server never answered does not stop the next try');
  chan.joinSent();
  chan.joinedNow();
  assert.equal(chan.joined, true);
  assert.equal(chan.joining, false);
  assert.equal(chan.wantsJoin, false);
  assert.equal(chan.trouble, undefined);
  chan.joinUnanswered();
  assert.equal(chan.joined, true, 'a late timer for the answered JOIN changes nothing');
});

test('kick: out, with the reason shown, and no rejoin before rejoinAfterKick; the rejoin clears the problem', () => {
  const { chan, clock } = channel();
  chan.joinedNow();
  const why = chan.kicked('op', 'spam', 10_000);
  assert.equal(why, 'kicked from #commons by op (spam); rejoining in 10s');
  assert.equal(chan.joined, false);
  assert.equal(chan.trouble, why, 'the status says why we are out');
  assert.equal(chan.wantsJoin, false, 'not at once');
  clock.now += 9_999;
  assert.equal(chan.wantsJoin, false);
  clock.now += 1;
  assert.equal(chan.wantsJoin, true, 'after rejoinAfterKick');
  assert.equal(chan.kicked('op', '', 10_000), 'kicked from #commons by op; rejoining in 10s', 'no empty reason');
  chan.joinSent();
  chan.joinedNow();
  assert.equal(chan.joined, true);
  assert.equal(chan.trouble, undefined, 'rejoined: the kick is no longer shown');
});

test('part: out, rejoined at once', () => {
  const { chan } = channel();
  chan.joinedNow();
  assert.equal(chan.parted(), 'left #commons; rejoining');
  assert.equal(chan.joined, false);
  assert.equal(chan.wantsJoin, true);
});

test('a refused JOIN: a ban is said as such and tried again only every rejoinAfterFail; other refusals name the error', () => {
  const { chan, clock } = channel();
  chan.joinSent();
  const why = chan.joinRefused('banned_from_channel', 'Cannot join channel (+b)', 60_000);
  assert.equal(why, 'banned from #commons (Cannot join channel (+b)); trying again every 60s');
  assert.equal(chan.trouble, why);
  assert.equal(chan.joining, false);
  assert.equal(chan.wantsJoin, false);
  clock.now += 60_000;
  assert.equal(chan.wantsJoin, true);
  assert.equal(
    chan.joinRefused('bad_channel_key', undefined, 60_000),
    'cannot join #commons: bad channel key; trying again every 60s',
  );
});

test('a lost connection: not in the channel, no JOIN on its way, but the wait after a kick still holds', () => {
  const { chan, clock } = channel();
  chan.joinedNow();
  chan.addMember('alice');
  chan.disconnected();
  assert.equal(chan.joined, false);
  assert.equal(chan.wantsJoin, true);
  assert.equal(chan.hasMember('alice'), false, 'nobody known on the next connection until NAMES');
  chan.joinSent();
  chan.disconnected();
  assert.equal(chan.wantsJoin, true, 'a JOIN of the old connection is not waited for');
  chan.joinedNow();
  chan.kicked('op', undefined, 10_000);
  chan.disconnected();
  assert.equal(chan.wantsJoin, false, 'a reconnect does not cut the wait short');
  clock.now += 10_000;
  assert.equal(chan.wantsJoin, true);
});

test('members: NAMES, joins, parts and kicks; nobody is recorded while we are out of the channel', () => {
  const { chan } = channel();
  chan.addMember('early');
  assert.equal(chan.hasMember('early'), false, 'a join seen before ours is not recorded');
  chan.joinedNow();
  chan.names(['alice', 'bob']);
  chan.addMember('carol');
  assert.deepEqual(chan.memberList().sort(), ['alice', 'bob', 'carol']);
  assert.equal(chan.removeMember('bob'), true, 'bob parted');
  assert.equal(chan.removeMember('bob'), false, 'not twice');
  assert.equal(chan.removeMember('zed'), false, 'never here');
  chan.kicked('op', undefined, 10_000);
  assert.deepEqual(chan.memberList(), [], 'kicked: we no longer see who is there');
  chan.addMember('dave');
  assert.equal(chan.hasMember('dave'), false);
  chan.joinedNow();
  chan.names(['alice']);
  assert.deepEqual(chan.memberList(), ['alice'], 'rejoined: NAMES tells again');
});

test('members: a quit (or a netsplit: many quits) is placed in the channels the nick is in', () => {
  const a = channel('#a').chan;
  const b = channel('#b').chan;
  for (const c of [a, b]) c.joinedNow();
  a.names(['alice', 'bob', 'carol']);
  b.names(['alice']);
  // What the presence handler does for a QUIT: every channel that had the nick.
  const quit = (nick: string) => [a, b].filter((c) => c.removeMember(nick)).map((c) => c.name);
  assert.deepEqual(quit('alice'), ['#a', '#b']);
  assert.deepEqual(quit('alice'), [], 'gone everywhere');
  // A netsplit: bob and carol quit with the servers' names; each is placed in #a only.
  assert.deepEqual(['bob', 'carol'].map(quit), [['#a'], ['#a']]);
  assert.deepEqual(a.memberList(), []);
});

test('members: a nick change follows the nick in every channel it is in, and only there', () => {
  const a = channel('#a').chan;
  const b = channel('#b').chan;
  for (const c of [a, b]) c.joinedNow();
  a.names(['alice', 'bob']);
  b.names(['alice']);
  assert.equal(a.renameMember('alice', 'alicia'), true);
  assert.equal(b.renameMember('alice', 'alicia'), true);
  assert.equal(b.renameMember('bob', 'robert'), false, 'bob is not in #b');
  assert.equal(a.renameMember('bob', 'robert'), true);
  assert.deepEqual(a.memberList().sort(), ['alicia', 'robert']);
  assert.deepEqual(b.memberList(), ['alicia']);
  assert.equal(a.removeMember('alice'), false, 'the old nick is gone');
});

test('our lines: a refusal is shown until a line gets through; 442 means we are not in it after all', () => {
  const { chan } = channel();
  chan.joinedNow();
  const why = 'the server refused a line in #commons (404 Cannot send to channel)';
  assert.equal(chan.linesRefused(why, false), true, 'news');
  assert.equal(chan.linesRefused(why, false), false, 'the same refusal again is not news');
  assert.equal(chan.joined, true, '404: still in the channel');
  assert.equal(chan.trouble, why);
  assert.equal(chan.linesTaken(), true, 'a line got through: the refusal is lifted');
  assert.equal(chan.linesTaken(), false);
  assert.equal(chan.trouble, undefined);
  chan.linesRefused('the server refused a line in #commons (442 not on the channel)', true);
  assert.equal(chan.joined, false, '442: joined again');
  assert.equal(chan.wantsJoin, true);
});

test('memory: the channel remembers what it shows, for relays.remember', () => {
  const { chan, clock } = channel();
  const post = { id: 'a@x', author: 'alice', text: 'hello there', origin: 'nntp.local/peerpost.commons' };
  assert.equal(chan.shows(post), undefined);
  chan.said(post);
  assert.match(chan.shows(post)!, /already said here/);
  chan.relayed('otherbot', '<bob> the meeting is at noon', 'b@y');
  assert.match(chan.shows({ ...post, id: 'b@y' })!, /by otherbot \(same post id\)/);
  clock.now += 60_001;
  assert.equal(chan.shows(post), undefined, 'forgotten after the window');
  chan.setRemember(0);
  chan.said(post);
  assert.equal(chan.shows(post), undefined, 'remember: 0 turns it off');
});
