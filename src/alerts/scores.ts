/**
 * Per-pixel anomaly scores, as pure functions on typed arrays.
 *
 * Reconstruction error: errors are positive and right-skewed, so they are compared in ln units with a robust
 * z-score, z = (ln e − median) / (1.4826 · MAD) (Rousseeuw & Croux 1993: 1.4826 · MAD estimates σ of a normal).
 * A pixel is compared twice — against the training reference and against the scan so far — and the smaller z
 * counts: an anomaly must stand out from what the model was trained on AND from the rest of this sample, so a
 * whole scan that sits a little off the training data (another sample, drift) does not light up everywhere.
 *
 * Latent distance: squared Mahalanobis distance d² = (μ − m)ᵀ Σ⁻¹ (μ − m) of the embedding to the training
 * embeddings, with Σ shrunk toward (tr Σ / k) · I (Ledoit & Wolf 2004) because a β-VAE leaves most latent
 * channels nearly constant and an unshrunk Σ⁻¹ would amplify their noise. d² is compared as a robust z of ln d².
 */
import { Matrix, inverse } from 'ml-matrix';
import { shuffleInPlace, xorshift32 } from '../util/prng.ts';
import { medianInPlace, medianMad, quantiles } from '../util/robust-stats.ts';
import type { AlertsConfig, AlertsReference } from './types.ts';

// Plain order statistics live in util/ (the model's fit check uses them too); re-exported for the alerts API.
export { medianInPlace, medianMad, quantiles };

/** 1.4826 · MAD estimates the standard deviation of normal data. */
export const MAD_TO_SIGMA = 1.4826;
/** Floor on errors before ln(): an error of exactly 0 (a perfect reconstruction) must not give −∞. */
export const ERROR_FLOOR = 1e-12;
/** Floor on a MAD so a constant reference gives large, finite z. */
const MAD_FLOOR = 1e-6;

/** Robust z-score of `x` given a median and an unscaled MAD. */
export function robustZ(x: number, median: number, mad: number): number {
  return (x - median) / (MAD_TO_SIGMA * Math.max(mad, MAD_FLOOR));
}

/**
 * Running median and MAD of a stream, over a uniform reservoir sample (Vitter's algorithm R) of at most
 * `capacity` values: exact while the stream is shorter than the reservoir, an unbiased sample after.
 * The random choice uses a seeded xorshift so the same stream always gives the same statistics.
 */
export class RunningMedianMad {
  private readonly sample: Float64Array;
  private readonly scratch: Float64Array;
  private stored = 0;
  /** values pushed so far */
  seen = 0;
  private readonly nextRandom: () => number;
  private cache: { median: number; mad: number } | undefined;

  constructor(
    readonly capacity: number,
    seed = 0x9e3779b9,
  ) {
    this.sample = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
    this.nextRandom = xorshift32(seed); // tiny, seeded, good enough to pick reservoir slots
  }

  /** Add one value (non-finite values are ignored). */
  push(x: number): void {
    if (!Number.isFinite(x)) return;
    this.seen++;
    this.cache = undefined;
    if (this.stored < this.capacity) {
      this.sample[this.stored++] = x;
      return;
    }
    const j = this.nextRandom() % this.seen;
    if (j < this.capacity) this.sample[j] = x;
  }

  /** Median and unscaled MAD of the sample; NaN while empty. Cached until the next push. */
  stats(): { median: number; mad: number } {
    if (this.cache) return this.cache;
    const n = this.stored;
    this.scratch.set(this.sample.subarray(0, n));
    const median = medianInPlace(this.scratch, n);
    for (let i = 0; i < n; i++) this.scratch[i] = Math.abs(this.sample[i] - median);
    this.cache = { median, mad: medianInPlace(this.scratch, n) };
    return this.cache;
  }
}

/**
 * Robust z of a reconstruction error against the training reference and, when given, the scan's running
 * ln-error statistics; the smaller of the two (see the file comment). NaN for a non-finite error.
 */
