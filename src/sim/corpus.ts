/**
 * A broad, seeded corpus of simulated BEPS scans (issue 16 item 4): the training set of a default bundle that has
 * to generalise to real scans (docs/science.md §8). Each scan draws its own resonance, Q, bias range and step count,
 * loop height, imprint, asymmetry, offset, noise, spikes, mechanisms, dead pixels and planted regions, and is
 * written as an ordinary scan file (docs/formats.md) that replay and training read like any other.
 *
 * Scan i's parameters come from sub-stream i of the corpus seed alone, so the same seed always gives the same
 * corpus, and scan i does not change when more scans are asked for.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ANOMALY_KINDS, MECHANISM_NAMES, simulateScan, type AnomalyKind, type MechanismName, type SimOptions, type SimulatedScan } from './index.ts';
import { subRng, type Rng } from '../util/prng.ts';
import { protocolTanhScan, type ProtocolTanhOptions } from './scenarios.ts';

/** A closed interval [lo, hi]. */
export type Range = readonly [number, number];

/** What a corpus may contain; every draw is uniform in its range unless said otherwise. */
export interface CorpusRanges {
  /** contact resonance, Hz (log-uniform) */
  f0Hz: Range;
  /** quality factor (log-uniform) */
  q: Range;
  /** positive bias peak, V (log-uniform) */
  vmax: Range;
  /** share of scans with a slightly asymmetric range, and the ratio vneg / vmax they draw */
  asymmetricShare: number;
  vnegRatio: Range;
  /** DC steps per cycle (a multiple of 4 in the range) */
  steps: Range;
  /** bias cycles of sho scans (integer) */
  cycles: Range;
  /** loop-height scale of a scan (log-uniform; 1 = loops of ~2e-4): [1e-2, 1e2] spans four decades */
  heightScale: Range;
  /** spread of loop height within a scan, decades */
  heightSpreadDecades: Range;
  /** coercive voltages relative to the bias peak (1 = the benchmark film's ratio at ±16 V) */
  coerciveRatio: Range;
  /** imprint as a fraction of vmax */
  imprintFrac: Range;
  /** coercive asymmetry */
  asymmetry: Range;
  /** vertical offset, fraction of the nominal loop height */
  offset: Range;
  /** noise multiplier (log-uniform) */
  noise: Range;
  /** mean spikes per loop and channel */
  spikesPerLoop: Range;
  /** mean failed fits (NaN steps) per loop; default none, as a corpus for training should be clean of them unless asked */
  nanPerLoop: Range;
  /** share of dead pixels */
  deadFraction: Range;
  /** planted anomalous regions (integer) */
  anomalies: Range;
  /** share of scans of kind `loop` (the rest are `sho`) */
  loopShare: number;
  /** grid rows and columns (integer) */
  rows: Range;
  cols: Range;
}

/** The default ranges: what issue 16 asks a default bundle to cover (docs/science.md §8). */
export const DEFAULT_CORPUS_RANGES: CorpusRanges = {
  f0Hz: [100e3, 1.5e6],
  q: [50, 500],
  vmax: [3, 30],
  asymmetricShare: 0.3,
  vnegRatio: [0.8, 0.95],
  steps: [32, 128],
  cycles: [1, 3],
  heightScale: [1e-2, 1e2],
  heightSpreadDecades: [0, 3],
  coerciveRatio: [0.5, 1.3],
  imprintFrac: [-0.2, 0.2],
  asymmetry: [-0.25, 0.25],
  offset: [-0.5, 0.5],
  noise: [0.3, 3],
  spikesPerLoop: [0, 6],
  nanPerLoop: [0, 0],
  deadFraction: [0, 0.05],
  anomalies: [0, 3],
  loopShare: 0.5,
  rows: [16, 24],
  cols: [16, 24],
};

