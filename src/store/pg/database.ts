/**
 * PgDatabase: PostgreSQL behind the same synchronous interface as better-sqlite3 (prepare → run/get/all/pluck,
 * exec, transaction), so the store and its plugins keep their code and their transactions' meaning (issue 17).
 *
 * The bridge. A worker thread (worker.ts) holds the one `pg` connection. A call posts its request on a
 * MessagePort and blocks the main thread with Atomics.wait on a shared flag until the worker answers, then takes
 * the answer with receiveMessageOnPort. A statement is thus one round trip (~0.2 ms on loopback), and a
 * transaction's statements run one after another on one connection with nothing else interleaved: exactly what
 * better-sqlite3's transaction(fn) promises, which an async client could not keep without rewriting every caller.
 * Fewer round trips where nothing waits for them: a transaction's BEGIN goes with its first statement, and a
 * statement whose result is needed only after the commit (PgStatement.later) goes with the next request, at the
 * latest the COMMIT (the worker's 'many': several requests in one message). The core's group commit is two round
 * trips: BEGIN with the posts' insert, then the outbox rows with the COMMIT. `stats` counts them (bench/pg.ts).
 *
 * Its limits, said plainly:
 * - the event loop is blocked while a statement runs, as it is while SQLite reads the disk; a slow query blocks
 *   the daemon for as long. Hence two bounds: PostgreSQL's statement_timeout/lock_timeout (queryTimeoutMs,
 *   default 10 s: the statement fails, SQLSTATE 57014, a temporary error), and the worker's own timer a second
 *   later (no answer at all: the connection is dropped). The main thread never waits more than queryTimeoutMs +
 *   3 s; then it throws a temporary error (PG_TIMEOUT) and the late answer is discarded when it comes.
 * - one connection for the store's statements: they never run in parallel (neither do SQLite's in one process).
 *   The core's group commit is the exception: one statement committed by itself, on a second connection (the
 *   ingest lane, lane.ts; PgStatement.allAsync), which the main thread does not wait for.
 * - a failed statement inside a transaction aborts it (PostgreSQL's rule; SQLite's keeps going): code that
 *   catches an error inside transaction(fn) and goes on gets PG_TX_ABORTED on its next statement.
 * - after a lost connection (PostgreSQL restarted, failover), the next call connects again; a connection lost
 *   inside a transaction fails every call until that transaction's ROLLBACK (transaction(fn) does it), never
 *   letting the rest of a transaction run outside it; a call made outside any transaction connects again.
 *
 * SQL: prepare() takes the SQLite SQL the project writes and translates it (dialect.ts); a statement is parsed by
 * PostgreSQL at prepare time (bad SQL fails there, as on SQLite), cached by its text, and then runs as a named
 * prepared statement of the connection. exec() runs PostgreSQL SQL as it is (the core's schema; a plugin's
 * migrations go through translateDdl first).
 */
import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { ConnectionOptions } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { StoreError } from '../../store.js';
import type { SqlRunResult, SqlStatement } from '../../sql.js';
import { translateStatement, type Catalog, type TableInfo, type Translated } from './dialect.js';
import type { Body, Response, Step, WorkerConfig } from './protocol.js';
import { PgLane } from './lane.js';

export interface PgOptions {
  /** TLS: true, or node's TLS options (ca, cert, key, rejectUnauthorized...). Else as the URL says (sslmode). */
  ssl?: boolean | ConnectionOptions;
  /** How long connecting may take (default 5 s). */
  connectTimeoutMs?: number;
  /** How long one statement may take (default 10 s), PostgreSQL's statement_timeout and lock_timeout. */
  queryTimeoutMs?: number;
  applicationName?: string;
}

/** A PostgreSQL failure, with a code the daemon acts on (isTemporaryPgError) and PostgreSQL's SQLSTATE. */
export class PgStoreError extends StoreError {
  constructor(
    message: string,
    code: string,
    readonly sqlstate?: string,
    /** PostgreSQL's (or the socket's) own words, without ours around them. */
    readonly reason: string = message,
  ) {
    super(message, code);
  }
}

