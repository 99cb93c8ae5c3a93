/**
 * Synthetic score inputs for alert tests and tuning: an error map drawn log-normal around a reference, latent
 * means drawn from the reference's Gaussian, and rectangular planted regions with a raised error or a shifted μ.
 * Not a test file (no .test.ts): imported by the tests and bench/alerts-quality.ts.
 */
import type { AlertsConfig, AlertsReference } from '../../src/alerts/types.ts';
import { DEFAULTS } from '../../src/config/schema.ts';

/** Tiny seeded PRNG (mulberry32) and a Box–Muller normal. */
export function rng(seed: number): { uniform: () => number; normal: () => number } {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform() + 1e-300)) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/** Reference with ln(error) ~ N(ln 0.01, 0.3²) and μ ~ N(0, I) in `dim` dimensions. */
export function syntheticReference(dim = 4): AlertsReference {
  const sigma = 0.3;
  const cov = new Array<number>(dim * dim).fill(0);
  for (let i = 0; i < dim; i++) cov[i * dim + i] = 1;
  // ln d² of a chi-square(k): median ln(k(1 − 2/(9k))³), MAD by the delta method is close enough for tests
  const medD2 = dim * (1 - 2 / (9 * dim)) ** 3;
  return {
    format: 1,
    source: { description: 'synthetic', pixels: 10000, createdAt: '2026-01-01T00:00:00Z' },
    error: { logMedian: Math.log(0.01), logMad: sigma / 1.4826, quantiles: { p: [0.5], value: [0.01] } },
    latent: { dim, mean: new Array(dim).fill(0), cov, shrinkage: 0, logD2Median: Math.log(medD2), logD2Mad: 0.45 },
  };
}

/** A rectangle planted in a synthetic scan. */
export interface PlantedRect {
  rowMin: number;
  rowMax: number;
  colMin: number;
  colMax: number;
  /** multiply the error by this (default 1) */
  errorFactor?: number;
  /** add this to every μ component (default 0) */
  muShift?: number;
}

/** Error map and μ for a rows×cols scan with planted rectangles; truth[i] = 1 + index of the rectangle. */
export function syntheticMaps(opts: { rows: number; cols: number; dim?: number; seed: number; planted?: PlantedRect[]; errorSigma?: number }): {
  scanId: string;
  rows: number;
  cols: number;
  latentDim: number;
  error: Float32Array;
  mu: Float32Array;
  truth: Uint8Array;
} {
  const { rows, cols, seed } = opts;
  const dim = opts.dim ?? 4;
  const n = rows * cols;
  const r = rng(seed);
  const error = new Float32Array(n);
  const mu = new Float32Array(n * dim);
  const truth = new Uint8Array(n);
  const sigma = opts.errorSigma ?? 0.3;
  for (let i = 0; i < n; i++) {
    error[i] = Math.exp(Math.log(0.01) + sigma * r.normal());
    for (let j = 0; j < dim; j++) mu[i * dim + j] = r.normal();
  }
  (opts.planted ?? []).forEach((p, k) => {
    for (let row = p.rowMin; row <= p.rowMax; row++) {
      for (let col = p.colMin; col <= p.colMax; col++) {
        const i = row * cols + col;
        truth[i] = k + 1;
        error[i] *= p.errorFactor ?? 1;
        for (let j = 0; j < dim; j++) mu[i * dim + j] += p.muShift ?? 0;
      }
    }
  });
  return { scanId: `syn-${seed}`, rows, cols, latentDim: dim, error, mu, truth };
}

/**
 * The alerts config the synthetic tests are written for (thresholds pinned here, so retuning the defaults for
 * a model does not change what these tests mean), with overrides.
 */
export function alertsConfig(over: Partial<AlertsConfig> = {}): AlertsConfig {
  return { ...DEFAULTS.alerts, latentMethod: 'mahalanobis', errorThreshold: 4.5, latentThreshold: 6, growFactor: 0.75, minArea: 6, ...over };
}

/** Flat indices 0..n-1 cut into raster-order batches of `size`. */
export function rasterBatches(n: number, size: number): Uint32Array[] {
  const out: Uint32Array[] = [];
  for (let s = 0; s < n; s += size) out.push(Uint32Array.from({ length: Math.min(size, n - s) }, (_, k) => s + k));
  return out;
}
