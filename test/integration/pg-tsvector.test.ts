/**
 * The search vectors the store writes on PostgreSQL as tsvector text (src/store/pg/tsvector.ts) against what
 * PostgreSQL's own to_tsvector('simple', …) makes of the same words, on a real PostgreSQL 15: positions, weights, a
 * word too long to hold, positions past the highest, a word said more often than a vector keeps. And a search on
 * the store finds what it found before: words with characters a parser might split at, a phrase, a prefix.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pgClient from 'pg';
import { Store } from '../../src/store.js';
import { PgDatabase } from '../../src/store/pg/database.js';
import { tsvectorText, type Weight } from '../../src/store/pg/tsvector.js';
import { termWords } from '../../src/archive/marks.js';
import { parseQuery } from '../../src/archive/query.js';
import { searchArchive } from '../../src/archive/search.js';
import { scenarioPost } from '../helpers/store-scenarios.js';
import { startPostgres, type PgPeer } from '../helpers/pg.js';

let pg: PgPeer;
let client: pgClient.Client;
before(async () => {
  pg = await startPostgres('tsvector');
  client = new pgClient.Client(pg.url);
  await client.connect();
});
after(async () => {
  await client?.end();
  await pg?.destroy();
});

const TEXTS: [string, string][] = [
  ['plain', 'The quick brown fox jumps over the lazy dog; the dog sleeps.'],
  ['empty', ''],
  ['punctuation only', '... --- !!!'],
  ['letters of many scripts, digits, marks', 'x² abc123 1e5 Ⅻ ½ 中文 Привет naïve Ünïcödé 2026-12-07 café'],
  ['quotes and backslashes around words', "it's a \\path\\ and 'quoted' \"words\""],
  ['a word of 2,046 bytes and one of 2,047', `a ${'x'.repeat(2046)} b ${'y'.repeat(2047)} c`],
  ['multi-byte words at the limit', `a ${'é'.repeat(1023)} b ${'é'.repeat(1024)} c`],
  ['one word 300 times', Array.from({ length: 300 }, () => 'again').join(' ') + ' end'],
  ['past the highest position', Array.from({ length: 16_400 }, (_, i) => `w${i % 7000}`).join(' ')],
  ['a long body', Array.from({ length: 40_000 }, (_, i) => `word${i % 997}`).join(' ')],
];

test('each text as tsvector text is what to_tsvector makes of its words, for every weight', async () => {
  for (const [name, text] of TEXTS)
    for (const w of ['A', 'B', 'D'] as Weight[]) {
      const r = await client.query(
        `SELECT CAST($1 AS tsvector)::text AS ours, setweight(to_tsvector('simple', $2), $3)::text AS theirs`,
        [tsvectorText(text, w), termWords(text).join(' '), w],
      );
      assert.equal(r.rows[0].ours, r.rows[0].theirs, `${name}, weight ${w}`);
    }
});

test('a post is found on PostgreSQL by its words, a phrase and a prefix, and a query word too long is refused', () => {
  const store = Store.postgres(new PgDatabase(pg.url), pg.url);
  try {
    const now = Date.now();
    store.insertPost(
      scenarioPost('found@ts', { bridge: 'ts', subject: 'Café at noon', body: 'bring x² and ½ a naïve Привет plan' }),
      now,
    );
    store.insertPost(scenarioPost('other@ts', { bridge: 'ts', body: 'plan nothing' }), now);
    const ids = (q: string) => searchArchive(store.db, `${q} bridge:ts`, { limit: 10 }).hits.map((h) => h.post.id);
    assert.deepEqual(ids('x²'), ['found@ts']);
    assert.deepEqual(ids('½'), ['found@ts']);
    assert.deepEqual(ids('привет'), ['found@ts']);
    assert.deepEqual(ids('naive'), ['found@ts']);
    assert.deepEqual(ids('"naive privet"'), []);
    assert.deepEqual(ids('"naïve Привет plan"'), ['found@ts']);
    assert.deepEqual(ids('subject:cafe'), ['found@ts']);
    assert.deepEqual(ids('nai*'), ['found@ts']);
    assert.deepEqual(ids('plan').sort(), ['found@ts', 'other@ts']);
    assert.throws(() => parseQuery(`${'z'.repeat(2047)}`), /a word of more than 2046 bytes/);
  } finally {
    store.close();
  }
});
