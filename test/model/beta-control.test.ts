import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/model/backend.ts';
import { BetaController, MIN_PCA_ROWS, PER_SCAN_FLOOR, pcaBaselineMse, perScanBaseline } from '../../src/model/beta-control.ts';
import { betterConstrained, KEEP_TOLERANCE, reconstructionErrors, trainVae, type EpochMetrics } from '../../src/model/train.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import { buildVae, presetDims } from '../../src/model/vae.ts';

const settings = { kappa: 0.1, initial: 0.01, min: 1e-4, max: 5, rate: 0.05, smoothing: 0.9 };

describe('BetaController (constrained β)', () => {
  it('holds β until the target is first met, then lowers it while MSE is above κ and raises it while below, within its bounds', () => {
    const up = new BetaController(settings);
    // MSE at 0.05 (c = −0.5): the moving average starts at +1 (not met) and after k batches is 1.5·0.9^k − 0.5;
    // β holds while it is positive (k ≤ 10), then ln β moves by −rate × the average
    let expectLog = Math.log(0.01);
    let avg = 1;
    let engagedAt = -1;
    for (let k = 0; k < 20; k++) {
      avg = 0.9 * avg + 0.1 * -0.5;
      if (avg <= 0 && engagedAt < 0) engagedAt = k;
      if (engagedAt >= 0) expectLog -= 0.05 * avg;
      up.update(0.05);
      if (k < 10) expect(up.beta).toBe(0.01);
    }
    expect(engagedAt).toBe(10);
    expect(Math.log(up.beta)).toBeCloseTo(expectLog, 10);
    expect(up.beta).toBeGreaterThan(0.01);
    for (let k = 0; k < 5000; k++) up.update(0.05);
    expect(up.beta).toBe(5);

    // a target never met: β stays where it started
    const never = new BetaController(settings);
    for (let k = 0; k < 100; k++) never.update(10); // 100× κ: the constraint is clipped at +1
    expect(never.constraint).toBeCloseTo(1, 12);
    expect(never.beta).toBe(0.01);
    expect(never.engaged).toBe(false);

    const down = new BetaController(settings, { beta: 0.01, constraint: 0, engaged: true });
    down.update(10);
    expect(down.constraint).toBeCloseTo(0.1, 12);
    expect(down.beta).toBeCloseTo(0.01 * Math.exp(-0.05 * 0.1), 12);
    for (let k = 0; k < 5000; k++) down.update(0.3);
    expect(down.beta).toBe(1e-4);
    // a non-finite MSE leaves the state alone
    const before = down.state();
    down.update(Number.NaN);
    expect(down.state()).toEqual(before);
  });

  it('resumes from a saved state exactly', () => {
    const a = new BetaController(settings);
    for (let k = 0; k < 7; k++) a.update(0.08 + k * 0.01);
    const b = new BetaController(settings, a.state());
    a.update(0.2);
    b.update(0.2);
    expect(b.state()).toEqual(a.state());
  });

  it('κ baseline: PCA-5 of rank-5 data plus white noise leaves the noise outside the 5 axes', () => {
    const n = 1500;
    const d = 40;
    const rnd = mulberry32(3);
    const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    const axes = Array.from({ length: 5 }, () => Array.from({ length: d }, gauss));
    const x = new Float32Array(n * d);
    const sigma = 0.1;
    for (let i = 0; i < n; i++) {
      const c = Array.from({ length: 5 }, () => 3 * gauss());
      for (let j = 0; j < d; j++) x[i * d + j] = c.reduce((s, ck, k) => s + ck * axes[k]![j]!, 0) + sigma * gauss();
    }
    // residual of white noise after removing 5 of d directions (and the mean): σ²·(d − 5)/d, to sampling error
    expect(pcaBaselineMse(x, n, d, 1).train).toBeCloseTo((sigma ** 2 * (d - 5)) / d, 3);
    // held-out rows of the same distribution: the fitted axes leave about the same residual (the noise in d − 5 directions)
    expect(pcaBaselineMse(x.subarray(0, 1000 * d), 1000, d, 1, 5, 2000, { data: x.subarray(1000 * d), n: 500 }).heldOut).toBeCloseTo((sigma ** 2 * (d - 5)) / d, 3);
    // exactly rank 5: ≈ 0
    const clean = new Float32Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) clean[i * d + j] = axes[i % 5]![j]! * (1 + (i % 7));
    expect(pcaBaselineMse(clean, n, d, 1).train).toBeLessThan(1e-9);
  });
});

