/**
 * Every shipped config (config/*.yaml, config/examples/*.yaml) loads with zero
 * errors, with the real plugin loader, once the secrets it names are in the
 * environment (as an operator sets them); without them it is refused, and the
 * errors name each variable. No shipped file holds a default for a secret.
 * The examples use the test plugins from dist/test/helpers/, so this runs
 * after a build.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
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

/** The secrets the examples read from the environment, by file: what the README tells operators to set. */
const SECRETS: Record<string, string[]> = {
  'examples/irc.yaml': ['LIBERA_PASSWORD', 'OFTC_PASSWORD', 'OFTC_CHANNEL_KEY'],
  'examples/mail.yaml': ['SMARTHOST_PASSWORD'],
  'examples/news.yaml': ['ETERNAL_SEPTEMBER_PASSWORD'],
  'examples/walkthrough.yaml': ['LIBERA_PASSWORD', 'NEWS_ALICE_PASSWORD', 'PEERPOST_ADMIN_TOKEN'],
  'examples/web.yaml': ['WEB_TOKEN', 'PEERPOST_ADMIN_TOKEN'],
};
/** Values as an operator would set them (tokens at least 16 characters). */
const ENV = Object.fromEntries(
  [...new Set(Object.values(SECRETS).flat())].map((name) => [name, `test-secret-${name.toLowerCase()}-0123456789`]),
);

const rel = (file: string) => file.slice(CONFIG_DIR.length);

test('there are configs to check', () => {
  assert.ok(
    files.some((f) => f.endsWith('/config/peerpost.yaml')),
    'config/peerpost.yaml exists',
  );
  assert.ok(
    files.some((f) => f.includes('/examples/')),
    'config/examples/ has an example',
  );
  for (const name of Object.keys(SECRETS))
    assert.ok(
      files.some((f) => rel(f) === name),
      `${name} exists`,
    );
});

for (const file of files) {
  test(`config/${rel(file)} loads without errors, its secrets set in the environment`, async () => {
    const r = await loadConfigFile(file, { lookup: lookupPlugin, env: { ...ENV }, cwd: tmpdir() });
    assert.deepEqual(r.ok ? [] : r.errors.map(formatConfigError), []);
  });

  test(`config/${rel(file)}: each secret unset is an error naming the variable, and there is no other`, async () => {
    const r = await loadConfigFile(file, { lookup: lookupPlugin, env: {}, cwd: tmpdir() });
    const wanted = SECRETS[rel(file)] ?? [];
    if (wanted.length === 0) {
      assert.deepEqual(r.ok ? [] : r.errors.map(formatConfigError), []);
      return;
    }
    assert.equal(r.ok, false, 'refused without its secrets');
    const errors = r.ok ? [] : r.errors.map(formatConfigError);
    const named = errors.map((e) => /environment variable (\w+) is not set/.exec(e)?.[1]);
    assert.deepEqual([...new Set(named)].sort(), [...wanted].sort(), errors.join('\n'));
    for (const e of errors)
      assert.match(e, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+  .*export \\w+=`), e);
  });

  test(`config/${rel(file)} holds no default for a secret (\${NAME:-…} on a password, token or key)`, () => {
    const lines = readFileSync(file, 'utf8').split('\n');
    const bad = lines
      .map((l, i) => ({ l, n: i + 1 }))
      .filter(
        ({ l }) =>
          !/^\s*#/.test(l) &&
          (/(pass|token|secret|key)\w*\s*:[^#]*\$\{\w+:-/i.test(l) || /\$\{\w*(pass|token|secret|key)\w*:-/i.test(l)),
      );
    assert.deepEqual(
      bad.map(({ l, n }) => `${n}: ${l.trim()}`),
      [],
    );
  });
}
