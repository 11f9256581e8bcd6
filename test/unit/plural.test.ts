/**
 * A count and its noun, from the one helper (src/util.ts, exported to plugins by src/plugin.ts), and the
 * texts people read that once said "1 lines", "1 hours", "2 post".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plural } from '../../src/util.js';
import { plural as forPlugins } from '../../src/plugin.js';
import { confirmRequest, heldExpiredForSender, heldExpiredNotice } from '../../plugins/mail/texts.js';
import { renderPlan } from '../../plugins/finger/render.js';
import { archivePage, indexPage } from '../../plugins/web/html.js';
import { moreText } from '../../plugins/irc/text.js';
import { LIVE_JS } from '../../plugins/web/assets.js';

test('plural: one, many, zero, and nouns that do not take an s', () => {
  assert.equal(plural(1, 'line'), '1 line');
  assert.equal(plural(2, 'line'), '2 lines');
  assert.equal(plural(0, 'line'), '0 lines');
  assert.equal(plural(1, 'try', 'tries'), '1 try');
  assert.equal(plural(3, 'try', 'tries'), '3 tries');
  assert.equal(plural(1, 'more line', 'more lines'), '1 more line');
  assert.equal(forPlugins, plural, 'plugins use the same helper');
});

test('robot mail counts hours and days in the singular when there is one', () => {
  const l = { name: 'commons', domain: 'lists.example.org', description: '' };
  assert.match(confirmRequest(l, 'subscribe', 'a@example.org', 'tok', 3_600_000).text, /expires in 1 hour\./);
  assert.match(confirmRequest(l, 'subscribe', 'a@example.org', 'tok', 7_200_000).text, /expires in 2 hours\./);
  assert.match(confirmRequest(l, 'subscribe', 'a@example.org', 'tok', 86_400_000).text, /expires in 1 day\./);
  assert.match(heldExpiredNotice(l, 7, 'b@example.org', 'hi', 1).text, /waited 1 day without a decision/);
  assert.match(heldExpiredForSender(l, 'hi', 1).text, /waited 1 day for an owner's approval/);
  assert.match(heldExpiredForSender(l, 'hi', 3).text, /waited 3 days for an owner's approval/);
});

test('a finger plan and the IRC "more" line say "1 more line" and "1 post"', () => {
  const plan = renderPlan({
    name: 'commons',
    bridge: 'commons',
    hostname: 'lists.example.org',
    description: '',
    join: [],
    posts: [
      { date: '2026-11-27T14:02:09.000Z', author: { name: 'bob', via: 'cli' }, body: 'one\ntwo', kind: 'message' },
    ],
    total: 1,
    verbose: true,
    charset: 'ascii',
  });
  assert.match(plan, /^1 post, newest first/m);
  assert.match(plan, /\(1 more line\)/);
  assert.equal(moreText(1), '1 more line');
  assert.equal(moreText(2, 'https://x/p'), '2 more lines: https://x/p');
});

test('web pages: "1 post", and the live counter changes the noun when the second post arrives', () => {
  const links = { archive: (n: string) => `/b/${n}`, post: (id: string) => `/p/${id}` };
  const index = indexPage(
    'peerpost',
    [{ name: 'commons', bridge: 'commons', description: '', posts: 1, endpoints: [] }],
    links,
  );
  assert.match(index, /<p class="count">1 post<\/p>/);
  const archive = archivePage(
    { site: 'peerpost', name: 'commons', description: '', posts: [], total: 1, join: [] },
    links,
  );
  assert.match(archive, /<span id="total">1<\/span> <span id="total-noun">post<\/span>/);
  // The page's script keeps the noun in step with the count it raises.
  assert.match(LIVE_JS, /getElementById\('total-noun'\)/);
});

test('large counts are grouped by thousands, as elsewhere in what peerpost says', () => {
  assert.equal(plural(12000, 'post'), '12,000 posts');
  assert.equal(plural(1000, 'line'), '1,000 lines');
});
