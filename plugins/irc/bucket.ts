/**
 * Flood control: a token bucket per IRC connection. `burst` lines may go at
 * once; after that one line per `intervalMs`. Callers queue in order (first
 * come, first served), so the lines of one channel keep their order and no
 * channel starves another. Nothing is dropped: take() waits.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly queue: {
    resolve: () => void;
    reject: (e: Error) => void;
    signal?: AbortSignal;
    onAbort?: () => void;
  }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private burst: number,
    private intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Change the rate in place (a reloaded config); tokens in hand are kept, up to the new burst. */
  configure(burst: number, intervalMs: number): void {
    this.refill();
    this.burst = burst;
    this.intervalMs = intervalMs;
    this.tokens = Math.min(this.tokens, burst);
    this.reschedule();
  }

  private refill(): void {
    const t = this.now();
    if (this.intervalMs <= 0) this.tokens = this.burst;
    else this.tokens = Math.min(this.burst, this.tokens + (t - this.last) / this.intervalMs);
    this.last = t;
  }

  /** How long a take() made now would wait, in ms. */
  estimate(): number {
    this.refill();
    const need = this.queue.length + 1 - this.tokens;
    return need <= 0 ? 0 : Math.ceil(need * this.intervalMs);
  }

  /** Lines waiting for a token. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Take `n` tokens now if they are there and no one waits (a post said first): true when taken. */
  takeNow(n = 1): boolean {
    this.refill();
    if (this.queue.length > 0 || this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Resolves when a line may be sent; rejects when `signal` aborts first. */
  take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new Error('aborted'));
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const w: (typeof this.queue)[number] = { resolve, reject };
      if (signal) {
        w.signal = signal;
        w.onAbort = () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new Error('aborted'));
          this.reschedule();
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
      this.reschedule();
    });
  }

  private release(): void {
    this.timer = undefined;
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      const w = this.queue.shift()!;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
    this.reschedule();
  }

  private reschedule(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0) return;
    this.refill();
    const wait = Math.max(0, Math.ceil((1 - this.tokens) * this.intervalMs));
    this.timer = setTimeout(() => this.release(), wait);
  }

  /** Reject every waiter (the account stops). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.queue.splice(0)) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.reject(new Error('closed'));
    }
  }
}
