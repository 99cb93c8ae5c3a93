/**
 * Structured logging (pino): JSON lines by default, one child logger per stage or scan.
 * Log object first, message second: `log.warn({ scanId, seq, code }, message)`.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Create the root logger. Logs go to stderr so stdout stays free for summaries (--summary-json). */
export function createLogger(opts: { level?: string; pretty?: boolean; name?: string } = {}): Logger {
  const level = opts.level ?? process.env.LOOPSTREAM_LOG_LEVEL ?? 'info';
  if (opts.pretty) {
    return pino({ name: opts.name ?? 'loopstream', level, transport: { target: 'pino-pretty', options: { destination: 2 } } });
  }
  return pino({ name: opts.name ?? 'loopstream', level }, pino.destination(2));
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
