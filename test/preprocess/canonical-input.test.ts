/**
 * The canonical model input (src/preprocess/canonical-input.ts) and Hampel spike removal, on known answers:
 * resampling along the cycle, θ estimated per scan, normalisation per scan and per pixel, missing channels, and
 * spikes removed without touching a clean loop's switching edges.
 */
import { describe, expect, it } from 'vitest';
import {
  canonicalDescriptor,
  canonicalInputs,
  canonicalVoltage,
  cyclePhase,
  fitScanInputState,
  resampleCycle,
  rollToVmax,
  sourcePlan,
  toCanonicalInput,
} from '../../src/preprocess/canonical-input.ts';
import { hampelFilter } from '../../src/preprocess/hampel.ts';
import type { StartHeader } from '../../src/protocol/messages.ts';
import { SIM_ROTATION_RAD, simulateScan } from '../../src/sim/index.ts';

/** A bias cycle 0 → +v → −v → 0 of `steps` steps (multiple of 4). */
function wave(steps: number, v: number): number[] {
  const q = steps / 4;
  return Array.from({ length: steps }, (_, i) => (i <= q ? (v * i) / q : i <= 3 * q ? v * (2 - i / q) : v * (i / q - 4)));
}

function loopStart(dc: number[], buffers: string[], scanId = 'loops'): StartHeader {
  return {
    type: 'start', protocol: 1, scanId, grid: { rows: 4, cols: 4, order: 'raster' }, kind: 'loop', dcVoltage: dc, fields: ['off'], cycles: 1,
    phaseUnit: 'rad', buffers: buffers.map((name) => ({ name, dtype: 'float32' as const, shape: [dc.length], unit: name === 'resonance' ? 'Hz' : 'pm' })), metadata: {},
  };
}

/** A tanh loop on bias `dc` (acquisition order): coercive ±vc, height h, offset o. */
function loop(dc: number[], vc: number, h: number, o: number): Float32Array {
  return Float32Array.from(dc, (v, i) => {
    const rising = i === 0 ? dc[1]! > dc[0]! : v >= dc[i - 1]!;
    return o + h * Math.tanh((v - (rising ? vc : -vc)) / 0.5);
  });
}

describe('the normalised voltage axis', () => {
  it('is a triangle from +1 down to −1 and back, starting at +1', () => {
    expect(canonicalVoltage(8)).toEqual([1, 0.5, 0, -0.5, -1, -0.5, 0, 0.5]);
    expect(cyclePhase(canonicalVoltage(8))).toEqual([0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875]);
  });
  it('rolls a cycle starting at 0 V to its maximum', () => {
    expect(rollToVmax(wave(64, 8))).toBe(16);
  });
  it('resamples along the cycle: identity on the same grid, exact on a linear stretch, wraps around', () => {
    const ph = [0, 0.25, 0.5, 0.75];
    const out = new Float64Array(8);
    resampleCycle([4, 2, 0, 2], ph, cyclePhase(canonicalVoltage(8)), out);
    expect(Array.from(out)).toEqual([4, 3, 2, 1, 0, 1, 2, 3]); // the last value interpolates towards the first
    const same = new Float64Array(4);
    resampleCycle([5, 6, 7, 8], ph, ph, same);
    expect(Array.from(same)).toEqual([5, 6, 7, 8]);
  });
});

