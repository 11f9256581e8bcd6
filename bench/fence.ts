/**
 * What epoch fencing (issue 17, src/store.ts: Fence) costs on PostgreSQL: the outbox's writes of outcomes with and
 * without a fence, on one store (its own PostgreSQL 15, test/peers/postgres.sh): a retry (one statement each) and a
 * turn's landings (16 deliveries written together by flushDelivered). Fenced and unfenced take turns, in both orders,
 * on rows of the same table; the round trips are counted too (the fence is part of the write's own statement).
 *
 *   npm run bench -- fence            (or node dist/bench/fence.js)
 *
 * Prints figures; asserts nothing about time.
 */
import { performance } from 'node:perf_hooks';
import { Store, type Fence } from '../src/store.js';
import { startPostgres, openPg } from '../test/helpers/pg.js';
import { scenarioPost } from '../test/helpers/store-scenarios.js';
import { summarise, table, machine, type Result } from './lib/result.js';

export const title = 'fence: outbox writes with and without an epoch fence, PostgreSQL';
/** Needs PostgreSQL 15 installed: run when named (`npm run bench -- fence`). */
export const onlyWhenNamed = true;

const TURNS = Number(process.env.FENCE_BENCH_TURNS ?? 12);
const RETRIES = 1000;
const FLUSHES = 100;
const PER_FLUSH = 16;

export async function run(): Promise<Result[]> {
  const pg = await startPostgres('fence');
  try {
    const db = openPg(pg);
    const store = Store.postgres(db, 'fence');
    db.query(
      `INSERT INTO pp_leases (name, holder, epoch, expires) VALUES ('account:x', 'me', 1, now() + interval '1 day')`,
    );
    const fence: Fence = { lease: 'account:x', holder: 'me', epoch: 1 };
    const perTurn = RETRIES + FLUSHES * PER_FLUSH;
    // The rows: one post, an outbox row per write to come (on endpoints of their own: no two rows alike).
    const seq = store.insertPost(scenarioPost('fence@bench'), Date.now())!;
    const rows = (
      db.query(
        `INSERT INTO outbox (post_seq, endpoint, shape, created_at)
         SELECT $1, 'x/y' || g, 'chat', 0 FROM generate_series(1, $2) AS g RETURNING row::float8 AS row`,
        [seq, TURNS * 2 * perTurn],
      ) as { row: number }[]
    )
      .map((r) => r.row)
      .sort((a, b) => a - b);
    const out = {
      fenced: { retry: [] as number[], land: [] as number[] },
      unfenced: { retry: [] as number[], land: [] as number[] },
    };
    const trips = { fenced: 0, unfenced: 0 };
    let next = 0;
    for (let turn = 0; turn < TURNS; turn++) {
      for (const mode of turn % 2 ? (['fenced', 'unfenced'] as const) : (['unfenced', 'fenced'] as const)) {
        const f = mode === 'fenced' ? fence : undefined;
        const tripsBefore = db.stats.roundTrips;
        let t0 = performance.now();
        for (let i = 0; i < RETRIES; i++) store.markRetry(rows[next++]!, 1, 0, 'busy', f);
        out[mode].retry.push((performance.now() - t0) / RETRIES);
        t0 = performance.now();
        for (let k = 0; k < FLUSHES; k++) {
          for (let j = 0; j < PER_FLUSH; j++) store.landDelivery(rows[next++]!, undefined, f);
          store.flushDelivered();
        }
        out[mode].land.push((performance.now() - t0) / FLUSHES);
        trips[mode] += db.stats.roundTrips - tripsBefore;
      }
    }
    const left = (db.query(`SELECT count(*)::int AS n FROM outbox WHERE attempts = 0`)[0] as { n: number }).n;
    if (left !== 0) throw new Error(`${left} landed rows are still in the outbox: a fenced write was refused`);
    store.close();
    const perWrite = (mode: 'fenced' | 'unfenced') => trips[mode] / (TURNS * (RETRIES + FLUSHES));
    return [
      summarise('retry (markRetry), unfenced', 'ms', out.unfenced.retry, { digits: 3 }),
      summarise('retry (markRetry), fenced', 'ms', out.fenced.retry, { digits: 3 }),
      summarise(`${PER_FLUSH} deliveries landed (flushDelivered), unfenced`, 'ms', out.unfenced.land, { digits: 3 }),
      summarise(`${PER_FLUSH} deliveries landed (flushDelivered), fenced`, 'ms', out.fenced.land, { digits: 3 }),
      {
        figure: 'round trips per write (a retry, or a flush), unfenced',
        value: perWrite('unfenced'),
        unit: 'trips',
        digits: 2,
      },
      {
        figure: 'round trips per write (a retry, or a flush), fenced',
        value: perWrite('fenced'),
        unit: 'trips',
        digits: 2,
        note: `fenced and unfenced take turns (${TURNS} turns, both orders), on rows of one outbox; the lease row is locked FOR SHARE by each fenced write`,
      },
    ];
  } finally {
    pg.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(machine());
  console.log(table([{ title, results: await run() }]));
}
