/**
 * Hampel spike removal (Hampel, J. Am. Stat. Assoc. 69, 383, 1974; docs/science.md §8): a value further than
 * k · 1.4826 · MAD from the median of its sliding window is a spike and becomes that median. Real BEPS loops carry
 * tip-event spikes well beyond the 3 points per loop that the Savitzky–Golay step removes; a median window keeps
 * the switching edges (a median follows a monotonic step) while it drops isolated spikes and short bursts.
 *
 * The window wraps around: a loop is one closed bias cycle, so its first and last steps are neighbours.
 */
import { medianMad } from '../util/robust-stats.ts';

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
  let sigmaFloor = floor;
  if (sigmaFloor === undefined) sigmaFloor = 1e-3 * MAD_TO_SIGMA * medianMad(x).mad;
  const src = x.slice(); // decisions read the original values, so one replacement does not move the next window
  // The window is kept sorted as it slides (one value out, one in), so its median is its middle value and the MAD
  // — the median of the distances to that middle — is the h-th smallest of two already-sorted runs: the distances
  // to the values below the middle (nearest first) and above it. Same values as sorting each window afresh, without
  // the two sorts per value that made this the largest per-pixel cost of a replay (docs/performance.md §Start-up and
  // whole-process replay).
  const win = new Float64Array(w);
  for (let j = -h; j <= h; j++) win[j + h] = src[(j + n) % n]!;
  win.sort();
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) slide(win, src[(i - h - 1 + n) % n]!, src[(i + h) % n]!);
    const med = win[h]!;
    let below = h - 1;
    let above = h + 1;
    let mad = 0;
    for (let taken = 0; taken < h; taken++) {
      const lo = med - win[below]!;
      const hi = win[above]! - med;
      if (below >= 0 && (above >= w || lo <= hi)) {
        mad = lo;
        below--;
      } else {
        mad = hi;
        above++;
      }
    }
    const sigma = Math.max(MAD_TO_SIGMA * mad, sigmaFloor);
    if (Math.abs(src[i]! - med) > opts.k * sigma) {
      x[i] = med;
      replaced++;
    }
  }
  return replaced;
}

/** Replace one occurrence of `out` in the sorted array `win` by `into`, keeping it sorted. */
function slide(win: Float64Array, out: number, into: number): void {
  let at = win.indexOf(out);
  if (at < 0 || Number.isNaN(into)) {
    // a NaN leaves or enters (callers fill non-finite values first, so only direct callers meet this): re-sort
    if (at < 0) at = Math.max(0, win.findIndex(Number.isNaN));
    win[at] = into;
    win.sort();
    return;
  }
  if (into >= out) {
    while (at + 1 < win.length && win[at + 1]! < into) {
      win[at] = win[at + 1]!;
      at++;
    }
  } else {
    while (at > 0 && win[at - 1]! > into) {
      win[at] = win[at - 1]!;
      at--;
    }
  }
  win[at] = into;
}
