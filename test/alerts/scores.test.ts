import { describe, expect, it } from 'vitest';
import {
  RunningMedianMad,
  errorZ,
  knnDistance,
  knnModel,
  knnZ,
  latentScorer,
  lofRatio,
  latentModel,
  latentZ,
  mahalanobis2,
  medianMad,
  quantiles,
  referenceFromEncodings,
  robustZ,
} from '../../src/alerts/scores.ts';
import { rng } from './synthetic.ts';

/** A reference from 4,000 embeddings in two tight clusters at x = ±5. */
function twoClusters() {
  const n = 4000;
  const g = rng(11);
  const mu = new Float32Array(n * 2);
  const error = new Float32Array(n).fill(0.01);
  for (let i = 0; i < n; i++) {
    mu[i * 2] = (i % 2 ? 5 : -5) + 0.3 * g.normal();
    mu[i * 2 + 1] = 0.3 * g.normal();
  }
  return referenceFromEncodings({ error, mu, dim: 2, description: 'two clusters' });
}

describe('robust statistics', () => {
  it('median and MAD by hand: [1, 2, 3, 4, 100] → median 3, MAD 1; NaN skipped', () => {
    expect(medianMad(Float32Array.from([100, 2, NaN, 4, 1, 3]))).toEqual({ median: 3, mad: 1 });
    expect(medianMad([1, 2, 3, 4])).toEqual({ median: 2.5, mad: 1 });
  });

  it('quantiles interpolate linearly like numpy.quantile', () => {
    // numpy.quantile([1, 2, 3, 4], [0, 0.25, 0.5, 1]) = [1, 1.75, 2.5, 4]
    expect(quantiles([4, 3, 2, 1], [0, 0.25, 0.5, 1])).toEqual([1, 1.75, 2.5, 4]);
  });

  it('robust z: (x − median) / (1.4826·MAD)', () => {
    expect(robustZ(5, 3, 1)).toBeCloseTo(2 / 1.4826, 12);
    expect(Number.isFinite(robustZ(5, 3, 0))).toBe(true);
  });

  it('running median/MAD is exact below the reservoir size', () => {
    const r = new RunningMedianMad(16);
    for (const x of [100, 2, 4, 1, 3]) r.push(x);
    r.push(Number.NaN);
    expect(r.seen).toBe(5);
    expect(r.stats()).toEqual({ median: 3, mad: 1 });
  });

  it('running median/MAD over a long stream stays near the true values (uniform 0..1: median 0.5, MAD 0.25)', () => {
    const r = new RunningMedianMad(2048);
    const g = rng(7);
    for (let i = 0; i < 100000; i++) r.push(g.uniform());
    const { median, mad } = r.stats();
    expect(Math.abs(median - 0.5)).toBeLessThan(0.04);
    expect(Math.abs(mad - 0.25)).toBeLessThan(0.03);
  });
});

describe('error score', () => {
  const ref = { logMedian: Math.log(0.01), logMad: 0.2 };
  it('is the robust z of ln(error) against the reference', () => {
    expect(errorZ(0.01 * Math.E, ref)).toBeCloseTo(1 / (1.4826 * 0.2), 10);
    expect(errorZ(Number.NaN, ref)).toBeNaN();
  });
  it('with scan statistics, the smaller of the two z-scores counts', () => {
    const zTrain = errorZ(0.1, ref);
    // a scan whose errors sit around 0.05: the pixel is less unusual there
    const scan = { median: Math.log(0.05), mad: 0.2 };
    const z = errorZ(0.1, ref, scan);
    expect(z).toBeCloseTo(Math.log(2) / (1.4826 * 0.2), 10);
    expect(z).toBeLessThan(zTrain);
    // a scan that is cleaner than training: the training reference decides
    expect(errorZ(0.1, ref, { median: Math.log(0.001), mad: 0.2 })).toBeCloseTo(zTrain, 10);
  });
});

