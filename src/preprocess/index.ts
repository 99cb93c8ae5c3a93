/**
 * Preprocessing (docs/science.md §2): one pixel's buffers → the model input [T][C], scaled. Pure functions on typed
 * arrays; the hot path writes into the caller's buffer and reuses per-spec scratch space.
 *
 * Order of operations per channel: select cycle/field (sho) → project P = A·cos(φ + θ) / resonance in kHz →
 * values outside the resonance range → NaN → non-finite fill → Savitzky–Golay outlier removal → roll the voltage
 * axis → global z-score.
 */
import type { StartHeader } from '../protocol/messages.ts';
import { CodedError } from '../util/coded-error.ts';
import { fillNonFinite } from './fill-non-finite.ts';
import { removeOutliers, savgolKernel, type SavgolKernel } from './savgol.ts';
import { unscale } from './scale.ts';

export { fillNonFinite } from './fill-non-finite.ts';
export { savgolKernel, savgolFilter, removeOutliers, type SavgolKernel } from './savgol.ts';
export { projectLoop, loopArea, thetaAccumulator, accumulateTheta, estimateTheta, type ThetaAccumulator } from './project.ts';
export { fitScaler, scaleInPlace, unscale } from './scale.ts';

/** Channel names a model input may carry, in this order. */
export const MODEL_CHANNELS = ['piezoresponse', 'resonance'] as const;
export type ModelChannel = (typeof MODEL_CHANNELS)[number];

/** Everything needed to turn a pixel into a model input; stored as the bundle's preprocess.json. */
export interface PreprocessSpec {
  /** data kind of the scans this model reads */
  kind: 'sho' | 'loop';
  /** time steps (DC steps of one loop) */
  T: number;
  /** channels */
  C: number;
  /** channel names, length C, from MODEL_CHANNELS */
  channels: string[];
  /** cycle index, 0-based (sho; default 1 = the second cycle) */
  cycle: number;
  /** field state selected (sho; default 'off') */
  field: 'on' | 'off';
  /** rotation angle of the projection P = A·cos(φ + θ), rad (sho) */
  thetaRad: number;
  /** per-channel global mean, physical units (piezoresponse as stored, resonance in kHz) */
  mean: number[];
  /** per-channel global std, same units */
  std: number[];
  /** resonance values outside this range (kHz) become NaN before cleaning */
  resonanceRangeKHz?: [number, number];
  /** DC voltage of each model time step, V, after the roll */
  voltage: number[];
  /** model step i reads acquisition step (i + rollSteps) mod T (np.roll(x, −rollSteps)) */
  rollSteps?: number;
  /** Savitzky–Golay outlier removal: window, order, points removed per loop (default 7, 3, 3) */
  savgol?: { window: number; order: number; points: number };
}

/** A pixel could not be turned into a model input (layout differs from the spec). */
export class PreprocessError extends CodedError<'LS_PREPROCESS_LAYOUT'> {
  override readonly name = 'PreprocessError';
}

interface Plan {
  start: StartHeader;
  /** per channel: buffer index read (loop) */
  bufferIndex: number[];
  /** offset of the selected cycle/field in a sho buffer */
  shoBase: number;
  phaseScale: number;
  /** multiply resonance by this to get kHz */
  resonanceToKHz: number;
  kernel: SavgolKernel;
  points: number;
  work: Float32Array;
  scratch: Float32Array;
}

// Plans are cached per spec so the hot path neither allocates nor re-resolves names (a cache, not semantics).
const plans = new WeakMap<PreprocessSpec, Plan>();

function unitToKHz(unit: string | undefined, kind: 'sho' | 'loop'): number {
  const u = (unit ?? '').trim().toLowerCase();
  if (u === 'hz') return 1e-3;
  if (u === 'mhz') return 1e3;
  if (u === 'khz') return 1;
  return kind === 'sho' ? 1e-3 : 1; // sho fits carry Hz (docs/science.md §6); loop files carry kHz
}

function planFor(spec: PreprocessSpec, start: StartHeader): Plan {
  const cached = plans.get(spec);
  if (cached && cached.start === start) return cached;
  const T = spec.T;
  const bufferIndex: number[] = [];
  let shoBase = 0;
  let resonanceToKHz = 1;
  if (start.kind !== spec.kind) {
    throw new PreprocessError('LS_PREPROCESS_LAYOUT', `scan ${start.scanId} carries ${start.kind} data; the model reads ${spec.kind}`);
  }
  if (start.dcVoltage.length !== T) {
    throw new PreprocessError('LS_PREPROCESS_LAYOUT', `scan ${start.scanId} has ${start.dcVoltage.length} DC steps; the model expects T = ${T}`);
  }
  if (spec.kind === 'sho') {
    const fieldIndex = start.fields.indexOf(spec.field);
    if (fieldIndex < 0) throw new PreprocessError('LS_PREPROCESS_LAYOUT', `scan ${start.scanId} has fields [${start.fields.join(', ')}]; the model reads the ${spec.field}-field steps`);
    if (spec.cycle >= start.cycles) throw new PreprocessError('LS_PREPROCESS_LAYOUT', `scan ${start.scanId} has ${start.cycles} cycle(s); the model reads cycle index ${spec.cycle} (0-based)`);
    shoBase = (spec.cycle * start.fields.length + fieldIndex) * T;
    resonanceToKHz = unitToKHz(start.buffers[2]?.unit, 'sho');
  } else {
    for (const ch of spec.channels) {
      const i = start.buffers.findIndex((b) => b.name === ch);
      if (i < 0) throw new PreprocessError('LS_PREPROCESS_LAYOUT', `scan ${start.scanId} has buffers [${start.buffers.map((b) => b.name).join(', ')}]; the model needs "${ch}"`);
      bufferIndex.push(i);
      if (ch === 'resonance') resonanceToKHz = unitToKHz(start.buffers[i]!.unit, 'loop');
    }
  }
  const sg = spec.savgol ?? { window: 7, order: 3, points: 3 };
  const plan: Plan = {
    start,
    bufferIndex,
    shoBase,
    phaseScale: start.phaseUnit === 'deg' ? Math.PI / 180 : 1,
    resonanceToKHz,
    kernel: savgolKernel(sg.window, sg.order),
    points: sg.points,
    work: new Float32Array(T),
    scratch: new Float32Array(T),
  };
  plans.set(spec, plan);
  return plan;
}

