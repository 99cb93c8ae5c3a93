/**
 * The validation gate: a fine-tuned candidate replaces the incumbent model only if it reconstructs held-out
 * recent pixels better by a margin and does not forget the training data (a reference slice) beyond a tolerance.
 * Pure: numbers in, decision and human-readable reasons (with the numbers) out.
 */

/** Mean per-pixel reconstruction MSE (scaled units) of one model on the gate's slices. */
export interface GateScores {
  /** held-out recent pixels (never trained on) */
  heldOutMse: number;
  /** held-out part of the bundle's training sample; null when there is none */
  referenceMse: number | null;
  /** active latent channels (KL > 0.1 nats) on the held-out recent pixels; constrained rounds only */
  activeChannels?: number;
}

/**
 * Constrained rounds (docs/finetune.md §β in a round): the round trades reconstruction for fewer channels down to
 * a target, so a candidate that meets the target on the held-out recent pixels with fewer active channels than the
 * incumbent also passes the held-out check — when it is not better by the margin. The reference check still applies.
 */
export interface GateTarget {
  /** the held-out recent pixels' target MSE: ρ × the PCA-5 fit's MSE on them */
  heldOutMse: number;
}

/** How much better a candidate must be, and how much worse on the reference it may be (relative). */
export interface GateRule {
  /** relative drop of held-out MSE needed, e.g. 0.02 = the candidate's MSE ≤ 98 % of the incumbent's */
  minImprovement: number;
  /** relative rise of reference MSE tolerated, e.g. 0.05 = ≤ 105 % of the incumbent's */
  maxReferenceWorsening: number;
}

/** The gate's decision with the numbers it was made on. */
export interface GateDecision {
  promote: boolean;
  /** one line per check, with the numbers, e.g. "held-out MSE 0.4120 → 0.3010 (−26.9 %, needs ≤ −2.0 %): pass" */
  reasons: string[];
  /** (candidate − incumbent) / incumbent on the held-out slice */
  heldOutChange: number;
  /** the same on the reference slice; null when not checked */
  referenceChange: number | null;
}

const pct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`;
const num = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));

/** Decide whether `candidate` replaces `incumbent` under `rule`. */
export function gate(candidate: GateScores, incumbent: GateScores, rule: GateRule, target?: GateTarget): GateDecision {
  const reasons: string[] = [];
  let promote = true;

  const inc = incumbent.heldOutMse;
  const cand = candidate.heldOutMse;
  const heldOutChange = inc > 0 ? (cand - inc) / inc : Number.NaN;
  if (!Number.isFinite(cand) || !Number.isFinite(inc) || !(inc > 0)) {
    promote = false;
    reasons.push(`held-out MSE ${num(inc)} → ${num(cand)}: not comparable (both must be finite and the incumbent's > 0): fail`);
  } else {
    const better = cand <= inc * (1 - rule.minImprovement);
    const ca = candidate.activeChannels;
    const ia = incumbent.activeChannels;
    const sparser = !better && target !== undefined && ca !== undefined && ia !== undefined && ca < ia && cand <= target.heldOutMse;
    if (!better && !sparser) promote = false;
    const why = sparser ? `not better by the margin, but within the target ${num(target!.heldOutMse)} with ${ca} instead of ${ia} active channels` : `needs ≤ ${pct(-rule.minImprovement)}${target && ca !== undefined && ia !== undefined ? ` or ≤ ${num(target.heldOutMse)} with fewer than ${ia} active channels (candidate ${ca})` : ''}`;
    reasons.push(`held-out MSE ${num(inc)} → ${num(cand)} (${pct(heldOutChange)}, ${why}): ${better || sparser ? 'pass' : 'fail'}`);
  }

  let referenceChange: number | null = null;
  const rInc = incumbent.referenceMse;
  const rCand = candidate.referenceMse;
  if (rInc === null || rCand === null) {
    reasons.push('reference slice: none (the bundle has no training sample): not checked');
  } else if (!Number.isFinite(rCand) || !Number.isFinite(rInc) || !(rInc > 0)) {
    promote = false;
    reasons.push(`reference MSE ${num(rInc)} → ${num(rCand)}: not comparable (both must be finite and the incumbent's > 0): fail`);
  } else {
    referenceChange = (rCand - rInc) / rInc;
    const ok = rCand <= rInc * (1 + rule.maxReferenceWorsening);
    if (!ok) promote = false;
    reasons.push(`reference MSE ${num(rInc)} → ${num(rCand)} (${pct(referenceChange)}, tolerated ≤ ${pct(rule.maxReferenceWorsening)}): ${ok ? 'pass' : 'fail'}`);
  }
  return { promote, reasons, heldOutChange, referenceChange };
}