describe('latent distance', () => {
  it('Mahalanobis² with a diagonal covariance by hand: diag(4, 1), x = (2, 3) → 4/4 + 9 = 10', () => {
    const m = latentModel([0, 0], [4, 0, 0, 1], 0);
    expect(mahalanobis2([2, 3], 0, m)).toBeCloseTo(10, 10);
    expect(mahalanobis2([9, 2, 3], 1, m)).toBeCloseTo(10, 10);
    expect(mahalanobis2([NaN, 3], 0, m)).toBeNaN();
  });
  it('shrinks toward (tr Σ / k)·I: diag(4, 1) with weight 0.5 → diag(3.25, 1.75)', () => {
    const m = latentModel([1, 1], [4, 0, 0, 1], 0.5);
    expect(mahalanobis2([2, 1], 0, m)).toBeCloseTo(1 / 3.25, 10);
    expect(mahalanobis2([1, 2], 0, m)).toBeCloseTo(1 / 1.75, 10);
  });
  it('a correlated covariance: Σ = [[2, 1], [1, 2]], Σ⁻¹ = [[2, −1], [−1, 2]]/3; x = (1, 1) → 2/3', () => {
    const m = latentModel([0, 0], [2, 1, 1, 2], 0);
    expect(mahalanobis2([1, 1], 0, m)).toBeCloseTo(2 / 3, 10);
    expect(mahalanobis2([1, -1], 0, m)).toBeCloseTo(2, 10);
  });
  it('latent z is the robust z of ln d²', () => {
    expect(latentZ(Math.E, { logD2Median: 0, logD2Mad: 1 })).toBeCloseTo(1 / 1.4826, 10);
  });
});

describe('referenceFromEncodings', () => {
  it('recovers the error median and the embedding mean and covariance of Gaussian data', () => {
    const n = 20000;
    const dim = 3;
    const g = rng(3);
    const error = new Float32Array(n);
    const mu = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      error[i] = Math.exp(Math.log(0.02) + 0.5 * g.normal());
      const a = g.normal();
      const b = g.normal();
      // μ = (1 + a, 2 + a + b, −1 + 0.1·c): cov [[1, 1, 0], [1, 2, 0], [0, 0, 0.01]]
      mu[i * dim] = 1 + a;
      mu[i * dim + 1] = 2 + a + b;
      mu[i * dim + 2] = -1 + 0.1 * g.normal();
    }
    error[5] = Number.NaN; // skipped
    const ref = referenceFromEncodings({ error, mu, dim, description: 'gaussian', shrinkage: 0 });
    expect(ref.source.pixels).toBe(n - 1);
    expect(ref.error.logMedian).toBeCloseTo(Math.log(0.02), 1);
    expect(ref.error.logMad * 1.4826).toBeCloseTo(0.5, 1);
    expect(ref.latent.mean[0]).toBeCloseTo(1, 1);
    expect(ref.latent.mean[1]).toBeCloseTo(2, 1);
    expect(ref.latent.mean[2]).toBeCloseTo(-1, 1);
    const want = [1, 1, 0, 1, 2, 0, 0, 0, 0.01];
    ref.latent.cov.forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThan(0.06));
    // d² of Gaussian data is chi-square(3): median 2.366
    expect(Math.exp(ref.latent.logD2Median)).toBeCloseTo(2.366, 0);
  });
});

