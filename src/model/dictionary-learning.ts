/**
 * Dictionary-learning baseline (docs/science.md §4; the paper's linear, non-ordinal comparison), on ml-matrix.
 *
 * Minimises ½‖X − U·D‖²_F + α‖U‖₁ with codes U ≥ 0 (positive codes) and atoms ‖D_k‖₂ ≤ 1, like scikit-learn's
 * DictionaryLearning(positive_code=True): codes by coordinate descent on the Gram matrix (sklearn's lasso_cd with
 * positive=True solves the same problem), atoms by sklearn's block coordinate descent (`_update_dict`). Atoms start
 * from k-means centroids (as the paper's baseline does).
 */
import { Matrix } from 'ml-matrix';
import { mulberry32 } from '../util/prng.ts';

/** Options of the baseline. */
export interface DictionaryLearningOptions {
  components?: number;
  alpha?: number;
  maxIter?: number;
  tol?: number;
  seed?: number;
  /** initial dictionary (components × features); default k-means centroids */
  init?: Matrix;
}

/** A fitted dictionary and the codes of the training data. */
export interface DictionaryFit {
  dictionary: Matrix;
  codes: Matrix;
  iterations: number;
  objective: number;
}

/**
 * k-means (k-means++ seeding, Lloyd iterations) centroids of the rows of X. Works on plain row arrays: ml-matrix's
 * per-element get/set in these n·k·d loops cost more than the arithmetic (same operations, same order, same result).
 */
export function kMeansCentroids(X: Matrix, k: number, seed = 0, iters = 50): Matrix {
  const n = X.rows;
  const d = X.columns;
  const rows = plainRows(X);
  const rnd = mulberry32(seed + 1);
  const C = Array.from({ length: k }, () => new Float64Array(d));
  const sq = (x: Float64Array, c: Float64Array) => {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const e = x[j]! - c[j]!;
      s += e * e;
    }
    return s;
  };
  const dist = new Float64Array(n).fill(Infinity);
  let pick = Math.floor(rnd() * n);
  for (let c = 0; c < k; c++) {
    C[c]!.set(rows[pick]!);
    let total = 0;
    for (let i = 0; i < n; i++) {
      dist[i] = Math.min(dist[i]!, sq(rows[i]!, C[c]!));
      total += dist[i]!;
    }
    let r = rnd() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= dist[i]!;
      if (r <= 0) {
        pick = i;
        break;
      }
    }
  }
  const assign = new Int32Array(n);
  for (let it = 0; it < iters; it++) {
    let moved = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const s = sq(rows[i]!, C[c]!);
        if (s < bestD) {
          bestD = s;
          best = c;
        }
      }
      if (assign[i] !== best) moved++;
      assign[i] = best;
    }
    const sums = Array.from({ length: k }, () => new Float64Array(d));
    const counts = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      counts[assign[i]!]!++;
      const sum = sums[assign[i]!]!;
      const x = rows[i]!;
      for (let j = 0; j < d; j++) sum[j] = sum[j]! + x[j]!;
    }
    for (let c = 0; c < k; c++) if (counts[c]! > 0) for (let j = 0; j < d; j++) C[c]![j] = sums[c]![j]! / counts[c]!;
    if (moved === 0 && it > 0) break;
  }
  return new Matrix(C.map((c) => Array.from(c)));
}

/** The rows of a matrix as plain Float64Arrays (the loops below index these; ml-matrix's per-element get/set and its
 *  mmul temporaries cost more than the arithmetic — the baseline runs at the end of every replay). */
export function plainRows(X: Matrix): Float64Array[] {
  return Array.from({ length: X.rows }, (_, i) => new Float64Array(X.getRow(i)));
}

