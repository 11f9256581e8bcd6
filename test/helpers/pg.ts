/**
 * A private PostgreSQL 15 for a test (test/peers/postgres.sh: its own cluster in a temporary directory, on a free
 * port of 127.0.0.1), and a plugin's slice of the store over a PgDatabase (the test-side twin of pluginStoreFor:
 * migrations through translateDdl, statements through PgDatabase.prepare, kv and the id map in small tables).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginStore } from '../../src/plugin.js';
import { PgDatabase, type PgOptions } from '../../src/store/pg/database.js';
import { translateDdl } from '../../src/store/pg/dialect.js';
import { requirePeer } from '../peers/require.js';
import { freePort } from '../peers/finger.js';

const SCRIPT = fileURLToPath(new URL('../../../test/peers/postgres.sh', import.meta.url));

export interface PgPeer {
  port: number;
  dir: string;
  pid: number;
  url: string;
  /** Fast shutdown of the server (clients are cut). */
  stop(): void;
  /** Start it again on the same port and directory (the databases are kept). */
  start(): void;
  /** Stop it for good and remove its directory. */
  destroy(): void;
}

/** Start a PostgreSQL 15 with a database (and role) `db`; installs the peer first when missing (as root). */
export async function startPostgres(db = 'pp'): Promise<PgPeer> {
  requirePeer('postgresql-15');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pp-pg-'));
  chmodSync(dir, 0o755);
  const run = (...args: string[]) =>
    execFileSync('bash', [SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const peer: PgPeer = {
    port,
    dir,
    pid: 0,
    url: `postgres://${db}@127.0.0.1:${port}/${db}`,
    start() {
      peer.pid = Number(run('start', String(port), dir).trim().split('\n').pop());
    },
    stop() {
      if (peer.pid) run('stop', String(peer.pid));
      peer.pid = 0;
    },
    destroy() {
      peer.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  peer.start();
  run('createdb', String(port), db);
  return peer;
}

export function openPg(peer: PgPeer, opts: PgOptions = {}): PgDatabase {
  return new PgDatabase(peer.url, { connectTimeoutMs: 3000, ...opts });
}

/** A plugin's slice of a PostgreSQL store: what pluginStoreFor gives on SQLite. */
export function pgPluginStore(db: PgDatabase, account: string, protocol: string): PluginStore & { scopes: string[] } {
  db.exec(`CREATE TABLE IF NOT EXISTS plugin_migrations (scope TEXT NOT NULL, n BIGINT NOT NULL, applied_at BIGINT NOT NULL,
             PRIMARY KEY (scope, n));
           CREATE TABLE IF NOT EXISTS kv (scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (scope, key));
           CREATE TABLE IF NOT EXISTS native_ids (account TEXT NOT NULL, target TEXT NOT NULL, native_id TEXT NOT NULL,
             post_id TEXT NOT NULL, PRIMARY KEY (account, target, native_id))`);
  const scope = `plugin:${protocol}:${account}`;
  const scopes: string[] = [];
  return {
    scopes,
    get: <T>(key: string) => {
      const v = db.prepare('SELECT value FROM kv WHERE scope = ? AND key = ?').pluck().get(scope, key) as
        string | undefined;
      return v === undefined ? undefined : (JSON.parse(v) as T);
    },
    set: (key, value) => {
      db.prepare('INSERT OR REPLACE INTO kv (scope, key, value) VALUES (?, ?, ?)').run(
        scope,
        key,
        JSON.stringify(value),
      );
    },
    delete: (key) => {
      db.prepare('DELETE FROM kv WHERE scope = ? AND key = ?').run(scope, key);
    },
    keys: (prefix = '') =>
      (db.prepare('SELECT key FROM kv WHERE scope = ? ORDER BY key').pluck().all(scope) as string[]).filter((k) =>
        k.startsWith(prefix),
      ),
    ids: {
      set: (postId, target, nativeId) => {
        db.prepare('INSERT OR REPLACE INTO native_ids (account, target, native_id, post_id) VALUES (?, ?, ?, ?)').run(
          account,
          target,
          nativeId,
          postId,
        );
      },
      post: (target, nativeId) =>
        db
          .prepare('SELECT post_id FROM native_ids WHERE account = ? AND target = ? AND native_id = ?')
          .pluck()
          .get(account, target, nativeId) as string | undefined,
      native: (postId, target) =>
        db
          .prepare('SELECT native_id FROM native_ids WHERE post_id = ? AND account = ? AND target = ? LIMIT 1')
          .pluck()
          .get(postId, account, target) as string | undefined,
    },
    migrate(migrations, part) {
      const s = part ? `plugin:${protocol}:${part}` : `plugin:${protocol}`;
      scopes.push(s);
      const applied = new Set(db.prepare('SELECT n FROM plugin_migrations WHERE scope = ?').pluck().all(s) as number[]);
      migrations.forEach((sql, n) => {
        if (applied.has(n)) return;
        db.transaction(() => {
          db.exec(translateDdl(sql));
          db.prepare('INSERT INTO plugin_migrations (scope, n, applied_at) VALUES (?, ?, ?)').run(s, n, Date.now());
        })();
      });
    },
    prepare: (sql) => db.prepare(sql),
    transaction: (fn) => db.transaction(fn)(),
  };
}

/**
 * One process of a commons on a shared PostgreSQL (crossfeed test and bench): the built-in news server on `nntp`,
 * the web, and a file sink every process writes to, all on one bridge.
 */
export function commonsOnPg(w: { writeConfig(text: string): void }, peer: PgPeer, nntp: number, sink: string): void {
  w.writeConfig(`  database: ${peer.url}
accounts:
  nntp.local: { listen: 127.0.0.1:${nntp}, posting: { allow: loopback } }
  web.w: { listen: 127.0.0.1:0 }
  sink.s: { file: ${sink} }
bridges:
  commons:
    endpoints: [nntp.local/peerpost.commons, web.w/commons, sink.s/c]
`);
}
