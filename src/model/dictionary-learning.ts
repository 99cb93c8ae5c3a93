/**
 * Dictionary-learning baseline (docs/science.md §4; the paper's linear, non-ordinal comparison).
 *
 * Minimises ½‖X − U·D‖²_F + α‖U‖₁ with codes U ≥ 0 (positive codes) and atoms ‖D_k‖₂ ≤ 1, like scikit-learn's
 * DictionaryLearning(positive_code=True): each row's codes solved exactly by an active-set method on the Gram matrix
 * (sklearn's lasso_cd with positive=True approaches the same minimum by coordinate descent), atoms by sklearn's block
 * coordinate descent (`_update_dict`). Atoms start from k-means centroids (as the paper's baseline does). The
 * numerics work on flat rows (rows.ts); the Matrix functions are thin wrappers for callers that hold ml-matrix
 * matrices.
 */
import { Matrix } from 'ml-matrix';
import { mulberry32 } from '../util/prng.ts';
import { axpyAt, dotAt, rowsOf, sqDistAt, toMatrix, type Rows } from './rows.ts';

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

/** k-means++ seeding (Arthur & Vassilvitskii, 2007) from mulberry32(seed + 1): k rows of X as starting centroids. */
export function kMeansPlusPlus(X: Rows, k: number, seed = 0): Float64Array {
  const { data, n, d } = X;
  const rnd = mulberry32(seed + 1);
  const C = new Float64Array(k * d);
  const dist = new Float64Array(n).fill(Infinity);
  let pick = Math.floor(rnd() * n);
  for (let c = 0; c < k; c++) {
    C.set(data.subarray(pick * d, pick * d + d), c * d);
    let total = 0;
    for (let i = 0; i < n; i++) {
      dist[i] = Math.min(dist[i]!, sqDistAt(data, i * d, C, c * d, d));
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
  return C;
}

/**
 * k-means (k-means++ seeding, Lloyd iterations) centroids of the rows of X: k × d, row-major, on plain flat arrays
 * (rows.ts says why).
 */
export function kMeansRows(X: Rows, k: number, seed = 0, iters = 50): Float64Array {
  const { data, n, d } = X;
  const C = kMeansPlusPlus(X, k, seed);
  // Lloyd iterations with Hamerly's bounds (G. Hamerly, "Making k-means even faster", SIAM SDM 2010): per point an
  // upper bound on the distance to its centroid and a lower bound on the distance to any other; a point whose upper
  // bound is below both the lower bound and half the distance from its centroid to the nearest other one cannot
  // change cluster, so its k distances are not computed. The assignments — and so the centroids — are Lloyd's (up
  // to exact ties); most points stop moving after a few iterations, and those iterations cost little.
  const assign = new Int32Array(n);
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  const old = new Float64Array(k * d);
  const drift = new Float64Array(k);
  const half = new Float64Array(k); // half the distance from each centroid to its nearest other
  for (let it = 0; it < iters; it++) {
    let moved = 0;
    for (let c = 0; c < k; c++) {
      let near = Infinity;
      for (let e = 0; e < k; e++) if (e !== c) near = Math.min(near, sqDistAt(C, c * d, C, e * d, d));
      half[c] = Math.sqrt(near) / 2;
    }
    for (let i = 0; i < n; i++) {
      if (it > 0) {
        const bound = Math.max(half[assign[i]!]!, lower[i]!);
        if (upper[i]! <= bound) continue;
        upper[i] = Math.sqrt(sqDistAt(data, i * d, C, assign[i]! * d, d));
        if (upper[i]! <= bound) continue;
      }
      // all k distances: nearest (first on ties, as a plain scan) and second nearest
      let best = 0;
      let bestD = Infinity;
      let second = Infinity;
      for (let c = 0; c < k; c++) {
        const s = sqDistAt(data, i * d, C, c * d, d);
        if (s < bestD) {
          second = bestD;
          bestD = s;
          best = c;
        } else if (s < second) second = s;
      }
      if (it === 0 || assign[i] !== best) moved++;
      assign[i] = best;
      upper[i] = Math.sqrt(bestD);
      lower[i] = Math.sqrt(second);
    }
    old.set(C);
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assign[i]!;
      counts[c]!++;
      axpyAt(1, data, i * d, sums, c * d, d);
    }
    for (let c = 0; c < k; c++) if (counts[c]! > 0) for (let j = 0; j < d; j++) C[c * d + j] = sums[c * d + j]! / counts[c]!;
    if (moved === 0 && it > 0) break;
    // the bounds follow the centroids' moves
    let most = 0;
    let mostAt = -1;
    let next = 0;
    for (let c = 0; c < k; c++) {
      drift[c] = Math.sqrt(sqDistAt(C, c * d, old, c * d, d));
      if (drift[c]! > most) {
        next = most;
        most = drift[c]!;
        mostAt = c;
      } else if (drift[c]! > next) next = drift[c]!;
    }
    for (let i = 0; i < n; i++) {
      upper[i] = upper[i]! + drift[assign[i]!]!;
      lower[i] = lower[i]! - (assign[i] === mostAt ? next : most);
    }
  }
  return C;
}

/** k-means centroids of the rows of an ml-matrix Matrix (kMeansRows), as a k × d Matrix. */
export function kMeansCentroids(X: Matrix, k: number, seed = 0, iters = 50): Matrix {
  return toMatrix(kMeansRows(rowsOf(X), k, seed, iters), k, X.columns);
}

/** G = D·Dᵀ (k × k, row-major) of the k atoms of length d in `D` (row-major). */
export function atomGram(D: Float64Array, k: number, d: number): Float64Array {
  const G = new Float64Array(k * k);
  for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) G[a * k + b] = dotAt(D, a * d, D, b * d, d);
  return G;
}

