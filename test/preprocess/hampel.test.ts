import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hampelFilter } from '../../src/preprocess/hampel.ts';

/** The definition, written out: sort every wrapped window afresh, median, MAD, threshold. */
function hampelByDefinition(x: Float32Array, halfWindow: number, k: number, floor: number): Float32Array {
  const n = x.length;
  const h = Math.min(halfWindow, Math.floor((n - 1) / 2));
  const out = Float32Array.from(x);
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  for (let i = 0; i < n; i++) {
    const win: number[] = [];
    for (let j = -h; j <= h; j++) win.push(x[(((i + j) % n) + n) % n]!);
    const med = median(win);
    const mad = median(win.map((v) => Math.abs(v - med)));
    if (Math.abs(x[i]! - med) > k * Math.max(1.4826 * mad, floor)) out[i] = med;
  }
  return out;
}

describe('hampelFilter', () => {
  it('replaces an isolated spike by its window median and leaves a clean loop alone', () => {
    const x = Float32Array.from({ length: 48 }, (_, i) => Math.sin((2 * Math.PI * i) / 48));
    const clean = Float32Array.from(x);
    expect(hampelFilter(clean)).toBe(0);
    expect(clean).toEqual(x);
    x[10] = 25;
    expect(hampelFilter(x)).toBe(1);
    expect(x[10]).toBeCloseTo(Math.sin((2 * Math.PI * 10) / 48), 1);
  });

  it('wraps around the loop: a spike at the first step is judged against the last steps too', () => {
    const x = Float32Array.from({ length: 32 }, () => 1);
    x[0] = 9;
    expect(hampelFilter(x, { halfWindow: 3, k: 3 }, 0.01)).toBe(1);
    expect(x[0]).toBe(1);
  });

  it('equals the definition (every window sorted afresh) on random, quantised and tied loops', () => {
    const loop = fc
      .tuple(fc.integer({ min: 3, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 3 }))
      .chain(([n, h, levels]) =>
        fc.tuple(
          fc.constant(h),
          // levels 0: continuous values; otherwise quantised to few levels (ties everywhere, MAD often 0)
          fc.array(levels === 0 ? fc.float({ min: -5, max: 5, noNaN: true }) : fc.integer({ min: 0, max: levels }).map((v) => v * 0.5), { minLength: n, maxLength: n }),
          fc.double({ min: 0, max: 0.5, noNaN: true }),
        ),
      );
    fc.assert(
      fc.property(loop, ([h, values, floor]) => {
        const x = Float32Array.from(values);
        const expected = hampelByDefinition(x, h, 3, floor);
        hampelFilter(x, { halfWindow: h, k: 3 }, floor);
        expect(Array.from(x)).toEqual(Array.from(expected));
      }),
      { numRuns: 400, seed: 13 },
    );
  });
});