describe('perScanBaseline (per-scan κ for a multi-scan corpus)', () => {
  it('each scan its own PCA-5 (its noise outside the 5 axes), weights = harmonic mean / that, averaging 1; a small scan takes the pooled fit; a noiseless one the floor', () => {
    const d = 40;
    const rnd = mulberry32(7);
    const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    // four scans, rank 5 on the same axes plus white noise σ_s; scan 2 has fewer training rows than MIN_PCA_ROWS,
    // scan 3 no noise (exactly rank 5)
    const sigma = [0.1, 0.3, 0.2, 0];
    const nTrain = [1500, 1200, MIN_PCA_ROWS - 1, 100];
    const nVal = [300, 200, 10, 20];
    const make = (counts: number[]) => {
      const n = counts.reduce((a, b) => a + b, 0);
      const data = new Float32Array(n * d);
      const group = new Uint32Array(n);
      let i = 0;
      counts.forEach((c, s) => {
        const axes = axesOf;
        for (let k = 0; k < c; k++, i++) {
          group[i] = s;
          const code = Array.from({ length: 5 }, () => 3 * gauss());
          for (let j = 0; j < d; j++) data[i * d + j] = code.reduce((a, ck, q) => a + ck * axes[q]![j]!, 0) + sigma[s]! * gauss();
        }
      });
      return { data, n, group };
    };
    const axesOf = Array.from({ length: 5 }, () => Array.from({ length: d }, gauss));
    const train = make(nTrain);
    const val = make(nVal);
    const b = perScanBaseline(train, val, 4, d, 1);
    expect(b.rows).toEqual(nTrain);
    expect(b.pooled).toEqual([false, false, true, false]);
    // a scan's own fit leaves its white noise in d − 5 directions: σ²·(d − 5)/d, on its training and held-out rows
    for (const s of [0, 1]) {
      const expected = (sigma[s]! ** 2 * (d - 5)) / d;
      expect(b.pca5[s]! / expected).toBeCloseTo(1, 1);
      expect(b.pca5HeldOut[s]! / expected).toBeCloseTo(1, 1);
    }
    // the small scan gets the pooled fit (all training rows, as pcaBaselineMse); the noiseless one (own PCA-5 ≈ 0) the floor
    expect(b.pca5[2]).toBe(b.pooledMse);
    expect(b.pooledMse).toBeCloseTo(pcaBaselineMse(train.data, train.n, d, 1).train, 12);
    expect(b.pca5[3]).toBe(PER_SCAN_FLOOR * b.pooledMse);
    // scale: harmonic mean of the per-row PCA-5; weights average 1 over the training rows
    const harmonic = train.n / nTrain.reduce((a, c, s) => a + c / b.pca5[s]!, 0);
    expect(b.scale).toBeCloseTo(harmonic, 12);
    expect(b.weights.reduce((a, w) => a + w, 0) / train.n).toBeCloseTo(1, 5);
    for (let i = 0; i < train.n; i++) expect(b.weights[i]).toBeCloseTo(b.scale / b.pca5[train.group[i]!]!, 5);
    for (let i = 0; i < val.n; i++) expect(b.valWeights[i]).toBeCloseTo(b.scale / b.pca5[val.group[i]!]!, 5);
    // the held-out baseline in the weighted unit: Σ_s w_s·(held-out rows)·(its fit's held-out MSE) / held-out rows
    expect(b.pca5HeldOut[2]).toBeGreaterThan(0);
    const held = nVal.reduce((a, c, s) => a + (b.scale / b.pca5[s]!) * c * b.pca5HeldOut[s]!, 0) / val.n;
    expect(b.heldOutMse).toBeCloseTo(held, 12);
    // one scan: every weight is 1 and the target is the pooled one
    const one = perScanBaseline({ ...train, n: nTrain[0]!, group: train.group.subarray(0, nTrain[0]) }, { ...val, n: nVal[0]!, group: val.group.subarray(0, nVal[0]) }, 1, d, 1);
    expect(one.scale).toBeCloseTo(one.pca5[0]!, 12);
    expect(one.weights.every((w) => Math.abs(w - 1) < 1e-6)).toBe(true);
  });
});

