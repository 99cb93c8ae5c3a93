/**
 * Order statistics on typed arrays: median, unscaled MAD, quantiles. Pure functions with no BEPS knowledge, shared
 * by the anomaly scores (src/alerts/scores.ts) and the model-fit check (src/model/fit-check.ts).
 */

/**
 * Median of the first `n` values of a scratch array (finite values; the array is reordered in place). A handful of
 * values (per pixel) are sorted by insertion: a typed-array sort's call overhead dominated there (0.4 s of a 60 × 60
 * replay); larger arrays are partitioned around the middle (quickselect, linear time) instead of sorted.
 */
export function medianInPlace(values: Float64Array, n = values.length): number {
  if (n === 0) return Number.NaN;
  const h = n >> 1;
  if (n <= 32) {
    for (let i = 1; i < n; i++) {
      const x = values[i]!;
      let j = i - 1;
      while (j >= 0 && values[j]! > x) {
        values[j + 1] = values[j]!;
        j--;
      }
      values[j + 1] = x;
    }
    return n % 2 === 1 ? values[h]! : 0.5 * (values[h - 1]! + values[h]!);
  }
  const upper = selectInPlace(values, n, h);
  if (n % 2 === 1) return upper;
  let lower = values[0]!; // values[0 .. h) are all ≤ values[h] now: the lower middle is their largest
  for (let i = 1; i < h; i++) if (values[i]! > lower) lower = values[i]!;
  return 0.5 * (lower + upper);
}

/** The k-th smallest (0-based) of the first `n` values, moved to index k with smaller-or-equal values before it
 *  and larger-or-equal after (Hoare's quickselect with a median-of-three pivot). */
function selectInPlace(v: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    // median of three into v[mid], as the pivot
    if (v[mid]! < v[lo]!) swap(v, mid, lo);
    if (v[hi]! < v[lo]!) swap(v, hi, lo);
    if (v[hi]! < v[mid]!) swap(v, hi, mid);
    const pivot = v[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (v[i]! < pivot) i++;
      while (v[j]! > pivot) j--;
      if (i <= j) {
        swap(v, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return v[k]!;
  }
  return v[k]!;
}

function swap(v: Float64Array, a: number, b: number): void {
  const t = v[a]!;
  v[a] = v[b]!;
  v[b] = t;
}

/** The finite values of `values`, copied into a scratch array (`scratch` when it is long enough, else a new one);
 *  returns it and how many there are. */
function finiteCopy(values: ArrayLike<number>, scratch?: Float64Array): [Float64Array, number] {
  const tmp = scratch && scratch.length >= values.length ? scratch : new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) tmp[n++] = values[i];
  return [tmp, n];
}

/** Median of the finite values (copied, into `scratch` when given and long enough; the input is not changed); NaN
 *  when there are none. */
export function median(values: ArrayLike<number>, scratch?: Float64Array): number {
  const [tmp, n] = finiteCopy(values, scratch);
  return medianInPlace(tmp, n);
}

/** Median and unscaled MAD of values (copied, into `scratch` when given and long enough; the input is not changed).
 *  NaN values are skipped. */
export function medianMad(values: ArrayLike<number>, scratch?: Float64Array): { median: number; mad: number } {
  const [tmp, n] = finiteCopy(values, scratch);
  const median = medianInPlace(tmp, n);
  for (let i = 0; i < n; i++) tmp[i] = Math.abs(tmp[i] - median);
  return { median, mad: medianInPlace(tmp, n) };
}

/** Quantiles (linear interpolation between order statistics, numpy's default) of the finite values. */
export function quantiles(values: ArrayLike<number>, p: readonly number[]): number[] {
  const [tmp, n] = finiteCopy(values);
  const v = tmp.subarray(0, n).sort();
  return p.map((q) => {
    if (n === 0) return Number.NaN;
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
  });
}
