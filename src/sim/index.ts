/**
 * Synthetic BEPS scans with known ground truth (docs/science.md §5): a map of switching mechanisms in domain-like
 * bands and blobs, per-pixel loops from the 9-parameter loop model, resonance softening near switching, noise,
 * and planted anomalous regions. Output is protocol v1 kind `sho`, exactly what a live instrument would send.
 *
 * Every pixel draws its randomness from its own sub-stream of the seed, so `pixel(seq)` is random-access and
 * `pixels()` can be iterated any number of times with identical results.
 */
import { PROTOCOL_VERSION, shoStartHeader, type StartHeader } from '../protocol/messages.ts';
import type { PixelEvent } from '../protocol/events.ts';
import { pixelOfSeq } from '../maps/scan-order.ts';
import { loopBranch, triangleWaveform, type LoopCoefs } from './loop-model.ts';
import { subRng, type Rng } from '../util/prng.ts';

/** Switching mechanisms of the synthetic film (docs/science.md §5); truth indices follow this order. */
export const MECHANISM_NAMES = ['classic180', 'twoStep', 'weak'] as const;
export type MechanismName = (typeof MECHANISM_NAMES)[number];

// The truth's vocabulary lives in src/contracts/sim-truth.ts: the store writes it into scan files and sources read it back.
import { ANOMALY_KINDS, type AnomalyKind, type SimTruth } from '../contracts/sim-truth.ts';
export { ANOMALY_KINDS, type AnomalyKind, type SimTruth };

/** What to simulate. */
export interface SimOptions {
  rows: number;
  cols: number;
  seed: number;
  /** planted anomalous regions (default 0) */
  anomalies?: number;
  /** DC steps per cycle (default 96) */
  steps?: number;
  /** bias cycles (default 2) */
  cycles?: number;
  /** noise multiplier (default 1; 0 = noiseless) */
  noise?: number;
  /** restrict the mechanisms used (e.g. a fine-tuning scan whose mechanisms differ from training) */
  mechanisms?: MechanismName[];
  /** anomaly kinds to plant, assigned in turn to the regions (default all four) */
  anomalyKinds?: AnomalyKind[];
  /** peak DC bias, V (default 16) */
  vmax?: number;
  /** nominal acquisition rate for pixel timestamps, px/s (default 200) */
  pxPerSec?: number;
  /** timestamp of the first pixel, s since the epoch (default 2026-01-01T00:00:00Z, fixed for determinism) */
  t0?: number;
  /** scan id (default `sim-s<seed>-<rows>x<cols>`) */
  scanId?: string;

  // Scan-to-scan variety (the corpus generator, src/sim/corpus.ts). Every option below is off by default, and a
  // scan that uses none of them is bit-identical to what this simulator always produced for its seed.

  /** data kind: `sho` (default: SHO fits [cycles, fields, steps]) or `loop` (projected loops of the last cycle, off-field) */
  kind?: 'sho' | 'loop';
  /** magnitude of the negative bias peak, V (default vmax): a slightly asymmetric range such as +10/−9 V */
  vneg?: number;
  /** where the acquisition waveform starts: `zero` (0 → +Vmax → −Vmax → 0, default) or `vmax` (+Vmax → −Vmax → +Vmax) */
  waveStart?: 'zero' | 'vmax';
  /** centre of the contact resonance, Hz (default 1324.8 kHz); stiffness offsets and softening scale with it */
  f0Hz?: number;
  /** quality factor of switching pixels (default 170; weak pixels have 120/170 of it) */
  q?: number;
  /** rotation θ between lock-in phase and polarization, rad (default 0.3) */
  rotationRad?: number;
  /** multiplies every loop voltage (coercive biases, corner widths, anomaly shifts; default 1 = the ±16 V film) */
  coerciveScale?: number;
  /** multiplies loop heights and the piezoresponse noise floor of the whole scan (default 1: loops ~2e-4) */
  heightScale?: number;
  /** smooth per-pixel spread of loop height over the map, in decades (default 0); the noise floor does not follow it */
  heightSpreadDecades?: number;
  /** imprint: every loop shifted along the bias axis by this many volts (default 0) */
  imprintV?: number;
  /** coercive asymmetry: the negative coercive bias is scaled by (1 + a), the positive by (1 − a) (default 0) */
  asymmetry?: number;
  /** vertical offset of every loop as a fraction of the nominal loop height (default 0) */
  offset?: number;
  /** mean number of spikes (tip events, failed fits) per loop and channel, Poisson-distributed (default 0) */
  spikesPerLoop?: number;
  /** mean number of failed fits (NaN in every buffer at that step) per loop, Poisson-distributed (default 0) */
  nanPerLoop?: number;
  /** share of dead pixels: no piezoresponse, resonance fit failing (default 0); marked in truth.dead */
  deadFraction?: number;
  /** phase unit of sho scans (default rad) */
  phaseUnit?: 'rad' | 'deg';
  /** unit of the resonance buffer of loop scans (default Hz) */
  resonanceUnit?: 'Hz' | 'kHz';
}

