import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { Matrix } from 'ml-matrix';
import { fitDictionary, kMeansCentroids, kMeansPlusPlus, kMeansRows, reconstructionMse, sparseEncodePositive, dictionaryBaselineError } from '../../src/model/dictionary-learning.ts';
import { mulberry32 } from '../../src/util/prng.ts';
import { randomRgb, toySpectra } from '../../src/sim/toy-rgb.ts';

/** Toy spectra (docs/science.md §4), standardised per time step: n × 25. */
function toyData(n: number, seed: number): Matrix {
  const s = toySpectra(randomRgb(n, seed));
  const X = new Matrix(n, 25);
  for (let j = 0; j < 25; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += s[i * 25 + j]!;
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (s[i * 25 + j]! - m) ** 2;
    const sd = Math.sqrt(v / n) || 1;
    for (let i = 0; i < n; i++) X.set(i, j, (s[i * 25 + j]! - m) / sd);
  }
  return X;
}

function sklearn(script: string, input: unknown): any {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 << 20 }));
}

describe('dictionary learning vs scikit-learn', () => {
  const X = toyData(300, 4);
  const D0 = kMeansCentroids(X, 5, 0);

  it('positive sparse codes equal sklearn (sparse_encode lasso_cd, positive, alpha=1, solved to tol 1e-12)', () => {
    const D = D0.clone();
    for (let c = 0; c < 5; c++) {
      const norm = Math.hypot(...D.getRow(c));
      for (let j = 0; j < 25; j++) D.set(c, j, D.get(c, j) / norm);
    }
    const py = `
import sys, json, numpy as np
from sklearn.linear_model import Lasso
d = json.load(sys.stdin)
X = np.array(d['X']); D = np.array(d['D'])
# sparse_encode(algorithm='lasso_cd', alpha=1, positive=True) is this Lasso (alpha / n_features), here with a tight tol
lasso = Lasso(alpha=1.0 / X.shape[1], fit_intercept=False, positive=True, tol=1e-12, max_iter=100000).fit(D.T, X.T)
print(json.dumps(lasso.coef_.tolist()))`;
    const ref = sklearn(py, { X: X.to2DArray(), D: D.to2DArray() }) as number[][];
    const U = sparseEncodePositive(X, D, 1);
    let maxDiff = 0;
    let nonzero = 0;
    for (let i = 0; i < X.rows; i++) {
      for (let c = 0; c < 5; c++) {
        maxDiff = Math.max(maxDiff, Math.abs(U.get(i, c) - ref[i]![c]!));
        if (U.get(i, c) > 0) nonzero++;
        expect(U.get(i, c)).toBeGreaterThanOrEqual(0);
      }
    }
    expect(maxDiff).toBeLessThan(1e-5);
    expect(nonzero).toBeGreaterThan(X.rows); // codes are not all zero: the comparison means something
  });

  it('k-means with bounds gives plain Lloyd iterations\' centroids, to the last bit', () => {
    // the definition: from the same k-means++ seeds, Lloyd — assign every point to its nearest centroid, move each
    // centroid to its points' mean — until no point moves
    const lloyd = (X: { data: Float64Array; n: number; d: number }, k: number, seed: number) => {
      const { data, n, d } = X;
      const sq = (i: number, C: Float64Array, c: number) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += (data[i * d + j]! - C[c * d + j]!) ** 2;
        return s;
      };
      const C = kMeansPlusPlus(X, k, seed);
      const assign = new Int32Array(n);
      for (let it = 0; it < 50; it++) {
        let moved = 0;
        for (let i = 0; i < n; i++) {
          let best = 0;
          for (let c = 1; c < k; c++) if (sq(i, C, c) < sq(i, C, best)) best = c;
          if (assign[i] !== best) moved++;
          assign[i] = best;
        }
        const sums = new Float64Array(k * d);
        const counts = new Float64Array(k);
        for (let i = 0; i < n; i++) {
          counts[assign[i]!]!++;
          for (let j = 0; j < d; j++) sums[assign[i]! * d + j] = sums[assign[i]! * d + j]! + data[i * d + j]!;
        }
        for (let c = 0; c < k; c++) if (counts[c]! > 0) for (let j = 0; j < d; j++) C[c * d + j] = sums[c * d + j]! / counts[c]!;
        if (moved === 0 && it > 0) break;
      }
      return C;
    };
    const rnd = mulberry32(77);
    for (let trial = 0; trial < 30; trial++) {
      const n = 40 + Math.floor(rnd() * 300);
      const d = 2 + Math.floor(rnd() * 20);
      // clustered points (a few well separated blobs and noise), so bounds skip most distances after the first passes
      const centres = Array.from({ length: 6 }, () => Float64Array.from({ length: d }, () => 10 * rnd()));
      const X = { data: Float64Array.from({ length: n * d }, (_, q) => centres[Math.floor(q / d) % 6]![q % d]! + rnd()), n, d };
      for (const k of [1, 2, 5, 8]) expect(Array.from(kMeansRows(X, k, trial))).toEqual(Array.from(lloyd(X, k, trial)));
    }
  });

  it('each code meets the optimality (KKT) conditions of the positive lasso, also when two atoms are the same', () => {
    // g = G·u − (x·Dᵀ − α): g_i = 0 where u_i > 0, g_i ≥ 0 where u_i = 0 — the minimum, whichever way it is found
    let seed = 9;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const duplicate of [false, true]) {
      const k = 5;
      const d = 12;
      const D = new Matrix(k, d);
      for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) D.set(c, j, duplicate && c === 4 ? D.get(1, j) : rnd() - 0.3);
      const X = new Matrix(200, d);
      for (let i = 0; i < 200; i++) for (let j = 0; j < d; j++) X.set(i, j, 3 * (rnd() - 0.2));
      const alpha = 0.5;
      const U = sparseEncodePositive(X, D, alpha);
      const G = D.mmul(D.transpose());
      const XD = X.mmul(D.transpose());
      let active = 0;
      for (let i = 0; i < X.rows; i++) {
        for (let c = 0; c < k; c++) {
          let g = -(XD.get(i, c) - alpha);
          for (let e = 0; e < k; e++) g += G.get(c, e) * U.get(i, e);
          if (U.get(i, c) > 0) {
            active++;
            expect(Math.abs(g)).toBeLessThan(duplicate ? 1e-6 : 1e-9);
          } else expect(g).toBeGreaterThan(duplicate ? -1e-6 : -1e-9);
        }
      }
      expect(active).toBeGreaterThan(X.rows); // codes are not all zero: the check means something
    }
  });

  it('a fitted dictionary reconstructs as well as sklearn DictionaryLearning from the same k-means start (within 10%)', () => {
    const py = `
import sys, json, numpy as np
from sklearn.decomposition import DictionaryLearning
d = json.load(sys.stdin)
X = np.array(d['X']); D0 = np.array(d['D0'])
D0 = D0 / np.maximum(np.linalg.norm(D0, axis=1, keepdims=True), 1)
dl = DictionaryLearning(n_components=5, alpha=1.0, fit_algorithm='cd', transform_algorithm='lasso_cd', transform_alpha=1.0, positive_code=True, dict_init=D0, max_iter=100, tol=1e-6, random_state=0)
U = dl.fit_transform(X)
print(json.dumps({'mse': float(np.mean((X - U @ dl.components_)**2))}))`;
    const ref = sklearn(py, { X: X.to2DArray(), D0: D0.to2DArray() }) as { mse: number };
    const fit = fitDictionary(X, { components: 5, alpha: 1, init: D0, maxIter: 100 });
    const mse = reconstructionMse(X, fit.codes, fit.dictionary);
    expect(ref.mse).toBeGreaterThan(0.01);
    expect(Math.abs(mse - ref.mse) / ref.mse).toBeLessThan(0.1);
  });

  it('dictionaryBaselineError is the mean per-sample MSE after removing each sample mean', () => {
    const flat = new Float32Array(X.to1DArray());
    const err = dictionaryBaselineError(flat, 300, 25, { maxIter: 30 });
    expect(err).toBeGreaterThan(0.01);
    expect(err).toBeLessThan(1); // far better than predicting the mean of standardised data (MSE ≈ 1)
  });
});

describe('toy validation (dictionary-learning part; the full run is `loopstream validate toy`)', () => {
  it('scores the baseline on the validation image in standardised units', async () => {
    const { validateToy } = await import('../../src/model/validate-toy.ts');
    const res = await validateToy({ trainN: 1500, imageSide: 16, skipVae: true });
    expect(res.vaeMse).toBeNull();
    expect(res.validationN).toBe(256);
    expect(res.paper).toEqual({ vaeMse: 0.104, dlMse: 0.186 });
    // 5 positive atoms leave a clear error on these nonlinear spectra, yet far below the variance (1)
    expect(res.dlMse).toBeGreaterThan(0.05);
    expect(res.dlMse).toBeLessThan(0.6);
  }, 120_000);
});
