/**
 * `loopstream replay FILE --summary-json` runs the full pipeline with the bundled model: the summary's counts and
 * mean error agree with the results file (read by h5py), and the β-VAE reconstructs the scan better than the
 * paper's linear baseline (dictionary learning, 5 components) on the same model inputs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/model/bundle.ts';
import { dictionaryBaselineError } from '../../src/model/dictionary-learning.ts';
import { canonicalInputs } from '../../src/preprocess/canonical-input.ts';
import type { StartHeader } from '../../src/protocol/messages.ts';
import { ScanRecorder } from '../../src/store/scan-file.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { writeSimulatedScan } from '../../src/sim/write-scan-file.ts';
import { python, runCli } from '../helpers/cli.ts';

async function writeF32(path: string, x: Float32Array): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  return path;
}

describe('loopstream replay through the pipeline', () => {
  it('reports pixels, missing, meanError, results and alerts, consistent with the results file', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-replay-'));
    const file = join(dir, 'scan.h5');
    const scan = simulateScan({ rows: 20, cols: 20, seed: 21, anomalies: 0 });
    await writeSimulatedScan(scan, file);

    // edge-sim: the bundle trained on this simulator's scans, so it should beat the linear baselines fitted on the scan
    const cli = runCli(['replay', file, '--bundle', 'fixtures/models/edge-sim', '--pace', 'max', '--summary-json', '--data', join(dir, 'data')]);
    expect(await cli.exited).toBe(0);
    const summary = JSON.parse(cli.stdout[cli.stdout.length - 1]) as Record<string, number | string>;
    expect(summary).toMatchObject({ pixels: 400, missing: 0, encoded: 400, rejected: 0, alerts: 0, layout: 'loopstream', stopStatus: 'completed' });
    expect(typeof summary.seconds).toBe('number');
    expect(summary.pxPerSec).toBeGreaterThan(0);
    expect(Number.isFinite(summary.meanError)).toBe(true);

    const h5 = await python<{ meanError: number; finite: number; complete: number; pca5: number; dl: number; oodFlag: number }>(
      `import h5py, json, sys, numpy as np
f = h5py.File(sys.argv[1], 'r')
print(json.dumps({'meanError': float(np.mean(f['error'][()].astype('f8'))), 'finite': int(np.isfinite(f['embedding'][()]).all(axis=2).sum()), 'complete': int(f.attrs['complete']),
  'pca5': float(f.attrs['baseline_pca5_mse']), 'dl': float(f.attrs['baseline_dl_mse']), 'oodFlag': int(f.attrs['ood_flag'])}))`,
      [String(summary.results)],
    );
    expect(h5.finite).toBe(400);
    expect(h5.complete).toBe(1);
    expect(h5.meanError).toBeCloseTo(Number(summary.meanError), 5);
    // baselines and the fit verdict: in the summary and, the same numbers, in the results file
    const baselines = summary.baselines as unknown as { pca5Mse: number; dlMse: number; pixelsUsed: number; seconds: number };
    expect(baselines.pixelsUsed).toBe(400); // fewer pixels than baselines.samplePixels: all of them
    expect(baselines.seconds).toBeGreaterThan(0);
    expect(h5.pca5).toBeCloseTo(baselines.pca5Mse, 10);
    expect(h5.dl).toBeCloseTo(baselines.dlMse, 10);
    const ood = summary.ood as unknown as { flag: boolean; errorRatio: number };
    expect(ood.flag).toBe(false); // a simulated scan like the training data: the model fits
    expect(ood.errorRatio).toBeLessThan(3);
    expect(h5.oodFlag).toBe(0);

    // the linear baseline on exactly the inputs the model saw
    const bundle = await loadBundle('fixtures/models/edge-sim');
    const stride = bundle.T * bundle.C;
    const { data: inputs, n } = canonicalInputs(scan.start, Array.from(scan.pixels(), (p) => p.data), bundle.input);
    const dlError = dictionaryBaselineError(inputs, n, stride);
    console.log(`replay 20x20: β-VAE mean error ${Number(summary.meanError).toFixed(4)} vs dictionary learning ${dlError.toFixed(4)}, summary dlMse ${baselines.dlMse.toFixed(4)}, pca5Mse ${baselines.pca5Mse.toFixed(4)} (scaled units)`);
    expect(Number(summary.meanError)).toBeLessThan(dlError);
    // the summary's dlMse is that baseline (config defaults: seed 1, 30 iterations) on exactly these inputs
    expect(Math.abs(baselines.dlMse - dictionaryBaselineError(inputs, n, stride, { seed: 1, maxIter: 30 })) / baselines.dlMse).toBeLessThan(1e-3);
    // and pca5Mse is scikit-learn's PCA(5) on them
    const skPca = await python<number>(
      `import json, sys, numpy as np
from sklearn.decomposition import PCA
X = np.fromfile(sys.argv[1], dtype='<f4').astype('f8').reshape(${n}, ${stride})
p = PCA(n_components=5, svd_solver='full').fit(X)
print(json.dumps(float(np.mean((X - p.inverse_transform(p.transform(X))) ** 2))))`,
      [await writeF32(join(dir, 'inputs.f32'), inputs)],
    );
    expect(Math.abs(baselines.pca5Mse - skPca) / skPca).toBeLessThan(1e-4);
  });

  it('refuses only a scan with no piezoresponse, saying why', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-replay-'));
    const file = join(dir, 'resonance-only.h5');
    const start: StartHeader = {
      type: 'start', protocol: 1, scanId: 'resonance-only', grid: { rows: 2, cols: 2, order: 'raster' }, kind: 'loop',
      dcVoltage: [0, 1, 0, -1], fields: ['off'], cycles: 1, phaseUnit: 'rad',
      buffers: [{ name: 'resonance', dtype: 'float32', shape: [4], unit: 'kHz' }], metadata: {},
    };
    const rec = await ScanRecorder.create(file, start);
    rec.append([0, 1, 2, 3].map((seq) => ({ type: 'pixel' as const, scanId: start.scanId, seq, row: seq >> 1, col: seq & 1, t: seq, data: [Float32Array.of(300, 301, 302, 301)] })));
    rec.writeStop({ type: 'stop', scanId: start.scanId, status: 'completed', pixelsSent: 4, lastSeq: 3 });
    rec.close();
    const cli = runCli(['replay', file, '--pace', 'max', '--data', join(dir, 'data')]);
    expect(await cli.exited).toBe(3);
    expect(cli.stderrText()).toContain(
      `loopstream: [LS_BUNDLE_MISMATCH] bundle ${process.cwd()}/fixtures/models/sim-broad cannot model scan resonance-only: scan resonance-only: loop data with buffers [resonance] and no "piezoresponse"; nothing to model\n`,
    );
  });

  it('replays the real PTO file (1 channel, 64 steps) with the bundle trained on it', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-replay-'));
    const cli = runCli(['replay', 'fixtures/external/BEPS_PTO_50x50.h5', '--pace', 'max', '--summary-json', '--data', join(dir, 'data'), '--bundle', 'fixtures/models/pto']);
    expect(await cli.exited).toBe(0);
    const summary = JSON.parse(cli.stdout[cli.stdout.length - 1]) as Record<string, unknown>;
    expect(summary).toMatchObject({ pixels: 2500, missing: 0, encoded: 2500, layout: 'nsid', kind: 'loop' });
    expect(Number.isFinite(summary.meanError)).toBe(true);
  });
});
