/** Scale-out errors (src/scale): the job queue's Redis and reprocessing jobs. docs/errors.md gives each its fix. */
import { CodedError } from '../util/coded-error.ts';

/** Closed set of reasons a queue command or a reprocessing job is refused. */
// (a bad Redis URL, LS_SCALE_REDIS_URL, is a RedisUrlError: src/redis/redis-url.ts)
export const SCALE_ERROR_CODES = ['LS_SCALE_REDIS', 'LS_SCALE_FILE_CHANGED', 'LS_SCALE_NO_FILES'] as const;
export type ScaleErrorCode = (typeof SCALE_ERROR_CODES)[number];

/** A Redis that does not answer, or a job whose input changed since it was queued. */
export class ScaleError extends CodedError<ScaleErrorCode> {
  override readonly name = 'ScaleError';
}