describe('betterConstrained (which held-out epoch a constrained run keeps)', () => {
  const m = (valMse: number, valActive: number, valKl: number): EpochMetrics => ({ epoch: 0, beta: 0, loss: 0, mse: 0, kl: 0, l1: 0, seconds: 0, samplesPerSec: 0, valMse, valActive, valKl });
  it('prefers satisfying the constraint, then fewer active channels, then the lower held-out MSE; otherwise the lower MSE', () => {
    expect(betterConstrained(m(0.09, 12, 5), m(0.11, 3, 1), 0.1)).toBe(true);
    expect(betterConstrained(m(0.11, 3, 1), m(0.09, 12, 5), 0.1)).toBe(false);
    expect(betterConstrained(m(0.09, 5, 9), m(0.05, 6, 2), 0.1)).toBe(true);
    expect(betterConstrained(m(0.05, 5, 3), m(0.09, 5, 2), 0.1)).toBe(true);
    expect(betterConstrained(m(0.09, 5, 2), m(0.05, 5, 3), 0.1)).toBe(false);
    expect(betterConstrained(m(0.2, 3, 1), m(0.3, 1, 1), 0.1)).toBe(true);
    expect(betterConstrained(m(0.2, 3, 1), undefined, 0.1)).toBe(true);
    // with per-sample weights the weighted held-out MSE is what meets the bound, not the plain one
    const w = (valMse: number, valWeightedMse: number, valActive: number): EpochMetrics => ({ ...m(valMse, valActive, 1), valWeightedMse });
    expect(betterConstrained(w(0.5, 0.09, 6), w(0.05, 0.11, 3), 0.1)).toBe(true);
    expect(betterConstrained(w(0.05, 0.2, 3), w(0.5, 0.15, 3), 0.1)).toBe(false);
  });
});

describe('trainVae with a constrained β', () => {
  it('a loose target drives β up and the KL down; a target out of reach leaves β at its start; the kept epoch follows the rule', async () => {
    await initBackend();
    const T = 12;
    const n = 160;
    const data = new Float32Array(n * T * 2);
    for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) for (let c = 0; c < 2; c++) data[(i * T + t) * 2 + c] = Math.sin(t / 2 + i * 0.1 + c) * (1 + (i % 5) / 5);
    const val = data.slice(0, 32 * T * 2);
    const base = { epochs: 10, batch: 16, learningRate: 5e-3, schedule: { primingEpochs: 0, step: 0, every: 1, max: 0 }, seed: 1, validation: { data: val, n: 32 } };
    const run = async (kappa: number) => {
      const vae = buildVae({ preset: 'mlp', T, C: 2 }, { seed: 2 });
      const res = await trainVae(vae, data, n, { ...base, constraint: { ...settings, kappa } });
      return { vae, res };
    };
    const loose = await run(10); // any reconstruction satisfies it
    const tight = await run(1e-6); // none can
    const lb = loose.res.history.map((h) => h.beta);
    const tb = tight.res.history.map((h) => h.beta);
    // 100 batches at c = −1 (the clip) move ln β by about 0.05·(100 − 10): β far above its start
    expect(lb[lb.length - 1]).toBeGreaterThan(0.5);
    expect(tb.every((b) => b === settings.initial)).toBe(true);
    expect(loose.res.history.every((h) => h.constraint! < 0 && typeof h.valActive === 'number')).toBe(true);
    expect(tight.res.history.every((h) => h.constraint! > 0)).toBe(true);
    expect(loose.res.last!.kl).toBeLessThan(tight.res.last!.kl);
    // loose: every epoch satisfies κ, so the kept one has the fewest active channels (then the lowest held-out MSE)
    const fewest = Math.min(...loose.res.history.map((h) => h.valActive!));
    const cands = loose.res.history.filter((h) => h.valActive === fewest);
    const keep = cands.reduce((a, b) => (b.valMse! < a.valMse! ? b : a));
    expect(loose.res.best!.epoch).toBe(keep.epoch);
    // tight: none does, so the kept one is within KEEP_TOLERANCE of the lowest held-out MSE, and those are the
    // weights the model holds
    const low = Math.min(...tight.res.history.map((h) => h.valMse!));
    expect(tight.res.best!.valMse).toBeLessThanOrEqual(KEEP_TOLERANCE * low);
    const now = reconstructionErrors(tight.vae, val, 32).reduce((s, e) => s + e, 0) / 32;
    expect(now).toBeCloseTo(tight.res.best!.valMse, 6);
  }, 120_000);
});

