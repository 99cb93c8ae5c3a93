/**
 * The model-fit verdict (src/model/fit-check.ts) on known statistics: thresholds on the error ratio and on the input
 * shift, and a channel the scan does not have (a constant fill) left out of the comparison.
 */
import { describe, expect, it } from 'vitest';
import { checkFit, REFERENCE_P, type FitReference, type TrainingReference } from '../../src/model/fit-check.ts';

const reference: TrainingReference = {
  format: 1,
  source: 'test',
  pixels: 100,
  createdAt: '2026-12-01T00:00:00Z',
  input: { channels: ['piezoresponse', 'resonance'], mean: [0, 0], std: [0.5, 2], quantiles: { p: REFERENCE_P.slice(), value: [[], []] } },
  error: { median: 0.01, mean: 0.012, quantiles: { p: REFERENCE_P.slice(), value: [] } },
};
const ref: FitReference = { kind: 'bundle', reference, errorLevel: 0.01 };
const thresholds = { errorRatio: 3, inputShift: 1 };
const channels = ['piezoresponse', 'resonance'];

describe('checkFit', () => {
  it('fits inside both thresholds and says why it does not outside them', () => {
    const ok = checkFit(ref, { mean: [0.1, 0], std: [0.5, 2], medianError: 0.02, pixels: 50, channels }, thresholds);
    expect(ok.flag).toBe(false);
    expect(ok.errorRatio).toBeCloseTo(2, 12);
    expect(ok.inputShift).toBeCloseTo(0.2, 12); // 0.1 / 0.5 training std
    const bad = checkFit(ref, { mean: [0, 3], std: [0.5, 2], medianError: 0.05, pixels: 50, channels }, thresholds);
    expect(bad.flag).toBe(true);
    expect(bad.errorRatio).toBeCloseTo(5, 12);
    expect(bad.inputShift).toBeCloseTo(1.5, 12);
    expect(bad.reasons).toHaveLength(2);
    expect(bad.reasons[1]).toContain('resonance input: mean moved 1.50 training std');
  });

  it('leaves out a channel the scan does not have: its constant fill is not a shifted input', () => {
    // a loop scan without resonance: the resonance input is the fill value, std 0
    const scan = { mean: [0.05, 0], std: [0.5, 0], medianError: 0.01, pixels: 50, channels };
    expect(checkFit(ref, scan, thresholds).flag).toBe(true); // compared, std ×1e-12
    const absent = checkFit(ref, { ...scan, present: [true, false] }, thresholds);
    expect(absent.flag).toBe(false);
    expect(absent.inputShift).toBeCloseTo(0.1, 12);
    expect(absent.channels.map((c) => c.name)).toEqual(['piezoresponse']);
  });
});
