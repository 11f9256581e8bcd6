/**
 * The real mail and web plugins in one daemon (no stand-in for either), with the built-in news server:
 * - the one-click unsubscribe link of a list mail (RFC 8058): a damaged or forged link gets a 4xx page that
 *   says nothing changed (it was a 500 while the web expected another answer than the mail plugin gave); the
 *   link as sent asks before it acts on GET and unsubscribes on the POST `List-Unsubscribe=One-Click`;
 * - a mail with an attachment (swaks) reaches the web page with its name, type and size and a download link
 *   that gives the same bytes, and the news article (Python's nntplib) names it with that link.
 * aiosmtpd plays the smarthost (a Maildir); swaks and aiosmtpd are installed when missing and we are root.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { world, cli, startDaemon, until, type World, type Running } from '../helpers/daemon.js';
import { startMaildirSink, freePort, type MaildirSink } from './mail-send-helpers.js';
import { ensureSwaks, swaks, header, messagesTo } from './mail-helpers.js';
import { nntplib } from './nntp-helpers.js';

const D = 'lists.test.example';
/** Where people reach the web (a TLS proxy in front of it): one-click links are https only (RFC 8058). */
const PUBLIC = 'https://lists.test.example';

let sink: MaildirSink;
let w: World;
let daemon: Running;
let smtpPort: number;
let webPort: number;
let newsPort: number;
let base: string;

/** Poll an async check until it gives something. */
async function eventually<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const mailTo = (addr: string) => messagesTo(sink, addr);

/** mail, web and news on one bridge; `keep`: the mail plugin's keepAttachments. */
function writeConfig(keep: string): void {
  w.writeConfig(`
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${smtpPort}
    limits: { messages: 1000 }
    keepAttachments: ${keep}
    smtp: { host: 127.0.0.1, port: ${sink.port}, fromRewrite: never }
  web.local: { listen: 127.0.0.1:${webPort}, publicUrl: "${PUBLIC}" }
  nntp.local: { listen: 127.0.0.1:${newsPort} }
bridges:
  commons:
    endpoints:
      - { endpoint: mail.test/commons, policy: open }
      - web.local/commons
      - nntp.local/peerpost.commons
`);
}

