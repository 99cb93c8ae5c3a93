/**
 * β of a fine-tuning round (docs/finetune.md §β in a round). A bundle trained in the constrained mode (model/beta-
 * control.ts) is fine-tuned the same way, but against the scan under the microscope: κ = ρ × the PCA-5 MSE of the
 * round's recent training pixels (the scan's own linear baseline — the number its replay summary reports as
 * pca5Mse), and the constraint counts those pixels only (the reference pixels mixed in against forgetting just
 * train). The parent's β is not inherited blindly: a pretrained bundle's β was found against its training corpus
 * (the 60-scan corpus drove it to ≈ 1, which collapsed a PTO round to one channel), so a round from it starts at the
 * controller's initial β and holds it until the scan's error first meets κ, as `loopstream train` does; a round from
 * a version that a constrained round already adapted to the scan resumes from that version's β, free to move
 * either way at once. Other bundles (the fixed schedule) keep a fixed β: the bundle's, or `finetune.beta`.
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
  // Resume only from a version a constrained round fitted to a scan; a pretrained bundle's β belongs to its corpus.
  const resumed = parent.parent !== null && trainedConstrained(parent);
  const state: BetaControlState | undefined = resumed ? { beta: parent.beta, constraint: 0, engaged: true } : undefined;
  const betaStart = Math.min(settings.max, Math.max(settings.min, state?.beta ?? settings.initial));
  const heldOut = pca.heldOut ?? pca.train;
  return {
    mode: 'constrained',
    constraint: { ...settings, ...(state ? { state } : {}) },
    record: { mode: 'constrained', target: t.betaTarget, pca5Mse: pca.train, pca5HeldOutMse: heldOut, kappa, betaStart, resumed },
    gateTarget: { heldOutMse: t.betaTarget * heldOut },
  };
}