/** The variety options of SimOptions, resolved to their values (defaults: the original simulator). */
interface Variety {
  kind: 'sho' | 'loop';
  f0Hz: number;
  q: number;
  rotationRad: number;
  coerciveScale: number;
  heightScale: number;
  imprintV: number;
  asymmetry: number;
  offset: number;
  spikesPerLoop: number;
  nanPerLoop: number;
  phaseUnit: 'rad' | 'deg';
  resonanceUnit: 'Hz' | 'kHz';
}

const VARIETY_KEYS = [
  'kind', 'vneg', 'waveStart', 'f0Hz', 'q', 'rotationRad', 'coerciveScale', 'heightScale', 'heightSpreadDecades',
  'imprintV', 'asymmetry', 'offset', 'spikesPerLoop', 'nanPerLoop', 'deadFraction', 'phaseUnit', 'resonanceUnit',
] as const satisfies ReadonlyArray<keyof SimOptions>;

/** A simulated scan: the start header, its truth and its pixels in seq order. */
export interface SimulatedScan {
  start: StartHeader;
  truth: SimTruth;
  /** pixels in seq order; deterministic, may be iterated again */
  pixels(): Iterable<PixelEvent>;
  /** one pixel by seq (0 ≤ seq < rows*cols) */
  pixel(seq: number): PixelEvent;
}

/** Fixed rotation between the lock-in phase and the polarization axis (docs/science.md §2): P = A·cos(φ + θ). */
export const SIM_ROTATION_RAD = 0.3;
/** Centre of the benchmark resonance (docs/science.md §2), Hz. */
export const SIM_F0_HZ = 1324.8e3;
/** Default first timestamp: 2026-01-01T00:00:00Z. */
export const SIM_T0 = 1767225600;

const PIEZO_NOISE = 4e-6; // complex response noise per component (benchmark loops span ~2e-4)
const FREQ_NOISE_HZ = 300;
const Q_NOISE = 4;
const ES_SLOPE = 4e-6; // in-field electrostatic term per volt (docs/science.md §1: in-field carries the bias)
const SOFTENING_HZ = 8e3; // resonance dip at switching: ~1317 kHz from ~1325 kHz
const SOFTENING_WIDTH_V = 1.6;

