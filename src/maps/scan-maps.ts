/**
 * ScanMaps: the authoritative per-scan state the pipeline fills and the dashboard, alerts and results read.
 * Shaped like a LiberTEM UDF: buffers (NaN until seen) updated per batch, deltas on demand. The buffers are
 * allocated on first use, not at `start`: a start costs no grid memory, and the pipeline allocates them with
 * `allocate()` at the scan's first pixel, where a failure refuses that one scan (docs/reliability.md).
 * Every pixel carries the revision at which it last changed, so any reader can ask "what changed since r".
 */
import type { StartHeader } from '../protocol/messages.ts';
import { pixelOfSeq } from './scan-order.ts';

/** Per-pixel state codes stored in `ScanMaps.state`. */
export const PIXEL_PENDING = 0;
export const PIXEL_DONE = 1;
export const PIXEL_MISSING = 2;
/** Received and recorded but not yet encoded. */
export const PIXEL_RECEIVED = 3;

/** One encoded batch as the runtime returns it; arrays are row-major per pixel. */
export interface EncodedBatch {
  /** flat pixel indices (row * cols + col) */
  index: ArrayLike<number>;
  /** [n, latentDim] */
  mu: Float32Array;
  /** [n, latentDim] */
  logVar: Float32Array;
  /** [n] reconstruction MSE in scaled units */
  error: Float32Array;
  /** model version that encoded the batch */
  version: number;
}

/** Everything a client needs to draw the maps from scratch. */
export interface MapSnapshot {
  scanId: string;
  rows: number;
  cols: number;
  latentDim: number;
  revision: number;
  received: number;
  encoded: number;
  missing: number;
  mu: Float32Array;
  logVar: Float32Array;
  error: Float32Array;
  version: Int32Array;
  state: Uint8Array;
}

/** The pixels that changed after `fromRevision`, up to `revision`. */
export interface MapDelta {
  scanId: string;
  fromRevision: number;
  revision: number;
  received: number;
  encoded: number;
  missing: number;
  index: Uint32Array;
  mu: Float32Array;
  error: Float32Array;
  version: Int32Array;
  state: Uint8Array;
}

/** The per-pixel buffers of one grid (allocated together, on first use). */
interface GridBuffers {
  mu: Float32Array;
  logVar: Float32Array;
  error: Float32Array;
  version: Int32Array;
  state: Uint8Array;
  changedAt: Uint32Array;
}

export class ScanMaps {
  readonly scanId: string;
  readonly rows: number;
  readonly cols: number;
  readonly latentDim: number;
  private grid?: GridBuffers;
  /** set by `refuse`: the grid is never allocated (its scan was refused) */
  private refusedReason?: string;
  revision = 0;
  received = 0;
  encoded = 0;
  missing = 0;

  constructor(
    readonly start: StartHeader,
    latentDim = 16,
  ) {
    this.scanId = start.scanId;
    this.rows = start.grid.rows;
    this.cols = start.grid.cols;
    this.latentDim = latentDim;
  }

  /** Bytes the grid buffers of a rows × cols scan take at this latent size (what `allocate` asks for). */
  static bytesFor(rows: number, cols: number, latentDim: number): number {
    return rows * cols * (2 * latentDim * 4 + 4 + 4 + 1 + 4);
  }

  /** Whether the grid buffers exist yet. */
  get allocated(): boolean {
    return this.grid !== undefined;
  }

  /** Allocate the grid buffers now (idempotent); throws a RangeError when the memory is not there. */
  allocate(): void {
    if (this.grid) return;
    if (this.refusedReason) throw new RangeError(`scan ${this.scanId}: its grid buffers were refused (${this.refusedReason})`);
    const n = this.rows * this.cols;
    const d = this.latentDim;
    this.grid = {
      mu: new Float32Array(n * d).fill(Number.NaN),
      logVar: new Float32Array(n * d).fill(Number.NaN),
      error: new Float32Array(n).fill(Number.NaN),
      version: new Int32Array(n).fill(-1),
      state: new Uint8Array(n),
      changedAt: new Uint32Array(n),
    };
  }

  /** Never allocate this grid (its scan was refused): a later read throws instead of trying gigabytes again. */
  refuse(reason: string): void {
    this.refusedReason = reason;
    this.grid = undefined;
  }

  private get buffers(): GridBuffers {
    this.allocate();
    return this.grid!;
  }

