/**
 * The canonical model input (issue 16, docs/science.md §8): every accepted BEPS scan — sho fits or projected loops, any
 * number of DC steps, any voltage range, resonance in any unit or none — becomes the same thing, so one model reads
 * them all:
 *
 *   T steps of ONE bias cycle on a normalised voltage axis (fractions of the scan's Vmax), starting at +Vmax,
 *   channels [piezoresponse] or [piezoresponse, resonance], normalised per scan or per pixel.
 *
 * A bundle describes this input with an `InputDescriptor` (preprocess.json `input`; derived for older bundles,
 * `descriptorOf`). A scan gets a `ScanInputState`, fitted on its first pixels and then FROZEN (θ for sho, the
 * resampling grid, the normalisation statistics) and written to the scan's results file, so a result can be
 * reproduced and a live scan's early and late pixels are read the same way. `toCanonicalInput` turns one raw pixel
 * (+ its start header + the frozen state) into the model input; live ingest, replay, training and calibration all
 * call it.
 *
 * Per pixel and channel, in order:
 *   1. select (sho: the descriptor's cycle — or the last one the scan has — and field, off-field when present)
 *   2. project (sho piezoresponse: P = A·cos(φ + θ_scan)); resonance to kHz (units cancel in step 6 anyway)
 *   3. clean: non-finite → linear fill; Hampel spike removal (hampel.ts); Savitzky–Golay outlier removal (savgol.ts)
 *   4. roll to start at the scan's +Vmax, and resample onto the descriptor's T steps by linear interpolation along
 *      the cycle's phase (cumulative |ΔV| / cycle length, so any step count, step size or range maps onto it)
 *   5. per pixel: offset ((max + min)/2) and half-height ((max − min)/2) of the piezoresponse loop (physical maps)
 *   6. normalise: 'scan' → (x − centre_scan) / scale_scan; 'pixel' → (x − offset_pixel) / max(height_pixel, floor)
 *      for piezoresponse (a loop then spans [−1, 1]), (x − median_pixel) / scale_scan for resonance
 *   7. map onto the units the model was trained in: y = x · target.scale + target.centre (identity for bundles
 *      trained on canonical inputs; for older global-z-score bundles the robust statistics of their training set)
 * A channel the bundle reads but the scan lacks (resonance of a loop file) is filled with target.centre (the middle
 * of the normalised range) and marked absent in the state. Only a scan with no piezoresponse cannot be modelled.
 */
import type { StartHeader } from '../protocol/messages.ts';
import { CodedError } from '../util/coded-error.ts';
import { median } from '../util/robust-stats.ts';
import { fillNonFinite } from './fill-non-finite.ts';
import { HAMPEL_DEFAULTS, hampelFilter, type HampelOptions } from './hampel.ts';
import { accumulateTheta, estimateTheta, thetaAccumulator } from './project.ts';
import { removeOutliers, savgolKernel } from './savgol.ts';
import type { PreprocessSpec } from './index.ts';

/** How per-scan values are brought to a common scale (docs/model.md §Normalisation for the measured choice). */
export type Normalisation = 'scan' | 'pixel' | 'trained';

/** The model input a bundle reads (preprocess.json `input`). */
export interface InputDescriptor {
  version: 1;
  /** one cycle on a normalised voltage axis, starting at +Vmax, values = V / Vmax */
  axis: 'cycle-from-vmax';
  T: number;
  /** normalised voltage of each model step (length T, first = 1) */
  voltage: number[];
  /** ['piezoresponse'] or ['piezoresponse', 'resonance'] */
  channels: string[];
  normalisation: Normalisation;
  /** model units = normalised · scale[c] + centre[c]; identity for canonical bundles */
  target: { centre: number[]; scale: number[] };
  /** pixels of a scan its state is fitted on before it is frozen (fewer when the scan is smaller) */
  warmupPixels: number;
  /** sho: 0-based cycle read (the last cycle when a scan has fewer) and field ('off' falls back to the scan's first) */
  cycle: number;
  field: 'on' | 'off';
  clean: { hampel: HampelOptions; savgol: { window: number; order: number; points: number } };
  /** 'pixel' normalisation: smallest loop half-height, as a fraction of the scan's median half-height */
  heightFloor: number;
  /**
   * 'trained' normalisation (bundles trained on one global z-score before the canonical input): the training
   * mean/std per channel (physical units, resonance kHz). A scan whose resonance median lies more than
   * `recentreBeyond` training stds from the training mean (another cantilever) is recentred on its own median.
   */
  trained?: { mean: number[]; std: number[]; recentreBeyond: number };
}

