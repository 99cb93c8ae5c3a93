import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { median, medianInPlace, medianMad, quantiles } from '../../src/util/robust-stats.ts';

/** The definition: sort a copy, take the middle (the mean of the two middles for an even count). */
function medianBySort(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : 0.5 * (s[h - 1]! + s[h]!);
}

describe('robust statistics', () => {
  it('known answers: odd, even, ties, non-finite values skipped', () => {
    expect(medianInPlace(Float64Array.of(3, 1, 2))).toBe(2);
    expect(medianInPlace(Float64Array.of(4, 1, 3, 2))).toBe(2.5);
    expect(median([5, Number.NaN, 1, Number.POSITIVE_INFINITY, 3])).toBe(3);
    expect(median([])).toBeNaN();
    expect(medianMad([1, 2, 3, 4, 100])).toEqual({ median: 3, mad: 1 });
    expect(quantiles([0, 10], [0, 0.25, 1])).toEqual([0, 2.5, 10]);
  });

  it('medianInPlace equals the sorted middle for small (insertion) and large (quickselect) counts, with ties', () => {
    const arrays = fc.oneof(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 300 }), // many ties
    );
    fc.assert(
      fc.property(arrays, fc.integer({ min: 0, max: 5 }), (values, spare) => {
        const scratch = new Float64Array(values.length + spare).fill(-1e9); // values past n must be ignored
        scratch.set(values);
        expect(medianInPlace(scratch, values.length)).toBe(medianBySort(values));
      }),
      { numRuns: 500, seed: 5 },
    );
  });
});
