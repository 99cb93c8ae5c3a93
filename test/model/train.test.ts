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

describe('checkpoint and resume', () => {
  it('1 epoch + checkpoint + resumed epoch gives the same weights as 2 epochs straight', async () => {
    const { saveCheckpoint, loadCheckpoint } = await import('../../src/model/save-bundle.ts');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    await initBackend();
    const T = 8;
    const n = 24;
    const data = Float32Array.from({ length: n * T }, (_, i) => Math.sin(i * 0.3));
    const dims = { units: 4, blocks: 0, latentDim: 16, T, C: 1 };
    const opts = { epochs: 2, batch: 8, learningRate: 1e-2, schedule: { primingEpochs: 1, step: 0.01, every: 1, max: 0.01 }, seed: 3 };
    const straight = buildVae(dims, { seed: 9 });
    await trainVae(straight, data, n, opts);

    const dir = await mkdtemp(join(tmpdir(), 'ls-ckpt-'));
    const first = buildVae(dims, { seed: 9 });
    const r1 = await trainVae(first, data, n, { ...opts, epochs: 1 });
    await saveCheckpoint(dir, first, r1.optimizer, { nextEpoch: 1, history: r1.history, seconds: 0, samplesSeen: n });
    const ck = await loadCheckpoint(dir, dims, opts.learningRate);
    expect(ck.state.nextEpoch).toBe(1);
    await trainVae(ck.vae, data, n, { ...opts, startEpoch: 1, optimizer: ck.optimizer });
    await rm(dir, { recursive: true, force: true });

    const a = [...straight.encoder.getWeights(), ...straight.decoder.getWeights()];
    const b = [...ck.vae.encoder.getWeights(), ...ck.vae.decoder.getWeights()];
    expect(b).toHaveLength(a.length);
    let maxDiff = 0;
    a.forEach((w, i) => {
      const x = w.dataSync();
      const y = b[i]!.dataSync();
      for (let j = 0; j < x.length; j++) maxDiff = Math.max(maxDiff, Math.abs(x[j]! - y[j]!));
    });
    expect(maxDiff).toBeLessThan(1e-5);
    // and training moved the weights at all
    const init = buildVae(dims, { seed: 9 });
    expect(Math.abs(init.decoder.getWeights()[0]!.dataSync()[0]! - straight.decoder.getWeights()[0]!.dataSync()[0]!)).toBeGreaterThan(1e-6);
  }, 120_000);
});