/** The code of a PostgreSQL error: its SQLSTATE (or the bridge's own PG_ code) read for what it means to us. */
export function pgErrorCode(code: string, sqlstate?: string): string {
  const s = sqlstate ?? '';
  if (!s) return code;
  if (s === '23505') return 'PG_CONSTRAINT_UNIQUE';
  if (s === '23502') return 'PG_CONSTRAINT_NOTNULL';
  if (s === '23503') return 'PG_CONSTRAINT_FOREIGNKEY';
  if (s === '23514') return 'PG_CONSTRAINT_CHECK';
  if (s.startsWith('23')) return 'PG_CONSTRAINT';
  if (s.startsWith('08') || s === '57P01' || s === '57P02' || s === '57P03') return 'PG_UNAVAILABLE';
  if (s === '53100') return 'PG_FULL';
  if (s.startsWith('53')) return 'PG_RESOURCES';
  if (s === '40001' || s === '40P01') return 'PG_CONFLICT';
  if (s === '57014' || s === '55P03') return 'PG_TIMEOUT';
  if (s === '25006') return 'PG_READONLY';
  if (s === '25P02') return 'PG_TX_ABORTED';
  if (s.startsWith('28')) return 'PG_AUTH';
  if (s === '3D000') return 'PG_NODATABASE';
  if (s.startsWith('42')) return 'PG_SQL';
  if (s.startsWith('22')) return 'PG_DATA';
  return 'PG_ERROR';
}

/**
 * Errors after which the same write may succeed later (answer "try again later": SMTP 451, NNTP 436, CLI exit 6):
 * PostgreSQL unreachable or restarting, out of resources, a serialization failure or deadlock, a timeout, a
 * read-only standby (during a failover), a transaction that lost its connection.
 */
export function isTemporaryPgError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return /^PG_(UNAVAILABLE|RESOURCES|FULL|CONFLICT|TIMEOUT|READONLY)$/.test(code);
}

/** Where a URL points, for messages (no password). */
export function describeTarget(url: string): { host: string; port: string; database: string; user: string } {
  try {
    const u = new URL(url);
    const q = u.searchParams;
    return {
      host: q.get('host') ?? (decodeURIComponent(u.hostname) || 'localhost'),
      port: q.get('port') ?? (u.port || '5432'),
      database: decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || '(default)',
      user: decodeURIComponent(u.username) || '(default)',
    };
  } catch {
    return { host: '?', port: '?', database: '?', user: '?' };
  }
}

const DEFAULT_CONNECT_MS = 5000;
const DEFAULT_QUERY_MS = 10_000;
/** Beyond the worker's own bound (queryTimeoutMs + 1 s), how long more the main thread waits for an answer. */
const BRIDGE_SLACK_MS = 2000;

const WORKER_URL = new URL('./worker.js', import.meta.url);

export class PgDatabase {
  readonly dialect = 'postgres' as const;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag: Int32Array;
  private readonly queryMs: number;
  private readonly connectMs: number;
  private readonly target: ReturnType<typeof describeTarget>;
  private seq = 0;
  private closed = false;
  /**
   * Round trips to the worker so far, and the time the main thread spent waiting for them; `laneTrips`: requests on
   * the ingest lane (lane.ts), which the main thread does not wait for (bench/pg.ts reads them).
   */
  readonly stats = { roundTrips: 0, waitMs: 0, laneTrips: 0 };
  private readonly config: WorkerConfig;
  /** The ingest lane: a second connection for the core's group commit, started when first asked for (laneReady). */
  private lane?: PgLane;
  /** The lane's connection: being made, or made. */
  private laneState: 'off' | 'connecting' | 'up' = 'off';
  private depth = 0;
  /** The outer BEGIN of the transaction under way, not sent yet: it goes with the first statement (one round trip). */
  private beginWaiting = false;
  /** Statements whose results can wait (PgStatement.later), sent with the next request, at the latest the COMMIT. */
  private later: { step: Step; depth: number; done: (r: { rows: unknown[]; rowCount: number }) => void }[] = [];
  private names = 0;
  private readonly statements = new Map<string, { t: Translated; name: string }>();
  private readonly tables = new Map<string, TableInfo | undefined>();
  /** As SQLite's: the rowid of the latest row an INSERT added on this connection. */
  lastInsertRowid = 0;
  private readonly catalog: Catalog = { table: (name) => this.table(name) };