describe('kNN latent distance', () => {
  it('k-th nearest neighbour by hand: sample (0,0), (1,0), (3,0); from the origin the 2nd is at 1, leaving the origin out at 3', () => {
    const m = knnModel([0, 0, 1, 0, 3, 0], 2, [0, 0], [1, 1], 2);
    expect(knnDistance([0, 0], 0, m)).toBe(1);
    expect(knnDistance([0, 0], 0, m, undefined, 0)).toBe(3);
    // scales divide: with scale 2 on x, (3, 0) sits at 1.5
    const s = knnModel([0, 0, 1, 0, 3, 0], 2, [0, 0], [2, 1], 3);
    expect(knnDistance([0, 0], 0, s)).toBe(1.5);
    expect(knnDistance([NaN, 0], 0, s)).toBeNaN();
  });

  it('equals a brute-force k-th distance over a walk of queries (warm start from the previous query), with and without leave-one-out', () => {
    const r = rng(17).uniform;
    for (const dim of [3, 16]) {
      const n = 300;
      const k = 8;
      const sample = Array.from({ length: n * dim }, () => r() * 4 - 2);
      const m = knnModel(sample, dim, new Array(dim).fill(0), new Array(dim).fill(1), k);
      const q = new Array(dim).fill(0);
      const neighbours = new Int32Array(k);
      for (let step = 0; step < 200; step++) {
        // a random walk, like consecutive pixels; every 50th query jumps far away
        for (let j = 0; j < dim; j++) q[j] = step % 50 === 0 ? r() * 8 - 4 : q[j] + (r() - 0.5) * 0.3;
        const skip = step % 3 === 0 ? Math.floor(r() * n) : -1;
        const d2 = [];
        for (let i = 0; i < n; i++) {
          if (i === skip) continue;
          let s2 = 0;
          for (let j = 0; j < dim; j++) s2 += (m.sample[i * dim + j]! - q[j]!) ** 2; // the model keeps its sample in float32
          d2.push([s2, i] as const);
        }
        d2.sort((a, b) => a[0] - b[0]);
        expect(knnDistance(q, 0, m, undefined, skip, neighbours)).toBeCloseTo(Math.sqrt(d2[k - 1]![0]), 12);
        expect(Array.from(neighbours)).toEqual(d2.slice(0, k).map(([, i]) => i));
      }
    }
  });

  it('a point between two clusters: far for kNN, ordinary for one Gaussian', () => {
    const ref = twoClusters();
    const knnRef = ref.latent.knn!;
    expect(knnRef.k).toBe(8);
    expect(knnRef.sample.length).toBe(2000 * 2); // half of 4000 pixels (at most 2048)
    const knn = knnModel(knnRef.sample, 2, ref.latent.mean, knnRef.scale, knnRef.k);
    const gauss = latentModel(ref.latent.mean, ref.latent.cov, ref.latent.shrinkage);
    const between = [0, 0];
    expect(knnZ(knnDistance(between, 0, knn), knnRef)).toBeGreaterThan(6);
    expect(latentZ(mahalanobis2(between, 0, gauss), ref.latent)).toBeLessThan(0);
    // a point inside a cluster is ordinary for both
    expect(Math.abs(knnZ(knnDistance([5, 0], 0, knn), knnRef))).toBeLessThan(2);
  });

  it('the density ratio (lof) does not flag a sparse but normal cluster, the plain kNN distance does', () => {
    const n = 8000;
    const g = rng(12);
    const mu = new Float32Array(n * 2);
    const error = new Float32Array(n).fill(0.01);
    // 90 % in a tight cluster at (−3, 0), 10 % in a wide one at (3, 0)
    for (let i = 0; i < n; i++) {
      const wide = i % 10 === 0;
      mu[i * 2] = (wide ? 3 : -3) + (wide ? 1 : 0.1) * g.normal();
      mu[i * 2 + 1] = (wide ? 1 : 0.1) * g.normal();
    }
    const ref = referenceFromEncodings({ error, mu, dim: 2, description: 'dense and sparse', shrinkage: 0 });
    const r = ref.latent.knn!;
    const knn = knnModel(r.sample, 2, ref.latent.mean, r.scale, r.k);
    const nb = new Int32Array(r.k);
    const sc = new Float64Array(2 + r.k);
    const lofZ = (p: number[]) => robustZ(Math.log(lofRatio(p, 0, knn, r.kdist!, sc, nb)), r.logLofMedian!, r.logLofMad!);
    const inSparse = [3.5, 0.5];
    expect(knnZ(knnDistance(inSparse, 0, knn), r)).toBeGreaterThan(3);
    expect(lofZ(inSparse)).toBeLessThan(2);
    // far from both clusters: both fire
    expect(lofZ([0, 8])).toBeGreaterThan(6);
  });
});

