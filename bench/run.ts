/**
 * Runs every benchmark module in bench/ and prints one table.
 *
 * A benchmark module is a bench/*.ts file (compiled to dist/bench/*.js) that exports
 *   export async function run(): Promise<Result[]>      // Result: bench/lib/result.ts
 * and optionally `export const title = '...'`. Files without a run() export are skipped,
 * so helpers may live beside them (or under bench/lib/). Modules run one after the other,
 * in file-name order.
 *
 *   npm run bench                 build, then all modules
 *   node dist/bench/run.js core   only modules whose file name contains "core"
 *
 * Figures are informational: the verdict column says whether a figure meets the
 * issue's target, and nothing fails on it. The exit code is non-zero only when a
 * module throws.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { isBenchModule, machine, peakRssMb, table, type Result } from './lib/result.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));

const files = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== self)
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
  .sort();

console.log(machine());
const t0 = performance.now();
const groups: { title: string; results: Result[] }[] = [];
let failed = 0;
for (const f of files) {
  const mod: unknown = await import(pathToFileURL(join(here, f)).href);
  if (!isBenchModule(mod)) continue;
  const name = f.replace(/\.js$/, '');
  const title = mod.title ?? name;
  process.stderr.write(`running ${name} ...\n`);
  const started = performance.now();
  try {
    const results = await mod.run();
    groups.push({ title: `${title} — ${((performance.now() - started) / 1000).toFixed(1)} s`, results });
  } catch (err) {
    failed++;
    console.error(`benchmark ${name} failed:`, err);
  }
}
if (groups.length === 0 && failed === 0) console.log(`no benchmark modules found in ${here}${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
if (groups.length) console.log('\n' + table(groups));
console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(1)} s; peak RSS of the bench process ${peakRssMb().toFixed(1)} MB`);
if (failed) process.exitCode = 1;