export function errorZ(error: number, ref: { logMedian: number; logMad: number }, scan?: { median: number; mad: number }): number {
  if (!Number.isFinite(error)) return Number.NaN;
  const le = Math.log(Math.max(error, ERROR_FLOOR));
  const zTrain = robustZ(le, ref.logMedian, ref.logMad);
  if (!scan || !Number.isFinite(scan.median)) return zTrain;
  return Math.min(zTrain, robustZ(le, scan.median, scan.mad));
}

/** Precomputed inverse of the shrunk training covariance, ready for `mahalanobis2`. */
export interface LatentModel {
  dim: number;
  mean: Float64Array;
  /** row-major dim × dim */
  invCov: Float64Array;
}

/** Shrink a covariance toward (tr Σ / k)·I by `shrinkage` ∈ [0, 1] and invert it. */
export function latentModel(mean: ArrayLike<number>, cov: ArrayLike<number>, shrinkage: number): LatentModel {
  const k = mean.length;
  if (cov.length !== k * k) throw new RangeError(`latent covariance has ${cov.length} values; a ${k}-d mean needs ${k * k}`);
  let trace = 0;
  for (let i = 0; i < k; i++) trace += cov[i * k + i];
  const target = Math.max(trace / k, 1e-12);
  const m = new Matrix(k, k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) m.set(i, j, (1 - shrinkage) * cov[i * k + j] + (i === j ? shrinkage * target : 0));
  }
  const inv = inverse(m);
  const invCov = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) invCov[i * k + j] = inv.get(i, j);
  return { dim: k, mean: Float64Array.from(mean), invCov };
}

/** Squared Mahalanobis distance of mu[offset .. offset+dim) to the model; NaN if any component is not finite. */
export function mahalanobis2(mu: ArrayLike<number>, offset: number, model: LatentModel, scratch: Float64Array = new Float64Array(model.dim)): number {
  const k = model.dim;
  for (let i = 0; i < k; i++) {
    const v = mu[offset + i] - model.mean[i];
    if (!Number.isFinite(v)) return Number.NaN;
    scratch[i] = v;
  }
  let d2 = 0;
  for (let i = 0; i < k; i++) {
    let row = 0;
    const base = i * k;
    for (let j = 0; j < k; j++) row += model.invCov[base + j] * scratch[j];
    d2 += scratch[i] * row;
  }
  return d2;
}

/** Robust z of ln d² against the reference's ln d² median and MAD. */
export function latentZ(d2: number, ref: { logD2Median: number; logD2Mad: number }): number {
  if (!Number.isFinite(d2)) return Number.NaN;
  return robustZ(Math.log(Math.max(d2, ERROR_FLOOR)), ref.logD2Median, ref.logD2Mad);
}

/**
 * k-nearest-neighbour latent model: a sample of training embeddings in standardised coordinates. The training
 * embeddings of a multi-mechanism film form several clusters, which one Gaussian (Mahalanobis) covers badly: a
 * point between clusters looks normal to it. The distance to the k-th nearest training embedding does not
 * (a density estimate; Loftsgaarden & Quesenberry 1965).
 */
export interface KnnModel {
  dim: number;
  k: number;
  /** sample size */
  n: number;
  /** n × dim, already centred and scaled */
  sample: Float32Array;
  mean: Float64Array;
  /** 1 / scale per dimension */
  invScale: Float64Array;
  /** search state shared by every copy of the model (see knnDistance) */
  search: KnnSearchState;
}

/** What one kNN query leaves for the next: mutable, shared by reference between copies of a model. */
interface KnnSearchState {
  /** the k nearest of the previous query, measured first by the next one */
  previous: Int32Array;
  /** per sample point: the query number that last measured it, so a warm-start point is not measured twice */
  measuredBy: Uint32Array;
  /** the number of the latest query (stamps in measuredBy) */
  query: number;
  /** scratch: the warm-start indices, and the neighbour list when the caller wants none */
  seeds: Int32Array;
  order: Int32Array;
}

