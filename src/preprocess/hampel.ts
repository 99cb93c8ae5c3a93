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
  if (ringScratch.length < len) ringScratch = new Float64Array(len);
  if (winScratch.length !== w) winScratch = new Float64Array(w);
  const ring = ringScratch;
  const win = winScratch;
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
  const floorBound = k * sigmaFloor;
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      // one value out, one in; the scan for the outgoing value and the shift stay in this loop (the common case)
      const out = ring[i - 1]!;
      const into = ring[i + 2 * h]!;
      let at = 0;
      while (at < w && win[at] !== out) at++;
      if (at === w || into !== into) resort(win, at, into);
      else if (into >= out) {
        while (at + 1 < w && win[at + 1]! < into) {
          win[at] = win[at + 1]!;
          at++;
        }
        win[at] = into;
      } else {
        while (at > 0 && win[at - 1]! > into) {
          win[at] = win[at - 1]!;
          at--;
        }
        win[at] = into;
      }
    }
    const med = win[h]!;
    const dev = Math.abs(ring[i + h]! - med);
    // within k times the floor a value is never a spike, whatever the window's MAD: k·max(σ_MAD, floor) ≥ k·floor
    if (dev <= floorBound) continue;
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
    if (dev > k * sigma) {
      x[i] = med;
      replaced++;
    }
  }
  return replaced;
}

// Scratch of the filter, grown on demand and reused: it runs on every channel of every pixel, and two fresh arrays per
// call were a good part of its cost (allocation, then garbage collection). Safe to share: the filter is synchronous
// and never re-entered.
let ringScratch = new Float64Array(0);
let winScratch = new Float64Array(0);

/**
 * The slide's rare case: the outgoing value is not in the window (a NaN left: NaN !== NaN) or a NaN enters (callers
 * fill non-finite values first, so only direct callers meet this). Put `into` at `at` (or where a NaN sits) and
 * re-sort.
 */
function resort(win: Float64Array, at: number, into: number): void {
  win[at < win.length ? at : Math.max(0, win.findIndex(Number.isNaN))] = into;
  win.sort();
}
