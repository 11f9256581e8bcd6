/**
 * The archive's search on the web, seen by a real browser (headless Debian Chromium): the search box of the index
 * finds a post and marks the matching words; a post's own markup stays text. /api/search answers JSON with a
 * cursor, the public view of addresses, and 400 with a message (never 500) for a query that cannot run; it
 * searches only what public pages show, so a hidden address (its domain) finds nothing there, while the
 * operator's `peerpost search` finds it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { world, cli, startDaemon, cliPost } from '../helpers/daemon.js';
import { listeningPort } from '../peers/finger.js';
import { launchChromium } from '../peers/chromium.js';

test(
  'search: the browser finds a post with highlights; /api/search pages, hides addresses, 400s bad queries',
  { timeout: 120_000 },
  async (t) => {
    const w = world();
    t.after(() => w.cleanup());
    writeFileSync(
      w.config,
      `node:\n  hostname: test.example\n  data: ${w.data}\naccounts:\n  web.t: { listen: 127.0.0.1:0, title: Test commons }\n  finger.t: { listen: 127.0.0.1:0 }\nbridges:\n  commons:\n    endpoints: [web.t/commons, finger.t/commons]\n  garden:\n    endpoints: [web.t/garden]\n`,
    );
    const d = await startDaemon(w.config);
    t.after(() => d.stop('SIGKILL'));
    const port = await listeningPort(d.waitForLog, 'web.t');
    const base = `http://127.0.0.1:${port}`;
    const post = (bridge: string, from: string, text: string, subject?: string) =>
      cliPost(w, bridge, from, text, subject);
    const target = await post(
      'commons',
      'alice',
      'Turn the compost heap on Sunday; write to alice@example.org to help',
      'Compost day',
    );
    await post('commons', 'mallory', '<b>compost</b> <script>window.pwned=1</script> tea');
    await post('garden', 'bob', 'the compost in the garden is ready');
    await post('commons', 'carol', 'nothing to see here');

    // The browser: the box on the index, the results page, the marks.
    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}/`);
    await page.locator('header.site form.search input[name=q]').fill('compost heap');
    await page.locator('header.site form.search button').click();
    await page.waitForURL(/\/search\?q=compost\+heap/);
    const results = page.locator('ol.results li.result');
    assert.equal(await results.count(), 1);
    assert.equal(await results.locator('a.subject').textContent(), 'Compost day');
    assert.deepEqual(await results.locator('.snippet mark').allTextContents(), ['compost', 'heap']);
    assert.equal(await results.locator('a.subject').getAttribute('href'), `/p/${encodeURIComponent(target)}`);
    assert.doesNotMatch(
      (await results.locator('.snippet').textContent())!,
      /alice@example\.org/,
      'the public view hides the address',
    );

    // From a bridge's page the box searches that bridge; a post's markup is text, and its word still marked.
    await page.goto(`${base}/b/commons`);
    await page.locator('header.site form.search input[name=q]').fill('compost');
    await page.locator('header.site form.search button').click();
    await page.waitForURL(/bridge=commons/);
    assert.equal(await results.count(), 2, 'the garden post is not in commons');
    assert.equal(await page.locator('ol.results b, ol.results script').count(), 0);
    assert.match((await page.locator('ol.results').textContent())!, /<b>compost<\/b> <script>/);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    assert.deepEqual(problems, []);

    // A query that cannot run: the page says why, 400.
    const bad = await page.goto(`${base}/search?q=-compost`);
    assert.equal(bad!.status(), 400);
    assert.match((await page.locator('p.problem').textContent())!, /cannot be only -words/);

    // The API: JSON, public addresses, a cursor that walks every result once.
    const api = async (qs: string) => {
      const r = await fetch(`${base}/api/search?${qs}`);
      return {
        status: r.status,
        type: r.headers.get('content-type'),
        body: (await r.json()) as Record<string, unknown>,
      };
    };
    const all = await api('q=compost');
    assert.equal(all.status, 200);
    const hits = all.body.results as {
      id: string;
      bridge: string;
      body: string;
      snippet: string;
      highlight: { snippet: string };
    }[];
    assert.equal(hits.length, 3);
    assert.equal(hits[0]!.id, target, 'the subject weighs most');
    assert.equal(all.body.next, null);
    for (const h of hits) assert.doesNotMatch(JSON.stringify(h), /alice@example\.org/);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const pg = await api(`q=compost&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(pg.status, 200);
      seen.push(...(pg.body.results as { id: string }[]).map((r) => r.id));
      cursor = pg.body.next as string | null;
    } while (cursor);
    assert.deepEqual(
      seen,
      hits.map((h) => h.id),
    );
    const garden = await api('q=compost&bridge=garden');
    assert.deepEqual(
      (garden.body.results as { bridge: string }[]).map((r) => r.bridge),
      ['garden'],
    );
    const dated = await api('q=compost&before=2000-01-01');
    assert.deepEqual(dated.body.results, []);

    // A poster's hidden address, and one in a body: the public search cannot find them; the operator's can.
    const mbox = join(w.dir, 'old.mbox');
    writeFileSync(
      mbox,
      [
        'From MAILER-DAEMON Thu Jan  1 10:00:00 2026',
        'From: Bob Smith <bob@corp.example>',
        'To: commons@test.example',
        'Subject: Budget',
        'Date: Thu, 01 Jan 2026 10:00:00 +0000',
        'Message-ID: <budget@corp.example>',
        '',
        'Please mail carol@secret.example about the budget.',
        '',
      ].join('\n'),
    );
    const imported = await cli(['import', '-c', w.config, '-b', 'commons', mbox]);
    assert.equal(imported.code, 0, imported.stderr);
    const ids = async (q: string) => {
      const r = await api(`q=${encodeURIComponent(q)}`);
      assert.equal(r.status, 200, q);
      return (r.body.results as { id: string }[]).map((x) => x.id);
    };
    for (const q of ['corp', 'author:corp', 'author:bob@corp.example', 'secret', 'example'])
      assert.deepEqual(await ids(q), [], `/api/search?q=${q} finds nothing`);
    assert.deepEqual(await ids('author:bob budget'), ['budget@corp.example']);
    assert.deepEqual(
      await ids('carol budget'),
      ['budget@corp.example'],
      'the local part of an address in a body is shown',
    );
    const gone = await page.goto(`${base}/search?q=corp`);
    assert.equal(gone!.status(), 200);
    assert.equal(await results.count(), 0);
    for (const q of ['corp', 'secret']) {
      const op = await cli(['search', '-c', w.config, '--json', q]);
      assert.equal(op.code, 0, op.stderr);
      assert.deepEqual(
        (JSON.parse(op.stdout) as { results: { id: string }[] }).results.map((r) => r.id),
        ['budget@corp.example'],
        `peerpost search ${q}`,
      );
    }
    const opExample = await cli(['search', '-c', w.config, '--json', 'example']);
    assert.equal((JSON.parse(opExample.stdout) as { results: unknown[] }).results.length, 2);

    for (const q of ['"', '*', 'NEAR(', 'AND OR', '-only', 'x before:2026-02-30', 'a'.repeat(10 * 1024 + 1)]) {
      const r = await api(`q=${encodeURIComponent(q)}`);
      if (r.status === 200) continue; // FTS-looking words are searched as words
      assert.equal(r.status, 400, `q=${q.slice(0, 20)}`);
      assert.match(r.type ?? '', /application\/json/);
      assert.equal(typeof r.body.error, 'string');
    }
    for (const qs of [
      'q=-only',
      'q=x%20before:2026-02-30',
      `q=${'a'.repeat(10 * 1024 + 1)}`,
      'q=compost&cursor=forged',
      'q=compost&bridge=nosuch',
      'q=compost&limit=0',
      'q=',
    ]) {
      const r = await api(qs);
      assert.equal(r.status, 400, qs.slice(0, 40));
      assert.ok((r.body.error as string).length > 10);
    }
  },
);