  constructor(url: string, opts: PgOptions = {}) {
    this.queryMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_MS;
    this.connectMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_MS;
    this.target = describeTarget(url);
    const sab = new SharedArrayBuffer(4);
    this.flag = new Int32Array(sab);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const config: WorkerConfig = (this.config = {
      url,
      connectTimeoutMs: this.connectMs,
      queryTimeoutMs: this.queryMs,
      applicationName: opts.applicationName ?? 'peerpost',
      ...(opts.ssl !== undefined ? { ssl: opts.ssl } : {}),
    });
    this.worker = new Worker(WORKER_URL, { workerData: { port: port2, flag: sab, config }, transferList: [port2] });
    this.worker.unref();
    try {
      this.call({ op: 'connect' }, this.connectMs + BRIDGE_SLACK_MS + 3000);
    } catch (err) {
      this.closed = true;
      void this.worker.terminate();
      throw this.connectError(err as PgStoreError);
    }
  }

  private connectError(err: PgStoreError): PgStoreError {
    const t = this.target;
    const where = `PostgreSQL at ${t.host}:${t.port}, database ${t.database} as user ${t.user}`;
    const todo =
      err.code === 'PG_AUTH'
        ? 'Check the user and password in node.database (and pg_hba.conf on the server)'
        : err.code === 'PG_NODATABASE'
          ? `Create the database (createdb -O ${t.user} ${t.database}) or correct node.database`
          : `Check that PostgreSQL runs and accepts connections there (pg_isready -h ${t.host} -p ${t.port}), and node.database in the config`;
    return new PgStoreError(`cannot connect to ${where}: ${err.reason}. ${todo}.`, err.code, err.sqlstate, err.reason);
  }

  /**
   * One request to the worker, with what waits to go before it (the transaction's BEGIN, statements whose results
   * can wait) in the same round trip; the answer is the request's own.
   */
  private call(req: Body, waitMs = this.queryMs + 1000 + BRIDGE_SLACK_MS) {
    if (!this.beginWaiting && this.later.length === 0) return this.send(req, waitMs);
    const first: Step[] = this.beginWaiting ? [{ op: 'tx', what: 'begin', depth: 1 }] : [];
    const later = this.later;
    const steps = [...first, ...later.map((l) => l.step)];
    const alone = req.op !== 'query' && req.op !== 'exec' && req.op !== 'tx';
    if (!alone) steps.push(req);
    // Sent, whatever the answer: a failure is the transaction's (it rolls back), and what waited goes with it.
    this.beginWaiting = false;
    this.later = [];
    const r = this.send({ op: 'many', steps }, waitMs);
    const results = r.results ?? [];
    later.forEach((l, i) => {
      const res = results[first.length + i];
      l.done({ rows: res?.rows ?? [], rowCount: res?.rowCount ?? 0 });
    });
    if (alone) return this.send(req, waitMs);
    const own = results[results.length - 1];
    return { ok: true as const, rows: own?.rows ?? [], rowCount: own?.rowCount ?? 0 };
  }

