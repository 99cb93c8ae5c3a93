/**
 * Constrained β (issue 15): instead of a fixed β schedule, minimise KL subject to reconstruction MSE ≤ κ (GECO,
 * Rezende & Viola 2018, "Taming VAEs"; ControlVAE). κ is set from the data's own linear baseline — ρ × the PCA-5 MSE
 * of the training pixels — so one setting asks the same of every data set: "reconstruct better than a 5-component
 * linear model by a margin, with as little information in the latent as that allows". A fixed β cannot: β 0.02
 * leaves the PTO file with 12–16 active channels, β 1 collapses a simulated scan to 2 (docs/model.md).
 *
 * The Lagrangian KL + λ·(MSE − κ) is trained in its β form, MSE + β·KL with β = 1/λ, so the loss keeps the scale of
 * the schedule mode's. After every batch the controller updates log β from an exponential moving average of the
 * normalised constraint c = (MSE − κ)/κ (clipped to ±1): log β ← log β − rate·c̄. MSE is the batch's reconstruction
 * through μ — the error inference and every replay summary report — not the sampled-z reconstruction in the loss:
 * that one also pays for the posterior's spread, which grows with β, and measured on the PTO file a κ on it held
 * the μ error 20–35 % below κ, i.e. asked for more channels than the target needs. β holds its initial value until
 * the moving average first reaches κ: an untrained model misses any target, and letting β sink to its floor there
 * (the first version did) left a 2-minute run on a busy machine too few batches to climb back. Reconstruction worse than κ lowers
 * β (more capacity), better raises it (fewer, more informative channels). β stays in [min, max].
 */
import { fitPcaRows, pcaMseRows, type PcaFit } from './baselines.ts';
import { pickRows } from './rows.ts';
import { mulberry32, partialShuffle } from '../util/prng.ts';

/** Settings of the constrained mode (config `train.beta`). */
export interface BetaConstraint {
  /** the reconstruction target: MSE ≤ κ (training units) */
  kappa: number;
  /** β at the first batch */
  initial: number;
  min: number;
  max: number;
  /** change of ln β per batch for a constraint off by 100 % */
  rate: number;
  /** weight of the past in the moving average of the constraint (0…1) */
  smoothing: number;
}

/** What a run resumes from: β and the constraint's moving average after the last finished epoch. */
export interface BetaControlState {
  beta: number;
  constraint: number;
  engaged?: boolean;
}

/** The per-batch β controller of the constrained mode. */
export class BetaController {
  beta: number;
  /** moving average of (MSE − κ)/κ */
  constraint: number;
  /** false until the moving average first reaches the target: β holds its initial value while the model first learns */
  engaged: boolean;

  constructor(
    readonly settings: BetaConstraint,
    state?: BetaControlState,
  ) {
    this.beta = clamp(state?.beta ?? settings.initial, settings.min, settings.max);
    this.constraint = state?.constraint ?? 1;
    this.engaged = state?.engaged ?? false;
  }

  /** Take one batch's reconstruction MSE; returns the β for the next batch. */
  update(mse: number): number {
    const { kappa, rate, smoothing, min, max } = this.settings;
    if (!Number.isFinite(mse)) return this.beta;
    const c = clamp((mse - kappa) / kappa, -1, 1);
    this.constraint = smoothing * this.constraint + (1 - smoothing) * c;
    if (!this.engaged && this.constraint > 0) return this.beta;
    this.engaged = true;
    this.beta = clamp(this.beta * Math.exp(-rate * this.constraint), min, max);
    return this.beta;
  }