/** Build a deterministic synthetic scan. */
export function simulateScan(opts: SimOptions): SimulatedScan {
  const { rows, cols, seed } = opts;
  if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(cols) && cols > 0)) {
    throw new RangeError(`simulateScan: rows and cols must be positive integers; got ${rows}x${cols}`);
  }
  const steps = opts.steps ?? 96;
  const cycles = opts.cycles ?? 2;
  const noise = opts.noise ?? 1;
  const vmax = opts.vmax ?? 16;
  const pxPerSec = opts.pxPerSec ?? 200;
  const t0 = opts.t0 ?? SIM_T0;
  const anomalies = opts.anomalies ?? 0;
  const kinds = opts.anomalyKinds?.length ? opts.anomalyKinds : [...ANOMALY_KINDS];
  const allowed = opts.mechanisms?.length ? opts.mechanisms : [...MECHANISM_NAMES];
  if (steps < 8 || steps % 4 !== 0) throw new RangeError(`simulateScan: steps must be a multiple of 4 and ≥ 8; got ${steps}`);
  if (!(cycles >= 1)) throw new RangeError(`simulateScan: cycles must be ≥ 1; got ${cycles}`);
  const scanId = opts.scanId ?? `sim-s${seed}-${rows}x${cols}`;
  const variety = resolveVariety(opts);
  const vneg = opts.vneg ?? vmax;
  if (!(vmax > 0 && vneg > 0)) throw new RangeError(`simulateScan: vmax and vneg must be > 0 V; got ${vmax} and ${vneg}`);
  const varied = VARIETY_KEYS.some((k) => opts[k] !== undefined);

  const fields = smoothFields(rows, cols, seed);
  const mechanism = mechanismMap(rows, cols, fields, allowed);
  const { anomaly, region, regions } = plantRegions(rows, cols, seed, anomalies, kinds);
  const truth: SimTruth = {
    mechanism,
    mechanismNames: [...MECHANISM_NAMES],
    anomaly,
    anomalyNames: [...ANOMALY_KINDS],
    region,
    regions,
  };
  // Variety draws come from their own sub-streams (-3, -4, and seed-shifted per-pixel ones), so the draws of the
  // original simulator, and with them the default scans, are untouched.
  const spread = heightSpread(rows, cols, seed, opts.heightSpreadDecades ?? 0);
  const dead = deadMap(rows * cols, seed, opts.deadFraction ?? 0);
  if (dead) truth.dead = dead;

  const wave = rollWave(triangleWaveform(steps, vmax, vneg), opts.waveStart === 'vmax' ? steps / 4 : 0);
  const dcVoltage = Array.from(wave.volts, (v) => Math.round(v * 1e6) / 1e6);
  const metadata: Record<string, unknown> = {
    generator: 'loopstream-sim',
    seed,
    noise,
    anomalies: regions.length,
    rotationRad: variety.rotationRad,
    pxPerSec,
    mechanisms: allowed,
  };
  if (varied) {
    // self-describing corpus files: every scan parameter the generator used, in the file's start header
    Object.assign(metadata, { steps, cycles, vmax, vneg, waveStart: opts.waveStart ?? 'zero', ...variety, heightSpreadDecades: opts.heightSpreadDecades ?? 0, deadFraction: opts.deadFraction ?? 0 });
  }
  const start: StartHeader = variety.kind === 'loop' ? loopStartHeader(scanId, rows, cols, dcVoltage, variety.resonanceUnit, metadata) : shoStartHeader({ scanId, rows, cols, dcVoltage, fields: ['on', 'off'], cycles, metadata });
  if (variety.kind === 'sho' && variety.phaseUnit === 'deg') {
    start.phaseUnit = 'deg';
    start.buffers = start.buffers.map((b) => (b.name === 'phase' ? { ...b, unit: 'deg' } : b));
  }

  const pixel = (seq: number): PixelEvent => {
    const at = pixelOfSeq(seq, rows, cols, 'raster');
    if (!at) throw new RangeError(`simulateScan: seq ${seq} is outside the ${rows}x${cols} grid`);
    const i = at.row * cols + at.col;
    const kind = anomaly[i] ? ANOMALY_KINDS[anomaly[i] - 1] : undefined;
    const params: PixelParams = {
      mech: MECHANISM_NAMES[mechanism[i]],
      anomaly: kind,
      steps,
      cycles,
      noise,
      wave,
      amp: fields.amp[i],
      coercive: fields.coercive[i],
      stiff: fields.stiff[i],
    };
    const data = varied
      ? pixelData(subRng(seed, seq), params, variety, { extra: subRng(seed + VARIETY_STREAM, seq), heightFactor: spread ? spread[i] : 1, dead: dead?.[i] === 1 })
      : pixelData(subRng(seed, seq), params);
    return { type: 'pixel', scanId, seq, row: at.row, col: at.col, t: t0 + seq / pxPerSec, data };
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

/** Smooth spatial fields in [-1, 1]: band warping, weak-blob mask, amplitude, coercive and stiffness variation. */
interface Fields {
  band: Float32Array;
  weak: Float32Array;
  amp: Float32Array;
  coercive: Float32Array;
  stiff: Float32Array;
}

function smoothFields(rows: number, cols: number, seed: number): Fields {
  const rng = subRng(seed, -1);
  const size = Math.max(rows, cols);
  const warp = valueNoise(rows, cols, Math.max(4, size / 4), rng);
  const band = new Float32Array(rows * cols);
  // a1/a2-like bands at a random angle, warped so they look grown rather than drawn.
  const angle = Math.PI * (0.15 + 0.2 * rng());
  const period = Math.max(6, size / 3.2);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      band[i] = Math.sin((2 * Math.PI * (r * Math.cos(angle) + c * Math.sin(angle))) / period + 2.2 * warp[i]);
    }
  }
  return {
    band,
    weak: valueNoise(rows, cols, Math.max(3, size / 5), rng),
    amp: valueNoise(rows, cols, Math.max(3, size / 6), rng),
    coercive: valueNoise(rows, cols, Math.max(3, size / 6), rng),
    stiff: valueNoise(rows, cols, Math.max(3, size / 8), rng),
  };
}

