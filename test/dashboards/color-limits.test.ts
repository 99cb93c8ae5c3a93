import { describe, expect, it } from 'vitest';
import { colorLimits, colorPosition, quantile } from '../../dashboards/src/color-limits.ts';

describe('map colour limits', () => {
  it('computes quantiles like numpy (linear)', () => {
    // numpy.quantile([1, 2, 3, 4], [0, 0.25, 0.5, 0.99, 1]) = 1, 1.75, 2.5, 3.97, 4
    const s = [1, 2, 3, 4];
    expect([0, 0.25, 0.5, 0.99, 1].map((p) => quantile(s, p))).toEqual([1, 1.75, 2.5, expect.closeTo(3.97, 12), 4]);
  });

  it('keeps one spike from taking the whole colour range', () => {
    // 1000 values 0…0.999 and one spike of 1e6: min…max would put every ordinary pixel in the bottom 0.0001 %
    const values = Array.from({ length: 1000 }, (_, i) => i / 1000);
    values.push(1e6);
    const lim = colorLimits(values);
    expect(lim.max).toBe(1e6);
    expect(lim.lo).toBeCloseTo(quantile([...values].sort((a, b) => a - b), 0.01), 12);
    expect(lim.hi).toBeLessThan(1); // the 99th percentile is an ordinary value
    expect(colorPosition(0.5, lim)).toBeGreaterThan(0.45);
    expect(colorPosition(0.5, lim)).toBeLessThan(0.55);
    expect(colorPosition(1e6, lim)).toBe(1); // the spike is clamped to the top colour
  });

  it('scales the error map on log10, ignoring non-positive and non-finite values', () => {
    const values = [1e-3, 1e-2, 1e-1, 1, 10, Number.NaN, 0, -1, Number.POSITIVE_INFINITY];
    const lim = colorLimits(values, { log: true, lowPct: 0, highPct: 100 });
    expect(lim.n).toBe(5);
    expect(lim.lo).toBeCloseTo(1e-3, 15);
    expect(lim.hi).toBeCloseTo(10, 12);
    expect(colorPosition(0.1, lim)).toBeCloseTo(0.5, 12); // a decade is a decade
    expect(colorPosition(Number.NaN, lim)).toBeNaN();
  });

  it('falls back to min…max when the percentiles coincide, and reports an empty map', () => {
    const flat = new Array(1000).fill(2);
    flat[3] = 5;
    const lim = colorLimits(flat);
    expect([lim.lo, lim.hi]).toEqual([2, 5]);
    expect(colorLimits([Number.NaN]).n).toBe(0);
  });
});
