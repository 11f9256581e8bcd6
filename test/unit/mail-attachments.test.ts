/**
 * Attachments of mail posts passed on to subscribers (issue 4): the files are
 * kept before the post is ingested, settled by the core's verdict, swept when
 * a crash left them without a post or when they are older than keepAttachments;
 * list mail under `pass` carries them as MIME attachments (same bytes), `strip`
 * names them in the text. The store is a real in-memory SQLite; the core's
 * ingest and the sender are fakes that record.
 */
import { test, describe, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { simpleParser } from 'mailparser';
import type { EndpointView, IncomingPost, IngestVerdict, PluginStore } from '../../src/plugin.js';
import { ListStore } from '../../plugins/mail/subscribe.js';
import { ListServer } from '../../plugins/mail/listserv.js';
import { AttachmentStore, ORPHAN_AGE_MS } from '../../plugins/mail/attachments.js';
import { composeListMessage, attachmentPart } from '../../plugins/mail/outbound/headers.js';
import { withinCap } from '../../plugins/mail/outbound/sender.js';
import { post, LIST } from './mail-out-ctx.js';
import { memoryPluginStore } from '../helpers/memory-store.js';

const memoryStore = (): PluginStore => memoryPluginStore('mail', 'mail.lists');

const D = 'lists.example.org';
const PDF = randomBytes(3000);
const PNG = randomBytes(700);

/** A multipart mail with two attachments (base64 of real random bytes). */
function mailWithFiles(
  id: string,
  files: { name: string; type: string; data: Buffer }[] = [
    { name: 'résumé.pdf', type: 'application/pdf', data: PDF },
    { name: 'cat.png', type: 'image/png', data: PNG },
  ],
): Buffer {
  const lines = [
    'From: Alice <alice@example.org>',
    `To: commons@${D}`,
    'Subject: files',
    `Message-ID: <${id}>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'see attached',
  ];
  for (const f of files) {
    lines.push(
      '--b',
      `Content-Type: ${f.type}`,
      `Content-Disposition: attachment; filename*=utf-8''${encodeURIComponent(f.name)}`,
      'Content-Transfer-Encoding: base64',
      '',
      f.data.toString('base64').replace(/.{76}/g, '$&\r\n'),
    );
  }
  lines.push('--b--', '');
  return Buffer.from(lines.join('\r\n'));
}

let files: AttachmentStore;
let ingested: IncomingPost[];
let posts: Set<string>;
let verdict: (p: IncomingPost) => IngestVerdict | Promise<IngestVerdict>;
let endpoints: EndpointView[];
let srv: ListServer;

const ep = (target: string, options: Record<string, unknown> = {}): EndpointView => ({
  key: `mail.lists/${target}`,
  target,
  bridge: 'commons',
  direction: 'inout',
  options,
  description: 'The commons',
});

beforeEach(() => {
  const ps = memoryStore();
  files = new AttachmentStore(ps);
  const lists = new ListStore(ps, 'mail.lists');
  lists.add('commons', 'alice@example.org');
  lists.add('small', 'alice@example.org');
  ingested = [];
  posts = new Set();
  verdict = (p) => {
    posts.add(p.id!);
    return { status: 'accepted', id: p.id!, seq: ingested.length };
  };
  endpoints = [ep('commons'), ep('small', { maxAttachmentBytes: 1000 })];
  srv = new ListServer({
    account: 'mail.lists',
    domain: () => D,
    endpoints: () => endpoints,
    store: lists,
    out: { sendRobot: async () => {}, forward: async () => {} },
    ingest: async (p) => {
      ingested.push(p);
      return verdict(p);
    },
    log: pino({ level: 'silent' }),
    parseBounce: async () => undefined,
    verpDecode: () => undefined,
    settings: () => ({
      expireMs: 86_400_000,
      windowMs: 86_400_000,
      bounces: { threshold: 3, once: 0, resetAfter: 86_400_000 },
    }),
    mintId: () => 'minted@test.example',
    attachments: files,
    postExists: (id) => posts.has(id),
    maxSize: 10 * 1024 * 1024,
  });
});

const send = (to: string, raw: Buffer) =>
  srv.message(raw, { from: 'alice@example.org', to: [to], remote: '127.0.0.1', smtpUtf8: false });

describe('keeping the files of a mail post', () => {
  test('a post taken: its files are kept by Message-ID, byte for byte, and the core sees only their names', async () => {
    const r = await send(`commons@${D}`, mailWithFiles('f1@example.org'));
    assert.equal(r.code, 250, r.message);
    assert.deepEqual(ingested[0]!.attachments, [
      { filename: 'résumé.pdf', contentType: 'application/pdf', size: 3000 },
      { filename: 'cat.png', contentType: 'image/png', size: 700 },
    ]);
    const kept = files.files('f1@example.org');
    assert.deepEqual(
      kept.map((f) => [f.n, f.filename, f.contentType]),
      [
        [0, 'résumé.pdf', 'application/pdf'],
        [1, 'cat.png', 'image/png'],
      ],
    );
    assert.ok(kept[0]!.content.equals(PDF) && kept[1]!.content.equals(PNG));
    // Committed: a sweep long after keeps them.
    assert.deepEqual(
      files.sweep(() => false, 0, Date.now() + 2 * ORPHAN_AGE_MS),
      { orphans: 0, expired: 0 },
    );
    assert.equal(files.files('f1@example.org').length, 2);
  });

  test('the files are in the store before the core is asked (a crash then cannot leave a post without them)', async () => {
    let seen = -1;
    verdict = (p) => {
      seen = files.files(p.id!).length;
      posts.add(p.id!);
      return { status: 'accepted', id: p.id!, seq: 1 };
    };
    await send(`commons@${D}`, mailWithFiles('f2@example.org'));
    assert.equal(seen, 2);
  });

  test('a post the core refuses, defers or ignores leaves no files; nor does an ingest that throws', async () => {
    verdict = () => ({ status: 'rejected', code: 'loop', reason: 'loop' });
    assert.equal((await send(`commons@${D}`, mailWithFiles('r1@example.org'))).code, 550);
    verdict = () => ({ status: 'tempfail', code: 'store-full', reason: 'the disk is full' });
    assert.equal((await send(`commons@${D}`, mailWithFiles('r2@example.org'))).code, 451);
    verdict = () => ({ status: 'ignored', id: 'r3@example.org', reason: 'a filter matched' });
    assert.equal((await send(`commons@${D}`, mailWithFiles('r3@example.org'))).code, 250);
    verdict = () => {
      throw new Error('SQLITE_FULL');
    };
    assert.equal((await send(`commons@${D}`, mailWithFiles('r4@example.org'))).code, 451);
    for (const id of ['r1', 'r2', 'r3', 'r4']) assert.deepEqual(files.files(`${id}@example.org`), [], id);
    assert.deepEqual(files.size(), { files: 0, bytes: 0 });
  });

  test('a resend of the same Message-ID (duplicate) keeps the first files', async () => {
    await send(`commons@${D}`, mailWithFiles('d1@example.org'));
    verdict = (p) => ({ status: 'duplicate', id: p.id! });
    const other = randomBytes(50);
    await send(
      `commons@${D}`,
      mailWithFiles('d1@example.org', [{ name: 'x.bin', type: 'application/octet-stream', data: other }]),
    );
    const kept = files.files('d1@example.org');
    assert.equal(kept.length, 2);
    assert.ok(kept[0]!.content.equals(PDF));
  });

  test('a post removed from the archive takes its kept files with it; other posts keep theirs', async () => {
    await send(`commons@${D}`, mailWithFiles('r1@example.org'));
    await send(`commons@${D}`, mailWithFiles('r2@example.org'));
    assert.equal(files.files('r1@example.org').length, 2);
    assert.equal(files.erase('r1@example.org'), 2);
    assert.deepEqual(files.files('r1@example.org'), []);
    assert.equal(files.file('r1@example.org', 0), undefined, 'no download either');
    assert.equal(files.files('r2@example.org').length, 2);
  });

  test('a list keeps at most maxAttachmentBytes of files a post, in order; the rest only by name', async () => {
    await send(`small@${D}`, mailWithFiles('c1@example.org'));
    assert.deepEqual(
      files.files('c1@example.org').map((f) => [f.n, f.filename]),
      [[1, 'cat.png']],
      'the 3000-byte PDF is over the 1000-byte cap; the 700-byte PNG fits',
    );
    assert.equal(ingested[0]!.attachments!.length, 2, 'both are still listed in the post');
  });

  test('the sweep: files whose post never got committed (a crash) go; those whose post exists stay; old files past keepAttachments go', () => {
    const t0 = 1_000_000_000;
    files.put('orphan@x', [{ n: 0, filename: 'a', contentType: 'text/plain', content: Buffer.from('a') }], t0);
    files.put('saved@x', [{ n: 0, filename: 'b', contentType: 'text/plain', content: Buffer.from('b') }], t0);
    files.put(
      'young@x',
      [{ n: 0, filename: 'c', contentType: 'text/plain', content: Buffer.from('c') }],
      t0 + ORPHAN_AGE_MS,
    );
    const exists = (id: string) => id === 'saved@x';
    assert.deepEqual(
      files.sweep(exists, 0, t0 + ORPHAN_AGE_MS + 1),
      { orphans: 1, expired: 0 },
      'a young uncommitted row may still be committing: left alone',
    );
    assert.deepEqual(files.files('orphan@x'), []);
    assert.equal(files.files('saved@x').length, 1);
    assert.equal(files.files('young@x').length, 1);
    assert.deepEqual(files.sweep(exists, 30 * 86_400_000, t0 + 31 * 86_400_000), { orphans: 1, expired: 1 });
    assert.deepEqual(files.size(), { files: 0, bytes: 0 });
  });
});

describe('list mail with attachments', () => {
  const meta = [
    { filename: 'résumé.pdf', contentType: 'application/pdf', size: 3000 },
    { filename: 'cat.png', contentType: 'image/png', size: 700 },
  ];
  const kept = [
    { n: 0, filename: 'résumé.pdf', contentType: 'application/pdf', content: PDF },
    { n: 1, filename: 'cat.png', contentType: 'image/png', content: PNG },
  ];
  const compose = (policy: 'pass' | 'strip', f = kept) =>
    composeListMessage({
      post: post({ author: { name: 'Alice', address: 'alice@example.org', via: 'mail' }, attachments: meta }),
      list: LIST,
      links: {},
      from: { from: '<alice@example.org>' },
      hostname: 'h',
      attachments: policy,
      files: f,
    })
      .message()
      .toString('utf8');

  test('pass: a multipart/mixed mail, the text first, then each file with its name, type and the same bytes', async () => {
    const raw = compose('pass');
    const m = await simpleParser(raw);
    assert.equal(m.text?.trim(), 'Hello, list.');
    assert.deepEqual(
      m.attachments.map((a) => [a.filename, a.contentType, a.contentDisposition]),
      [
        ['résumé.pdf', 'application/pdf', 'attachment'],
        ['cat.png', 'image/png', 'attachment'],
      ],
    );
    assert.ok(m.attachments[0]!.content.equals(PDF) && m.attachments[1]!.content.equals(PNG));
    assert.doesNotMatch(raw, /not carried/);
    assert.ok(
      raw.split('\r\n').every((l) => l.length <= 998),
      'no line longer than SMTP allows',
    );
  });

  test('pass with some files not at hand: those are named at the end of the text', async () => {
    const m = await simpleParser(compose('pass', [kept[1]!]));
    assert.deepEqual(
      m.attachments.map((a) => a.filename),
      ['cat.png'],
    );
    assert.match(
      m.text!,
      /Other attachments of the original message, not carried by the list:\n\s+résumé\.pdf \(application\/pdf, 3 kB\)/,
    );
    assert.doesNotMatch(m.text!, /cat\.png/);
  });

  test('strip: no files, the text names them as removed', async () => {
    const raw = compose('strip');
    const m = await simpleParser(raw);
    assert.deepEqual(m.attachments, []);
    assert.match(m.text!, /Attachments of the original message, removed by the list:\n\s+résumé\.pdf/);
    assert.match(raw, /^Content-Type: text\/plain; charset=utf-8$/m);
  });

  test('a hostile name or type cannot add headers or structure', async () => {
    const part = attachmentPart({
      n: 0,
      filename: 'a\r\nBcc: x@example.net\r\n.pdf',
      contentType: 'multipart/mixed; boundary=x',
      content: Buffer.from('hi'),
    }).toString();
    assert.doesNotMatch(part, /^Bcc:/m);
    assert.match(part, /^Content-Type: application\/octet-stream;/m);
    const evil = attachmentPart({
      n: 0,
      filename: '../../etc/passwd',
      contentType: 'text/html\r\nX: y',
      content: Buffer.from('hi'),
    }).toString();
    assert.doesNotMatch(evil, /^X:/m);
    assert.doesNotMatch(evil, /\.\.\//);
  });

  test("withinCap: files in order while their total fits the delivering list's cap", () => {
    assert.deepEqual(
      withinCap(kept, 1000).map((f) => f.n),
      [1],
    );
    assert.deepEqual(
      withinCap(kept).map((f) => f.n),
      [0, 1],
    );
    assert.deepEqual(withinCap(kept, 0), []);
  });
});
