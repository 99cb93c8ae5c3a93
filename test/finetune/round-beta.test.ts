/** β of a fine-tuning round (src/finetune/round-beta.ts): fixed for schedule bundles, constrained against the scan's PCA-5 otherwise. */
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { roundBeta, MIN_CONSTRAINT_PIXELS, STEP_DOWN } from '../../src/finetune/round-beta.ts';
import type { BundleManifest } from '../../src/model/bundle.ts';
import { mulberry32 } from '../../src/util/prng.ts';

// rank-5 rows plus white noise σ: PCA-5 leaves σ²·(d − 5)/d (test/model/beta-control.test.ts checks the baseline itself)
const d = 40;
const sigma = 0.1;
function rows(n: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  const axesRnd = mulberry32(99);
  const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const axes = Array.from({ length: 5 }, () => Array.from({ length: d }, () => gauss(axesRnd)));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = Array.from({ length: 5 }, () => 3 * gauss(rnd));
    for (let j = 0; j < d; j++) x[i * d + j] = c.reduce((s, ck, k) => s + ck * axes[k]![j]!, 0) + sigma * gauss(rnd);
  }
  return x;
}
const recent = { train: rows(1200, 1), nTrain: 1200, heldOut: rows(300, 2), nHeldOut: 300 };
const noise = (sigma ** 2 * (d - 5)) / d;

const manifest = (over: Partial<BundleManifest>): BundleManifest =>
  ({ version: 1, parent: null, beta: 1, training: { command: 't', seed: 1, backend: 'wasm', epochs: 1, batch: 1, learningRate: 1, schedule: { mode: 'constrained', kappa: 0.5 } }, ...over }) as BundleManifest;
const config = (finetune: Record<string, unknown> = {}) => parseConfig({ finetune }, 'test');

describe('roundBeta', () => {
  test('a constrained bundle: κ = ρ × the recent pixels\' PCA-5, β starts at the parent\'s β scaled by κ / its κ and holds until κ is met', () => {
    const rb = roundBeta(config(), manifest({}), recent, d, 1);
    expect(rb.mode).toBe('constrained');
    if (rb.mode !== 'constrained') return;
    const rho = config().train.betaTarget;
    expect(rb.record.pca5Mse).toBeCloseTo(noise, 3);
    expect(rb.record.kappa).toBeCloseTo(rho * rb.record.pca5Mse, 12);
    expect(rb.constraint.kappa).toBe(rb.record.kappa);
    expect(rb.record.betaStart).toBeCloseTo((1 * rb.record.kappa) / 0.5, 12);
    expect(rb.constraint.state).toEqual({ beta: rb.record.betaStart, constraint: 1, engaged: false });
    expect(rb.record.resumed).toBe(false);
    expect(rb.gateTarget.heldOutMse).toBeCloseTo(rho * rb.record.pca5HeldOutMse, 12);
    expect(rb.record.pca5HeldOutMse).toBeCloseTo(noise, 3);
  });

  test('a version a constrained round produced: its controller continues (β, moving average, engaged)', () => {
    const k = 0.8 * noise; // κ of the parent's round ≈ this round's: β carries over almost unchanged
    const parent = manifest({ version: 3, parent: 2, beta: 0.04, training: { command: 'finetune round 2', seed: 1, backend: 'wasm', epochs: 3, batch: 1, learningRate: 1, schedule: { mode: 'constrained', kappa: k } } });
    (parent as unknown as { finetune: unknown }).finetune = { constraint: { constraintEnd: -0.2, engagedEnd: true } };
    const rb = roundBeta(config(), parent, recent, d, 1);
    if (rb.mode !== 'constrained') throw new Error('expected constrained');
    expect(rb.record.resumed).toBe(true);
    // β · (κ / κ_parent), to the last bits (the product's rounding depends on the order it is taken in)
    expect(rb.constraint.state).toEqual({ beta: expect.closeTo((0.04 * rb.record.kappa) / k, 15), constraint: -0.2, engaged: true });
  });

  test('a constrained parent round that never met κ: the next one starts lower by STEP_DOWN × its moving average, still held', () => {
    const k = 0.8 * noise;
    const parent = manifest({ version: 2, parent: 1, beta: 0.05, training: { command: 'finetune round 1', seed: 1, backend: 'wasm', epochs: 3, batch: 1, learningRate: 1, schedule: { mode: 'constrained', kappa: k } } });
    (parent as unknown as { finetune: unknown }).finetune = { constraint: { constraintEnd: 0.6, engagedEnd: false } };
    const rb = roundBeta(config(), parent, recent, d, 1);
    if (rb.mode !== 'constrained') throw new Error('expected constrained');
    // (to the last bits, as above: the product's rounding depends on the order it is taken in)
    expect(rb.constraint.state).toEqual({ beta: expect.closeTo(((0.05 * rb.record.kappa) / k) * Math.exp(-STEP_DOWN * 0.6), 15), constraint: 0.6, engaged: false });
  });

  test('fixed β: schedule bundles, finetune.beta set, betaMode fixed, too few pixels; betaMode constrained forces it on a schedule bundle', () => {
    const schedule = manifest({ beta: 0.02, training: { command: 't', seed: 1, backend: 'wasm', epochs: 1, batch: 1, learningRate: 1, schedule: { mode: 'schedule' } } });
    expect(roundBeta(config(), schedule, recent, d, 1)).toMatchObject({ mode: 'fixed', beta: 0.02 });
    expect(roundBeta(config({ beta: 0.3 }), manifest({}), recent, d, 1)).toMatchObject({ mode: 'fixed', beta: 0.3, why: 'finetune.beta is set' });
    expect(roundBeta(config({ betaMode: 'fixed' }), manifest({}), recent, d, 1)).toMatchObject({ mode: 'fixed', beta: 1 });
    const few = { ...recent, nTrain: MIN_CONSTRAINT_PIXELS - 1 };
    expect(roundBeta(config(), manifest({}), few, d, 1).mode).toBe('fixed');
    const forced = roundBeta(config({ betaMode: 'constrained' }), schedule, recent, d, 1);
    if (forced.mode !== 'constrained') throw new Error('expected constrained');
    // no κ to scale from: the controller's initial β, held until κ is met
    expect(forced.record.betaStart).toBe(config().train.betaInitial);
    expect(forced.constraint.state?.engaged).toBe(false);
  });
});
