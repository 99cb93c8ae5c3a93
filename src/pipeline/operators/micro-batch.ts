/**
 * microBatch: group pixels into batches for one inference call each — flushed when `maxSize` pixels are
 * waiting or `maxWaitMs` after the first of them arrived. Control items (start, gap, stop) flush the open
 * batch and pass through in order, so a scan's stop always follows all of its pixels.
 *
 * ```
 * items:    a-b-c------d----S--|       (S = control)
 * output:   ----x---------y-S--|       x = [a,b,c] (full at 3), y = [d] (10 frames after d), then S
 * ```
 */
import { Observable, type OperatorFunction, type SchedulerLike, asyncScheduler } from 'rxjs';

/** A batch of pixels, or a control item that passed through. */
export type Batched<P, C> = { kind: 'batch'; items: P[] } | { kind: 'control'; item: C };

/** @param isControl tells control items from pixels */
export function microBatch<P, C>(
  maxSize: number,
  maxWaitMs: number,
  isControl: (item: P | C) => item is C,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<P | C, Batched<P, C>> {
  return (source) =>
    new Observable<Batched<P, C>>((subscriber) => {
      let open: P[] = [];
      let timer: { unsubscribe(): void } | undefined;
      const flush = () => {
        timer?.unsubscribe();
        timer = undefined;
        if (open.length === 0) return;
        const items = open;
        open = [];
        subscriber.next({ kind: 'batch', items });
      };
      const sub = source.subscribe({
        next: (item) => {
          if (isControl(item)) {
            flush();
            subscriber.next({ kind: 'control', item });
            return;
          }
          open.push(item);
          if (open.length >= maxSize) flush();
          else if (!timer) timer = scheduler.schedule(flush, maxWaitMs);
        },
        error: (err) => {
          flush();
          subscriber.error(err);
        },
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        sub.unsubscribe();
      };
    });
}
