/**
 * Members choose how they get the list (issue 16), end to end: the daemon as a user runs it, members writing
 * `set …` to LIST-request@ with Python's smtplib, and aiosmtpd (test/peers/smtp_maildir.py) as the smarthost.
 * A digest member gets no single copy and then exactly one digest holding the posts (digest.maxPosts: 3, so
 * the test needs no day); its structure is read by Python's `email` package. nomail until a day gets nothing;
 * ownposts off gets everything but one's own post. A member who goes back to each post while a digest is open
 * still gets the posts it gathered until then, when it closes (Mailman's "last digest"), and no post twice.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cli, startDaemon, sleep } from '../helpers/daemon.js';
import { mailingLists, header } from './mail-helpers.js';

const D = 'lists.test.example';
const LIST = `commons@${D}`;
const REQUEST = `commons-request@${D}`;

const lists = mailingLists();
const { mailTo, waitMail, send } = lists;
const isPost = (m: string, id: string) => header(m, 'Message-ID')[0] === `<${id}>`;
const isDigest = (m: string) => /^commons Digest, Vol \d+, Issue \d+$/.test(header(m, 'Subject')[0] ?? '');

/** The MIME structure of a message as Python's email package reads it. */
interface Tree {
  type: string;
  subject?: string;
  body?: string;
  parts: Tree[];
}
function pyStructure(raw: string): Tree[] {
  const py = `
import sys, json, email
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
def walk(p):
    out = {'type': p.get_content_type(), 'parts': []}
    if p.get_content_type() == 'message/rfc822':
        inner = p.get_payload()[0]
        out['parts'].append({'type': inner.get_content_type(), 'subject': str(inner['subject']), 'body': inner.get_content()})
    elif p.is_multipart():
        for s in p.iter_parts():
            out['parts'].append(walk(s))
    return out
print(json.dumps([walk(m)]))
`;
  const body = raw.replace(/^X-(MailFrom|RcptTo|Peer):.*\r?\n/gm, '');
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', py], { input: body }).toString()) as Tree[];
}

