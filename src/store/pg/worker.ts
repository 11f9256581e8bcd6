/**
 * The worker thread of PgDatabase (database.ts): holds the one `pg` connection, runs each request the main thread
 * sends, answers on the port, then wakes the main thread (which waits on the shared flag with Atomics.wait).
 *
 * A lost connection is noticed here ('error'/'end' of the client, or a failed query); the next request connects
 * again. A connection lost inside a transaction is not silently replaced: until the main thread's ROLLBACK
 * arrives every statement fails (it would otherwise run outside the transaction it belongs to).
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';
import type { Request, Response, WorkerConfig } from './protocol.js';

const { port, flag: sab, config } = workerData as { port: MessagePort; flag: SharedArrayBuffer; config: WorkerConfig };
const flag = new Int32Array(sab);

// Results as better-sqlite3 gives them: int8 and numeric as numbers, booleans as 1/0; bytea stays a Buffer.
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    if (oid === 16) return (v: string) => (v === 't' ? 1 : 0);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

let client: pg.Client | undefined;
/** The connection is gone (its client is closed). */
let dead = true;
/** A transaction is open on this connection (BEGIN done, no COMMIT or ROLLBACK yet). */
let inTx = false;
/** The connection was lost inside a transaction: statements fail until the ROLLBACK. */
let lostInTx = false;

const fail = (message: string, code: string, sqlstate?: string): Response => ({
  ok: false,
  error: { message, code, ...(sqlstate ? { sqlstate } : {}) },
});

function drop(): void {
  if (!client) return;
  const c = client;
  client = undefined;
  dead = true;
  if (inTx) lostInTx = true;
  inTx = false;
  c.removeAllListeners('error');
  c.on('error', () => {});
  c.end().catch(() => {});
}

/**
 * A connection attempt that failed slowly (no answer: a host or network gone, not a refusal) is not tried again
 * before this time: each attempt blocks the daemon up to connectTimeoutMs, so calls in between fail at once with
 * the same reason. A refusal (PostgreSQL restarting) is cheap and is tried again at the next call.
 */
let retryAt = 0;
let lastFailure: unknown;
/** The connection attempt under way, if any. */
let connecting: Promise<void> | undefined;

async function connect(): Promise<void> {
  if (Date.now() < retryAt) throw lastFailure;
  const started = Date.now();
  try {
    await open();
    retryAt = 0;
  } catch (err) {
    lastFailure = err;
    if (Date.now() - started > Math.min(250, config.connectTimeoutMs / 2))
      retryAt = Date.now() + config.connectTimeoutMs;
    throw err;
  }
}

async function open(): Promise<void> {
  const c = new pg.Client({
    connectionString: config.url,
    ...(config.ssl !== undefined ? { ssl: config.ssl } : {}),
    connectionTimeoutMillis: config.connectTimeoutMs,
    statement_timeout: config.queryTimeoutMs,
    lock_timeout: config.queryTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(60_000, 6 * config.queryTimeoutMs),
    application_name: config.applicationName,
    keepAlive: true,
    types,
  });
  c.on('error', () => {
    if (client === c) drop();
  });
  c.on('end', () => {
    if (client === c) drop();
  });
  try {
    await c.connect();
  } catch (err) {
    c.removeAllListeners('error');
    c.on('error', () => {});
    void c.end().catch(() => {});
    throw err;
  }
  client = c;
  dead = false;
}

