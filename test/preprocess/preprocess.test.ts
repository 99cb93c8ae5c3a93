import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import {
  fillNonFinite,
  savgolKernel,
  savgolFilter,
  removeOutliers,
  projectLoop,
  loopArea,
  thetaAccumulator,
  accumulateTheta,
  estimateTheta,
  toModelInput,
  toPhysicalLoop,
  fromModelOutput,
  rolledVoltage,
  type PreprocessSpec,
} from '../../src/preprocess/index.ts';
import { fitPreprocess, estimateThetaForScan } from '../../src/preprocess/fit.ts';
import { simulateScan, SIM_ROTATION_RAD } from '../../src/sim/index.ts';
import type { StartHeader } from '../../src/protocol/messages.ts';

const f32 = (...v: number[]) => Float32Array.from(v);

describe('fillNonFinite', () => {
  it('interpolates inner gaps linearly and copies the nearest value at the ends', () => {
    const x = f32(NaN, 1, NaN, 3);
    expect(fillNonFinite(x)).toBe(2);
    expect(Array.from(x)).toEqual([1, 1, 2, 3]);
    const y = f32(0, Infinity, NaN, NaN, 4, NaN, NaN);
    fillNonFinite(y);
    expect(Array.from(y)).toEqual([0, 1, 2, 3, 4, 4, 4]);
  });
  it('fills an all-NaN loop with the fallback and reports 0 finite values', () => {
    const x = f32(NaN, NaN, NaN);
    expect(fillNonFinite(x, 7)).toBe(0);
    expect(Array.from(x)).toEqual([7, 7, 7]);
  });
});

describe('Savitzky–Golay', () => {
  it('has the textbook 7-point cubic smoothing weights (−2, 3, 6, 7, 6, 3, −2)/21 at the centre', () => {
    const k = savgolKernel(7, 3);
    const centre = Array.from(k.hat.subarray(3 * 7, 4 * 7));
    [-2, 3, 6, 7, 6, 3, -2].forEach((w, j) => expect(centre[j]).toBeCloseTo(w / 21, 12));
  });

  it('equals scipy.signal.savgol_filter(x, 7, 3) (mode interp) including the edges', () => {
    const x = Float32Array.from({ length: 20 }, (_, i) => Math.sin(i * 0.7) + 0.1 * ((i * 37) % 11));
    const py = `import json,sys; from scipy.signal import savgol_filter; x=json.loads(sys.argv[1]); print(json.dumps(savgol_filter(x,7,3).tolist()))`;
    const ref = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, JSON.stringify(Array.from(x))], { encoding: 'utf8' })) as number[];
    const out = savgolFilter(x, savgolKernel(7, 3), new Float32Array(20));
    ref.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
  });

  it('removes three planted spikes and leaves the rest of the loop untouched', () => {
    const T = 64;
    const clean = Float32Array.from({ length: T }, (_, i) => Math.tanh(3 * Math.sin((2 * Math.PI * i) / T)));
    const x = Float32Array.from(clean);
    const spikes = [10, 31, 50];
    x[10]! += 2;
    x[31]! -= 3;
    x[50]! += 2.5;
    removeOutliers(x, savgolKernel(7, 3), 3, new Float32Array(T));
    for (let i = 0; i < T; i++) {
      if (spikes.includes(i)) {
        expect(Math.abs(x[i]! - clean[i]!)).toBeLessThan(0.05);
        expect(x[i]).toBeCloseTo((x[i - 1]! + x[i + 1]!) / 2, 6); // re-interpolated from its neighbours
      } else {
        expect(x[i]).toBe(clean[i]);
      }
    }
  });

  it('re-smooths only around each re-interpolated point, with the same result as smoothing all of it every round', () => {
    // the definition, round by round: smooth everything, drop the worst point, re-interpolate it
    const reference = (x: Float32Array, count: number) => {
      const k = savgolKernel(7, 3);
      const s = new Float32Array(x.length);
      for (let r = 0; r < count; r++) {
        savgolFilter(x, k, s);
        let worst = -1;
        let worstRes = -1;
        x.forEach((v, i) => {
          if (Math.abs(s[i]! - v) > worstRes) (worstRes = Math.abs(s[i]! - v)), (worst = i);
        });
        if (worstRes === 0) return;
        x[worst] = Number.NaN;
        fillNonFinite(x);
      }
    };
    let seed = 5;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 200; trial++) {
      const T = 8 + Math.floor(rnd() * 60);
      const x = Float32Array.from({ length: T }, (_, i) => Math.sin(i / 5) + 0.05 * rnd());
      // spikes anywhere, edges and neighbouring positions included
      for (let s = 0; s < 3; s++) x[Math.floor(rnd() * T)]! += (rnd() - 0.5) * 8;
      const want = Float32Array.from(x);
      reference(want, 5);
      removeOutliers(x, savgolKernel(7, 3), 5, new Float32Array(T));
      expect(Array.from(x)).toEqual(Array.from(want));
    }
  });
});

