/** Small helpers with no better home. */

/** 1500 → "1.5s", 90000 → "1m30s", 259200000 → "3d". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  let rest = Math.round(ms / 1000) * 1000;
  let out = '';
  for (const [u, n] of units) {
    if (rest >= n) {
      out += `${Math.floor(rest / n)}${u}`;
      rest %= n;
    }
    if (out.length >= 4) break;
  }
  return out;
}

/**
 * A count and its noun: plural(1, 'line') is "1 line", plural(3, 'line') "3 lines", plural(0, 'reply', 'replies')
 * "0 replies", plural(12000, 'post') "12,000 posts". The one place a number meets a noun in what peerpost says.
 */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${groupDigits(n)} ${n === 1 ? one : many}`;
}

/**
 * A number as en-US writes it ("12,000"). Whole numbers are grouped here: Number.toLocaleString loads ICU's number
 * formatting, about 7 MB of memory for the life of the process, for a comma. Other numbers (rare) go to it.
 */
export function groupDigits(n: number): string {
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n)).replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 ? `-${digits}` : digits;
}

/** Settle within ms or reject with a timeout error saying what was being waited for. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => {
        timer = setTimeout(
          () =>
            rej(Object.assign(new Error(`${what} did not finish within ${formatDuration(ms)}`), { code: 'ETIMEDOUT' })),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
