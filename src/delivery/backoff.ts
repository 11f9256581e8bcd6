/**
 * The one backoff policy: how long to wait before trying again after failures
 * in a row. The outbox (delivery.retry), IRC reconnects (reconnect), news peer
 * connections (1 s up to maxBackoff), finger follows (the poll interval doubled,
 * up to maxBackoff) and the mail plugin's robot-mail queue (retryFirst, retryMax)
 * all wait by it; each keeps its own first and max settings.
 *
 * The wait after n failures is min(max, first·2^(n-1)) with "equal jitter":
 * between half and all of it, so that many peers cut off by one event do not
 * come back in step, and the wait never passes max. A steady poll is spread by
 * ±10 % for the same reason (spread()).
 *
 * Pure: the random source is a parameter (tests pass a fixed one).
 */

export interface BackoffOptions {
  /** The wait after the first failure (before jitter). */
  firstMs: number;
  /** The longest wait, however many failures. */
  maxMs: number;
}

/** Doublings stop here (2^30·first is beyond any max): no Infinity for a long outage. */
const MAX_DOUBLINGS = 30;

/**
 * The wait before the next try after `failures` failures in a row (1 = the first failure; 0 counts as 1):
 * min(max, first·2^(failures-1)), then between half and all of that.
 */
export function backoffDelay(failures: number, o: BackoffOptions, random: () => number = Math.random): number {
  const doublings = Math.min(MAX_DOUBLINGS, Math.max(0, failures - 1));
  const ceiling = Math.max(0, Math.min(o.maxMs, o.firstMs * 2 ** doublings));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** A steady period (a poll), spread by ±10 % so that nodes set in step by one event do not poll in step. */
export function spread(periodMs: number, random: () => number = Math.random): number {
  return Math.round(periodMs * (0.9 + 0.2 * random()));
}

/**
 * The failures in a row of one connection or poll loop, and the wait they call for.
 * fail() counts one more and answers the wait; succeed() starts over (the next failure waits about `first`).
 * The options may be a function, read at every failure (a reload that changes them applies at the next one).
 */
export class Backoff {
  private count = 0;

  constructor(
    private readonly options: BackoffOptions | (() => BackoffOptions),
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last success. */
  get failures(): number {
    return this.count;
  }

  /** One more failure: the wait before the next try. */
  fail(): number {
    this.count += 1;
    const o = typeof this.options === 'function' ? this.options() : this.options;
    return backoffDelay(this.count, o, this.random);
  }

  /** It worked: the count starts over. */
  succeed(): void {
    this.count = 0;
  }
}
