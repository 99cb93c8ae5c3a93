/**
 * Global z-score per channel (docs/science.md §2): one mean and one std per channel over the whole training set, not per
 * time step. The statistics belong to the model bundle (preprocess.json).
 */

/** Per-channel mean and std of `n` samples laid out [n][T][C] (non-finite values skipped); std ≥ 1e-12. */
export function fitScaler(data: Float32Array, n: number, T: number, C: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  const cnt = new Float64Array(C);
  for (let i = 0; i < n * T; i++) {
    for (let c = 0; c < C; c++) {
      const v = data[i * C + c]!;
      if (!Number.isFinite(v)) continue;
      sum[c]! += v;
      cnt[c]! += 1;
    }
  }
  const mean = Array.from(sum, (s, c) => (cnt[c]! > 0 ? s / cnt[c]! : 0));
  for (let i = 0; i < n * T; i++) {
    for (let c = 0; c < C; c++) {
      const v = data[i * C + c]!;
      if (!Number.isFinite(v)) continue;
      sq[c]! += (v - mean[c]!) ** 2;
    }
  }
  const std = Array.from(sq, (s, c) => Math.max(Math.sqrt(cnt[c]! > 1 ? s / cnt[c]! : 0), 1e-12));
  return { mean, std };
}

/** Scale [n][T][C] data in place: (x − mean[c]) / std[c]. */
export function scaleInPlace(data: Float32Array, C: number, mean: readonly number[], std: readonly number[]): Float32Array {
  for (let i = 0; i < data.length; i++) {
    const c = i % C;
    data[i] = (data[i]! - mean[c]!) / std[c]!;
  }
  return data;
}

/** Undo `scaleInPlace` into `out` (may be `data`): x·std[c] + mean[c], physical units. */
export function unscale(data: Float32Array, C: number, mean: readonly number[], std: readonly number[], out: Float32Array = new Float32Array(data.length)): Float32Array {
  for (let i = 0; i < data.length; i++) {
    const c = i % C;
    out[i] = data[i]! * std[c]! + mean[c]!;
  }
  return out;
}
