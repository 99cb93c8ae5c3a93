/**
 * An in-process DashboardHub that "replays" a simulated scan for the browser tests and the stall bench, built from
 * the project's real pieces: the simulator (src/sim), preprocessing (src/preprocess fitPreprocess) and ScanMaps
 * filled by applyBatch. Only the model is a stand-in, so these tests run without a trained bundle: a truncated
 * orthonormal DCT per channel (μ = the first 8 DCT coefficients of each of the 2 channels, decode = the inverse),
 * a linear autoencoder whose reconstruction error is high exactly where loops are noisy or sharp. Alerts are the
 * simulator's planted regions, raised once a region is fully encoded.
 */
import { Subject } from 'rxjs';
import type { Alert } from '../../../src/alerts/types.ts';
import { ScanMaps } from '../../../src/maps/scan-maps.ts';
import { fitPreprocess } from '../../../src/preprocess/fit.ts';
import { fromModelOutput, type PreprocessSpec } from '../../../src/preprocess/index.ts';
import type { DashboardHub, HubEvent, LiveStats, ModelInfo, PixelDetail, ScanInfo, TraversalRequest, TraversalResult } from '../../../src/server/hub.ts';
import { simulateScan, type SimulatedScan } from '../../../src/sim/index.ts';
import { testAlert } from './test-hub.ts';

const COEFS = 8;

/** Orthonormal DCT-II basis, COEFS × T. */
function dctBasis(T: number): Float32Array {
  const b = new Float32Array(COEFS * T);
  for (let k = 0; k < COEFS; k++) {
    const s = k === 0 ? Math.sqrt(1 / T) : Math.sqrt(2 / T);
    for (let t = 0; t < T; t++) b[k * T + t] = s * Math.cos((Math.PI * (t + 0.5) * k) / T);
  }
  return b;
}

/** Options of the replay. */
export interface SimReplayOptions {
  rows: number;
  cols: number;
  seed?: number;
  anomalies?: number;
  /** pixels encoded per tick */
  batch: number;
  /** ms between ticks */
  tickMs: number;
  /** stop after this many pixels (a half-finished scan); default all */
  stopAt?: number;
  /** seqs never sent: marked missing instead of encoded */
  skip?: number[];
  /** the replay fails after this many pixels with this error (a damaged file), as the daemon reports it */
  failAt?: { pixels: number; code: string; message: string };
  /** the model-fit check's verdict for this scan (ScanInfo.ood) */
  ood?: ScanInfo['ood'];
  /** whether alerts run (ScanInfo.alerts); absent = not reported */
  alerts?: ScanInfo['alerts'];
  /** multiply the reconstruction error of these seqs (one outlier pixel) */
  spike?: { seqs: number[]; factor: number };
}

/** See the file comment. */
export class SimReplayHub implements DashboardHub {
  readonly sim: SimulatedScan;
  readonly spec: PreprocessSpec;
  /** scaled model inputs [n][T][C] */
  readonly inputs: Float32Array;
  scanMaps: ScanMaps;
  private readonly basis: Float32Array;
  private readonly events = new Subject<HubEvent>();
  readonly events$ = this.events.asObservable();
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private raised: Alert[] = [];
  private readonly startedAt = Date.now();
  private rate: { t: number; n: number } = { t: performance.now(), n: 0 };
  private pxPerSec = 0;
  private lastBatchMs = 0;
  /** set once a `failAt` replay reached its failure */
  private failed = false;
  /** pixels encoded so far (the bench reads it) */
  encodedTotal = 0;

  constructor(readonly opts: SimReplayOptions) {
    this.sim = simulateScan({ rows: opts.rows, cols: opts.cols, seed: opts.seed ?? 3, anomalies: opts.anomalies ?? 2 });
    const pixels = Array.from(this.sim.pixels(), (p) => p.data);
    const fitted = fitPreprocess([{ start: this.sim.start, pixels }]);
    this.spec = fitted.spec;
    this.inputs = fitted.data;
    this.basis = dctBasis(this.spec.T);
    this.scanMaps = new ScanMaps(this.sim.start, 2 * COEFS);
  }

