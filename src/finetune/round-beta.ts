/**
 * β of a fine-tuning round (docs/finetune.md §β in a round). A bundle trained in the constrained mode (model/beta-
 * control.ts) is fine-tuned the same way, but against the scan under the microscope: κ = ρ × the PCA-5 MSE of the
 * round's recent training pixels (the scan's own linear baseline — the number its replay summary reports as
 * pca5Mse), and the constraint counts those pixels only (the reference pixels mixed in against forgetting just
 * train). The parent's β is not inherited blindly: a pretrained bundle's β was found against its training corpus's
 * κ (the 60-scan corpus drove it to ≈ 1, which at a fixed β collapsed a PTO round to one channel), so a round starts
 * at the parent's β scaled to this scan's κ (roundBeta) and adapts from there. Other bundles (the fixed schedule) keep a fixed β: the bundle's, or `finetune.beta`.
 */
import type { Config } from '../config/schema.ts';
import type { BetaConstraint, BetaControlState } from '../model/beta-control.ts';
import { pcaBaselineMse } from '../model/beta-control.ts';
import type { BundleManifest } from '../model/bundle.ts';

/** What a constrained round records (manifest `finetune.constraint`, rounds.jsonl, and `training.schedule`). */
export interface RoundConstraint {
  mode: 'constrained';
  /** ρ: κ as a fraction of the recent pixels' PCA-5 MSE (train.betaTarget) */
  target: number;
  /** PCA-5 fitted and scored on the round's recent training pixels */
  pca5Mse: number;
  /** the same fit scored on the held-out recent pixels (what the gate's target is set from) */
  pca5HeldOutMse: number;
  kappa: number;
  /** β the round started from, and whether it started engaged (resumed from a constrained parent) */
  betaStart: number;
  resumed: boolean;
  /** β and the controller's moving average at the end (set after training) */
  betaEnd?: number;
  constraintEnd?: number;
  engagedEnd?: boolean;
}

export type RoundBeta =
  | { mode: 'fixed'; beta: number; why: string }
  | { mode: 'constrained'; constraint: BetaConstraint & { state?: BetaControlState }; record: RoundConstraint; gateTarget: { heldOutMse: number } };

/** Was this bundle trained (or fine-tuned) with the constrained β? */
export function trainedConstrained(manifest: BundleManifest): boolean {
  const schedule = manifest.training?.schedule as { mode?: string } | undefined;
  return schedule?.mode === 'constrained';
}

/** Fewest recent training pixels a constrained round sets κ from: below it a PCA-5 fit says little. */
export const MIN_CONSTRAINT_PIXELS = 32;

/** Largest step down of ln β between rounds while the scan has not met κ (1 went from 5 to 16 channels on PTO in two rounds). */
export const STEP_DOWN = 0.5;

/**
 * Choose the round's β: fixed (with why) or the constraint. `recent` are the round's recent training pixels and
 * held-out pixels ([n][T·C] model input).
 */
export function roundBeta(config: Config, parent: BundleManifest, recent: { train: Float32Array; nTrain: number; heldOut: Float32Array; nHeldOut: number }, stride: number, seed: number): RoundBeta {
  const c = config.finetune;
  const t = config.train;
  if (c.beta !== null) return { mode: 'fixed', beta: c.beta, why: 'finetune.beta is set' };
  const constrained = c.betaMode === 'constrained' || (c.betaMode === 'auto' && trainedConstrained(parent));
  if (!constrained) return { mode: 'fixed', beta: parent.beta, why: c.betaMode === 'fixed' ? 'finetune.betaMode is fixed' : "the bundle's β (it was not trained in the constrained mode)" };
  if (recent.nTrain < MIN_CONSTRAINT_PIXELS) return { mode: 'fixed', beta: parent.beta, why: `${recent.nTrain} recent training pixels, fewer than ${MIN_CONSTRAINT_PIXELS} to fit the PCA-5 target on` };
  const pca = pcaBaselineMse(recent.train, recent.nTrain, stride, seed, 5, 2000, { data: recent.heldOut, n: recent.nHeldOut });
  if (!(pca.train > 0) || !Number.isFinite(pca.train)) return { mode: 'fixed', beta: parent.beta, why: `the recent pixels' PCA-5 MSE is ${pca.train}: no target to constrain to` };
  const kappa = t.betaTarget * pca.train;
  const settings: BetaConstraint = { kappa, initial: t.betaInitial, min: t.betaMin, max: t.betaLimit, rate: t.betaRate, smoothing: t.betaSmoothing };
  // Where β starts: the parent's β scaled by κ / the parent's κ. In the β form MSE + β·KL the multiplier scales with
  // the reconstruction target (the constrained trainings found β ≈ 2–5 × κ on three data sets: docs/model.md), so the
  // parent's trade-off carried to this scan's target is β·κ/κ_parent — the corpus bundle's β 1.07 at κ 0.32 becomes
  // ≈ 0.05 on PTO's κ 0.015. A parent without a κ (schedule-trained) starts at the controller's initial β. As in
  // training, β holds until the scan's error first meets κ (the first rounds are still learning the scan); a round
  // from a version a constrained round produced continues that round's controller (moving average, met or not).
  const resumed = parent.parent !== null && trainedConstrained(parent);
  const prev = (parent as BundleManifest & { finetune?: { constraint?: RoundConstraint } }).finetune?.constraint;
  const parentKappa = (parent.training?.schedule as { kappa?: number } | undefined)?.kappa;
  const scaled = trainedConstrained(parent) && parentKappa !== undefined && parentKappa > 0 ? parent.beta * (kappa / parentKappa) : t.betaInitial;
  // A parent round that never met κ ends held at its β: the next round lowers it by STEP_DOWN × the round's last
  // moving average (GECO across rounds: the constraint comes first). Within a round the per-batch rate would take β
  // to its floor while the model is still learning the scan (measured: 1.07 → 1e-4 in one PTO round, 16 channels);
  // without any step the scan never met κ (PTO stayed at 1.5 × its PCA-5 with 5 channels; docs/finetune.md).
  const engaged = resumed ? (prev?.engagedEnd ?? false) : false;
  const stepDown = resumed && !engaged ? Math.exp(-STEP_DOWN * Math.min(1, Math.max(0, prev?.constraintEnd ?? 0))) : 1;
  const state: BetaControlState = { beta: scaled * stepDown, constraint: resumed ? (prev?.constraintEnd ?? 1) : 1, engaged };
  const betaStart = Math.min(settings.max, Math.max(settings.min, state.beta));
  const heldOut = pca.heldOut ?? pca.train;
  return {
    mode: 'constrained',
    constraint: { ...settings, state },
    record: { mode: 'constrained', target: t.betaTarget, pca5Mse: pca.train, pca5HeldOutMse: heldOut, kappa, betaStart, resumed },
    gateTarget: { heldOutMse: t.betaTarget * heldOut },
  };
}
