/** The messages between PgDatabase (main thread) and its worker (worker.ts). */
import type { ConnectionOptions } from 'node:tls';

export interface WorkerConfig {
  url: string;
  ssl?: boolean | ConnectionOptions;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  applicationName: string;
}

/** A request without its id. */
export type Body =
  | { op: 'connect' }
  | { op: 'close' }
  /** A statement; `name`: a prepared statement of this connection (parsed once per connection). */
  | { op: 'query'; text: string; values: unknown[]; name?: string; rowMode?: 'array' }
  /** Several statements, no parameters (simple query protocol). */
  | { op: 'exec'; text: string }
  /** Parse the statement now (PREPARE/DEALLOCATE) so that bad SQL fails at prepare time. */
  | { op: 'check'; text: string }
  | { op: 'tx'; what: 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollback_to'; depth: number }
  /**
   * Several requests in one round trip, run one after another; it stops at the first that fails, whose error is the
   * answer. `results`: the answer of each (a BEGIN sent with the statement that follows it, statements whose
   * results can wait sent with the COMMIT).
   */
  | { op: 'many'; steps: Step[] };

/** A request that may be a step of 'many'. */
export type Step = Extract<Body, { op: 'query' | 'exec' | 'tx' }>;

/**
 * `outside`: the main thread has no transaction open (depth 0), so a transaction lost with its connection is over
 * (worker.ts forgets it; else its statements would be refused until a ROLLBACK that never comes).
 */
export type Request = Body & { id: number; outside?: boolean };

export type Response = (
  | { ok: true; rows?: unknown[]; rowCount?: number; results?: { rows?: unknown[]; rowCount?: number }[] }
  | { ok: false; error: { message: string; code: string; sqlstate?: string } }
) & {
  /** The pid of the connection's backend on the server (what a NOTIFY it sent carries). */
  pid?: number;
};