  /** One request to the worker, waiting for its answer at most `waitMs`. */
  private send(req: Body, waitMs: number) {
    if (this.closed) throw new PgStoreError('the PostgreSQL store is closed', 'PG_CLOSED');
    const id = ++this.seq;
    Atomics.store(this.flag, 0, 0);
    const t0 = performance.now();
    this.stats.roundTrips++;
    this.port.postMessage({ ...req, id, ...(this.depth === 0 ? { outside: true } : {}) });
    const deadline = Date.now() + waitMs;
    for (;;) {
      let m;
      while ((m = receiveMessageOnPort(this.port))) {
        const res = m.message as Response & { id: number };
        this.ownPid(res.pid);
        if (res.id !== id) continue; // the late answer of a request given up on
        this.stats.waitMs += performance.now() - t0;
        if (res.ok) return res;
        throw this.failure(res.error);
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new PgStoreError(
          `PostgreSQL at ${this.target.host}:${this.target.port} did not answer within ${waitMs} ms`,
          'PG_TIMEOUT',
        );
      Atomics.wait(this.flag, 0, 0, left);
      Atomics.store(this.flag, 0, 0);
    }
  }

  /** A backend pid of this process's connections (either): its NOTIFYs are its own (ownBackend). */
  private ownPid(pid: number | undefined): void {
    if (pid && !this.pids.includes(pid)) this.pids = [pid, ...this.pids].slice(0, 6);
  }

  private failure(error: { message: string; code: string; sqlstate?: string }): PgStoreError {
    const code = pgErrorCode(error.code, error.sqlstate);
    return new PgStoreError(this.explain(error.message, code), code, error.sqlstate, error.message);
  }

  private explain(message: string, code: string): string {
    if (code === 'PG_UNAVAILABLE')
      return `PostgreSQL at ${this.target.host}:${this.target.port} (database ${this.target.database}) cannot be reached: ${message}`;
    if (code === 'PG_TIMEOUT') return `PostgreSQL took too long (more than ${this.queryMs} ms): ${message}`;
    return message;
  }

  /** A statement of SQLite SQL (translated, parsed now by PostgreSQL); cached by its text. */
  prepare(sql: string): PgStatement {
    let s = this.statements.get(sql);
    if (!s) {
      const t = translateStatement(sql, this.catalog);
      this.call({ op: 'check', text: t.text });
      s = { t, name: `peerpost_${++this.names}` };
      this.statements.set(sql, s);
    }
    return new PgStatement(this, sql, s.t, s.name);
  }

  /** @internal: a prepared statement to run with the next request of this transaction (PgStatement.later). */
  runLater(
    name: string,
    t: Translated,
    values: unknown[],
    done: (r: { rows: unknown[]; rowCount: number }) => void,
  ): void {
    if (this.depth === 0) throw new TypeError('PgStatement.later() runs only inside a transaction');
    this.later.push({ step: { op: 'query', name, text: t.text, values }, depth: this.depth, done });
  }

  /** @internal: run a prepared statement. */
  runStatement(name: string, t: Translated, values: unknown[], array: boolean): { rows: unknown[]; rowCount: number } {
    const r = this.call({ op: 'query', name, text: t.text, values, ...(array ? { rowMode: 'array' as const } : {}) });
    return { rows: r.rows ?? [], rowCount: r.rowCount ?? 0 };
  }

  /** The ingest lane, made at its first use (its worker and connection start with its first request). */
  private theLane(): PgLane {
    return (this.lane ??= new PgLane(WORKER_URL, this.config, this.queryMs + 1000 + BRIDGE_SLACK_MS));
  }

  /**
   * Whether the ingest lane (lane.ts) is connected and can take a statement now. The first time it is asked, it is
   * started in the background (a worker thread and a connection: tens of milliseconds that no post waits for), and
   * again after an attempt that failed; meanwhile the answer is no.
   */
  laneReady(): boolean {
    if (this.closed) return false;
    if (this.laneState !== 'off') return this.laneState === 'up';
    this.laneState = 'connecting';
    void this.theLane()
      .send({ op: 'connect' })
      .then((res) => {
        this.ownPid(res.pid);
        this.laneState = res.ok && !this.closed ? 'up' : 'off';
      });
    return false;
  }

  /**
   * @internal: run a prepared statement on the ingest lane (lane.ts), its own connection, committed by itself: the
   * main thread goes on meanwhile. Never inside a transaction of this connection (it would not be part of it).
   */
  runStatementAsync(name: string, t: Translated, values: unknown[]): Promise<{ rows: unknown[]; rowCount: number }> {
    if (this.closed) return Promise.reject(new PgStoreError('the PostgreSQL store is closed', 'PG_CLOSED'));
    this.stats.laneTrips++;
    return this.theLane()
      .send({ op: 'query', name, text: t.text, values })
      .then((res) => {
        this.ownPid(res.pid);
        if (!res.ok) throw this.failure(res.error);
        return { rows: res.rows ?? [], rowCount: res.rowCount ?? 0 };
      });
  }

  /** PostgreSQL SQL as it is, one statement or several (no parameters). The catalog is read again after it. */
  exec(sql: string): this {
    try {
      this.call({ op: 'exec', text: sql });
    } finally {
      this.tables.clear();
      this.statements.clear();
    }
    return this;
  }

  /** One query of PostgreSQL SQL with $n parameters, not translated (the catalog, tests). */
  query(text: string, values: unknown[] = []): unknown[] {
    return this.call({ op: 'query', text, values }).rows ?? [];
  }

  /** Whether this table exists (in the current schema): what `sqlite_master` is asked for on SQLite. */
  tableExists(name: string): boolean {
    return this.query('SELECT to_regclass($1::text) IS NOT NULL AS e', [name]).some((r) => (r as { e: number }).e);
  }

  /** The shape of a table from PostgreSQL's catalog (cached until the next exec). */
  table(name: string): TableInfo | undefined {
    if (this.tables.has(name)) return this.tables.get(name);
    const cols = this.query(
      `SELECT a.attname AS name, a.attidentity <> '' AS ident FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = to_regclass($1::text) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [name],
    ) as { name: string; ident: number }[];
    let info: TableInfo | undefined;
    if (cols.length) {
      const idx = this.query(
        `SELECT i.indisprimary AS pk, ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
           JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o)::text[] AS cols
         FROM pg_catalog.pg_index i WHERE i.indrelid = to_regclass($1::text) AND i.indisunique`,
        [name],
      ) as { pk: number; cols: string[] }[];
      info = {
        columns: cols.map((c) => c.name),
        primaryKey: idx.find((i) => i.pk)?.cols ?? [],
        identity: cols.find((c) => c.ident)?.name,
        unique: idx.filter((i) => !i.pk).map((i) => i.cols),
      };
    }
    this.tables.set(name, info);
    return info;
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  /**
   * As better-sqlite3's: a function that runs `fn` in BEGIN ... COMMIT (ROLLBACK when it throws); called inside
   * another transaction, in a SAVEPOINT.
   */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    return (...args: A): R => {
      const outer = this.depth === 0;
      const level = ++this.depth;
      // The outer BEGIN goes with the transaction's first statement (call): one round trip fewer.
      if (outer) this.beginWaiting = true;
      else
        try {
          this.call({ op: 'tx', what: 'savepoint', depth: level });
        } catch (err) {
          this.depth--;
          throw err;
        }
      let result: R;
      try {
        result = fn(...args);
        if (result instanceof Promise) throw new TypeError('Transaction function cannot return a promise');
      } catch (err) {
        // What waits for this transaction (or savepoint) is dropped with it.
        this.later = this.later.filter((l) => l.depth < level);
        try {
          if (outer) {
            if (this.beginWaiting)
              this.beginWaiting = false; // nothing was sent
            else this.call({ op: 'tx', what: 'rollback', depth: level });
          } else {
            this.call({ op: 'tx', what: 'rollback_to', depth: level });
            this.call({ op: 'tx', what: 'release', depth: level });
          }
        } catch {
          // the error that matters is fn's; a lost connection has rolled back already
        } finally {
          this.depth--;
        }
        throw err;
      }
      try {
        if (outer && this.beginWaiting && this.later.length === 0)
          this.beginWaiting = false; // nothing to commit
        else this.call({ op: 'tx', what: outer ? 'commit' : 'release', depth: level });
      } catch (err) {
        if (outer) {
          this.later = [];
          this.beginWaiting = false;
          try {
            this.call({ op: 'tx', what: 'rollback', depth: level });
          } catch {
            // as above
          }
        }
        throw err;
      } finally {
        this.depth--;
      }
      return result;
    };
  }

  /** The backend pids of this connection and the lane's, the newest first (a few: they connect again after a loss). */
  private pids: number[] = [];

  /**
   * Whether `pid` is (or lately was) the server process of this connection: a NOTIFY this process's own commit
   * sent, which a listener of the same process hears too (src/store/pg/listen.ts).
   */
  ownBackend(pid: number): boolean {
    return this.pids.includes(pid);
  }

  /** End the connection and the worker. */
  close(): void {
    if (this.closed) return;
    try {
      this.call({ op: 'close' }, this.connectMs);
    } catch {
      // closing anyway
    }
    this.closed = true;
    this.lane?.close();
    void this.worker.terminate();
  }

  get open(): boolean {
    return !this.closed;
  }
}

const BIND_TYPES = 'numbers, strings, bigints, buffers, and null';

/** A JS value as a parameter, refusing what better-sqlite3 refuses. */
function bindValue(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  switch (typeof v) {
    case 'number':
    case 'string':
      return v;
    case 'bigint':
      return v.toString();
    case 'object':
      if (Buffer.isBuffer(v)) return v;
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  throw new TypeError(`PostgreSQL store can only bind ${BIND_TYPES} (as SQLite3): got ${typeof v}`);
}

/** A bytea value crossed the MessagePort as a Uint8Array: a Buffer again, as better-sqlite3 gives it. */
const asBuffer = (v: unknown): unknown =>
  v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;

export class PgStatement implements SqlStatement {
  private plucked = false;
  constructor(
    private readonly db: PgDatabase,
    readonly source: string,
    private readonly t: Translated,
    private readonly name: string,
  ) {}

  get reader(): boolean {
    return this.t.reader;
  }

  private bind(params: unknown[]): unknown[] {
    const t = this.t;
    if (t.names.length) {
      const named = params.length === 1 && params[0] !== null && typeof params[0] === 'object' ? params[0] : undefined;
      if (!named || Buffer.isBuffer(named)) throw new RangeError('Too few parameter values were provided');
      const obj = named as Record<string, unknown>;
      return t.names.map((n) => {
        if (!(n in obj)) throw new RangeError(`Missing named parameter "${n}"`);
        return bindValue(obj[n]);
      });
    }
    if (params.length > t.positional) throw new RangeError('Too many parameter values were provided');
    if (params.length < t.positional) throw new RangeError('Too few parameter values were provided');
    return params.map(bindValue);
  }

  run(...params: unknown[]): SqlRunResult {
    const r = this.db.runStatement(this.name, this.t, this.bind(params), false);
    if (this.t.returning && r.rows.length)
      this.db.lastInsertRowid = Number((r.rows[r.rows.length - 1] as Record<string, unknown>)[this.t.returning]);
    return { changes: this.t.reader && !this.t.returning ? 0 : r.rowCount, lastInsertRowid: this.db.lastInsertRowid };
  }

  private read(params: unknown[]): unknown[] {
    if (!this.t.reader) throw new TypeError('This statement does not return data. Use run() instead');
    const r = this.db.runStatement(this.name, this.t, this.bind(params), this.plucked);
    if (this.plucked) return r.rows.map((row) => asBuffer((row as unknown[])[0]));
    for (const row of r.rows as Record<string, unknown>[])
      for (const k in row) if (row[k] instanceof Uint8Array) row[k] = asBuffer(row[k]);
    return r.rows;
  }

  get(...params: unknown[]): unknown {
    return this.read(params)[0];
  }

  /**
   * Run this statement with the transaction's next request (at the latest its COMMIT), in the same round trip, and
   * hand its rows to `done` then: for a write whose result is needed only after the commit. Inside a transaction
   * only; dropped if the transaction (or the savepoint it was given in) rolls back; its failure is the COMMIT's.
   */
  later(params: unknown[], done: (rows: unknown[]) => void = () => {}): void {
    this.db.runLater(this.name, this.t, this.bind(params), (r) => done(r.rows));
  }

  all(...params: unknown[]): unknown[] {
    return this.read(params);
  }

  /**
   * As all(), on the ingest lane (PgDatabase.runStatementAsync): a statement committed by itself, which the main
   * thread does not wait for. Never inside a transaction. No bytea in its rows (they are not made Buffers again).
   */
  async allAsync(...params: unknown[]): Promise<unknown[]> {
    if (!this.t.reader) throw new TypeError('This statement does not return data. Use run() instead');
    return (await this.db.runStatementAsync(this.name, this.t, this.bind(params))).rows;
  }

  pluck(toggle = true): this {
    if (!this.t.reader) throw new TypeError('The pluck() method is only for statements that return data');
    this.plucked = toggle;
    return this;
  }
}
