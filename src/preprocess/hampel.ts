/**
 * Hampel spike removal (Hampel, J. Am. Stat. Assoc. 69, 383, 1974; docs/science.md §8): a value further than
 * k · 1.4826 · MAD from the median of its sliding window is a spike and becomes that median. Real BEPS loops carry
 * tip-event spikes well beyond the 3 points per loop that the Savitzky–Golay step removes; a median window keeps
 * the switching edges (a median follows a monotonic step) while it drops isolated spikes and short bursts.
 *
 * The window wraps around: a loop is one closed bias cycle, so its first and last steps are neighbours.
 */
import { medianInPlace } from '../util/robust-stats.ts';

/** Sliding-window settings: `halfWindow` values each side (window = 2·halfWindow + 1), threshold `k` robust σ. */
export interface HampelOptions {
  halfWindow: number;
  k: number;
}

export const HAMPEL_DEFAULTS: HampelOptions = { halfWindow: 3, k: 3 };

/** 1.4826 · MAD estimates σ for normally distributed values. */
const MAD_TO_SIGMA = 1.4826;

/**
 * Replace the spikes of `x` in place (finite values expected: fill non-finite values first); returns how many were
 * replaced. `floor` is the smallest σ a window may have, so a flat stretch of a quantised loop (MAD = 0) does not
 * turn every tiny step into a "spike"; by default 1e-3 of the loop's own robust spread.
 */
export function hampelFilter(x: Float32Array, opts: HampelOptions = HAMPEL_DEFAULTS, floor?: number): number {
  const n = x.length;
  const h = Math.min(opts.halfWindow, Math.floor((n - 1) / 2));
  if (h < 1) return 0;
  const w = 2 * h + 1;
  const win = new Float64Array(w);
  const dev = new Float64Array(w);
  let sigmaFloor = floor;
  if (sigmaFloor === undefined) {
    const all = Float64Array.from(x);
    const med = medianInPlace(all, n);
    for (let i = 0; i < n; i++) all[i] = Math.abs(x[i]! - med);
    sigmaFloor = 1e-3 * MAD_TO_SIGMA * medianInPlace(all, n);
  }
  const src = Float32Array.from(x); // decisions read the original values, so one replacement does not move the next window
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    for (let j = -h; j <= h; j++) win[j + h] = src[(((i + j) % n) + n) % n]!;
    const med = medianInPlace(win, w);
    for (let j = 0; j < w; j++) dev[j] = Math.abs(win[j]! - med);
    const sigma = Math.max(MAD_TO_SIGMA * medianInPlace(dev, w), sigmaFloor);
    if (Math.abs(src[i]! - med) > opts.k * sigma) {
      x[i] = med;
      replaced++;
    }
  }
  return replaced;
}
