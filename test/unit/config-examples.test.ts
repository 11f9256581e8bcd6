/**
 * Every shipped config (config/*.yaml, config/examples/*.yaml) loads with zero
 * errors, with the real plugin loader. The examples use the test plugins from
 * dist/test/helpers/, so this runs after a build.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, formatConfigError } from '../../src/config/load.js';
import { lookupPlugin } from '../../src/loader.js';

const CONFIG_DIR = fileURLToPath(new URL('../../../config/', import.meta.url));

const files = ['', 'examples/'].flatMap((sub) =>
  readdirSync(CONFIG_DIR + sub)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `${CONFIG_DIR}${sub}${f}`),
);

test('there are configs to check', () => {
  assert.ok(
    files.some((f) => f.endsWith('/config/peerpost.yaml')),
    'config/peerpost.yaml exists',
  );
  assert.ok(
    files.some((f) => f.includes('/examples/')),
    'config/examples/ has an example',
  );
});

for (const file of files) {
  test(`${file.slice(CONFIG_DIR.length - 'config/'.length)} loads without errors`, async () => {
    const r = await loadConfigFile(file, { lookup: lookupPlugin, env: {}, cwd: tmpdir() });
    assert.deepEqual(r.ok ? [] : r.errors.map(formatConfigError), []);
  });
}