/** Build a kNN model from a sample (n × dim, raw μ), the mean and per-dimension scales. */
export function knnModel(sample: ArrayLike<number>, dim: number, mean: ArrayLike<number>, scale: ArrayLike<number>, k: number): KnnModel {
  const n = Math.floor(sample.length / dim);
  if (k < 1 || k > n) throw new RangeError(`kNN needs 1 ≤ k ≤ sample size; got k = ${k} with ${n} samples`);
  const invScale = Float64Array.from(scale, (s) => 1 / Math.max(s, 1e-12));
  const m = Float64Array.from(mean);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) out[i * dim + j] = (sample[i * dim + j] - m[j]) * invScale[j];
  return { dim, k, n, sample: out, mean: m, invScale, search: { previous: new Int32Array(k).fill(-1), measuredBy: new Uint32Array(n), query: 0, seeds: new Int32Array(k), order: new Int32Array(k) } };
}

/**
 * Euclidean distance (standardised units) from mu[offset..offset+dim) to its k-th nearest sample point, skipping
 * sample index `skip` (leave-one-out). `scratch` holds dim + k values; `neighbours` (length k), when given,
 * receives the indices of the k nearest, nearest first. NaN if μ is not finite.
 *
 * Exact, and fast because most sample points are abandoned after a few dimensions: a point's partial squared
 * distance is dropped as soon as it reaches the current k-th smallest. That bound is tight from the start because
 * the previous query's k nearest are measured first — consecutive pixels of a scan usually sit close together in
 * latent space. Every other point is still measured, so the distance is the same as a plain scan's; only among
 * points at exactly equal distance may another one be kept.
 */
export function knnDistance(
  mu: ArrayLike<number>,
  offset: number,
  model: KnnModel,
  scratch: Float64Array = new Float64Array(model.dim + model.k),
  skip = -1,
  neighbours?: Int32Array,
): number {
  const { dim, k, n, sample } = model;
  const { previous, measuredBy, seeds } = model.search;
  for (let j = 0; j < dim; j++) {
    const v = (mu[offset + j] - model.mean[j]) * model.invScale[j];
    if (!Number.isFinite(v)) return Number.NaN;
    scratch[j] = v;
  }
  // the k smallest squared distances, kept sorted ascending in scratch[dim .. dim+k); their indices in `order`
  const best = dim;
  for (let t = 0; t < k; t++) scratch[best + t] = Number.POSITIVE_INFINITY;
  const order = neighbours ?? model.search.order;
  const search = model.search;
  if (search.query === 0xffffffff) {
    measuredBy.fill(0); // the stamps are 32-bit: forget old ones so none is mistaken for the new query's
    search.query = 0;
  }
  const query = ++search.query;
  seeds.set(previous);
  for (let s = 0; s < k; s++) {
    const i = seeds[s]!;
    if (i < 0 || i >= n || i === skip || measuredBy[i] === query) continue;
    measuredBy[i] = query;
    insertIfNearer(scratch, best, k, order, i, partialDistance2(sample, i * dim, scratch, dim, Number.POSITIVE_INFINITY));
  }
  for (let i = 0; i < n; i++) {
    if (i === skip || measuredBy[i] === query) continue;
    const worst = scratch[best + k - 1];
    const d2 = partialDistance2(sample, i * dim, scratch, dim, worst);
    if (d2 < worst) insertIfNearer(scratch, best, k, order, i, d2);
  }
  for (let t = 0; t < k; t++) previous[t] = scratch[best + t] < Number.POSITIVE_INFINITY ? order[t]! : -1;
  return Math.sqrt(scratch[best + k - 1]);
}

/** Squared distance from sample row `base` to the query in q[0..dim), summed in dimension order; stops (returning
 *  a value ≥ `bound`) once it reaches `bound`, checked every four dimensions. */
function partialDistance2(sample: Float32Array, base: number, q: Float64Array, dim: number, bound: number): number {
  let d2 = 0;
  let j = 0;
  for (; j + 4 <= dim && d2 < bound; j += 4) {
    const a = sample[base + j] - q[j];
    const b = sample[base + j + 1] - q[j + 1];
    const c = sample[base + j + 2] - q[j + 2];
    const e = sample[base + j + 3] - q[j + 3];
    d2 += a * a;
    d2 += b * b;
    d2 += c * c;
    d2 += e * e;
  }
  for (; j < dim && d2 < bound; j++) {
    const a = sample[base + j] - q[j];
    d2 += a * a;
  }
  return d2;
}