/** Bilinear value noise on a lattice of spacing `cell`, smoothstep-interpolated, values in [-1, 1]. */
function valueNoise(rows: number, cols: number, cell: number, rng: Rng): Float32Array {
  const lr = Math.ceil(rows / cell) + 2;
  const lc = Math.ceil(cols / cell) + 2;
  const lattice = new Float32Array(lr * lc);
  for (let i = 0; i < lattice.length; i++) lattice[i] = 2 * rng() - 1;
  const out = new Float32Array(rows * cols);
  const s = (x: number) => x * x * (3 - 2 * x);
  for (let r = 0; r < rows; r++) {
    const y = r / cell;
    const y0 = Math.floor(y);
    const fy = s(y - y0);
    for (let c = 0; c < cols; c++) {
      const x = c / cell;
      const x0 = Math.floor(x);
      const fx = s(x - x0);
      const v00 = lattice[y0 * lc + x0];
      const v01 = lattice[y0 * lc + x0 + 1];
      const v10 = lattice[(y0 + 1) * lc + x0];
      const v11 = lattice[(y0 + 1) * lc + x0 + 1];
      out[r * cols + c] = (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy;
    }
  }
  return out;
}

function mechanismMap(rows: number, cols: number, f: Fields, allowed: readonly MechanismName[]): Uint8Array {
  const out = new Uint8Array(rows * cols);
  for (let i = 0; i < out.length; i++) {
    let m: MechanismName = f.band[i] > 0.3 ? 'twoStep' : 'classic180';
    if (f.weak[i] > 0.45) m = 'weak';
    if (!allowed.includes(m)) {
      // Restricted sets keep the same spatial pattern, relabelled onto what is allowed.
      m = allowed[MECHANISM_NAMES.indexOf(m) % allowed.length];
    }
    out[i] = MECHANISM_NAMES.indexOf(m);
  }
  return out;
}

/** Compact, non-touching blobs grown from random centres, ~20–60 pixels each (less on small grids). */
function plantRegions(rows: number, cols: number, seed: number, count: number, kinds: readonly AnomalyKind[]) {
  const n = rows * cols;
  const anomaly = new Uint8Array(n);
  const region = new Uint16Array(n);
  const blocked = new Uint8Array(n); // region pixels and their 1-pixel border
  const regions: SimTruth['regions'] = [];
  if (count <= 0) return { anomaly, region, regions };
  const rng = subRng(seed, -2);
  const maxSize = Math.min(60, Math.floor(n / (3 * count)));
  const minSize = Math.min(20, maxSize);
  if (minSize < 4) {
    throw new RangeError(`simulateScan: ${count} anomalous region(s) do not fit a ${rows}x${cols} grid (each needs ≥ 4 pixels and a free border); use fewer anomalies or a larger grid`);
  }
  for (let id = 1; id <= count; id++) {
    const target = minSize + Math.floor(rng() * (maxSize - minSize + 1));
    let placed: number[] | undefined;
    for (let attempt = 0; attempt < 200 && !placed; attempt++) {
      const r0 = Math.floor(rng() * rows);
      const c0 = Math.floor(rng() * cols);
      if (blocked[r0 * cols + c0]) continue;
      const blob = growBlob(rows, cols, r0, c0, target, blocked, rng);
      if (blob.length === target) placed = blob;
    }
    if (!placed) {
      throw new RangeError(`simulateScan: could not place anomalous region ${id} of ${count} (${target} px) in a ${rows}x${cols} grid without overlap; use fewer anomalies`);
    }
    const kind = kinds[(id - 1) % kinds.length];
    const k = ANOMALY_KINDS.indexOf(kind) + 1;
    let rowMin = rows, rowMax = -1, colMin = cols, colMax = -1;
    for (const i of placed) {
      anomaly[i] = k;
      region[i] = id;
      const r = Math.floor(i / cols);
      const c = i % cols;
      rowMin = Math.min(rowMin, r); rowMax = Math.max(rowMax, r);
      colMin = Math.min(colMin, c); colMax = Math.max(colMax, c);
      for (let dr = -1; dr <= 1; dr++) {
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr, cc = c + dc;
          if (rr >= 0 && rr < rows && cc >= 0 && cc < cols) blocked[rr * cols + cc] = 1;
        }
      }
    }
    regions.push({ id, kind, rowMin, rowMax, colMin, colMax, pixels: placed.length });
  }
  return { anomaly, region, regions };
}

