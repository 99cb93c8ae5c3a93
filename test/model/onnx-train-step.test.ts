/**
 * The ONNX training step (src/model/onnx-train-step.ts) against the tfjs step it replaces: the same run —
 * same initial weights, shuffles and reparameterisation noise — through `trainVae` with stepEngine 'tfjs' and
 * 'onnxruntime' must give the same losses per epoch and the same weights, in the schedule mode and in the
 * constrained mode with per-sample weights and a row mask; and a checkpoint taken from the ONNX step resumes to
 * the weights of an unbroken run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/model/backend.ts';
import { loadCheckpoint, saveCheckpoint } from '../../src/model/save-bundle.ts';
import { DIVERGENCE_FACTOR, DIVERGENCE_FLOOR, MAX_ROLLBACKS, stepEngineFor, trainVae, type TrainOptions } from '../../src/model/train.ts';
import { buildVae, type Vae } from '../../src/model/vae.ts';

const T = 12;
const C = 2;
const dims: Vae['dims'] = { arch: 'mlp', hidden: [32, 16], units: 0, blocks: 0, latentDim: 6, T, C };
const n = 40;
// loops with a few degrees of freedom (amplitude, phase, offset per channel) and a little structure-free noise
const data = Float32Array.from({ length: n * T * C }, (_, k) => {
  const i = Math.floor(k / (T * C));
  const t = Math.floor(k / C) % T;
  const c = k % C;
  return (0.4 + (i % 5) * 0.2) * Math.sin((2 * Math.PI * t) / T + (i % 7) * 0.5 + c) + 0.1 * c + 0.05 * Math.sin(k * 12.9898);
});

function weightsOf(vae: Vae): Float32Array[] {
  return [...vae.encoder.getWeights(), ...vae.decoder.getWeights()].map((w) => w.dataSync() as Float32Array);
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

async function both(opts: TrainOptions) {
  const a = buildVae(dims, { seed: 4 });
  const b = buildVae(dims, { seed: 4 });
  const ra = await trainVae(a, data, n, { ...opts, stepEngine: 'tfjs' });
  const rb = await trainVae(b, data, n, { ...opts, stepEngine: 'onnxruntime' });
  return { a, b, ra, rb };
}

describe('ONNX training step (mlp)', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('gives the same losses and weights as the tfjs step (β schedule)', async () => {
    const { a, b, ra, rb } = await both({ epochs: 4, batch: 16, learningRate: 3e-3, schedule: { primingEpochs: 1, step: 0.05, every: 1, max: 0.1 }, seed: 7 });
    expect(ra.stepEngine).toBe('tfjs');
    expect(rb.stepEngine).toBe('onnxruntime');
    expect(rb.history).toHaveLength(4);
    rb.history.forEach((h, e) => {
      const r = ra.history[e]!;
      expect(h.beta).toBe(r.beta);
      for (const k of ['loss', 'mse', 'kl', 'l1'] as const) expect(Math.abs(h[k] - r[k])).toBeLessThan(1e-4 * Math.max(1, Math.abs(r[k])));
    });
    // 12 Adam steps (3 batches × 4 epochs, the last one of 8 samples) moved the weights by far more than they differ
    const init = weightsOf(buildVae(dims, { seed: 4 }));
    expect(maxAbsDiff(init, weightsOf(a))).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(weightsOf(a), weightsOf(b))).toBeLessThan(2e-5);
    expect(rb.history[3]!.loss).toBeLessThan(rb.history[0]!.loss);
  }, 60_000);

  it('constrained β with per-sample weights and a row mask: same β path, losses and weights', async () => {
    const weights = Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 3) * 0.5);
    const rows = Uint8Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 0 : 1));
    const constraint = { kappa: 0.05, initial: 1e-3, min: 1e-4, max: 10, rate: 0.1, smoothing: 0.9, weights, rows };
    const { a, b, ra, rb } = await both({ epochs: 5, batch: 16, learningRate: 3e-3, schedule: { primingEpochs: 0, step: 0, every: 1, max: 0 }, seed: 11, constraint });
    rb.history.forEach((h, e) => {
      const r = ra.history[e]!;
      expect(Math.abs(h.beta - r.beta)).toBeLessThan(1e-6 * Math.max(1, r.beta));
      expect(Math.abs(h.constraint! - r.constraint!)).toBeLessThan(1e-4);
      for (const k of ['loss', 'mse', 'kl', 'l1'] as const) expect(Math.abs(h[k] - r[k])).toBeLessThan(1e-4 * Math.max(1, Math.abs(r[k])));
    });
    expect(maxAbsDiff(weightsOf(a), weightsOf(b))).toBeLessThan(2e-5);
  }, 60_000);

  it('a checkpoint of the ONNX step resumes to the weights of an unbroken run', async () => {
    // a schedule as short as the shorter run, so both runs have the same β per epoch (a longer one is compressed)
    const opts: TrainOptions = { epochs: 3, batch: 16, learningRate: 3e-3, schedule: { primingEpochs: 1, step: 0.05, every: 1, max: 0.05 }, seed: 5, stepEngine: 'onnxruntime' };
    const straight = buildVae(dims, { seed: 8 });
    await trainVae(straight, data, n, opts);
    const dir = await mkdtemp(join(tmpdir(), 'ls-onnx-ckpt-'));
    try {
      const first = buildVae(dims, { seed: 8 });
      const r1 = await trainVae(first, data, n, { ...opts, epochs: 2 });
      await saveCheckpoint(dir, first, r1.optimizer, { nextEpoch: 2, history: r1.history, seconds: 0, samplesSeen: 2 * n });
      const ck = await loadCheckpoint(dir, dims, 3e-3);
      await trainVae(ck.vae, data, n, { ...opts, startEpoch: 2, optimizer: ck.optimizer });
      expect(maxAbsDiff(weightsOf(straight), weightsOf(ck.vae))).toBeLessThan(1e-6);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it.each(['onnxruntime', 'tfjs'] as const)('divergence guard (%s): a diverging batch goes back to the last finished epoch with half the learning rate, and one epoch further back when that state diverges again', async (stepEngine) => {
    const vae = buildVae(dims, { seed: 4 });
    const seen: number[] = [];
    // learning rate 1 on this small model: the first epoch already diverges, later ones now and then
    const r = await trainVae(vae, data, n, { epochs: 12, batch: 8, learningRate: 1, schedule: { primingEpochs: 0, step: 0.01, every: 1, max: 0.01 }, seed: 3, stepEngine, onRollback: (rb) => seen.push(rb.learningRate) });
    expect(r.rollbacks.length).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(r.rollbacks.map((rb) => rb.learningRate));
    r.rollbacks.forEach((rb, i) => {
      expect(rb.learningRate).toBeCloseTo(1 / 2 ** (i + 1), 12); // halved at every rollback
      expect(rb.restoredEpoch).toBeLessThan(rb.epoch);
      expect(!Number.isFinite(rb.loss) || rb.mse > DIVERGENCE_FACTOR * DIVERGENCE_FLOOR).toBe(true);
      const prev = r.rollbacks[i - 1];
      // a rollback right after a rollback (no epoch finished between): the state it went back to diverged again,
      // so this one goes further back
      if (prev && rb.epoch === prev.epoch + 1 && prev.restoredEpoch >= 0) expect(rb.restoredEpoch).toBeLessThan(prev.restoredEpoch);
    });
    expect(r.rollbacks.some((rb, i) => i > 0 && rb.epoch === r.rollbacks[i - 1]!.epoch + 1 && r.rollbacks[i - 1]!.restoredEpoch >= 0)).toBe(true);
    // the epochs it reports and the weights it ends with are finite
    expect(r.history.length).toBeGreaterThan(0);
    expect(r.history.every((h) => Number.isFinite(h.loss) && Number.isFinite(h.mse))).toBe(true);
    expect(weightsOf(vae).every((w) => w.every(Number.isFinite))).toBe(true);
  }, 60_000);

  it('divergence guard: a run that diverges whatever it does stops after MAX_ROLLBACKS + 1 rollbacks in a row, on finite weights', async () => {
    const vae = buildVae(dims, { seed: 4 });
    const r = await trainVae(vae, data, n, { epochs: 12, batch: 8, learningRate: 20, schedule: { primingEpochs: 0, step: 0.01, every: 1, max: 0.01 }, seed: 3 });
    expect(r.rollbacks).toHaveLength(MAX_ROLLBACKS + 1);
    expect(r.rollbacks.every((rb) => rb.restoredEpoch === -1)).toBe(true); // no epoch finished: always the start
    expect(r.history).toHaveLength(0);
    expect(maxAbsDiff(weightsOf(vae), weightsOf(buildVae(dims, { seed: 4 })))).toBe(0); // the initial weights, untouched
  }, 60_000);

  it('auto falls back to the tfjs step, with the reason, when the onnxruntime session cannot be created; asked for by name it fails', async () => {
    const opts: TrainOptions = { epochs: 1, batch: 16, learningRate: 1e-3, schedule: { primingEpochs: 0, step: 0.01, every: 1, max: 0.01 }, seed: 1, threads: -3 };
    const r = await trainVae(buildVae(dims, { seed: 1 }), data, n, opts);
    expect(r.stepEngine).toBe('tfjs');
    expect(r.stepEngineFallback).toMatch(/onnxruntime training step unavailable \('intraOpNumThreads' is invalid: -3\); training on tfjs/);
    expect(r.history).toHaveLength(1);
    await expect(trainVae(buildVae(dims, { seed: 1 }), data, n, { ...opts, stepEngine: 'onnxruntime' })).rejects.toThrow(/intraOpNumThreads/);
  }, 60_000);

  it('auto picks onnxruntime for mlp and tfjs for the LSTM; asking onnxruntime for an LSTM is a clear error', () => {
    const mlp = buildVae(dims, { seed: 1 });
    const lstm = buildVae({ units: 4, blocks: 0, latentDim: 4, T: 8, C: 1 }, { seed: 1 });
    expect(stepEngineFor(mlp)).toBe('onnxruntime');
    expect(stepEngineFor(mlp, 'tfjs')).toBe('tfjs');
    expect(stepEngineFor(lstm)).toBe('tfjs');
    expect(() => stepEngineFor(lstm, 'onnxruntime')).toThrow(/no ONNX training step \(mlp only\)/);
  });
});