/** Insert (d2, i) into the ascending k-list at scratch[best ..] / order when it is nearer than the current k-th. */
function insertIfNearer(scratch: Float64Array, best: number, k: number, order: Int32Array, i: number, d2: number): void {
  if (d2 >= scratch[best + k - 1]) return;
  let t = k - 1;
  while (t > 0 && scratch[best + t - 1] > d2) {
    scratch[best + t] = scratch[best + t - 1];
    order[t] = order[t - 1];
    t--;
  }
  scratch[best + t] = d2;
  order[t] = i;
}

/**
 * Local-density ratio (simplified local outlier factor; Breunig et al. 2000): the k-th-neighbour distance of μ
 * divided by the mean k-th-neighbour distance of those neighbours within the sample (`kdist`). About 1 inside
 * the training embeddings however dense or sparse the neighbourhood; large where μ is far from where its
 * neighbours live. NaN if μ is not finite.
 */
export function lofRatio(mu: ArrayLike<number>, offset: number, model: KnnModel, kdist: ArrayLike<number>, scratch: Float64Array, neighbours: Int32Array): number {
  const dk = knnDistance(mu, offset, model, scratch, -1, neighbours);
  if (!Number.isFinite(dk)) return Number.NaN;
  let sum = 0;
  for (let t = 0; t < model.k; t++) sum += kdist[neighbours[t]];
  return dk / Math.max(sum / model.k, 1e-12);
}

/** Robust z of ln(kNN distance) against the reference's ln-distance median and MAD. */
export function knnZ(dk: number, ref: { logDkMedian: number; logDkMad: number }): number {
  if (!Number.isFinite(dk)) return Number.NaN;
  return robustZ(Math.log(Math.max(dk, ERROR_FLOOR)), ref.logDkMedian, ref.logDkMad);
}

/** Robust z of ln x (a LOF ratio) against a reference median and MAD of ln x; NaN if x is not finite. */
export function logRobustZ(x: number, median: number, mad: number): number {
  return Number.isFinite(x) ? robustZ(Math.log(Math.max(x, ERROR_FLOOR)), median, mad) : Number.NaN;
}

/** The latent score an alert engine uses for every pixel: z of μ at `offset` of a flat [pixels·dim] array. */
export interface LatentScorer {
  /** the method in use: the configured one, its fallback, or 'off' */
  readonly method: AlertsConfig['latentMethod'] | 'off';
  /** latent z-score of one pixel; NaN when the score is off or μ is not finite */
  z(mu: ArrayLike<number>, offset: number): number;
}

/**
 * The latent scorer for `config` on a scan of `latentDim` latent channels, from `reference` — the one place the
 * method is chosen:
 *
 * | config.latentMethod | the reference has            | scorer                          |
 * |---------------------|------------------------------|---------------------------------|
 * | any, threshold ≤ 0  | —                            | off                             |
 * | any                 | another latent dim           | off (`note` says why)           |
 * | lof                 | a kNN sample with LOF stats  | LOF ratio z (logRobustZ)        |
 * | knn / lof           | a kNN sample                 | kNN distance z (knnZ)           |
 * | knn / lof           | no usable kNN sample         | Mahalanobis (`note` says why)   |
 * | mahalanobis         | —                            | Mahalanobis d² z (latentZ)      |
 *
 * `note` is a warning to log once (the engine's caller loses no pixel over it).
 */
