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
import { atomGram, codeRowResidual2, fitDictionaryRows } from './dictionary-learning.ts';
import { axpyAt, dotAt, pickRows, type Rows } from './rows.ts';
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

/** A fitted PCA: feature mean and the first k principal axes (unit length), row-major k × d. */
export interface PcaFit {
  mean: Float64Array;
  axes: Float64Array;
  k: number;
}

/**
 * PCA of the rows of X (samples × features), k components: the top eigenvectors of the covariance XcᵀXc. Same axes
 * as an SVD of Xc (Xc = UΣVᵀ ⇒ XcᵀXc = VΣ²Vᵀ) at a fraction of the cost — features (T·C, a few hundred) are far
 * fewer than pixels, and the SVD of the full pixel matrix was the largest single cost of a replay (~1.1 s of a
 * 60 × 60 scan; docs/performance.md §Start-up and whole-process replay).
 */
export function fitPcaRows(X: Rows, k: number): PcaFit {
  const { n, d } = X;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) axpyAt(1, X.data, i * d, mean, 0, d);
  for (let j = 0; j < d; j++) mean[j] /= n;
  const Xc = X.data.slice();
  for (let i = 0; i < n; i++) axpyAt(-1, mean, 0, Xc, i * d, d);
  const cov = scatter(Xc, n, d);
  const kk = Math.min(k, d, n);
  const axes = new Float64Array(kk * d);
  // The top kk eigenvectors by subspace iteration (top-eigenpairs.ts: a fraction of a full decomposition's cost,
  // accepted only at a residual of 1e-12 of the largest eigenvalue); the full decomposition when it does not get there.
  const top = topEigenpairs(cov, d, kk);
  if (top) {
    top.vectors.forEach((v, c) => axes.set(v, c * d));
    return { mean, axes, k: kk };
  }
  const C = new Matrix(d, d);
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) C.set(a, b, cov[a * d + b]!);
  const eig = new EigenvalueDecomposition(C, { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const order = values.map((_, i) => i).sort((i, j) => values[j]! - values[i]!);
  const V = eig.eigenvectorMatrix; // features × features, one eigenvector per column
  for (let c = 0; c < kk; c++) for (let j = 0; j < d; j++) axes[c * d + j] = V.get(j, order[c]!);
  return { mean, axes, k: kk };
}

/**
 * XcᵀXc (d × d, both triangles) of the n centred rows in Xc. The upper triangle is accumulated four rows at a time:
 * each entry is loaded and stored once per four rows, not once per row (the accumulation is most of a fit's time).
 */
function scatter(Xc: Float64Array, n: number, d: number): Float64Array {
  const cov = new Float64Array(d * d);
  let i = 0;
  for (; i + 4 <= n; i += 4) scatterFour(Xc, i * d, d, cov);
  for (; i < n; i++) {
    const o = i * d;
    for (let a = 0; a < d; a++) {
      const ra = Xc[o + a]!;
      const off = a * d;
      for (let b = a; b < d; b++) cov[off + b] += ra * Xc[o + b]!;
    }
  }
  for (let a = 0; a < d; a++) for (let b = a + 1; b < d; b++) cov[b * d + a] = cov[a * d + b]!;
  return cov;
}

/** Add the outer products of the four rows starting at Xc[o] to the upper triangle of cov. */
function scatterFour(Xc: Float64Array, o: number, d: number, cov: Float64Array): void {
  const o1 = o + d;
  const o2 = o1 + d;
  const o3 = o2 + d;
  for (let a = 0; a < d; a++) {
    const a0 = Xc[o + a]!;
    const a1 = Xc[o1 + a]!;
    const a2 = Xc[o2 + a]!;
    const a3 = Xc[o3 + a]!;
    const off = a * d;
    for (let b = a; b < d; b++) cov[off + b] += a0 * Xc[o + b]! + a1 * Xc[o1 + b]! + a2 * Xc[o2 + b]! + a3 * Xc[o3 + b]!;
  }
}

/** Squared error of the row x[xo … xo + d) against its PCA reconstruction mean + ((x − mean)·Pᵀ)·P; `xc` (length d)
 *  and `code` (length k) are scratch. */
function pcaRowSquaredError(x: Float64Array, xo: number, fit: PcaFit, xc: Float64Array, code: Float64Array): number {
  const d = xc.length;
  const { axes, k } = fit;
  for (let j = 0; j < d; j++) xc[j] = x[xo + j]! - fit.mean[j]!;
  for (let c = 0; c < k; c++) code[c] = dotAt(xc, 0, axes, c * d, d);
  let s = 0;
  for (let j = 0; j < d; j++) {
    let r = xc[j]!;
    for (let c = 0; c < k; c++) r -= code[c]! * axes[c * d + j]!;
    s += r * r;
  }
  return s;
}

/** Per-row MSE of the rows of X against their PCA reconstruction, averaged over rows. */
export function pcaMseRows(X: Rows, fit: PcaFit): number {
  const xc = new Float64Array(X.d);
  const code = new Float64Array(fit.k);
  let s = 0;
  for (let i = 0; i < X.n; i++) s += pcaRowSquaredError(X.data, i * X.d, fit, xc, code);
  return s / (X.n * X.d);
}

/** Subtract each row's own mean (the paper's preprocessing for dictionary learning), in place; returns X. */
function removeRowMeans(X: Rows): Rows {
  for (let i = 0; i < X.n; i++) centreAt(X.data, i * X.d, X.d);
  return X;
}

/** x[o … o + len) − its mean, in place. */
function centreAt(x: Float64Array, o: number, len: number): void {
  let m = 0;
  for (let j = 0; j < len; j++) m += x[o + j]!;
  m /= len;
  for (let j = 0; j < len; j++) x[o + j] = x[o + j]! - m;
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
  const Xfit = pickRows(inputs, fitIdx, stride);
  const pca = fitPcaRows(Xfit, k);
  const alpha = opts.alpha ?? 1;
  const dl = fitDictionaryRows(removeRowMeans(Xfit), { components: k, alpha, seed: opts.seed, maxIter: opts.dlMaxIter ?? 30 });
  // Scored one evaluated pixel at a time, straight from `inputs` (no pixels × features copies): the PCA error, then
  // the pixel's codes on the fitted atoms (same α, positive) and the error of pixel mean + codes·atoms.
  const G = atomGram(dl.atoms, dl.k, stride);
  const x = new Float64Array(stride);
  const xc = new Float64Array(stride);
  const code = new Float64Array(pca.k);
  const xd = new Float64Array(dl.k);
  const u = new Float64Array(dl.k);
  let pcaSum = 0;
  let dlSum = 0;
  for (const p of evalIdx) {
    x.set(inputs.subarray(p * stride, p * stride + stride));
    pcaSum += pcaRowSquaredError(x, 0, pca, xc, code);
    centreAt(x, 0, stride);
    dlSum += codeRowResidual2(x, 0, dl.atoms, dl.k, stride, G, alpha, u, xd);
  }
  const pca5Mse = pcaSum / (evalIdx.length * stride);
  const dlMse = dlSum / (evalIdx.length * stride);
  return { pca5Mse, dlMse, pixelsUsed: fitIdx.length, pixelsEvaluated: evalIdx.length, seconds: (performance.now() - t0) / 1000 };
}
