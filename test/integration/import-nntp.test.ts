/**
 * `peerpost import --nntp`: a newsgroup of a real INN (test/peers/inn2.sh), fed with Python's nntplib, read into a
 * bridge with its Message-IDs and threads; run again, nothing is fetched twice (OVER gives the ids the archive
 * holds) and nothing is added.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { cli } from '../helpers/daemon.js';
import { commonsWorld } from '../helpers/commons-world.js';
import { ensureInn, nntplib, startInn, type OpResult } from './nntp-helpers.js';

const GROUP = 'peerpost.archive';
before(() => ensureInn());

const article = (headers: Record<string, string>, body: string) =>
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('') +
  '\r\n' +
  body;

test('a newsgroup of INN is imported with its Message-IDs and thread; a second import adds nothing', async (t) => {
  const inn = await startInn([GROUP]);
  t.after(() => inn.stop());
  const stamp = Date.now();
  const ids = [0, 1, 2].map((i) => `<a${i}.${stamp}@reader.example>`);
  const results: OpResult[] = await nntplib(
    inn.port,
    ids.map((id, i) => [
      'post',
      article(
        {
          From: `Reader ${i} <r${i}@reader.example>`,
          Newsgroups: GROUP,
          Subject: i ? 'Re: old news' : 'old news',
          'Message-ID': id,
          ...(i ? { References: ids[0]! } : {}),
        },
        `article ${i}\r\n`,
      ),
    ]),
  );
  for (const r of results) assert.ok(r.ok, `nntplib: ${r.error}`);

  const w = await commonsWorld(t);
  const url = `news://127.0.0.1:${inn.port}/${GROUP}`;
  const r = await cli(['import', '-c', w.config, '-b', 'commons', '--json', '--nntp', url]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).imported, 3, r.stdout);
  const db = new Database(join(w.data, 'peerpost.db'), { readonly: true });
  const rows = db.prepare('SELECT id, thread, data FROM posts ORDER BY seq').all() as {
    id: string;
    thread: string;
    data: string;
  }[];
  db.close();
  assert.deepEqual(
    rows.map((p) => `<${p.id}>`),
    ids,
  );
  assert.ok(rows.every((p) => `<${p.thread}>` === ids[0]));
  assert.equal(JSON.parse(rows[1]!.data).author.via, 'nntp');

  const again = await cli(['import', '-c', w.config, '-b', 'commons', '--json', '--nntp', url]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual([JSON.parse(again.stdout).imported, JSON.parse(again.stdout).duplicate], [0, 3]);

  const none = await cli(['import', '-c', w.config, '-b', 'commons', '--nntp', `news://127.0.0.1:${inn.port}/no.such`]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no such group/);
});
