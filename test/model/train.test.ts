import { describe, expect, it, beforeAll } from 'vitest';
import { buildVae } from '../../src/model/vae.ts';
import { betaAt, betaForRun, lambdaFor, scheduleLength, trainVae, klPerLatent, encodeAll } from '../../src/model/train.ts';
import { initBackend } from '../../src/model/backend.ts';

describe('β schedule', () => {
  it('primes at 0, then steps every `every` epochs up to max; λ = 1e-5·10^β', () => {
    const s = { primingEpochs: 3, step: 0.005, every: 2, max: 0.012 };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((e) => betaAt(e, s))).toEqual([0, 0, 0, 0.005, 0.005, 0.01, 0.01, 0.012, 0.012]);
    expect(lambdaFor(0)).toBe(1e-5);
    expect(lambdaFor(1)).toBeCloseTo(1e-4, 12);
  });

  it('a run shorter than the schedule gets it compressed into its first 60 %; a long run keeps it as written', () => {
    const s = { primingEpochs: 20, step: 0.0025, every: 5, max: 0.02 }; // the config defaults
    expect(scheduleLength(s)).toBe(56); // β reaches 0.02 at epoch 20 + 7·5 = 55
    expect(betaAt(55, s)).toBe(0.02);
    expect(betaAt(54, s)).toBe(0.0175);
    // `train --epochs 2`: the second epoch is a β-VAE epoch, not a plain autoencoder's
    expect(betaForRun(0, 0, s)).toBe(0);
    expect(betaForRun(1, 0.5, s)).toBe(0.015); // epoch-equivalent floor(0.5·56/0.6) = 46
    // a time budget: 60 % of the way through, β has reached its max whatever the epoch count
    expect(betaForRun(3, 0.6, s)).toBe(0.02);
    expect(betaForRun(3, 0.3, s)).toBe(betaAt(28, s));
    // 1,000 epochs: the schedule as written
    for (const e of [0, 19, 20, 30, 55, 400]) expect(betaForRun(e, e / 1000, s)).toBe(betaAt(e, s));
    // fine-tuning's fixed β (step = max, one step) and β = 0
    const fixed = { primingEpochs: 0, step: 0.01, every: Number.MAX_SAFE_INTEGER, max: 0.01 };
    expect([0, 1, 5].map((e) => betaForRun(e, e / 6, fixed))).toEqual([0.01, 0.01, 0.01]);
    expect(betaForRun(3, 0.5, { primingEpochs: 0, step: 0, every: 1, max: 0 })).toBe(0);
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
    // schedule length 8 fits in 60 % of 16 epochs: it runs as written
    const res = await trainVae(vae, data, n, { epochs: 16, batch: 16, learningRate: 1e-2, schedule: { primingEpochs: 6, step: 0.01, every: 1, max: 0.02 }, seed: 1 });
    expect(res.history).toHaveLength(16);
    const first = res.history[0]!;
    const last = res.history[15]!;
    expect(last.mse).toBeLessThan(0.7 * first.mse);
    expect(last.beta).toBe(0.02);
    expect(res.history.map((h) => h.beta).slice(0, 8)).toEqual([0, 0, 0, 0, 0, 0, 0.01, 0.02]);
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

describe('active channels and best-validation weights', () => {
  it('a latent at the prior (μ 0, log σ² 0) has zero KL and is inactive; μ = ±1 gives 0.5 nats and is active', () => {
    const n = 4;
    const L = 3;
    const mu = new Float32Array(n * L);
    const logVar = new Float32Array(n * L);
    for (let i = 0; i < n; i++) {
      mu[i * L + 1] = i % 2 ? 1 : -1; // KL = ½ μ² = 0.5
      logVar[i * L + 2] = Math.log(1.2); // KL = −½(1 + ln 1.2 − 1.2) ≈ 0.0088: below 0.1 nats
    }
    const { kl, active } = klPerLatent(mu, logVar, n, L);
    expect(kl[0]).toBe(0);
    expect(kl[1]).toBeCloseTo(0.5, 6);
    expect(kl[2]).toBeCloseTo(-0.5 * (1 + Math.log(1.2) - 1.2), 6);
    expect(active).toEqual([1]);
  });

  it('with validation data the run ends on the best held-out epoch at the final β', async () => {
    await initBackend();
    const { reconstructionErrors } = await import('../../src/model/train.ts');
    const T = 12;
    const n = 96;
    const data = new Float32Array(n * T * 2);
    for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) for (let c = 0; c < 2; c++) data[(i * T + t) * 2 + c] = Math.sin(t / 2 + i * 0.1 + c) * (1 + (i % 5) / 5);
    const val = data.slice(0, 24 * T * 2);
    const vae = buildVae({ preset: 'mlp', T, C: 2 }, { seed: 2 });
    // a large learning rate makes later epochs overshoot now and then, so the best epoch is often not the last
    const res = await trainVae(vae, data, n, { epochs: 12, batch: 16, learningRate: 2e-2, schedule: { primingEpochs: 2, step: 0.01, every: 100, max: 0.01 }, seed: 1, validation: { data: val, n: 24 } });
    expect(res.history.every((h) => typeof h.valMse === 'number')).toBe(true);
    const finalBeta = res.history[res.history.length - 1]!.beta;
    const sameBeta = res.history.filter((h) => h.beta === finalBeta);
    const bestVal = Math.min(...sameBeta.map((h) => h.valMse!));
    expect(res.best!.beta).toBe(finalBeta);
    expect(res.best!.valMse).toBe(bestVal);
    expect(res.best!.epoch).toBe(sameBeta.find((h) => h.valMse === bestVal)!.epoch);
    // and those are the weights the model holds now
    const now = reconstructionErrors(vae, val, 24).reduce((s, e) => s + e, 0) / 24;
    expect(now).toBeCloseTo(bestVal, 6);
  }, 120_000);
});
