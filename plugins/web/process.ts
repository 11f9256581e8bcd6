/**
 * The daemon process's own gauges for /metrics: memory (resident, V8 heap,
 * external), open file descriptors and the event loop's lag. What an operator
 * who never restarts the daemon watches for growth.
 *
 * The event-loop lag is measured by node's monitorEventLoopDelay and reported
 * per window: the p99 and maximum of the last completed window (`windowMs`,
 * 10 s by default), so that every scrape reads the same figure whoever else
 * scrapes, and an old stall does not linger.
 */
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface ProcessGauges {
  residentBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** Buffers (part of external). */
  arrayBuffersBytes: number;
  /** Open file descriptors; undefined where /proc/self/fd cannot be read (not Linux). */
  openFds: number | undefined;
  /** The event loop's delay over the last completed window, in seconds (0 before the first window ends). */
  eventLoopLagP99Seconds: number;
  eventLoopLagMaxSeconds: number;
}

export interface ProcessMonitor {
  gauges(): ProcessGauges;
  /** Stop measuring (the timer and the histogram). */
  stop(): void;
}

/** Open file descriptors of this process (Linux), undefined elsewhere. */
export function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

export function processMonitor(windowMs = 10_000): ProcessMonitor {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let last = { p99: 0, max: 0 };
  const roll = () => {
    // Nanoseconds; a histogram with no sample yet reports NaN/0.
    last = { p99: h.count ? h.percentile(99) / 1e9 : 0, max: h.count ? h.max / 1e9 : 0 };
    h.reset();
  };
  const timer = setInterval(roll, windowMs);
  timer.unref();
  return {
    gauges() {
      const m = process.memoryUsage();
      return {
        residentBytes: m.rss,
        heapUsedBytes: m.heapUsed,
        heapTotalBytes: m.heapTotal,
        externalBytes: m.external,
        arrayBuffersBytes: m.arrayBuffers,
        openFds: openFds(),
        eventLoopLagP99Seconds: last.p99,
        eventLoopLagMaxSeconds: last.max,
      };
    },
    stop() {
      clearInterval(timer);
      h.disable();
    },
  };
}
