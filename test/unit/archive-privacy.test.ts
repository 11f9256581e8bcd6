import { test } from 'node:test';
import assert from 'node:assert/strict';
import { publicAddress, publicAuthor, publicPost, publicText } from '../../src/archive/privacy.js';
import type { Post } from '../../src/post.js';

test('an address is shown, blurred or hidden by the policy', () => {
  assert.equal(publicAddress('alice@example.org', 'show'), 'alice@example.org');
  assert.equal(publicAddress('alice@example.org', 'obfuscate'), 'alice@…ample.org');
  assert.equal(publicAddress('bob@x.org', 'obfuscate'), 'bob@….org');
  assert.equal(publicAddress('alice@example.org', 'hide'), undefined);
});

test('addresses inside text are blurred too, the rest of the text kept', () => {
  const body =
    'On Monday, Alice <alice@example.org> wrote:\n> see carol.smith+list@mail.example.co.uk or www.example.org';
  assert.equal(
    publicText(body, 'obfuscate'),
    'On Monday, Alice <alice@…ample.org> wrote:\n> see carol.smith+list@…ail.example.co.uk or www.example.org',
  );
  assert.equal(
    publicText(body, 'hide'),
    'On Monday, Alice <alice@…> wrote:\n> see carol.smith+list@… or www.example.org',
  );
  assert.equal(publicText(body, 'show'), body);
  assert.equal(
    publicText('ping me on irc: alice@home', 'obfuscate'),
    'ping me on irc: alice@home',
    'no domain, no address',
  );
});

test('a post in a public view: author, subject and body', () => {
  const post: Post = {
    id: 'a@x',
    bridge: 'commons',
    origin: { account: 'mail.lists', target: 'commons' },
    author: { name: 'alice@example.org', address: 'alice@example.org', via: 'mail' },
    subject: 'mail me at alice@example.org',
    body: 'or bob@example.net',
    kind: 'message',
    references: [],
    hops: 0,
    date: '2026-12-01T00:00:00.000Z',
    attachments: [],
  };
  const shown = publicPost(post, 'obfuscate');
  assert.deepEqual(shown.author, { name: 'alice@…ample.org', address: 'alice@…ample.org', via: 'mail' });
  assert.equal(shown.subject, 'mail me at alice@…ample.org');
  assert.equal(shown.body, 'or bob@…ample.net');
  assert.deepEqual(publicAuthor(post.author, 'hide'), { name: 'alice@…', via: 'mail' });
  assert.equal(post.author.address, 'alice@example.org', 'the stored post is untouched');
});
