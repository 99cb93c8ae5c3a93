/**
 * ReplayBuffer: the most recent encoded pixels' model inputs (a ring of Float32 rows [T·C]), with where each came
 * from (scan, seq). A fixed share of pixels is held out by a hash of (scan, pixel): a held-out pixel is never
 * trained on in any round, so the gate always measures on unseen data, and the split is stable across rounds.
 */
import type { ScanOrder } from '../protocol/messages.ts';

/** Scan and seq range of the pixels a round used. */
export interface DataRange {
  scanId: string;
  /** lowest and highest seq (null for custom scan orders, where seq cannot be derived from the pixel) */
  fromSeq: number | null;
  toSeq: number | null;
  pixels: number;
}

/** A round's recent data: training rows and held-out rows, both [n][T·C]. */
export interface RecentData {
  train: Float32Array;
  nTrain: number;
  heldOut: Float32Array;
  nHeldOut: number;
  ranges: DataRange[];
}

/** Sequence number of the pixel at flat index `index` (inverse of maps/scan-order.ts); -1 for custom orders. */
export function seqOfPixel(index: number, cols: number, order: ScanOrder): number {
  if (order === 'custom') return -1;
  const row = Math.floor(index / cols);
  const col = index % cols;
  return row * cols + (order === 'serpentine' && row % 2 === 1 ? cols - 1 - col : col);
}

/** FNV-1a of a string (scan ids → a number mixed into the hold-out hash). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Whether pixel `index` of scan `scanId` is held out at `fraction` (a stable hash, uniform in [0, 1)). */
export function isHeldOut(scanId: string, index: number, fraction: number, seed = 0): boolean {
  let h = (fnv1a(scanId) ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(seed + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 4294967296 < fraction;
}

export class ReplayBuffer {
  private readonly rows: Float32Array;
  private readonly scanOf: Int32Array;
  private readonly seqOf: Int32Array;
  private readonly heldOut: Uint8Array;
  private readonly scanIds: string[] = [];
  private next = 0;
  /** rows filled (≤ capacity) */
  size = 0;
  /** pixels added since the last `take` (the trigger counts these) */
  added = 0;

  constructor(
    readonly capacity: number,
    readonly stride: number,
    readonly holdoutFraction: number,
    readonly seed = 0,
  ) {
    this.rows = new Float32Array(capacity * stride);
    this.scanOf = new Int32Array(capacity);
    this.seqOf = new Int32Array(capacity);
    this.heldOut = new Uint8Array(capacity);
  }

  /** Copy the model inputs of pixels `index` (flat indices into `inputs` [rows·cols][stride]) of one scan. */
  add(scanId: string, cols: number, order: ScanOrder, inputs: Float32Array, index: ArrayLike<number>): void {
    let s = this.scanIds.lastIndexOf(scanId);
    if (s < 0) s = this.scanIds.push(scanId) - 1;
    const stride = this.stride;
    for (let k = 0; k < index.length; k++) {
      const i = index[k];
      const at = this.next;
      this.rows.set(inputs.subarray(i * stride, (i + 1) * stride), at * stride);
      this.scanOf[at] = s;
      this.seqOf[at] = seqOfPixel(i, cols, order);
      this.heldOut[at] = isHeldOut(scanId, i, this.holdoutFraction, this.seed) ? 1 : 0;
      this.next = (at + 1) % this.capacity;
      if (this.size < this.capacity) this.size++;
    }
    this.added += index.length;
  }

  /** Copy out every buffered pixel, split into training and held-out rows; resets `added`. */
  take(): RecentData {
    let nHeldOut = 0;
    for (let r = 0; r < this.size; r++) nHeldOut += this.heldOut[r];
    const nTrain = this.size - nHeldOut;
    const stride = this.stride;
    const train = new Float32Array(nTrain * stride);
    const held = new Float32Array(nHeldOut * stride);
    const ranges = new Map<number, { from: number; to: number; pixels: number }>();
    let a = 0;
    let b = 0;
    for (let r = 0; r < this.size; r++) {
      const row = this.rows.subarray(r * stride, (r + 1) * stride);
      if (this.heldOut[r]) held.set(row, b++ * stride);
      else train.set(row, a++ * stride);
      const seq = this.seqOf[r];
      const range = ranges.get(this.scanOf[r]);
      if (!range) ranges.set(this.scanOf[r], { from: seq, to: seq, pixels: 1 });
      else {
        range.from = Math.min(range.from, seq);
        range.to = Math.max(range.to, seq);
        range.pixels++;
      }
    }
    this.added = 0;
    return {
      train,
      nTrain,
      heldOut: held,
      nHeldOut,
      ranges: [...ranges].map(([s, r]) => ({ scanId: this.scanIds[s], fromSeq: r.from < 0 ? null : r.from, toSeq: r.to < 0 ? null : r.to, pixels: r.pixels })),
    };
  }
}
