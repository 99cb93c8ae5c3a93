/**
 * Fan-out of the pipeline's news (encoded batches, scans opening and closing, refusals, model swaps) as RxJS streams.
 * Each owner keeps its Subject private and exposes only the Observable; a Subject delivers synchronously, in
 * subscription order, so a subscriber has seen a value before the owner goes on (alerts score a batch before the next
 * one is written; the fit monitor assesses a scan before its final results are written). Owners complete their
 * streams when the daemon closes: no subscriber is called after that.
 *
 * RxJS catches an error thrown by a subscriber and re-throws it on a timer, where it would end the process. So
 * subscribers wrap their handler in `guarded`: the error is logged and dropped there, and the other subscribers, the
 * owner and ingest go on.
 */
import type { Logger } from '../util/log.ts';

/** `fn`, with any error it throws logged (as `subscriber`'s) instead of escaping into RxJS. */
export function guarded<T>(log: Logger, subscriber: string, fn: (value: T) => void): (value: T) => void {
  return (value) => {
    try {
      fn(value);
    } catch (err) {
      log.error({ subscriber, err: (err as Error).message, stack: (err as Error).stack }, `${subscriber} failed on a pipeline notification (ignored; ingest goes on): ${(err as Error).message}`);
    }
  };
}
