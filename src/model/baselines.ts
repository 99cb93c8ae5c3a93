/**
 * Linear baselines of a scan (docs/science.md §8: a model is judged on a scan against PCA and dictionary learning
 * fitted on the same inputs). Both are fitted on the scan's own model inputs — exactly the rows the encoder received —
 * and scored in the unit of the β-VAE's per-pixel `error`: the mean over the T·C values of one pixel of the squared
 * difference between input and reconstruction, averaged over pixels. So `meanError < pca5Mse` says the deep model
 * beats a 5-component linear model on this very scan.
 *
 *   pca5Mse  PCA with 5 components (centred on the feature mean of the fitted sample, as scikit-learn's PCA).
 *   dlMse    the paper's dictionary learning: 5 atoms, α = 1, positive codes, k-means start, each pixel's own mean
 *            removed first (model/dictionary-learning.ts), reconstruction = pixel mean + codes · atoms.
 *
 * Cost cap: both are fitted on a seeded random sample of `samplePixels` encoded pixels and evaluated on at most
 * `evalPixels` (another seeded sample; all pixels when fewer). The summary reports the pixels used and the seconds.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { atomGram, codeRowResidual2, fitDictionary, plainRows } from './dictionary-learning.ts';
import { mulberry32, partialShuffle } from '../util/prng.ts';
import { topEigenpairs } from './top-eigenpairs.ts';

/** What every replay summary and results file reports (issue 16 item 6). */
export interface ScanBaselines {
  /** mean per-pixel MSE of PCA with `components` components; null when too few pixels */
  pca5Mse: number | null;
  /** mean per-pixel MSE of dictionary learning (α = 1, positive codes); null when too few pixels */
  dlMse: number | null;
  /** pixels the two models were fitted on */
  pixelsUsed: number;
  /** pixels the errors were averaged over */
  pixelsEvaluated: number;
  /** wall time of fitting and scoring both, s */
  seconds: number;
}

/** How the baselines are fitted (the config's `baselines` section). */
export interface BaselineOptions {
  /** pixels the models are fitted on (seeded random sample) */
  samplePixels: number;
  /** most pixels the errors are averaged over */
  evalPixels: number;
  seed: number;
  /** components of both models (the 5) */
  components?: number;
  /** dictionary-learning sparsity α (the paper's 1) */
  alpha?: number;
  /** dictionary-learning outer iterations */
  dlMaxIter?: number;
}

/** A seeded sample of `k` distinct values of `pool` (partial Fisher–Yates); all of them, in order, when k ≥ pool.length. */
function sample(pool: Uint32Array, k: number, seed: number): Uint32Array {
  if (k >= pool.length) return pool.slice();
  return partialShuffle(pool.slice(), k, mulberry32(seed)).subarray(0, k).sort();
}

function rowsOf(inputs: Float32Array, pixels: Uint32Array, stride: number): Matrix {
  const X = new Matrix(pixels.length, stride);
  for (let r = 0; r < pixels.length; r++) {
    const base = pixels[r]! * stride;
    for (let j = 0; j < stride; j++) X.set(r, j, inputs[base + j]!);
  }
  return X;
}

/** A fitted PCA: feature mean and the first k principal axes (rows, unit length). */
export interface PcaFit {
  mean: Float64Array;
  components: Matrix;
}

/**
 * PCA of the rows of X (samples × features), k components: the top eigenvectors of the covariance XcᵀXc. Same axes
 * as an SVD of Xc (Xc = UΣVᵀ ⇒ XcᵀXc = VΣ²Vᵀ) at a fraction of the cost — features (T·C, a few hundred) are far
 * fewer than pixels, and the SVD of the full pixel matrix was the largest single cost of a replay (~1.1 s of a
 * 60 × 60 scan; docs/performance.md §Start-up and whole-process replay).
 */