/**
 * The positive sparse code of one row: argmin_u ½‖x − u·D‖² + α‖u‖₁, u ≥ 0, given xd = x·Dᵀ and G = D·Dᵀ (k × k),
 * written to u = U[uo … uo + k). In terms of u alone this is the quadratic programme min ½uᵀGu − bᵀu, u ≥ 0, with
 * b = xd − α (the α‖u‖₁ term is linear on u ≥ 0). It is solved exactly by the active-set method of Lawson & Hanson
 * ("Solving Least Squares Problems", 1974, ch. 23; NNLS) applied to the quadratic: with k = 5 atoms it ends after a
 * few 5 × 5 Cholesky solves. Coordinate descent (sklearn's lasso_cd, which reaches the same minimum) took hundreds of
 * sweeps per row when atoms are correlated, and was most of a replay's baseline time. Where G restricted to the
 * chosen atoms is singular (atoms that are linear combinations of each other), the row falls back to coordinate
 * descent from the codes already in u.
 */
function encodeRowPositive(xd: Float64Array, G: Float64Array, k: number, alpha: number, U: Float64Array, uo: number, maxIter = 1000, tol = 1e-10): void {
  if (!activeSetPositive(xd, G, k, alpha, U, uo)) coordinateDescentPositive(xd, G, k, alpha, U, uo, maxIter, tol);
}

// Scratch of the active-set solver (the free set, u and z: k values each; k × k for the factor), grown on demand and
// reused: it runs for every row of every coding pass. Safe to share: the solver is synchronous and never re-entered.
let setScratch = new Int32Array(0);
let vecScratch = new Float64Array(0);
let facScratch = new Float64Array(0);

/** Lawson–Hanson on ½uᵀGu − (xd − α)ᵀu, u ≥ 0 (see encodeRowPositive); false when a restricted G is singular. */
function activeSetPositive(xd: Float64Array, G: Float64Array, k: number, alpha: number, U: Float64Array, uo: number): boolean {
  if (setScratch.length < k) {
    setScratch = new Int32Array(k);
    vecScratch = new Float64Array(2 * k);
    facScratch = new Float64Array(k * k);
  }
  const free = setScratch; // 1: u_i is free (may be > 0), 0: held at 0
  const u = vecScratch.subarray(0, k);
  const z = vecScratch.subarray(k, 2 * k);
  free.fill(0, 0, k);
  u.fill(0);
  let scale = 0;
  for (let i = 0; i < k; i++) scale = Math.max(scale, Math.abs(xd[i]! - alpha), G[i * k + i]!);
  const tol = 1e-13 * Math.max(scale, 1e-300);
  for (let outer = 0; outer < 4 * k + 4; outer++) {
    // the negative gradient b − G·u; optimal when no held coordinate would decrease the objective by moving up
    let best = -1;
    let bestW = tol;
    for (let i = 0; i < k; i++) {
      if (free[i]) continue;
      let g = xd[i]! - alpha;
      for (let j = 0; j < k; j++) g -= G[i * k + j]! * u[j]!;
      if (g > bestW) {
        bestW = g;
        best = i;
      }
    }
    if (best < 0) {
      for (let i = 0; i < k; i++) U[uo + i] = u[i]!;
      return true;
    }
    free[best] = 1;
    for (let inner = 0; inner <= k; inner++) {
      if (!solveFree(xd, G, k, alpha, free, z)) return false;
      // all free coordinates positive: accept; else step from u towards z until the first one reaches 0, and hold it
      let step = 1;
      let hit = -1;
      for (let i = 0; i < k; i++) {
        if (!free[i] || z[i]! > 0) continue;
        const s = u[i]! / (u[i]! - z[i]!);
        if (s < step) {
          step = s;
          hit = i;
        }
      }
      if (hit < 0) {
        for (let i = 0; i < k; i++) u[i] = free[i] ? z[i]! : 0;
        break;
      }
      for (let i = 0; i < k; i++) if (free[i]) u[i] = u[i]! + step * (z[i]! - u[i]!);
      u[hit] = 0;
      for (let i = 0; i < k; i++) {
        if (free[i] && u[i]! <= 0) {
          u[i] = 0;
          free[i] = 0;
        }
      }
    }
  }
  return false;
}