/**
 * Fill `work` with one channel of one pixel in physical units, cleaned (non-finite fill + SG outlier removal),
 * in acquisition order. `fallback` fills an all-NaN channel.
 */
function channelValues(data: Float32Array[], spec: PreprocessSpec, plan: Plan, c: number, fallback: number): void {
  const T = spec.T;
  const w = plan.work;
  const name = spec.channels[c];
  if (spec.kind === 'sho') {
    const base = plan.shoBase;
    if (name === 'piezoresponse') {
      const amp = data[0]!;
      const ph = data[1]!;
      for (let t = 0; t < T; t++) w[t] = amp[base + t]! * Math.cos(ph[base + t]! * plan.phaseScale + spec.thetaRad);
    } else {
      const f = data[2]!;
      for (let t = 0; t < T; t++) w[t] = f[base + t]! * plan.resonanceToKHz;
    }
  } else {
    const src = data[plan.bufferIndex[c]!]!;
    const k = name === 'resonance' ? plan.resonanceToKHz : 1;
    for (let t = 0; t < T; t++) w[t] = src[t]! * k;
  }
  if (name === 'resonance' && spec.resonanceRangeKHz) {
    const [lo, hi] = spec.resonanceRangeKHz;
    for (let t = 0; t < T; t++) if (!(w[t]! >= lo && w[t]! <= hi)) w[t] = Number.NaN;
  }
  fillNonFinite(w, fallback);
  if (plan.points > 0) removeOutliers(w, plan.kernel, plan.points, plan.scratch);
}

/**
 * Turn one pixel's buffers into the model input: writes T·C floats at `out[offset…]`, layout [T][C] row-major,
 * z-scored with the spec's statistics, time axis rolled by `spec.rollSteps`.
 * Throws PreprocessError when the scan's layout cannot feed this spec.
 */
export function toModelInput(data: Float32Array[], start: StartHeader, spec: PreprocessSpec, out: Float32Array, offset = 0): void {
  const plan = planFor(spec, start);
  const T = spec.T;
  const C = spec.C;
  const roll = (((spec.rollSteps ?? 0) % T) + T) % T;
  for (let c = 0; c < C; c++) {
    channelValues(data, spec, plan, c, spec.mean[c]!);
    const m = spec.mean[c]!;
    const s = spec.std[c]!;
    const w = plan.work;
    for (let i = 0; i < T; i++) {
      let j = i + roll;
      if (j >= T) j -= T;
      out[offset + i * C + c] = (w[j]! - m) / s;
    }
  }
}

/**
 * Like `toModelInput` but unscaled: physical units (piezoresponse as projected, resonance kHz), rolled, [T][C].
 * Used to fit the scaler on training data.
 */
export function toPhysicalLoop(data: Float32Array[], start: StartHeader, spec: PreprocessSpec, out: Float32Array, offset = 0): void {
  const plan = planFor(spec, start);
  const T = spec.T;
  const C = spec.C;
  const roll = (((spec.rollSteps ?? 0) % T) + T) % T;
  for (let c = 0; c < C; c++) {
    channelValues(data, spec, plan, c, Number.NaN);
    for (let i = 0; i < T; i++) out[offset + i * C + c] = plan.work[(i + roll) % T]!;
  }
}

/**
 * Inverse scaling of model outputs (or inputs): `n` samples [n][T][C] in scaled units → physical units, into `out`
 * (allocated when omitted). The time axis stays rolled, matching `spec.voltage`.
 */
export function fromModelOutput(x: Float32Array, spec: PreprocessSpec, n = x.length / (spec.T * spec.C), out = new Float32Array(n * spec.T * spec.C)): Float32Array {
  return unscale(x.subarray(0, n * spec.T * spec.C), spec.C, spec.mean, spec.std, out);
}

/** The model time-step voltages for a scan: `dcVoltage` rolled by `rollSteps` (np.roll(v, −rollSteps)). */
export function rolledVoltage(dcVoltage: readonly number[], rollSteps: number): number[] {
  const T = dcVoltage.length;
  const r = ((rollSteps % T) + T) % T;
  return dcVoltage.map((_, i) => dcVoltage[(i + r) % T]!);
}
