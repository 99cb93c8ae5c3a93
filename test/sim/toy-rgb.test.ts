import { describe, expect, it } from 'vitest';
import { erf } from '../../src/sim/loop-model.ts';
import { randomRgb, toySpectra } from '../../src/sim/toy-rgb.ts';

describe('toySpectra (docs/science.md §4)', () => {
  it('matches the formula at hand-worked points', () => {
    // R = G = B = 0.5 at t = 0 (middle of 25 steps): tanh(0) + SELU(0) + sigmoid(0) = 0.5
    const s = toySpectra(new Float32Array([0.5, 0.5, 0.5]));
    expect(s).toHaveLength(25);
    expect(s[12]).toBeCloseTo(0.5, 6);
    // t = 1 (last step): tanh(20) + SELU(1) + sigmoid(-20) = 1 + 1.0507009873554805 + 2.06e-9
    expect(s[24]).toBeCloseTo(1 + 1.0507009873554805, 5);
    // t = -1: tanh(-20) + SELU(-1) + sigmoid(20) = -1 + 1.0507·1.6733·(e^-1 − 1) + 1
    expect(s[0]).toBeCloseTo(1.0507009873554805 * 1.6732632423543772 * (Math.exp(-1) - 1), 5);
  });

  it('gives n*steps values and moves the tanh step with R', () => {
    const s = toySpectra(new Float32Array([0, 0.5, 0.5, 1, 0.5, 0.5]), 11);
    expect(s).toHaveLength(22);
    // R = 0: tanh(20·(t + 1)) steps at t = -1, so it is +1 almost everywhere; R = 1: steps at t = +1, so -1
    expect(s[5] - s[11 + 5]).toBeCloseTo(2, 3);
  });

  it('refuses a length that is not a multiple of 3', () => {
    expect(() => toySpectra(new Float32Array(4))).toThrow(/multiple of 3/);
  });
});

describe('randomRgb', () => {
  it('is seeded, in [0, 1) and spread out', () => {
    const a = randomRgb(1000, 7);
    expect(a).toEqual(randomRgb(1000, 7));
    expect(a).not.toEqual(randomRgb(1000, 8));
    let mean = 0;
    for (const x of a) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      mean += x / a.length;
    }
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe('erf', () => {
  it('matches tabulated values to 1e-6', () => {
    expect(erf(0)).toBeCloseTo(0, 7);
    expect(erf(0.5)).toBeCloseTo(0.5204998778, 6);
    expect(erf(1)).toBeCloseTo(0.8427007929, 6);
    expect(erf(-2)).toBeCloseTo(-0.9953222650, 6);
    expect(erf(5)).toBeCloseTo(1, 7);
  });
});