/** One corpus scan's parameters: exactly the SimOptions it was simulated with (JSON, in the manifest). */
export type CorpusScanParams = SimOptions & Required<Pick<SimOptions, 'kind' | 'steps' | 'cycles' | 'vmax' | 'vneg' | 'f0Hz' | 'q' | 'mechanisms'>>;

const uniform = (rng: Rng, [lo, hi]: Range) => lo + (hi - lo) * rng();
const logUniform = (rng: Rng, [lo, hi]: Range) => Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * rng());
const integer = (rng: Rng, [lo, hi]: Range) => Math.ceil(lo) + Math.floor(rng() * (Math.floor(hi) - Math.ceil(lo) + 1));
/** Rounded to 4 significant digits: manifests and start headers stay readable. */
const sig = (x: number) => Number(x.toPrecision(4));

/** Check ranges before drawing: a bad range is a caller's mistake with a clear message. */
export function checkRanges(r: CorpusRanges): void {
  const positive = ['f0Hz', 'q', 'vmax', 'heightScale', 'noise', 'vnegRatio'] as const;
  for (const [k, v] of Object.entries(r)) {
    if (Array.isArray(v)) {
      const [lo, hi] = v as unknown as Range;
      if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) throw new RangeError(`corpus range ${k} is [${lo}, ${hi}]; expected finite lo ≤ hi`);
      if ((positive as readonly string[]).includes(k) && !(lo > 0)) throw new RangeError(`corpus range ${k} is [${lo}, ${hi}]; expected values > 0`);
    }
  }
  if (!(r.steps[0] >= 8 && Math.floor(r.steps[1] / 4) * 4 >= Math.max(8, Math.ceil(r.steps[0] / 4) * 4))) {
    throw new RangeError(`corpus range steps is [${r.steps[0]}, ${r.steps[1]}]; it must contain a multiple of 4 that is ≥ 8`);
  }
  if (!(r.cycles[0] >= 1 && r.rows[0] >= 4 && r.cols[0] >= 4)) throw new RangeError('corpus ranges: cycles must be ≥ 1 and rows, cols ≥ 4');
  if (!(r.deadFraction[1] < 1 && r.deadFraction[0] >= 0 && r.spikesPerLoop[0] >= 0 && r.nanPerLoop[0] >= 0 && r.nanPerLoop[1] < 8)) throw new RangeError('corpus ranges: deadFraction must lie in [0, 1), spikesPerLoop be ≥ 0 and nanPerLoop in [0, 8)');
  for (const k of ['loopShare', 'asymmetricShare'] as const) if (!(r[k] >= 0 && r[k] <= 1)) throw new RangeError(`corpus ${k} is ${r[k]}; expected a share in [0, 1]`);
}