export function fitPca(X: Matrix, k: number): PcaFit {
  const n = X.rows;
  const d = X.columns;
  const mean = new Float64Array(d);
  const rows = plainRows(X);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j]!;
  for (let j = 0; j < d; j++) mean[j] /= n;
  // Upper triangle of XcᵀXc, four rows at a time: each cov entry is loaded and stored once per four rows, not once
  // per row (the accumulation was most of a fit's time).
  const cov = new Float64Array(d * d);
  for (const r of rows) for (let j = 0; j < d; j++) r[j] -= mean[j]!;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const r0 = rows[i]!;
    const r1 = rows[i + 1]!;
    const r2 = rows[i + 2]!;
    const r3 = rows[i + 3]!;
    for (let a = 0; a < d; a++) {
      const a0 = r0[a]!;
      const a1 = r1[a]!;
      const a2 = r2[a]!;
      const a3 = r3[a]!;
      const off = a * d;
      for (let b = a; b < d; b++) cov[off + b] += a0 * r0[b]! + a1 * r1[b]! + a2 * r2[b]! + a3 * r3[b]!;
    }
  }
  for (; i < n; i++) {
    const r = rows[i]!;
    for (let a = 0; a < d; a++) {
      const ra = r[a]!;
      const off = a * d;
      for (let b = a; b < d; b++) cov[off + b] += ra * r[b]!;
    }
  }
  for (let a = 0; a < d; a++) for (let b = a + 1; b < d; b++) cov[b * d + a] = cov[a * d + b]!;
  const kk = Math.min(k, d, n);
  const components = new Matrix(kk, d);
  // The top kk eigenvectors by subspace iteration (top-eigenpairs.ts: a fraction of a full decomposition's cost,
  // accepted only at a residual of 1e-12 of the largest eigenvalue); the full decomposition when it does not get there.
  const top = topEigenpairs(cov, d, kk);
  if (top) {
    top.vectors.forEach((v, c) => components.setRow(c, v));
    return { mean, components };
  }
  const C = new Matrix(d, d);
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) C.set(a, b, cov[a * d + b]!);
  const eig = new EigenvalueDecomposition(C, { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const order = values.map((_, i) => i).sort((i, j) => values[j]! - values[i]!);
  const V = eig.eigenvectorMatrix; // features × features, one eigenvector per column
  for (let c = 0; c < kk; c++) for (let j = 0; j < d; j++) components.set(c, j, V.get(j, order[c]!));
  return { mean, components };
}

/** Squared error of one row `x` (length d) against its PCA reconstruction mean + ((x − mean)·Pᵀ)·P; `xc` and `code`
 *  are scratch (length d and k). */
function pcaRowSquaredError(x: ArrayLike<number>, fit: PcaFit, P: Float64Array[], xc: Float64Array, code: Float64Array): number {
  const d = xc.length;
  const k = P.length;
  for (let j = 0; j < d; j++) xc[j] = x[j]! - fit.mean[j]!;
  for (let c = 0; c < k; c++) {
    let dot = 0;
    const pc = P[c]!;
    for (let j = 0; j < d; j++) dot += xc[j]! * pc[j]!;
    code[c] = dot;
  }
  let s = 0;
  for (let j = 0; j < d; j++) {
    let r = xc[j]!;
    for (let c = 0; c < k; c++) r -= code[c]! * P[c]![j]!;
    s += r * r;
  }
  return s;
}

/** Per-row MSE of X against its PCA reconstruction, averaged over rows (one row at a time: whole-matrix temporaries
 *  of ml-matrix cost more than the arithmetic here). */
export function pcaMse(X: Matrix, fit: PcaFit): number {
  const P = plainRows(fit.components);
  const xc = new Float64Array(X.columns);
  const code = new Float64Array(P.length);
  let s = 0;
  for (let i = 0; i < X.rows; i++) s += pcaRowSquaredError(X.getRow(i), fit, P, xc, code);
  return s / (X.rows * X.columns);
}

/** Subtract each row's own mean (the paper's preprocessing for dictionary learning). */
function removeRowMeans(X: Matrix): Matrix {
  const out = new Matrix(X.rows, X.columns);
  for (let i = 0; i < X.rows; i++) {
    const row = X.getRow(i);
    out.setRow(i, centreInPlace(row));
  }
  return out;
}

/** x − mean(x), in place; returns x. */
function centreInPlace<T extends { length: number; [i: number]: number }>(x: T): T {
  let m = 0;
  for (let j = 0; j < x.length; j++) m += x[j]!;
  m /= x.length;
  for (let j = 0; j < x.length; j++) x[j] = x[j]! - m;
  return x;
}

/**
 * PCA-5 and dictionary-learning errors of a scan's model inputs. `inputs` holds [pixel][T·C] rows (ScanContext
 * `inputs`), `pixels` the flat indices of the encoded ones. Fewer pixels than components + 1 give nulls.
 */
export function scanBaselines(inputs: Float32Array, pixels: Uint32Array, stride: number, opts: BaselineOptions): ScanBaselines {
  const t0 = performance.now();
  const k = opts.components ?? 5;
  const fitIdx = sample(pixels, opts.samplePixels, opts.seed);
  const evalIdx = sample(pixels, opts.evalPixels, opts.seed + 1);
  if (fitIdx.length <= k) return { pca5Mse: null, dlMse: null, pixelsUsed: fitIdx.length, pixelsEvaluated: 0, seconds: (performance.now() - t0) / 1000 };
  const Xfit = rowsOf(inputs, fitIdx, stride);
  const pca = fitPca(Xfit, k);
  const alpha = opts.alpha ?? 1;
  const dl = fitDictionary(removeRowMeans(Xfit), { components: k, alpha, seed: opts.seed, maxIter: opts.dlMaxIter ?? 30 });
  // Scored one evaluated pixel at a time, straight from `inputs` (no pixels × features copies): the PCA error, then
  // the pixel's codes on the fitted atoms (same α, positive) and the error of pixel mean + codes·atoms.
  const P = plainRows(pca.components);
  const atoms = plainRows(dl.dictionary);
  const G = atomGram(atoms);
  const x = new Float64Array(stride);
  const xc = new Float64Array(stride);
  const code = new Float64Array(P.length);
  const xd = new Float64Array(atoms.length);
  const u = new Float64Array(atoms.length);
  let pcaSum = 0;
  let dlSum = 0;
  for (const p of evalIdx) {
    const base = p * stride;
    for (let j = 0; j < stride; j++) x[j] = inputs[base + j]!;
    pcaSum += pcaRowSquaredError(x, pca, P, xc, code);
    dlSum += codeRowResidual2(centreInPlace(x), atoms, G, alpha, u, xd);
  }
  const pca5Mse = pcaSum / (evalIdx.length * stride);
  const dlMse = dlSum / (evalIdx.length * stride);
  return { pca5Mse, dlMse, pixelsUsed: fitIdx.length, pixelsEvaluated: evalIdx.length, seconds: (performance.now() - t0) / 1000 };
}