function growBlob(rows: number, cols: number, r0: number, c0: number, target: number, blocked: Uint8Array, rng: Rng): number[] {
  const taken = new Set<number>([r0 * cols + c0]);
  const frontier = new Map<number, number>(); // pixel → score (distance to centre + jitter), lowest grows first
  const push = (r: number, c: number) => {
    if (r < 0 || r >= rows || c < 0 || c >= cols) return;
    const i = r * cols + c;
    if (blocked[i] || taken.has(i) || frontier.has(i)) return;
    frontier.set(i, Math.hypot(r - r0, (c - c0) * 0.85) + 0.9 * rng());
  };
  const neighbours = (i: number) => {
    const r = Math.floor(i / cols), c = i % cols;
    push(r - 1, c); push(r + 1, c); push(r, c - 1); push(r, c + 1);
  };
  neighbours(r0 * cols + c0);
  while (taken.size < target && frontier.size > 0) {
    let best = -1, bestScore = Infinity;
    for (const [i, s] of frontier) if (s < bestScore) { best = i; bestScore = s; }
    frontier.delete(best);
    taken.add(best);
    neighbours(best);
  }
  return [...taken].sort((a, b) => a - b);
}

interface PixelParams {
  mech: MechanismName;
  anomaly: AnomalyKind | undefined;
  steps: number;
  cycles: number;
  noise: number;
  wave: { volts: Float64Array; falling: Uint8Array };
  amp: number;
  coercive: number;
  stiff: number;
}

/** Sub-loops whose sum is the pixel's loop: one for 180° switching, two for three-state or pinched loops. */
function loopsFor(p: PixelParams, rng: Rng): LoopCoefs[] {
  const j = () => 0.25 * rng.normal(); // per-pixel jitter, V
  const h = 2.0e-4 * (1 + 0.15 * p.amp + 0.03 * rng.normal());
  const vc = 1 + 0.12 * p.coercive;
  const corner = () => 1.2 + 0.6 * rng();
  const loop = (a1: number, a2: number, a3: number, a4 = 1e-7): LoopCoefs => ({
    a0: -a1 / 2, a1, a2, a3, a4, b0: corner(), b1: corner(), b2: corner(), b3: corner(),
  });
  switch (p.anomaly) {
    case 'imprint': // the whole loop shifted along the bias axis: a built-in field
      return [loop(h, -4.5 * vc + 7 + j(), 4.0 * vc + 7 + j())];
    case 'pinched': // two sub-loops centred at ±7 V: near-zero remanence at 0 V on both branches
      return [loop(h / 2, 4 + j(), 10 + j()), loop(h / 2, -10 + j(), -4 + j())];
    case 'noSwitching':
      return [loop(1e-6, -4, 4, 1.2e-6)];
    default:
      break;
  }
  switch (p.mech) {
    case 'classic180':
      return [loop(h, -4.5 * vc + j(), 4.0 * vc + j())];
    case 'twoStep': // ferroelastic a1/a2 switching: two steps, three states
      return [loop(h / 2, -3 * vc + j(), 2.5 * vc + j()), loop(h / 2, -9.5 * vc + j(), 9 * vc + j())];
    case 'weak':
      return [loop(h * 0.15, -7 * vc + j(), 6.5 * vc + j(), 4e-7)];
  }
}

/** Offset of the per-pixel variety sub-streams (spikes, dead pixels): far from the pixel streams of any nearby seed. */
const VARIETY_STREAM = 0x3c6ef372;

const ORIGINAL: Variety = {
  kind: 'sho',
  f0Hz: SIM_F0_HZ,
  q: 170,
  rotationRad: SIM_ROTATION_RAD,
  coerciveScale: 1,
  heightScale: 1,
  imprintV: 0,
  asymmetry: 0,
  offset: 0,
  spikesPerLoop: 0,
  nanPerLoop: 0,
  phaseUnit: 'rad',
  resonanceUnit: 'Hz',
};

