/**
 * The one encode path: "encode this batch of model inputs into these maps". Live ingest (model-encoder.ts) and
 * re-encoding after a model swap (finetune/reencode.ts) both come here; the offline tools (calibration, the
 * quality evaluation) replay their files through the daemon's pipeline and so come here too (app/calibrate.ts).
 *
 * One call: run the engine's encoder + decoder once on the batch, drop every row whose input, embedding or error
 * is not finite (never written into the maps), write μ, log σ², error and version into each scan's maps, and keep
 * the scan's counters following its map (`encoded` counts pixels first encoded, `errorSum` is the sum of what
 * the error map shows). Returns what was written, scan by scan, and which rows were dropped.
 */
import { PIXEL_DONE } from '../maps/scan-maps.ts';
import type { InferenceEngine } from '../model/engine.ts';
import type { ScanContext } from './scan-context.ts';

/** Where row k of the batch goes: its scan and its flat map index. */
export interface EncodeTarget {
  ctx: ScanContext;
  index: number;
}

export interface EncodeIntoMapsOptions {
  /** copy each written row of x into its scan's `inputs` (live ingest keeps them for re-encoding and the hub) */
  storeInputs?: boolean;
  /** checked per row after the engine call, before writing: false = leave that pixel as it is */
  accept?: (target: EncodeTarget) => boolean;
}

/** What one batch wrote. */
export interface EncodeIntoMapsResult {
  /** per scan touched, in batch order: the flat indices just written */
  written: Array<{ ctx: ScanContext; index: Uint32Array }>;
  /** rows (batch positions) dropped because their input, embedding or error is not finite */
  nonFinite: number[];
  /** duration of the engine call, ms */
  engineMs: number;
}

/**
 * Encode rows [0, targets.length) of `x` ([n][T·C], the bundle's canonical model input) with `engine` and write
 * them into the maps of their scans.
 */
export async function encodeIntoMaps(engine: InferenceEngine, x: Float32Array, targets: readonly EncodeTarget[], opts: EncodeIntoMapsOptions = {}): Promise<EncodeIntoMapsResult> {
  const n = targets.length;
  if (n === 0) return { written: [], nonFinite: [], engineMs: 0 };
  const t0 = performance.now();
  const out = await engine.encodeDecode(x.subarray(0, n * engine.T * engine.C), n);
  const engineMs = performance.now() - t0;
  return { ...writeIntoMaps(engine, x, out, targets, opts), engineMs };
}

/** The engine's outputs for n rows: μ and log σ² [n][latentDim], reconstruction error [n]. */
export interface EngineRows {
  mu: Float32Array;
  logVar: Float32Array;
  error: Float32Array;
}

/**
 * The writing half of `encodeIntoMaps`: rows of `x` and the engine's outputs `out` for them, written into the maps
 * of their scans under `model.version`. Also reached on its own by a reprocessing merge job (src/scale), which
 * writes outputs that pixel-range jobs computed with the same engine, batch by batch in the order replay encodes.
 */
export function writeIntoMaps(model: Pick<InferenceEngine, 'T' | 'C' | 'latentDim' | 'version'>, x: Float32Array, out: EngineRows, targets: readonly EncodeTarget[], opts: EncodeIntoMapsOptions = {}): Omit<EncodeIntoMapsResult, 'engineMs'> {
  const n = targets.length;
  const stride = model.T * model.C;
  const d = model.latentDim;
  // Last guard: whatever got through, an Inf/NaN input, embedding or error is never written into the maps.
  const nonFinite: number[] = [];
  const byScan = new Map<ScanContext, number[]>();
  for (let k = 0; k < n; k++) {
    if (!(allFinite(x, k * stride, (k + 1) * stride) && allFinite(out.mu, k * d, (k + 1) * d) && allFinite(out.logVar, k * d, (k + 1) * d) && Number.isFinite(out.error[k]))) {
      nonFinite.push(k);
      continue;
    }
    const target = targets[k]!;
    if (opts.accept && !opts.accept(target)) continue;
    let rows = byScan.get(target.ctx);
    if (!rows) byScan.set(target.ctx, (rows = []));
    rows.push(k);
  }
  // Batches are usually one scan; interleaved producers give several, written one scan at a time.
  const written: EncodeIntoMapsResult['written'] = [];
  for (const [ctx, ks] of byScan) {
    const whole = ks.length === n;
    const pick = (src: Float32Array, width: number) => {
      if (whole && src.length === n * width) return src;
      const dst = new Float32Array(ks.length * width);
      ks.forEach((k, j) => dst.set(src.subarray(k * width, (k + 1) * width), j * width));
      return dst;
    };
    const index = Uint32Array.from(ks, (k) => targets[k]!.index);
    const error = pick(out.error, 1);
    if (opts.storeInputs && ctx.inputs) ks.forEach((k, j) => ctx.inputs!.set(x.subarray(k * stride, (k + 1) * stride), index[j]! * stride));
    // The counters follow the map: a pixel encoded again replaces its error in the sum, so the scan's mean error
    // (scanMeanError) is the mean of what the map shows.
    const inBatch = new Map<number, number>(); // a pixel twice in one batch: the later row wins, as in the map
    for (let j = 0; j < index.length; j++) {
      const i = index[j]!;
      const before = inBatch.get(i) ?? (ctx.maps.state[i] === PIXEL_DONE ? ctx.maps.error[i]! : undefined);
      if (before === undefined) ctx.counters.encoded++;
      ctx.counters.errorSum += error[j]! - (before ?? 0);
      inBatch.set(i, error[j]!);
    }
    ctx.maps.applyBatch({ index, mu: pick(out.mu, d), logVar: pick(out.logVar, d), error, version: model.version });
    written.push({ ctx, index });
  }
  return { written, nonFinite };
}

function allFinite(a: Float32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}