describe('toCanonicalInput', () => {
  it('maps a 64-step ±8 V loop and a 96-step ±16 V loop of the same shape onto the same input', () => {
    const d = canonicalDescriptor(96, ['piezoresponse'], 'pixel');
    const a = loopStart(wave(64, 8), ['piezoresponse']);
    const b = loopStart(wave(96, 16), ['piezoresponse']);
    // same loop in normalised voltage: coercive at 0.25 Vmax, width scaled with Vmax
    const la = Float32Array.from(a.dcVoltage, (v, i) => Math.tanh((v / 8 - (i >= 16 && i < 48 ? -0.25 : 0.25)) / 0.3));
    const lb = Float32Array.from(b.dcVoltage, (v, i) => 1e3 * Math.tanh((v / 16 - (i >= 24 && i < 72 ? -0.25 : 0.25)) / 0.3) + 50);
    const xa = canonicalInputs(a, [[la]], d).data;
    const xb = canonicalInputs(b, [[lb]], d).data;
    let worst = 0;
    for (let t = 0; t < 96; t++) worst = Math.max(worst, Math.abs(xa[t]! - xb[t]!));
    expect(worst).toBeLessThan(0.02); // linear interpolation of a 64-step loop at 96 points, on a [−1, 1] scale
    expect(Math.max(...xb)).toBeCloseTo(1, 5); // per pixel: half-height 1 after the offset is removed
    expect(Math.min(...xb)).toBeCloseTo(-1, 5);
  });

  it('estimates θ per scan from its first pixels and records it in the frozen state', () => {
    const sim = simulateScan({ rows: 6, cols: 6, seed: 4 });
    const d = canonicalDescriptor(96, ['piezoresponse', 'resonance'], 'scan');
    const state = fitScanInputState(sim.start, Array.from(sim.pixels(), (p) => p.data), d);
    expect(Math.abs(Math.sin(state.thetaRad! - SIM_ROTATION_RAD))).toBeLessThan(0.05);
    expect(state).toMatchObject({ kind: 'sho', cycle: 1, field: 'off', fittedOnPixels: 36, grid: { sourceSteps: 96, vmax: 16, rollSteps: 24, T: 96 } });
    // resonance in Hz becomes kHz; its scan centre is the simulator's ~1.32 MHz
    expect(state.channels[1]!.centre).toBeGreaterThan(1310);
    expect(state.channels[1]!.centre).toBeLessThan(1330);
  });

  it('normalises per scan with a frozen median/MAD, and per pixel apart from height and offset', () => {
    const dc = wave(32, 4);
    const start = loopStart(dc, ['piezoresponse']);
    const pixels = [loop(dc, 1, 1, 0), loop(dc, 1, 100, 7), loop(dc, 1, 0.1, -3), loop(dc, 1, 1e-3, 2)].map((p) => [p]);
    const perPixel = canonicalInputs(start, pixels, canonicalDescriptor(32, ['piezoresponse'], 'pixel'));
    const stats = { offset: 0, height: 0 };
    const x = new Float32Array(32);
    toCanonicalInput(pixels[1]!, start, perPixel.state, canonicalDescriptor(32, ['piezoresponse'], 'pixel'), x, 0, stats);
    expect(stats.offset).toBeCloseTo(7, 1);
    expect(stats.height).toBeCloseTo(100, -1);
    // loops of one shape and heights over three decades: one per-pixel input
    for (let t = 0; t < 32; t++) {
      expect(perPixel.data[32 + t]).toBeCloseTo(perPixel.data[t]!, 4);
      expect(perPixel.data[64 + t]).toBeCloseTo(perPixel.data[t]!, 4);
    }
    // below the floor (5% of the scan's median half-height, here 0.1·… of the median 0.55) a loop is not blown up
    // to full size: noise-only pixels stay small
    expect(perPixel.state.heightFloor).toBeCloseTo(0.05 * 0.55, 2);
    expect(Math.max(...perPixel.data.subarray(96, 128))).toBeLessThan(0.05);
    // per scan: the heights stay, relative to the scan's robust spread
    const perScan = canonicalInputs(start, pixels, canonicalDescriptor(32, ['piezoresponse'], 'scan'));
    const range = (k: number) => Math.max(...perScan.data.subarray(32 * k, 32 * k + 32)) - Math.min(...perScan.data.subarray(32 * k, 32 * k + 32));
    expect(range(1) / range(0)).toBeCloseTo(100, 0);
  });

  it('reads coercive biases and imprint on the scan\'s own voltage axis', () => {
    const dc = wave(128, 10);
    // a shifted loop: switches at −3 V on the way down and +5 V on the way up (imprint +1 V), height 2, offset 0.5
    const p = Float32Array.from(dc, (v, i) => {
      const down = i > 32 && i <= 96;
      return 0.5 + 2 * Math.tanh((v - (down ? -3 : 5)) / 0.4);
    });
    const d = canonicalDescriptor(96, ['piezoresponse'], 'pixel');
    const start = loopStart(dc, ['piezoresponse']);
    const state = fitScanInputState(start, [[p]], d);
    const stats = { offset: 0, height: 0, coercive: { down: 0, up: 0, imprint: 0 } };
    toCanonicalInput([p], start, state, d, new Float32Array(96), 0, stats);
    expect(stats.offset).toBeCloseTo(0.5, 2);
    expect(stats.height).toBeCloseTo(2, 2);
    expect(stats.coercive.down).toBeCloseTo(-3, 1);
    expect(stats.coercive.up).toBeCloseTo(5, 1);
    expect(stats.coercive.imprint).toBeCloseTo(1, 1);
  });

  it('fills a channel the scan lacks with the middle of the range; refuses only a scan with no piezoresponse', () => {
    const dc = wave(16, 2);
    const d = canonicalDescriptor(16, ['piezoresponse', 'resonance'], 'pixel');
    const { state, data } = canonicalInputs(loopStart(dc, ['piezoresponse']), [[loop(dc, 0.5, 1, 0)]], d);
    expect(state.channels.map((c) => c.present)).toEqual([true, false]);
    for (let t = 0; t < 16; t++) expect(data[t * 2 + 1]).toBe(0);
    expect(() => sourcePlan(loopStart(dc, ['resonance']), d)).toThrowError(expect.objectContaining({ code: 'LS_INPUT_UNMODELLABLE' }));
  });

  it('removes spikes before normalising, so one spike does not squash a loop', () => {
    const dc = wave(64, 8);
    const clean = loop(dc, 2, 1, 0);
    const spiky = Float32Array.from(clean);
    for (const i of [5, 20, 21, 40, 55]) spiky[i] = 100; // five spikes, two adjacent: more than the SG step's 3
    const d = canonicalDescriptor(64, ['piezoresponse'], 'pixel');
    const start = loopStart(dc, ['piezoresponse']);
    const a = canonicalInputs(start, [[clean]], d).data;
    const b = canonicalInputs(start, [[spiky]], d).data;
    let worst = 0;
    for (let t = 0; t < 64; t++) worst = Math.max(worst, Math.abs(a[t]! - b[t]!));
    expect(worst).toBeLessThan(0.1);
  });
});

