/**
 * Fit the preprocessing of a training set: choose channels, estimate θ (sho), build the unscaled loops, fit the
 * global per-channel z-score, and return the scaled training tensor [n][T][C] with its PreprocessSpec.
 */
import type { StartHeader } from '../protocol/messages.ts';
import { accumulateTheta, estimateTheta, thetaAccumulator } from './project.ts';
import { fitScaler, scaleInPlace } from './scale.ts';
import { rolledVoltage, toPhysicalLoop, type PreprocessSpec } from './index.ts';

/** Choices made when fitting (all optional; defaults per docs/science.md §2). */
export interface FitPreprocessOptions {
  /** 0-based cycle (sho), default 1 (second cycle) or the last cycle when there is only one */
  cycle?: number;
  /** field (sho), default 'off' */
  field?: 'on' | 'off';
  /** fixed θ (rad) instead of estimating it (sho) */
  thetaRad?: number;
  /** resonance range (kHz) outside which values are NaN */
  resonanceRangeKHz?: [number, number];
  /** roll of the voltage axis; default: the index of the highest voltage (a quarter cycle for the usual waveform) */
  rollSteps?: number;
  /** channels to use; default both for sho, every loop buffer for loop */
  channels?: string[];
}

/** The default preprocessing spec (statistics 0/1, θ 0) a scan's start header implies. */
export function defaultSpecFor(start: StartHeader, opts: FitPreprocessOptions = {}): PreprocessSpec {
  const T = start.dcVoltage.length;
  const channels = opts.channels ?? (start.kind === 'sho' ? ['piezoresponse', 'resonance'] : start.buffers.map((b) => b.name).filter((n) => n === 'piezoresponse' || n === 'resonance'));
  // The reference rolls by a quarter cycle so loops start at +Vmax; the index of the first maximum is that quarter
  // cycle for the usual 0 → +V → −V → 0 waveform, and keeps other waveforms starting at their maximum too.
  const rollSteps = opts.rollSteps ?? start.dcVoltage.indexOf(Math.max(...start.dcVoltage));
  return {
    kind: start.kind,
    T,
    C: channels.length,
    channels,
    cycle: opts.cycle ?? Math.min(1, start.cycles - 1),
    field: opts.field ?? (start.fields.includes('off') ? 'off' : start.fields[0]!),
    thetaRad: opts.thetaRad ?? 0,
    mean: channels.map(() => 0),
    std: channels.map(() => 1),
    ...(opts.resonanceRangeKHz ? { resonanceRangeKHz: opts.resonanceRangeKHz } : {}),
    voltage: rolledVoltage(start.dcVoltage, rollSteps),
    rollSteps,
    savgol: { window: 7, order: 3, points: 3 },
  };
}

/** Estimate θ (rad) over sho pixels' selected cycle/field (pycroscopy loop projection, see project.ts). */
export function estimateThetaForScan(start: StartHeader, pixels: Iterable<Float32Array[]>, spec: Pick<PreprocessSpec, 'cycle' | 'field'>, maxPixels = 2000): number {
  const T = start.dcVoltage.length;
  const fieldIndex = start.fields.indexOf(spec.field);
  const base = (spec.cycle * start.fields.length + fieldIndex) * T;
  const phaseScale = start.phaseUnit === 'deg' ? Math.PI / 180 : 1;
  const acc = thetaAccumulator();
  let k = 0;
  for (const data of pixels) {
    accumulateTheta(acc, data[0]!, data[1]!, T, base, phaseScale);
    if (++k >= maxPixels) break;
  }
  return estimateTheta(acc, start.dcVoltage);
}

/** One training scan: its start header and every pixel's buffers. */
export interface TrainingScan {
  start: StartHeader;
  pixels: Float32Array[][];
}

/**
 * Fit preprocessing on one or more scans of the same layout and return the scaled tensor [n][T][C].
 * θ is estimated on the first scan unless given; mean/std over all samples.
 */
export function fitPreprocess(scans: TrainingScan[], opts: FitPreprocessOptions = {}): { spec: PreprocessSpec; data: Float32Array; n: number } {
  if (scans.length === 0) throw new RangeError('fitPreprocess: no scans given');
  const first = scans[0]!.start;
  const spec = defaultSpecFor(first, opts);
  if (spec.kind === 'sho' && opts.thetaRad === undefined) {
    spec.thetaRad = estimateThetaForScan(first, scans[0]!.pixels, spec);
  }
  const n = scans.reduce((s, sc) => s + sc.pixels.length, 0);
  const stride = spec.T * spec.C;
  const data = new Float32Array(n * stride);
  let i = 0;
  for (const scan of scans) {
    for (const px of scan.pixels) {
      toPhysicalLoop(px, scan.start, spec, data, i * stride);
      i++;
    }
  }
  const { mean, std } = fitScaler(data, n, spec.T, spec.C);
  spec.mean = mean;
  spec.std = std;
  // Channels left all-NaN by the range filter: fill with the mean so they scale to 0.
  for (let s = 0; s < n * spec.C; s++) {
    const sample = Math.floor(s / spec.C);
    const c = s % spec.C;
    const off = sample * stride + c;
    if (!Number.isFinite(data[off]!)) {
      for (let t = 0; t < spec.T; t++) if (!Number.isFinite(data[off + t * spec.C]!)) data[off + t * spec.C] = mean[c]!;
    }
  }
  scaleInPlace(data, spec.C, mean, std);
  return { spec, data, n };
}
