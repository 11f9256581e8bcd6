/**
 * Members' settings, digests and templates of the mail plugin (issue 16): the words of `set`, the fan-out's
 * recipients, a digest closing once and numbered, the RFC 1153 and MIME layouts, and list templates.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Post } from '../../src/plugin.js';
import { ListStore } from '../../plugins/mail/subscribe.js';
import { MemberStore, applyChange, parseSetWords, DEFAULT_SETTINGS } from '../../plugins/mail/members.js';
import { Digests, nextHour, type DigestOptions } from '../../plugins/mail/digest.js';
import { endpoint } from '../../plugins/mail/schema.js';
import { plainBody, renderDigest, tableOfContents, digestMessageId } from '../../plugins/mail/digest-render.js';
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';
import {
  fill,
  fillMail,
  templateProblem,
  loadTemplates,
  DEFAULT_TEMPLATES,
  TEMPLATE_NAMES,
} from '../../plugins/mail/templates.js';
import { memoryPluginStore } from '../helpers/memory-store.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 5, 12, 0);

const post = (n: number, over: Partial<Post> = {}): Post => ({
  id: `p${n}@node.example`,
  bridge: 'commons',
  origin: { account: 'mail.lists', target: 'commons' },
  author: { name: `Author ${n}`, address: `a${n}@example.org`, via: 'mail' },
  subject: `Post number ${n}`,
  body: `Body of post ${n}.\nSecond line.`,
  kind: 'message',
  references: [],
  hops: 0,
  date: new Date(NOW - (10 - n) * 60_000).toISOString(),
  attachments: [],
  ...over,
});

describe('the words of set', () => {
  test('each form the issue names parses to its change', () => {
    assert.deepEqual(parseSetWords(['digest']), { mode: 'digest' });
    assert.deepEqual(parseSetWords(['digest', 'plain']), { mode: 'digest', digestFormat: 'plain' });
    assert.deepEqual(parseSetWords(['DIGEST', 'MIME']), { mode: 'digest', digestFormat: 'mime' });
    assert.deepEqual(parseSetWords(['nomail']), { mode: 'nomail', nomailUntil: null });
    assert.deepEqual(parseSetWords(['nomail', 'until', '2027-01-10']), { mode: 'nomail', nomailUntil: '2027-01-10' });
    assert.deepEqual(parseSetWords(['each']), { mode: 'each' });
    assert.deepEqual(parseSetWords(['ownposts', 'off']), { ownPosts: false });
    assert.deepEqual(parseSetWords(['ownposts', 'on']), { ownPosts: true });
  });
  test('wrong words say what to write', () => {
    assert.match((parseSetWords(['nomail', 'until', '2027-02-30']) as { problem: string }).problem, /not a day/);
    assert.match((parseSetWords(['nomail', 'until', '10.1.2027']) as { problem: string }).problem, /YYYY-MM-DD/);
    assert.match((parseSetWords(['digets']) as { problem: string }).problem, /not a setting; write one of/);
    assert.match((parseSetWords(['ownposts']) as { problem: string }).problem, /on or off/);
  });
  test('a nomail day must be to come; each clears it', () => {
    assert.match(
      (applyChange(DEFAULT_SETTINGS, { mode: 'nomail', nomailUntil: '2026-12-05' }, NOW) as { problem: string })
        .problem,
      /not after today/,
    );
    const paused = applyChange(DEFAULT_SETTINGS, { mode: 'nomail', nomailUntil: '2027-01-10' }, NOW);
    assert.deepEqual(paused, { ...DEFAULT_SETTINGS, mode: 'nomail', nomailUntil: '2027-01-10' });
    assert.deepEqual(applyChange(paused as typeof DEFAULT_SETTINGS, { mode: 'each' }, NOW), DEFAULT_SETTINGS);
  });
});

function stores() {
  const ps = memoryPluginStore('mail', 'mail.lists');
  const lists = new ListStore(ps, 'mail.lists');
  const members = new MemberStore(ps, 'mail.lists');
  for (const a of [
    'each@example.org',
    'digest@example.org',
    'plain@example.org',
    'paused@example.org',
    'me@example.org',
  ])
    lists.add('commons', a, '', NOW - DAY);
  members.set('commons', 'digest@example.org', { mode: 'digest' }, NOW);
  members.set('commons', 'plain@example.org', { mode: 'digest', digestFormat: 'plain' }, NOW);
  members.set('commons', 'paused@example.org', { mode: 'nomail', nomailUntil: '2027-01-10' }, NOW);
  members.set('commons', 'me@example.org', { ownPosts: false }, NOW);
  return { ps, lists, members };
}

describe('who gets each post', () => {
  test("digest and nomail members get no single copy; ownposts off: not one's own post", () => {
    const { members } = stores();
    assert.deepEqual(members.eachRecipients('commons', 'other@example.org', NOW), [
      'each@example.org',
      'me@example.org',
    ]);
    assert.deepEqual(members.eachRecipients('commons', 'ME@example.org', NOW), ['each@example.org']);
    assert.deepEqual(members.digestRecipients('commons', 'mime'), ['digest@example.org']);
    assert.deepEqual(members.digestRecipients('commons', 'plain'), ['plain@example.org']);
  });
  test('nomail until a day: from that day (UTC) each post again, and the row says so after wake()', () => {
    const { members } = stores();
    const day = Date.UTC(2027, 0, 10, 0, 0, 1);
    assert.ok(!members.eachRecipients('commons', undefined, day - 2000).includes('paused@example.org'));
    assert.ok(members.eachRecipients('commons', undefined, day).includes('paused@example.org'));
    assert.equal(members.get('commons', 'paused@example.org', day).mode, 'each');
    assert.equal(members.wake(day), 1);
    assert.deepEqual(members.get('commons', 'paused@example.org', NOW), DEFAULT_SETTINGS);
  });
  test("an unsubscribed member's settings go with them (a comeback starts afresh)", () => {
    const { lists, members } = stores();
    lists.remove('commons', 'digest@example.org');
    lists.add('commons', 'digest@example.org');
    assert.deepEqual(members.get('commons', 'digest@example.org'), DEFAULT_SETTINGS);
  });
});

describe('digests', () => {
  function keeper(opts: Partial<DigestOptions> = {}, failFirst = false) {
    const s = stores();
    const posts = new Map<string, Post>();
    const queued: { to: string[]; raw: string }[] = [];
    let fail = failFirst;
    const d = new Digests({
      account: 'mail.lists',
      store: s.ps,
      posts: { get: (id) => (posts.has(id) ? { ...posts.get(id)!, seq: 1, receivedAt: '' } : undefined) },
      members: s.members,
      log: pino({ level: 'silent' }),
      hostname: 'node.example',
      options: () => ({ hour: 6, timezone: 'UTC', maxPosts: 3, maxBytes: 1_000_000, ...opts }),
      words: () => ({
        name: 'commons',
        address: 'commons@lists.example.org',
        description: 'The commons',
        footer: 'FOOT',
      }),
      enqueue: (_l, to, raw) => {
        if (fail) {
          fail = false;
          throw new Error('the disk is full');
        }
        queued.push({ to, raw: raw.toString() });
      },
    });
    const add = (n: number, at = NOW) => {
      const p = post(n);
      posts.set(p.id, p);
      return d.add('commons', p, at);
    };
    return { ...s, d, queued, add, posts };
  }

  test('maxPosts posts close digest 1: one message per form, to its members; a retried post is not added again', () => {
    const k = keeper();
    k.add(1);
    k.add(2);
    k.add(2);
    assert.equal(k.queued.length, 0);
    k.add(3);
    assert.deepEqual(
      k.queued.map((q) => q.to),
      [['digest@example.org'], ['plain@example.org']],
    );
    assert.match(k.queued[0]!.raw, /^Subject: commons Digest, Vol 1, Issue 1\r$/m);
    assert.equal(k.add(3), true);
    assert.equal(k.queued.length, 2, 'a late retry of a post of a closed digest adds nothing');
    assert.equal(k.d.state('commons').open.posts, 0);
    for (const n of [4, 5, 6]) k.add(n);
    assert.match(k.queued[2]!.raw, /Vol 1, Issue 2/);
    assert.deepEqual(
      k.d.state('commons').issues.map((i) => [i.volume, i.issue, i.posts, i.recipients]),
      [
        [1, 1, 3, 2],
        [1, 2, 3, 2],
      ],
    );
  });

  test('the daily hour closes what there is; a new year starts a new volume at issue 1', () => {
    const k = keeper({ maxPosts: 100 });
    k.add(1, NOW);
    k.d.tick(Date.UTC(2026, 11, 6, 5, 59));
    assert.equal(k.queued.length, 0);
    k.d.tick(Date.UTC(2026, 11, 6, 6, 0));
    assert.equal(k.queued.length, 2);
    k.d.tick(Date.UTC(2026, 11, 7, 6, 0));
    assert.equal(k.queued.length, 2, 'no empty digest');
    k.add(2, Date.UTC(2026, 11, 31, 12));
    k.d.tick(Date.UTC(2027, 0, 1, 6));
    assert.match(k.queued[2]!.raw, /Vol 2, Issue 1/);
    assert.equal(nextHour(Date.UTC(2026, 11, 6, 6, 0), 6), Date.UTC(2026, 11, 7, 6, 0));
  });

  test('digest.timezone: an IANA name, else an error naming the key', () => {
    assert.ok(endpoint.safeParse({ digest: { timezone: 'Europe/Berlin' } }).success);
    const bad = endpoint.safeParse({ digest: { hour: 6, timezone: 'Europe/Berlinn' } });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error!.issues[0]!.path, ['digest', 'timezone']);
    assert.match(bad.error!.issues[0]!.message, /not an IANA time zone name/);
  });

  test('digest.timezone: the hour is the wall clock of the zone, across the changes of daylight saving time', () => {
    const berlin = (from: number) => nextHour(from, 6, 'Europe/Berlin');
    // Winter (UTC+1): 06:00 in Berlin is 05:00 UTC.
    assert.equal(berlin(Date.UTC(2027, 2, 26, 12)), Date.UTC(2027, 2, 27, 5));
    // The night clocks go forward (Sunday 28 March 2027, 02:00 → 03:00): 06:00 CEST is 04:00 UTC, 23 hours after.
    assert.equal(berlin(Date.UTC(2027, 2, 27, 5)), Date.UTC(2027, 2, 28, 4));
    assert.equal(berlin(Date.UTC(2027, 2, 28, 4)), Date.UTC(2027, 2, 29, 4));
    // Back in October (Sunday 31 October 2027): 06:00 CET is 05:00 UTC again, 25 hours after.
    assert.equal(berlin(Date.UTC(2027, 9, 30, 4)), Date.UTC(2027, 9, 31, 5));
    // New York, the hour of the change itself (2:00 does not exist on 14 March 2027): the hour after the gap.
    assert.equal(nextHour(Date.UTC(2027, 2, 13, 12), 2, 'America/New_York'), Date.UTC(2027, 2, 14, 7));
    // Without a zone, UTC as before; just before the hour, the same day.
    assert.equal(nextHour(Date.UTC(2027, 2, 28, 5, 59), 6), Date.UTC(2027, 2, 28, 6));
  });

  test('a digest closed but not queued (a failure between) is queued later as the same message', () => {
    const k = keeper({}, true);
    for (const n of [1, 2, 3]) k.add(n);
    assert.equal(k.queued.length, 0);
    assert.equal(k.d.state('commons').issues[0]!.queuedAt, null);
    k.d.flush();
    assert.equal(k.queued.length, 2);
    k.d.flush();
    assert.equal(k.queued.length, 2, 'queued once');
    assert.match(k.queued[0]!.raw, /Message-ID: <commons-digest\.v1\.i1\.mime\.[0-9a-f]{12}@node\.example>/);
  });

  test("leaving digest mode loses nothing: the open digest's posts come to them when it closes (Mailman's last digest)", () => {
    const k = keeper({ maxPosts: 100 });
    const subjects = (raw: string) => [...raw.matchAll(/^Subject: (Post number \d+)\r?$/gm)].map((m) => m[1]);
    k.add(1, NOW);
    k.add(2, NOW + 1000);
    // The mime member goes back to each post; the plain one pauses. Neither is a digest member now.
    assert.equal(
      (k.members.set('commons', 'digest@example.org', { mode: 'each' }, NOW + 2000) as { changed: boolean }).changed,
      true,
    );
    k.members.set('commons', 'plain@example.org', { mode: 'nomail' }, NOW + 2000);
    assert.deepEqual(k.members.digestRecipients('commons', 'mime'), []);
    assert.equal(
      k.add(3, NOW + 3000),
      false,
      'no digest member: a new post is not gathered (each member gets it singly)',
    );
    k.d.tick(Date.UTC(2026, 11, 6, 6, 0));
    assert.deepEqual(
      k.queued.map((q) => q.to),
      [['digest@example.org'], ['plain@example.org']],
      'the digest that was open when they left',
    );
    assert.deepEqual(subjects(k.queued[0]!.raw), ['Post number 1', 'Post number 2']);
    assert.match(k.queued[0]!.raw, /Message-ID: <commons-digest\.v1\.i1\.mime\./);
    assert.match(k.queued[1]!.raw, /Post number 2/);
    // Once: the next digest is not theirs.
    k.members.set('commons', 'each@example.org', { mode: 'digest' }, NOW + 4000);
    k.add(4, NOW + 5000);
    k.d.tick(Date.UTC(2026, 11, 7, 6, 0));
    assert.deepEqual(k.queued[2]!.to, ['each@example.org']);
    assert.equal(k.queued.length, 3);
  });

  test('a post gathered after a member left the digest is not in their last digest (they had it singly)', () => {
    const k = keeper({ maxPosts: 3 });
    k.add(1, NOW);
    k.members.set('commons', 'digest@example.org', { mode: 'each' }, NOW + 1000);
    k.add(2, NOW + 2000); // the plain member still gathers it; digest@ gets it as a message of its own
    k.add(3, NOW + 3000); // full: closes
    const mime = k.queued.filter((q) => /X-Peerpost-Kind: digest mime/.test(q.raw));
    assert.deepEqual(
      mime.map((q) => q.to),
      [['digest@example.org']],
    );
    assert.match(mime[0]!.raw, /Post number 1/);
    assert.doesNotMatch(mime[0]!.raw, /Post number [23]/);
    assert.match(mime[0]!.raw, /Message-ID: <commons-digest\.v1\.i1\.first1\.mime\./, 'a message of its own');
    const plain = k.queued.filter((q) => /X-Peerpost-Kind: digest plain/.test(q.raw));
    assert.deepEqual(
      plain.map((q) => q.to),
      [['plain@example.org']],
    );
    assert.match(plain[0]!.raw, /Post number 3/);
    assert.equal(k.d.state('commons').issues[0]!.recipients, 2);
  });

  test('back in digest mode before it closes: the whole digest, once; unsubscribed: none', () => {
    const k = keeper({ maxPosts: 2 });
    k.add(1, NOW);
    k.members.set('commons', 'digest@example.org', { mode: 'each' }, NOW + 1000);
    k.members.set('commons', 'digest@example.org', { mode: 'digest' }, NOW + 2000);
    k.members.set('commons', 'plain@example.org', { mode: 'each' }, NOW + 2000);
    k.lists.remove('commons', 'plain@example.org');
    k.add(2, NOW + 3000);
    assert.deepEqual(
      k.queued.map((q) => q.to),
      [['digest@example.org']],
    );
    assert.match(k.queued[0]!.raw, /Post number 2/);
  });

  test('no digest members: posts are not gathered', () => {
    const ps = memoryPluginStore('mail', 'mail.lists');
    new ListStore(ps, 'mail.lists').add('commons', 'each@example.org');
    const d = new Digests({
      account: 'mail.lists',
      store: ps,
      posts: { get: () => undefined },
      members: new MemberStore(ps, 'mail.lists'),
      log: pino({ level: 'silent' }),
      hostname: 'h',
      options: () => ({ hour: 6, timezone: 'UTC', maxPosts: 3, maxBytes: 10_000 }),
      words: () => undefined,
      enqueue: () => assert.fail('nothing to queue'),
    });
    assert.equal(d.add('commons', post(1)), false);
  });
});

describe('digest layout', () => {
  const input = (format: 'mime' | 'plain') => ({
    list: { name: 'commons', address: 'commons@lists.example.org', description: 'The commons' },
    volume: 2,
    issue: 7,
    date: new Date(NOW),
    posts: [
      post(1),
      post(2, { body: 'a line\n------------------------------\nafter the fake separator' }),
      post(3, { author: { name: 'bob', via: 'irc' }, subject: undefined, body: 'hello from IRC' }),
    ],
    format,
    footer: 'FOOTER LINE',
    hostname: 'node.example',
    account: 'mail.lists',
  });

  test("RFC 1153: masthead, Today's Topics, 70 hyphens, posts split by 30 hyphens, the end line over asterisks", () => {
    const b = plainBody(input('plain'));
    const lines = b.split('\n');
    assert.match(lines[0]!, /^commons Digest\t.+\tVolume 2 : Issue 7$/);
    const topics = lines.indexOf("Today's Topics:");
    assert.ok(topics > 0);
    assert.deepEqual(lines.slice(topics + 2, topics + 5), [
      '   1. Post number 1 (Author 1)',
      '   2. Post number 2 (Author 2)',
      '   3. hello from IRC (bob)',
    ]);
    assert.equal(lines.filter((l) => l === '-'.repeat(70)).length, 1);
    assert.equal(
      lines.filter((l) => l === '-'.repeat(30)).length,
      4,
      'between 3 posts (2), after the last, after the footer',
    );
    assert.ok(lines.includes(' ------------------------------'), 'a body line like the separator is shifted');
    assert.ok(lines.includes('From: Author 1 <a1@example.org>'));
    assert.ok(lines.includes('From: bob (IRC commons)'));
    assert.ok(lines.includes('Subject: Post number 2'));
    const end = lines.indexOf('End of commons Digest, Vol 2, Issue 7');
    assert.ok(end > 0);
    assert.equal(lines[end + 1], '*'.repeat('End of commons Digest, Vol 2, Issue 7'.length));
    assert.ok(lines.indexOf('FOOTER LINE') < end);
  });

  test('the table of contents numbers from 1 and wraps a long subject', () => {
    const toc = tableOfContents([post(1, { subject: 'x'.repeat(80) })]);
    assert.match(toc[0]!, /^ {3}1\. x{80}\n {9}\(Author 1\)$/);
  });

  test('MIME: multipart/mixed of the contents, a multipart/digest of message/rfc822 parts, the footer; same bytes twice', () => {
    const raw = renderDigest(input('mime')).toString();
    assert.equal(raw, renderDigest(input('mime')).toString());
    assert.match(raw, /^Subject: commons Digest, Vol 2, Issue 7\r$/m);
    assert.match(raw, /^Content-Type: multipart\/mixed;\r\n boundary="/m);
    assert.match(raw, /^Content-Type: multipart\/digest; boundary="/m);
    assert.equal(raw.match(/^Content-Type: message\/rfc822\r$/gm)?.length, 3);
    assert.match(raw, /^Message-ID: <p2@node\.example>\r$/m);
    assert.match(raw, /FOOTER LINE/);
    assert.notEqual(digestMessageId(input('mime')), digestMessageId(input('plain')));
  });
});

describe('templates', () => {
  test('the defaults are valid; an unknown placeholder is refused with its line', () => {
    for (const [name, text] of Object.entries(DEFAULT_TEMPLATES))
      assert.equal(templateProblem(name as keyof typeof DEFAULT_TEMPLATES, text), undefined, name);
    assert.match(templateProblem('footer', 'one\nhi {{nmae}}') ?? '', /^line 2: unknown placeholder \{\{nmae\}\}/);
    assert.match(templateProblem('welcome', 'no subject here') ?? '', /line 1: .*Subject/);
  });
  test('config/templates ships the defaults as files to copy beside a config, word for word', () => {
    const shipped = fileURLToPath(new URL('../../../config/templates', import.meta.url));
    assert.deepEqual(loadTemplates(shipped, '/'), DEFAULT_TEMPLATES);
    assert.deepEqual(
      readdirSync(shipped).sort(),
      TEMPLATE_NAMES.map((n) => `${n}.txt`).sort(),
      'one file for each template, so none is the default by absence',
    );
  });
  test('a line whose placeholders are all empty is left out; a mail template gives its subject', () => {
    assert.equal(fill('a\nlink: {{preferences}}\nb {{list}}', { list: 'commons' }), 'a\nb commons');
    assert.deepEqual(fillMail('Subject: hi {{list}}\n\nbody', { list: 'commons' }), {
      subject: 'hi commons',
      text: 'body',
    });
  });
});