describe('latentScorer: the one choice of the latent score', () => {
  const ref = twoClusters();
  const between = [0, 0];

  it('each configured method gives its own score; the same numbers as the functions it wraps', () => {
    const r = ref.latent.knn!;
    const knn = knnModel(r.sample, 2, ref.latent.mean, r.scale, r.k);
    const gauss = latentModel(ref.latent.mean, ref.latent.cov, ref.latent.shrinkage);
    const lof = latentScorer({ latentMethod: 'lof', latentThreshold: 4 }, ref, 2);
    const kn = latentScorer({ latentMethod: 'knn', latentThreshold: 4 }, ref, 2);
    const ma = latentScorer({ latentMethod: 'mahalanobis', latentThreshold: 4 }, ref, 2);
    expect([lof.scorer.method, kn.scorer.method, ma.scorer.method]).toEqual(['lof', 'knn', 'mahalanobis']);
    expect([lof.note, kn.note, ma.note]).toEqual([undefined, undefined, undefined]);
    expect(kn.scorer.z(between, 0)).toBe(knnZ(knnDistance(between, 0, knn), r));
    expect(ma.scorer.z(between, 0)).toBe(latentZ(mahalanobis2(between, 0, gauss), ref.latent));
    const lofRef = robustZ(Math.log(lofRatio(between, 0, knn, r.kdist!, new Float64Array(2 + r.k), new Int32Array(r.k))), r.logLofMedian!, r.logLofMad!);
    expect(lof.scorer.z(between, 0)).toBeCloseTo(lofRef, 12);
    expect(lof.scorer.z(between, 0)).toBeGreaterThan(6);
    // μ at an offset of a flat array (pixel 1 of [pixel 0, pixel 1])
    expect(kn.scorer.z([5, 0, 0, 0], 2)).toBe(kn.scorer.z(between, 0));
    expect(kn.scorer.z([NaN, 0], 0)).toBeNaN();
  });

  it('off when the latent threshold is 0 or the reference has another latent dim (with a note)', () => {
    const off = latentScorer({ latentMethod: 'lof', latentThreshold: 0 }, ref, 2);
    expect(off.scorer.method).toBe('off');
    expect(off.note).toBeUndefined();
    expect(off.scorer.z(between, 0)).toBeNaN();
    const dim = latentScorer({ latentMethod: 'knn', latentThreshold: 4 }, ref, 3);
    expect(dim.scorer.method).toBe('off');
    expect(dim.note).toEqual({ fields: { referenceDim: 2, latentDim: 3 }, message: 'alert reference has 2 latent dims, the scan 3; latent score off' });
  });

  it('knn or lof without a usable kNN sample falls back to Mahalanobis, with a coded note', () => {
    const noKnn = { ...ref, latent: { ...ref.latent, knn: undefined } };
    for (const latentMethod of ['knn', 'lof'] as const) {
      const { scorer, note } = latentScorer({ latentMethod, latentThreshold: 4 }, noKnn, 2);
      expect(scorer.method).toBe('mahalanobis');
      expect(note?.fields).toEqual({ code: 'LS_ALERTS_REFERENCE_INVALID' });
    }
    // a kNN sample without LOF statistics serves knn, not lof
    const noLof = { ...ref, latent: { ...ref.latent, knn: { ...ref.latent.knn!, kdist: undefined } } };
    expect(latentScorer({ latentMethod: 'knn', latentThreshold: 4 }, noLof, 2).scorer.method).toBe('knn');
    expect(latentScorer({ latentMethod: 'lof', latentThreshold: 4 }, noLof, 2).scorer.method).toBe('mahalanobis');
  });
});
