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
  const len = n + 2 * h;
  if (ring.length < len) ring = new Float64Array(len);
  if (win.length !== w) win = new Float64Array(w);
  let sigmaFloor = floor;
  if (sigmaFloor === undefined) sigmaFloor = 1e-3 * MAD_TO_SIGMA * medianMad(x, ring).mad;
  // The original values with the loop's wrap-around laid out flat: ring[i + h] = x[i], so the window of value i is
  // ring[i … i + 2h]. Decisions read these, so one replacement does not move the next window.
  for (let j = 0; j < len; j++) ring[j] = x[(j - h + n) % n]!;
  // The window is kept sorted as it slides (one value out, one in), so its median is its middle value and the MAD
  // — the median of the distances to that middle — is the h-th smallest of two already-sorted runs: the distances
  // to the values below the middle (nearest first) and above it. Same values as sorting each window afresh, without
  // the two sorts per value that made this the largest per-pixel cost of a replay (docs/performance.md §Start-up and
  // whole-process replay).
  for (let j = 0; j < w; j++) win[j] = ring[j]!;
  win.sort();
  const k = opts.k;
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) slide(win, ring[i - 1]!, ring[i + 2 * h]!);
    const med = win[h]!;
    let below = h - 1;
    let above = h + 1;
    let mad = 0;
    for (let taken = 0; taken < h; taken++) {
      // an exhausted run counts as infinitely far (no read past either end of the window: out-of-bounds typed-array
      // reads are undefined, and mixing that into the arithmetic kept this loop off V8's fast path)
      const lo = below >= 0 ? med - win[below]! : Infinity;
      const hi = above < w ? win[above]! - med : Infinity;
      if (lo <= hi) {
        mad = lo;
        below--;
      } else {
        mad = hi;
        above++;
      }
    }
    const sigma = Math.max(MAD_TO_SIGMA * mad, sigmaFloor);
    if (Math.abs(ring[i + h]! - med) > k * sigma) {
      x[i] = med;
      replaced++;
    }
  }
  return replaced;
}

// Scratch of the filter, grown on demand and reused: it runs on every channel of every pixel, and two fresh arrays per
// call were a good part of its cost (allocation, then garbage collection). Safe to share: the filter is synchronous
// and never re-entered.
let ring = new Float64Array(0);
let win = new Float64Array(0);

/** Replace one occurrence of `out` in the sorted array `win` by `into`, keeping it sorted. */
function slide(win: Float64Array, out: number, into: number): void {
  let at = -1;
  for (let i = 0; i < win.length; i++) {
    if (win[i] === out) {
      at = i;
      break;
    }
  }
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