describe('hampelFilter', () => {
  it('replaces isolated spikes and short bursts with the window median, counting them', () => {
    const x = Float32Array.from({ length: 20 }, (_, i) => i / 10);
    const ref = Float32Array.from(x);
    x[4] = 50;
    x[11] = -40;
    x[12] = -40;
    expect(hampelFilter(x)).toBe(3);
    // medians of the 7-wide windows: {.1 .2 .3 50 .5 .6 .7} → .5; {.8 .9 1 −40 −40 1.3 1.4} → .9; {.9 1 −40 −40 1.3 1.4 1.5} → 1
    expect(x[4]).toBeCloseTo(0.5, 6);
    expect(x[11]).toBeCloseTo(0.9, 6);
    expect(x[12]).toBeCloseTo(1.0, 6);
    for (const i of [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 13, 14]) expect(x[i]).toBe(ref[i]);
  });
  it('leaves a clean loop, switching edges included, untouched', () => {
    const dc = wave(64, 8);
    const x = loop(dc, 2, 1, 0);
    const ref = Float32Array.from(x);
    expect(hampelFilter(x)).toBe(0);
    expect(Array.from(x)).toEqual(Array.from(ref));
  });
  it('wraps around the cycle: a spike at the first step is judged by the last steps too', () => {
    const x = Float32Array.from({ length: 16 }, () => 1);
    x[0] = 9;
    expect(hampelFilter(x)).toBe(1);
    expect(x[0]).toBe(1);
  });
});
