/**
 * Time series for bench/soak.ts: least-squares slopes, a CSV, and a plot drawn
 * as SVG by hand (no plotting dependency): one small panel per column, time in
 * minutes across, the warm-up shaded, bursts marked.
 */

/** The least-squares slope of y over x (NaN with fewer than two points or no spread in x). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const pts = xs.map((x, i) => [x, ys[i]!] as const).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const n = pts.length;
  if (n < 2) return NaN;
  const mx = pts.reduce((s, [x]) => s + x, 0) / n;
  const my = pts.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of pts) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

export type Row = Record<string, number>;

/** Rows as CSV, columns in the given order (empty for NaN). */
export function toCsv(columns: readonly string[], rows: readonly Row[]): string {
  const cell = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : String(+v.toFixed(3)));
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export interface Panel {
  column: string;
  label: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A tidy upper bound for an axis: 1, 2 or 5 times a power of ten, at least max. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const k of [1, 2, 5, 10]) if (k * p >= max) return k * p;
  return 10 * p;
}

/**
 * The plot: panels in two columns, x = minutes since the start (`x` column, in seconds), the warm-up
 * (before warmupS) shaded grey, each burst a red tick at the top.
 */
export function svgPlot(
  title: string,
  rows: readonly Row[],
  x: string,
  panels: readonly Panel[],
  opts: { warmupS: number; bursts: readonly number[] },
): string {
  const W = 440;
  const H = 150;
  const M = { l: 52, r: 12, t: 22, b: 26 };
  const cols = 2;
  const head = 30;
  const width = cols * W;
  const height = head + Math.ceil(panels.length / cols) * H;
  const xs = rows.map((r) => r[x]! / 60);
  const xMax = Math.max(1, ...xs);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="19" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  panels.forEach((p, i) => {
    const ox = (i % cols) * W;
    const oy = head + Math.floor(i / cols) * H;
    const pw = W - M.l - M.r;
    const ph = H - M.t - M.b;
    const ys = rows.map((r) => r[p.column]!);
    const finite = ys.filter((v) => Number.isFinite(v));
    const yMax = niceMax(Math.max(0, ...finite));
    const px = (v: number) => ox + M.l + (v / xMax) * pw;
    const py = (v: number) => oy + M.t + ph - (v / yMax) * ph;
    out.push(`<g>`);
    out.push(`<text x="${ox + M.l}" y="${oy + 14}" font-weight="bold">${esc(p.label)}</text>`);
    if (opts.warmupS > 0)
      out.push(
        `<rect x="${px(0)}" y="${oy + M.t}" width="${Math.max(0, px(Math.min(xMax, opts.warmupS / 60)) - px(0))}" height="${ph}" fill="#eee"/>`,
      );
    out.push(`<rect x="${ox + M.l}" y="${oy + M.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    for (const k of [0, 0.5, 1]) {
      const v = yMax * k;
      out.push(
        `<line x1="${ox + M.l - 3}" x2="${ox + M.l + pw}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`,
        `<text x="${ox + M.l - 5}" y="${py(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`,
      );
    }
    const step = xMax > 20 ? 5 : xMax > 6 ? 2 : 1;
    for (let m = 0; m <= xMax + 1e-9; m += step)
      out.push(`<text x="${px(m)}" y="${oy + M.t + ph + 14}" text-anchor="middle">${m}</text>`);
    out.push(`<text x="${ox + M.l + pw}" y="${oy + M.t + ph + 24}" text-anchor="end" fill="#666">minutes</text>`);
    for (const b of opts.bursts)
      out.push(
        `<line x1="${px(b / 60)}" x2="${px(b / 60)}" y1="${oy + M.t}" y2="${oy + M.t + 8}" stroke="#c00" stroke-width="2"/>`,
      );
    const pts = rows
      .map((r, k) => [xs[k]!, ys[k]!] as const)
      .filter(([, v]) => Number.isFinite(v))
      .map(([a, v]) => `${px(a).toFixed(1)},${py(v).toFixed(1)}`);
    if (pts.length) out.push(`<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    out.push(`</g>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