/** One scan's frozen preprocessing state (written to its results file as `input_state_json`). */
export interface ScanInputState {
  scanId: string;
  kind: 'sho' | 'loop';
  normalisation: Normalisation;
  /** sho: projection angle estimated on the warm-up pixels, rad; null for loop data */
  thetaRad: number | null;
  /** sho: cycle and field actually read */
  cycle: number;
  field: 'on' | 'off';
  /** resampling: source steps, the scan's Vmax (V), the roll to +Vmax, and each source step's phase in [0, 1) */
  grid: { sourceSteps: number; vmax: number; rollSteps: number; sourcePhase: number[]; T: number };
  /** per channel of the descriptor: present in the scan, and the frozen centre/scale (physical units; resonance kHz) */
  channels: Array<{ name: string; present: boolean; unit: string; centre: number; scale: number }>;
  /** 'pixel': the smallest half-height used (physical units) */
  heightFloor: number | null;
  /** pixels the state was fitted on */
  fittedOnPixels: number;
}

/** Why a scan cannot be modelled at all. */
export class CanonicalInputError extends CodedError<'LS_INPUT_UNMODELLABLE'> {
  override readonly name = 'CanonicalInputError';
}

const MAD_TO_SIGMA = 1.4826;
/** Largest |value| of a pixel-normalised model input, in scaled units (see toCanonicalInput). */
export const INPUT_CLIP = 6;

// ---------------------------------------------------------------------------------------------------------------
// The voltage axis

/**
 * Phase in [0, 1) of each step of one bias cycle (already rolled to start at +Vmax): cumulative |ΔV| over the cycle
 * length, the closing step back to the first included. A cycle with no voltage change falls back to step / n.
 */
export function cyclePhase(voltage: readonly number[]): number[] {
  const n = voltage.length;
  const cum = [0];
  let total = 0;
  for (let i = 1; i <= n; i++) {
    total += Math.abs(voltage[i % n]! - voltage[i - 1]!);
    if (i < n) cum.push(total);
  }
  if (!(total > 0)) return voltage.map((_, i) => i / n);
  return cum.map((c) => c / total);
}

/** The canonical grid of T steps: a triangle from +1 down to −1 and back, starting at +1 (fractions of Vmax). */
export function canonicalVoltage(T: number): number[] {
  return Array.from({ length: T }, (_, k) => {
    const p = k / T;
    return Math.round((p <= 0.5 ? 1 - 4 * p : -3 + 4 * p) * 1e9) / 1e9;
  });
}

/** Index of the first maximum of the bias, so the rolled cycle starts at +Vmax (the reference's quarter-cycle roll). */
export function rollToVmax(dcVoltage: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < dcVoltage.length; i++) if (dcVoltage[i]! > dcVoltage[best]!) best = i;
  return best;
}

/**
 * Resample a periodic signal given at phases `srcPhase` (ascending, in [0, 1)) onto `dstPhase` by linear
 * interpolation around the cycle. Steps sharing a phase (a repeated bias value) are averaged.
 */
