/**
 * The web pages in a real browser: headless Debian Chromium driven by
 * playwright-core. /b/commons goes live over its WebSocket; posts made with
 * `peerpost post` appear without a reload, in order, replies under their
 * parent; a post that is <script> shows as text and runs nothing. A screenshot
 * of the page is kept in test-artifacts/web-commons.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { world, startDaemon, cliPost } from '../helpers/daemon.js';
import { listeningPort } from '../peers/finger.js';
import { launchChromium } from '../peers/chromium.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

test(
  'a browser sees new posts appear live on /b/commons, and a <script> post as text',
  { timeout: 120_000 },
  async (t) => {
    const w = world();
    t.after(() => w.cleanup());
    writeFileSync(
      w.config,
      `node:\n  hostname: test.example\n  data: ${w.data}\naccounts:\n  web.t: { listen: 127.0.0.1:0, title: Test commons, tokens: [{ name: bot, token: browser-test-token-0123, bridges: [commons] }] }\n  finger.t: { listen: 127.0.0.1:0 }\nbridges:\n  commons:\n    description: The commons discussion\n    endpoints: [web.t/commons, finger.t/commons]\n`,
    );
    const d = await startDaemon(w.config);
    t.after(() => d.stop('SIGKILL'));
    const port = await listeningPort(d.waitForLog, 'web.t');
    const post = (from: string, text: string, subject?: string) => cliPost(w, 'commons', from, text, subject);
    const first = await post('alice', 'Welcome to the commons', 'Welcome');

    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/b/commons`);
    assert.equal(await page.title(), 'commons · Test commons');
    await page.locator('#live:not([hidden])').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#live').textContent(), 'live');
    assert.equal(await page.locator('#total').textContent(), '1');

    // Live: three posts, one a reply to the first, one a script.
    const evil = '<script>document.title="pwned";window.pwned=1</script><img src=x onerror="window.pwned=2">';
    await post('mallory', evil);
    await post('carol', 'third line');
    // A reply (over the API, which takes In-Reply-To) lands under its parent, and its thread moves to the top.
    const r = await fetch(`http://127.0.0.1:${port}/api/bridges/commons/posts`, {
      method: 'POST',
      headers: { authorization: 'Bearer browser-test-token-0123', 'content-type': 'application/json' },
      body: JSON.stringify({
        body: 'Thanks, glad to be here',
        subject: 'Re: Welcome',
        from: 'bob',
        inReplyTo: first,
        references: [first],
      }),
    });
    assert.equal(r.status, 201);
    const bodies = page.locator('#threads article.post .body');
    await page.waitForFunction(() => document.querySelectorAll('#threads article.post').length === 4, undefined, {
      timeout: 10_000,
    });
    const order = ['Welcome to the commons', 'Thanks, glad to be here', 'third line', evil];
    assert.deepEqual(await bodies.allTextContents(), order);
    assert.equal(
      await page.locator(`article.post[data-id="${first}"] > .replies > article.post > .body`).textContent(),
      'Thanks, glad to be here',
    );
    assert.equal(await page.locator('#threads article.post img').count(), 0, 'no element made from a post');
    assert.equal(await page.locator('script').count(), 1, 'only our own script');
    assert.equal(await page.locator('#total').textContent(), '4', 'the count follows');
    assert.equal(await page.title(), 'commons · Test commons');
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    // The permalink of a live post works.
    const href = await page.locator(`article.post[data-id="${first}"] > header a.time`).getAttribute('href');
    assert.equal(href, `/p/${encodeURIComponent(first)}`);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}web-commons.png`, fullPage: true });

    // After a reload the same posts come from the server, escaped the same way.
    await page.reload();
    assert.deepEqual(await bodies.allTextContents(), order);
    assert.equal(await page.locator('#threads article.post img').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);

    // The whole-thread page, reached by the first post's "thread" link: the tree from the first post, the reply
    // indented under it.
    await page.locator(`article.post[data-id="${first}"] > header a.tlink`).click();
    await page.waitForURL(/\/t\//);
    assert.equal(await page.title(), 'Welcome · Test commons');
    const items = page.locator('ol.tree > li');
    assert.equal(await items.count(), 2);
    assert.deepEqual(await page.locator('ol.tree > li .body').allTextContents(), [
      'Welcome to the commons',
      'Thanks, glad to be here',
    ]);
    assert.equal(await items.nth(1).getAttribute('data-depth'), '1');
    const rootBox = (await items.nth(0).boundingBox())!;
    const replyBox = (await items.nth(1).boundingBox())!;
    assert.ok(replyBox.x > rootBox.x, `the reply is indented (${replyBox.x} > ${rootBox.x})`);
    assert.equal(
      await page.locator('link[rel="alternate"][type="application/atom+xml"]').getAttribute('href'),
      `/t/${encodeURIComponent(first)}/atom`,
    );
    await page.screenshot({ path: `${ARTIFACTS}web-thread.png`, fullPage: true });
    assert.deepEqual(problems, [], 'no script errors or CSP violations');
  },
);
