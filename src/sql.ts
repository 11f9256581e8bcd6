/**
 * The part of a SQL database that the store and the plugins use: prepared statements run, read one row or all rows,
 * optionally "plucked" to their first column. better-sqlite3 has this shape; the PostgreSQL store (issue 17) offers
 * the same shape over its connection, so a plugin's statements run on either.
 */
export interface SqlRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqlStatement {
  /** Execute; parameters are positional (`?`) or one object of named ones (`@name`). */
  run(...params: unknown[]): SqlRunResult;
  /** The first row, or undefined. */
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** Rows become their first column's value. */
  pluck(toggle?: boolean): this;
}

/** Which SQL a store speaks. */
export type SqlDialect = 'sqlite' | 'postgres';

/** A connection to the store's database: better-sqlite3's Database has this shape, and so has the PostgreSQL one. */
export interface SqlDatabase {
  prepare(sql: string): SqlStatement;
  /** Run one or more statements without parameters (migrations). */
  exec(sql: string): unknown;
  /** fn wrapped in a transaction (a savepoint when nested): committed when it returns, rolled back if it throws. */
  transaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T;
  readonly inTransaction: boolean;
  readonly open: boolean;
  close(): unknown;
}

/** The dialect of a connection: the PostgreSQL one says so (its `dialect`); better-sqlite3's does not. */
export function dialectOf(db: SqlDatabase): SqlDialect {
  return (db as { dialect?: SqlDialect }).dialect ?? 'sqlite';
}

/** SQLite's index hint (`INDEXED BY name`): the planner of PostgreSQL chooses alone. */
export function indexedBy(db: SqlDatabase, index: string): string {
  return dialectOf(db) === 'sqlite' ? `INDEXED BY ${index}` : '';
}

/** A text field of a JSON column, by a path of keys ('author.address'): SQL NULL when absent. */
export function jsonField(db: SqlDatabase, column: string, path: string): string {
  return dialectOf(db) === 'sqlite'
    ? `json_extract(${column}, '$.${path}')`
    : `((${column})::jsonb #>> '{${path.split('.').join(',')}}')`;
}
