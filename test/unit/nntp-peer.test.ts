/**
 * The nntp plugin's peering side without sockets: the two kinds of account
 * block and their errors, our article as a peer server gets it, what a
 * server's answer to POST/IHAVE means for the outbox, and reading a fetched
 * article into a post.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Post } from '../../src/plugin.js';
import { account, isServerConfig } from '../../plugins/nntp/schema.js';
import { peerArticle, postOutcome } from '../../plugins/nntp/peer.js';
import { readArticle } from '../../plugins/nntp/incoming.js';
import { dotStuffBlock } from '../../plugins/nntp/client.js';

const post = (over: Partial<Post> = {}): Post => ({
  id: 'abc@test.example',
  bridge: 'commons',
  origin: { account: 'irc.x', target: '#c' },
  author: { name: 'alice', via: 'irc' },
  body: 'hello',
  kind: 'message',
  references: [],
  hops: 0,
  date: '2026-11-27T06:20:52.000Z',
  attachments: [],
  ...over,
});

const messages = (v: unknown) => {
  const r = account.safeParse(v);
  assert.equal(r.success, false, 'refused');
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('account blocks: listen: is the built-in server, server: a peering account, with defaults', () => {
  const local = account.parse({});
  assert.equal(isServerConfig(local), false);
  assert.deepEqual((local as { listen: unknown }).listen, { host: '127.0.0.1', port: 1119 });
  const peer = account.parse({ server: 'news.example.org' });
  assert.ok(isServerConfig(peer));
  assert.deepEqual(peer.address, { host: 'news.example.org', port: 119 });
  assert.equal(peer.feed, 'post');
  assert.equal(peer.backfill, 0);
  assert.equal(peer.pollInterval, 60_000);
  assert.deepEqual(
    (account.parse({ server: 'news.example.org', tls: true }) as typeof peer).address.port,
    563,
    'nntps port with tls: true',
  );
  assert.deepEqual((account.parse({ server: '[::1]:1119', tls: 'starttls' }) as typeof peer).address, {
    host: '::1',
    port: 1119,
  });
});

test('account blocks: clear errors for mixed kinds, unknown keys and half credentials', () => {
  assert.deepEqual(messages({ listen: 1119, server: 'news.example.org' }), [
    'listen: an nntp account either serves news (listen:) or peers with a news server (server:), not both: make two accounts',
  ]);
  assert.match(
    messages({ listen: 1119, backfill: 5 })[0]!,
    /^backfill: "backfill" is a key of a peering account \(server:\), and this is the built-in server/,
  );
  assert.match(
    messages({ server: 'n.example', users: {} })[0]!,
    /^users: "users" is a key of the built-in server \(listen:\), and this is a peering account/,
  );
  assert.match(messages({ server: 'n.example', bogus: 1 })[0]!, /^bogus: unknown key "bogus" for a peering account/);
  assert.deepEqual(messages({ server: 'n.example', user: 'bob' }), ['password: AUTHINFO needs both user and password']);
  assert.deepEqual(messages({ server: 'n.example', tlsCa: '/etc/ca.pem' }), [
    'tlsCa: tlsCa needs tls: true or tls: starttls',
  ]);
  assert.match(messages({ server: 'n.example', feed: 'uucp' })[0]!, /^feed: /);
  assert.match(messages({ server: 'n.example', pollInterval: 'soon' })[0]!, /^pollInterval: "soon" is not a duration/);
  assert.match(messages({ server: 'n.example:99999' })[0]!, /^server: port 99999 is out of range/);
  assert.match(messages('news.example.org')[0]!, /is a mapping: listen: .* or server: /);
});

test('our article for a peer: Message-ID and References kept, our host in Path, no Xref or Injection-Date, a dotted From', () => {
  const a = peerArticle(
    post({
      subject: 'Re: hi',
      references: ['r1@x.example', 'r2@y.example'],
      inReplyTo: 'r2@y.example',
      body: 'one\n.two',
    }),
    'peerpost.commons',
    'node.example',
  );
  const [head, body] = a.split('\r\n\r\n');
  const h = head!.split('\r\n');
  assert.ok(h.includes('Message-ID: <abc@test.example>'));
  assert.ok(h.includes('References: <r1@x.example> <r2@y.example>'));
  assert.ok(h.includes('Newsgroups: peerpost.commons'));
  assert.ok(h.includes('Path: node.example!not-for-mail'));
  assert.ok(
    h.includes('X-Peerpost-Node: node.example'),
    'names this node: another node reading the group knows it shares the group',
  );
  assert.ok(h.includes('From: alice <alice@node.example.invalid>'), h.join('\n'));
  assert.ok(!h.some((l) => /^(Xref|Injection-Date):/.test(l)), h.join('\n'));
  assert.equal(body, 'one\r\n.two');
  assert.equal(dotStuffBlock(a).endsWith('one\r\n..two\r\n.\r\n'), true, 'dot-stuffed on the wire');
  const withAddress = peerArticle(
    post({ author: { name: 'Bob', address: 'bob@example.org', via: 'mail' } }),
    'g',
    'node.example',
  );
  assert.match(withAddress, /^From: Bob <bob@example\.org>$/m);
});

test('answers to POST and IHAVE: delivered, duplicate, retry later, or failed with the reason', () => {
  const o = (line: string, feed: 'post' | 'ihave' = 'post') =>
    postOutcome({ code: Number(line.slice(0, 3)), line }, feed);
  assert.deepEqual(o('240 Article received <a@b>'), { result: 'delivered' });
  assert.deepEqual(o('441 435 Duplicate'), { result: 'delivered' }, "INN's answer for an id it has");
  assert.deepEqual(o('235 Article transferred OK', 'ihave'), { result: 'delivered' });
  assert.deepEqual(o('435 Duplicate', 'ihave'), { result: 'delivered' });
  assert.deepEqual(o('437 Duplicate article', 'ihave'), { result: 'delivered' });
  assert.deepEqual(o('441 duplicate: <a@b> was posted already'), { result: 'delivered' }, "peerpost's own answer");
  assert.equal(
    o('441 the Path already holds n.example: this article came from here').result,
    'failed',
    'a loop refusal is no duplicate',
  );
  const nogroup = o('441 No valid newsgroups in "peerpost.nope"');
  assert.equal(nogroup.result, 'retry', 'a group that is not there yet: retried slowly');
  assert.equal((nogroup as { delayMs?: number }).delayMs, 300_000);
  const rej = o('441 Address in From header field not in Internet syntax');
  assert.equal(rej.result, 'failed');
  assert.equal((rej as { code: string }).code, 'refused-by-peer', 'a refusal by the server, for programs');
  assert.match((rej as { reason: string }).reason, /POST: the server answered "441 Address in From/);
  assert.equal(o('437 Unwanted newsgroup', 'ihave').result, 'failed');
  assert.equal(o('436 Retry later', 'ihave').result, 'retry');
  assert.equal(o('400 Service temporarily unavailable').result, 'retry');
  assert.match((o('480 Authentication required') as { reason: string }).reason, /set user and password/);
  assert.match((o('440 Posting not permitted') as { reason: string }).reason, /posting is not allowed/);
  assert.match((o('500 What?', 'ihave') as { reason: string }).reason, /does not take IHAVE/);
});

test('a fetched article read into a post: id, author, references, Path and control messages', () => {
  const raw = Buffer.from(
    [
      'Path: news.example!relay.example!not-for-mail',
      'From: "Bob R." <bob@reader.example>',
      'Newsgroups: Peerpost.Commons, alt.test',
      'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=',
      'Message-ID: <m1@reader.example>',
      'References: <r0@x> <r1@y>',
      'Date: Fri, 27 Nov 2026 06:20:52 +0000',
      'X-Peerpost-Bridge: commons (via irc)',
      'X-Peerpost-Node: Two.Example',
      '',
      'hello',
      '.line',
      '',
    ].join('\r\n'),
  );
  const a = readArticle(raw);
  assert.ok(typeof a !== 'string', String(a));
  assert.equal(a.id, 'm1@reader.example');
  assert.deepEqual(a.newsgroups, ['peerpost.commons', 'alt.test']);
  assert.deepEqual(a.path, ['news.example', 'relay.example', 'not-for-mail']);
  assert.equal(a.viaPeerpost, true);
  assert.equal(a.node, 'two.example', 'the node that wrote it, lower-cased');
  const odd = readArticle(
    Buffer.from(raw.toString().replace('X-Peerpost-Node: Two.Example', 'X-Peerpost-Node: two example; rm -rf')),
  );
  assert.ok(typeof odd !== 'string' && odd.node === undefined, 'a node header that is no host name names no node');
  assert.equal(a.control, false);
  assert.deepEqual(a.post.author, { name: 'Bob R.', address: 'bob@reader.example', via: 'nntp' });
  assert.equal(a.post.subject, 'Grüße');
  assert.deepEqual(a.post.references, ['r0@x', 'r1@y']);
  assert.equal(a.post.inReplyTo, 'r1@y');
  assert.equal(a.post.body, 'hello\n.line');
  const ctl = readArticle(
    Buffer.from('From: a@b.example\r\nNewsgroups: g\r\nSubject: cmsg cancel <x@y>\r\nControl: cancel <x@y>\r\n\r\n'),
  );
  assert.ok(typeof ctl !== 'string' && ctl.control);
  assert.equal(readArticle(Buffer.from('Newsgroups: g\r\nSubject: s\r\n\r\nb')), 'the article has no From header');
});
