/**
 * ModelSlot: the model the pipeline encodes with right now. Fine-tuning swaps it between batches: every
 * inference call goes through `run`, which hands it one engine for the whole call, so a batch is always
 * encoded by exactly one model version, and an engine swapped out is closed only after its last call.
 */
import { Subject, type Observable } from 'rxjs';
import type { Bundle } from '../model/bundle.ts';
import type { InferenceEngine } from '../model/runtime.ts';

export interface ModelSlot {
  readonly engine: InferenceEngine;
  readonly bundle: Bundle;
  /** run one inference call on the current engine */
  run<T>(fn: (engine: InferenceEngine, bundle: Bundle) => Promise<T>): Promise<T>;
  /** swap in a new engine/bundle; the old engine is closed once its calls in flight finish */
  swap(engine: InferenceEngine, bundle: Bundle): Promise<void>;
  /** the slot, after each swap (the dashboard's model view); completes on `close` */
  readonly swapped$: Observable<ModelSlot>;
  /** complete `swapped$` (daemon shutdown) */
  close(): void;
}

/** A slot holding `engine` for `bundle`. */
export function createModelSlot(engine: InferenceEngine, bundle: Bundle): ModelSlot {
  const swapped = new Subject<ModelSlot>();
  const inFlight = new Map<InferenceEngine, Set<Promise<unknown>>>();
  let current = { engine, bundle };
  return {
    get engine() {
      return current.engine;
    },
    get bundle() {
      return current.bundle;
    },
    run(fn) {
      const { engine: e, bundle: b } = current;
      const p = fn(e, b);
      let set = inFlight.get(e);
      if (!set) inFlight.set(e, (set = new Set()));
      set.add(p);
      const done = () => set!.delete(p);
      p.then(done, done);
      return p;
    },
    async swap(next, nextBundle) {
      const old = current.engine;
      current = { engine: next, bundle: nextBundle };
      swapped.next(this);
      if (old === next) return;
      await Promise.allSettled([...(inFlight.get(old) ?? [])]);
      inFlight.delete(old);
      await old.close();
    },
    swapped$: swapped.asObservable(),
    close() {
      swapped.complete();
    },
  };
}