export function latentScorer(
  config: Pick<AlertsConfig, 'latentMethod' | 'latentThreshold'>,
  reference: AlertsReference,
  latentDim: number,
): { scorer: LatentScorer; note?: { fields: Record<string, unknown>; message: string } } {
  const off: LatentScorer = { method: 'off', z: () => Number.NaN };
  if (!(config.latentThreshold > 0)) return { scorer: off };
  const ref = reference.latent;
  if (ref.dim !== latentDim) return { scorer: off, note: { fields: { referenceDim: ref.dim, latentDim }, message: `alert reference has ${ref.dim} latent dims, the scan ${latentDim}; latent score off` } };
  const knnRef = ref.knn;
  const scratch = new Float64Array(latentDim + (knnRef?.k ?? 0));
  const lofReady = knnRef?.kdist !== undefined && knnRef.logLofMedian !== undefined && knnRef.logLofMad !== undefined;
  if (knnRef && (config.latentMethod === 'knn' || (config.latentMethod === 'lof' && lofReady))) {
    const knn = knnModel(knnRef.sample, ref.dim, ref.mean, knnRef.scale, knnRef.k);
    if (config.latentMethod === 'lof') {
      const kdist = knnRef.kdist!;
      const median = knnRef.logLofMedian!;
      const mad = knnRef.logLofMad!;
      const neighbours = new Int32Array(knnRef.k);
      return { scorer: { method: 'lof', z: (mu, offset) => logRobustZ(lofRatio(mu, offset, knn, kdist, scratch, neighbours), median, mad) } };
    }
    return { scorer: { method: 'knn', z: (mu, offset) => knnZ(knnDistance(mu, offset, knn, scratch), knnRef) } };
  }
  const model = latentModel(ref.mean, ref.cov, ref.shrinkage);
  const scorer: LatentScorer = { method: 'mahalanobis', z: (mu, offset) => latentZ(mahalanobis2(mu, offset, model, scratch), ref) };
  if (config.latentMethod === 'mahalanobis') return { scorer };
  return { scorer, note: { fields: { code: 'LS_ALERTS_REFERENCE_INVALID' }, message: 'alert reference has no kNN sample (recalibrate the bundle); using the Mahalanobis distance' } };
}

/** Largest kNN sample stored in a reference, and the neighbour rank used. */
export const KNN_SAMPLE = 2048;
export const KNN_K = 8;

/** Quantile levels stored in a reference. */
export const REFERENCE_QUANTILES = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];
/** Smallest kNN scale kept, relative to the largest latent scale; and absolute, when every latent is constant. */
export const SCALE_FLOOR_RELATIVE = 1e-6;
export const SCALE_FLOOR = 1e-9;

/** Default covariance shrinkage. */
export const DEFAULT_SHRINKAGE = 0.1;

/**
 * Reference statistics from encodings of clean (training-like) pixels: error[n] in scaled units and mu[n·dim].
 * Non-finite pixels are skipped.
 */