/** z on the free coordinates = G_FF⁻¹ (xd − α)_F (Cholesky), 0 elsewhere; false when G_FF is not positive definite. */
function solveFree(xd: Float64Array, G: Float64Array, k: number, alpha: number, free: Int32Array, z: Float64Array): boolean {
  const L = facScratch;
  let m = 0;
  // factor the free block in place, row by row of the full k × k layout (held rows/columns skipped)
  let maxDiag = 0;
  for (let i = 0; i < k; i++) if (free[i]) maxDiag = Math.max(maxDiag, G[i * k + i]!);
  for (let i = 0; i < k; i++) {
    if (!free[i]) continue;
    m++;
    for (let j = 0; j <= i; j++) {
      if (!free[j]) continue;
      let sum = G[i * k + j]!;
      for (let p = 0; p < j; p++) if (free[p]) sum -= L[i * k + p]! * L[j * k + p]!;
      if (i === j) {
        if (!(sum > 1e-12 * maxDiag)) return false;
        L[i * k + i] = Math.sqrt(sum);
      } else L[i * k + j] = sum / L[j * k + j]!;
    }
  }
  if (m === 0) return false;
  // forward (L y = b_F) then backward (Lᵀ z = y) substitution, on the free coordinates only
  for (let i = 0; i < k; i++) {
    if (!free[i]) {
      z[i] = 0;
      continue;
    }
    let sum = xd[i]! - alpha;
    for (let p = 0; p < i; p++) if (free[p]) sum -= L[i * k + p]! * z[p]!;
    z[i] = sum / L[i * k + i]!;
  }
  for (let i = k - 1; i >= 0; i--) {
    if (!free[i]) continue;
    let sum = z[i]!;
    for (let p = i + 1; p < k; p++) if (free[p]) sum -= L[p * k + i]! * z[p]!;
    z[i] = sum / L[i * k + i]!;
  }
  return true;
}

/** Coordinate descent on the same problem from the codes already in U[uo …] (the fallback of encodeRowPositive). */
function coordinateDescentPositive(xd: Float64Array, G: Float64Array, k: number, alpha: number, U: Float64Array, uo: number, maxIter: number, tol: number): void {
  for (let it = 0; it < maxIter; it++) {
    let maxDelta = 0;
    for (let c = 0; c < k; c++) {
      const gcc = G[c * k + c]!;
      if (gcc <= 0) continue;
      let r = xd[c]!;
      for (let j = 0; j < k; j++) if (j !== c) r -= G[c * k + j]! * U[uo + j]!;
      const next = Math.max(0, (r - alpha) / gcc);
      maxDelta = Math.max(maxDelta, Math.abs(next - U[uo + c]!));
      U[uo + c] = next;
    }
    if (maxDelta < tol) break;
  }
}

/**
 * Code the row x[xo … xo + d) on fitted atoms D (k × d, positive, α; G = D·Dᵀ) into u (length k), from zero, and
 * return its squared reconstruction error ‖x − u·D‖². `xd` is scratch of length k.
 */
export function codeRowResidual2(x: Float64Array, xo: number, D: Float64Array, k: number, d: number, G: Float64Array, alpha: number, u: Float64Array, xd: Float64Array): number {
  for (let c = 0; c < k; c++) xd[c] = dotAt(x, xo, D, c * d, d);
  u.fill(0);
  encodeRowPositive(xd, G, k, alpha, u, 0);
  let s = 0;
  for (let j = 0; j < d; j++) {
    let r = 0;
    for (let c = 0; c < k; c++) r += u[c]! * D[c * d + j]!;
    const e = x[xo + j]! - r;
    s += e * e;
  }
  return s;
}

/**
 * Codes of every row of X on the k atoms D (warm-started from the codes in U, n × k, updated in place). Returns the
 * objective ½‖X − U·D‖² + α‖U‖₁ at the new codes, expanded per row as ½(‖x‖² − 2u·(x·Dᵀ) + uᵀGu) + α‖u‖₁ from
 * the products the coding step already has (`sq` holds each row's ‖x‖²): no second pass over the n × d data.
 */
