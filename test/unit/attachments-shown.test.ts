/**
 * What the rest of the bridge shows of a mail post's attachments: the shared renderers (src/shape.ts), the
 * web page and API, a news article, and an IRC announcement.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachmentLines, attachmentsSummary, formatSize } from '../../src/digest/shape.js';
import type { Post, StoredPost } from '../../src/plugin.js';
import { attachmentsHtml, postHtml, relLinks } from '../../plugins/web/html.js';
import { fileLink, postJson } from '../../plugins/web/app.js';
import { renderArticle, bodyText } from '../../plugins/nntp/article.js';
import { postLines, type RenderConfig } from '../../plugins/irc/render.js';

const pdf = { filename: 'report.pdf', contentType: 'application/pdf', size: 122_880 };
const photo = { filename: 'photo <1>.jpg', contentType: 'image/jpeg', size: 2_202_009 };
const post: StoredPost = {
  id: 'a/1@lists.example.org',
  seq: 7,
  receivedAt: '2026-11-27T10:00:01.000Z',
  bridge: 'commons',
  origin: { account: 'mail.lists', target: 'commons' },
  author: { name: 'alice', via: 'mail', address: 'alice@example.org' },
  subject: 'The report',
  body: 'Here it is.\n\nAlice\n',
  kind: 'message',
  references: [],
  hops: 0,
  date: '2026-11-27T10:00:00.000Z',
  attachments: [pdf, photo],
};
const kept = (n: number) =>
  n === 0 ? 'https://lists.example.org/files/a%2F1%40lists.example.org/0/report.pdf' : undefined;

test('sizes and the lines an article ends with: name, type, size, and the link where the file is kept', () => {
  assert.deepEqual([0, 1, 1023, 1024, 122_880, 2_202_009].map(formatSize), [
    '0 bytes',
    '1 byte',
    '1023 bytes',
    '1 kB',
    '120 kB',
    '2.1 MB',
  ]);
  assert.deepEqual(attachmentLines(post.attachments, kept), [
    '[attachment: report.pdf, application/pdf, 120 kB] https://lists.example.org/files/a%2F1%40lists.example.org/0/report.pdf',
    '[attachment: photo <1>.jpg, image/jpeg, 2.1 MB]',
  ]);
  assert.deepEqual(
    attachmentLines([{ filename: 'evil\r\nInjected: yes\u202e.txt', contentType: 'text/plain', size: 3 }]),
    ['[attachment: evil Injected: yes .txt, text/plain, 3 bytes]'],
    'no line break or direction override gets through',
  );
  assert.equal(attachmentLines(Array(23).fill(pdf)).at(-1), '[and 3 more attachments]');
  assert.equal(attachmentsSummary([]), '');
  assert.equal(attachmentsSummary([pdf]), '[attachment: report.pdf, application/pdf, 120 kB]');
  assert.equal(
    attachmentsSummary([pdf, photo, pdf, photo]),
    '[4 attachments: report.pdf (120 kB), photo <1>.jpg (2.1 MB), report.pdf (120 kB), …]',
  );
});

test('the web page lists the attachments, escaped, with a download link where the file is kept', () => {
  const html = attachmentsHtml(post.attachments, (n) => (n === 0 ? fileLink(post.id, { n: 0, ...pdf }) : undefined));
  assert.equal(
    html,
    '<ul class="attachments" aria-label="attachments"><li><a href="/files/a%2F1%40lists.example.org/0/report.pdf" download>report.pdf</a> <span class="dir">application/pdf, 120 kB</span></li><li><span class="file">photo &lt;1&gt;.jpg</span> <span class="dir">image/jpeg, 2.1 MB, not kept here</span></li></ul>\n',
  );
  assert.equal(attachmentsHtml([]), '');
  const page = postHtml(post, { ...relLinks, files: () => () => undefined });
  assert.match(page, /<div class="body">Here it is\.\n\nAlice\n<\/div>\n<ul class="attachments"/);
  assert.equal(fileLink('x@y', { n: 2, filename: '../../etc/passwd' }), '/files/x%40y/2/.._.._etc_passwd');
});

test('the API gives each attachment its download url where the file is kept', () => {
  const j = postJson(post, 'commons', (id) => `https://x/p/${id}`, kept) as { attachments: unknown[] };
  assert.deepEqual(j.attachments, [{ ...pdf, url: kept(0) }, photo]);
});

test('a news article ends with its attachments, a blank line after the text', () => {
  const a = renderArticle(post as Post, {
    hostname: 'news.example',
    group: 'peerpost.commons',
    number: 3,
    fileUrl: kept,
  });
  assert.equal(
    bodyText(a),
    [
      'Here it is.',
      '',
      'Alice',
      '',
      '[attachment: report.pdf, application/pdf, 120 kB] https://lists.example.org/files/a%2F1%40lists.example.org/0/report.pdf',
      '[attachment: photo <1>.jpg, image/jpeg, 2.1 MB]',
    ].join('\r\n'),
  );
  const plain = renderArticle({ ...post, attachments: [] } as Post, { hostname: 'n', group: 'g', number: 1 });
  assert.equal(bodyText(plain), 'Here it is.\r\n\r\nAlice\r\n', 'a post without attachments is unchanged');
});

test('an IRC announcement has one short line for the attachments, right under its head', () => {
  const cfg = {
    maxLines: 5,
    antiHighlight: false,
    nickColours: false,
    format: '<{nick}> ',
    eventFormat: '* ',
  } as RenderConfig;
  const lines = postLines(cfg, post as Post, { shape: 'announce', announceLines: 3 }, 400);
  assert.deepEqual(lines, [
    '[commons] alice: The report',
    '[2 attachments: report.pdf (120 kB), photo <1>.jpg (2.1 MB)]',
    'Here it is.',
    'Alice',
  ]);
  const one = postLines(cfg, { ...post, attachments: [pdf] } as Post, { shape: 'announce', announceLines: 3 }, 400);
  assert.equal(one[1], '[attachment: report.pdf, application/pdf, 120 kB]');
  const none = postLines(cfg, { ...post, attachments: [] } as Post, { shape: 'announce', announceLines: 3 }, 400);
  assert.deepEqual(none, ['[commons] alice: The report', 'Here it is.', 'Alice']);
});
