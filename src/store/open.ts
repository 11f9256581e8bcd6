/**
 * The store a config names: PostgreSQL when node.database is set (issue 17), else the SQLite file in node.data.
 * Kept apart from src/store.ts so that the SQLite store does not load the PostgreSQL bridge.
 */
import { NoStoreError, Store, prepareDataDir, type StoreOptions } from '../store.js';
import { PgDatabase, describeTarget } from './pg/database.js';

export interface StoreConfig {
  data: string;
  durability: 'process' | 'power';
  database?: string | undefined;
}

/** postgres://user@host:port/db, without the password: how messages and `peerpost status` name the store. */
export function storeLabel(node: StoreConfig): string {
  if (!node.database) return node.data;
  const t = describeTarget(node.database);
  return `postgres://${t.user}@${t.host}:${t.port}/${t.database}`;
}

/** Open the configured store (see Store.open for the options; on PostgreSQL, create: false needs the schema there). */
export function openConfiguredStore(node: StoreConfig, opts: StoreOptions = {}): Store {
  if (!node.database) return Store.open(node.data, { durability: node.durability, ...opts });
  // node.data still holds the daemon's control socket (nothing of the store): made as for SQLite.
  if (opts.create !== false) prepareDataDir(node.data);
  const db = new PgDatabase(node.database, { applicationName: 'peerpost' });
  try {
    if (opts.create === false && !db.tableExists('peerpost_schema')) throw new NoStoreError(storeLabel(node));
    return Store.postgres(db, storeLabel(node));
  } catch (e) {
    db.close();
    throw e;
  }
}