  get mu(): Float32Array {
    return this.buffers.mu;
  }
  get logVar(): Float32Array {
    return this.buffers.logVar;
  }
  get error(): Float32Array {
    return this.buffers.error;
  }
  get version(): Int32Array {
    return this.buffers.version;
  }
  get state(): Uint8Array {
    return this.buffers.state;
  }
  /** revision at which each pixel last changed */
  private get changedAt(): Uint32Array {
    return this.buffers.changedAt;
  }

  get size(): number {
    return this.rows * this.cols;
  }

  /** Flat index of (row, col). */
  indexOf(row: number, col: number): number {
    return row * this.cols + col;
  }

  /** A pixel was received (and recorded); it shows as in-flight until encoded. */
  markReceived(row: number, col: number): void {
    const i = this.indexOf(row, col);
    if (this.state[i] === PIXEL_MISSING) this.missing--;
    if (this.state[i] !== PIXEL_DONE && this.state[i] !== PIXEL_RECEIVED) this.received++;
    if (this.state[i] !== PIXEL_DONE) this.state[i] = PIXEL_RECEIVED;
    this.touch(i);
  }

  /**
   * Pixels with seqs fromSeq..toSeq never arrived; marked missing where the scan order locates them. The walk is
   * capped by the grid: seqs past rows × cols locate no pixel, so a gap to seq 2^53 − 1 costs at most one pass
   * over the grid (a custom order locates none at all), never a walk over the seq range.
   */
  markMissing(fromSeq: number, toSeq: number): number {
    if (this.start.grid.order === 'custom') return 0;
    const last = Math.min(toSeq, this.size - 1);
    const { state, changedAt } = this.buffers; // once, not per pixel: a gap may cover the whole grid
    let marked = 0;
    for (let seq = Math.max(0, fromSeq); seq <= last; seq++) {
      const at = pixelOfSeq(seq, this.rows, this.cols, this.start.grid.order);
      if (!at) continue;
      const i = this.indexOf(at.row, at.col);
      if (state[i] !== PIXEL_PENDING) continue;
      state[i] = PIXEL_MISSING;
      this.missing++;
      marked++;
      changedAt[i] = ++this.revision;
    }
    return marked;
  }

  /** Write one encoded batch into the maps. */
  applyBatch(batch: EncodedBatch): void {
    const d = this.latentDim;
    for (let k = 0; k < batch.index.length; k++) {
      const i = batch.index[k];
      this.mu.set(batch.mu.subarray(k * d, (k + 1) * d), i * d);
      this.logVar.set(batch.logVar.subarray(k * d, (k + 1) * d), i * d);
      this.error[i] = batch.error[k];
      this.version[i] = batch.version;
      if (this.state[i] === PIXEL_MISSING) this.missing--;
      if (this.state[i] === PIXEL_PENDING || this.state[i] === PIXEL_MISSING) this.received++;
      if (this.state[i] !== PIXEL_DONE) this.encoded++;
      this.state[i] = PIXEL_DONE;
      this.touch(i);
    }
  }

  private touch(i: number): void {
    this.changedAt[i] = ++this.revision;
  }

  /** A copy of the whole state. */
  snapshot(): MapSnapshot {
    return {
      scanId: this.scanId,
      rows: this.rows,
      cols: this.cols,
      latentDim: this.latentDim,
      revision: this.revision,
      received: this.received,
      encoded: this.encoded,
      missing: this.missing,
      mu: this.mu.slice(),
      logVar: this.logVar.slice(),
      error: this.error.slice(),
      version: this.version.slice(),
      state: this.state.slice(),
    };
  }

  /** The pixels that changed after `fromRevision` (a client's last seen revision). */
  deltaSince(fromRevision: number): MapDelta {
    const d = this.latentDim;
    const changedAt = this.changedAt;
    let n = 0;
    for (let i = 0; i < changedAt.length; i++) if (changedAt[i] > fromRevision) n++;
    const index = new Uint32Array(n);
    const mu = new Float32Array(n * d);
    const error = new Float32Array(n);
    const version = new Int32Array(n);
    const state = new Uint8Array(n);
    let k = 0;
    for (let i = 0; i < changedAt.length; i++) {
      if (changedAt[i] <= fromRevision) continue;
      index[k] = i;
      mu.set(this.mu.subarray(i * d, (i + 1) * d), k * d);
      error[k] = this.error[i];
      version[k] = this.version[i];
      state[k] = this.state[i];
      k++;
    }
    return {
      scanId: this.scanId,
      fromRevision,
      revision: this.revision,
      received: this.received,
      encoded: this.encoded,
      missing: this.missing,
      index,
      mu,
      error,
      version,
      state,
    };
  }
}
