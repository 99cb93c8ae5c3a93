import { describe, expect, it, beforeAll } from 'vitest';
import { buildVae } from '../../src/model/vae.ts';
import { betaAt, lambdaFor, trainVae, klPerLatent, encodeAll } from '../../src/model/train.ts';
import { initBackend } from '../../src/model/backend.ts';

describe('β schedule', () => {
  it('primes at 0, then steps every `every` epochs up to max; λ = 1e-5·10^β', () => {
    const s = { primingEpochs: 3, step: 0.005, every: 2, max: 0.012 };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((e) => betaAt(e, s))).toEqual([0, 0, 0, 0.005, 0.005, 0.01, 0.01, 0.012, 0.012]);
    expect(lambdaFor(0)).toBe(1e-5);
    expect(lambdaFor(1)).toBeCloseTo(1e-4, 12);
  });
});

describe('trainVae', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('lowers the loss of a small model in a few epochs and reports KL per latent', async () => {
    const T = 16;
    const n = 64;
    // loops with two degrees of freedom: amplitude and phase of a sine
    const data = new Float32Array(n * T);
    for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) data[i * T + t] = (0.5 + (i % 8) / 8) * Math.sin((2 * Math.PI * t) / T + Math.floor(i / 8) * 0.4);
    const vae = buildVae({ units: 8, blocks: 0, latentDim: 16, T, C: 1 }, { seed: 2 });
    const res = await trainVae(vae, data, n, { epochs: 16, batch: 16, learningRate: 1e-2, schedule: { primingEpochs: 14, step: 0.01, every: 1, max: 0.05 }, seed: 1 });
    expect(res.history).toHaveLength(16);
    const first = res.history[0]!;
    const last = res.history[15]!;
    expect(last.mse).toBeLessThan(0.7 * first.mse);
    expect(last.beta).toBe(0.02);
    expect(res.history.slice(0, 14).every((h) => h.beta === 0)).toBe(true);
    const { mu, logVar } = encodeAll(vae, data, n);
    const { kl, active } = klPerLatent(mu, logVar, n, 16);
    expect(kl).toHaveLength(16);
    expect(kl.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(active.every((j) => kl[j]! > 0.1)).toBe(true);
  }, 120_000);
});
