/**
 * docs/design.md is the design map that code comments and READMEs cite: it is in the repository, everything
 * cites it by that name, and what it states that the code can check stays true (files it names, post kinds,
 * store tables, digest defaults).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { POST_KINDS } from '../../src/post.js';
import { MIGRATIONS } from '../../src/store.js';
import { bridgeSchema } from '../../src/config/schema.js';
import { formatDuration } from '../../src/util.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/design.md'), 'utf8');

/** Source and documentation files of the repository (not dependencies or build output). */
function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (['node_modules', 'dist', '.git', 'data', 'test-artifacts'].includes(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|md|yaml|js|sh|py)$/.test(name)) yield p;
  }
}

test('nothing cites a DESIGN.md that is not there: the design is docs/design.md', () => {
  const self = join(ROOT, 'test/unit/design-doc.test.ts');
  const citing = [...files(ROOT)].filter((f) => f !== self && readFileSync(f, 'utf8').includes('DESIGN.md'));
  assert.deepEqual(
    citing.map((f) => f.slice(ROOT.length)),
    [],
    'these files cite DESIGN.md, which is not in the repository: point them to docs/design.md',
  );
  assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /\[docs\/design\.md\]\(docs\/design\.md\)/);
});

test('every file the design names is there', () => {
  const named = [...DOC.matchAll(/`((?:src|plugins|test|config|bench|docs)\/[A-Za-z0-9_./-]+)`/g)].map((m) => m[1]!);
  assert.ok(named.length >= 5, `the design names files: ${named.join(', ')}`);
  for (const f of named) {
    const path = f.replace('PROTOCOL', 'irc').replace(/\.js$/, '.ts');
    assert.ok(existsSync(join(ROOT, path)), `${f} (docs/design.md) is not in the repository`);
  }
});

test("the design's post kinds, store tables and digest defaults are the code's", () => {
  const kinds = /kind: ([^;]+);/.exec(DOC)?.[1];
  assert.ok(kinds, 'the Post in the design has kind');
  assert.deepEqual(
    [...kinds.matchAll(/'(\w+)'/g)].map((m) => m[1]),
    [...POST_KINDS],
  );

  // The tables the migrations leave: those created, less those a later migration dropped.
  const all = MIGRATIONS.join('\n');
  const dropped = new Set([...all.matchAll(/DROP TABLE (\w+)/g)].map((m) => m[1]!));
  const tables = [...all.matchAll(/CREATE (?:VIRTUAL )?TABLE (\w+)/g)]
    .map((m) => m[1]!)
    .filter((t) => !dropped.has(t))
    .sort();
  const store = DOC.slice(DOC.indexOf('## The store'), DOC.indexOf('## The plugin API'));
  const documented = [...store.matchAll(/^\| ((?:`\w+`(?:, )?)+) \|/gm)]
    .flatMap((m) => [...m[1]!.matchAll(/`(\w+)`/g)].map((x) => x[1]!))
    .sort();
  assert.deepEqual(
    documented,
    tables,
    'the tables in "The store" of docs/design.md are not the tables of src/store.ts',
  );

  const d = (bridgeSchema.parse({}) as { digest: { quiet: number; maxLines: number; maxAge: number; settle: number } })
    .digest;
  assert.match(DOC, new RegExp(`\`digest\\.quiet\` \\(${formatDuration(d.quiet)}\\)`));
  assert.match(DOC, new RegExp(`\`digest\\.maxLines\`\\s+\\(${d.maxLines}\\)`));
  assert.match(DOC, new RegExp(`\`digest\\.maxAge\` \\(${formatDuration(d.maxAge)}\\)`));
  assert.match(DOC, new RegExp(`\`digest\\.settle\` \\(${formatDuration(d.settle)}\\)`));
});