function resolveVariety(o: SimOptions): Variety {
  const v: Variety = {
    kind: o.kind ?? ORIGINAL.kind,
    f0Hz: o.f0Hz ?? ORIGINAL.f0Hz,
    q: o.q ?? ORIGINAL.q,
    rotationRad: o.rotationRad ?? ORIGINAL.rotationRad,
    coerciveScale: o.coerciveScale ?? ORIGINAL.coerciveScale,
    heightScale: o.heightScale ?? ORIGINAL.heightScale,
    imprintV: o.imprintV ?? ORIGINAL.imprintV,
    asymmetry: o.asymmetry ?? ORIGINAL.asymmetry,
    offset: o.offset ?? ORIGINAL.offset,
    spikesPerLoop: o.spikesPerLoop ?? ORIGINAL.spikesPerLoop,
    nanPerLoop: o.nanPerLoop ?? ORIGINAL.nanPerLoop,
    phaseUnit: o.phaseUnit ?? ORIGINAL.phaseUnit,
    resonanceUnit: o.resonanceUnit ?? ORIGINAL.resonanceUnit,
  };
  const bad = (what: string) => {
    throw new RangeError(`simulateScan: ${what}`);
  };
  if (!(v.f0Hz > 0)) bad(`f0Hz must be > 0 Hz; got ${v.f0Hz}`);
  if (!(v.q > 0)) bad(`q must be > 0; got ${v.q}`);
  if (!(v.coerciveScale > 0)) bad(`coerciveScale must be > 0; got ${v.coerciveScale}`);
  if (!(v.heightScale > 0)) bad(`heightScale must be > 0; got ${v.heightScale}`);
  if (!(Math.abs(v.asymmetry) < 1)) bad(`asymmetry must lie in (-1, 1); got ${v.asymmetry}`);
  if (!(v.spikesPerLoop >= 0)) bad(`spikesPerLoop must be ≥ 0; got ${v.spikesPerLoop}`);
  if (!(v.nanPerLoop >= 0 && v.nanPerLoop < 8)) bad(`nanPerLoop must lie in [0, 8); got ${v.nanPerLoop}`);
  for (const k of ['rotationRad', 'imprintV', 'offset'] as const) if (!Number.isFinite(v[k])) bad(`${k} must be finite; got ${v[k]}`);
  const spread = o.heightSpreadDecades ?? 0;
  if (!(spread >= 0)) bad(`heightSpreadDecades must be ≥ 0; got ${spread}`);
  const dead = o.deadFraction ?? 0;
  if (!(dead >= 0 && dead < 1)) bad(`deadFraction must lie in [0, 1); got ${dead}`);
  return v;
}

/** The waveform rotated to start `by` steps later (the `vmax` start: by = steps / 4). */
function rollWave(w: { volts: Float64Array; falling: Uint8Array }, by: number): { volts: Float64Array; falling: Uint8Array } {
  if (by === 0) return w;
  const n = w.volts.length;
  const volts = new Float64Array(n);
  const falling = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    volts[k] = w.volts[(k + by) % n];
    falling[k] = w.falling[(k + by) % n];
  }
  return { volts, falling };
}

/** Per-pixel loop-height factors 10^(spread·u), u a smooth field in [-1/2, 1/2]; undefined when there is no spread. */
function heightSpread(rows: number, cols: number, seed: number, decades: number): Float32Array | undefined {
  if (!(decades > 0)) return undefined;
  const field = valueNoise(rows, cols, Math.max(3, Math.max(rows, cols) / 5), subRng(seed, -3));
  return field.map((u) => 10 ** ((decades * u) / 2));
}

/** Dead pixels, each with probability `fraction`; undefined when there are none. */
function deadMap(n: number, seed: number, fraction: number): Uint8Array | undefined {
  if (!(fraction > 0)) return undefined;
  const rng = subRng(seed, -4);
  return Uint8Array.from({ length: n }, () => (rng() < fraction ? 1 : 0));
}

