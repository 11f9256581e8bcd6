/**
 * `peerpost post`'s exit status follows the verdict's code, never the wording of its reason. The end-to-end case
 * runs the CLI (a child process) against a config with no daemon running: the post goes straight into a store in a
 * temporary directory, no socket is opened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { verdictExit } from '../../src/cli.js';
import { EXIT } from '../../src/plugin.js';
import { Store } from '../../src/store.js';

const BIN = fileURLToPath(new URL('../../src/bin.js', import.meta.url));

test('verdictExit: no-bridge is NOT_FOUND; any other refusal is REFUSED, whatever its reason says', () => {
  assert.equal(
    verdictExit({ status: 'rejected', code: 'no-bridge', reason: 'there is no bridge "x"' }),
    EXIT.NOT_FOUND,
  );
  assert.equal(verdictExit({ status: 'rejected', code: 'no-bridge', reason: 'reworded entirely' }), EXIT.NOT_FOUND);
  assert.equal(
    verdictExit({ status: 'rejected', code: 'invalid', reason: 'the id mentions no bridge at all' }),
    EXIT.REFUSED,
  );
  assert.equal(verdictExit({ status: 'tempfail', code: 'store-full', reason: 'the disk is full' }), EXIT.REFUSED);
  assert.equal(verdictExit({ status: 'accepted', id: 'a@b', seq: 1 }), EXIT.OK);
  assert.equal(verdictExit({ status: 'duplicate', id: 'a@b' }), EXIT.OK);
  assert.equal(verdictExit({ status: 'ignored', id: 'a@b', reason: 'filtered' }), EXIT.OK);
});

test('peerpost post to an unknown bridge exits NOT_FOUND (5); to a known one, OK', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-cli-'));
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
  // Only `peerpost start` creates a store; make the one a daemon would have left.
  Store.open(join(dir, 'data')).close();
  const run = (bridge: string) =>
    spawnSync(process.execPath, [BIN, 'post', '--config', config, '-b', bridge, 'hello'], { encoding: 'utf8' });
  const unknown = run('nosuch');
  const known = run('commons');
  assert.equal(unknown.status, EXIT.NOT_FOUND, unknown.stderr);
  assert.match(unknown.stderr, /refused: there is no bridge "nosuch"/);
  assert.equal(known.status, EXIT.OK, known.stderr);
  assert.match(known.stdout, /stored <.*@test\.example> in bridge commons/);
});
