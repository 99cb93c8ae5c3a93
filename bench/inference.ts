/**
 * Inference throughput through the product path (src/model/runtime.ts createEngine, onnxruntime-node): encoder,
 * decoder and encoder+decoder (what the pipeline runs per batch) at each batch size and intra-op thread count.
 * Sequences/s come from the median call; GFLOP/s from the architecture's FLOP count (bench/flops.ts).
 */
import { createEngine } from '../src/model/runtime.ts';
import type { BenchBundle } from './bundles.ts';
import { vaeFlops } from './flops.ts';
import { loadNow } from './machine.ts';
import { timeCalls } from './timing.ts';

/** One inference measurement. */
export interface InferenceRow {
  preset: string;
  origin: string;
  part: 'encoder' | 'decoder' | 'both';
  threads: number;
  batch: number;
  reps: number;
  medianMs: number;
  bestMs: number;
  /** process CPU ms per call (both threads summed) */
  cpuMs: number;
  seqPerSec: number;
  gflops: number;
  /** GFLOP/s ÷ SGEMM peak at the same thread count, % (filled in by the runner) */
  pctPeak?: number;
  /** sequences per CPU-second (all threads' CPU time summed; filled in by the runner) */
  seqPerCpuSec?: number;
  gflopsPerCpuSec?: number;
  /** GFLOP per CPU-second ÷ the 1-thread SGEMM peak, % */
  pctPeakCpu?: number;
  load1: number;
}

/** Deterministic pseudo-random N(0,1)-ish input (sum of uniforms), the scale of preprocessed data. */
export function benchInput(n: number, seed = 1): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      v += s / 4294967296;
    }
    x[i] = (v - 2) * 1.7;
  }
  return x;
}

/** Measure every part × thread count × batch for one bundle. */
export async function benchInference(bb: BenchBundle, opts: { threads: number[]; batches: number[]; parts: Array<InferenceRow['part']>; minSeconds: number; onRow?: (r: InferenceRow) => void }): Promise<InferenceRow[]> {
  const { bundle } = bb;
  const flops = vaeFlops(bundle.manifest.dims);
  const rows: InferenceRow[] = [];
  const maxBatch = Math.max(...opts.batches);
  const x = benchInput(maxBatch * bundle.T * bundle.C, 3);
  const z = benchInput(maxBatch * bundle.latentDim, 4);
  for (const threads of opts.threads) {
    const engine = await createEngine(bundle, { engine: 'onnx', provider: 'cpu', threads });
    try {
      for (const part of opts.parts) {
        for (const batch of opts.batches) {
          const xs = x.subarray(0, batch * bundle.T * bundle.C);
          const zs = z.subarray(0, batch * bundle.latentDim);
          const fn = part === 'encoder' ? () => engine.encode(xs, batch) : part === 'decoder' ? () => engine.decode(zs, batch) : () => engine.encodeDecode(xs, batch);
          // One call of a big paper batch takes seconds: one warm-up call is enough there, and 2 timed calls.
          const t = await timeCalls(fn, { minSeconds: opts.minSeconds, minReps: 2 });
          const perSeq = part === 'encoder' ? flops.encoder : part === 'decoder' ? flops.decoder : flops.total;
          const seqPerSec = (batch * 1000) / t.medianMs;
          const row: InferenceRow = { preset: bb.preset, origin: bb.origin, part, threads, batch, reps: t.reps, medianMs: +t.medianMs.toFixed(3), bestMs: +t.bestMs.toFixed(3), cpuMs: +t.cpuMsPerCall.toFixed(3), seqPerSec: +seqPerSec.toFixed(1), gflops: +((seqPerSec * perSeq) / 1e9).toFixed(3), load1: loadNow()[0] };
          rows.push(row);
          opts.onRow?.(row);
        }
      }
    } finally {
      await engine.close();
    }
  }
  return rows;
}