/** A loop-kind start header: projected piezoresponse (V, from A·cos(φ + θ)) and resonance, one value per DC step. */
function loopStartHeader(scanId: string, rows: number, cols: number, dcVoltage: number[], resonanceUnit: string, metadata: Record<string, unknown>): StartHeader {
  const steps = dcVoltage.length;
  return {
    type: 'start',
    protocol: PROTOCOL_VERSION,
    scanId,
    grid: { rows, cols, order: 'raster' },
    kind: 'loop',
    dcVoltage,
    fields: ['off'],
    cycles: 1,
    phaseUnit: 'rad',
    buffers: [
      { name: 'piezoresponse', dtype: 'float32', shape: [steps], unit: 'V' },
      { name: 'resonance', dtype: 'float32', shape: [steps], unit: resonanceUnit },
    ],
    metadata,
  };
}

/** Poisson(mean) by Knuth's product of uniforms (means here are a few per loop). */
function poisson(rng: Rng, mean: number): number {
  if (!(mean > 0)) return 0;
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rng();
  while (p > limit) {
    k++;
    p *= rng();
  }
  return k;
}

/** Add Poisson(rate) spikes at distinct random steps of `arr[from, from + len)`; each adds ±magnitude() (sign random, or + when `positive`). */
function addSpikes(rng: Rng, arr: Float32Array, from: number, len: number, rate: number, magnitude: () => number, positive = false): void {
  const n = Math.min(len, poisson(rng, rate));
  const idx = Array.from({ length: len }, (_, k) => k);
  for (let s = 0; s < n; s++) {
    // partial Fisher–Yates: the first n entries become n distinct steps
    const j = s + Math.floor(rng() * (len - s));
    [idx[s], idx[j]] = [idx[j], idx[s]];
    const sign = positive || rng() < 0.5 ? 1 : -1;
    arr[from + idx[s]] += sign * magnitude();
  }
}

/** Poisson(rate) failed fits in `[from, from + len)`: NaN at that step in every buffer (protocol: NaN = failed fit). */
function addFailedFits(rng: Rng, buffers: Float32Array[], from: number, len: number, rate: number): void {
  if (!(rate > 0)) return;
  const n = Math.min(len - 1, poisson(rng, rate)); // never a whole loop: a buffer without a finite value is refused
  for (let s = 0; s < n; s++) {
    const k = from + Math.floor(rng() * len);
    for (const b of buffers) b[k] = NaN;
  }
}

/** Per-pixel extras of a varied scan. */
interface PixelExtras {
  /** the pixel's own variety stream (spikes, dead-pixel fits) */
  extra: Rng;
  /** loop-height factor of this pixel (heightSpreadDecades) */
  heightFactor: number;
  dead: boolean;
}

/**
 * One pixel's buffers. With the original variety and no extras this is, operation for operation, the original
 * simulator (multiplications by 1 and additions of 0 are exact), so default scans stay bit-identical.
 */
