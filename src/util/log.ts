/**
 * Structured logging (pino): JSON lines for machines, pino-pretty for a person at a terminal; one child logger per
 * stage or scan. Log object first, message second: `log.warn({ scanId, seq, code }, message)`.
 */
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { PrettyStream } from 'pino-pretty';

export type { Logger };

/** How log lines are written: `auto` picks pretty when stderr (where logs go) is a terminal, else JSON. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * The format actually used. Logs go to stderr, so stderr decides: `loopstream replay f.h5 --summary-json > s.json`
 * at a terminal still shows readable logs, and `2> log.jsonl` or a supervisor's pipe gets JSON lines.
 */
export function resolveLogFormat(format: LogFormat, stderrIsTTY: boolean | undefined = process.stderr.isTTY): 'json' | 'pretty' {
  if (format === 'auto') return stderrIsTTY ? 'pretty' : 'json';
  return format;
}

/** Create the root logger. Logs go to stderr so stdout stays free for summaries (--summary-json). */
export function createLogger(opts: { level?: string; format?: LogFormat; name?: string } = {}): Logger {
  const level = opts.level ?? process.env.LOOPSTREAM_LOG_LEVEL ?? 'info';
  if (resolveLogFormat(opts.format ?? 'json') === 'pretty') {
    // sync: a fatal line is on the terminal before the process exits (pino-pretty's worker thread could lose it)
    return pino({ name: opts.name ?? 'loopstream', level }, prettyStream());
  }
  return pino({ name: opts.name ?? 'loopstream', level }, pino.destination(2));
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });

/** pino-pretty writing synchronously to stderr, loaded only when used (it is not needed for JSON logs). */
function prettyStream(): PrettyStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: { destination: number; sync: boolean }) => PrettyStream;
  return pretty({ destination: 2, sync: true });
}
