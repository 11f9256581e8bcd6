/**
 * peerpost export read back by a real mbox reader: Python's mailbox module (Debian's /usr/bin/python3) splits the
 * file; the mboxrd rule takes the ">" off again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Store } from '../../src/store.js';
import { writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { world, cli, startDaemon } from '../helpers/daemon.js';
import { listeningPort } from '../peers/finger.js';
import { requirePeer } from '../peers/require.js';

const READ = `
import mailbox, json, re, sys, email.header
out = []
for m in mailbox.mbox(sys.argv[1]):
    body = m.get_payload(decode=True).decode('utf-8')
    out.append({'id': m['Message-ID'], 'from': str(email.header.make_header(email.header.decode_header(m['From']))),
                'date': m['Date'], 'subject': str(email.header.make_header(email.header.decode_header(m['Subject']))),
                'refs': m['References'], 'body': re.sub(r'(?m)^>(>*From )', r'\\1', body)})
print(json.dumps(out))
`;

interface Read {
  id: string;
  from: string;
  date: string;
  subject: string;
  refs: string | null;
  body: string;
}

/** An mbox file as Python's mailbox reads it (mboxrd: one ">" taken off "From " lines). */
const readMbox = (file: string): Read[] =>
  JSON.parse(execFileSync('/usr/bin/python3', ['-c', READ, file], { encoding: 'utf8' })) as Read[];

type Post = Parameters<Store['insertPost']>[0];

/** A post of bridge commons, as the mail or IRC plugin stores it. */
const post = (p: Omit<Post, 'bridge' | 'kind' | 'hops' | 'attachments' | 'references'> & Partial<Post>): Post => ({
  bridge: 'commons',
  kind: 'message',
  hops: 0,
  attachments: [],
  references: [],
  ...p,
});