function encodeRows(X: Rows, D: Float64Array, k: number, alpha: number, U: Float64Array, sq?: Float64Array, maxIter?: number, tol?: number): number {
  const { data, n, d } = X;
  const G = atomGram(D, k, d);
  const xd = new Float64Array(k);
  let objective = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) xd[c] = dotAt(data, i * d, D, c * d, d);
    const uo = i * k;
    encodeRowPositive(xd, G, k, alpha, U, uo, maxIter, tol);
    if (!sq) continue;
    let cross = 0;
    let quad = 0;
    let l1 = 0;
    for (let c = 0; c < k; c++) {
      const uc = U[uo + c]!;
      cross += uc * xd[c]!;
      l1 += Math.abs(uc);
      quad += uc * dotAt(G, c * k, U, uo, k);
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
  const U = opts.warm ? rowsOf(opts.warm).data : new Float64Array(X.rows * k);
  encodeRows(rowsOf(X), rowsOf(dictionary).data, k, alpha, U, undefined, opts.maxIter, opts.tol);
  return toMatrix(U, X.rows, k);
}

/** Scale the atom D[o … o + d) back onto the unit ball (‖D_k‖₂ ≤ 1). */
function clipToUnitNorm(D: Float64Array, o: number, d: number): void {
  const norm = Math.sqrt(dotAt(D, o, D, o, d));
  if (norm > 1) for (let j = 0; j < d; j++) D[o + j]! /= norm;
}

/** A dictionary fitted on flat rows: atoms k × d and codes n × k, row-major. */
export interface DictionaryRowsFit {
  atoms: Float64Array;
  codes: Float64Array;
  k: number;
  iterations: number;
  objective: number;
}

/** Fit the dictionary on the rows of X (samples × features). `opts.init` (a k × d Matrix) replaces the k-means start. */
export function fitDictionaryRows(X: Rows, opts: DictionaryLearningOptions = {}): DictionaryRowsFit {
  const k = opts.components ?? 5;
  const alpha = opts.alpha ?? 1;
  const maxIter = opts.maxIter ?? 100;
  const tol = opts.tol ?? 1e-6;
  const { data, n, d } = X;
  const D = opts.init ? rowsOf(opts.init).data : kMeansRows(X, k, opts.seed ?? 0);
  for (let c = 0; c < k; c++) clipToUnitNorm(D, c * d, d);
  const U = new Float64Array(n * k);
  const sq = Float64Array.from({ length: n }, (_, i) => dotAt(data, i * d, data, i * d, d));
  let prev = encodeRows(X, D, k, alpha, U, sq);
  let it = 0;
  const A = new Float64Array(k * k); // UᵀU
  const B = new Float64Array(k * d); // row c = column c of XᵀU
  const next = new Float64Array(d);
  for (; it < maxIter; it++) {
    // Block coordinate descent on the atoms (sklearn `_update_dict`): A = UᵀU, B = XᵀU.
    A.fill(0);
    B.fill(0);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) {
        const uc = U[i * k + c]!;
        if (uc === 0) continue;
        for (let e = 0; e < k; e++) A[c * k + e] += uc * U[i * k + e]!;
        axpyAt(uc, data, i * d, B, c * d, d);
      }
    }
    for (let c = 0; c < k; c++) {
      const acc = A[c * k + c]!;
      if (acc > 1e-6) {
        for (let j = 0; j < d; j++) {
          let ad = 0; // (A_c · D)_j, with D as it stands (atoms before c already updated: block coordinate descent)
          for (let e = 0; e < k; e++) ad += A[c * k + e]! * D[e * d + j]!;
          next[j] = D[c * d + j]! + (B[c * d + j]! - ad) / acc;
        }
        D.set(next, c * d);
      }
      clipToUnitNorm(D, c * d, d);
    }
    const obj = encodeRows(X, D, k, alpha, U, sq);
    if (Math.abs(prev - obj) < tol * Math.max(1, Math.abs(prev))) {
      prev = obj;
      it++;
      break;
    }
    prev = obj;
  }
  return { atoms: D, codes: U, k, iterations: it, objective: prev };
}

/** Fit the dictionary on the rows of an ml-matrix Matrix (fitDictionaryRows), atoms and codes as Matrices. */
export function fitDictionary(X: Matrix, opts: DictionaryLearningOptions = {}): DictionaryFit {
  const fit = fitDictionaryRows(rowsOf(X), opts);
  return { dictionary: toMatrix(fit.atoms, fit.k, X.columns), codes: toMatrix(fit.codes, X.rows, fit.k), iterations: fit.iterations, objective: fit.objective };
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
