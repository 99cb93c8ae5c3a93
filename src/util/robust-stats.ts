/**
 * Order statistics on typed arrays: median, unscaled MAD, quantiles. Pure functions with no BEPS knowledge, shared
 * by the anomaly scores (src/alerts/scores.ts) and the model-fit check (src/model/fit-check.ts).
 */

/**
 * Median of the first `n` values of a scratch array (finite values; the array is sorted in place). A handful of
 * values (Hampel windows, per pixel) are sorted by insertion: a typed-array sort's call overhead dominated there
 * (0.4 s of a 60 × 60 replay); larger arrays use the typed-array sort.
 */
export function medianInPlace(values: Float64Array, n = values.length): number {
  if (n === 0) return Number.NaN;
  if (n > 32) values.subarray(0, n).sort();
  else
    for (let i = 1; i < n; i++) {
      const x = values[i]!;
      let j = i - 1;
      while (j >= 0 && values[j]! > x) {
        values[j + 1] = values[j]!;
        j--;
      }
      values[j + 1] = x;
    }
  const h = n >> 1;
  return n % 2 === 1 ? values[h]! : 0.5 * (values[h - 1]! + values[h]!);
}

/** Median and unscaled MAD of values (copied; the input is not changed). NaN values are skipped. */
export function medianMad(values: ArrayLike<number>): { median: number; mad: number } {
  const tmp = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) tmp[n++] = values[i];
  const median = medianInPlace(tmp, n);
  for (let i = 0; i < n; i++) tmp[i] = Math.abs(tmp[i] - median);
  return { median, mad: medianInPlace(tmp, n) };
}

/** Quantiles (linear interpolation between order statistics, numpy's default) of the finite values. */
export function quantiles(values: ArrayLike<number>, p: readonly number[]): number[] {
  const tmp = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) tmp[n++] = values[i];
  const v = tmp.subarray(0, n).sort();
  return p.map((q) => {
    if (n === 0) return Number.NaN;
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
  });
}
