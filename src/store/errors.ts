/**
 * The store's failures as an operator reads them (what happened, what was kept, what to do), which of them may pass
 * (a sender is told to try again later), and the data directory's own check before a store is opened in it.
 */
import { mkdirSync, accessSync, constants, statSync } from 'node:fs';

export class StoreError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Translate SQLite's failures into what an operator can act on. */
export function describeStoreError(err: unknown, file: string): StoreError {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? 'UNKNOWN';
  const msg = e.message ?? String(err);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
    return new StoreError(
      `the store ${file} is damaged or is not a peerpost database (${msg}). Nothing was changed. Restore it from a backup, or move it aside to start with an empty store.`,
      code,
    );
  if (code === 'SQLITE_FULL')
    return new StoreError(`the disk holding ${file} is full: nothing more can be stored until space is freed`, code);
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code === 'EACCES' || code === 'EROFS')
    return new StoreError(
      `the store ${file} cannot be written (${msg}): check the permissions of the data directory`,
      code,
    );
  if (code === 'SQLITE_BUSY') return new StoreError(`the store ${file} is locked by another process (${msg})`, code);
  return new StoreError(`the store ${file} failed: ${msg}`, code);
}

/** Codes after which a write may succeed later: answer the sender "try again later". */
export function isTemporaryStoreError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  // PostgreSQL's (src/store/pg/database.ts, isTemporaryPgError): unreachable or restarting, out of resources, a
  // serialization failure or deadlock, a timeout, a read-only standby during a failover.
  return (
    /^SQLITE_(FULL|READONLY|IOERR|BUSY|LOCKED|CANTOPEN|PROTOCOL)/.test(code) ||
    /^PG_(UNAVAILABLE|RESOURCES|FULL|CONFLICT|TIMEOUT|READONLY)$/.test(code)
  );
}

/** There is no store in this data directory (and Store.open was told not to create one). */
export class NoStoreError extends StoreError {
  constructor(readonly dataDir: string) {
    super(`there is no peerpost store in ${dataDir}`, 'NOSTORE');
  }
}

/** Make the data directory (and its parents) if needed, and check it can be written. Throws StoreError for people. */
export function prepareDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true });
    if (!statSync(dataDir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new StoreError(
      `the data directory ${dataDir} cannot be used: ${e.code === 'ENOTDIR' ? 'a part of its path is a file, not a directory' : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'EROFS' ? 'the file system is read-only' : e.message}. Set node.data to a writable directory.`,
      e.code ?? 'EIO',
    );
  }
}
