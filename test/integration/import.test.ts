/**
 * `peerpost import` as a user runs it: an mbox, a Maildir and an MH folder written by Python's `mailbox` module
 * (a real writer nobody here wrote) read into a bridge, with the daemon running: Message-IDs, dates and threads
 * kept, a second import adds nothing, nothing is delivered (the sink endpoint of the bridge gets nothing) unless
 * --deliver.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { requirePeer } from '../peers/require.js';
import { cli, runOnce, startDaemon, world, until, sleep } from '../helpers/daemon.js';
import { commonsWorld } from '../helpers/commons-world.js';

before(() => requirePeer('python3'));

const WRITE = `
import mailbox, email.message, sys
d = sys.argv[1]
def msg(i, prefix):
    m = email.message.EmailMessage()
    m['From'] = f'Poster {i} <p{i}@example.org>'
    m['Subject'] = f'{prefix} topic'
    m['Date'] = f'Mon, 01 Jan 2001 10:{i:02d}:00 +0000'
    if i != 2:
        m['Message-ID'] = f'<{prefix}{i}@example.org>'
    if i:
        m['In-Reply-To'] = f'<{prefix}0@example.org>'
        m['References'] = f'<{prefix}0@example.org>'
    m.set_content(f'text {i} of {prefix}\\nFrom the archive\\n')
    return m
for kind, cls in (('mbox', mailbox.mbox), ('maildir', mailbox.Maildir), ('mh', mailbox.MH)):
    box = cls(f'{d}/{kind}', create=True) if kind != 'mbox' else cls(f'{d}/{kind}')
    for i in range(3):
        box.add(msg(i, kind))
    box.close()
`;

test('an mbox, a Maildir and an MH folder from Python are imported with ids, dates and threads; again adds nothing; not delivered unless --deliver', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  execFileSync('/usr/bin/python3', ['-c', WRITE, w.dir]);
  w.writeConfig(`
accounts:
  sink.a: { file: ${w.sink('a')} }
  web.local: { listen: 127.0.0.1:0 }
bridges:
  commons:
    endpoints: [sink.a/one, web.local/commons]
`);
  await runOnce(w.config);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGTERM'));
  const paths = ['mbox', 'maildir', 'mh'].map((k) => join(w.dir, k));

  const r = await cli(['import', '-c', w.config, '-b', 'commons', '--mboxo', '--json', ...paths]);
  assert.equal(r.code, 0, r.stderr);
  const counts = JSON.parse(r.stdout);
  assert.deepEqual([counts.read, counts.imported, counts.duplicate, counts.unparsable.length], [9, 9, 0, 0]);

  const db = new Database(join(w.data, 'peerpost.db'), { readonly: true });
  const posts = db.prepare('SELECT id, thread, data FROM posts').all() as {
    id: string;
    thread: string;
    data: string;
  }[];
  db.close();
  for (const kind of ['mbox', 'maildir', 'mh']) {
    const mine = posts.filter((p) => JSON.parse(p.data).subject === `${kind} topic`);
    assert.equal(mine.length, 3, kind);
    assert.ok(mine.some((p) => p.id === `${kind}1@example.org`));
    assert.ok(
      mine.some((p) => p.id.endsWith('@import.invalid')),
      `${kind}: the message without Message-ID`,
    );
    assert.ok(
      mine.every((p) => p.thread === `${kind}0@example.org`),
      `${kind}: one thread`,
    );
    assert.deepEqual(mine.map((p) => JSON.parse(p.data).date as string).sort(), [
      '2001-01-01T10:00:00.000Z',
      '2001-01-01T10:01:00.000Z',
      '2001-01-01T10:02:00.000Z',
    ]);
  }
  const s = await cli(['outbox', '-c', w.config, '--json']);
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(JSON.parse(s.stdout).rows, [], 'no delivery waits');
  await sleep(500);
  assert.deepEqual(w.delivered('a'), [], 'nothing imported reached the sink endpoint');

  const again = await cli(['import', '-c', w.config, '-b', 'commons', '--mboxo', '--json', ...paths]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual([JSON.parse(again.stdout).imported, JSON.parse(again.stdout).duplicate], [0, 9]);

  // --deliver: a new mbox goes to the endpoint.
  execFileSync('/usr/bin/python3', [
    '-c',
    `import mailbox, email.message\nb = mailbox.mbox('${join(w.dir, 'more')}')\nm = email.message.EmailMessage()\nm['From'] = 'x@example.org'\nm['Subject'] = 'later'\nm['Message-ID'] = '<later@example.org>'\nm.set_content('delivered')\nb.add(m)\nb.close()`,
  ]);
  const del = await cli(['import', '-c', w.config, '-b', 'commons', '--deliver', join(w.dir, 'more')]);
  assert.equal(del.code, 0, del.stderr);
  const got = await until(() => w.delivered('a').find((x) => x.id === 'later@example.org'), 'the --deliver import');
  assert.equal(got.subject, 'later');
  assert.equal(w.delivered('a').length, 1);
});

test('bad input through peerpost import: a corrupt mbox and a Maildir with a binary file are named, the rest is read, exit 0', async (t) => {
  const w = await commonsWorld(t);
  // A Maildir as Python's mailbox writes it, then an image dropped into cur/ by mistake.
  execFileSync('/usr/bin/python3', [
    '-c',
    `import mailbox, email.message, sys
box = mailbox.Maildir(sys.argv[1] + '/md', create=True)
for i in range(2):
    m = email.message.EmailMessage()
    m['From'] = 'Poster <p@example.org>'
    m['Subject'] = f'maildir {i}'
    m['Message-ID'] = f'<md{i}@example.org>'
    m.set_content('fine')
    box.add(m)
box.close()`,
    w.dir,
  ]);
  writeFileSync(join(w.dir, 'md', 'cur', '1700000002.png:2,S'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]));
  const mbox = join(w.dir, 'bad.mbox');
  writeFileSync(
    mbox,
    Buffer.concat([
      Buffer.from('garbage at the start\n\nFrom x Mon Jan  1 10:00:00 2001\n'),
      Buffer.from([0, 1, 2, 3, 10, 10]),
      Buffer.from('From y Mon Jan  1 10:00:00 2001\nSubject: ok\nMessage-ID: <ok@example.org>\n\nbody\n'),
    ]),
  );
  const r = await cli(['import', '-c', w.config, '-b', 'commons', '--json', mbox, join(w.dir, 'md')]);
  assert.equal(r.code, 0, r.stderr);
  const counts = JSON.parse(r.stdout) as { imported: number; unparsable: { where: string; reason: string }[] };
  assert.equal(counts.imported, 3, 'the three good messages are in');
  assert.equal(counts.unparsable.length, 3, 'the text before the first From line, the binary message, the image');
  assert.equal(counts.unparsable.filter((u) => u.where.includes('bad.mbox')).length, 2);
  assert.ok(counts.unparsable.some((u) => /1700000002\.png/.test(u.where) && /binary/.test(u.reason)));
  assert.equal(w.delivered('a').length, 0, 'nothing is delivered without --deliver');
});