  /** Start (or continue) encoding `batch` pixels every `tickMs`. */
  play(): void {
    if (this.timer) return;
    this.events.next({ type: 'scan:change', scanId: this.scanMaps.scanId });
    this.timer = setInterval(() => this.step(), this.opts.tickMs);
  }

  /** Stop encoding (the maps stay). */
  pause(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Start over from the first pixel (the maps keep their values and are overwritten again: endless ingest for benches). */
  rewind(): void {
    this.next = 0;
  }

  /** Encode the next batch now. */
  step(): void {
    const stopAt = Math.min(this.opts.stopAt ?? Number.POSITIVE_INFINITY, this.opts.failAt?.pixels ?? Number.POSITIVE_INFINITY, this.scanMaps.size);
    if (this.opts.failAt && this.next >= this.opts.failAt.pixels && !this.failed) {
      this.failed = true;
      this.events.next({ type: 'scan:change', scanId: this.scanMaps.scanId });
    }
    const n = Math.min(this.opts.batch, stopAt - this.next);
    if (n <= 0) return this.pause();
    const t0 = performance.now();
    const d = this.scanMaps.latentDim;
    const index = new Uint32Array(n);
    const mu = new Float32Array(n * d);
    const recon = new Float32Array(n * this.spec.T * this.spec.C);
    const error = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const seq = this.next + k;
      index[k] = seq; // the simulator scans in raster order: seq is the flat index
      this.encodeOne(seq, mu.subarray(k * d, (k + 1) * d));
      this.decodeOne(mu.subarray(k * d, (k + 1) * d), recon.subarray(k * this.spec.T * this.spec.C));
      error[k] = this.mse(seq, recon.subarray(k * this.spec.T * this.spec.C));
      if (this.opts.spike?.seqs.includes(seq)) error[k] *= this.opts.spike.factor;
    }
    // seqs the "instrument" never sent become a gap: marked missing, not encoded
    const skip = this.opts.skip ?? [];
    let kept = 0;
    for (let k = 0; k < n; k++) {
      const seq = this.next + k;
      if (skip.includes(seq)) {
        this.scanMaps.markMissing(seq, seq);
        continue;
      }
      if (kept !== k) {
        index[kept] = index[k];
        mu.copyWithin(kept * d, k * d, (k + 1) * d);
        error[kept] = error[k];
      }
      kept++;
    }
    this.next += n;
    this.scanMaps.applyBatch({ index: index.subarray(0, kept), mu: mu.subarray(0, kept * d), logVar: new Float32Array(kept * d), error: error.subarray(0, kept), version: 1 });
    this.encodedTotal += kept;
    this.lastBatchMs = performance.now() - t0;
    this.raiseCompletedRegions();
    const now = performance.now();
    if (now - this.rate.t >= 1000) {
      this.pxPerSec = ((this.encodedTotal - this.rate.n) * 1000) / (now - this.rate.t);
      this.rate = { t: now, n: this.encodedTotal };
    }
  }

