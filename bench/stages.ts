/**
 * Cost of each pipeline stage per batch, measured alone on the same simulated pixels, to explain the end-to-end
 * numbers: preprocessing (toModelInput), inference (encodeDecode), maps (ScanMaps.applyBatch), recording
 * (ScanRecorder append + flush, what recordRaw does for every live batch) and the results file (writeResultsFile,
 * once per flush interval and at scan end).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanMaps } from '../src/maps/scan-maps.ts';
import { createEngine } from '../src/model/runtime.ts';
import { toModelInput } from '../src/preprocess/index.ts';
import type { PixelEvent } from '../src/protocol/events.ts';
import { simulateScan } from '../src/sim/index.ts';
import { writeResultsFile } from '../src/store/results-file.ts';
import { ScanRecorder } from '../src/store/scan-file.ts';
import type { BenchBundle } from './bundles.ts';
import { timeCalls } from './timing.ts';

/** One stage at one batch size: median ms per batch and per pixel. */
export interface StageRow {
  stage: string;
  batch: number;
  medianMs: number;
  perPixelUs: number;
}

/** Time each stage at each batch size (2 inference threads, the config default). */
export async function benchStages(bb: BenchBundle, opts: { batches: number[]; minSeconds: number; resultsGrids: number[] }): Promise<StageRow[]> {
  const { bundle } = bb;
  const maxB = Math.max(...opts.batches);
  const side = Math.ceil(Math.sqrt(maxB));
  const scan = simulateScan({ rows: side, cols: side, seed: 4 });
  const pixels: PixelEvent[] = [...scan.pixels()].slice(0, maxB);
  const stride = bundle.T * bundle.C;
  const x = new Float32Array(maxB * stride);
  const engine = await createEngine(bundle, { engine: 'onnx', provider: 'cpu', threads: 2 });
  const dir = await mkdtemp(join(tmpdir(), 'loopstream-bench-stages-'));
  const rows: StageRow[] = [];
  const add = (stage: string, batch: number, ms: number) => rows.push({ stage, batch, medianMs: +ms.toFixed(3), perPixelUs: +((ms * 1000) / batch).toFixed(1) });
  try {
    const maps = new ScanMaps(scan.start, bundle.latentDim);
    const t = { minSeconds: opts.minSeconds, minReps: 3 };
    for (const b of opts.batches) {
      const batch = pixels.slice(0, b);
      add('preprocess', b, (await timeCalls(async () => batch.forEach((p, k) => toModelInput(p.data, scan.start, bundle.preprocess, x, k * stride)), t)).medianMs);
      const out = await engine.encodeDecode(x.subarray(0, b * stride), b);
      add('inference (encode+decode)', b, (await timeCalls(() => engine.encodeDecode(x.subarray(0, b * stride), b), t)).medianMs);
      const index = Uint32Array.from(batch, (p) => p.row * scan.start.grid.cols + p.col);
      add('maps.applyBatch', b, (await timeCalls(async () => maps.applyBatch({ index, mu: out.mu, logVar: out.logVar, error: out.error, version: 1 }), t)).medianMs);
      const rec = await ScanRecorder.create(join(dir, `rec-${b}.h5`), scan.start, undefined, { overwrite: true });
      try {
        add('recording append+flush', b, (await timeCalls(async () => {
          rec.append(batch);
          rec.flush();
        }, { ...t, maxReps: Math.max(3, Math.floor(4096 / b)) })).medianMs);
      } finally {
        rec.close();
      }
    }
    for (const g of opts.resultsGrids) {
      const sim = simulateScan({ rows: g, cols: g, seed: 4 });
      const m = new ScanMaps(sim.start, bundle.latentDim);
      const ms = (await timeCalls(() => writeResultsFile(join(dir, `results-${g}.h5`), { maps: m, manifest: bundle.manifest, complete: true }), { minSeconds: opts.minSeconds, minReps: 2 })).medianMs;
      rows.push({ stage: `results file ${g}x${g}`, batch: g * g, medianMs: +ms.toFixed(3), perPixelUs: +((ms * 1000) / (g * g)).toFixed(2) });
    }
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
