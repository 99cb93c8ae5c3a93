import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { FusedAdam } from '../../src/model/fused-adam.ts';
import { trainVae, trainableVariables } from '../../src/model/train.ts';
import { buildVae } from '../../src/model/vae.ts';
import type { VaeDims } from '../../src/model/bundle.ts';

const dims: VaeDims = { arch: 'mlp', hidden: [32, 16], units: 0, blocks: 0, latentDim: 4, T: 16, C: 2 };
const n = 96;
const data = new Float32Array(n * 32);
for (let i = 0; i < n; i++) for (let t = 0; t < 16; t++) for (let c = 0; c < 2; c++) data[(i * 16 + t) * 2 + c] = (0.5 + (i % 6) / 6) * Math.sin((2 * Math.PI * t) / 16 + (i % 5) * 0.5 + c);
const opts = { epochs: 4, batch: 32, learningRate: 5e-3, schedule: { primingEpochs: 1, step: 0.01, every: 1, max: 0.02 }, seed: 3 };

const weightsOf = (vae: ReturnType<typeof buildVae>) => trainableVariables(vae).map((v) => Float32Array.from(v.dataSync()));
const maxAbsDiff = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((x, i) => Math.max(...x.map((v, k) => Math.abs(v - b[i]![k]!)))));

describe('FusedAdam', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('trains exactly like tf.train.adam: same per-epoch losses and weights to float32 rounding', async () => {
    const a = buildVae(dims, { seed: 7 });
    const b = buildVae(dims, { seed: 7 });
    const start = weightsOf(a);
    const ra = await trainVae(a, data, n, { ...opts, optimizer: tf.train.adam(opts.learningRate) });
    const rb = await trainVae(b, data, n, { ...opts, optimizer: new FusedAdam(opts.learningRate) });
    expect(maxAbsDiff(start, weightsOf(a))).toBeGreaterThan(1e-3); // it did train
    expect(ra.history[3]!.loss).toBeLessThan(ra.history[0]!.loss);
    for (let e = 0; e < 4; e++) expect(rb.history[e]!.loss).toBeCloseTo(ra.history[e]!.loss, 5);
    expect(maxAbsDiff(weightsOf(a), weightsOf(b))).toBeLessThan(2e-5);
  }, 60_000);

  it('is what trainVae uses by default, and its saved state resumes tf.train.adam identically (and back)', async () => {
    const a = buildVae(dims, { seed: 8 });
    const first = await trainVae(a, data, n, { ...opts, epochs: 2 });
    expect(first.optimizer).toBeInstanceOf(FusedAdam);
    const state = await first.optimizer.getWeights();
    expect(state.map((w) => w.name)).toEqual(['iter', ...trainableVariables(a).map((v) => `${v.name}/m`), ...trainableVariables(a).map((v) => `${v.name}/v`)]);
    // continue from the same weights and moments, once with each optimizer
    const b = buildVae(dims, { seed: 99 });
    b.encoder.setWeights(a.encoder.getWeights());
    b.decoder.setWeights(a.decoder.getWeights());
    const stock = tf.train.adam(opts.learningRate);
    await stock.setWeights(state.map((w) => ({ name: w.name, tensor: w.tensor.clone() })));
    const fused = new FusedAdam(opts.learningRate);
    await fused.setWeights(await stock.getWeights());
    const ra = await trainVae(a, data, n, { ...opts, startEpoch: 2, optimizer: fused });
    const rb = await trainVae(b, data, n, { ...opts, startEpoch: 2, optimizer: stock });
    expect(stock.iterations).toBe(fused.iterations);
    for (let e = 0; e < 2; e++) expect(ra.history[e]!.loss).toBeCloseTo(rb.history[e]!.loss, 5);
    expect(maxAbsDiff(weightsOf(a), weightsOf(b))).toBeLessThan(2e-5);
  }, 60_000);
});