export function resampleCycle(src: ArrayLike<number>, srcPhase: readonly number[], dstPhase: readonly number[], out: Float32Array | Float64Array): void {
  const n = srcPhase.length;
  // collapse equal phases
  const ph: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < n; i++) {
    if (ph.length && Math.abs(srcPhase[i]! - ph[ph.length - 1]!) < 1e-12) {
      const k = val.length - 1;
      val[k] = (val[k]! + src[i]!) / 2;
    } else {
      ph.push(srcPhase[i]!);
      val.push(src[i]!);
    }
  }
  const m = ph.length;
  let j = 0;
  for (let k = 0; k < dstPhase.length; k++) {
    const p = dstPhase[k]!;
    while (j + 1 < m && ph[j + 1]! <= p) j++;
    // segment [ph[j], ph[j+1]] or the wrap-around segment [ph[m-1], ph[0] + 1]
    let a: number, b: number, pa: number, pb: number;
    if (p < ph[0]!) {
      a = val[m - 1]!;
      b = val[0]!;
      pa = ph[m - 1]! - 1;
      pb = ph[0]!;
    } else if (j + 1 < m) {
      a = val[j]!;
      b = val[j + 1]!;
      pa = ph[j]!;
      pb = ph[j + 1]!;
    } else {
      a = val[m - 1]!;
      b = val[0]!;
      pa = ph[m - 1]!;
      pb = ph[0]! + 1;
    }
    const t = pb > pa ? (p - pa) / (pb - pa) : 0;
    out[k] = a + t * (b - a);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Descriptors

/** The defaults of a bundle trained on canonical inputs (docs/model.md §Canonical input). */
export function canonicalDescriptor(T: number, channels: string[], normalisation: Normalisation = 'pixel'): InputDescriptor {
  return {
    version: 1,
    axis: 'cycle-from-vmax',
    T,
    voltage: canonicalVoltage(T),
    channels,
    normalisation,
    target: { centre: channels.map(() => 0), scale: channels.map(() => 1) },
    warmupPixels: 64,
    cycle: 1,
    field: 'off',
    clean: { hampel: { ...HAMPEL_DEFAULTS }, savgol: { window: 7, order: 3, points: 3 } },
    heightFloor: 0.05,
  };
}

/**
 * The descriptor of a bundle: preprocess.json's `input` when present, else derived from an older spec (trained on a
 * global z-score of one kind of scan): its own voltage axis normalised, normalisation 'trained' with its training
 * mean/std and the cleaning it was trained with (no Hampel step), so a scan like its training data gets exactly the
 * inputs it was trained on, while θ (per scan), step count, voltage range and a foreign resonance still adapt.
 */
export function descriptorOf(spec: PreprocessSpec & { input?: InputDescriptor }): InputDescriptor {
  if (spec.input) return spec.input;
  const vmax = Math.max(...spec.voltage.map(Math.abs));
  const sg = spec.savgol ?? { window: 7, order: 3, points: 3 };
  return {
    version: 1,
    axis: 'cycle-from-vmax',
    T: spec.T,
    voltage: spec.voltage.map((v) => (vmax > 0 ? v / vmax : 0)),
    channels: [...spec.channels],
    normalisation: 'trained',
    target: { centre: spec.channels.map(() => 0), scale: spec.channels.map(() => 1) },
    warmupPixels: 64,
    cycle: spec.cycle,
    field: spec.field,
    clean: { hampel: { ...HAMPEL_DEFAULTS, halfWindow: 0 }, savgol: sg },
    heightFloor: 0.05,
    trained: { mean: [...spec.mean], std: [...spec.std], recentreBeyond: 5 },
  };
}

/** Problems of a descriptor (empty when valid); used when a bundle loads. */
export function descriptorProblems(d: InputDescriptor, T: number, C: number): string[] {
  const p: string[] = [];
  if (d.version !== 1 || d.axis !== 'cycle-from-vmax') p.push(`input: version ${d.version} / axis ${d.axis}; expected 1 / cycle-from-vmax`);
  if (d.T !== T || d.voltage?.length !== T) p.push(`input: T = ${d.T} with ${d.voltage?.length} voltages; the model has T = ${T}`);
  if (d.channels?.length !== C || d.channels[0] !== 'piezoresponse' || (C === 2 && d.channels[1] !== 'resonance') || C > 2) {
    p.push(`input: channels [${d.channels?.join(', ')}]; expected [piezoresponse] or [piezoresponse, resonance] matching C = ${C}`);
  }
  if (d.normalisation !== 'scan' && d.normalisation !== 'pixel' && d.normalisation !== 'trained') p.push(`input: normalisation ${d.normalisation}; expected scan, pixel or trained`);
  if (d.normalisation === 'trained' && (d.trained?.mean?.length !== C || d.trained?.std?.length !== C)) p.push(`input: normalisation trained needs trained.mean/std with ${C} entries`);
  if (d.target?.centre?.length !== C || d.target?.scale?.length !== C) p.push(`input: target centre/scale need ${C} entries`);
  if (!(Number.isInteger(d.warmupPixels) && d.warmupPixels >= 1)) p.push(`input: warmupPixels ${d.warmupPixels}; expected an integer ≥ 1`);
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a scan

function unitToKHz(unit: string | undefined, kind: 'sho' | 'loop'): number {
  const u = (unit ?? '').trim().toLowerCase();
  if (u === 'hz') return 1e-3;
  if (u === 'mhz') return 1e3;
  if (u === 'khz') return 1;
  return kind === 'sho' ? 1e-3 : 1;
}

/** Where each channel comes from in a scan's buffers. */
interface SourcePlan {
  kind: 'sho' | 'loop';
  steps: number;
  /** sho: offset of the selected cycle/field in the buffers */
  base: number;
  phaseScale: number;
  cycle: number;
  field: 'on' | 'off';
  /** per descriptor channel: buffer index, or −1 when absent */
  buffer: number[];
  unit: string[];
  toKHz: number;
}

/** How a scan's buffers feed the descriptor's channels; throws CanonicalInputError when nothing can be modelled. */
export function sourcePlan(start: StartHeader, d: InputDescriptor): SourcePlan {
  const steps = start.dcVoltage.length;
  const names = start.buffers.map((b) => b.name);
  if (start.kind === 'sho') {
    const need = ['amplitude', 'phase'];
    const lacking = need.filter((n, i) => names[i] !== n && !names.includes(n));
    if (lacking.length) throw new CanonicalInputError('LS_INPUT_UNMODELLABLE', `scan ${start.scanId}: sho data without ${lacking.join(' and ')}; no piezoresponse can be projected`);
    const cycle = Math.min(d.cycle, start.cycles - 1);
    const field = start.fields.includes(d.field) ? d.field : start.fields[0]!;
    const base = (cycle * start.fields.length + start.fields.indexOf(field)) * steps;
    const fi = names.indexOf('frequency') >= 0 ? names.indexOf('frequency') : start.buffers.length > 2 ? 2 : -1;
    return {
      kind: 'sho',
      steps,
      base,
      phaseScale: start.phaseUnit === 'deg' ? Math.PI / 180 : 1,
      cycle,
      field,
      buffer: d.channels.map((c) => (c === 'piezoresponse' ? names.indexOf('amplitude') : fi)),
      unit: d.channels.map((c) => (c === 'piezoresponse' ? 'projected ' + (start.buffers[0]?.unit || 'a.u.') : 'kHz')),
      toKHz: fi >= 0 ? unitToKHz(start.buffers[fi]?.unit, 'sho') : 1,
    };
  }
  const pi = names.indexOf('piezoresponse');
  if (pi < 0) throw new CanonicalInputError('LS_INPUT_UNMODELLABLE', `scan ${start.scanId}: loop data with buffers [${names.join(', ')}] and no "piezoresponse"; nothing to model`);
  const ri = names.indexOf('resonance');
  return {
    kind: 'loop',
    steps,
    base: 0,
    phaseScale: 1,
    cycle: 0,
    field: start.fields[0] ?? 'off',
    buffer: d.channels.map((c) => (c === 'piezoresponse' ? pi : c === 'resonance' ? ri : -1)),
    unit: d.channels.map((c) => (c === 'piezoresponse' ? start.buffers[pi]!.unit || 'a.u.' : 'kHz')),
    toKHz: ri >= 0 ? unitToKHz(start.buffers[ri]!.unit, 'loop') : 1,
  };
}

/** Working memory of one scan's conversion (not serialised). */
interface Work {
  plan: SourcePlan;
  dstPhase: number[];
  srcPhase: number[];
  kernel: ReturnType<typeof savgolKernel>;
  raw: Float32Array;
  rolled: Float32Array;
  scratch: Float32Array;
  res: Float64Array;
  /** scratch of a median over one resampled channel (T) */
  order: Float64Array;
  /** the descriptor's voltage axis in the scan's volts (coercive biases) */
  volts: number[];
  /** offset and half-height of the channel in `res` (loopExtent) */
  extent: { offset: number; height: number };
}

const works = new WeakMap<ScanInputState, Work>();

function workFor(state: ScanInputState, start: StartHeader, d: InputDescriptor): Work {
  let w = works.get(state);
  if (!w) {
    const n = start.dcVoltage.length;
    w = {
      plan: sourcePlan(start, d),
      dstPhase: cyclePhase(d.voltage),
      srcPhase: state.grid.sourcePhase,
      kernel: savgolKernel(d.clean.savgol.window, d.clean.savgol.order),
      raw: new Float32Array(n),
      rolled: new Float32Array(n),
      scratch: new Float32Array(n),
      res: new Float64Array(d.T),
      order: new Float64Array(d.T),
      volts: d.voltage.map((u) => u * state.grid.vmax),
      extent: { offset: Number.NaN, height: Number.NaN },
    };
    works.set(state, w);
  }
  return w;
}

/**
 * One channel of one pixel in physical units, cleaned, rolled and resampled onto the descriptor's T steps, into
 * `out` (length T). Returns false when the scan lacks the channel.
 */
function physicalChannel(data: Float32Array[], c: number, state: ScanInputState, d: InputDescriptor, w: Work, out: Float64Array): boolean {
  const { plan } = w;
  const bi = plan.buffer[c]!;
  if (bi < 0 || !data[bi]) return false;
  const n = plan.steps;
  const raw = w.raw;
  const name = d.channels[c];
  if (plan.kind === 'sho' && name === 'piezoresponse') {
    const amp = data[bi]!;
    const ph = data[bi + 1]!;
    const th = state.thetaRad ?? 0;
    for (let t = 0; t < n; t++) raw[t] = amp[plan.base + t]! * Math.cos(ph[plan.base + t]! * plan.phaseScale + th);
  } else {
    const src = data[bi]!;
    const k = name === 'resonance' ? plan.toKHz : 1;
    for (let t = 0; t < n; t++) raw[t] = src[plan.base + t]! * k;
  }
  if (fillNonFinite(raw, Number.NaN) === 0) {
    out.fill(Number.NaN);
    return true;
  }
  if (d.clean.hampel.halfWindow > 0) hampelFilter(raw, d.clean.hampel);
  if (d.clean.savgol.points > 0) removeOutliers(raw, w.kernel, d.clean.savgol.points, w.scratch);
  const r = state.grid.rollSteps;
  for (let t = 0; t < n; t++) w.rolled[t] = raw[(t + r) % n]!;
  resampleCycle(w.rolled, w.srcPhase, w.dstPhase, out);
  return true;
}

/**
 * The loop's offset, (max + min) / 2, and half-height, (max − min) / 2, into `into` — one pass over its extremes
 * (spikes are gone by now, so the extremes are the loop's own).
 */
function loopExtent(x: Float64Array, into: { offset: number; height: number }): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  into.offset = (hi + lo) / 2;
  into.height = (hi - lo) / 2;
}

/**
 * Fit a scan's state on its first pixels (the descriptor's warmupPixels, or all the caller has): θ (sho), the
 * resampling grid, and the normalisation statistics. The result is frozen: store it, reuse it for every pixel.
 */
export function fitScanInputState(start: StartHeader, pixels: Iterable<Float32Array[]>, d: InputDescriptor): ScanInputState {
  const plan = sourcePlan(start, d);
  const sample: Float32Array[][] = [];
  for (const px of pixels) {
    sample.push(px);
    if (sample.length >= d.warmupPixels) break;
  }
  const rollSteps = rollToVmax(start.dcVoltage);
  const n = start.dcVoltage.length;
  const rolledV = start.dcVoltage.map((_, i) => start.dcVoltage[(i + rollSteps) % n]!);
  const vmax = Math.max(...start.dcVoltage.map(Math.abs));
  let thetaRad: number | null = null;
  if (plan.kind === 'sho') {
    const acc = thetaAccumulator();
    const ai = plan.buffer[0]!;
    for (const px of sample) accumulateTheta(acc, px[ai]!, px[ai + 1]!, n, plan.base, plan.phaseScale);
    thetaRad = sample.length ? estimateTheta(acc, start.dcVoltage) : 0;
  }
  const state: ScanInputState = {
    scanId: start.scanId,
    kind: start.kind,
    normalisation: d.normalisation,
    thetaRad,
    cycle: plan.cycle,
    field: plan.field,
    grid: { sourceSteps: n, vmax, rollSteps, sourcePhase: cyclePhase(rolledV), T: d.T },
    channels: d.channels.map((name, c) => ({ name, present: plan.buffer[c]! >= 0, unit: plan.unit[c]!, centre: 0, scale: 1 })),
    heightFloor: null,
    fittedOnPixels: sample.length,
  };
  // Statistics on the cleaned, resampled warm-up loops.
  const w = workFor(state, start, d);
  const buf = new Float64Array(d.T);
  d.channels.forEach((name, c) => {
    const ch = state.channels[c]!;
    if (!ch.present) return;
    const values: number[] = [];
    const heights: number[] = [];
    const centred: number[] = [];
    for (const px of sample) {
      physicalChannel(px, c, state, d, w, buf);
      if (!Number.isFinite(buf[0]!)) continue;
      for (const v of buf) values.push(v);
      loopExtent(buf, w.extent);
      heights.push(w.extent.height);
      const m = median(buf);
      for (const v of buf) centred.push(Math.abs(v - m));
    }
    const centre = median(values);
    if (d.normalisation === 'trained') {
      const t = d.trained!;
      ch.centre = t.mean[c]!;
      ch.scale = t.std[c]!;
      if (name === 'resonance' && Number.isFinite(centre) && Math.abs(centre - t.mean[c]!) > t.recentreBeyond * t.std[c]!) ch.centre = centre;
    } else if (d.normalisation === 'scan') {
      const mad = median(values.map((v) => Math.abs(v - centre)));
      ch.centre = Number.isFinite(centre) ? centre : 0;
      ch.scale = positive(MAD_TO_SIGMA * mad, heights);
    } else if (name === 'piezoresponse') {
      const h = median(heights);
      ch.centre = Number.isFinite(centre) ? centre : 0;
      ch.scale = Number.isFinite(h) && h > 0 ? h : 1;
      state.heightFloor = d.heightFloor * ch.scale;
    } else {
      // resonance, per pixel: the pixel's own median is removed; the scale is the scan's typical resonance swing
      // within one loop (median half-range over its pixels), so a flat resonance stays flat and a softening keeps its
      // size relative to the scan's other pixels. (The MAD of all centred values was tried first: for a resonance
      // that is flat except where the domain switches it is near zero, and on a broad simulated corpus it put single
      // steps at ±1600, which made training diverge.)
      ch.centre = Number.isFinite(centre) ? centre : 0;
      ch.scale = positive(median(heights), centred.length ? [MAD_TO_SIGMA * median(centred)] : []);
    }
  });
  return state;
}

/** A usable positive scale: the robust one, else the median loop half-height, else 1. */
function positive(s: number, heights: number[]): number {
  if (Number.isFinite(s) && s > 1e-30) return s;
  const h = median(heights);
  return Number.isFinite(h) && h > 1e-30 ? h : 1;
}

/**
 * Per-pixel physical quantities read on the way: the piezoresponse loop's offset and half-height (physical units) and,
 * when `coercive` is asked for, its coercive biases (V, the scan's own axis) where each branch crosses the loop's
 * mid-line — the steepest crossing, so noise around the mid-line of a flat loop does not win — and the imprint
 * (their mean). NaN when a branch does not cross.
 */
export interface PixelLoopStats {
  offset: number;
  height: number;
  coercive?: { down: number; up: number; imprint: number };
}

/** Bias where the branch between model steps [from, to) crosses `level` most steeply; NaN when it never does. */
function steepestCrossing(x: Float64Array, volts: readonly number[], from: number, to: number, level: number): number {
  let best = Number.NaN;
  let steep = 0;
  for (let t = from; t < to; t++) {
    const a = x[t]! - level;
    const b = x[(t + 1) % x.length]! - level;
    if (a === b || a * b > 0) continue;
    const dv = Math.abs(b - a);
    if (dv > steep) {
      steep = dv;
      const va = volts[t]!;
      const vb = volts[(t + 1) % x.length]!;
      best = va + (a / (a - b)) * (vb - va);
    }
  }
  return best;
}

/**
 * Turn one raw pixel into the model input: T·C floats at `out[offset…]`, layout [T][C] row-major, in the bundle's
 * units. `stats` (optional) receives the piezoresponse loop's offset and half-height.
 */
export function toCanonicalInput(
  data: Float32Array[],
  start: StartHeader,
  state: ScanInputState,
  d: InputDescriptor,
  out: Float32Array,
  offset = 0,
  stats?: PixelLoopStats,
): void {
  const w = workFor(state, start, d);
  const C = d.channels.length;
  const T = d.T;
  const buf = w.res;
  for (let c = 0; c < C; c++) {
    const ch = state.channels[c]!;
    const tc = d.target.centre[c]!;
    const ts = d.target.scale[c]!;
    if (!ch.present || !physicalChannel(data, c, state, d, w, buf) || !Number.isFinite(buf[0]!)) {
      for (let t = 0; t < T; t++) out[offset + t * C + c] = tc; // absent or all-NaN: the middle of the range
      if (c === 0 && stats) {
        stats.offset = Number.NaN;
        stats.height = Number.NaN;
        if (stats.coercive) stats.coercive = { down: Number.NaN, up: Number.NaN, imprint: Number.NaN };
      }
      continue;
    }
    let centre = ch.centre;
    let scale = ch.scale;
    const { extent } = w;
    const pixelPiezo = state.normalisation === 'pixel' && ch.name === 'piezoresponse';
    if (pixelPiezo || (c === 0 && stats)) loopExtent(buf, extent);
    if (pixelPiezo) {
      centre = extent.offset;
      scale = Math.max(extent.height, state.heightFloor ?? 0, 1e-30);
    } else if (state.normalisation === 'pixel') centre = median(buf, w.order);
    if (c === 0 && stats) {
      stats.offset = extent.offset;
      stats.height = extent.height;
      if (stats.coercive) {
        const half = T >> 1; // the canonical cycle falls from +Vmax for its first half, then rises
        const down = steepestCrossing(buf, w.volts, 0, half, stats.offset);
        const up = steepestCrossing(buf, w.volts, half, T, stats.offset);
        stats.coercive = { down, up, imprint: (down + up) / 2 };
      }
    }
    // Per-pixel normalisation bounds what one bad value can do: a spike the cleaning missed, or a resonance fit that
    // jumped, is clipped at ±INPUT_CLIP scaled units instead of dominating the pixel's error (and, in training, the
    // gradients); a clean loop is within ±1 there. 'scan' keeps heights over decades on purpose, and 'trained' bundles
    // were trained and calibrated unclipped: neither is clipped.
    const clip = state.normalisation === 'pixel' ? INPUT_CLIP : Infinity;
    for (let t = 0; t < T; t++) {
      const z = (buf[t]! - centre) / scale;
      out[offset + t * C + c] = (z > clip ? clip : z < -clip ? -clip : z) * ts + tc;
    }
  }
}

/** Fit a scan's state on its first pixels and convert every pixel: [n][T][C] (offline users: training, calibration). */
export function canonicalInputs(start: StartHeader, pixels: readonly Float32Array[][], d: InputDescriptor): { state: ScanInputState; data: Float32Array; n: number } {
  const state = fitScanInputState(start, pixels, d);
  const stride = d.T * d.channels.length;
  const data = new Float32Array(pixels.length * stride);
  pixels.forEach((px, i) => toCanonicalInput(px, start, state, d, data, i * stride));
  return { state, data, n: pixels.length };
}

/**
 * Undo the normalisation of model inputs or reconstructions ([n][T][C] in the bundle's units) into physical units
 * of this scan (piezoresponse as projected, resonance kHz), on the bundle's grid; the matching voltages are
 * `scanVoltage(state, d)`. For 'pixel' normalisation pass the pixel's loop stats (else the scan's typical loop).
 */
export function fromCanonicalInput(y: Float32Array, state: ScanInputState, d: InputDescriptor, stats?: PixelLoopStats, out = new Float32Array(y.length)): Float32Array {
  const C = d.channels.length;
  for (let i = 0; i < y.length; i++) {
    const c = i % C;
    const ch = state.channels[c]!;
    const u = (y[i]! - d.target.centre[c]!) / d.target.scale[c]!;
    let centre = ch.centre;
    let scale = ch.scale;
    if (state.normalisation === 'pixel' && c === 0 && stats && Number.isFinite(stats.height)) {
      centre = stats.offset;
      scale = Math.max(stats.height, state.heightFloor ?? 0, 1e-30);
    }
    out[i] = ch.present ? u * scale + centre : Number.NaN;
  }
  return out;
}

/** The scan's own voltages (V) at the bundle's T steps: the normalised axis times the scan's Vmax. */
export function scanVoltage(state: ScanInputState, d: InputDescriptor): number[] {
  return d.voltage.map((u) => Math.round(u * state.grid.vmax * 1e6) / 1e6);
}

/**
 * Training data in the canonical input: every scan (any kinds, step counts, ranges, units, mixed) gets its own frozen
 * state from its first pixels, exactly as the pipeline will read it, and all pixels are stacked [n][T][C]. Returns the
 * PreprocessSpec a bundle saves (identity statistics, the descriptor under `input`).
 */
export function fitCanonicalTraining(
  scans: ReadonlyArray<{ start: StartHeader; pixels: Float32Array[][] }>,
  d: InputDescriptor,
): { spec: PreprocessSpec & { input: InputDescriptor }; data: Float32Array; n: number; states: ScanInputState[]; perScan: number[] } {
  const stride = d.T * d.channels.length;
  const parts = scans.map((sc) => canonicalInputs(sc.start, sc.pixels, d));
  const n = parts.reduce((a, p) => a + p.n, 0);
  const data = new Float32Array(n * stride);
  let at = 0;
  for (const p of parts) (data.set(p.data, at), (at += p.data.length));
  const C = d.channels.length;
  const spec = {
    kind: scans[0]?.start.kind ?? 'loop',
    T: d.T,
    C,
    channels: [...d.channels],
    cycle: d.cycle,
    field: d.field,
    thetaRad: 0,
    mean: d.channels.map(() => 0),
    std: d.channels.map(() => 1),
    voltage: [...d.voltage],
    rollSteps: 0,
    savgol: { ...d.clean.savgol },
    input: d,
  } satisfies PreprocessSpec & { input: InputDescriptor };
  // perScan: rows each scan contributed, in order (a multi-scan training run sets per-scan targets from them)
  return { spec, data, n, states: parts.map((p) => p.state), perScan: parts.map((p) => p.n) };
}
