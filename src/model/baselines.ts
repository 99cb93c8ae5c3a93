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
import { fitDictionary, sparseEncodePositive } from './dictionary-learning.ts';
import { mulberry32, partialShuffle } from '../util/prng.ts';

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
  const rows: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = Float64Array.from(X.getRow(i));
    rows.push(r);
    for (let j = 0; j < d; j++) mean[j] += r[j]!;
  }
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  for (const r of rows) {
    for (let j = 0; j < d; j++) r[j] -= mean[j]!;
    for (let a = 0; a < d; a++) {
      const ra = r[a]!;
      if (ra === 0) continue;
      const off = a * d;
      for (let b = a; b < d; b++) cov[off + b] += ra * r[b]!;
    }
  }
  const C = new Matrix(d, d);
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) { C.set(a, b, cov[a * d + b]!); C.set(b, a, cov[a * d + b]!); }
  const eig = new EigenvalueDecomposition(C, { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const order = values.map((_, i) => i).sort((i, j) => values[j]! - values[i]!);
  const V = eig.eigenvectorMatrix; // features × features, one eigenvector per column
  const kk = Math.min(k, d, n);
  const components = new Matrix(kk, d);
  for (let c = 0; c < kk; c++) for (let j = 0; j < d; j++) components.set(c, j, V.get(j, order[c]!));
  return { mean, components };
}

/** Per-row MSE of X against its PCA reconstruction mean + ((X − mean)·Pᵀ)·P, averaged over rows (one row at a time:
 *  whole-matrix temporaries of ml-matrix cost more than the arithmetic here). */
export function pcaMse(X: Matrix, fit: PcaFit): number {
  const d = X.columns;
  const k = fit.components.rows;
  const P = Array.from({ length: k }, (_, c) => Float64Array.from(fit.components.getRow(c)));
  const xc = new Float64Array(d);
  const code = new Float64Array(k);
  let s = 0;
  for (let i = 0; i < X.rows; i++) {
    const row = X.getRow(i);
    for (let j = 0; j < d; j++) xc[j] = row[j]! - fit.mean[j]!;
    for (let c = 0; c < k; c++) {
      let dot = 0;
      const pc = P[c]!;
      for (let j = 0; j < d; j++) dot += xc[j]! * pc[j]!;
      code[c] = dot;
    }
    for (let j = 0; j < d; j++) {
      let r = xc[j]!;
      for (let c = 0; c < k; c++) r -= code[c]! * P[c]![j]!;
      s += r * r;
    }
  }
  return s / (X.rows * d);
}

function meanSquare(R: Matrix): number {
  let s = 0;
  for (let i = 0; i < R.rows; i++) for (let j = 0; j < R.columns; j++) s += R.get(i, j) ** 2;
  return s / (R.rows * R.columns);
}

/** Subtract each row's own mean (the paper's preprocessing for dictionary learning). */
function removeRowMeans(X: Matrix): Matrix {
  const out = X.clone();
  for (let i = 0; i < X.rows; i++) {
    let m = 0;
    for (let j = 0; j < X.columns; j++) m += X.get(i, j);
    m /= X.columns;
    for (let j = 0; j < X.columns; j++) out.set(i, j, X.get(i, j) - m);
  }
  return out;
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
  const Xeval = rowsOf(inputs, evalIdx, stride);
  const pca = fitPca(Xfit, k);
  const pca5Mse = pcaMse(Xeval, pca);
  const alpha = opts.alpha ?? 1;
  const dl = fitDictionary(removeRowMeans(Xfit), { components: k, alpha, seed: opts.seed, maxIter: opts.dlMaxIter ?? 30 });
  // Codes of the evaluated pixels on the fitted atoms (same α, positive), then pixel mean + codes·atoms.
  const E = removeRowMeans(Xeval);
  const U = sparseEncodePositive(E, dl.dictionary, alpha);
  const dlMse = meanSquare(E.clone().sub(U.mmul(dl.dictionary)));
  return { pca5Mse, dlMse, pixelsUsed: fitIdx.length, pixelsEvaluated: evalIdx.length, seconds: (performance.now() - t0) / 1000 };
}
