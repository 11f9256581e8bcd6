/**
 * The import's readers (mbox mboxrd and mboxo, Maildir, MH; damaged and binary input named, never fatal) and the
 * stable id of a message without a Message-ID.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMailbox, type MailboxItem } from '../../src/archive/mailbox.js';
import { importItems, newCounts, stableId } from '../../src/archive/import.js';

const dir = () => mkdtempSync(join(tmpdir(), 'pp-import-'));
async function all(path: string, mbox?: 'mboxrd' | 'mboxo'): Promise<MailboxItem[]> {
  const out: MailboxItem[] = [];
  for await (const i of (await openMailbox(path, mbox ? { mbox } : {})).read()) out.push(i);
  return out;
}
const text = (i: MailboxItem) => (i.kind === 'message' ? i.raw.toString('utf8') : `unreadable: ${i.reason}`);

const MBOX = [
  'From alice@example.org Mon Jan  1 10:00:00 2001',
  'From: alice@example.org',
  'Message-ID: <a@example.org>',
  '',
  '>From the start',
  '>>From a quote',
  '',
  'From bob@example.org Mon Jan  1 11:00:00 2001',
  'From: bob@example.org',
  '',
  'second',
  'From here on, not a separator (no empty line before)',
  '',
].join('\n');

test('mboxrd: messages split at From_ lines after an empty line, one ">" taken off every >…From line', async () => {
  const d = dir();
  writeFileSync(join(d, 'a.mbox'), MBOX);
  const items = await all(join(d, 'a.mbox'));
  assert.equal(items.length, 2);
  assert.equal(
    text(items[0]!),
    'From: alice@example.org\nMessage-ID: <a@example.org>\n\nFrom the start\n>From a quote\n',
  );
  assert.match(text(items[1]!), /second\nFrom here on, not a separator/);
  assert.match(items[1]!.where, /a\.mbox at byte \d+/);
});

test('mboxo: only ">From " (one ">") is unquoted', async () => {
  const d = dir();
  writeFileSync(join(d, 'a.mbox'), MBOX);
  const items = await all(join(d, 'a.mbox'), 'mboxo');
  assert.match(text(items[0]!), /\n\nFrom the start\n>>From a quote\n$/);
});

test('a corrupt mbox: text before the first From line and a binary message are named, the rest is read', async () => {
  const d = dir();
  const f = join(d, 'bad.mbox');
  writeFileSync(
    f,
    Buffer.concat([
      Buffer.from('garbage at the start\n\nFrom x Mon Jan  1 10:00:00 2001\n'),
      Buffer.from([0, 1, 2, 3, 10, 10]),
      Buffer.from('From y Mon Jan  1 10:00:00 2001\nSubject: ok\n\nbody\n'),
    ]),
  );
  const items = await all(f);
  assert.deepEqual(
    items.map((i) => i.kind),
    ['unreadable', 'unreadable', 'message'],
  );
  assert.match((items[1] as { reason: string }).reason, /binary/);
});

test('Maildir (cur/ and new/) and MH (numbered files) are known by their shape; a binary file is named', async () => {
  const md = dir();
  mkdirSync(join(md, 'cur'));
  mkdirSync(join(md, 'new'));
  mkdirSync(join(md, 'tmp'));
  writeFileSync(join(md, 'new', '1700000001.x'), 'Subject: new\n\nb\n');
  writeFileSync(join(md, 'cur', '1700000000.y:2,S'), 'Subject: cur\n\na\n');
  writeFileSync(join(md, 'cur', '1700000002.z:2,S'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0]));
  const items = await all(md);
  assert.equal((await openMailbox(md)).format, 'maildir');
  assert.deepEqual(items.map((i) => i.kind).sort(), ['message', 'message', 'unreadable']);
  assert.match(items.find((i) => i.kind === 'unreadable')!.where, /1700000002\.z/);

  const mh = dir();
  writeFileSync(join(mh, '10'), 'Subject: ten\n\n');
  writeFileSync(join(mh, '2'), 'Subject: two\n\n');
  writeFileSync(join(mh, '.mh_sequences'), 'unseen: 2\n');
  assert.equal((await openMailbox(mh)).format, 'mh');
  assert.deepEqual(
    (await all(mh)).map((i) => text(i).split('\n')[0]),
    ['Subject: two', 'Subject: ten'],
  );
  await assert.rejects(openMailbox(dir()), /neither a Maildir/);
});

test('stable id: the same message gives the same id whatever its mailbox added; another message another id', () => {
  const a = Buffer.from('From: a@example.org\nSubject: hi\n\nFrom x\n');
  const b = Buffer.from('Status: RO\r\nFrom: a@example.org\r\nSubject:  hi\r\n\r\n>From x  \r\n\r\n');
  assert.equal(stableId(a), stableId(b));
  assert.match(stableId(a), /^[0-9a-f]{40}@import\.invalid$/);
  assert.notEqual(stableId(a), stableId(Buffer.from('From: a@example.org\nSubject: hi\n\nFrom y\n')));
});

test('importItems: ids kept or made stable, unreadable named, a second run only duplicates', async () => {
  const d = dir();
  writeFileSync(join(d, 'a.mbox'), MBOX);
  const held = new Set<string>();
  const store = async (posts: { id?: string }[]) =>
    posts.map((p) => {
      const dup = held.has(p.id!);
      held.add(p.id!);
      return dup ? { status: 'duplicate' as const, id: p.id! } : { status: 'accepted' as const, id: p.id!, seq: 1 };
    });
  const first = newCounts();
  await importItems((await openMailbox(join(d, 'a.mbox'))).read(), store, first, { via: 'mail' });
  assert.equal(first.imported, 2);
  assert.ok(held.has('a@example.org'));
  const again = newCounts();
  await importItems((await openMailbox(join(d, 'a.mbox'))).read(), store, again, { via: 'mail' });
  assert.deepEqual([again.imported, again.duplicate], [0, 2]);
});