/** Draw the parameters of corpus scan `index` (0-based) of `seed`. */
export function drawCorpusScan(seed: number, index: number, ranges: CorpusRanges = DEFAULT_CORPUS_RANGES): CorpusScanParams {
  const rng = subRng(seed, -1000 - index);
  const kind = rng() < ranges.loopShare ? 'loop' : 'sho';
  const vmax = sig(logUniform(rng, ranges.vmax));
  const vneg = rng() < ranges.asymmetricShare ? sig(vmax * uniform(rng, ranges.vnegRatio)) : vmax;
  const lo4 = Math.max(8, Math.ceil(ranges.steps[0] / 4) * 4);
  const steps = lo4 + 4 * Math.floor(rng() * ((Math.floor(ranges.steps[1] / 4) * 4 - lo4) / 4 + 1));
  const cycles = kind === 'loop' ? 1 : integer(rng, ranges.cycles);
  // every mechanism in half of the scans, a random non-empty subset in the rest
  const mechanisms = rng() < 0.5 ? [...MECHANISM_NAMES] : MECHANISM_NAMES.filter(() => rng() < 0.5);
  if (mechanisms.length === 0) mechanisms.push(MECHANISM_NAMES[Math.floor(rng() * MECHANISM_NAMES.length)]);
  const rows = integer(rng, ranges.rows);
  const cols = integer(rng, ranges.cols);
  // regions need ≥ 12 pixels each (src/sim/index.ts plantRegions): fewer on small grids
  const anomalies = Math.min(integer(rng, ranges.anomalies), Math.floor((rows * cols) / 12));
  const anomalyKinds = ANOMALY_KINDS.filter(() => rng() < 0.6);
  const p: CorpusScanParams = {
    scanId: `corpus-s${seed}-${String(index).padStart(4, '0')}`,
    seed: (Math.imul(seed, 0x9e3779b1) + index * 7919) >>> 0,
    rows,
    cols,
    kind,
    steps,
    cycles,
    vmax,
    vneg,
    waveStart: rng() < 0.5 ? 'zero' : 'vmax',
    f0Hz: sig(logUniform(rng, ranges.f0Hz)),
    q: sig(logUniform(rng, ranges.q)),
    rotationRad: sig(Math.PI * (2 * rng() - 1)),
    coerciveScale: sig((vmax / 16) * uniform(rng, ranges.coerciveRatio)),
    heightScale: sig(logUniform(rng, ranges.heightScale)),
    heightSpreadDecades: sig(uniform(rng, ranges.heightSpreadDecades)),
    imprintV: sig(vmax * uniform(rng, ranges.imprintFrac)),
    asymmetry: sig(uniform(rng, ranges.asymmetry)),
    offset: sig(uniform(rng, ranges.offset)),
    noise: sig(logUniform(rng, ranges.noise)),
    spikesPerLoop: sig(uniform(rng, ranges.spikesPerLoop)),
    deadFraction: sig(uniform(rng, ranges.deadFraction)),
    mechanisms: mechanisms as MechanismName[],
    anomalies,
    ...(anomalyKinds.length ? { anomalyKinds: anomalyKinds as AnomalyKind[] } : {}),
    phaseUnit: kind === 'sho' && rng() < 0.25 ? 'deg' : 'rad',
    resonanceUnit: kind === 'loop' && rng() < 0.5 ? 'kHz' : 'Hz',
  };
  // drawn after every other parameter: narrowing or widening this range leaves the rest of each scan unchanged
  const nan = uniform(rng, ranges.nanPerLoop);
  if (nan > 0) p.nanPerLoop = sig(nan);
  return p;
}

/** What to generate. */
export interface CorpusOptions {
  out: string;
  scans: number;
  seed: number;
  ranges?: CorpusRanges;
  /** also write the docs/protocol.md tanh scan (src/sim/scenarios.ts) with these options, as the last file */
  protocolTanh?: ProtocolTanhOptions | boolean;
  /** called after each file (progress) */
  onScan?: (entry: CorpusEntry, i: number, total: number) => void;
}

/** One file of the corpus in its manifest. */
export interface CorpusEntry {
  file: string;
  scanId: string;
  kind: 'sho' | 'loop';
  pixels: number;
  /** the parameters the scan was simulated with */
  params: Record<string, unknown>;
  /** dead pixels (row-major indices), which scan files do not store */
  deadPixels: number[];
  /** sha256 of the start header and every pixel's index and buffers: equal for equal seeds (HDF5 object headers carry write times, so file bytes are not) */
  contentSha256: string;
}

/** The corpus manifest (manifest.json beside the files). */
export interface CorpusManifest {
  generator: 'loopstream-sim-corpus';
  version: 1;
  seed: number;
  scans: number;
  ranges: CorpusRanges;
  files: CorpusEntry[];
}