describe('resuming a constrained run', () => {
  it('1 epoch + checkpoint + resumed epoch (controller state from the history) equals 2 epochs straight', async () => {
    const { saveCheckpoint, loadCheckpoint } = await import('../../src/model/save-bundle.ts');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    await initBackend();
    const T = 8;
    const n = 48;
    const data = Float32Array.from({ length: n * T }, (_, i) => Math.sin(i * 0.3) * (1 + (Math.floor(i / T) % 3)));
    const dims = presetDims('mlp', T, 1);
    // κ loose enough to engage within the first epoch, so the resumed half needs the controller's state
    const constraint = { ...settings, kappa: 10, rate: 0.2 };
    const opts = { epochs: 2, batch: 4, learningRate: 1e-2, schedule: { primingEpochs: 0, step: 0, every: 1, max: 0 }, seed: 3 };
    const straight = buildVae(dims, { seed: 9 });
    const rs = await trainVae(straight, data, n, { ...opts, constraint });

    const dir = await mkdtemp(join(tmpdir(), 'ls-ckpt-c-'));
    const first = buildVae(dims, { seed: 9 });
    const r1 = await trainVae(first, data, n, { ...opts, epochs: 1, constraint });
    const h = r1.history[0]!;
    expect(h.constraintEngaged).toBe(true);
    expect(h.beta).not.toBe(settings.initial);
    await saveCheckpoint(dir, first, r1.optimizer, { nextEpoch: 1, history: r1.history, seconds: 0, samplesSeen: n });
    const ck = await loadCheckpoint(dir, dims, opts.learningRate);
    const last = (ck.state.history as EpochMetrics[])[0]!;
    const r2 = await trainVae(ck.vae, data, n, { ...opts, startEpoch: 1, optimizer: ck.optimizer, constraint: { ...constraint, state: { beta: last.beta, constraint: last.constraint!, engaged: last.constraintEngaged! } } });
    await rm(dir, { recursive: true, force: true });
    expect(r2.last!.beta).toBeCloseTo(rs.last!.beta, 10);
    const a = [...straight.encoder.getWeights(), ...straight.decoder.getWeights()];
    const b = [...ck.vae.encoder.getWeights(), ...ck.vae.decoder.getWeights()];
    let maxDiff = 0;
    a.forEach((w, i) => {
      const x = w.dataSync();
      const y = b[i]!.dataSync();
      for (let j = 0; j < x.length; j++) maxDiff = Math.max(maxDiff, Math.abs(x[j]! - y[j]!));
    });
    expect(maxDiff).toBeLessThan(1e-5);
  }, 120_000);
});

