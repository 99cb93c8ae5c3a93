import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, readFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainBundleFromFiles } from '../../src/model/train-bundle.ts';
import { KEEP_TOLERANCE } from '../../src/model/train.ts';
import { readTrainSample } from '../../src/model/train-sample.ts';
import { loadBundle, checkBundleAgainstScan } from '../../src/model/bundle.ts';
import { createEngine } from '../../src/model/runtime.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { toModelInput } from '../../src/preprocess/index.ts';
import { silentLogger } from '../../src/util/log.ts';

describe('train a bundle from scan files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ls-train-'));
    execFileSync('node', ['bin/loopstream.js', 'simulate', '--rows', '5', '--cols', '5', '--seed', '3', '--out', join(dir, 'a.h5'), '--log-level', 'warn']);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a complete bundle whose manifest records command, seed, data hash and metrics; it runs on its own scan', async () => {
    const out = join(dir, 'bundle');
    const manifest = await trainBundleFromFiles(
      {
        files: [join(dir, 'a.h5')], out, preset: 'edge', epochs: 2, batch: 8, learningRate: 3e-3,
        schedule: { primingEpochs: 1, step: 0.005, every: 1, max: 0.01 }, checkpointEvery: 1, seed: 5, valFraction: 0.2, maxMinutes: 0, resume: false,
        command: 'loopstream train a.h5 --epochs 2',
      },
      silentLogger,
    );
    expect(manifest.training).toMatchObject({ command: 'loopstream train a.h5 --epochs 2', seed: 5, epochs: 2, batch: 8 });
    // the schedule (3 epochs long) is compressed into 60 % of the 2-epoch run: epoch 2 has β = 0.01
    expect(manifest.beta).toBe(0.01);
    const sha = execFileSync('sha256sum', [join(dir, 'a.h5')], { encoding: 'utf8' }).split(' ')[0];
    expect(manifest.data.files[0]).toMatchObject({ sha256: sha, pixels: 25 });
    expect(manifest.metrics.klPerLatent).toHaveLength(16);
    expect(Number.isFinite(manifest.metrics.valMse)).toBe(true);
    await expect(access(join(out, 'checkpoint'))).rejects.toThrow(); // removed at the end
    const onDisk = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
    expect(onDisk.metrics.epochs).toBe(2);
    // the training reference: the validation split's inputs and errors (5 of 25 pixels); its error mean is valMse
    expect(onDisk.reference).toMatchObject({ format: 1, pixels: 5, input: { channels: ['piezoresponse', 'resonance'] } });
    expect(onDisk.reference.error.mean).toBeCloseTo(manifest.metrics.valMse!, 6);
    expect(onDisk.reference.error.median).toBeGreaterThan(0);
    expect(onDisk.reference.input.std).toHaveLength(2);

    const bundle = await loadBundle(out);
    const reader = await openScanFile(join(dir, 'a.h5'));
    checkBundleAgainstScan(bundle, reader.start);
    const n = reader.count;
    const x = new Float32Array(n * bundle.T * bundle.C);
    for (let i = 0; i < n; i++) toModelInput(reader.pixel(i).data, reader.start, bundle.preprocess, x, i * bundle.T * bundle.C);
    reader.close();
    // the bundle ships its training rows (20 of 25: the 5 validation pixels are not training rows), distinct, each
    // one of the scan's own model inputs
    const stride = bundle.T * bundle.C;
    const sample = (await readTrainSample(out, stride))!;
    expect(sample.n).toBe(20);
    const matches = new Set<number>();
    for (let k = 0; k < sample.n; k++) {
      let best = -1;
      let bestD = Infinity;
      for (let i = 0; i < n; i++) {
        let d = 0;
        for (let j = 0; j < stride; j++) d = Math.max(d, Math.abs(sample.data[k * stride + j]! - x[i * stride + j]!));
        if (d < bestD) (bestD = d), (best = i);
      }
      expect(bestD).toBeLessThan(1e-5);
      matches.add(best);
    }
    expect(matches.size).toBe(20);
    const engine = await createEngine(bundle, { engine: 'onnx', provider: 'cpu', threads: 1 });
    const res = await engine.encodeDecode(x, n);
    expect(res.mu).toHaveLength(n * 16);
    expect(Array.from(res.error).every((e) => Number.isFinite(e) && e > 0)).toBe(true);
    await engine.close();
  }, 300_000);

  it('mlp preset: a 3-epoch run is a β-VAE, keeps its best held-out epoch, records active channels and runs on onnxruntime', async () => {
    const out = join(dir, 'bundle-mlp');
    // the config's default schedule (56 epochs long) compressed into 3 epochs: β > 0 from the second epoch
    const manifest = await trainBundleFromFiles(
      {
        files: [join(dir, 'a.h5')], out, preset: 'mlp', epochs: 3, batch: 8, learningRate: 3e-3,
        schedule: { primingEpochs: 20, step: 0.0025, every: 5, max: 0.02 }, checkpointEvery: 100, seed: 5, valFraction: 0.2, maxMinutes: 0, resume: false,
        command: 'loopstream train a.h5 --preset mlp --epochs 3',
      },
      silentLogger,
    );
    expect(manifest.preset).toBe('mlp');
    expect(manifest.dims).toMatchObject({ arch: 'mlp', hidden: [256, 128], latentDim: 16 });
    expect(manifest.beta).toBeGreaterThan(0);
    const hist = (manifest.training.schedule as { history: Array<{ epoch: number; beta: number; valMse: number }> }).history;
    expect(hist.map((h) => h.beta)).toEqual([0, 0.0075, 0.02]); // epoch-equivalents 0, floor((1/3)·56/0.6) = 31, 62
    const best = manifest.metrics.bestEpoch!;
    expect(hist[best - 1]!.beta).toBe(0.02);
    expect(manifest.metrics.valMse).toBeCloseTo(hist[best - 1]!.valMse, 4);
    expect(manifest.metrics.activeChannels).toEqual(manifest.metrics.klPerLatent.flatMap((k, j) => (k > 0.1 ? [j] : [])));
    const bundle = await loadBundle(out);
    const engine = await createEngine(bundle, { engine: 'onnx', provider: 'cpu', threads: 1 });
    const res = await engine.encodeDecode(new Float32Array(2 * bundle.T * bundle.C), 2);
    expect(res.recon).toHaveLength(2 * bundle.T * bundle.C);
    await engine.close();
  }, 300_000);
  it('constrained β: κ = target × the PCA-5 MSE of the training pixels, β and the constraint per epoch in the history, held-out keep rule', async () => {
    const out = join(dir, 'bundle-constrained');
    const constraint = { target: 0.85, initial: 1e-3, min: 1e-4, max: 10, rate: 0.05, smoothing: 0.9 };
    const manifest = await trainBundleFromFiles(
      {
        files: [join(dir, 'a.h5')], out, preset: 'mlp', epochs: 4, batch: 4, learningRate: 3e-3,
        schedule: { primingEpochs: 20, step: 0.0025, every: 5, max: 0.02 }, constraint, checkpointEvery: 2, seed: 5, valFraction: 0.2, maxMinutes: 0, resume: false,
        command: 'loopstream train a.h5 --epochs 4',
      },
      silentLogger,
    );
    const sched = manifest.training.schedule as { mode: string; target: number; pca5Mse: number; pca5HeldOutMse: number; kappa: number; history: Array<{ epoch: number; beta: number; constraint: number; valMse: number; valActive: number; valKl: number }> };
    expect(sched.mode).toBe('constrained');
    expect(sched.kappa).toBeCloseTo(0.85 * sched.pca5Mse, 12);
    // the PCA-5 of the 20 training pixels, as model/baselines.ts fits it (5 components of 20 rows leave a residual)
    expect(sched.pca5Mse).toBeGreaterThan(0);
    expect(sched.history).toHaveLength(4);
    for (const h of sched.history) {
      expect(h.beta).toBeGreaterThanOrEqual(constraint.min);
      expect(h.beta).toBeLessThanOrEqual(constraint.max);
      expect(Math.abs(h.constraint)).toBeLessThanOrEqual(1);
      expect(typeof h.valActive).toBe('number');
    }
    // 5 batches per epoch; β moves by at most rate × 1 in ln per batch
    expect(Math.abs(Math.log(sched.history[0]!.beta / constraint.initial))).toBeLessThanOrEqual(5 * constraint.rate + 1e-9);
    // the kept epoch is below PCA-5 or within KEEP_TOLERANCE of the lowest held-out MSE, and no such epoch after it has
    // fewer active channels
    const best = sched.history[manifest.metrics.bestEpoch! - 1]!;
    const low = Math.min(...sched.history.map((h) => h.valMse));
    const bound = Math.max(sched.pca5HeldOutMse, KEEP_TOLERANCE * low);
    expect(sched.pca5HeldOutMse).toBeGreaterThan(0);
    expect(best.valMse).toBeLessThanOrEqual(bound * (1 + 1e-4));
    const later = sched.history.filter((h) => h.epoch > best.epoch && h.valMse <= bound);
    for (const h of later) expect(h.valActive).toBeGreaterThanOrEqual(best.valActive);
    expect(manifest.beta).toBeCloseTo(best.beta, 4);
    // one scan: the pooled target, no per-sample weights
    expect((sched as unknown as { baseline: string }).baseline).toBe('pooled');
    expect(sched.history.every((h) => !('valWeightedMse' in h))).toBe(true);
  }, 300_000);
  it('constrained β on several scans: per-scan κ (each scan its own PCA-5, weights averaging 1), the weighted held-out error in the keep rule', async () => {
    const files = [join(dir, 'p.h5'), join(dir, 'q.h5')];
    // two 8 × 8 scans (≈ 51 training rows each, above MIN_PCA_ROWS), the second with 3 × the noise
    execFileSync('node', ['bin/loopstream.js', 'simulate', '--rows', '8', '--cols', '8', '--seed', '3', '--out', files[0]!, '--log-level', 'warn']);
    execFileSync('node', ['bin/loopstream.js', 'simulate', '--rows', '8', '--cols', '8', '--seed', '4', '--out', files[1]!, '--log-level', 'warn', '--noise', '3']);
    const constraint = { target: 0.85, initial: 1e-3, min: 1e-4, max: 10, rate: 0.05, smoothing: 0.9 };
    const manifest = await trainBundleFromFiles(
      {
        files, out: join(dir, 'bundle-per-scan'), preset: 'mlp', epochs: 3, batch: 16, learningRate: 3e-3,
        schedule: { primingEpochs: 20, step: 0.0025, every: 5, max: 0.02 }, constraint, checkpointEvery: 5, seed: 5, valFraction: 0.2, maxMinutes: 0, resume: false,
        command: 'loopstream train p.h5 q.h5 --epochs 3',
      },
      silentLogger,
    );
    type PerScan = { rows: number; pca5Mse: number; pca5HeldOutMse: number; weight: number; pooledFit: boolean };
    const sched = manifest.training.schedule as { baseline: string; pca5Mse: number; pooledPca5Mse: number; pca5HeldOutMse: number; kappa: number; perScan: PerScan[]; history: Array<{ valMse: number; valWeightedMse: number; valActive: number }> };
    expect(sched.baseline).toBe('perScan');
    expect(sched.perScan).toHaveLength(2);
    const [p, q] = sched.perScan as [PerScan, PerScan];
    expect(p.rows + q.rows).toBe(128 - Math.round(128 * 0.2));
    expect(p.pooledFit || q.pooledFit).toBe(false);
    // the noisier scan has the larger own PCA-5 and the smaller weight
    expect(q.pca5Mse).toBeGreaterThan(p.pca5Mse);
    expect(q.weight).toBeLessThan(p.weight);
    // κ = ρ × the harmonic mean of the per-row PCA-5, and the weights (its ratio to each scan's) average 1
    const harmonic = (p.rows + q.rows) / (p.rows / p.pca5Mse + q.rows / q.pca5Mse);
    expect(sched.pca5Mse / harmonic).toBeCloseTo(1, 4);
    expect(sched.kappa).toBeCloseTo(0.85 * sched.pca5Mse, 12);
    expect((p.rows * p.weight + q.rows * q.weight) / (p.rows + q.rows)).toBeCloseTo(1, 4);
    expect(p.weight).toBeCloseTo(sched.pca5Mse / p.pca5Mse, 3);
    // the held-out epochs are judged in the weighted unit, against the per-scan fits' weighted held-out error
    expect(sched.history).toHaveLength(3);
    for (const h of sched.history) expect(h.valWeightedMse).toBeGreaterThan(0);
    const best = sched.history[manifest.metrics.bestEpoch! - 1]!;
    const bound = Math.max(sched.pca5HeldOutMse, KEEP_TOLERANCE * Math.min(...sched.history.map((h) => h.valWeightedMse)));
    expect(best.valWeightedMse).toBeLessThanOrEqual(bound * (1 + 1e-4));
  }, 300_000);
});
