/**
 * The replay summary's fine-tuning numbers (`loopstream replay --finetune`, docs/finetune.md §Replay summary): each
 * pixel's error under the initial model, recorded as it is encoded, against its error under the last accepted
 * model. Pixels first encoded after a swap never met the initial model; `summary` encodes them with it at the end.
 */
import type { Config } from '../config/schema.ts';
import type { Bundle } from '../model/bundle.ts';
import { encodeRows } from '../model/engine.ts';
import { createEngine } from '../model/runtime.ts';
import { PIXEL_DONE } from '../maps/scan-maps.ts';
import type { ScanContext } from '../pipeline/scan-context.ts';

/** What the replay summary reports about fine-tuning (CLI contract of `loopstream replay --finetune`). */
export interface FinetuneSummary {
  /** model versions used, the initial one included */
  modelVersions: number;
  /** mean error of the scan's encoded pixels under the initial model */
  errorBeforeFinetune: number | null;
  /** mean error of the same pixels under the last accepted model (after re-encoding) */
  errorAfterFinetune: number | null;
  /** rounds run and the versions they produced */
  finetuneRounds: number;
  acceptedVersions: number[];
}

/** Each scan's per-pixel error under the initial model (version `versionsUsed[0]`), and the summary built on it. */
export class InitialErrors {
  private readonly initialError = new WeakMap<ScanContext, Float32Array>();
  private readonly stride: number;

  constructor(
    private readonly config: Config,
    private readonly initialBundle: Bundle,
    /** versions the slot has held since start, in order (the initial one first) */
    private readonly versionsUsed: readonly number[],
  ) {
    this.stride = initialBundle.T * initialBundle.C;
  }

  /** Note the errors of the pixels `index` of `ctx` just encoded by the initial model. */
  record(ctx: ScanContext, index: Uint32Array): void {
    const maps = ctx.maps;
    let before = this.initialError.get(ctx);
    if (!before) this.initialError.set(ctx, (before = new Float32Array(maps.size).fill(Number.NaN)));
    const v0 = this.versionsUsed[0];
    for (let k = 0; k < index.length; k++) if (maps.version[index[k]] === v0) before[index[k]] = maps.error[index[k]];
  }

  /** Numbers for the replay summary of `ctx` after `rounds` rounds. */
  async summary(ctx: ScanContext | undefined, rounds: number): Promise<FinetuneSummary> {
    const base = { modelVersions: new Set(this.versionsUsed).size, finetuneRounds: rounds, acceptedVersions: this.versionsUsed.slice(1) };
    if (!ctx) return { ...base, errorBeforeFinetune: null, errorAfterFinetune: null };
    const { maps } = ctx;
    const before = this.initialError.get(ctx) ?? new Float32Array(maps.size).fill(Number.NaN);
    // Pixels first encoded after a swap never met the initial model: encode them with it now (a private engine).
    const missing: number[] = [];
    for (let i = 0; i < maps.size; i++) if (maps.state[i] === PIXEL_DONE && Number.isNaN(before[i])) missing.push(i);
    if (missing.length && ctx.inputs) {
      const engine = await createEngine(this.initialBundle, { engine: this.config.model.engine, provider: this.config.model.provider, threads: this.config.model.threads, version: this.versionsUsed[0] });
      try {
        const x = new Float32Array(missing.length * this.stride);
        missing.forEach((i, k) => x.set(ctx.inputs!.subarray(i * this.stride, (i + 1) * this.stride), k * this.stride));
        const { error } = await encodeRows(engine, x, missing.length, this.config.batch.maxSize);
        missing.forEach((i, k) => (before[i] = error[k]!));
      } finally {
        await engine.close();
      }
    }
    let sBefore = 0;
    let sAfter = 0;
    let n = 0;
    for (let i = 0; i < maps.size; i++) {
      if (maps.state[i] !== PIXEL_DONE) continue;
      sBefore += before[i];
      sAfter += maps.error[i];
      n++;
    }
    return { ...base, errorBeforeFinetune: n ? sBefore / n : null, errorAfterFinetune: n ? sAfter / n : null };
  }
}
