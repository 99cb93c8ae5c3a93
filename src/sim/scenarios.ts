/**
 * Named test scenarios that are not drawn from the loop model of src/sim/index.ts.
 *
 * `protocolTanhScan`: a live sho scan as someone would write it from docs/protocol.md alone (issue 16): bias
 * 0 → +10 → −10 → 0 V, loops P = A0·tanh((V ∓ Vc)/w) per branch, sent as amplitude |P| and phase 0 or π
 * (θ = 0), resonance 372 kHz, Q ≈ 180, the same values in and out of field. Nothing about it matches the
 * simulator's benchmark film (1324.8 kHz, θ = 0.3, ±16 V), which is the point: a model that only knows the
 * simulator must say that it does not fit. Two domains of different coercive bias give the maps structure; an
 * optional dead patch (no piezoresponse) is a planted anomaly with known position.
 */
import { shoStartHeader } from '../protocol/messages.ts';
import type { PixelEvent } from '../protocol/events.ts';
import { triangleWaveform } from './loop-model.ts';
import { subRng } from '../util/prng.ts';
import { SIM_T0, type SimTruth, type SimulatedScan } from './index.ts';

/** Options of the docs/protocol.md tanh scan; every one has the value as default. */
export interface ProtocolTanhOptions {
  rows?: number;
  cols?: number;
  seed?: number;
  /** DC steps per cycle (default 96, a multiple of 4) */
  steps?: number;
  /** bias cycles (default 2) */
  cycles?: number;
  /** bias peak, V (default 10) */
  vmax?: number;
  /** resonance, Hz (default 372 kHz) */
  f0Hz?: number;
  /** quality factor (default 180) */
  q?: number;
  /** loop amplitude A0, V (default 1e-4) */
  amplitude?: number;
  /** coercive bias of the two domains, V (default [3, 5]) */
  coerciveV?: [number, number];
  /** width w of the tanh switch, V (default 1) */
  widthV?: number;
  /** relative noise of the amplitude (default 0.02) */
  noise?: number;
  /** a rectangle of dead pixels (no piezoresponse): truth anomaly 1 ("dead") */
  deadPatch?: { row: number; col: number; rows: number; cols: number };
  pxPerSec?: number;
  t0?: number;
  scanId?: string;
}

/** The scan of issue 16's "live SHO scan written from docs/protocol.md alone". */
export function protocolTanhScan(o: ProtocolTanhOptions = {}): SimulatedScan {
  const rows = o.rows ?? 40;
  const cols = o.cols ?? 40;
  const seed = o.seed ?? 1;
  const steps = o.steps ?? 96;
  const cycles = o.cycles ?? 2;
  const vmax = o.vmax ?? 10;
  const f0 = o.f0Hz ?? 372e3;
  const q = o.q ?? 180;
  const a0 = o.amplitude ?? 1e-4;
  const [vcA, vcB] = o.coerciveV ?? [3, 5];
  const w = o.widthV ?? 1;
  const noise = o.noise ?? 0.02;
  const pxPerSec = o.pxPerSec ?? 200;
  const t0 = o.t0 ?? SIM_T0;
  const scanId = o.scanId ?? `protocol-tanh-s${seed}-${rows}x${cols}`;
  if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(cols) && cols > 0)) throw new RangeError(`protocolTanhScan: rows and cols must be positive integers; got ${rows}x${cols}`);
  if (steps < 8 || steps % 4 !== 0) throw new RangeError(`protocolTanhScan: steps must be a multiple of 4 and ≥ 8; got ${steps}`);

  // Two domains split by a diagonal boundary; the dead patch on top.
  const mechanism = new Uint8Array(rows * cols);
  const anomaly = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mechanism[r * cols + c] = r / rows + c / cols > 1 ? 1 : 0;
  const regions: SimTruth['regions'] = [];
  const d = o.deadPatch;
  if (d) {
    const r1 = Math.min(rows, d.row + d.rows), c1 = Math.min(cols, d.col + d.cols);
    if (!(d.row >= 0 && d.col >= 0 && r1 > d.row && c1 > d.col)) throw new RangeError(`protocolTanhScan: dead patch ${JSON.stringify(d)} lies outside the ${rows}x${cols} grid`);
    for (let r = d.row; r < r1; r++) for (let c = d.col; c < c1; c++) anomaly[r * cols + c] = 1;
    // kind 'noSwitching' is the simulator's name for a region without switching
    regions.push({ id: 1, kind: 'noSwitching', rowMin: d.row, rowMax: r1 - 1, colMin: d.col, colMax: c1 - 1, pixels: (r1 - d.row) * (c1 - d.col) });
  }
  const truth: SimTruth = { mechanism, mechanismNames: [`tanh-vc${vcA}`, `tanh-vc${vcB}`], anomaly, anomalyNames: ['dead'], regions };

  const wave = triangleWaveform(steps, vmax);
  const start = shoStartHeader({
    scanId,
    rows,
    cols,
    dcVoltage: Array.from(wave.volts, (v) => Math.round(v * 1e6) / 1e6),
    fields: ['on', 'off'],
    cycles,
    metadata: { generator: 'loopstream-sim', scenario: 'protocol-tanh', seed, vmax, f0Hz: f0, q, amplitude: a0, coerciveV: [vcA, vcB], widthV: w, noise },
  });

  const pixel = (seq: number): PixelEvent => {
    if (!(Number.isInteger(seq) && seq >= 0 && seq < rows * cols)) throw new RangeError(`protocolTanhScan: seq ${seq} is outside the ${rows}x${cols} grid`);
    const row = Math.floor(seq / cols), col = seq % cols;
    const i = seq;
    const rng = subRng(seed, seq);
    const vc = mechanism[i] ? vcB : vcA;
    const dead = anomaly[i] === 1;
    const n = cycles * 2 * steps;
    const amplitude = new Float32Array(n), phase = new Float32Array(n), frequency = new Float32Array(n), quality = new Float32Array(n);
    for (let s = 0; s < cycles * 2; s++) {
      for (let k = 0; k < steps; k++) {
        const v = wave.volts[k];
        // falling branch switches down at −Vc, rising branch up at +Vc
        const P = dead ? 0 : a0 * Math.tanh((v - (wave.falling[k] ? -vc : vc)) / w);
        const x = P + a0 * noise * rng.normal();
        const j = s * steps + k;
        amplitude[j] = Math.abs(x);
        phase[j] = x >= 0 ? 0 : Math.PI;
        frequency[j] = f0 + 50 * rng.normal();
        quality[j] = q + 3 * rng.normal();
      }
    }
    return { type: 'pixel', scanId, seq, row, col, t: t0 + seq / pxPerSec, data: [amplitude, phase, frequency, quality] };
  };
  return {
    start,
    truth,
    pixel,
    *pixels() {
      for (let seq = 0; seq < rows * cols; seq++) yield pixel(seq);
    },
  };
}