export function referenceFromEncodings(params: {
  error: Float32Array;
  mu: Float32Array;
  dim: number;
  shrinkage?: number;
  description: string;
  bundleVersion?: string | number;
}): AlertsReference {
  const { error, mu, dim } = params;
  const shrinkage = params.shrinkage ?? DEFAULT_SHRINKAGE;
  const n = error.length;
  if (mu.length !== n * dim) throw new RangeError(`reference mu has ${mu.length} values; ${n} pixels × ${dim} needs ${n * dim}`);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    let ok = Number.isFinite(error[i]);
    for (let j = 0; ok && j < dim; j++) ok = Number.isFinite(mu[i * dim + j]);
    if (ok) keep.push(i);
  }
  if (keep.length < 2) throw new RangeError(`reference needs at least 2 finite pixels; got ${keep.length} of ${n}`);
  const logErr = new Float64Array(keep.length);
  keep.forEach((i, k) => (logErr[k] = Math.log(Math.max(error[i], ERROR_FLOOR))));
  const le = medianMad(logErr);
  const mean = new Float64Array(dim);
  for (const i of keep) for (let j = 0; j < dim; j++) mean[j] += mu[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= keep.length;
  const cov = new Float64Array(dim * dim);
  for (const i of keep) {
    for (let a = 0; a < dim; a++) {
      const da = mu[i * dim + a] - mean[a];
      for (let b = a; b < dim; b++) cov[a * dim + b] += da * (mu[i * dim + b] - mean[b]);
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      cov[a * dim + b] /= keep.length - 1;
      cov[b * dim + a] = cov[a * dim + b];
    }
  }
  const model = latentModel(mean, cov, shrinkage);
  const logD2 = new Float64Array(keep.length);
  const scratch = new Float64Array(dim);
  keep.forEach((i, k) => (logD2[k] = Math.log(Math.max(mahalanobis2(mu, i * dim, model, scratch), ERROR_FLOOR))));
  const ld = medianMad(logD2);
  // kNN: a seeded random KNN_SAMPLE of the kept pixels is the sample; other pixels give the reference distribution
  // of the k-th neighbour distance (held out, so a point never finds itself). Random, not strided: a stride can
  // alias with the raster (every other column) or with interleaved data.
  const draw = xorshift32(0x2545f491);
  const shuffled = shuffleInPlace(keep.slice(), (i) => draw() % (i + 1));
  const nSample = Math.min(KNN_SAMPLE, Math.ceil(shuffled.length / 2));
  const sampleIdx = shuffled.slice(0, nSample);
  const heldIdx = shuffled.slice(nSample, nSample + 4 * KNN_SAMPLE);
  const k = Math.min(KNN_K, Math.max(1, sampleIdx.length - 1));
  const scale = new Array<number>(dim);
  let meanVar = 0;
  for (let j = 0; j < dim; j++) meanVar += cov[j * dim + j] / dim;
  for (let j = 0; j < dim; j++) scale[j] = Math.sqrt((1 - shrinkage) * cov[j * dim + j] + shrinkage * meanVar);
  // A latent channel that is constant on every calibration pixel (an encoder whose μ collapsed, e.g. dead ReLUs
  // before the heads) has scale 0: distances along it would divide by zero, and the stored reference would be refused.
  // Such scales are raised to a floor relative to the largest (absolute when all are 0) and listed.
  const floor = Math.max(SCALE_FLOOR_RELATIVE * Math.max(...scale), SCALE_FLOOR);
  const flooredScales: number[] = [];
  for (let j = 0; j < dim; j++) {
    if (!(scale[j]! >= floor)) {
      scale[j] = floor;
      flooredScales.push(j);
    }
  }
  const sample = new Float32Array(sampleIdx.length * dim);
  sampleIdx.forEach((i, r) => sample.set(mu.subarray(i * dim, (i + 1) * dim), r * dim));
  const knn = knnModel(sample, dim, mean, scale, k);
  const kScratch = new Float64Array(dim + k);
  const logDk = Float64Array.from(heldIdx, (i) => Math.log(Math.max(knnDistance(mu, i * dim, knn, kScratch), ERROR_FLOOR)));
  const lk = medianMad(logDk);
  // each sample point's own k-distance (leave-one-out), then the held-out distribution of the density ratio
  const standardised = { ...knn, mean: new Float64Array(dim), invScale: new Float64Array(dim).fill(1) }; // the sample is already
  const kdist = Array.from({ length: knn.n }, (_, r) => knnDistance(knn.sample, r * dim, standardised, kScratch, r));
  const nb = new Int32Array(k);
  const logLof = Float64Array.from(heldIdx, (i) => Math.log(Math.max(lofRatio(mu, i * dim, knn, kdist, kScratch, nb), ERROR_FLOOR)));
  const ll = medianMad(logLof);
  return {
    format: 1,
    source: { description: params.description, pixels: keep.length, createdAt: new Date().toISOString(), ...(params.bundleVersion !== undefined ? { bundleVersion: params.bundleVersion } : {}) },
    error: {
      logMedian: le.median,
      logMad: le.mad,
      quantiles: { p: REFERENCE_QUANTILES, value: quantiles(keep.map((i) => error[i]), REFERENCE_QUANTILES) },
    },
    latent: {
      dim,
      mean: Array.from(mean),
      cov: Array.from(cov),
      shrinkage,
      logD2Median: ld.median,
      logD2Mad: ld.mad,
      knn: { k, scale, ...(flooredScales.length ? { flooredScales } : {}), sample: Array.from(sample), logDkMedian: lk.median, logDkMad: lk.mad, kdist, logLofMedian: ll.median, logLofMad: ll.mad },
    },
  };
}
