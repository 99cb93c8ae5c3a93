/** Timing helpers shared by the benchmark sections. */

/** Times of repeated calls, ms. */
export interface CallTimes {
  reps: number;
  medianMs: number;
  bestMs: number;
  meanMs: number;
  /** process CPU time (user + system, all threads) per call, mean, ms: less disturbed than wall time on a shared machine */
  cpuMsPerCall: number;
}

/** Quantile (0…1) of an ascending-sorted array (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * Call `fn` once to warm up (skipped when `warmup` is false), then repeatedly until `minSeconds` have passed and
 * at least `minReps` calls ran; returns the call times.
 */
export async function timeCalls(fn: () => Promise<unknown>, opts: { minSeconds: number; minReps: number; maxReps?: number; warmup?: boolean }): Promise<CallTimes> {
  let minReps = opts.minReps;
  if (opts.warmup ?? true) {
    const w = performance.now();
    await fn();
    // a call that takes seconds (big paper batches) is past any warm-up effect: one timed call is enough
    if (performance.now() - w > 2000) minReps = 1;
  }
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while ((performance.now() - t0 < opts.minSeconds * 1000 || times.length < minReps) && times.length < (opts.maxReps ?? 1e6)) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  const sorted = Float64Array.from(times).sort();
  return { reps: times.length, medianMs: quantile(sorted, 0.5), bestMs: sorted[0]!, meanMs: times.reduce((a, b) => a + b, 0) / times.length, cpuMsPerCall: (cpu.user + cpu.system) / 1000 / times.length };
}
