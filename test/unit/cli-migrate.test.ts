// `peerpost migrate`'s pieces that need no database: the config line it prints never holds the password, and its
// list of core tables is every table of the PostgreSQL schema that holds rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CORE_TABLES, redactUrl } from '../../src/cli/migrate.js';
import { PG_MIGRATIONS } from '../../src/store/pg/schema.js';

test('redactUrl: the password becomes ${PGPASSWORD}, in the userinfo or as a parameter; the rest stays', () => {
  assert.equal(redactUrl('postgres://pp:s3cret@db.example:5433/pp'), 'postgres://pp:${PGPASSWORD}@db.example:5433/pp');
  assert.equal(redactUrl('postgres://pp@db.example/pp'), 'postgres://pp@db.example/pp');
  assert.equal(
    redactUrl('postgresql://pp@db.example/pp?sslmode=require&password=s3cret'),
    'postgresql://pp@db.example/pp?sslmode=require&password=${PGPASSWORD}',
  );
  assert.equal(redactUrl('postgres://p%40p:a%3Ab@h/d'), 'postgres://p%40p:${PGPASSWORD}@h/d');
  assert.equal(redactUrl('not a url s3cret'), '(an unreadable URL)');
});

test('every table of the PostgreSQL schema is copied by migrate, but the schema version, the search index, the processes and leases, the removal log and the posts per bridge', () => {
  const tables = [...PG_MIGRATIONS.join('\n').matchAll(/CREATE TABLE (\w+)/g)].map((m) => m[1]!);
  // pp_processes and pp_leases (src/runtime/leases.ts) hold who runs now, pp_removals what the running processes tell
  // each other (src/archive/removal-log.ts): nothing of an SQLite store to copy. pp_post_counts is kept by triggers
  // as the posts are copied.
  const runtime = ['peerpost_schema', 'archive_fts', 'pp_processes', 'pp_leases', 'pp_removals', 'pp_post_counts'];
  assert.deepEqual(tables.filter((t) => !runtime.includes(t)).sort(), [...CORE_TABLES].sort());
});