function pixelData(rng: Rng, p: PixelParams, v: Variety = ORIGINAL, x?: PixelExtras): Float32Array[] {
  const { steps, cycles, wave } = p;
  const n = cycles * 2 * steps;
  const amplitude = new Float32Array(n);
  const phase = new Float32Array(n);
  const frequency = new Float32Array(n);
  const quality = new Float32Array(n);
  const loops = shapeLoops(loopsFor(p, rng), v, x);
  const noiseScale = p.noise * (p.anomaly === 'noiseBurst' ? 20 : 1);
  const stiffHz = { classic180: 1.5e3, twoStep: -2.5e3, weak: 4e3 }[p.mech];
  const fr = v.f0Hz / SIM_F0_HZ; // frequency shifts are relative to the resonance
  const qr = v.q / 170;
  const f0 = v.f0Hz + fr * stiffHz + fr * 1.2e3 * p.stiff + fr * 200 * rng.normal();
  const q0 = (p.mech === 'weak' ? 120 : 170) * qr;
  const cosT = Math.cos(v.rotationRad);
  const sinT = Math.sin(v.rotationRad);
  const softWidth = SOFTENING_WIDTH_V * v.coerciveScale;
  const height = x ? x.heightFactor : 1;
  const offset = v.offset * 2e-4 * v.heightScale * height;
  const piezo = v.kind === 'loop' ? new Float32Array(steps) : undefined;
  for (let c = 0; c < cycles; c++) {
    // The first cycle wakes the film up: slightly smaller and harder to switch than the ones after it.
    const wake = c === 0 && cycles > 1 ? 0.92 : 1;
    const cycleLoops = wake === 1 ? loops : loops.map((L) => ({ ...L, a1: L.a1 * wake, a0: L.a0 * wake, a2: L.a2 / wake, a3: L.a3 / wake }));
    for (let f = 0; f < 2; f++) {
      const inField = f === 0; // fields = ['on', 'off']
      const base = (c * 2 + f) * steps;
      for (let k = 0; k < steps; k++) {
        const volts = wave.volts[k];
        const falling = wave.falling[k] === 1;
        let P = 0;
        let soft = 0;
        for (const L of cycleLoops) {
          P += loopBranch(volts, falling, L);
          const vc = falling ? L.a2 : L.a3;
          // Resonance softens while domains switch (docs/science.md §5); the dip scales with the switched fraction.
          soft += (Math.abs(L.a1) / 2e-4) * Math.exp(-(((volts - vc) / softWidth) ** 2));
        }
        if (x) P = P * v.heightScale * height + offset;
        if (inField) P += ES_SLOPE * v.heightScale * volts;
        // Complex response R = P·e^{-iθ} + noise, so A·cos(φ + θ) recovers P (docs/science.md §2).
        const nr = PIEZO_NOISE * v.heightScale * noiseScale * rng.normal();
        const ni = PIEZO_NOISE * v.heightScale * noiseScale * rng.normal();
        const re = P * cosT + nr;
        const im = -P * sinT + ni;
        const i = base + k;
        amplitude[i] = Math.hypot(re, im);
        phase[i] = Math.atan2(im, re);
        frequency[i] = f0 - SOFTENING_HZ * fr * soft - (inField ? 600 * fr : 0) + FREQ_NOISE_HZ * fr * noiseScale * rng.normal();
        quality[i] = q0 - 50 * qr * Math.min(1, soft) + Q_NOISE * qr * noiseScale * rng.normal();
        if (x?.dead) {
          // a dead pixel: the SHO fit finds no resonance; frequency and Q scatter widely
          frequency[i] = v.f0Hz * (1 + 0.05 * x.extra.normal());
          quality[i] = q0 * (0.2 + 0.8 * x.extra());
        }
        if (piezo && c === cycles - 1 && !inField) piezo[k] = re * cosT - im * sinT; // the projection P = A·cos(φ + θ)
      }
    }
  }
  if (!x) return [amplitude, phase, frequency, quality];
  const rate = v.spikesPerLoop;
  const loopHeight = 2e-4 * v.heightScale * x.heightFactor;
  const bigSpike = () => loopHeight * (3 + 7 * x.extra());
  const fitFailure = () => v.f0Hz * (0.01 + 0.04 * x.extra());
  if (piezo) {
    const last = ((cycles - 1) * 2 + 1) * steps;
    const resonance = frequency.slice(last, last + steps);
    if (v.resonanceUnit === 'kHz') for (let k = 0; k < steps; k++) resonance[k] /= 1e3;
    const unit = v.resonanceUnit === 'kHz' ? 1e-3 : 1;
    addSpikes(x.extra, piezo, 0, steps, rate, bigSpike);
    addSpikes(x.extra, resonance, 0, steps, rate, () => fitFailure() * unit);
    addFailedFits(x.extra, [piezo, resonance], 0, steps, v.nanPerLoop);
    return [piezo, resonance];
  }
  for (let s = 0; s < cycles * 2; s++) {
    addSpikes(x.extra, amplitude, s * steps, steps, rate, bigSpike, true);
    addSpikes(x.extra, frequency, s * steps, steps, rate, fitFailure);
    addFailedFits(x.extra, [amplitude, phase, frequency, quality], s * steps, steps, v.nanPerLoop);
  }
  if (v.phaseUnit === 'deg') for (let i = 0; i < n; i++) phase[i] = (phase[i] * 180) / Math.PI;
  return [amplitude, phase, frequency, quality];
}

/** Coercive scale, asymmetry and imprint applied to a pixel's sub-loops (varied scans only); a dead pixel has none. */
function shapeLoops(loops: LoopCoefs[], v: Variety, x: PixelExtras | undefined): LoopCoefs[] {
  if (!x) return loops;
  if (x.dead) return [];
  const cs = v.coerciveScale;
  return loops.map((L) => ({
    ...L,
    a2: L.a2 * cs * (1 + v.asymmetry) + v.imprintV,
    a3: L.a3 * cs * (1 - v.asymmetry) + v.imprintV,
    b0: L.b0 * cs,
    b1: L.b1 * cs,
    b2: L.b2 * cs,
    b3: L.b3 * cs,
  }));
}
