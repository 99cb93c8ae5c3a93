import { describe, expect, it } from 'vitest';
import { checkStartLayout } from '../../src/protocol/decode.ts';
import { StartHeader } from '../../src/protocol/messages.ts';
import { ANOMALY_KINDS, MECHANISM_NAMES, SIM_ROTATION_RAD, simulateScan } from '../../src/sim/index.ts';
import { loopBranch } from '../../src/sim/loop-model.ts';

/** Projected piezoresponse P = A·cos(φ + θ) of one (cycle, field) slice of a pixel. */
function projected(data: Float32Array[], cycle: number, field: number, steps: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < steps; k++) {
    const i = (cycle * 2 + field) * steps + k;
    out.push(data[0][i] * Math.cos(data[1][i] + SIM_ROTATION_RAD));
  }
  return out;
}

describe('simulateScan', () => {
  it('declares a valid protocol v1 sho start header with the default geometry', () => {
    const s = simulateScan({ rows: 60, cols: 60, seed: 1 });
    expect(StartHeader.parse(s.start)).toEqual(s.start);
    expect(checkStartLayout(s.start)).toBeUndefined();
    expect(s.start.kind).toBe('sho');
    expect(s.start.fields).toEqual(['on', 'off']);
    expect(s.start.cycles).toBe(2);
    expect(s.start.dcVoltage).toHaveLength(96);
    expect(s.start.buffers.map((b) => [b.name, b.shape])).toEqual([
      ['amplitude', [2, 2, 96]],
      ['phase', [2, 2, 96]],
      ['frequency', [2, 2, 96]],
      ['quality', [2, 2, 96]],
    ]);
    // docs/science.md §1: ±16 V in steps of 2/3 V, acquisition order 0 → +16 → −16 → 0.
    expect(s.start.dcVoltage[0]).toBe(0);
    expect(s.start.dcVoltage[24]).toBe(16);
    expect(s.start.dcVoltage[72]).toBe(-16);
    expect(s.start.dcVoltage[1]).toBeCloseTo(2 / 3, 6);
    expect(s.start.dcVoltage[95]).toBeCloseTo(-2 / 3, 6);
  });

  it('is deterministic: the same seed gives the same values, another seed different ones', () => {
    const a = simulateScan({ rows: 8, cols: 9, seed: 42, anomalies: 1 });
    const b = simulateScan({ rows: 8, cols: 9, seed: 42, anomalies: 1 });
    const c = simulateScan({ rows: 8, cols: 9, seed: 43, anomalies: 1 });
    const pa = [...a.pixels()];
    const pb = [...b.pixels()];
    expect(pa).toEqual(pb);
    expect(a.truth).toEqual(b.truth);
    expect([...a.pixels()]).toEqual(pa); // iterating again gives the same pixels
    expect(a.pixel(17)).toEqual(pa[17]);
    expect([...c.pixels()][0].data[0]).not.toEqual(pa[0].data[0]);
  });

  it('emits pixels in seq order over the raster with timestamps at the nominal rate', () => {
    const s = simulateScan({ rows: 3, cols: 4, seed: 1, pxPerSec: 50, t0: 1000 });
    const px = [...s.pixels()];
    expect(px.map((p) => p.seq)).toEqual([...Array(12).keys()]);
    expect(px.map((p) => [p.row, p.col])).toEqual([...Array(12).keys()].map((i) => [Math.floor(i / 4), i % 4]));
    expect(px[5].t - px[4].t).toBeCloseTo(0.02, 9);
    expect(px[0].t).toBe(1000);
  });

  it('uses all three mechanisms in a 60x60 map, and only the allowed ones when restricted', () => {
    const s = simulateScan({ rows: 60, cols: 60, seed: 1 });
    const counts = new Array(MECHANISM_NAMES.length).fill(0);
    for (const m of s.truth.mechanism) counts[m]++;
    expect(s.truth.mechanismNames).toEqual([...MECHANISM_NAMES]);
    for (const c of counts) expect(c).toBeGreaterThan(100);
    const r = simulateScan({ rows: 60, cols: 60, seed: 1, mechanisms: ['weak', 'classic180'] });
    const used = new Set(r.truth.mechanism);
    expect([...used].sort()).toEqual([MECHANISM_NAMES.indexOf('classic180'), MECHANISM_NAMES.indexOf('weak')].sort());
  });

  it('plants compact, non-touching anomalous regions whose truth matches the maps', () => {
    const s = simulateScan({ rows: 60, cols: 60, seed: 5, anomalies: 6 });
    const { anomaly, region, regions } = s.truth;
    expect(regions).toHaveLength(6);
    expect(regions.map((r) => r.kind)).toEqual([...ANOMALY_KINDS, ...ANOMALY_KINDS].slice(0, 6));
    for (const r of regions) {
      expect(r.pixels).toBeGreaterThanOrEqual(20);
      expect(r.pixels).toBeLessThanOrEqual(60);
      // compact: the bounding box is not much bigger than a disk of that area
      expect((r.rowMax - r.rowMin + 1) * (r.colMax - r.colMin + 1)).toBeLessThan(r.pixels * 3);
      let n = 0;
      for (let i = 0; i < region!.length; i++) {
        if (region![i] !== r.id) continue;
        n++;
        expect(anomaly[i]).toBe(ANOMALY_KINDS.indexOf(r.kind) + 1);
        const row = Math.floor(i / 60), col = i % 60;
        expect(row >= r.rowMin && row <= r.rowMax && col >= r.colMin && col <= r.colMax).toBe(true);
        // no pixel of another region touches this one (8-neighbourhood)
        for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) {
          const rr = row + dr, cc = col + dc;
          if (rr < 0 || rr >= 60 || cc < 0 || cc >= 60) continue;
          const other = region![rr * 60 + cc];
          expect(other === 0 || other === r.id).toBe(true);
        }
      }
      expect(n).toBe(r.pixels);
    }
    expect(anomaly.filter((a) => a > 0).length).toBe(regions.reduce((a, r) => a + r.pixels, 0));
    expect(simulateScan({ rows: 60, cols: 60, seed: 5 }).truth.regions).toEqual([]);
  });

  it('refuses more anomalies than the grid can hold, with the numbers', () => {
    expect(() => simulateScan({ rows: 4, cols: 4, seed: 1, anomalies: 3 })).toThrow(/3 anomalous region\(s\) do not fit a 4x4 grid/);
  });

  it('has realistic magnitudes: piezoresponse ~1e-4, resonance around 1324.8 kHz with softening dips', () => {
    const s = simulateScan({ rows: 20, cols: 20, seed: 2 });
    let pmax = 0;
    let fmin = Infinity, fmax = -Infinity;
    for (const p of s.pixels()) {
      for (const a of p.data[0]) pmax = Math.max(pmax, a);
      for (const f of p.data[2]) { fmin = Math.min(fmin, f); fmax = Math.max(fmax, f); }
      for (const q of p.data[3]) expect(q).toBeGreaterThan(50);
    }
    expect(pmax).toBeGreaterThan(5e-5);
    expect(pmax).toBeLessThan(5e-4);
    expect(fmin).toBeGreaterThan(1.30e6);
    expect(fmax).toBeLessThan(1.34e6);
    expect(fmax - fmin).toBeGreaterThan(5e3); // the softening dips are there
  });

  it('encodes the loop model in A·cos(φ + θ): noiseless off-field equals the branch sum, in-field adds the electrostatic slope', () => {
    const s = simulateScan({ rows: 30, cols: 30, seed: 9, noise: 0 });
    const seq = s.truth.mechanism.findIndex((m, i) => MECHANISM_NAMES[m] === 'classic180' && s.truth.anomaly[i] === 0);
    const p = s.pixel(seq);
    const off = projected(p.data, 1, 1, 96);
    const on = projected(p.data, 1, 0, 96);
    const v = s.start.dcVoltage;
    // classic 180°: remanent states of opposite sign at 0 V on the two branches (k=0 rising, k=48 falling)
    expect(off[48]).toBeGreaterThan(5e-5);
    expect(off[0]).toBeLessThan(-5e-5);
    // in-field minus off-field is a straight line through 0 V (4e-6 per volt)
    for (const k of [10, 24, 60, 72]) expect((on[k] - off[k]) / v[k]).toBeCloseTo(4e-6, 9);
    // phase sits in two states π apart, rotated by θ
    for (const x of p.data[1]) expect(Math.abs(Math.sin(x + SIM_ROTATION_RAD))).toBeLessThan(1e-5);
    const cosines = new Set(Array.from(p.data[1], (x) => Math.round(Math.cos(x + SIM_ROTATION_RAD))));
    expect([...cosines].sort()).toEqual([-1, 1]);
  });

  it('makes the planted anomalies look like what they are named', () => {
    const s = simulateScan({ rows: 40, cols: 40, seed: 11, anomalies: 4, noise: 0 });
    const loopOf = (kind: string) => {
      const i = s.truth.anomaly.findIndex((a) => a > 0 && s.truth.anomalyNames[a - 1] === kind);
      return projected(s.pixel(i).data, 1, 1, 96);
    };
    const height = (l: number[]) => Math.max(...l) - Math.min(...l);
    expect(height(loopOf('noSwitching'))).toBeLessThan(5e-5);
    const pinched = loopOf('pinched');
    // pinched: both branches pass through (nearly) the same value at 0 V
    expect(Math.abs(pinched[0] - pinched[48])).toBeLessThan(0.15 * height(pinched));
    // imprint: the loop is shifted ~+7 V. At +8 V rising (k=12) it has not switched up yet (classic switches by ~+4 V),
    // and at 0 V falling (k=48) it has already switched down (classic holds its positive remanence there).
    const imprint = loopOf('imprint');
    expect(imprint[12]).toBeLessThan(-5e-5);
    expect(imprint[48]).toBeLessThan(-5e-5);
    const burst = s.truth.anomaly.findIndex((a) => a > 0 && s.truth.anomalyNames[a - 1] === 'noiseBurst');
    expect(burst).toBeGreaterThanOrEqual(0);
  });

  it('adds 20x noise in a noise burst', () => {
    const s = simulateScan({ rows: 40, cols: 40, seed: 11, anomalies: 4, anomalyKinds: ['noiseBurst'] });
    const z = simulateScan({ rows: 40, cols: 40, seed: 11, anomalies: 4, anomalyKinds: ['noiseBurst'], noise: 0 });
    const rms = (i: number) => {
      const a = s.pixel(i).data[2], b = z.pixel(i).data[2];
      let acc = 0;
      for (let k = 0; k < a.length; k++) acc += (a[k] - b[k]) ** 2;
      return Math.sqrt(acc / a.length);
    };
    const inBurst = s.truth.anomaly.findIndex((a) => a > 0);
    const outside = s.truth.anomaly.findIndex((a) => a === 0);
    expect(rms(inBurst) / rms(outside)).toBeGreaterThan(8);
  });
});

describe('loopBranch', () => {
  it('runs from a0 to a0 + a1 through the coercive voltage', () => {
    const c = { a0: -1, a1: 2, a2: -3, a3: 4, a4: 0, b0: 1, b1: 1, b2: 1, b3: 1 };
    expect(loopBranch(-20, true, c)).toBeCloseTo(-1, 6);
    expect(loopBranch(20, true, c)).toBeCloseTo(1, 6);
    expect(loopBranch(-3, true, c)).toBeCloseTo(0, 6);
    expect(loopBranch(4, false, c)).toBeCloseTo(0, 6);
    expect(loopBranch(0, false, c)).toBeLessThan(-0.9);
    expect(loopBranch(0, true, c)).toBeGreaterThan(0.9);
  });
});
