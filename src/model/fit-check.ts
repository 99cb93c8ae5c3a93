/**
 * Does the model fit this scan? A bundle carries a training reference (manifest `reference`): statistics of the
 * model inputs it was trained on (per channel, after normalisation, i.e. exactly what the encoder received) and the
 * distribution of its per-pixel reconstruction error on held-out training pixels. A scan is compared with it on
 * two counts (docs/model.md §Does the model fit):
 *
 *   errorRatio  median per-pixel error of the scan's pixels ÷ the training median. A model far from its training
 *               data reconstructs badly: a 372 kHz scan under a 1.3 MHz model sits at ~10⁶.
 *   inputShift  per channel, the larger of |Δmean| / training std and |ln(std ratio)|; the largest channel counts.
 *               It catches inputs the model was never shown (another resonance, another loop height), even where
 *               the decoder happens to reconstruct them.
 *
 * Either above its threshold (config `ood`) flags the scan as not fitting. Pure functions on typed arrays; the
 * pipeline's rolling check lives in pipeline/fit-monitor.ts.
 */
import { medianMad, quantiles } from '../util/robust-stats.ts';

/** Quantiles stored for inputs and errors. */
export const REFERENCE_P = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

/** The training reference of a bundle (manifest.json `reference`). */
export interface TrainingReference {
  format: 1;
  /** where the pixels came from, e.g. "validation split (250 px)" or "train-sample.bin (2048 px)" */
  source: string;
  pixels: number;
  createdAt: string;
  /** model-input statistics per channel over all T steps, in the model's (scaled) units */
  input: { channels: string[]; mean: number[]; std: number[]; quantiles: { p: number[]; value: number[][] } };
  /** per-pixel reconstruction MSE (scaled units, as the engine's `error`) on those pixels */
  error: { median: number; mean: number; quantiles: { p: number[]; value: number[] } };
}

/** The verdict of one check (replay summary `ood`, results attributes, dashboard `ScanInfo.ood`, /metrics). */
export interface OodStatus {
  /** true = the model does not fit this scan */
  flag: boolean;
  /** scan median error ÷ training median error; null without an error reference */
  errorRatio: number | null;
  /** largest per-channel input shift (see the file comment); null without input statistics */
  inputShift: number | null;
  /** median per-pixel error of the checked pixels */
  scanMedianError: number | null;
  /** median per-pixel error of the training reference */
  trainMedianError: number | null;
  /** per channel: mean shift in training std, ln(scan std ÷ training std) */
  channels: Array<{ name: string; meanShift: number; logStdRatio: number }>;
  /** pixels the check looked at */
  pixels: number;
  /** the thresholds applied */
  thresholds: { errorRatio: number; inputShift: number };
  /** what the reference was: the bundle's own, or only the manifest's validation MSE */
  reference: 'bundle' | 'metrics' | 'none';
  /** human-readable reasons when flagged (empty when it fits) */
  reasons: string[];
}

/** Per-channel mean and std of model inputs ([pixel][T][C] rows of length stride = T·C) over the given rows. */
export function inputStats(x: Float32Array, rows: ArrayLike<number>, stride: number, C: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  let count = 0;
  for (let r = 0; r < rows.length; r++) {
    const base = rows[r]! * stride;
    for (let j = 0; j < stride; j++) {
      const v = x[base + j]!;
      sum[j % C] += v;
      sq[j % C] += v * v;
    }
    count += stride / C;
  }
  const mean = Array.from(sum, (s) => (count ? s / count : Number.NaN));
  const std = Array.from(sq, (s, c) => (count ? Math.sqrt(Math.max(0, s / count - mean[c]! ** 2)) : Number.NaN));
  return { mean, std };
}

/** Build the training reference from n model-input rows and their per-pixel reconstruction errors. */
export function trainingReference(x: Float32Array, n: number, channels: string[], errors: Float32Array, source: string): TrainingReference {
  const C = channels.length;
  const stride = x.length / Math.max(1, n);
  const rows = Uint32Array.from({ length: n }, (_, i) => i);
  const { mean, std } = inputStats(x, rows, stride, C);
  const perChannel = channels.map((_, c) => {
    const vals = new Float32Array((n * stride) / C);
    for (let i = 0, k = 0; i < n * stride; i += C) vals[k++] = x[i + c]!;
    return quantiles(vals, REFERENCE_P);
  });
  let s = 0;
  for (const e of errors) s += e;
  return {
    format: 1,
    source,
    pixels: n,
    createdAt: new Date().toISOString(),
    input: { channels: channels.slice(), mean, std, quantiles: { p: REFERENCE_P.slice(), value: perChannel } },
    error: { median: medianMad(errors).median, mean: errors.length ? s / errors.length : Number.NaN, quantiles: { p: REFERENCE_P.slice(), value: quantiles(errors, REFERENCE_P) } },
  };
}

