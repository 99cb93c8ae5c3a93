/**
 * The paper's toy dataset with known ground truth (docs/science.md §4): each RGB colour maps to a 25-step spectrum
 * f(t) = tanh(20·(t − 2(R − 0.5))) + SELU(t − 2(G − 0.5)) + sigmoid(−20·(t − (B − 0.5))), t = linspace(−1, 1, steps).
 */
import { seededRng } from '../util/prng.ts';

// SELU constants of Klambauer et al. (2017), as Keras uses them.
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

function selu(x: number): number {
  return SELU_SCALE * (x > 0 ? x : SELU_ALPHA * (Math.exp(x) - 1));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Spectra for `n` colours (`rgb` is n*3 in [0, 1]); returns n*steps, row-major. */
export function toySpectra(rgb: Float32Array, steps = 25): Float32Array {
  if (rgb.length % 3 !== 0) throw new RangeError(`toySpectra: rgb length ${rgb.length} is not a multiple of 3`);
  if (!(Number.isInteger(steps) && steps >= 2)) throw new RangeError(`toySpectra: steps must be an integer ≥ 2; got ${steps}`);
  const n = rgb.length / 3;
  const out = new Float32Array(n * steps);
  for (let p = 0; p < n; p++) {
    const R = rgb[3 * p], G = rgb[3 * p + 1], B = rgb[3 * p + 2];
    for (let k = 0; k < steps; k++) {
      const t = -1 + (2 * k) / (steps - 1);
      out[p * steps + k] = Math.tanh(20 * (t - 2 * (R - 0.5))) + selu(t - 2 * (G - 0.5)) + sigmoid(-20 * (t - (B - 0.5)));
    }
  }
  return out;
}

/** `n` uniform random colours in [0, 1]^3 (n*3), seeded. */
export function randomRgb(n: number, seed: number): Float32Array {
  const rng = seededRng(seed);
  const out = new Float32Array(n * 3);
  for (let i = 0; i < out.length; i++) out[i] = rng();
  return out;
}
