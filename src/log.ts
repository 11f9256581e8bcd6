/** Structured logs (pino): pretty on a terminal, JSON lines otherwise. */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { createRequire } from 'node:module';

export const LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(
  opts: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
  const level = (opts.level ?? 'info') as LevelWithSilent;
  const usePretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  const base = { level, base: { pid: process.pid }, serializers: { err: pino.stdSerializers.err } };
  if (usePretty) {
    // Loaded only for a terminal: JSON logs do without it (and its memory).
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    return pino(
      base,
      pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', sync: true, destination: 1 }),
    );
  }
  return pino(base, opts.destination ?? pino.destination({ fd: 1, sync: true }));
}