/** What a bundle offers to compare against: its reference, or (older bundles) only the validation MSE. */
export interface FitReference {
  kind: 'bundle' | 'metrics' | 'none';
  reference?: TrainingReference;
  /** training error level: the reference median, else the manifest's validation MSE (a mean: a lenient level) */
  errorLevel: number | null;
}

/** The reference a manifest offers (see FitReference). */
export function fitReferenceOf(manifest: { reference?: TrainingReference; metrics?: { valMse?: number; mse?: number } }): FitReference {
  if (manifest.reference) return { kind: 'bundle', reference: manifest.reference, errorLevel: manifest.reference.error.median };
  const level = manifest.metrics?.valMse ?? manifest.metrics?.mse;
  return level !== undefined && Number.isFinite(level) ? { kind: 'metrics', errorLevel: level } : { kind: 'none', errorLevel: null };
}

/** Compare a scan's statistics (input mean/std per channel, median error over `pixels`) with the reference. */
export function checkFit(ref: FitReference, scan: { mean: number[]; std: number[]; medianError: number; pixels: number; channels: string[]; present?: boolean[] }, thresholds: { errorRatio: number; inputShift: number }): OodStatus {
  const reasons: string[] = [];
  const level = ref.errorLevel;
  const errorRatio = level !== null && level > 0 && Number.isFinite(scan.medianError) ? scan.medianError / level : null;
  if (errorRatio !== null && errorRatio > thresholds.errorRatio) {
    reasons.push(`median reconstruction error ${scan.medianError.toPrecision(3)} is ${errorRatio.toPrecision(3)}× the training level ${level!.toPrecision(3)} (threshold ${thresholds.errorRatio}×)`);
  }
  const channels: OodStatus['channels'] = [];
  let inputShift: number | null = null;
  const r = ref.reference;
  if (r && r.input.channels.length === scan.channels.length) {
    for (let c = 0; c < scan.channels.length; c++) {
      // a channel the scan does not have (e.g. no resonance) is a constant fill, not a shifted input: not compared
      if (scan.present?.[c] === false) continue;
      const sd = Math.max(r.input.std[c]!, 1e-12);
      const meanShift = Math.abs(scan.mean[c]! - r.input.mean[c]!) / sd;
      const logStdRatio = Math.log(Math.max(scan.std[c]!, 1e-12) / sd);
      channels.push({ name: scan.channels[c]!, meanShift, logStdRatio });
      const shift = Math.max(meanShift, Math.abs(logStdRatio));
      inputShift = inputShift === null ? shift : Math.max(inputShift, shift);
      if (shift > thresholds.inputShift) {
        reasons.push(`${scan.channels[c]} input: mean moved ${meanShift.toPrecision(3)} training std, std ×${Math.exp(logStdRatio).toPrecision(3)} (threshold ${thresholds.inputShift})`);
      }
    }
  }
  return {
    flag: reasons.length > 0,
    errorRatio,
    inputShift,
    scanMedianError: Number.isFinite(scan.medianError) ? scan.medianError : null,
    trainMedianError: level,
    channels,
    pixels: scan.pixels,
    thresholds: { ...thresholds },
    reference: ref.kind,
    reasons,
  };
}

/** Check the given encoded pixels of a scan: their model inputs ([pixel][T·C]) and their per-pixel errors. */
export function checkScanPixels(ref: FitReference, inputs: Float32Array, errors: Float32Array, pixels: ArrayLike<number>, stride: number, channels: string[], thresholds: { errorRatio: number; inputShift: number }, present?: boolean[]): OodStatus {
  const { mean, std } = inputStats(inputs, pixels, stride, channels.length);
  const e = Float64Array.from({ length: pixels.length }, (_, k) => errors[pixels[k]!]!);
  return checkFit(ref, { mean, std, medianError: medianMad(e).median, pixels: pixels.length, channels, ...(present ? { present } : {}) }, thresholds);
}