describe('members choose how they get the list', () => {
  before(async () => {
    await lists.start(
      ({ port, sinkPort }) => `
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${port}
    limits: { messages: 1000 }
    smtp: { host: 127.0.0.1, port: ${sinkPort}, fromRewrite: never }
bridges:
  commons:
    description: The commons
    endpoints:
      - { endpoint: mail.test/commons, policy: open, owners: [owner@example.org], digest: { hour: 6, maxPosts: 3 } }
`,
    );
    await lists.subscribe('commons', [
      'each@example.org',
      'dig@example.org',
      'plain@example.net',
      'pause@example.org',
      'me@example.org',
    ]);
  });
  after(() => lists.stop());

  test('set by mail to LIST-request@: each member is answered with the new settings', async () => {
    await send('dig@example.org', REQUEST, 'set digest', '', 'set.1@example.org');
    await send('plain@example.net', REQUEST, 'hello', 'set digest plain\n', 'set.2@example.org');
    await send('pause@example.org', REQUEST, 'set nomail until 2099-01-10', '', 'set.3@example.org');
    await send('me@example.org', REQUEST, 'set ownposts off', 'show\n', 'set.4@example.org');
    const a = await waitMail('dig@example.org', (m) => /your settings/.test(m), 'the answer to set digest');
    assert.match(a, /set digest: done/);
    assert.match(a, /delivery: {2}digest {5}the list's digest \(daily at 06:00 UTC/);
    assert.deepEqual(header(a, 'Auto-Submitted'), ['auto-generated']);
    assert.match(
      await waitMail('plain@example.net', (m) => /your settings/.test(m), 'set digest plain'),
      /digest: {4}plain/,
    );
    assert.match(
      await waitMail('pause@example.org', (m) => /your settings/.test(m), 'set nomail'),
      /nomail {5}no mail from the list until 2099-01-10/,
    );
    assert.match(
      await waitMail('me@example.org', (m) => /your settings/.test(m), 'set ownposts off'),
      /ownposts: {2}off/,
    );
    // A stranger is told they are not subscribed, and nothing is stored for them.
    await send('stranger@example.org', REQUEST, 'set digest', '', 'set.5@example.org');
    await waitMail('stranger@example.org', (m) => /not subscribed/.test(m), 'the not-subscribed notice');
    // The owner sees the settings, and may set them.
    const l = await cli(['subscribers', 'commons', '-c', lists.w.config]);
    assert.match(l.stdout, /dig@example\.org {2}\[digest mime\]/);
    assert.match(l.stdout, /pause@example\.org {2}\[nomail until 2099-01-10\]/);
    assert.match(l.stdout, /me@example\.org {2}\[ownposts off\]/);
    const s = await cli(['subscribers', 'commons', 'set', 'each@example.org', 'nomail', '-c', lists.w.config]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /changed/);
    const back = await cli(['subscribers', 'commons', 'set', 'each@example.org', 'each', '-c', lists.w.config]);
    assert.match(back.stdout, /delivery: {2}each/);
    const bad = await cli(['subscribers', 'commons', 'set', 'nobody@example.org', 'digest', '-c', lists.w.config]);
    assert.equal(bad.code, 5);
    assert.match(bad.stderr, /not subscribed/);
  });

  test('three posts: single copies by mode; one digest per digest member, with the three posts', async () => {
    const before = lists.sink.messages().length;
    await send('me@example.org', LIST, 'Picnic', 'Bring bread.', 'post.1@example.org');
    await send(
      'each@example.org',
      LIST,
      'Re: Picnic',
      'And cheese.\n------------------------------\nok',
      'post.2@example.org',
    );
    await send('each@example.org', LIST, 'Weather', 'Sunny.', 'post.3@example.org');

    for (const id of ['post.1@example.org', 'post.2@example.org', 'post.3@example.org'])
      await waitMail('each@example.org', (m) => isPost(m, id), `post ${id}`);
    for (const id of ['post.2@example.org', 'post.3@example.org'])
      await waitMail('me@example.org', (m) => isPost(m, id), `post ${id}`);
    const mime = await waitMail('dig@example.org', isDigest, 'the MIME digest');
    const plain = await waitMail('plain@example.net', isDigest, 'the plain digest');
    await sleep(1500);
    const since = (a: string) => mailTo(a).filter((m) => lists.sink.messages().indexOf(m) >= before);

    // ownposts off: me gets the two others, not their own.
    assert.deepEqual(
      since('me@example.org')
        .map((m) => header(m, 'Message-ID')[0])
        .sort(),
      ['<post.2@example.org>', '<post.3@example.org>'],
    );
    // nomail: nothing at all; digest: no single copy, exactly one digest.
    assert.deepEqual(since('pause@example.org'), []);
    assert.deepEqual(since('dig@example.org').length, 1);
    assert.deepEqual(since('plain@example.net').length, 1);
    // The footer of a single post says how to post, leave and change settings.
    const single = mailTo('each@example.org').find((m) => isPost(m, 'post.3@example.org'))!;
    assert.match(single, /commons mailing list -- to post, write to commons@lists\.test\.example/);
    assert.match(single, /Unsubscribe: send any mail to commons-leave@lists\.test\.example/);
    assert.match(single, /Your settings \(digest, no mail, own posts\): write "help" to commons-request@/);

    // The MIME digest: multipart/mixed [contents, multipart/digest of 3 message/rfc822, footer].
    assert.equal(header(mime, 'Subject')[0], 'commons Digest, Vol 1, Issue 1');
    assert.match(header(mime, 'Message-ID')[0]!, /^<commons-digest\.v1\.i1\.mime\.[0-9a-f]+@/);
    const [top] = pyStructure(mime);
    assert.equal(top!.type, 'multipart/mixed');
    assert.deepEqual(
      top!.parts.map((p) => p.type),
      ['text/plain', 'multipart/digest', 'text/plain'],
    );
    const digest = top!.parts[1]!.parts;
    assert.deepEqual(
      digest.map((p) => p.type),
      ['message/rfc822', 'message/rfc822', 'message/rfc822'],
    );
    assert.deepEqual(
      digest.map((p) => p.parts[0]!.subject),
      ['Picnic', 'Re: Picnic', 'Weather'],
    );
    assert.match(digest[1]!.parts[0]!.body ?? '', /And cheese\./);

    // The plain digest (RFC 1153): one text/plain, its table of contents and the posts.
    const [p] = pyStructure(plain);
    assert.equal(p!.type, 'text/plain');
    assert.match(plain, /Today's Topics:\r\n\r\n {3}1\. Picnic \([^)]*\)\r\n {3}2\. Re: Picnic/);
    assert.match(plain, /\r\n ------------------------------\r\nok/, 'a body line like the separator is shifted');
    assert.match(plain, /End of commons Digest, Vol 1, Issue 1\r\n\*+\r\n/);
  });

  test('the digest survives a restart: the next issue is 2, and nothing is sent twice', async () => {
    await lists.daemon.stop();
    lists.daemon = await startDaemon(lists.w.config);
    const before = mailTo('dig@example.org').filter(isDigest).length;
    for (const n of [4, 5, 6]) await send('each@example.org', LIST, `Post ${n}`, `Text ${n}.`, `post.${n}@example.org`);
    const second = await waitMail(
      'dig@example.org',
      (m) => header(m, 'Subject')[0] === 'commons Digest, Vol 1, Issue 2',
      'the second digest',
    );
    assert.match(second, /Post 4/);
    await sleep(1000);
    assert.equal(mailTo('dig@example.org').filter(isDigest).length, before + 1);
  });

  test('back to each post while a digest is open: its posts so far still come, in a last digest, and none twice', async () => {
    const before = mailTo('dig@example.org').length;
    await send('each@example.org', LIST, 'Seven', 'Text 7.', 'post.7@example.org');
    await send('each@example.org', LIST, 'Eight', 'Text 8.', 'post.8@example.org');
    await waitMail('each@example.org', (m) => isPost(m, 'post.8@example.org'), 'post 8');
    // Two posts wait in the open digest (issue 3) when dig@ goes back to each post.
    await send('dig@example.org', REQUEST, 'set each', '', 'set.6@example.org');
    assert.match(
      await waitMail('dig@example.org', (m) => /set each: done/.test(m), 'the answer to set each'),
      /delivery: {2}each/,
    );
    // The third post closes the digest (maxPosts 3) for plain@; dig@ gets it singly.
    await send('each@example.org', LIST, 'Nine', 'Text 9.', 'post.9@example.org');
    await waitMail('dig@example.org', (m) => isPost(m, 'post.9@example.org'), 'post 9, singly');
    const last = await waitMail(
      'dig@example.org',
      (m) => header(m, 'Subject')[0] === 'commons Digest, Vol 1, Issue 3',
      'the last digest',
    );
    const whole = await waitMail(
      'plain@example.net',
      (m) => header(m, 'Subject')[0] === 'commons Digest, Vol 1, Issue 3',
      "plain@'s digest",
    );
    assert.match(whole, /Seven[\s\S]*Eight[\s\S]*Nine/);
    const [top] = pyStructure(last);
    assert.deepEqual(
      top!.parts[1]!.parts.map((p) => p.parts[0]!.subject),
      ['Seven', 'Eight'],
      'the posts gathered while dig@ was a digest member, not the one it had singly',
    );
    await sleep(1000);
    const since = mailTo('dig@example.org').slice(before);
    assert.equal(since.filter(isDigest).length, 1, 'one last digest');
    assert.equal(
      since.filter((m) => /^<post\.[789]@/.test(header(m, 'Message-ID')[0] ?? '')).length,
      1,
      'only post 9 singly',
    );
  });
});