/** A query, given up (and the connection with it) when PostgreSQL does not answer in time. */
async function query(c: pg.Client, q: pg.QueryConfig): Promise<pg.QueryResult> {
  let timer: NodeJS.Timeout | undefined;
  const limit = config.queryTimeoutMs + 1000;
  try {
    return await Promise.race([
      c.query(q),
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => {
          // statement_timeout did not answer either: the server or the network is gone.
          if (client === c) drop();
          rej(Object.assign(new Error(`no answer from PostgreSQL within ${limit} ms`), { code: 'PG_TIMEOUT' }));
        }, limit);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

function describe(err: unknown): Response {
  const e = err as { message?: string; code?: string; detail?: string; constraint?: string; table?: string };
  const msg = e.message ?? String(err);
  const code = e.code ?? '';
  if (code === 'PG_TIMEOUT') return fail(msg, 'PG_TIMEOUT');
  if (/^[0-9A-Z]{5}$/.test(code)) return fail(msg + (e.detail ? ` (${e.detail})` : ''), code, code);
  // No SQLSTATE: the socket (refused, reset, closed) or pg's own "Connection terminated" / timeout.
  if (CONNECTION_CODES.has(code) || /terminated|not queryable|closed|timeout|ECONN/i.test(msg) || dead)
    return fail(msg, 'PG_UNAVAILABLE');
  return fail(msg, 'PG_ERROR');
}

async function handle(req: Request): Promise<Response> {
  if (req.op === 'close') {
    const c = client;
    client = undefined;
    dead = true;
    await c?.end().catch(() => {});
    return { ok: true };
  }
  if (req.op === 'tx' && req.what === 'rollback' && lostInTx) {
    lostInTx = false;
    return { ok: true };
  }
  // A request sent outside any transaction (the main thread's depth 0): whatever transaction was lost is over.
  if (req.outside) lostInTx = false;
  if (lostInTx)
    return fail('the connection to PostgreSQL was lost inside a transaction; it is rolled back', 'PG_UNAVAILABLE');
  if (dead || !client) {
    if (req.op === 'tx' && (req.what === 'rollback' || req.what === 'rollback_to' || req.what === 'release'))
      return { ok: true }; // nothing to roll back on a new connection
    // One attempt for the requests that find the connection gone together (the ingest lane sends a second before
    // the first is answered): they then go on one connection, in the order they came.
    connecting ??= connect().finally(() => {
      connecting = undefined;
    });
    await connecting;
  }
  const c = client!;
  switch (req.op) {
    case 'many': {
      const results: { rows?: unknown[]; rowCount?: number }[] = [];
      for (const step of req.steps) {
        const r = await handle(step as Request);
        if (!r.ok) return r;
        results.push({
          ...(r.rows ? { rows: r.rows } : {}),
          ...(r.rowCount !== undefined ? { rowCount: r.rowCount } : {}),
        });
      }
      return { ok: true, results };
    }
    case 'connect':
      return { ok: true, rows: [] };
    case 'query': {
      const r = await query(c, {
        text: req.text,
        values: req.values,
        ...(req.name ? { name: req.name } : {}),
        ...(req.rowMode ? { rowMode: 'array' as const } : {}),
      });
      return { ok: true, rows: r.rows as unknown[], rowCount: r.rowCount ?? 0 };
    }
    case 'exec': {
      await query(c, { text: req.text });
      return { ok: true };
    }
    case 'check': {
      // PostgreSQL parses (and resolves names and types of) the statement now, as SQLite's prepare does.
      const nested = inTx;
      if (nested) await query(c, { text: 'SAVEPOINT peerpost_check' });
      try {
        await query(c, { text: `PREPARE peerpost_check AS ${req.text}` });
        await query(c, { text: 'DEALLOCATE peerpost_check' });
      } catch (err) {
        if (nested && client === c) await query(c, { text: 'ROLLBACK TO SAVEPOINT peerpost_check' });
        throw err;
      } finally {
        if (nested && client === c) await query(c, { text: 'RELEASE SAVEPOINT peerpost_check' });
      }
      return { ok: true };
    }
    case 'tx': {
      const sql = {
        begin: 'BEGIN',
        commit: 'COMMIT',
        rollback: 'ROLLBACK',
        savepoint: `SAVEPOINT peerpost_${req.depth}`,
        release: `RELEASE SAVEPOINT peerpost_${req.depth}`,
        rollback_to: `ROLLBACK TO SAVEPOINT peerpost_${req.depth}`,
      }[req.what];
      try {
        await query(c, { text: sql });
        if (req.what === 'begin') inTx = true;
      } finally {
        // A COMMIT or ROLLBACK ends the transaction whether it succeeded or not (PostgreSQL rolls back a failed COMMIT),
        // and so the main thread's: a loss noticed while it ran (the socket's end racing a ROLLBACK sent after a
        // statement failed) has nothing left to refuse.
        if (req.what === 'commit' || req.what === 'rollback') {
          inTx = false;
          lostInTx = false;
        }
      }
      return { ok: true };
    }
  }
}

port.on('message', (req: Request) => {
  handle(req)
    .catch((err: unknown) => describe(err))
    .then((res) => {
      // The backend's pid: a NOTIFY this connection sent comes back to the process with it (PgDatabase.ownBackend).
      const pid = (client as { processID?: number } | undefined)?.processID;
      port.postMessage({ ...res, id: req.id, ...(pid ? { pid } : {}) });
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      if (req.op === 'close') port.close();
    })
    .catch(() => {});
});
