/**
 * The store scenario (test/helpers/store-scenarios.ts) on SQLite: what each core operation returns. The same
 * scenario runs on PostgreSQL in test/integration/store-pg.test.ts and must give this record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store.js';
import { EXPECTED, storeScenario } from '../helpers/store-scenarios.js';

test('the store scenario on SQLite: seqs, order, outbox, kv, id map, digests, removal', () => {
  const store = Store.open(':memory:');
  const r = storeScenario(store);
  store.close();
  assert.deepEqual(r, EXPECTED);
});
