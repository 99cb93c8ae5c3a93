/**
 * Colour limits of a map that one outlier cannot take over: the 1st and 99th percentiles of the drawn values
 * (values beyond them are clamped to the ends of the colormap), optionally on a log10 scale (the error map, whose
 * values span decades). A plain min…max would let one spike squeeze every other pixel into one colour.
 */

/** How a map's values are scaled onto the colormap. */
export interface ColorLimits {
  /** value at the bottom of the colormap (in data units, not log) */
  lo: number;
  /** value at the top */
  hi: number;
  log: boolean;
  /** smallest and largest drawn value (reported beside the limits) */
  min: number;
  max: number;
  /** finite values counted (for log: the positive ones) */
  n: number;
}

/** The p-quantile (0…1) of sorted values, linear between neighbours (numpy's default). */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const x = Math.min(1, Math.max(0, p)) * (n - 1);
  const i = Math.floor(x);
  const f = x - i;
  return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

/**
 * Limits for the finite `values` (and, with `log`, the positive ones): percentiles `lowPct`…`highPct` (default 1…99).
 * Falls back to min…max when the percentiles coincide (a flat map with a few odd pixels still shows them).
 */
export function colorLimits(values: ArrayLike<number>, opts: { log?: boolean; lowPct?: number; highPct?: number } = {}): ColorLimits {
  const log = opts.log ?? false;
  const kept: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v) && (!log || v > 0)) kept.push(log ? Math.log10(v) : v);
  }
  if (kept.length === 0) return { lo: Number.NaN, hi: Number.NaN, log, min: Number.NaN, max: Number.NaN, n: 0 };
  const sorted = Float64Array.from(kept).sort();
  const min = sorted[0];
  const max = sorted[sorted.length - 1];
  let lo = quantile(sorted, (opts.lowPct ?? 1) / 100);
  let hi = quantile(sorted, (opts.highPct ?? 99) / 100);
  if (!(hi > lo)) [lo, hi] = [min, max];
  const back = (x: number) => (log ? 10 ** x : x);
  return { lo: back(lo), hi: back(hi), log, min: back(min), max: back(max), n: kept.length };
}

/** Position 0…1 of `v` on the colormap under `limits` (clamped; NaN for values a log map cannot show). */
export function colorPosition(v: number, limits: ColorLimits): number {
  if (!Number.isFinite(v)) return Number.NaN;
  let x: number, lo: number, hi: number;
  if (limits.log) {
    if (v <= 0) return 0;
    [x, lo, hi] = [Math.log10(v), Math.log10(limits.lo), Math.log10(limits.hi)];
  } else {
    [x, lo, hi] = [v, limits.lo, limits.hi];
  }
  if (!(hi > lo)) return 0.5;
  return Math.min(1, Math.max(0, (x - lo) / (hi - lo)));
}