  private encodeOne(seq: number, out: Float32Array): void {
    const { T, C } = this.spec;
    const x = this.inputs.subarray(seq * T * C, (seq + 1) * T * C);
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < COEFS; k++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += this.basis[k * T + t] * x[t * C + c];
        out[c * COEFS + k] = s;
      }
    }
  }

  private decodeOne(z: ArrayLike<number>, out: Float32Array): void {
    const { T, C } = this.spec;
    out.fill(0, 0, T * C);
    for (let c = 0; c < C; c++) for (let k = 0; k < COEFS; k++) for (let t = 0; t < T; t++) out[t * C + c] += z[c * COEFS + k] * this.basis[k * T + t];
  }

  private mse(seq: number, recon: Float32Array): number {
    const len = this.spec.T * this.spec.C;
    let s = 0;
    for (let j = 0; j < len; j++) s += (this.inputs[seq * len + j] - recon[j]) ** 2;
    return s / len;
  }

  private raiseCompletedRegions(): void {
    const { region, regions } = this.sim.truth;
    if (!region) return;
    for (const r of regions) {
      if (this.raised.some((a) => a.id === r.id)) continue;
      const pixels: number[] = [];
      for (let i = 0; i < region.length; i++) if (region[i] === r.id) pixels.push(i);
      if (pixels.every((i) => this.scanMaps.state[i] === 1)) {
        this.raised.push({ ...testAlert(this.scanMaps.scanId, r.id, pixels, this.scanMaps.cols), kindHint: r.kind });
        this.events.next({ type: 'alert:change', scanId: this.scanMaps.scanId });
      }
    }
  }

  scans(): ScanInfo[] {
    const m = this.scanMaps;
    return [
      {
        id: m.scanId,
        meanError: null, // this stand-in keeps no error sum; the facility reads it from the real hub
        source: 'replay',
        file: 'simulated.h5',
        rows: m.rows,
        cols: m.cols,
        state: this.failed ? 'error' : this.next >= m.size ? 'completed' : 'running',
        startedAt: this.startedAt,
        received: m.received,
        encoded: m.encoded,
        missing: m.missing,
        ...(this.failed && this.opts.failAt ? { failure: { code: this.opts.failAt.code, message: this.opts.failAt.message } } : {}),
        ...(this.opts.ood ? { ood: this.opts.ood } : {}),
        ...(this.opts.alerts ? { alerts: this.opts.alerts } : {}),
      },
    ];
  }

  maps(scanId: string) {
    return scanId === this.scanMaps.scanId ? this.scanMaps : undefined;
  }

  async pixel(scanId: string, row: number, col: number): Promise<PixelDetail | undefined> {
    const m = this.maps(scanId);
    if (!m) return undefined;
    const i = m.indexOf(row, col);
    if (m.version[i] < 0) return undefined;
    const { T, C } = this.spec;
    const seq = row * m.cols + col; // raster order
    const input = fromModelOutput(this.inputs.subarray(seq * T * C, (seq + 1) * T * C), this.spec, 1);
    const z = m.mu.subarray(i * m.latentDim, (i + 1) * m.latentDim);
    const recon = new Float32Array(T * C);
    this.decodeOne(z, recon);
    const phys = fromModelOutput(recon, this.spec, 1);
    const ch = (a: Float32Array, c: number) => Array.from({ length: T }, (_, t) => a[t * C + c]);
    return {
      scanId,
      row,
      col,
      state: m.state[i],
      voltage: this.spec.voltage,
      channels: this.spec.channels.map((name, c) => ({ name, unit: name === 'resonance' ? 'kHz' : 'a.u.', input: ch(input, c), reconstruction: ch(phys, c) })),
      mu: Array.from(z),
      error: m.error[i],
      version: m.version[i],
    };
  }

  async traverse(req: TraversalRequest): Promise<TraversalResult> {
    const m = this.scanMaps;
    const d = m.latentDim;
    const base = new Float32Array(d);
    if (req.base) base.set(m.mu.subarray(m.indexOf(req.base.row, req.base.col) * d, (m.indexOf(req.base.row, req.base.col) + 1) * d));
    if (base.some((v) => Number.isNaN(v))) base.fill(0);
    const { T, C } = this.spec;
    const curves = this.spec.channels.map(() => [] as number[][]);
    for (const v of req.values) {
      const z = base.slice();
      z[req.latent] = v;
      const recon = new Float32Array(T * C);
      this.decodeOne(z, recon);
      const phys = fromModelOutput(recon, this.spec, 1);
      curves.forEach((list, c) => list.push(Array.from({ length: T }, (_, t) => phys[t * C + c])));
    }
    return {
      latent: req.latent,
      values: req.values,
      voltage: this.spec.voltage,
      baseMu: Array.from(base),
      channels: this.spec.channels.map((name, c) => ({ name, unit: name === 'resonance' ? 'kHz' : 'a.u.', curves: curves[c] })),
      version: 1,
    };
  }

  alerts(scanId: string): readonly Alert[] {
    return scanId === this.scanMaps.scanId ? this.raised : [];
  }

  model(): ModelInfo {
    // "KL" of the stand-in: the variance of each coefficient over the training scan, largest first
    const d = this.scanMaps.latentDim;
    const n = this.scanMaps.size;
    const variance = new Array<number>(d).fill(0);
    const z = new Float32Array(d);
    for (let seq = 0; seq < n; seq++) {
      this.encodeOne(seq, z);
      for (let k = 0; k < d; k++) variance[k] += (z[k] * z[k]) / n;
    }
    const order = Array.from({ length: d }, (_, k) => k).sort((a, b) => variance[b] - variance[a]);
    return {
      version: 1,
      name: 'sim-dct-standin',
      latentDim: d,
      channelsByKl: order,
      activeCount: 5,
      klPerLatent: variance,
      finetune: { state: 'idle', text: 'waiting for 2000 new pixels' },
    };
  }

  stats(): LiveStats {
    return { ingestPxPerSec: this.pxPerSec, queueDepth: 0, lagSec: 0.05, batchLatencyMs: this.lastBatchMs, rejectedFrames: {} };
  }

}

