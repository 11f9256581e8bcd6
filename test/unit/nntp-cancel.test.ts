import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cancelArticle,
  cancelKey,
  cancelLock,
  cancelTarget,
  injectingHost,
  keyOpens,
} from '../../plugins/nntp/cancel.js';
import { peerArticle } from '../../plugins/nntp/peer.js';
import type { Post } from '../../src/plugin.js';

const secret = Buffer.alloc(32, 7);

test('Cancel-Lock (RFC 8315): our key opens our lock, another key or another article does not', () => {
  const key = cancelKey(secret, 'a1@x.example');
  const lock = `sha256:${cancelLock(key)}`;
  assert.ok(keyOpens(`sha256:${key}`, lock));
  assert.ok(keyOpens(`sha1:zzz sha256:${key}`, `sha1:yyy ${lock}`), 'one of several keys, one of several locks');
  assert.ok(!keyOpens(`sha256:${cancelKey(secret, 'other@x.example')}`, lock));
  assert.ok(!keyOpens(`sha256:${cancelKey(Buffer.alloc(32, 8), 'a1@x.example')}`, lock), 'another node’s key');
  assert.ok(!keyOpens('', lock));
});

test('a cancel article names its target in Control and carries the key; Control and Path are read back', () => {
  const key = cancelKey(secret, 'a1@x.example');
  const text = cancelArticle({
    id: 'a1@x.example',
    group: 'local.test',
    hostname: 'pp.example',
    key,
    reason: 'spam\r\nX-Evil: 1',
  });
  const [head, body] = text.split('\r\n\r\n') as [string, string];
  assert.match(head, /^Control: cancel <a1@x\.example>$/m);
  assert.match(head, /^Newsgroups: local\.test$/m);
  assert.match(head, new RegExp(`^Cancel-Key: sha256:${key.replace(/[+/]/g, '\\$&')}$`, 'm'));
  assert.doesNotMatch(head, /X-Evil/, 'the reason cannot add a header');
  assert.match(body, /removed from its archive at pp\.example: spam X-Evil: 1/);
  assert.equal(cancelTarget(' cancel <a1@x.example>'), 'a1@x.example');
  assert.equal(cancelTarget('newgroup foo'), undefined);
  assert.equal(injectingHost(['inn.example', 'peer.example', 'not-for-mail']), 'peer.example');
  assert.equal(injectingHost(['inn.example', 'peer.example']), 'peer.example');
  assert.equal(injectingHost([]), undefined);
  assert.equal(
    injectingHost(['relay.example', 'news.test.local', '.POSTED.localhost', 'not-for-mail']),
    'news.test.local',
  );
});

test('articles sent to a peer carry our Cancel-Lock', () => {
  const post = {
    id: 'a1@x.example',
    bridge: 'b',
    kind: 'message',
    author: { name: 'alice', address: 'alice@example.org', via: 'mail' },
    subject: 'hi',
    body: 'hello',
    references: [],
    hops: 0,
    date: new Date(0).toISOString(),
    attachments: [],
  } as unknown as Post;
  const lock = cancelLock(cancelKey(secret, post.id));
  assert.match(
    peerArticle(post, 'local.test', 'pp.example', undefined, lock),
    new RegExp(`^Cancel-Lock: sha256:${lock.replace(/[+/]/g, '\\$&')}\r$`, 'm'),
  );
});
