import { pathToFileURL } from 'node:url';
/**
 * What a benchmark module hands back, and the helpers to compute and print it.
 *
 * A benchmark module is any bench/*.ts whose compiled module exports
 *   export async function run(): Promise<Result[]>
 * (optionally also `export const title = '...'`). bench/run.ts finds and runs them
 * all and prints one table. Figures are informational: nothing here asserts a time.
 */
import os from 'node:os';

export interface Target {
  /** The figure meets its target when value >= atLeast ... */
  atLeast?: number;
  /** ... and value <= atMost. */
  atMost?: number;
}

export interface Result {
  /** What was measured, e.g. "durable ingest, core, synchronous=NORMAL". */
  figure: string;
  /** The median over runs (or the single value of a single run). */
  value: number;
  unit: string;
  /** Spread over runs, when there were several. */
  min?: number;
  max?: number;
  runs?: number;
  target?: Target;
  /** Decimal places to print (default: 0 for values >= 100, else 2). */
  digits?: number;
  /** A short remark printed under the table. */
  note?: string;
  /** The side-by-side figure of another tool, when the issue names one: "INN 2.7: 3,000 articles/s". */
  anchor?: string;
}

export interface BenchModule {
  title?: string;
  run(): Promise<Result[]>;
}

export function isBenchModule(m: unknown): m is BenchModule {
  return typeof (m as { run?: unknown })?.run === 'function';
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of an already sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** A figure measured over several runs: median with min/max. */
export function summarise(
  figure: string,
  unit: string,
  samples: readonly number[],
  extra: Partial<Result> = {},
): Result {
  return {
    figure,
    unit,
    value: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    runs: samples.length,
    ...extra,
  };
}

export function fmt(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return String(x);
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function verdict(r: Result): string {
  const t = r.target;
  if (!t || (t.atLeast === undefined && t.atMost === undefined)) return '';
  const ok = (t.atLeast === undefined || r.value >= t.atLeast) && (t.atMost === undefined || r.value <= t.atMost);
  return ok ? 'meets' : 'misses';
}

function targetText(r: Result): string {
  const t = r.target;
  if (!t) return '';
  const parts: string[] = [];
  if (t.atLeast !== undefined) parts.push(`>= ${fmt(t.atLeast, r.digits)}`);
  if (t.atMost !== undefined) parts.push(`<= ${fmt(t.atMost, r.digits)}`);
  return parts.join(', ');
}

/** One plain-text table: figure, median, spread, target, verdict. */
export function table(groups: { title: string; results: Result[] }[]): string {
  const head = ['figure', 'median', 'spread (min–max, runs)', 'target', 'verdict'];
  const rows: (string[] | string)[] = [];
  const notes: string[] = [];
  for (const g of groups) {
    rows.push(`[${g.title}]`);
    for (const r of g.results) {
      const spread =
        r.min !== undefined && r.max !== undefined
          ? `${fmt(r.min, r.digits)} – ${fmt(r.max, r.digits)}${r.runs !== undefined ? ` (${r.runs})` : ''}`
          : '';
      rows.push([r.figure, `${fmt(r.value, r.digits)} ${r.unit}`, spread, targetText(r), verdict(r)]);
      if (r.note) notes.push(`${r.figure}: ${r.note}`);
    }
  }
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => (typeof row === 'string' ? 0 : row[i]!.length))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  const out = [line(head), rule];
  for (const row of rows) out.push(typeof row === 'string' ? row : line(row));
  if (notes.length) out.push('', 'notes:', ...notes.map((n) => `  - ${n}`));
  return out.join('\n');
}

export function machine(): string {
  const cpus = os.cpus();
  return (
    `machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM; ` +
    `node ${process.version} (${process.platform}/${process.arch}); tmpdir ${os.tmpdir()}`
  );
}

/** Peak resident set size of this process so far, in MB (resourceUsage().maxRSS is in KiB). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** One module's figures as a Markdown table (for bench/RESULTS.md). */
export function markdown(title: string, results: Result[], seconds: number): string {
  const out = [
    `### ${title}`,
    '',
    `(${seconds.toFixed(1)} s)`,
    '',
    '| figure | median | spread (min–max, runs) | target | verdict | anchor |',
    '| --- | ---: | --- | --- | --- | --- |',
  ];
  const notes: string[] = [];
  for (const r of results) {
    const spread =
      r.min !== undefined && r.max !== undefined
        ? `${fmt(r.min, r.digits)} – ${fmt(r.max, r.digits)}${r.runs !== undefined ? ` (${r.runs})` : ''}`
        : '';
    out.push(
      `| ${[r.figure, `${fmt(r.value, r.digits)} ${r.unit}`, spread, targetText(r), verdict(r), r.anchor ?? ''].map(mdCell).join(' | ')} |`,
    );
    if (r.note) notes.push(`- ${r.figure}: ${r.note}`);
  }
  if (notes.length) out.push('', ...notes);
  return out.join('\n');
}

/**
 * Put one module's section into RESULTS.md text, replacing its previous section
 * (between <!-- bench:NAME --> markers) and keeping the others.
 */
export function mergeSection(doc: string, name: string, section: string): string {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n${section}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

/** When a benchmark module is run directly (`node dist/bench/NAME.js`): print the machine, run it, print its table. */
export function runWhenMain(moduleUrl: string, title: string, run: () => Promise<Result[]>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  console.log(machine());
  run().then(
    (results) => console.log(table([{ title, results }])),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
