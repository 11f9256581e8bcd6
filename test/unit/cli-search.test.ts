/**
 * `peerpost search` run as a child process against a store in a temporary directory, no daemon: the operator's
 * shell sees results with full addresses, --json, and a query that cannot run exits USAGE with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../src/plugin.js';
import { Store } from '../../src/store.js';
import type { Post } from '../../src/post.js';

const BIN = fileURLToPath(new URL('../../src/bin.js', import.meta.url));

test('peerpost search prints matches with full addresses, --json, and exits USAGE on a bad query', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-search-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'peerpost.yaml');
  writeFileSync(
    config,
    `node:
  hostname: test.example
  data: ${join(dir, 'data')}
accounts:
  nntp.local: { listen: "127.0.0.1:0" }
bridges:
  commons:
    endpoints: [nntp.local/peerpost.commons]
`,
  );
  const store = Store.open(join(dir, 'data'));
  const mk = (id: string, subject: string, body: string, date: string): Post =>
    ({
      id,
      bridge: 'commons',
      origin: { account: 'nntp.local', target: 'peerpost.commons' },
      author: { name: 'Alice Example', address: 'alice@example.org', via: 'nntp' },
      kind: 'message',
      subject,
      body,
      references: [],
      hops: 0,
      date,
      attachments: [],
    }) as Post;
  store.insertPost(
    mk('a1@test.example', 'Garden meeting', 'the compost heap needs turning', '2026-01-02T10:00:00.000Z'),
    1,
  );
  store.insertPost(mk('a2@test.example', 'Other', 'nothing about it here', '2026-01-03T10:00:00.000Z'), 2);
  store.close();
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [BIN, 'search', '--config', config, ...args], { encoding: 'utf8' });

  const text = run('compost');
  assert.equal(text.status, EXIT.OK, text.stderr);
  assert.match(text.stdout, /2026-01-02 10:00 {2}commons {2}Alice Example <alice@example\.org> {2}<a1@test\.example>/);
  assert.match(text.stdout, /Garden meeting/);
  assert.match(text.stdout, /compost heap/);
  assert.doesNotMatch(text.stdout, /a2@test/);

  const json = run('--json', '-b', 'commons', 'garden');
  assert.equal(json.status, EXIT.OK, json.stderr);
  const page = JSON.parse(json.stdout) as { results: { id: string; author: { address: string } }[]; next: unknown };
  assert.deepEqual(
    page.results.map((r) => r.id),
    ['a1@test.example'],
  );
  assert.equal(page.results[0]!.author.address, 'alice@example.org');
  assert.equal(page.next, null);

  const bad = run('-spam');
  assert.equal(bad.status, EXIT.USAGE);
  assert.match(bad.stderr, /cannot be only -words/);
  const badDate = run('x', 'before:2026-13-45');
  assert.equal(badDate.status, EXIT.USAGE);
  assert.match(badDate.stderr, /not a date/);
});