test('peerpost export: Python reads every message back, with ids, From, Date, Subject, References and "From " lines', async () => {
  requirePeer('python3');
  const w = world();
  try {
    w.writeConfig(
      'accounts:\n  sink.s: { file: ' + w.sink('s') + ' }\nbridges:\n  commons:\n    endpoints: [sink.s/c]\n',
    );
    const s = Store.open(w.data);
    s.insertPost(
      post({
        id: 'root@example.org',
        origin: { account: 'mail.l', target: 'commons' },
        author: { name: 'Alice Exämple', address: 'alice@example.org', via: 'mail' },
        subject: 'Grüße',
        body: 'From the start\n>From quoted\nbye\n',
        date: '2026-01-02T10:00:00.000Z',
      }),
      1,
    );
    s.insertPost(
      post({
        id: 'line@test.example',
        origin: { account: 'irc.l', target: '#commons' },
        author: { name: 'bob', via: 'irc' },
        body: 'agreed',
        inReplyTo: 'root@example.org',
        references: ['root@example.org'],
        date: '2026-01-03T10:00:00.000Z',
      }),
      2,
    );
    s.close();
    const file = join(w.dir, 'commons.mbox.gz');
    const r = await cli(['export', '-c', w.config, '-b', 'commons', '-o', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /exported 2 messages of bridge commons/);
    const plain = join(w.dir, 'commons.mbox');
    execFileSync('sh', ['-c', `gzip -dc '${file}' > '${plain}'`]);
    const got = readMbox(plain);
    assert.equal(got.length, 2);
    assert.equal(got[0].id, '<root@example.org>');
    assert.equal(got[0].from, 'Alice Exämple <alice@example.org>');
    assert.equal(got[0].date, 'Fri, 02 Jan 2026 10:00:00 +0000');
    assert.equal(got[0].subject, 'Grüße');
    assert.equal(got[0].body, 'From the start\n>From quoted\nbye\n');
    assert.equal(got[1].from, 'bob <bob@irc.invalid>');
    assert.equal(got[1].subject, 'Re: Grüße');
    assert.equal(got[1].refs, '<root@example.org>');

    const pub = await cli(['export', '-c', w.config, '-b', 'commons', '--public', '-o', plain]);
    assert.equal(pub.code, 0, pub.stderr);
    const shown = readMbox(plain);
    assert.doesNotMatch(JSON.stringify(shown), /alice@example\.org/);
    const none = await cli(['export', '-c', w.config, '-b', 'nosuch', '-o', plain]);
    assert.equal(none.code, 5);

    // --thread, --since and --until choose what is written; a post of another thread on 5 January joins first.
    const again = Store.open(w.data);
    again.insertPost(
      post({
        id: 'other@example.org',
        origin: { account: 'mail.l', target: 'commons' },
        author: { name: 'Carol', address: 'carol@example.org', via: 'mail' },
        subject: 'Another topic',
        body: 'elsewhere\n',
        date: '2026-01-05T10:00:00.000Z',
      }),
      3,
    );
    again.close();
    const idsOf = async (...opts: string[]) => {
      const out = join(w.dir, 'part.mbox');
      const e = await cli(['export', '-c', w.config, '-b', 'commons', ...opts, '-o', out]);
      assert.equal(e.code, 0, e.stderr);
      return readMbox(out).map((m) => m.id);
    };
    assert.deepEqual(await idsOf(), ['<root@example.org>', '<line@test.example>', '<other@example.org>']);
    assert.deepEqual(await idsOf('--thread', 'line@test.example'), ['<root@example.org>', '<line@test.example>']);
    assert.deepEqual(await idsOf('--since', '2026-01-03'), ['<line@test.example>', '<other@example.org>']);
    assert.deepEqual(await idsOf('--until', '2026-01-03'), ['<root@example.org>', '<line@test.example>']);
    assert.deepEqual(await idsOf('--since', '2026-01-03', '--until', '2026-01-04'), ['<line@test.example>']);
    const unknownThread = await cli(['export', '-c', w.config, '-b', 'commons', '--thread', 'nosuch@x', '-o', plain]);
    assert.equal(unknownThread.code, 5, unknownThread.stderr);
  } finally {
    w.cleanup();
  }
});

test("the web's /b/NAME.mbox.gz: gzip, read by Python's mailbox, no full address under the default policy", async () => {
  requirePeer('python3');
  const w = world();
  w.writeConfig('accounts:\n  web.t: { listen: 127.0.0.1:0 }\nbridges:\n  commons:\n    endpoints: [web.t/commons]\n');
  const s = Store.open(w.data);
  s.insertPost(
    post({
      id: 'root@example.org',
      origin: { account: 'mail.l', target: 'commons' },
      author: { name: 'Alice', address: 'alice@example.org', via: 'mail' },
      subject: 'Hello',
      body: 'From me: write to alice@example.org\n',
      date: '2026-01-02T10:00:00.000Z',
    }),
    1,
  );
  s.close();
  const d = await startDaemon(w.config);
  try {
    const port = await listeningPort(d.waitForLog, 'web.t');
    const r = await fetch(`http://127.0.0.1:${port}/b/commons.mbox.gz`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/gzip');
    assert.match(r.headers.get('content-disposition') ?? '', /filename="commons\.mbox\.gz"/);
    const plain = join(w.dir, 'web.mbox');
    writeFileSync(plain, gunzipSync(Buffer.from(await r.arrayBuffer())));
    const got = readMbox(plain);
    assert.equal(got.length, 1);
    assert.equal(got[0].id, '<root@example.org>');
    assert.equal(got[0].body, 'From me: write to alice@…ample.org\n');
    assert.doesNotMatch(JSON.stringify(got), /alice@example\.org/);
    const t = await fetch(`http://127.0.0.1:${port}/t/root@example.org.mbox.gz`);
    assert.equal(t.status, 200);
    await t.arrayBuffer();
  } finally {
    await d.stop();
    w.cleanup();
  }
});
