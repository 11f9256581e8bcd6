/**
 * The store's schema brought up to date: the SQLite migrations (src/migrations.ts, numbered by PRAGMA user_version),
 * the PostgreSQL schema's entries (src/store/pg/schema.ts, counted in peerpost_schema), and each plugin's own
 * migrations (plugin_migrations), every one in its transaction. A store written by a newer peerpost is refused.
 */
import type Database from 'better-sqlite3';
import { MIGRATIONS } from '../migrations.js';
import type { SqlDatabase, SqlDialect } from '../sql.js';
import { StoreError } from './errors.js';
import { translateDdl } from './pg/dialect.js';
import { PG_MIGRATIONS } from './pg/schema.js';

/** Apply the SQLite migrations after `from` (the file's user_version), each in its transaction. */
export function migrateSqlite(db: Database.Database, from: number): void {
  for (let n = from; n < MIGRATIONS.length; n++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[n]!);
      db.pragma(`user_version = ${n + 1}`);
    })();
  }
}

/** Apply the PostgreSQL schema's entries not yet applied, each in its transaction (peerpost_schema holds the count). */
export function migratePostgres(db: SqlDatabase, label: string): void {
  const exists = db.prepare(`SELECT to_regclass('peerpost_schema') IS NOT NULL`).pluck().get() as boolean;
  let version = exists ? (db.prepare('SELECT version FROM peerpost_schema').pluck().get() as number) : 0;
  if (version > PG_MIGRATIONS.length)
    throw new StoreError(
      `the store ${label} was written by a newer peerpost (schema ${version}, this one knows ${PG_MIGRATIONS.length}); upgrade peerpost`,
      'SCHEMA',
    );
  for (; version < PG_MIGRATIONS.length; version++) {
    const n = version + 1;
    db.transaction(() => {
      db.exec(PG_MIGRATIONS[n - 1]!);
      db.prepare('UPDATE peerpost_schema SET version = ?').run(n);
    })();
  }
}

/** Apply a plugin's own migrations once each, in order; a table not named with the plugin's prefix is refused. */
export function migratePlugin(
  db: SqlDatabase,
  dialect: SqlDialect,
  transaction: (fn: () => void) => void,
  scope: string,
  tablePrefix: string,
  migrations: readonly string[],
): void {
  const applied = new Set(db.prepare('SELECT n FROM plugin_migrations WHERE scope = ?').pluck().all(scope) as number[]);
  migrations.forEach((sql, n) => {
    if (applied.has(n)) return;
    for (const m of sql.matchAll(
      /\bCREATE\s+(?:TEMP(?:ORARY)?\s+)?(?:UNIQUE\s+|VIRTUAL\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?["`]?(\w+)/gi,
    )) {
      if (!m[1]!.startsWith(tablePrefix))
        throw new StoreError(
          `migration ${n} of ${scope} creates "${m[1]}": plugin tables must be named ${tablePrefix}...`,
          'SCHEMA',
        );
    }
    transaction(() => {
      db.exec(dialect === 'postgres' ? translateDdl(sql) : sql);
      db.prepare('INSERT INTO plugin_migrations (scope, n, applied_at) VALUES (?, ?, ?)').run(scope, n, Date.now());
    });
  });
}
