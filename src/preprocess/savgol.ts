/**
 * Savitzky–Golay smoothing and outlier removal (docs/science.md §2; Savitzky & Golay, Anal. Chem. 36, 1627, 1964).
 * Smoothing matches `scipy.signal.savgol_filter(x, window, order, mode='interp')`: interior points use the centred
 * least-squares polynomial, the first and last half-windows evaluate the polynomial fitted to the edge window.
 */
import { Matrix, inverse } from 'ml-matrix';
import { fillNonFinite } from './fill-non-finite.ts';

/** Precomputed smoothing weights for one (window, order): row p of the hat matrix gives the fit at window position p. */
export interface SavgolKernel {
  readonly window: number;
  readonly order: number;
  /** window × window, row-major: smoothed value at window position p = Σ_j hat[p·window + j] · y_j */
  readonly hat: Float64Array;
}

/** Savitzky–Golay weights for an odd `window` and polynomial `order` < window (least-squares hat matrix). */
export function savgolKernel(window = 7, order = 3): SavgolKernel {
  if (window % 2 !== 1 || window < 3) throw new RangeError(`savgol window is ${window}; expected an odd number ≥ 3`);
  if (order >= window) throw new RangeError(`savgol order is ${order}; expected < window (${window})`);
  const half = (window - 1) / 2;
  const a = new Matrix(window, order + 1);
  for (let i = 0; i < window; i++) for (let k = 0; k <= order; k++) a.set(i, k, (i - half) ** k);
  const at = a.transpose();
  const h = a.mmul(inverse(at.mmul(a))).mmul(at); // H = A (AᵀA)⁻¹ Aᵀ
  const hat = new Float64Array(window * window);
  for (let p = 0; p < window; p++) for (let j = 0; j < window; j++) hat[p * window + j] = h.get(p, j);
  return { window, order, hat };
}

/** Smooth `x` into `out` (same length ≥ window) with scipy's 'interp' edge mode. */
export function savgolFilter(x: Float32Array, k: SavgolKernel, out: Float32Array): Float32Array {
  const n = x.length;
  const half = (k.window - 1) / 2;
  if (n < k.window) {
    out.set(x); // too short to fit: leave as is
    return out;
  }
  smoothInterior(x, k, out, half, n - half);
  smoothEdges(x, k, out, true, true);
  return out;
}

/** out[i] for interior positions i in [from, to): the centred window's least-squares fit at its middle. */
function smoothInterior(x: Float32Array, k: SavgolKernel, out: Float32Array, from: number, to: number): void {
  const w = k.window;
  const half = (w - 1) / 2;
  const hat = k.hat;
  const centre = half * w;
  for (let i = from; i < to; i++) {
    let s = 0;
    for (let j = 0; j < w; j++) s += hat[centre + j]! * x[i - half + j]!;
    out[i] = s;
  }
}

/** out of the first (`head`) and/or last (`tail`) half-window: the polynomial fitted to the first/last window. */
function smoothEdges(x: Float32Array, k: SavgolKernel, out: Float32Array, head: boolean, tail: boolean): void {
  const n = x.length;
  const w = k.window;
  const half = (w - 1) / 2;
  const hat = k.hat;
  for (let p = 0; p < half; p++) {
    let s0 = 0;
    let s1 = 0;
    const q = w - half + p; // position within the last window
    for (let j = 0; j < w; j++) {
      s0 += hat[p * w + j]! * x[j]!;
      s1 += hat[q * w + j]! * x[n - w + j]!;
    }
    if (head) out[p] = s0;
    if (tail) out[n - half + p] = s1;
  }
}

/**
 * Outlier removal of the reference code (`SG_filter_data`): `count` times, smooth, drop the point with the largest
 * |residual| and re-interpolate it linearly. Works in place on `x`; `scratch` is a caller buffer of x.length.
 * After the first round only the smoothed values whose windows hold the re-interpolated point are recomputed: the
 * others would come out the same, term for term.
 */
export function removeOutliers(x: Float32Array, k: SavgolKernel, count: number, scratch: Float32Array): void {
  const n = x.length;
  const w = k.window;
  const half = (w - 1) / 2;
  let last = -1;
  for (let r = 0; r < count; r++) {
    if (last < 0 || n < w) savgolFilter(x, k, scratch);
    else {
      smoothInterior(x, k, scratch, Math.max(half, last - half), Math.min(n - half, last + half + 1));
      smoothEdges(x, k, scratch, last < w, last >= n - w);
    }
    let worst = -1;
    let worstRes = -1;
    for (let i = 0; i < n; i++) {
      const res = Math.abs(scratch[i]! - x[i]!);
      if (res > worstRes) {
        worstRes = res;
        worst = i;
      }
    }
    if (worst < 0 || worstRes === 0) return;
    x[worst] = Number.NaN;
    // when more than this one value was non-finite, filling moved others too: smooth all of it next round
    last = fillNonFinite(x) === n - 1 ? worst : -1;
  }
}