/**
 * Several simulated replays behind one hub, newest first, with replays startable by file name (`sim-<seed>.h5`
 * names a simulated scan of that seed): what the scan and replay pickers of the page need.
 */
export class MultiReplayHub implements DashboardHub {
  readonly hubs: SimReplayHub[] = [];
  private readonly events = new Subject<HubEvent>();
  readonly events$ = this.events.asObservable();

  constructor(
    first: SimReplayHub,
    private readonly template: Omit<SimReplayOptions, 'seed'>,
  ) {
    this.add(first);
  }

  private add(h: SimReplayHub): void {
    this.hubs.unshift(h);
    h.events$.subscribe((ev) => this.events.next(ev));
  }

  private of(scanId: string): SimReplayHub | undefined {
    return this.hubs.find((h) => h.scanMaps.scanId === scanId);
  }

  scans(): ScanInfo[] {
    return this.hubs.flatMap((h) => h.scans());
  }

  maps(scanId: string) {
    return this.of(scanId)?.scanMaps;
  }

  async pixel(scanId: string, row: number, col: number) {
    return this.of(scanId)?.pixel(scanId, row, col);
  }

  async traverse(req: TraversalRequest) {
    const h = this.of(req.scanId);
    if (!h) throw new Error(`scan ${req.scanId} is not known`);
    return h.traverse(req);
  }

  alerts(scanId: string): readonly Alert[] {
    return this.of(scanId)?.alerts(scanId) ?? [];
  }

  model(): ModelInfo {
    return this.hubs[this.hubs.length - 1].model();
  }

  stats(): LiveStats {
    return this.hubs[0].stats();
  }

  async replayFiles(): Promise<string[]> {
    return this.files;
  }

  /** Names offered for replay: `sim-<seed>.h5` replays a simulated scan, `broken-<seed>.h5` one that fails half-way. */
  files = ['sim-7.h5', 'sim-8.h5'];

  async replay(file: string): Promise<string> {
    const m = /^(sim|broken)-(\d+)\.h5$/.exec(file);
    if (!m) throw Object.assign(new Error(`replay of "${file}" refused: not a file inside the replay roots`), { code: 'LS_REPLAY_PATH' });
    const half = Math.floor((this.template.rows * this.template.cols) / 2);
    const failAt = m[1] === 'broken' ? { pixels: half, code: 'LS_FILE_UNREADABLE', message: `replay of ${file} failed: HDF5 failed while reading row ${half} (the file is truncated or damaged)` } : undefined;
    const h = new SimReplayHub({ ...this.template, seed: Number(m[2]), ...(failAt ? { failAt } : {}) });
    this.add(h);
    h.play();
    return h.scanMaps.scanId;
  }


  pauseAll(): void {
    for (const h of this.hubs) h.pause();
  }
}
