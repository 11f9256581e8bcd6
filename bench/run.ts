/**
 * Runs every benchmark module in bench/ and prints one table.
 *
 * A benchmark module is a bench/*.ts file (compiled to dist/bench/*.js) that exports
 *   export async function run(): Promise<Result[]>      // Result: bench/lib/result.ts
 * and optionally `export const title = '...'`, and `export const onlyWhenNamed = true` for a module that runs
 * only when a filter names it (the 30-minute soak). Files without a run() export are skipped,
 * so helpers may live beside them (or under bench/lib/). Modules run one after the other,
 * in file-name order.
 *
 *   npm run bench                 build, then all modules
 *   node dist/bench/run.js core   only modules whose file name contains "core"
 *   npm run bench -- soak --smoke the soak (runs only when named; its options after the name)
 *   ... --no-write                print only; leave bench/RESULTS.md alone
 *
 * Each module's figures also go into bench/RESULTS.md (the source tree's, not
 * dist's), in a section of its own that a later run of that module replaces,
 * with the date and the machine they were measured on.
 *
 * Figures are informational: the verdict column says whether a figure meets the
 * issue's target, and nothing fails on it. The exit code is non-zero only when a
 * module throws.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { isBenchModule, machine, markdown, mergeSection, peakRssMb, table, type Result } from './lib/result.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const write = !process.argv.includes('--no-write');
/** dist/bench/run.js → bench/RESULTS.md */
const resultsFile = join(here, '..', '..', 'bench', 'RESULTS.md');
const HEADER = `# Benchmark results

Written by \`npm run bench\` (bench/run.ts): each module's section is replaced when
that module runs again. Medians over several runs; the spread column gives the
minimum, maximum and number of runs. Nothing is asserted about time: the
verdict says whether a figure meets its issue's target, and the anchor column
gives the figure of the tool the issue compares with, where it names one.
Machines are shared and noisy; compare ratios more than absolute figures.
`;

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
  if ((mod as { onlyWhenNamed?: boolean }).onlyWhenNamed && !filters.some((p) => name.includes(p))) continue;
  const title = mod.title ?? name;
  process.stderr.write(`running ${name} ...\n`);
  const started = performance.now();
  try {
    const results = await mod.run();
    const seconds = (performance.now() - started) / 1000;
    groups.push({ title: `${title} — ${seconds.toFixed(1)} s`, results });
    if (write) {
      const doc = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : HEADER;
      const section = `${markdown(title.toLowerCase().startsWith(name) ? title : `${name}: ${title}`, results, seconds)}\n\nMeasured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine().replace(/^machine: /, '')}.`;
      writeFileSync(resultsFile, mergeSection(doc, name, section));
    }
  } catch (err) {
    failed++;
    console.error(`benchmark ${name} failed:`, err);
  }
}
if (groups.length === 0 && failed === 0)
  console.log(`no benchmark modules found in ${here}${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
if (groups.length) console.log('\n' + table(groups));
if (write && groups.length) console.log(`\nfigures written to ${resultsFile}`);
console.log(
  `\ntotal ${((performance.now() - t0) / 1000).toFixed(1)} s; peak RSS of the bench process ${peakRssMb().toFixed(1)} MB`,
);
if (failed) process.exitCode = 1;
