/**
 * test/peers/ergo.sh finds the team's Ergo (../shared/peers/bin/ergo.xz beside the checkout) and unpacks it into the
 * cache the first time. Test files run in parallel on a fresh machine, so several may be the first at once: each
 * must get the binary, whole and checked. Here the script runs in a copy of the layout (a stand-in "binary", xz'd,
 * with its sha256), so no Ergo is needed and nothing is started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function run(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn('bash', [script, 'bin'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code, out: out.trim(), err }));
  });
}

test('four ergo.sh at once on an empty cache each get the whole binary, checked against its sha256', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-ergo-unpack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'repo', 'test', 'peers'), { recursive: true });
  copyFileSync(join(ROOT, 'test/peers/ergo.sh'), join(dir, 'repo', 'test', 'peers', 'ergo.sh'));
  const bin = join(dir, 'shared', 'peers', 'bin');
  mkdirSync(bin, { recursive: true });
  // Big enough that unpacking takes a while (the real one is 10 MB).
  const payload = Buffer.concat([Buffer.from('#!/bin/sh\necho ergo\n'), Buffer.alloc(8 << 20, 'x')]);
  writeFileSync(join(dir, 'ergo'), payload);
  execFileSync('xz', ['-0', '-k', join(dir, 'ergo')]);
  copyFileSync(join(dir, 'ergo.xz'), join(bin, 'ergo.xz'));
  const sum = createHash('sha256').update(payload).digest('hex');
  writeFileSync(join(bin, 'ergo.sha256'), `${sum}  ergo\n`);

  const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), ERGO_BIN: '' };
  const script = join(dir, 'repo', 'test', 'peers', 'ergo.sh');
  const runs = await Promise.all([1, 2, 3, 4].map(() => run(script, env)));
  for (const r of runs) assert.equal(r.code, 0, `ergo.sh bin failed: ${r.err}`);
  const paths = new Set(runs.map((r) => r.out));
  assert.equal(paths.size, 1, [...paths].join(', '));
  const got = readFileSync([...paths][0]!);
  assert.equal(createHash('sha256').update(got).digest('hex'), sum, 'the binary in place is the whole one');
});
