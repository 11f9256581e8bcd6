/**
 * Which config and which store: the lookup order every command and the daemon
 * share (-c, $PEERPOST_CONFIG, /etc/peerpost/peerpost.yaml when it exists, the
 * shipped default), node.data read from the config file's directory, and a
 * store that only the daemon creates. The system file is injected: the real
 * /etc is never read or written here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findConfig, describeSource, SHIPPED_CONFIG, SYSTEM_CONFIG } from '../../src/config/find.js';
import { loadConfigFile, parseConfig, dataDir } from '../../src/config/load.js';
import { Store, NoStoreError } from '../../src/store.js';
import { lookupPlugin } from '../../src/loader.js';
import { fakeLookup } from '../helpers/fake-plugins.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pp-find-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the lookup order: -c, then $PEERPOST_CONFIG, then the system file when it exists, then the shipped one', (t) => {
  const dir = tmp(t);
  const system = join(dir, 'etc-peerpost.yaml');
  const shipped = join(dir, 'shipped.yaml');
  const base = { cwd: '/srv/somewhere', systemFile: system, shippedFile: shipped };
  const env = { PEERPOST_CONFIG: 'from-env.yaml' };

  // No system file yet: the shipped default, whatever the working directory holds.
  assert.deepEqual(findConfig({ ...base, env: {} }), { file: shipped, source: 'shipped' });
  writeFileSync(system, 'node: {}\n');
  assert.deepEqual(findConfig({ ...base, env: {} }), { file: system, source: 'system' });
  // $PEERPOST_CONFIG beats the system file; relative to the working directory.
  assert.deepEqual(findConfig({ ...base, env }), { file: '/srv/somewhere/from-env.yaml', source: 'env' });
  // -c beats both.
  assert.deepEqual(findConfig({ ...base, env, given: '/x/given.yaml' }), { file: '/x/given.yaml', source: 'option' });
  assert.deepEqual(findConfig({ ...base, env, given: 'rel.yaml' }), {
    file: '/srv/somewhere/rel.yaml',
    source: 'option',
  });
  // An empty $PEERPOST_CONFIG counts as unset.
  assert.deepEqual(findConfig({ ...base, env: { PEERPOST_CONFIG: '' } }), { file: system, source: 'system' });
  // A chosen file that does not exist is still the one chosen (the load names it), never a fallback.
  assert.equal(findConfig({ ...base, env: { PEERPOST_CONFIG: join(dir, 'missing.yaml') } }).source, 'env');
});

test('the defaults: /etc/peerpost/peerpost.yaml and the config/peerpost.yaml of the package', () => {
  assert.equal(SYSTEM_CONFIG, '/etc/peerpost/peerpost.yaml');
  assert.equal(SHIPPED_CONFIG, join(ROOT, 'config/peerpost.yaml'));
  assert.ok(existsSync(SHIPPED_CONFIG));
  const seen: string[] = [];
  const f = findConfig({ env: {}, exists: (p) => (seen.push(p), false) });
  assert.deepEqual(seen, ['/etc/peerpost/peerpost.yaml'], 'only the system file is looked for');
  assert.deepEqual(f, { file: SHIPPED_CONFIG, source: 'shipped' });
  assert.match(
    describeSource(f),
    /shipped with peerpost: no -c, no \$PEERPOST_CONFIG, no \/etc\/peerpost\/peerpost\.yaml/,
  );
  assert.equal(describeSource({ file: '/x', source: 'system' }), '/etc/peerpost/peerpost.yaml exists');
});

test("a relative node.data is read from the config file's directory, not the working directory", async (t) => {
  const dir = tmp(t);
  const lookup = fakeLookup().lookup;
  const file = join(dir, 'etc', 'peerpost.yaml');
  const r = await parseConfig('node:\n  data: ./store\n', file, { lookup, env: {}, cwd: '/somewhere/else' });
  assert.ok(r.ok);
  assert.equal(r.config.node.data, join(dir, 'etc', 'store'));
  const up = await parseConfig('node:\n  data: ../var/pp\n', file, { lookup, env: {}, cwd: '/somewhere/else' });
  assert.ok(up.ok);
  assert.equal(up.config.node.data, join(dir, 'var', 'pp'));
  const dflt = await parseConfig('', file, { lookup, env: {}, cwd: '/somewhere/else' });
  assert.ok(dflt.ok);
  assert.equal(dflt.config.node.data, join(dir, 'etc', 'data'), 'the default ./data is beside the config');
  const abs = await parseConfig('node:\n  data: /var/lib/peerpost\n', file, { lookup, env: {}, cwd: dir });
  assert.ok(abs.ok);
  assert.equal(abs.config.node.data, '/var/lib/peerpost');
  // A relative config file name is read from the working directory, and node.data from the file's directory.
  mkdirSync(join(dir, 'conf'));
  writeFileSync(join(dir, 'conf', 'p.yaml'), 'node:\n  data: d\n');
  const rel = await loadConfigFile('conf/p.yaml', { lookup, env: {}, cwd: dir });
  assert.ok(rel.ok);
  assert.equal(rel.config.node.data, join(dir, 'conf', 'd'));
  assert.equal(dataDir('/etc/peerpost/peerpost.yaml', 'data'), '/etc/peerpost/data');
});

test('the shipped config keeps its store in ./data of the checkout, as the Quickstart says', async () => {
  const r = await loadConfigFile(SHIPPED_CONFIG, { lookup: lookupPlugin, env: {}, cwd: '/' });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  assert.equal(r.config.node.data, join(ROOT, 'data'));
});

test('Store.open with create: false neither creates the store nor its directory', (t) => {
  const dir = tmp(t);
  const data = join(dir, 'a', 'data');
  assert.throws(
    () => Store.open(data, { create: false }),
    (e: unknown) => e instanceof NoStoreError && e.dataDir === data && /no peerpost store in/.test(e.message),
  );
  assert.equal(existsSync(join(dir, 'a')), false, 'nothing was created');
  // A directory without a store is no store either, and stays empty.
  mkdirSync(data, { recursive: true });
  assert.throws(() => Store.open(data, { create: false }), NoStoreError);
  assert.equal(existsSync(join(data, 'peerpost.db')), false);
  // Once the daemon made one, it opens.
  Store.open(data).close();
  const s = Store.open(data, { create: false });
  assert.equal(s.file, join(data, 'peerpost.db'));
  s.close();
});