/** G = D·Dᵀ (k × k) of atoms `D` (k rows). */
export function atomGram(D: Float64Array[]): Float64Array[] {
  return D.map((a) => Float64Array.from(D, (b) => dot(a, b)));
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/**
 * The positive sparse code of one row: argmin_u ½‖x − u·D‖² + α‖u‖₁, u ≥ 0, by coordinate descent from the codes
 * already in `u` (updated in place), given xd = x·Dᵀ and G = D·Dᵀ.
 */
export function encodeRowPositive(xd: ArrayLike<number>, G: Float64Array[], alpha: number, u: Float64Array, maxIter = 1000, tol = 1e-10): void {
  const k = u.length;
  for (let it = 0; it < maxIter; it++) {
    let maxDelta = 0;
    for (let c = 0; c < k; c++) {
      const g = G[c]!;
      const gcc = g[c]!;
      if (gcc <= 0) continue;
      let r = xd[c]!;
      for (let j = 0; j < k; j++) if (j !== c) r -= g[j]! * u[j]!;
      const next = Math.max(0, (r - alpha) / gcc);
      maxDelta = Math.max(maxDelta, Math.abs(next - u[c]!));
      u[c] = next;
    }
    if (maxDelta < tol) break;
  }
}

/**
 * Code one row `x` on fitted atoms `D` (positive, α; `G` = D·Dᵀ) into `u`, from zero, and return its squared
 * reconstruction error ‖x − u·D‖². `xd` is scratch of the atoms' count.
 */
export function codeRowResidual2(x: Float64Array, D: Float64Array[], G: Float64Array[], alpha: number, u: Float64Array, xd: Float64Array): number {
  for (let c = 0; c < D.length; c++) xd[c] = dot(x, D[c]!);
  u.fill(0);
  encodeRowPositive(xd, G, alpha, u);
  let s = 0;
  for (let j = 0; j < x.length; j++) {
    let r = 0;
    for (let c = 0; c < D.length; c++) r += u[c]! * D[c]![j]!;
    const e = x[j]! - r;
    s += e * e;
  }
  return s;
}

/**
 * Codes of every row of `rows` on atoms `D` (warm-started from `U` when given; `U` is updated in place). Returns the
 * objective ½‖X − U·D‖² + α‖U‖₁ at the new codes, expanded per row as ½(‖x‖² − 2u·(x·Dᵀ) + uᵀGu) + α‖u‖₁ from
 * the products the coding step already has (`sq` holds each row's ‖x‖²): no second pass over the n × d data.
 */
function encodeRows(rows: Float64Array[], D: Float64Array[], alpha: number, U: Float64Array[], sq?: Float64Array, maxIter?: number, tol?: number): number {
  const G = atomGram(D);
  const k = D.length;
  const xd = new Float64Array(k);
  let objective = 0;
  for (let i = 0; i < rows.length; i++) {
    const x = rows[i]!;
    for (let c = 0; c < k; c++) xd[c] = dot(x, D[c]!);
    const u = U[i]!;
    encodeRowPositive(xd, G, alpha, u, maxIter, tol);
    if (!sq) continue;
    let cross = 0;
    let quad = 0;
    let l1 = 0;
    for (let c = 0; c < k; c++) {
      cross += u[c]! * xd[c]!;
      l1 += Math.abs(u[c]!);
      let gu = 0;
      for (let e = 0; e < k; e++) gu += G[c]![e]! * u[e]!;
      quad += u[c]! * gu;
    }
    objective += 0.5 * Math.max(0, sq[i]! - 2 * cross + quad) + alpha * l1;
  }
  return objective;
}

/**
 * Positive sparse codes of the rows of X on `dictionary`: argmin_U ½‖X − U·D‖² + α‖U‖₁, U ≥ 0, by coordinate
 * descent on G = D·Dᵀ and X·Dᵀ. `warm` starts from given codes.
 */
export function sparseEncodePositive(X: Matrix, dictionary: Matrix, alpha: number, opts: { maxIter?: number; tol?: number; warm?: Matrix } = {}): Matrix {
  const k = dictionary.rows;
  const U = opts.warm ? plainRows(opts.warm) : Array.from({ length: X.rows }, () => new Float64Array(k));
  encodeRows(plainRows(X), plainRows(dictionary), alpha, U, undefined, opts.maxIter, opts.tol);
  return new Matrix(U.map((u) => Array.from(u)));
}

/** Scale atom `a` back onto the unit ball (‖D_k‖₂ ≤ 1). */
function clipToUnitNorm(a: Float64Array): void {
  const norm = Math.sqrt(dot(a, a));
  if (norm > 1) for (let j = 0; j < a.length; j++) a[j]! /= norm;
}

/** Fit the dictionary on the rows of X (samples × features). */
export function fitDictionary(X: Matrix, opts: DictionaryLearningOptions = {}): DictionaryFit {
  const k = opts.components ?? 5;
  const alpha = opts.alpha ?? 1;
  const maxIter = opts.maxIter ?? 100;
  const tol = opts.tol ?? 1e-6;
  const rows = plainRows(X);
  const d = X.columns;
  const D = plainRows(opts.init ?? kMeansCentroids(X, k, opts.seed ?? 0));
  for (const a of D) clipToUnitNorm(a);
  const U = Array.from({ length: rows.length }, () => new Float64Array(k));
  const sq = Float64Array.from(rows, (x) => dot(x, x));
  let prev = encodeRows(rows, D, alpha, U, sq);
  let it = 0;
  const A = Array.from({ length: k }, () => new Float64Array(k));
  const B = Array.from({ length: k }, () => new Float64Array(d)); // B[c] = column c of XᵀU
  for (; it < maxIter; it++) {
    // Block coordinate descent on the atoms (sklearn `_update_dict`): A = UᵀU, B = XᵀU.
    for (const a of A) a.fill(0);
    for (const b of B) b.fill(0);
    for (let i = 0; i < rows.length; i++) {
      const u = U[i]!;
      const x = rows[i]!;
      for (let c = 0; c < k; c++) {
        const uc = u[c]!;
        if (uc === 0) continue;
        const a = A[c]!;
        for (let e = 0; e < k; e++) a[e] += uc * u[e]!;
        const b = B[c]!;
        for (let j = 0; j < d; j++) b[j] += x[j]! * uc;
      }
    }
    for (let c = 0; c < k; c++) {
      const acc = A[c]![c]!;
      if (acc > 1e-6) {
        const atom = D[c]!;
        const ac = A[c]!;
        const next = new Float64Array(d);
        for (let j = 0; j < d; j++) {
          let ad = 0; // (A_c · D)_j, with D as it stands (atoms before c already updated: block coordinate descent)
          for (let e = 0; e < k; e++) ad += ac[e]! * D[e]![j]!;
          next[j] = atom[j]! + (B[c]![j]! - ad) / acc;
        }
        atom.set(next);
      }
      clipToUnitNorm(D[c]!);
    }
    const obj = encodeRows(rows, D, alpha, U, sq);
    if (Math.abs(prev - obj) < tol * Math.max(1, Math.abs(prev))) {
      prev = obj;
      it++;
      break;
    }
    prev = obj;
  }
  return {
    dictionary: new Matrix(D.map((a) => Array.from(a))),
    codes: new Matrix(U.map((u) => Array.from(u))),
    iterations: it,
    objective: prev,
  };
}

/** Mean squared reconstruction error per element of X ≈ U·D. */
export function reconstructionMse(X: Matrix, U: Matrix, D: Matrix): number {
  const R = X.clone().sub(U.mmul(D));
  let s = 0;
  for (let i = 0; i < R.rows; i++) for (let j = 0; j < R.columns; j++) s += R.get(i, j) ** 2;
  return s / (R.rows * R.columns);
}

/**
 * The dictionary-learning baseline error on model inputs ([n][stride], scaled units, as the VAE sees them):
 * each sample's mean is removed (the paper's preprocessing for this baseline), a 5-component dictionary with
 * positive codes (α = 1) is fitted, and the mean per-sample MSE of mean + U·D against the input is returned —
 * directly comparable with the engine's per-sample `error`. At most `maxSamples` samples (evenly spaced) are used.
 */
export function dictionaryBaselineError(inputs: Float32Array, n: number, stride: number, opts: DictionaryLearningOptions & { maxSamples?: number; removeMean?: boolean } = {}): number {
  const maxSamples = opts.maxSamples ?? 2000;
  const m = Math.min(n, maxSamples);
  const X = new Matrix(m, stride);
  for (let r = 0; r < m; r++) {
    const i = Math.floor((r * n) / m);
    let mean = 0;
    if (opts.removeMean ?? true) {
      for (let j = 0; j < stride; j++) mean += inputs[i * stride + j]!;
      mean /= stride;
    }
    for (let j = 0; j < stride; j++) X.set(r, j, inputs[i * stride + j]! - mean);
  }
  const fit = fitDictionary(X, { components: 5, alpha: 1, ...opts });
  return reconstructionMse(X, fit.codes, fit.dictionary);
}
