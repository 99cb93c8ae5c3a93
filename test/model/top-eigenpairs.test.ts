/**
 * topEigenpairs (subspace iteration for PCA's top axes) against ml-matrix's full symmetric decomposition: the same
 * eigenvalues and axes (up to sign) where it converges, and undefined — so fitPcaRows decomposes fully — where the
 * spectrum is too flat to converge.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { topEigenpairs } from '../../src/model/top-eigenpairs.ts';
import { fitPcaRows } from '../../src/model/baselines.ts';
import { rowsOf } from '../../src/model/rows.ts';
import { mulberry32 } from '../../src/util/prng.ts';

/** Covariance (row-major d × d) of n random rows built from `shapes` with the given amplitudes plus white noise. */
function covariance(d: number, n: number, amplitudes: number[], noise: number, seed: number): { C: Float64Array; X: Matrix } {
  const rng = mulberry32(seed);
  const X = new Matrix(n, d);
  for (let i = 0; i < n; i++) {
    const coef = amplitudes.map((a) => a * rng.normal()); // this row's amount of each shape
    for (let j = 0; j < d; j++) {
      let v = noise * rng.normal();
      coef.forEach((c, s) => (v += c * Math.sin(((s + 1) * Math.PI * (j + 0.5)) / d)));
      X.set(i, j, v);
    }
  }
  const C = new Float64Array(d * d);
  for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) C[a * d + b] += X.get(i, a) * X.get(i, b);
  return { C, X };
}

function fullTop(C: Float64Array, d: number, k: number): { values: number[]; vectors: number[][] } {
  const eig = new EigenvalueDecomposition(new Matrix(Array.from({ length: d }, (_, i) => Array.from(C.subarray(i * d, (i + 1) * d)))), { assumeSymmetric: true });
  const vals = eig.realEigenvalues;
  const order = vals.map((_, i) => i).sort((i, j) => vals[j]! - vals[i]!).slice(0, k);
  return { values: order.map((i) => vals[i]!), vectors: order.map((i) => eig.eigenvectorMatrix.getColumn(i)) };
}

describe('topEigenpairs', () => {
  it('gives the top k eigenvalues and axes of a full decomposition on a steep spectrum', () => {
    const d = 64;
    const k = 5;
    const { C } = covariance(d, 400, [10, 6, 4, 2.5, 1.5, 0.8], 0.05, 7);
    const fast = topEigenpairs(C, d, k)!;
    expect(fast).toBeDefined();
    const ref = fullTop(C, d, k);
    for (let i = 0; i < k; i++) {
      expect(Math.abs(fast.values[i]! - ref.values[i]!) / ref.values[0]!).toBeLessThan(1e-12);
      // same axis up to sign: |cos| = 1
      const cos = fast.vectors[i]!.reduce((s, v, t) => s + v * ref.vectors[i]![t]!, 0);
      expect(Math.abs(Math.abs(cos) - 1)).toBeLessThan(1e-9);
      expect(Math.hypot(...fast.vectors[i]!)).toBeCloseTo(1, 14);
    }
  });

  it('gives up on a flat spectrum instead of returning unconverged axes', () => {
    const d = 48;
    const { C } = covariance(d, 2000, [], 1, 3); // white noise: eigenvalues all near n, no gap after the 5th
    expect(topEigenpairs(C, d, 5, { maxIter: 30 })).toBeUndefined();
  });

  it('fitPcaRows spans the same subspace with either path (projections agree)', () => {
    const d = 40;
    const { X } = covariance(d, 300, [5, 3, 2, 1, 0.7, 0.2], 0.02, 11);
    const fit = fitPcaRows(rowsOf(X), 5);
    // the projector PᵀP onto the fitted axes equals the full decomposition's
    const mean = new Float64Array(d);
    for (let i = 0; i < X.rows; i++) for (let j = 0; j < d; j++) mean[j] += X.get(i, j) / X.rows;
    const C = new Float64Array(d * d);
    for (let i = 0; i < X.rows; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) C[a * d + b] += (X.get(i, a) - mean[a]!) * (X.get(i, b) - mean[b]!);
    expect(topEigenpairs(C, d, 5)).toBeDefined(); // fitPcaRows took the fast path
    const ref = fullTop(C, d, 5);
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) {
        let p = 0;
        let q = 0;
        for (let c = 0; c < 5; c++) {
          p += fit.axes[c * d + a]! * fit.axes[c * d + b]!;
          q += ref.vectors[c]![a]! * ref.vectors[c]![b]!;
        }
        expect(Math.abs(p - q)).toBeLessThan(1e-9);
      }
    }
  });
});
