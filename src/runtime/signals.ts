/**
 * The daemon's signals: SIGTERM/SIGINT stop in order (a second one stops at once, leaving undelivered posts in
 * the outbox), SIGHUP reloads the config. Removed again once the daemon is done.
 */
import type { Logger } from 'pino';
import { EXIT } from '../plugin.js';
import { formatDuration } from '../util.js';

export interface SignalHandlers {
  log: Logger;
  /** True once a stop has begun. */
  stopping(): boolean;
  stop(): unknown;
  reload(): unknown;
  /** How long deliveries in flight get at a stop (delivery.shutdownGrace, read at the signal). */
  graceMs(): number;
  /** Resolves when the daemon has stopped: the handlers are removed then. */
  done: Promise<unknown>;
}

export function installSignals(h: SignalHandlers): void {
  const onStop = (sig: NodeJS.Signals) => {
    if (h.stopping()) {
      h.log.warn(`${sig} again: stopping at once; undelivered posts stay in the outbox`);
      process.exit(EXIT.FAILED);
    }
    h.log.info(`${sig}: stopping (deliveries in flight get ${formatDuration(h.graceMs())})`);
    void h.stop();
  };
  const onHup = () => {
    h.log.info('SIGHUP: reloading the config');
    void h.reload();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  void h.done.then(() => {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
  });
}
