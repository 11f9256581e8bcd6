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
import { Outbox } from '../../src/delivery/outbox.js';
import type { EndpointConfig } from '../../src/config/types.js';
import { until, sleep } from '../helpers/daemon.js';
import { scenarioPost } from '../helpers/store-scenarios.js';

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

function keeper(
  db: PgDatabase,
  events: string[],
  tag: string,
  o: { failoverMs?: number; wanted?: string[]; log?: pino.Logger } = {},
): LeaseKeeper {
  return new LeaseKeeper({
    db,
    data: `/var/lib/peerpost-${tag}`,
    failoverMs: o.failoverMs ?? FAILOVER,
    log: o.log ?? log,
    wanted: () => o.wanted ?? ['account:irc.a', 'digests'],
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

test('epoch fencing: a stalled holder whose lease was taken over has its outbox writes refused; the new holder delivers each row once', async (t) => {
  const LEASE = 'account:sink.f';
  const EP = 'sink.f/x';
  const dbA = openPg(pg);
  const dbB = openPg(pg);
  const storeA = Store.postgres(dbA, 'A');
  const storeB = Store.postgres(dbB, 'B');
  t.after(() => {
    storeA.close();
    storeB.close();
  });
  // A's log, as people read it (warnings and above).
  const said: { msg: string; lease?: string; epoch?: number; write?: string }[] = [];
  const logA = pino({ level: 'warn' }, { write: (l: string) => void said.push(JSON.parse(l) as (typeof said)[0]) });
  const events: string[] = [];
  // A long failover: A's stall below is far shorter than its deadline, so A still counts itself the holder.
  const a = keeper(dbA, events, 'FA', { failoverMs: 20_000, wanted: [LEASE], log: logA });
  const b = keeper(dbB, events, 'FB', { failoverMs: 20_000, wanted: [LEASE] });
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  storeA.onFenced = (f, what, rows) => a.fenced(f, what, rows);
  storeB.onFenced = (f, what, rows) => b.fenced(f, what, rows);
  await a.start();
  await b.start();
  assert.ok(a.holds(LEASE) && !b.holds(LEASE));

  // Four posts for the endpoint, queued while A holds its lease.
  const now = Date.now();
  const rows = ['f1@x', 'f2@x', 'f3@x', 'f4@x'].map((id, i) => {
    const seq = storeA.insertPost(scenarioPost(id, { bridge: 'fenced' }), now + i)!;
    return storeA.addDelivery(seq, EP, 'chat', now);
  });
  const fenceA = a.fence(LEASE);
  assert.equal(fenceA.holder, a.id);
  // While A holds it, its fenced writes go through: a retry is recorded.
  assert.equal(storeA.markRetry(rows[3]!, 1, 0, 'first try failed', fenceA), true);
  assert.equal(storeA.outboxRow(rows[3]!)!.attempts, 1);

  // A stalls (no rounds: its event loop frozen, say) and its lease expires in the database: B takes it over with the
  // next epoch, while A, its local deadline not yet passed, still counts itself the holder.
  (a as unknown as { stopped: boolean }).stopped = true;
  clearTimeout((a as unknown as { timer: NodeJS.Timeout }).timer);
  dbB.query(`UPDATE pp_leases SET expires = now() - interval '1 second' WHERE name = $1`, [LEASE]);
  await b.tick();
  assert.ok(b.holds(LEASE), 'B took the lease over');
  assert.equal(b.fence(LEASE).epoch, fenceA.epoch + 1);
  assert.ok(a.holds(LEASE), 'A, stalled, still counts itself the holder');

  const before = () =>
    storeB.listOutbox({ endpoint: EP }).map((r) => [r.row, r.state, r.attempts, r.nextAt, r.lastError]);
  const unchanged = before();
  // A wakes up and records the outcomes of deliveries it had started: each is refused, and changes nothing.
  assert.equal(storeA.markRetry(rows[0]!, 1, now + 60_000, 'stale retry', a.fence(LEASE)), false);
  assert.ok(!a.holds(LEASE), 'A stops counting itself the holder at the first refusal');
  await a.settled();
  assert.ok(events.includes(`FA lost ${LEASE}`), JSON.stringify(events));
  // The fence is checked in the write's own statement: one round trip, as an unfenced write.
  let trips = dbA.stats.roundTrips;
  assert.equal(storeA.markDead(rows[1]!, 5, 'stale give-up', now, fenceA), false);
  assert.equal(dbA.stats.roundTrips - trips, 1, 'a fenced dead letter: one round trip');
  assert.equal(
    storeA.landDelivery(rows[2]!, { account: 'sink.f', target: 'x', nativeId: 'n3', postId: 'f3@x' }, fenceA),
    true,
  );
  trips = dbA.stats.roundTrips;
  storeA.flushDelivered();
  assert.equal(dbA.stats.roundTrips - trips, 1, 'fenced landings: one round trip');
  assert.equal(storeA.deliveriesWaiting, 0, 'a refused landing is not kept to be tried again');
  assert.deepEqual(before(), unchanged, 'the refused writes changed nothing');
  assert.equal(storeB.postForNative('sink.f', 'x', 'n3'), undefined, 'no native id from a refused landing');

  // Each refusal is a warning naming the lease and the epoch, saying the rows stay for the holder.
  const fencedSaid = said.filter((l) => l.lease === LEASE && l.write !== undefined);
  assert.deepEqual(
    fencedSaid.map((l) => [l.write, l.epoch]),
    [
      ['retry', fenceA.epoch],
      ['dead', fenceA.epoch],
      ['delivered', fenceA.epoch],
    ],
  );
  for (const l of fencedSaid) {
    assert.match(l.msg, new RegExp(`lease ${LEASE} \\(epoch ${fenceA.epoch}\\)`), l.msg);
    assert.match(l.msg, /stays pending for the lease's holder/, l.msg);
  }
  assert.match(fencedSaid[0]!.msg, /this process stops what account:sink\.f guards/);

  // B delivers what waits, each row once, with its fenced writes accepted.
  const got: string[] = [];
  const endpoint = { key: EP, account: 'sink.f', protocol: 'sink', target: 'x', bridge: 'fenced', options: {} };
  const outbox = new Outbox(
    storeB,
    {
      retryFirstMs: 100,
      retryMaxMs: 1000,
      giveUpAfterMs: 3_600_000,
      timeoutMs: 5000,
      shutdownGraceMs: 1000,
      alertAfterMs: 60_000,
    },
    () => ({
      ready: true,
      endpoint: endpoint as unknown as EndpointConfig,
      deliver: (post) => {
        got.push(post.id);
        return Promise.resolve({ result: 'delivered', nativeId: `b-${post.id}` });
      },
    }),
    log,
  );
  outbox.gate = () => b.holds(LEASE);
  outbox.fence = () => b.fence(LEASE);
  outbox.start();
  t.after(() => outbox.stop(1000));
  await until(() => storeB.listOutbox({ endpoint: EP }).length === 0, 'B delivers every row', 10_000);
  assert.deepEqual(got, ['f1@x', 'f2@x', 'f3@x', 'f4@x'], 'each row once, in order');
  assert.equal(storeB.postForNative('sink.f', 'x', 'b-f3@x'), 'f3@x');
  assert.ok(b.holds(LEASE), 'B keeps its lease: none of its writes was refused');
});