describe('the real mail and web plugins together', () => {
  before(async () => {
    ensureSwaks();
    sink = await startMaildirSink();
    [smtpPort, webPort, newsPort] = [await freePort(), await freePort(), await freePort()];
    base = `http://127.0.0.1:${webPort}`;
    w = world();
    writeConfig('30d');
    daemon = await startDaemon(w.config);
    for (const a of ['alice@example.org', 'bob@example.net']) {
      const r = await cli(['subscribers', 'commons', 'add', a, '-c', w.config]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await daemon?.stop();
    await sink?.stop();
    w?.cleanup();
  });

  const unsubscribe = (path: string, method = 'GET') =>
    fetch(`${base}${path}`, {
      method,
      ...(method === 'POST'
        ? { body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } }
        : {}),
    });

  test('peerpost check finds no missing service: mail, web and news provide what each other uses', async () => {
    const r = await cli(['check', '-c', w.config]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /note: .*which no account provides/);
    // The web alone: it runs, and check says what it lacks without the mail plugin.
    const alone = join(w.dir, 'web-alone.yaml');
    writeFileSync(
      alone,
      `accounts:\n  web.local: { listen: 127.0.0.1:0 }\nbridges:\n  commons: { endpoints: [web.local/commons] }\n`,
    );
    const a = await cli(['check', '-c', alone]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(
      a.stdout,
      /\nnote: web\.local uses 'mail\.unsubscribe', which no account provides: one-click unsubscribe links \(\/unsubscribe\/…\) answer 503, "the mailing lists are not running" \(add a mail account to have it\)\n/,
    );
  });

  // The web is reached here directly (base), as the proxy would pass it on.
  test('one-click unsubscribe: a bad link gets a 4xx page saying nothing changed; the link as sent unsubscribes', async () => {
    const s = await swaks(smtpPort, [
      '--from',
      'alice@example.org',
      '--to',
      `commons@${D}`,
      '--header',
      'Subject: links',
      '--header',
      'Message-Id: <unsub.1@example.org>',
      '--body',
      'hello',
    ]);
    assert.ok(
      s.replies.some((x) => /^250 .*posted/.test(x)),
      s.out,
    );
    const m = await until(
      () => mailTo('bob@example.net').find((x) => header(x, 'Message-ID')[0] === '<unsub.1@example.org>'),
      "bob's copy",
      15_000,
    );
    assert.deepEqual(header(m, 'List-Unsubscribe-Post'), ['List-Unsubscribe=One-Click']);
    const link = /<(https:\/\/lists\.test\.example\/unsubscribe\/[^>]+)>/.exec(header(m, 'List-Unsubscribe')[0] ?? '');
    assert.ok(link, header(m, 'List-Unsubscribe').join(' '));
    const path = new URL(link[1]!).pathname;

    // Forged (another signature), cut short, and made up: each a page for people, never a 500.
    const forged = `${path.slice(0, -4)}AAAA`;
    for (const [bad, method] of [
      [forged, 'POST'],
      [forged, 'GET'],
      [path.slice(0, path.length - 10), 'POST'],
      ['/unsubscribe/not-a-token', 'POST'],
    ] as const) {
      const r = await unsubscribe(bad, method);
      const page = await r.text();
      assert.equal(r.status, 404, `${method} ${bad}: ${page}`);
      assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(
        page,
        /<h1>Unsubscribe<\/h1>\n<p>Nothing was changed: the unsubscribe link is (not valid|malformed)/,
      );
    }
    assert.match((await cli(['subscribers', 'commons', '-c', w.config])).stdout, /bob@example\.net/, 'bob stays');

    // GET asks first (a mail scanner following links changes nothing).
    let r = await unsubscribe(path);
    assert.equal(r.status, 200);
    let page = await r.text();
    assert.match(
      page,
      new RegExp(
        `Stop sending <strong>commons@${D.replace(/\./g, '\\.')}</strong> to <strong>bob@example\\.net</strong>\\?`,
      ),
    );
    assert.match(page, /<form class="confirm" method="post" action="\/unsubscribe\/[^"]+">/);
    assert.match((await cli(['subscribers', 'commons', '-c', w.config])).stdout, /bob@example\.net/);

    // The RFC 8058 POST, as a mail client sends it.
    r = await unsubscribe(path, 'POST');
    page = await r.text();
    assert.equal(r.status, 200, page);
    assert.match(
      page,
      /<strong>bob@example\.net<\/strong> no longer receives <strong>commons@lists\.test\.example<\/strong>/,
    );
    const left = (await cli(['subscribers', 'commons', '-c', w.config])).stdout;
    assert.doesNotMatch(left, /bob@example\.net/);
    assert.match(left, /alice@example\.org/);

    // A second click is harmless and says so.
    r = await unsubscribe(path, 'POST');
    assert.equal(r.status, 200);
    assert.match(await r.text(), /was not subscribed to <strong>commons@lists\.test\.example<\/strong> \(any more\)/);
  });

  test('a mail with an attachment: the web page names it with a download link, and so does the news article', async () => {
    const pdf = randomBytes(123_000);
    const file = join(w.dir, 'report.pdf');
    writeFileSync(file, pdf);
    const id = 'files.1@example.org';
    // A live page's stream hears of the post at once, with the download link already.
    const live = new WebSocket(`ws://127.0.0.1:${webPort}/api/stream?bridge=commons`);
    const heard: { id: string; attachments: unknown[] }[] = [];
    live.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; post?: { id: string; attachments: unknown[] } };
      if (m.type === 'post' && m.post) heard.push(m.post);
    });
    await new Promise((r, j) => live.once('open', r).once('error', j));
    const s = await swaks(smtpPort, [
      '--from',
      'alice@example.org',
      '--to',
      `commons@${D}`,
      '--header',
      'Subject: the report',
      '--header',
      `Message-Id: <${id}>`,
      '--body',
      'The report is attached.',
      '--attach-type',
      'application/pdf',
      '--attach-name',
      'report.pdf',
      '--attach',
      `@${file}`,
    ]);
    assert.ok(
      s.replies.some((x) => /^250 .*posted/.test(x)),
      s.out,
    );

    // The web: the post's page lists the file with its type and size, linked to its download.
    const page = await eventually(async () => {
      const r = await fetch(`${base}/p/${encodeURIComponent(id)}`);
      return r.status === 200 ? r.text() : undefined;
    }, 'the post on the web');
    const href = `/files/${encodeURIComponent(id)}/0/report.pdf`;
    assert.ok(
      page.includes(
        `<ul class="attachments" aria-label="attachments"><li><a href="${href}" download>report.pdf</a> <span class="dir">application/pdf, 120 kB</span></li></ul>`,
      ),
      page,
    );
    const archive = await (await fetch(`${base}/b/commons`)).text();
    assert.ok(archive.includes(`<a href="${href}" download>report.pdf</a>`), 'the archive page lists it too');
    const dl = await fetch(`${base}${href}`);
    assert.equal(dl.status, 200);
    assert.equal(dl.headers.get('content-type'), 'application/pdf');
    assert.match(dl.headers.get('content-disposition') ?? '', /^attachment; filename="report\.pdf"/);
    assert.ok(Buffer.from(await dl.arrayBuffer()).equals(pdf), 'the download is the file as mailed, byte for byte');
    assert.equal((await fetch(`${base}/files/${encodeURIComponent(id)}/1/x`)).status, 404, 'no second file');
    const api = (await (await fetch(`${base}/api/posts/${encodeURIComponent(id)}`)).json()) as {
      attachments: unknown[];
    };
    assert.deepEqual(api.attachments, [
      { filename: 'report.pdf', contentType: 'application/pdf', size: 123_000, url: `${PUBLIC}${href}` },
    ]);

    const streamed = await until(() => heard.find((p) => p.id === id), 'the post on the stream');
    live.close();
    assert.deepEqual(streamed.attachments, api.attachments, 'the stream gives the same links as the API');

    // News: the article ends with the attachment's name, type, size and the same link.
    const [, art] = await eventually(async () => {
      const r = await nntplib(
        newsPort,
        [
          ['group', 'peerpost.commons'],
          ['article', `<${id}>`],
        ],
        true,
      );
      return r[1]?.ok ? r : undefined;
    }, 'the article on the news server');
    const lines = (art!.value as { lines: string[] }).lines;
    const body = lines.slice(lines.indexOf('') + 1);
    assert.equal(body[0], 'The report is attached.');
    assert.equal(body.at(-1), `[attachment: report.pdf, application/pdf, 120 kB] ${PUBLIC}${href}`);

    // Past keepAttachments (a restart with 1s sweeps it at once): named everywhere, linked nowhere, the link says so.
    await new Promise((r) => setTimeout(r, 1100));
    await daemon.stop();
    writeConfig('1s');
    daemon = await startDaemon(w.config);
    const gone = await fetch(`${base}${href}`);
    assert.equal(gone.status, 410);
    assert.match(await gone.text(), /report\.pdf is no longer kept here/);
    const later = await (await fetch(`${base}/p/${encodeURIComponent(id)}`)).text();
    assert.ok(
      later.includes(
        '<li><span class="file">report.pdf</span> <span class="dir">application/pdf, 120 kB, not kept here</span></li>',
      ),
      later,
    );
    const again = await nntplib(newsPort, [['article', `<${id}>`]], true);
    assert.equal(
      (again[0]!.value as { lines: string[] }).lines.at(-1),
      '[attachment: report.pdf, application/pdf, 120 kB]',
    );
  });
});