/** Digest of a simulated scan's content (start header, pixel indices and buffers, in seq order). */
export function scanContentSha256(scan: SimulatedScan): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(scan.start));
  for (const p of scan.pixels()) {
    h.update(JSON.stringify([p.seq, p.row, p.col, p.t]));
    for (const d of p.data) h.update(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

/**
 * simulateScan, planting fewer anomalous regions when a random layout leaves no room for all of them (the
 * manifest then records the number actually planted). Deterministic: the same params always end the same way.
 */
function simulateWithRegions(params: CorpusScanParams): SimulatedScan {
  for (;;) {
    try {
      return simulateScan(params);
    } catch (err) {
      if (!(err instanceof RangeError && /anomalous region/.test(err.message) && (params.anomalies ?? 0) > 0)) throw err;
      params.anomalies = (params.anomalies ?? 0) - 1;
    }
  }
}

/** Simulate every corpus scan and write it to `out/scan-NNNN.h5`, with `out/manifest.json`. */
export async function writeCorpus(opts: CorpusOptions): Promise<CorpusManifest> {
  const ranges = opts.ranges ?? DEFAULT_CORPUS_RANGES;
  checkRanges(ranges);
  if (!(Number.isInteger(opts.scans) && opts.scans >= 0)) throw new RangeError(`corpus: scans must be an integer ≥ 0; got ${opts.scans}`);
  if (!Number.isInteger(opts.seed)) throw new RangeError(`corpus: seed must be an integer; got ${opts.seed}`);
  const { writeSimulatedScan } = await import('./write-scan-file.ts');
  mkdirSync(opts.out, { recursive: true });
  const jobs: Array<{ file: string; scan: SimulatedScan; params: Record<string, unknown> }> = [];
  for (let i = 0; i < opts.scans; i++) {
    const params = drawCorpusScan(opts.seed, i, ranges);
    jobs.push({ file: `scan-${String(i).padStart(4, '0')}.h5`, scan: simulateWithRegions(params), params: { ...params } });
  }
  if (opts.protocolTanh) {
    const o: ProtocolTanhOptions = opts.protocolTanh === true ? { seed: opts.seed } : opts.protocolTanh;
    jobs.push({ file: 'protocol-tanh.h5', scan: protocolTanhScan(o), params: { scenario: 'protocol-tanh', ...o } });
  }
  const files: CorpusEntry[] = [];
  for (const [i, job] of jobs.entries()) {
    // simulated once: the file and the digest read the same pixels
    const all = [...job.scan.pixels()];
    const scan: SimulatedScan = { ...job.scan, pixels: () => all };
    const { pixels } = await writeSimulatedScan(scan, join(opts.out, job.file));
    const dead = job.scan.truth.dead;
    const entry: CorpusEntry = {
      file: job.file,
      scanId: job.scan.start.scanId,
      kind: job.scan.start.kind,
      pixels,
      params: job.params,
      deadPixels: dead ? [...dead.keys()].filter((k) => dead[k] === 1) : [],
      contentSha256: scanContentSha256(scan),
    };
    files.push(entry);
    opts.onScan?.(entry, i, jobs.length);
  }
  const manifest: CorpusManifest = { generator: 'loopstream-sim-corpus', version: 1, seed: opts.seed, scans: files.length, ranges, files };
  writeFileSync(join(opts.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/**
 * Read `dir/manifest.json` of a corpus: its entries with `path` resolved against `dir` (files left in the folder by
 * an earlier, larger corpus are not in it). A folder without a corpus manifest is refused with the reason.
 */
export function readCorpusManifest(dir: string): Omit<CorpusManifest, 'files'> & { files: Array<CorpusEntry & { path: string }> } {
  const at = join(dir, 'manifest.json');
  let m: CorpusManifest;
  try {
    m = JSON.parse(readFileSync(at, 'utf8')) as CorpusManifest;
  } catch (err) {
    throw new Error(`${at}: cannot read a corpus manifest (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (m?.generator !== 'loopstream-sim-corpus' || m.version !== 1 || !Array.isArray(m.files)) {
    throw new Error(`${at}: not a loopstream-sim-corpus manifest of version 1`);
  }
  return { ...m, files: m.files.map((f) => ({ ...f, path: resolve(dir, f.file) })) };
}
