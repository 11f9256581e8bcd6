/**
 * test/peers/install.sh, the one installer of the tests' peers: two installs at
 * once take turns under its lock (the second finds the peer there and installs
 * nothing), not root it names the one command to run, and every peer a test
 * asks for is one it knows. apt-get, dpkg-query and id are stand-ins on PATH
 * here (a unit test installs nothing); the real run is .ci/run's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const INSTALL_SH = join(ROOT, 'test/peers/install.sh');

/** A PATH with stand-ins for apt-get (logs, takes `secs` per install), dpkg-query and id. */
function shims(uid: number, secs = 2): { dir: string; env: NodeJS.ProcessEnv; log: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'pp-peers-install-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'installed'));
  const sh = (name: string, body: string) =>
    writeFileSync(join(dir, 'bin', name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
  sh(
    'dpkg-query',
    `pkg="\${@: -1}"; if [ -e "${dir}/installed/$pkg" ]; then printf installed; else printf not-installed; fi`,
  );
  sh(
    'apt-get',
    `log="${dir}/apt.log"
pkgs=(); dl=0; update=0
for a in "$@"; do case "$a" in --download-only) dl=1;; update) update=1;; -*|DPkg::*|install) ;; *) pkgs+=("$a");; esac; done
if [ $update = 1 ]; then echo "update" >> "$log"; exit 0; fi
if [ $dl = 1 ]; then echo "download \${pkgs[*]}" >> "$log"; exit 0; fi
echo "install \${pkgs[*]} start" >> "$log"; sleep ${secs}
for p in "\${pkgs[@]}"; do touch "${dir}/installed/$p"; done
echo "install \${pkgs[*]} end" >> "$log"`,
  );
  sh('id', `echo ${uid}`);
  sh('debconf-set-selections', 'cat > /dev/null');
  return {
    dir,
    env: {
      ...process.env,
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      PEERPOST_PEERS_LOCK: join(dir, 'peers.lock'),
    },
    log: () => (existsSync(join(dir, 'apt.log')) ? readFileSync(join(dir, 'apt.log'), 'utf8').trim().split('\n') : []),
  };
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const p = spawn('bash', [INSTALL_SH, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code, err }));
  });
}

test('two installs of a missing peer at once take turns: one installs it, the other waits and installs nothing', async () => {
  const s = shims(0);
  try {
    const [a, b] = await Promise.all([run(['swaks'], s.env), run(['swaks'], s.env)]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    const installs = s.log().filter((l) => l.startsWith('install '));
    assert.deepEqual(installs, ['install swaks start', 'install swaks end'], s.log().join('\n'));
    const waited = [a, b].filter((r) => /another install of test peers is running; waiting/.test(r.err));
    assert.equal(waited.length, 1, `${a.err}\n---\n${b.err}`);
    assert.ok(s.log().filter((l) => l === 'update').length <= 1, 'apt-get update ran at most once');
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('not root, a missing peer is a failure that names the one command to run (no apt-get, no lock)', async () => {
  const s = shims(1000);
  try {
    const r = await run(['swaks', 'ngircd'], s.env);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /sudo bash test\/peers\/install\.sh ngircd swaks|sudo bash test\/peers\/install\.sh swaks ngircd/,
    );
    assert.deepEqual(s.log(), []);
    assert.equal(existsSync(join(s.dir, 'peers.lock')), false);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('--check names what is missing; inn2 brings postfix (else apt would pull in exim4)', () => {
  const s = shims(1000);
  try {
    const r = spawnSync('bash', [INSTALL_SH, '--check', 'inn2'], { env: s.env, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.deepEqual(r.stdout.trim().split('\n'), ['postfix', 'inn2']);
    writeFileSync(join(s.dir, 'installed', 'postfix'), '');
    const again = spawnSync('bash', [INSTALL_SH, '--check', 'inn2', 'swaks'], { env: s.env, encoding: 'utf8' });
    assert.equal(again.status, 1);
    assert.deepEqual(again.stdout.trim().split('\n'), ['inn2', 'swaks']);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('every peer a test or benchmark asks for is one install.sh knows; an unknown name is refused', () => {
  const list = (flag: string) => spawnSync('bash', [INSTALL_SH, flag], { encoding: 'utf8' }).stdout.trim().split('\n');
  const known = [...list('--list'), ...list('--list-bench')];
  assert.ok(!list('--list').includes('public-inbox'), 'a benchmark-only peer is not installed with the tests');
  const asked = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts'))
        for (const m of readFileSync(p, 'utf8').matchAll(/requirePeer\(([^)]*)\)/g))
          for (const n of m[1].matchAll(/'([a-z0-9][a-z0-9.+-]*)'/g)) asked.add(n[1]);
    }
  };
  walk(join(ROOT, 'test'));
  walk(join(ROOT, 'bench'));
  assert.ok(asked.size >= 10, `found only ${[...asked].join(', ')}`);
  for (const p of asked) assert.ok(known.includes(p), `requirePeer('${p}') names no peer of install.sh`);
  const r = spawnSync('bash', [INSTALL_SH, 'no-such-peer'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no peer named 'no-such-peer'; the peers are: finger /);
});
