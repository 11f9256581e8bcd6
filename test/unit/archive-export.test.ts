/** The archive's export: mboxrd quoting, header encoding, a chat line as a message, since/until and thread filters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Store } from '../../src/store.js';
import type { Post } from '../../src/post.js';
import { quoteFrom, unquoteFrom, mboxrdEntry, readMboxrd, asctime } from '../../src/archive/mboxrd.js';
import { postMessage, messageText, encodeWords, fromHeader } from '../../src/archive/message.js';
import { exportTo, dateBound, type ExportSource } from '../../src/archive/export.js';

const post = (p: Partial<Post> & { id: string }): Post => ({
  bridge: 'commons',
  origin: { account: 'irc.l', target: '#commons' },
  author: { name: 'bob', via: 'irc' },
  body: 'hello',
  kind: 'message',
  references: [],
  hops: 0,
  date: '2026-01-02T10:00:00.000Z',
  attachments: [],
  ...p,
});

test('mboxrd quoting: every ^>*From line gets one more ">", and a reader gets the text back', () => {
  const text = 'From the start\n>From once\n>>From twice\nFrom: not a separator\n From indented\n';
  assert.equal(quoteFrom(text), '>From the start\n>>From once\n>>>From twice\nFrom: not a separator\n From indented\n');
  assert.equal(unquoteFrom(quoteFrom(text)), text);
  const mbox = mboxrdEntry('From MAILER-DAEMON Fri Jan  2 10:00:00 2026', 'A: b\r\n\r\n' + text.replace(/\n/g, '\r\n'));
  assert.deepEqual(readMboxrd(mbox + mboxrdEntry('From x Thu Jan  1 00:00:00 1970', 'B: c\n\nbody')), [
    'A: b\n\n' + text,
    'B: c\n\nbody\n',
  ]);
  assert.equal(asctime(new Date('2026-12-05T03:04:05Z')), 'Sat Dec  5 03:04:05 2026');
});

test('headers: non-ASCII as RFC 2047 encoded words; a public From holds no real address', () => {
  const w = encodeWords('Grüße');
  assert.equal(w, `=?UTF-8?B?${Buffer.from('Grüße').toString('base64')}?=`);
  const p = post({ id: 'a@x', author: { name: 'Alice Exämple', address: 'alice@example.org', via: 'mail' } });
  assert.match(fromHeader(p, 'show'), /^=\?UTF-8\?B\?.+\?= <alice@example\.org>$/);
  const pub = fromHeader(p, 'obfuscate');
  assert.doesNotMatch(pub, /example\.org/);
  assert.match(pub, /<alice@mail\.invalid>$/);
  assert.doesNotMatch(fromHeader(p, 'hide'), /alice@/);
});

test('a chat line as a message: From nick@irc.invalid, Subject, Date, Message-ID, References, the action', () => {
  const m = messageText(
    postMessage(post({ id: 'l@n', kind: 'action', body: 'waves', inReplyTo: 'r@x', references: ['r@x'] }), {
      rootSubject: 'Plans',
    }),
  );
  assert.match(m, /^From: bob <bob@irc\.invalid>\r\n/);
  assert.match(m, /\r\nSubject: Re: Plans\r\n/);
  assert.match(m, /\r\nDate: Fri, 02 Jan 2026 10:00:00 \+0000\r\n/);
  assert.match(m, /\r\nMessage-ID: <l@n>\r\n/);
  assert.match(m, /\r\nReferences: <r@x>\r\n/);
  assert.match(m, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
  assert.match(m, /\r\n\r\n\* bob waves\r\n$/);
  const long = messageText(postMessage(post({ id: 'q@n', body: 'é'.repeat(600) })));
  assert.match(long, /Content-Transfer-Encoding: quoted-printable/);
});

test('since/until and thread filters; events left out', async () => {
  const s = Store.open(':memory:');
  const at = (d: string) => `2026-01-${d}T10:00:00.000Z`;
  s.insertPost(post({ id: 'root@x', subject: 'Plans', date: at('01') }), 1);
  s.insertPost(post({ id: 'r1@x', references: ['root@x'], inReplyTo: 'root@x', date: at('02') }), 2);
  s.insertPost(post({ id: 'other@x', date: at('03') }), 3);
  s.insertPost(post({ id: 'ev@x', kind: 'event', date: at('03') }), 4);
  s.insertPost(post({ id: 'r2@x', references: ['root@x'], date: at('04') }), 5);
  s.insertPost(post({ id: 'elsewhere@x', bridge: 'other', date: at('04') }), 6);
  const src: ExportSource = { page: (f, a, l) => s.archivePage(f, a, l), subject: (id) => s.getPost(id)?.subject };
  const run = async (filter: Parameters<typeof s.archivePage>[0]) => {
    let text = '';
    const sink = new Writable({
      write(c, _e, cb) {
        text += c.toString();
        cb();
      },
    });
    await exportTo(src, { filter, addresses: 'show', pageSize: 2 }, sink);
    return readMboxrd(text).map((m) => /Message-ID: <([^>]+)>/.exec(m)![1]);
  };
  assert.deepEqual(await run({ bridge: 'commons' }), ['root@x', 'r1@x', 'other@x', 'r2@x']);
  assert.deepEqual(await run({ bridge: 'commons', thread: 'r1@x' }), ['root@x', 'r1@x', 'r2@x']);
  assert.deepEqual(
    await run({
      bridge: 'commons',
      since: dateBound('2026-01-02', 'since')!,
      until: dateBound('2026-01-03', 'until')!,
    }),
    ['r1@x', 'other@x'],
  );
  assert.equal(dateBound('2026-02-30', 'since'), undefined);
  s.close();
});
