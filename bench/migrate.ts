/**
 * `peerpost migrate` (issue 17): a SQLite store of POSTS posts (default 20,000; each with a native id, every tenth
 * with an outbox row waiting, and a plugin table of one row a post: the news server's article numbers) moved into a
 * private PostgreSQL 15 by the CLI, as an operator runs it (`node dist/src/bin.js migrate -c CONFIG --to URL`), each
 * run into an emptied database. Its rows/s (every row written, the search index's rows included) beside the anchor
 * measured in the same run: the same posts rows (without the index) written into the same PostgreSQL with bare async
 * `pg`, 100 rows a statement (as migrate writes them) in one transaction — the ceiling for moving the posts table.
 *
 *   npm run bench -- migrate            (POSTS=20000 ROUNDS=3 by default)
 *   POSTS=20000 ROUNDS=5 node dist/bench/migrate.js
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Store } from '../src/store.js';
import { pluginStoreFor } from '../src/runtime/accounts.js';
import { BIN } from '../test/helpers/daemon.js';
import { openPg, startPostgres } from '../test/helpers/pg.js';
import { median, runWhenMain, type Result } from './lib/result.js';

export const title = 'peerpost migrate: SQLite → PostgreSQL';
const POSTS = Number(process.env.POSTS ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WORDS = 'compost harvest seedling trellis mulch pruning orchard meadow hedge beetle rain frost sun'.split(' ');

export function fill(data: string): void {
  const store = Store.open(data);
  const news = pluginStoreFor(store, 'nntp.t', 'nntp');
  news.migrate([
    `CREATE TABLE nntp_bench_articles (grp TEXT NOT NULL, number INTEGER NOT NULL, post_id TEXT NOT NULL, PRIMARY KEY (grp, number));`,
  ]);
  const art = news.prepare('INSERT INTO nntp_bench_articles (grp, number, post_id) VALUES (?, ?, ?)');
  const now = Date.now();
  store.transaction(() => {
    for (let i = 0; i < POSTS; i++) {
      const words = Array.from({ length: 40 }, (_, k) => WORDS[(i * 7 + k * 3) % WORDS.length]).join(' ');
      const id = `p${i}@bench.example`;
      const seq = store.insertPost(
        {
          id,
          bridge: 'commons',
          kind: 'message',
          author: { name: `author ${i % 97}`, address: `a${i % 97}@example.org` },
          subject: `Garden note ${i}`,
          body: `${words}\nnumber ${i}`,
          date: new Date(now - (POSTS - i) * 60_000).toISOString(),
          origin: { account: 'irc.a', target: '#c' },
        } as never,
        now,
      )!;
      store.setNativeId('irc.a', '#c', `n${i}`, id);
      art.run('g', i + 1, id);
      if (i % 10 === 0)
        store.db
          .prepare('INSERT INTO outbox (post_seq, endpoint, shape, created_at) VALUES (?, ?, ?, ?)')
          .run(seq, 'sink.s/out', 'message', now);
    }
  });
  store.close();
}

/** The anchor: the posts rows of the SQLite store into PostgreSQL with bare `pg`, 100 a statement, one transaction. */
async function bare(url: string, data: string): Promise<number> {
  const store = Store.open(data, { readonly: true, create: false });
  const rows = store
    .sqlite!.prepare('SELECT seq, id, bridge, received_at, data, date, placed_at, imported FROM posts ORDER BY seq')
    .raw()
    .all() as unknown[][];
  store.close();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(
    'DROP TABLE IF EXISTS bare_posts; CREATE TABLE bare_posts (seq BIGINT PRIMARY KEY, id TEXT NOT NULL UNIQUE, bridge TEXT NOT NULL, received_at BIGINT NOT NULL, data TEXT NOT NULL, date TEXT, placed_at BIGINT NOT NULL, imported BIGINT NOT NULL)',
  );
  const t0 = performance.now();
  await c.query('BEGIN');
  for (let i = 0; i < rows.length; i += 100) {
    const chunk = rows.slice(i, i + 100);
    const text = `INSERT INTO bare_posts VALUES ${chunk.map((_, k) => `(${Array.from({ length: 8 }, (_, j) => `$${k * 8 + j + 1}`).join(', ')})`).join(', ')}`;
    await c.query(text, chunk.flat());
  }
  await c.query('COMMIT');
  const ms = performance.now() - t0;
  await c.query('DROP TABLE bare_posts');
  await c.end();
  return rows.length / (ms / 1000);
}

export async function run(): Promise<Result[]> {
  const peer = await startPostgres('bench');
  const dir = mkdtempSync(join(tmpdir(), 'pp-bench-migrate-'));
  try {
    const data = join(dir, 'data');
    fill(data);
    const config = join(dir, 'peerpost.yaml');
    writeFileSync(config, `node:\n  hostname: bench.example\n  data: ${data}\n`);
    const rates: number[] = [];
    const anchors: number[] = [];
    let rows = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const db = openPg(peer);
      db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
      db.close();
      const t0 = performance.now();
      const outText = execFileSync(process.execPath, [BIN, 'migrate', '-c', config, '--to', peer.url], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 1 << 24,
      });
      const ms = performance.now() - t0;
      rows = Number(/moved ([\d,]+) rows/.exec(outText)![1]!.replace(/,/g, ''));
      rates.push(rows / (ms / 1000));
      anchors.push(await bare(peer.url, data));
    }
    console.log(
      `migrate rows/s per run: ${rates.map(Math.round).join(', ')}; bare pg posts rows/s: ${anchors.map(Math.round).join(', ')}`,
    );
    const ratio = median(rates.map((x, i) => x / anchors[i]!));
    return [
      {
        figure: `migrate of ${POSTS} posts (${rows} rows with the search index), the whole command`,
        value: median(rates),
        unit: 'rows/s',
        min: Math.min(...rates),
        max: Math.max(...rates),
        runs: ROUNDS,
        anchor: `bare pg, posts rows only: ${Math.round(median(anchors))} rows/s (migrate/bare, per run: median ${ratio.toFixed(2)})`,
      },
    ];
  } finally {
    peer.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, title, run);
