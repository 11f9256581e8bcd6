/**
 * A test whose peer only root can start (INN's innd runs only as user news) fails, not root, with the one command
 * that runs it as root; test/peers/inn2.sh refuses the same way when started by hand. Never a silent skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rootRefusal } from '../peers/require.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WHY = "INN's innd runs only as user and group news (it checks), which only root can start it as";

test('not root: the refusal names the uid and the one command that runs this test file as root', () => {
  const m = rootRefusal(
    WHY,
    1001,
    ['/usr/bin/node', '/home/u/peerpost/dist/test/integration/nntp-peer.test.js'],
    '/home/u/peerpost',
    { node: '/usr/bin/node', note: 'as root it also installs inn2 when it is missing' },
  );
  assert.equal(
    m,
    `${WHY}; this test runs as uid 1001. Run it as root (as root it also installs inn2 when it is missing):\n` +
      '  sudo /usr/bin/node dist/test/integration/nntp-peer.test.js',
  );
});

test('a benchmark keeps its arguments; a file outside the working directory keeps its path', () => {
  assert.match(
    rootRefusal(WHY, 1000, ['node', '/p/dist/bench/run.js', 'nntp'], '/p') ?? '',
    /\n {2}sudo node dist\/bench\/run\.js nntp$/,
  );
  assert.match(
    rootRefusal(WHY, 1000, ['node', '/elsewhere/x.test.js'], '/p') ?? '',
    /\n {2}sudo node \.\.\/elsewhere\/x\.test\.js$/,
  );
});

test('root (or no uid, as on Windows): no refusal', () => {
  assert.equal(rootRefusal(WHY, 0, ['node', '/p/x.test.js'], '/p'), undefined);
  assert.equal(rootRefusal(WHY, undefined, ['node', '/p/x.test.js'], '/p'), undefined);
});

test('test/peers/inn2.sh start, not root: exit 1 with why and what to do, before it touches anything', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-inn2-notroot-'));
  try {
    // id says uid 1000 (a stand-in on PATH); setpriv and chown would fail if reached: they log that they were.
    mkdirSync(join(dir, 'bin'));
    const sh = (name: string, body: string) =>
      writeFileSync(join(dir, 'bin', name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
    sh('id', 'echo 1000');
    for (const cmd of ['setpriv', 'chown', 'cp']) sh(cmd, `echo ${cmd} >> "${join(dir, 'reached')}"; exit 1`);
    const spool = join(dir, 'spool');
    const r = spawnSync('bash', [join(ROOT, 'test/peers/inn2.sh'), 'start', '11119', spool, 'peerpost.test'], {
      env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '', 'no pid');
    assert.match(
      r.stderr,
      /^inn2\.sh: innd runs only as user and group news .*run inn2\.sh, or the test that uses it, as root \(sudo\)\n$/,
    );
    assert.equal(spawnSync('test', ['-e', join(dir, 'reached')]).status, 1, 'neither setpriv, chown nor cp ran');
    assert.equal(spawnSync('test', ['-e', spool]).status, 1, 'no spool made');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
