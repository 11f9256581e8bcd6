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
