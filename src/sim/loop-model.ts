/**
 * The 9-parameter hysteresis loop of Jesse et al., Rev. Sci. Instrum. 77, 073702 (2006), as pycroscopy's
 * `loop_fit_function` writes it (docs/science.md §5), and the error function it needs.
 */

/**
 * erf(x) to ~1.2e-7 absolute (Numerical Recipes `erfc` Chebyshev fit), enough for float32 loops.
 */
export function erf(x: number): number {
  const z = Math.abs(x);
  // Beyond 6, 1 − erf is below 3e-17: the loop model's erf((V − a)·1000) lands here almost always.
  if (z > 6) return x > 0 ? 1 : -1;
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

/** Loop coefficients: a0 offset, a1 height, a2/a3 coercive voltages of branch 1/2, a4 slope, b0..b3 corner widths. */
export interface LoopCoefs {
  a0: number;
  a1: number;
  a2: number;
  a3: number;
  a4: number;
  b0: number;
  b1: number;
  b2: number;
  b3: number;
}

const D = 1000;

/**
 * One branch of the loop at bias `v`: branch 1 (falling bias, switches at a2) when `falling`, else branch 2 (rising, a3).
 * y rises from 0 to 1 through the coercive voltage, so the loop runs a0 → a0 + a1 (plus the slope a4·V).
 */
export function loopBranch(v: number, falling: boolean, c: LoopCoefs): number {
  const [lo, hi, vc] = falling ? [c.b0, c.b1, c.a2] : [c.b2, c.b3, c.a3];
  const g = ((hi - lo) / 2) * (erf((v - vc) * D) + 1) + lo;
  const y = (g * erf((v - vc) / g) + lo) / (lo + hi);
  return c.a0 + c.a1 * y + c.a4 * v;
}

/**
 * The BEPS bias waveform in acquisition order: 0 → +vmax → −vneg → 0 in `steps` equal-length quarters (docs/science.md §1:
 * 96 steps, ±16 V, 2/3 V per step). `vneg` (default `vmax`) gives a slightly asymmetric range, as some instruments
 * use. Returns the voltages and, per step, whether the bias is falling.
 */
export function triangleWaveform(steps: number, vmax: number, vneg = vmax): { volts: Float64Array; falling: Uint8Array } {
  const volts = new Float64Array(steps);
  const falling = new Uint8Array(steps);
  const q = steps / 4;
  for (let k = 0; k < steps; k++) {
    const x = k / q; // quarter cycles elapsed
    if (x < 1) volts[k] = vmax * x;
    else if (x < 3) {
      // the symmetric formula is kept as it was so default scans stay bit-identical
      volts[k] = vneg === vmax ? vmax * (2 - x) : vmax - ((vmax + vneg) * (x - 1)) / 2;
      falling[k] = 1;
    } else volts[k] = vneg * (x - 4);
  }
  return { volts, falling };
}
