import { describe, expect, test } from 'vitest';
import { gate } from '../../src/finetune/gate.ts';

const rule = { minImprovement: 0.05, maxReferenceWorsening: 0.1 };

describe('gate', () => {
  test('promotes a candidate that improves held-out MSE by more than the margin and keeps the reference', () => {
    const d = gate({ heldOutMse: 0.8, referenceMse: 0.21 }, { heldOutMse: 1.0, referenceMse: 0.2 }, rule);
    expect(d.promote).toBe(true);
    expect(d.heldOutChange).toBeCloseTo(-0.2, 12);
    expect(d.referenceChange).toBeCloseTo(0.05, 12);
    expect(d.reasons).toEqual([
      'held-out MSE 1.000 → 0.8000 (−20.0 %, needs ≤ −5.0 %): pass',
      'reference MSE 0.2000 → 0.2100 (+5.0 %, tolerated ≤ +10.0 %): pass',
    ]);
  });

  test('rejects an improvement smaller than the margin', () => {
    const d = gate({ heldOutMse: 0.97, referenceMse: 0.2 }, { heldOutMse: 1.0, referenceMse: 0.2 }, rule);
    expect(d.promote).toBe(false);
    expect(d.reasons[0]).toBe('held-out MSE 1.000 → 0.9700 (−3.0 %, needs ≤ −5.0 %): fail');
  });

  test('the margin is inclusive: exactly 5 % better passes', () => {
    expect(gate({ heldOutMse: 0.95, referenceMse: null }, { heldOutMse: 1.0, referenceMse: null }, rule).promote).toBe(true);
  });

  test('rejects a worse candidate', () => {
    const d = gate({ heldOutMse: 1.5, referenceMse: 0.2 }, { heldOutMse: 1.0, referenceMse: 0.2 }, rule);
    expect(d.promote).toBe(false);
    expect(d.heldOutChange).toBeCloseTo(0.5, 12);
    expect(d.reasons[0]).toBe('held-out MSE 1.000 → 1.500 (+50.0 %, needs ≤ −5.0 %): fail');
  });

  test('rejects a candidate that forgets the reference beyond the tolerance even when recent pixels improve', () => {
    const d = gate({ heldOutMse: 0.5, referenceMse: 0.3 }, { heldOutMse: 1.0, referenceMse: 0.2 }, rule);
    expect(d.promote).toBe(false);
    expect(d.reasons).toEqual([
      'held-out MSE 1.000 → 0.5000 (−50.0 %, needs ≤ −5.0 %): pass',
      'reference MSE 0.2000 → 0.3000 (+50.0 %, tolerated ≤ +10.0 %): fail',
    ]);
  });

  test('without a reference slice only the held-out check decides, and says so', () => {
    const d = gate({ heldOutMse: 0.5, referenceMse: null }, { heldOutMse: 1.0, referenceMse: null }, rule);
    expect(d.promote).toBe(true);
    expect(d.referenceChange).toBeNull();
    expect(d.reasons[1]).toBe('reference slice: none (the bundle has no training sample): not checked');
  });

  test('rejects non-finite scores (a diverged candidate)', () => {
    const d = gate({ heldOutMse: Number.NaN, referenceMse: Number.POSITIVE_INFINITY }, { heldOutMse: 1.0, referenceMse: 0.2 }, rule);
    expect(d.promote).toBe(false);
    expect(d.reasons).toEqual([
      'held-out MSE 1.000 → NaN: not comparable (both must be finite and the incumbent\'s > 0): fail',
      'reference MSE 0.2000 → Infinity: not comparable (both must be finite and the incumbent\'s > 0): fail',
    ]);
  });

  describe('constrained rounds: a target on the held-out pixels', () => {
    const target = { heldOutMse: 0.9 };
    test('a candidate not better by the margin passes when it meets the target with fewer active channels', () => {
      const d = gate({ heldOutMse: 0.85, referenceMse: 0.2, activeChannels: 4 }, { heldOutMse: 0.8, referenceMse: 0.2, activeChannels: 9 }, rule, target);
      expect(d.promote).toBe(true);
      expect(d.reasons[0]).toBe('held-out MSE 0.8000 → 0.8500 (+6.2 %, not better by the margin, but within the target 0.9000 with 4 instead of 9 active channels): pass');
    });
    test('fails above the target, or without fewer channels; the margin alone still passes; the reference check still applies', () => {
      const above = gate({ heldOutMse: 0.95, referenceMse: 0.2, activeChannels: 4 }, { heldOutMse: 0.8, referenceMse: 0.2, activeChannels: 9 }, rule, target);
      expect(above.promote).toBe(false);
      expect(above.reasons[0]).toBe('held-out MSE 0.8000 → 0.9500 (+18.7 %, needs ≤ −5.0 % or ≤ 0.9000 with fewer than 9 active channels (candidate 4)): fail');
      expect(gate({ heldOutMse: 0.85, referenceMse: 0.2, activeChannels: 9 }, { heldOutMse: 0.8, referenceMse: 0.2, activeChannels: 9 }, rule, target).promote).toBe(false);
      expect(gate({ heldOutMse: 0.5, referenceMse: 0.2, activeChannels: 12 }, { heldOutMse: 0.8, referenceMse: 0.2, activeChannels: 9 }, rule, target).promote).toBe(true);
      const forgets = gate({ heldOutMse: 0.85, referenceMse: 0.3, activeChannels: 4 }, { heldOutMse: 0.8, referenceMse: 0.2, activeChannels: 9 }, rule, target);
      expect(forgets.promote).toBe(false);
      expect(forgets.reasons[1]).toBe('reference MSE 0.2000 → 0.3000 (+50.0 %, tolerated ≤ +10.0 %): fail');
    });
    test('without channel counts the target does not apply', () => {
      expect(gate({ heldOutMse: 0.85, referenceMse: null }, { heldOutMse: 0.8, referenceMse: null }, rule, target).promote).toBe(false);
    });
  });
});
