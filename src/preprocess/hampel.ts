/**
 * Hampel spike removal (Hampel, J. Am. Stat. Assoc. 69, 383, 1974; docs/science.md §8): a value further than
 * k · 1.4826 · MAD from the median of its sliding window is a spike and becomes that median. Real BEPS loops carry
 * tip-event spikes well beyond the 3 points per loop that the Savitzky–Golay step removes; a median window keeps
 * the switching edges (a median follows a monotonic step) while it drops isolated spikes and short bursts.
 *
 * The window wraps around: a loop is one closed bias cycle, so its first and last steps are neighbours.
 */

/** Sliding-window settings: `halfWindow` values each side (window = 2·halfWindow + 1), threshold `k` robust σ. */
export interface HampelOptions {
  halfWindow: number;
  k: number;
}

export const HAMPEL_DEFAULTS: HampelOptions = { halfWindow: 3, k: 3 };

/** 1.4826 · MAD estimates σ for normally distributed values. */
const MAD_TO_SIGMA = 1.4826;

/** Median of buf[0..n) (reorders them). Insertion sort: windows are a handful of values, where a typed-array sort's
 *  call overhead dominated (0.4 s of a 60 × 60 replay). */
function medianOf(buf: Float64Array, n: number): number {
  if (n > 32) buf.subarray(0, n).sort();
  else
    for (let i = 1; i < n; i++) {
      const v = buf[i]!;
      let j = i - 1;
      while (j >= 0 && buf[j]! > v) {
        buf[j + 1] = buf[j]!;
        j--;
      }
      buf[j + 1] = v;
    }
  const h = n >> 1;
  return n % 2 ? buf[h]! : 0.5 * (buf[h - 1]! + buf[h]!);
}

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
    const med = medianOf(all, n);
    for (let i = 0; i < n; i++) all[i] = Math.abs(x[i]! - med);
    sigmaFloor = 1e-3 * MAD_TO_SIGMA * medianOf(all, n);
  }
  const src = Float32Array.from(x); // decisions read the original values, so one replacement does not move the next window
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    for (let j = -h; j <= h; j++) win[j + h] = src[(((i + j) % n) + n) % n]!;
    const med = medianOf(win, w);
    for (let j = 0; j < w; j++) dev[j] = Math.abs(win[j]! - med);
    const sigma = Math.max(MAD_TO_SIGMA * medianOf(dev, w), sigmaFloor);
    if (Math.abs(src[i]! - med) > opts.k * sigma) {
      x[i] = med;
      replaced++;
    }
  }
  return replaced;
}
