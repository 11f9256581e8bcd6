/**
 * The lease keeper (src/runtime/leases.ts) on a real PostgreSQL 15: two keepers as two processes would run them.
 * The first takes what is free; the second takes nothing while the first renews; when the first goes silent (its
 * process frozen: no tick, nothing handed back) it stops counting itself the holder at its own deadline, before the
 * lease expires in the database, and the second takes it over with the next epoch; an orderly stop hands a lease
 * over at the other's next tick; the processes and their leases are listed for `peerpost status`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startPostgres, openPg, type PgPeer } from '../helpers/pg.js';
import { Store } from '../../src/store.js';
import { LeaseKeeper, processesOf } from '../../src/runtime/leases.js';
import type { PgDatabase } from '../../src/store/pg/database.js';
import { until, sleep } from '../helpers/daemon.js';

let pg: PgPeer;
let store: Store;
before(async () => {
  pg = await startPostgres('leases');
  store = Store.postgres(openPg(pg), 'leases'); // the schema, with pp_processes and pp_leases
});
after(() => {
  store?.close();
  pg?.destroy();
});

const FAILOVER = 1500;
const log = pino({ level: 'silent' });

function keeper(db: PgDatabase, events: string[], tag: string): LeaseKeeper {
  return new LeaseKeeper({
    db,
    data: `/var/lib/peerpost-${tag}`,
    failoverMs: FAILOVER,
    log,
    wanted: () => ['account:irc.a', 'digests'],
    gained: (name, epoch) => {
      events.push(`${tag} gained ${name} ${epoch}`);
    },
    lost: (name) => {
      events.push(`${tag} lost ${name}`);
    },
  });
}

test('one holder at a time; a silent holder stops at its deadline, before the other takes over with the next epoch', async (t) => {
  const dbA = openPg(pg);
  const dbB = openPg(pg);
  t.after(() => {
    dbA.close();
    dbB.close();
  });
  const events: string[] = [];
  const a = keeper(dbA, events, 'A');
  const b = keeper(dbB, events, 'B');
  await a.start();
  await b.start();
  assert.ok(a.holds('account:irc.a') && a.holds('digests'));
  assert.ok(!b.holds('account:irc.a') && !b.holds('digests'));
  await sleep(FAILOVER * 1.5); // several renewals: B still takes nothing
  assert.ok(a.holds('account:irc.a'), 'A renews');
  assert.ok(!b.holds('account:irc.a'), 'B takes nothing while A renews');

  const procs = processesOf(dbB, FAILOVER, b.id);
  assert.deepEqual(
    procs.map((p) => [p.pid, p.self, p.leases.map((l) => l.name)]),
    [
      [process.pid, false, ['account:irc.a', 'digests']],
      [process.pid, true, []],
    ],
  );
  const epoch = procs[0]!.leases[0]!.epoch;

  // A freezes: no more ticks, nothing handed back (a process stopped dead, or cut off from the database).
  (a as unknown as { stopped: boolean }).stopped = true;
  const frozenAt = Date.now();
  await until(() => !a.holds('account:irc.a'), 'A stops counting itself the holder', FAILOVER * 2);
  const aStopped = Date.now();
  await until(() => b.holds('account:irc.a') && b.holds('digests'), 'B takes over', FAILOVER * 3);
  const bTook = Date.now();
  assert.ok(aStopped <= bTook, `A stopped (${aStopped - frozenAt} ms) before B took over (${bTook - frozenAt} ms)`);
  assert.ok(events.includes('A lost account:irc.a'), JSON.stringify(events));
  assert.ok(events.includes(`B gained account:irc.a ${epoch + 1}`), JSON.stringify(events));

  // B stops in order: it hands the leases back, and a third process takes them at its first round.
  await b.stop();
  const dbC = openPg(pg);
  t.after(() => dbC.close());
  const c = keeper(dbC, events, 'C');
  t.after(() => c.stop());
  await c.start();
  assert.ok(c.holds('account:irc.a') && c.holds('digests'), 'C takes at once what B handed back');
  assert.ok(events.includes(`C gained account:irc.a ${epoch + 2}`), JSON.stringify(events));
  assert.deepEqual(
    processesOf(dbC, FAILOVER, c.id)
      .filter((p) => p.leases.length > 0)
      .map((p) => p.id),
    [c.id],
  );
});