/** Complex responses of loops P(V) rotated by −θ: amplitude |P|, phase (P < 0 ? π : 0) − θ, plus a small quadrature part. */
function rotatedLoop(P: Float32Array, theta: number): { amp: Float32Array; phase: Float32Array } {
  const amp = new Float32Array(P.length);
  const phase = new Float32Array(P.length);
  P.forEach((p, t) => {
    const q = 0.02 * Math.sin(t); // off-axis noise
    amp[t] = Math.hypot(p, q);
    phase[t] = Math.atan2(q, p) - theta;
  });
  return { amp, phase };
}

describe('loop projection and θ', () => {
  const T = 96;
  const V = Float64Array.from({ length: T }, (_, i) => 16 * (i < T / 4 ? i / (T / 4) : i < (3 * T) / 4 ? 2 - i / (T / 4) : i / (T / 4) - 4));
  // A hysteresis loop traversed so that ∮ P dV > 0: on the rising branch P lags (switches at +5 V), falling at −5 V.
  const P = Float32Array.from(V, (v, i) => {
    const rising = i < T / 4 || i >= (3 * T) / 4;
    return Math.tanh((v - (rising ? 5 : -5)) / 2);
  });

  it('the test loop runs clockwise (negative area), so the sign choice is exercised', () => {
    expect(loopArea(P, V)).toBeLessThan(0); // rising branch below falling branch: ∮ P dV < 0 in this orientation
  });

  for (const theta0 of [0.3, 1.1, -2.0, 2.9]) {
    it(`recovers θ = ${theta0} rad (sign fixed by the loop area)`, () => {
      const acc = thetaAccumulator();
      for (let k = 0; k < 5; k++) {
        const { amp, phase } = rotatedLoop(P.map((p) => p * (1 + 0.1 * k)), theta0);
        accumulateTheta(acc, amp, phase, T);
      }
      const theta = estimateTheta(acc, V);
      // P itself has a negative area, so the positive-area orientation is θ0 + π.
      const expected = Math.atan2(Math.sin(theta0 + Math.PI), Math.cos(theta0 + Math.PI));
      expect(Math.abs(Math.atan2(Math.sin(theta - expected), Math.cos(theta - expected)))).toBeLessThan(0.02);
      const projected = projectLoop(rotatedLoop(P, theta0).amp, rotatedLoop(P, theta0).phase, theta, new Float32Array(T));
      expect(loopArea(projected, V)).toBeGreaterThan(0);
    });
  }

  it('estimates the simulator rotation (0.3 rad, up to the area orientation) from a simulated scan', () => {
    const scan = simulateScan({ rows: 8, cols: 8, seed: 3 });
    const theta = estimateThetaForScan(scan.start, Array.from(scan.pixels(), (p) => p.data), { cycle: 1, field: 'off' });
    const d = Math.abs(Math.atan2(Math.sin(2 * (theta - SIM_ROTATION_RAD)), Math.cos(2 * (theta - SIM_ROTATION_RAD)))) / 2; // mod π
    expect(d).toBeLessThan(0.05);
  });
});

