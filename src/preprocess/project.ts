/**
 * Loop projection (docs/science.md §2): the complex response A·e^{iφ} is rotated by θ onto the real axis,
 * P = A·cos(φ + θ). θ is estimated as pycroscopy's `projectLoop` does: the principal axis of the points
 * (A cos φ, A sin φ) in the complex plane gives the line the response lies on, and of the two orientations of that
 * line the one giving a positive loop area ∮ P dV is kept.
 */

/** Project one loop: out[t] = amp[t]·cos(phase[t]·phaseScale + θ), reading `n` values from the given offsets. */
export function projectLoop(
  amp: Float32Array,
  phase: Float32Array,
  thetaRad: number,
  out: Float32Array,
  n = out.length,
  inOffset = 0,
  phaseScale = 1,
): Float32Array {
  for (let t = 0; t < n; t++) out[t] = amp[inOffset + t]! * Math.cos(phase[inOffset + t]! * phaseScale + thetaRad);
  return out;
}

/** Signed area ∮ P dV of a closed loop (trapezoids, closing segment included), in units of P·V. */
export function loopArea(p: ArrayLike<number>, voltage: ArrayLike<number>, n = voltage.length, offset = 0): number {
  let s = 0;
  for (let t = 0; t < n; t++) {
    const u = (t + 1) % n;
    s += 0.5 * (p[offset + t]! + p[offset + u]!) * (voltage[u]! - voltage[t]!);
  }
  return s;
}

/** Running sums over many loops from which θ is estimated (second moments of the complex response). */
export interface ThetaAccumulator {
  sxx: number;
  syy: number;
  sxy: number;
  loops: Array<{ x: Float64Array; y: Float64Array }>;
}

/** A fresh accumulator for `estimateTheta`. */
export function thetaAccumulator(): ThetaAccumulator {
  return { sxx: 0, syy: 0, sxy: 0, loops: [] };
}

/**
 * Add one loop (n values from `offset`, phase in rad after `phaseScale`) to the accumulator. Each loop is centred
 * first, so a constant instrument offset does not tilt the axis. Up to `keep` loops are kept to pick the sign.
 */
export function accumulateTheta(
  acc: ThetaAccumulator,
  amp: Float32Array,
  phase: Float32Array,
  n: number,
  offset = 0,
  phaseScale = 1,
  keep = 256,
): void {
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  let mx = 0;
  let my = 0;
  for (let t = 0; t < n; t++) {
    const a = amp[offset + t]!;
    const ph = phase[offset + t]! * phaseScale;
    if (!Number.isFinite(a) || !Number.isFinite(ph)) continue;
    x[t] = a * Math.cos(ph);
    y[t] = a * Math.sin(ph);
    mx += x[t]!;
    my += y[t]!;
  }
  mx /= n;
  my /= n;
  for (let t = 0; t < n; t++) {
    const dx = x[t]! - mx;
    const dy = y[t]! - my;
    acc.sxx += dx * dx;
    acc.syy += dy * dy;
    acc.sxy += dx * dy;
  }
  if (acc.loops.length < keep) acc.loops.push({ x, y });
}

/**
 * θ (rad, in (−π, π]) that rotates the accumulated responses onto the real axis with a positive mean loop area
 * against `voltage` (the DC steps of one loop, acquisition order).
 */
export function estimateTheta(acc: ThetaAccumulator, voltage: ArrayLike<number>): number {
  const alpha = 0.5 * Math.atan2(2 * acc.sxy, acc.sxx - acc.syy); // direction of the principal axis
  let theta = -alpha;
  const n = voltage.length;
  const p = new Float64Array(n);
  let area = 0;
  for (const { x, y } of acc.loops) {
    const c = Math.cos(theta);
    const s = Math.sin(theta);
    for (let t = 0; t < n; t++) p[t] = x[t]! * c - y[t]! * s; // Re((x + iy)·e^{iθ})
    area += loopArea(p, voltage);
  }
  if (area < 0) theta += Math.PI;
  if (theta > Math.PI) theta -= 2 * Math.PI;
  return theta;
}
