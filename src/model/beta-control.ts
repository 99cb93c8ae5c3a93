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
import { Matrix } from 'ml-matrix';
import { fitPca, pcaMse } from './baselines.ts';
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

function rowsMatrix(data: Float32Array, rows: ArrayLike<number>, stride: number): Matrix {
  const X = new Matrix(rows.length, stride);
  for (let r = 0; r < rows.length; r++) {
    const base = rows[r]! * stride;
    for (let j = 0; j < stride; j++) X.set(r, j, data[base + j]!);
  }
  return X;
}

/**
 * PCA-5 MSE of the rows of `data` ([n][stride]), fitted and scored on a seeded sample of at most `maxRows` rows
 * (model/baselines.ts, the same PCA the replay summary reports): the linear baseline κ is set from. With `heldOut`,
 * also the same fit's MSE on those rows (at most `maxRows`): what the model's held-out error is compared with.
 */
export function pcaBaselineMse(data: Float32Array, n: number, stride: number, seed: number, components = 5, maxRows = 2000, heldOut?: { data: Float32Array; n: number }): { train: number; heldOut?: number } {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const rows = partialShuffle(order, maxRows, mulberry32(seed ^ 0xbe7a)).subarray(0, Math.min(n, maxRows));
  const X = rowsMatrix(data, rows, stride);
  const fit = fitPca(X, components);
  const train = pcaMse(X, fit);
  if (!heldOut || heldOut.n === 0) return { train };
  const vRows = Uint32Array.from({ length: Math.min(heldOut.n, maxRows) }, (_, i) => i);
  return { train, heldOut: pcaMse(rowsMatrix(heldOut.data, vRows, stride), fit) };
}
