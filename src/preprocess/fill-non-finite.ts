/**
 * Non-finite fill (docs/science.md §2, the reference code's `clean_interpolate`): every NaN/±Inf value is replaced by
 * linear interpolation between its nearest finite neighbours; a leading run copies the first finite value (so
 * index 0 copies index 1) and a trailing run the last one.
 */

/**
 * Fill the non-finite values of `x` in place; returns how many values were finite.
 * With no finite value at all, every element becomes `fallback` (e.g. the channel mean, which scales to 0).
 */
export function fillNonFinite(x: Float32Array, fallback = 0, start = 0, length = x.length - start): number {
  const end = start + length;
  let finite = 0;
  let prev = -1; // index of the last finite value seen
  for (let i = start; i < end; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) continue;
    finite++;
    if (prev === -1) {
      for (let j = start; j < i; j++) x[j] = v; // leading run copies the first finite value
    } else if (i - prev > 1) {
      const a = x[prev]!;
      const step = (v - a) / (i - prev);
      for (let j = prev + 1; j < i; j++) x[j] = a + step * (j - prev);
    }
    prev = i;
  }
  if (prev === -1) {
    x.fill(fallback, start, end);
    return 0;
  }
  const last = x[prev]!;
  for (let j = prev + 1; j < end; j++) x[j] = last; // trailing run copies the last finite value
  return finite;
}