describe('toModelInput / fromModelOutput', () => {
  const loopStart = (T: number, names: string[], unit = ''): StartHeader => ({
    type: 'start',
    protocol: 1,
    scanId: 's',
    grid: { rows: 1, cols: 1, order: 'raster' },
    kind: 'loop',
    dcVoltage: Array.from({ length: T }, (_, i) => i),
    fields: ['off'],
    cycles: 1,
    phaseUnit: 'rad',
    buffers: names.map((name) => ({ name, dtype: 'float32' as const, shape: [T], unit })),
    metadata: {},
  });

  it('writes [T][C] rolled and z-scored at the offset; NaN filled; inverse scaling gives the physical values back', () => {
    const T = 8;
    const start = loopStart(T, ['piezoresponse', 'resonance'], 'kHz');
    const spec: PreprocessSpec = {
      kind: 'loop', T, C: 2, channels: ['piezoresponse', 'resonance'], cycle: 0, field: 'off', thetaRad: 0,
      mean: [1, 100], std: [2, 10], voltage: rolledVoltage(start.dcVoltage, 2), rollSteps: 2, savgol: { window: 7, order: 3, points: 0 },
    };
    const p = f32(0, 1, 2, NaN, 4, 5, 6, 7);
    const r = f32(100, 110, 120, 130, 140, 150, 160, 170);
    const out = new Float32Array(3 + T * 2);
    toModelInput([p, r], start, spec, out, 3);
    const expectP = [2, 3, 4, 5, 6, 7, 0, 1].map((v) => (v - 1) / 2);
    const expectR = [120, 130, 140, 150, 160, 170, 100, 110].map((v) => (v - 100) / 10);
    for (let i = 0; i < T; i++) {
      expect(out[3 + i * 2]).toBeCloseTo(expectP[i]!, 6);
      expect(out[3 + i * 2 + 1]).toBeCloseTo(expectR[i]!, 6);
    }
    expect(spec.voltage).toEqual([2, 3, 4, 5, 6, 7, 0, 1]);
    const phys = fromModelOutput(out.subarray(3), spec, 1);
    const direct = new Float32Array(T * 2);
    toPhysicalLoop([p, r], start, spec, direct);
    for (let i = 0; i < T * 2; i++) expect(phys[i]).toBeCloseTo(direct[i]!, 4);
  });

  it('fits statistics on simulated sho scans so that the training tensor has mean 0 and std 1 per channel', () => {
    const scan = simulateScan({ rows: 6, cols: 6, seed: 5 });
    const { spec, data, n } = fitPreprocess([{ start: scan.start, pixels: Array.from(scan.pixels(), (p) => p.data) }]);
    expect(spec).toMatchObject({ kind: 'sho', T: 96, C: 2, cycle: 1, field: 'off', rollSteps: 24 });
    expect(spec.voltage[0]).toBe(Math.max(...scan.start.dcVoltage)); // starts at +Vmax after the quarter-cycle roll
    expect(spec.mean[1]).toBeGreaterThan(1200); // resonance in kHz
    for (let c = 0; c < 2; c++) {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n * 96; i++) {
        s += data[i * 2 + c]!;
        s2 += data[i * 2 + c]! ** 2;
      }
      expect(s / (n * 96)).toBeCloseTo(0, 4);
      expect(s2 / (n * 96)).toBeCloseTo(1, 3);
    }
    // the same pixel through the hot path gives the same row of the tensor
    const out = new Float32Array(96 * 2);
    toModelInput(scan.pixel(7).data, scan.start, spec, out);
    for (let i = 0; i < 192; i++) expect(out[i]).toBeCloseTo(data[7 * 192 + i]!, 5);
  });
});
