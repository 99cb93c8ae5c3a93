/**
 * Flat row-major matrices and the few kernels the linear baselines share (PCA in baselines.ts, k-means and dictionary
 * learning in dictionary-learning.ts, the subspace iteration in top-eigenpairs.ts).
 *
 * Why flat Float64Arrays and not ml-matrix or arrays of rows: the baselines run once per replay, at its end, in a
 * process that has just started, so their code runs cold. One contiguous array per matrix and a handful of small loops
 * shared by every step (a dot product, a squared distance) get optimised after a few calls and stay optimised, where
 * per-element get/set, a row object per row and one-off giant loops ran in the interpreter and were recompiled after
 * each deoptimisation (docs/performance.md §Start-up and whole-process replay).
 */
import { Matrix } from 'ml-matrix';

/** n rows of d values, row i at data[i·d … i·d + d). */
export interface Rows {
  data: Float64Array;
  n: number;
  d: number;
}

/** The rows of an ml-matrix Matrix, copied. */
export function rowsOf(X: Matrix): Rows {
  const n = X.rows;
  const d = X.columns;
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) data.set(X.getRow(i), i * d);
  return { data, n, d };
}

/** The rows `rows` of `data` ([row][d], float32) as flat float64 rows, in the order given. */
export function pickRows(data: Float32Array, rows: ArrayLike<number>, d: number): Rows {
  const out = new Float64Array(rows.length * d);
  // TypedArray set converts float32 → float64 in native code: no per-element loop to run cold
  for (let r = 0; r < rows.length; r++) out.set(data.subarray(rows[r]! * d, rows[r]! * d + d), r * d);
  return { data: out, n: rows.length, d };
}

/** An ml-matrix Matrix of the n × d values of `data` (row-major), copied. */
export function toMatrix(data: Float64Array, n: number, d: number): Matrix {
  return Matrix.from1DArray(n, d, data);
}

/** Σ a[ao + j] · b[bo + j] over j < len. */
export function dotAt(a: Float64Array, ao: number, b: Float64Array, bo: number, len: number): number {
  let s = 0;
  for (let j = 0; j < len; j++) s += a[ao + j]! * b[bo + j]!;
  return s;
}

/** y[yo + j] += s · x[xo + j] over j < len. */
export function axpyAt(s: number, x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): void {
  for (let j = 0; j < len; j++) y[yo + j] += s * x[xo + j]!;
}

/** Σ (a[ao + j] − b[bo + j])² over j < len. */
export function sqDistAt(a: Float64Array, ao: number, b: Float64Array, bo: number, len: number): number {
  let s = 0;
  for (let j = 0; j < len; j++) {
    const e = a[ao + j]! - b[bo + j]!;
    s += e * e;
  }
  return s;
}