  state(): BetaControlState {
    return { beta: this.beta, constraint: this.constraint, engaged: this.engaged };
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * β above which the L1 activity weight stops growing in the constrained mode. The schedule mode ties
 * λ = 1e−5·10^β (the paper's β stays ≤ 0.02, so λ ≈ 1e−5); a controlled β can reach several units, where 10^β would
 * make the L1 term outweigh the reconstruction. Capping at β = 1 keeps λ within the paper's decade (1e−5 … 1e−4).
 */
export const L1_BETA_CAP = 1;

/**
 * PCA-5 MSE of the rows of `data` ([n][stride]), fitted and scored on a seeded sample of at most `maxRows` rows
 * (model/baselines.ts, the same PCA the replay summary reports): the linear baseline κ is set from. With `heldOut`,
 * also the same fit's MSE on those rows (at most `maxRows`): what the model's held-out error is compared with.
 */
export function pcaBaselineMse(data: Float32Array, n: number, stride: number, seed: number, components = 5, maxRows = 2000, heldOut?: { data: Float32Array; n: number }): { train: number; heldOut?: number } {
  const { fit, train } = sampledPcaFit(data, Uint32Array.from({ length: n }, (_, i) => i), stride, seed ^ 0xbe7a, components, maxRows);
  if (!heldOut || heldOut.n === 0) return { train };
  const vRows = Uint32Array.from({ length: Math.min(heldOut.n, maxRows) }, (_, i) => i);
  return { train, heldOut: pcaMseRows(pickRows(heldOut.data, vRows, stride), fit) };
}

/** PCA fitted on a seeded sample of at most `maxRows` of the given rows of `data`, and its MSE on that sample. */
function sampledPcaFit(data: Float32Array, rows: Uint32Array, stride: number, seed: number, components: number, maxRows: number): { fit: PcaFit; train: number } {
  const sample = partialShuffle(rows, maxRows, mulberry32(seed)).subarray(0, Math.min(rows.length, maxRows));
  const X = pickRows(data, sample, stride);
  const fit = fitPcaRows(X, components);
  return { fit, train: pcaMseRows(X, fit) };
}

/** Fewest training rows a scan needs for its own PCA-5 fit (below it the fit says little; the scan takes the pooled one). */
export const MIN_PCA_ROWS = 32;

/** A scan's PCA-5 is floored at this fraction of the pooled one, so one near-noiseless scan cannot take over the loss. */
export const PER_SCAN_FLOOR = 0.01;

/** The per-scan linear baselines of a multi-scan training set (perScanBaseline). */
export interface PerScanBaseline {
  /** per scan: PCA-5 MSE of its own fit on its training rows (after the floor; the pooled value for small scans) */
  pca5: number[];
  /** per scan: the same fit scored on its held-out rows (NaN where it has none) */
  pca5HeldOut: number[];
  /** per scan: its training rows */
  rows: number[];
  /** per scan: were its rows too few for its own fit (it took the pooled one)? */
  pooled: boolean[];
  /** the pooled PCA-5 over all training rows (pcaBaselineMse) */
  pooledMse: number;
  /** the harmonic mean of pca5 over the training rows: the MSE-unit scale of the weighted error (κ = ρ × this) */
  scale: number;
  /** per training row: its weight scale / pca5[its scan] (mean 1 over the training rows) */
  weights: Float32Array;
  /** per held-out row: the same weight of its scan */
  valWeights: Float32Array;
  /** the weighted mean of the per-scan fits' error on the held-out rows: the baseline the kept epoch must beat */
  heldOutMse: number;
}

/**
 * Per-scan κ for a training set pooled from several scans. One PCA-5 fitted over very different scans is a poor
 * target: it is dominated by the noisiest scans and generalises badly (the 60-scan corpus: pooled PCA-5 0.378 on
 * training rows, 0.521 on held-out rows; docs/model.md). Instead each scan gets its own linear baseline p_s (PCA-5
 * fitted and scored on its own training rows, ≤ `maxRows` of them) and the constraint asks every sample to beat its
 * own scan's baseline on average: mean_i(MSE_i / p_s(i)) ≤ ρ. Written with weights w_i = p̄ / p_s(i), p̄ the harmonic
 * mean of p over the training rows (so the weights average 1 and the weighted MSE stays in MSE units), that is
 * mean_i(w_i·MSE_i) ≤ κ = ρ·p̄. The Lagrangian of "minimise KL subject to it" puts the same weights on the loss's
 * reconstruction term, so training minimises the weighted MSE + β·KL: a clean scan's error counts in proportion to how
 * well a linear model does on it, instead of the noisiest scans setting what the model learns. With one scan every
 * weight is 1 and this is the pooled rule. `train.group` and `val.group` give each row's scan (0 … groups − 1).
 */
export function perScanBaseline(
  train: { data: Float32Array; n: number; group: Uint32Array },
  val: { data: Float32Array; n: number; group: Uint32Array },
  groups: number,
  stride: number,
  seed: number,
  components = 5,
  maxRows = 2000,
): PerScanBaseline {
  const all = Uint32Array.from({ length: train.n }, (_, i) => i);
  const pooledFit = sampledPcaFit(train.data, all, stride, seed ^ 0xbe7a, components, maxRows);
  const pooledMse = pooledFit.train;
  const rowsOf = (g: Uint32Array, n: number): number[][] => {
    const out = Array.from({ length: groups }, () => [] as number[]);
    for (let i = 0; i < n; i++) out[g[i]!]!.push(i);
    return out;
  };
  const trainRows = rowsOf(train.group, train.n);
  const valRows = rowsOf(val.group, val.n);
  const pca5: number[] = [];
  const pca5HeldOut: number[] = [];
  const pooled: boolean[] = [];
  let held = 0;
  for (let s = 0; s < groups; s++) {
    const tr = trainRows[s]!;
    const own = tr.length >= MIN_PCA_ROWS;
    // a scan with too few rows for its own fit takes the pooled one (on its training and held-out rows alike)
    const { fit, train: mse } = own ? sampledPcaFit(train.data, Uint32Array.from(tr), stride, (seed ^ 0xbe7a) + s + 1, components, maxRows) : pooledFit;
    pca5.push(Math.max(mse, PER_SCAN_FLOOR * pooledMse));
    pooled.push(!own);
    const vr = valRows[s]!;
    pca5HeldOut.push(vr.length > 0 ? pcaMseRows(pickRows(val.data, vr, stride), fit) : Number.NaN);
  }
  let inv = 0;
  for (let i = 0; i < train.n; i++) inv += 1 / pca5[train.group[i]!]!;
  const scale = train.n / inv;
  const weights = Float32Array.from(train.group, (g) => scale / pca5[g]!);
  const valWeights = Float32Array.from(val.group, (g) => scale / pca5[g]!);
  // Held-out baseline in the same weighted unit: Σ_s w_s · (its held-out rows) · (its fit's held-out MSE) / held-out rows.
  for (let s = 0; s < groups; s++) if (valRows[s]!.length > 0) held += (scale / pca5[s]!) * valRows[s]!.length * pca5HeldOut[s]!;
  return { pca5, pca5HeldOut, rows: trainRows.map((r) => r.length), pooled, pooledMse, scale, weights, valWeights, heldOutMse: val.n > 0 ? held / val.n : Number.NaN };
}
