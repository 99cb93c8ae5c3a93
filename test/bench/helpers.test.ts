import { describe, expect, it } from 'vitest';
import { coreTypeFor } from '../../bench/sgemm.ts';
import { quantile } from '../../bench/timing.ts';

describe('coreTypeFor', () => {
  it('names the AVX-512 kernel only where the CPU has avx512f', () => {
    expect(coreTypeFor(['fma', 'avx', 'avx2'])).toBeNull();
    expect(coreTypeFor(['avx2', 'avx512f', 'avx512bw'])).toBe('SkylakeX');
    expect(coreTypeFor(['avx2', 'avx512f', 'avx512_bf16'])).toBe('Cooperlake');
  });
});

describe('quantile (nearest rank)', () => {
  const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  it('gives the nearest-rank quantiles of a sorted array', () => {
    expect(quantile(sorted, 0.5)).toBe(5);
    expect(quantile(sorted, 0.9)).toBe(9);
    expect(quantile(sorted, 0.99)).toBe(10);
    expect(quantile(sorted, 0)).toBe(1);
  });
  it('is NaN for no samples', () => {
    expect(quantile([], 0.5)).toBeNaN();
  });
});
