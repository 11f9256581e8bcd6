/**
 * `peerpost remove --author ADDRESS` as an operator uses it after a spam run: one sender's articles, posted to the
 * built-in news server with Python's nntplib (the address in another case each time), leave the web (410), the
 * API, the bridge's listing and search; the news server answers 430 for each; another sender's post stays; and
 * `peerpost removed` lists every one with the reason.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { world, cli, startDaemon, until } from '../helpers/daemon.js';
import { listeningPort } from '../peers/finger.js';
import { nntplib } from './nntp-helpers.js';
import { requirePeer } from '../peers/require.js';

before(() => requirePeer('python3'));

const article = (from: string, id: string, subject: string, body: string) =>
  `From: ${from}\r\nNewsgroups: peerpost.commons\r\nSubject: ${subject}\r\nMessage-ID: <${id}>\r\n\r\n${body}\r\n`;

test('remove --author: every post of one sender leaves web, API, search and news (430); removed lists them', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  nntp.t: { listen: 127.0.0.1:0 }
  web.t: { listen: 127.0.0.1:0 }
bridges:
  commons:
    endpoints: [nntp.t/peerpost.commons, web.t/commons]
`);
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGKILL'));
  const news = await listeningPort(d.waitForLog, 'nntp.t');
  const web = `http://127.0.0.1:${await listeningPort(d.waitForLog, 'web.t')}`;

  const spam = ['spam1@x.example', 'spam2@x.example', 'spam3@x.example'];
  const posted = await nntplib(news, [
    ['post', article('Spammer <spammer@example.org>', spam[0]!, 'Cheap watches', 'buy watches now')],
    ['post', article('"Spam Bot" <Spammer@Example.ORG>', spam[1]!, 'Cheap pills', 'buy pills now')],
    ['post', article('Gardener <gardener@example.org>', 'good1@x.example', 'Gardening', 'buy seeds now, not watches')],
    ['post', article('spammer@example.org', spam[2]!, 'Re: Gardening', 'watches for gardeners')],
  ]);
  for (const r of posted) assert.ok(r.ok, `nntplib: ${r.error}`);
  const page = (id: string) => `${web}/p/${encodeURIComponent(id)}`;
  const search = async (q: string) =>
    (
      (await (await fetch(`${web}/api/search?q=${encodeURIComponent(q)}`)).json()) as { results: { id: string }[] }
    ).results
      .map((x) => x.id)
      .sort();
  await until(async () => ((await search('buy')).length === 3 ? true : undefined), 'the posts searchable');
  for (const id of spam) assert.equal((await fetch(page(id))).status, 200, `${id} on the web before`);
  assert.deepEqual(await search('watches'), ['good1@x.example', spam[0], spam[2]]);

  const r = await cli(['remove', '-c', w.config, '--author', 'SPAMMER@example.org', '--reason', 'a spam run']);
  assert.equal(r.code, 0, r.stderr);
  for (const id of spam) assert.match(r.stdout, new RegExp(`removed ${id.replace(/\./g, '\\.')} \\(bridge commons\\)`));
  assert.doesNotMatch(r.stdout, /good1/);

  for (const id of spam) {
    const gone = await fetch(page(id));
    assert.equal(gone.status, 410, `${id}: the page answers 410 Gone`);
    assert.match(await gone.text(), /removed from this archive: a spam run/);
    const api = await fetch(`${web}/api/posts/${encodeURIComponent(id)}`);
    assert.equal(api.status, 410, `${id}: the API answers 410`);
  }
  assert.equal((await fetch(page('good1@x.example'))).status, 200, "the other sender's post stays");
  const listing = (await (await fetch(`${web}/api/bridges/commons/posts`)).json()) as { posts: { id: string }[] };
  const ids = listing.posts.map((p) => p.id);
  assert.deepEqual(ids, ['good1@x.example'], 'the API lists only the other post');
  assert.doesNotMatch(await (await fetch(`${web}/b/commons`)).text(), /Cheap|watches for gardeners/);
  assert.deepEqual(await search('watches'), ['good1@x.example'], 'a search finds only the other post');
  assert.deepEqual(await search('author:spammer'), []);

  const after = await nntplib(news, [...spam.map((id) => ['article', `<${id}>`]), ['article', '<good1@x.example>']]);
  for (const [i, id] of spam.entries()) assert.equal(after[i]!.code, '430', `the news server answers 430 for ${id}`);
  assert.ok(after[3]!.ok, 'and serves the other article');

  const listed = await cli(['removed', '-c', w.config]);
  assert.equal(listed.code, 0, listed.stderr);
  for (const id of spam)
    assert.match(listed.stdout, new RegExp(`  ${id.replace(/\./g, '\\.')}  commons  removed by \\S+: a spam run\\n`));
  assert.match(listed.stdout, /^3 posts removed$/m);
  assert.doesNotMatch(listed.stdout, /good1/);
});