describe('trainVae: the constraint counts the flagged (or weighted) samples only (a fine-tuning round: the scan, not the reference mix; a corpus: each scan against its own PCA-5)', () => {
  const T = 32;
  const n = 96;
  const rnd = mulberry32(5);
  // even samples: all zeros (any small decoder output reconstructs them within κ); odd samples: noise of variance 12
  // in 32 steps (16 latents cannot hold it)
  const data = new Float32Array(n * T);
  for (let i = 1; i < n; i += 2) for (let t = 0; t < T; t++) data[i * T + t] = (rnd() * 2 - 1) * 6;
  const rows = Uint8Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0));
  const opts = { epochs: 6, batch: 16, learningRate: 5e-3, schedule: { primingEpochs: 0, step: 0, every: 1, max: 0 }, seed: 1 };
  const constraint = { ...settings, kappa: 0.5, rate: 0.1 };
  const dims = presetDims('mlp', T, 1);
  it('κ met by the flagged samples and missed by the batch as a whole: β moves only when the mask says so', async () => {
    await initBackend();
    const whole = await trainVae(buildVae(dims, { seed: 2 }), data, n, { ...opts, constraint });
    const flagged = await trainVae(buildVae(dims, { seed: 2 }), data, n, { ...opts, constraint: { ...constraint, rows } });
    // the whole batch's μ error stays near the noise half's share (several units) > κ: β never leaves its start
    expect(whole.history.every((h) => h.beta === settings.initial && h.constraint! > 0)).toBe(true);
    // the zero samples alone meet κ: the moving average (starting at +1) turns negative, the controller engages and raises β
    expect(flagged.history.slice(1).every((h) => h.constraint! < 0 && h.constraintEngaged)).toBe(true);
    expect(flagged.last!.beta).toBeGreaterThan(4 * settings.initial);
    // one flag per sample is required
    await expect(trainVae(buildVae(dims, { seed: 2 }), data, n, { ...opts, constraint: { ...constraint, rows: rows.subarray(0, 10) } })).rejects.toThrow(/one per sample/);
  }, 60_000);

  it('per-sample weights (per-scan κ) weigh the loss and the constraint: weight 0 on the noise samples is the mask, in the loss too', async () => {
    await initBackend();
    // weights 2 on the zero samples, 0 on the noise ones (they average 1): the weighted μ error is the zero samples'
    // (met, β rises, as with the mask) and the loss's reconstruction term leaves the noise out, unlike the mask run's
    const weights = Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 2 : 0));
    const weighted = await trainVae(buildVae(dims, { seed: 2 }), data, n, { ...opts, constraint: { ...constraint, weights } });
    const masked = await trainVae(buildVae(dims, { seed: 2 }), data, n, { ...opts, constraint: { ...constraint, rows } });
    expect(weighted.history.slice(1).every((h) => h.constraint! < 0 && h.constraintEngaged)).toBe(true);
    expect(weighted.last!.beta).toBeGreaterThan(4 * settings.initial);
    // the loss's MSE: the noise (variance 12) is half of every batch of the masked run, none of the weighted run's
    expect(masked.history.every((h) => h.mse > 2)).toBe(true);
    expect(weighted.history.every((h) => h.mse < 1)).toBe(true);
    // the held-out error the keep rule compares is weighted the same way (validation.weights)
    const val = data.slice(0, 16 * T);
    const vw = weights.slice(0, 16);
    const kept = await trainVae(buildVae(dims, { seed: 2 }), data, n, { ...opts, validation: { data: val, n: 16, weights: vw }, constraint: { ...constraint, weights } });
    for (const h of kept.history) expect(h.valWeightedMse).toBeLessThan(h.valMse! / 4);
    await expect(trainVae(buildVae(dims, { seed: 2 }), data, n, { ...opts, constraint: { ...constraint, weights: weights.subarray(0, 10) } })).rejects.toThrow(/one per sample/);
  }, 60_000);
});
