/**
 * Our own HDF5 scan layout (docs/formats.md "Scan files"): the simulator's output and the lossless raw recording
 * the live pipeline appends to before any processing. One row per received pixel, in arrival order, in
 * resizable chunked datasets; `flush()` after each batch makes a crash (even SIGKILL) lose at most the batch
 * being written, and `reopen()` finds where the recording stopped.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { StartHeader, StopHeader, specElements } from '../protocol/messages.ts';
import type { PixelEvent } from '../protocol/events.ts';
import type { SimTruth } from '../sim/index.ts';
import { FileFormatError } from '../sources/hdf5/errors.ts';
import { attr, groupAt, h5, needDataset, openH5, type Dataset, type File, type Group } from '../sources/hdf5/h5.ts';
import { Module } from 'h5wasm/node';
import { diagnoseWriteFailure } from './write-failure.ts';

/** Value of the `/scan` `format` attribute that marks our layout. */
export const SCAN_FORMAT = 'loopstream-scan';
/** Layout version written by this build; readers refuse newer ones. */
export const SCAN_FORMAT_VERSION = 1;
/** Group paths of the layout. */
export const SCAN_PATHS = { root: 'scan', pixels: 'scan/pixels', truth: 'scan/truth' } as const;
/** Per-pixel index datasets under /scan/pixels, beside one dataset per buffer. */
export const INDEX_DATASETS = ['seq', 'row', 'col', 't'] as const;

// About 128 KiB of float32 per chunk: big enough that appends touch few chunks, small enough for tiny scans.
const CHUNK_BYTES = 128 * 1024;

/** Rows per chunk for a per-pixel dataset of `elements` float32 values. */
export function chunkRows(elements: number): number {
  return Math.max(1, Math.min(4096, Math.floor(CHUNK_BYTES / (4 * elements))));
}

/** Appends pixels of one scan to an HDF5 scan file; resumable after a crash with `reopen`. */
export class ScanRecorder {
  private readonly seqDs: Dataset;
  private readonly rowDs: Dataset;
  private readonly colDs: Dataset;
  private readonly tDs: Dataset;
  private readonly bufferDs: Dataset[];
  private readonly elements: number[];
  private closed = false;
  private stopWritten = false;

  private constructor(
    private readonly file: File,
    /** The start header the recording belongs to. */
    readonly start: StartHeader,
    private n: number,
  ) {
    const px = SCAN_PATHS.pixels;
    this.seqDs = needDataset(file, `${px}/seq`, file.filename);
    this.rowDs = needDataset(file, `${px}/row`, file.filename);
    this.colDs = needDataset(file, `${px}/col`, file.filename);
    this.tDs = needDataset(file, `${px}/t`, file.filename);
    this.bufferDs = start.buffers.map((b) => needDataset(file, `${px}/${b.name}`, file.filename));
    this.elements = start.buffers.map((b) => specElements(b));
  }

  /** Pixels recorded so far. */
  get count(): number {
    return this.n;
  }

  /** Path of the file being written. */
  get path(): string {
    return this.file.filename;
  }

  /**
   * Create a new scan file for `start` (and the simulator's ground truth, if any). Refuses to replace an existing
   * file unless `overwrite` is set: a recording is raw data.
   */
  static async create(path: string, start: StartHeader, truth?: SimTruth, opts: { overwrite?: boolean } = {}): Promise<ScanRecorder> {
    const parsed = StartHeader.parse(start);
    const lib = await h5();
    if (existsSync(path)) {
      if (!opts.overwrite) throw new FileFormatError('LS_FILE_EXISTS', `${path}: a file is already there; a recording is never overwritten (reopen it to resume, or remove it)`, path);
      unlinkSync(path);
    }
    const file = new lib.File(path, 'w');
    // h5wasm reports a file it could not create with an id of -1 instead of throwing.
    if (file.file_id < 0n) {
      const why = diagnoseWriteFailure(path);
      throw Object.assign(new FileFormatError('LS_FILE_WRITE', `${path}: cannot create the recording: ${why.detail}`, path), { errno: why.errno });
    }
    try {
      const root = file.create_group(SCAN_PATHS.root);
      root.create_attribute('format', SCAN_FORMAT);
      root.create_attribute('formatVersion', SCAN_FORMAT_VERSION);
      root.create_attribute('protocol', parsed.protocol);
      root.create_attribute('scanId', parsed.scanId);
      root.create_attribute('kind', parsed.kind);
      root.create_attribute('rows', parsed.grid.rows);
      root.create_attribute('cols', parsed.grid.cols);
      root.create_attribute('start', JSON.stringify(parsed));
      const dc = root.create_dataset({ name: 'dc_voltage', data: Float64Array.from(parsed.dcVoltage) });
      dc.create_attribute('units', 'V');
      const px = file.create_group(SCAN_PATHS.pixels);
      const growable = (name: string, dtype: string, data: ArrayLike<number> & { length: number }, shape: number[], units = '') => {
        const elements = shape.reduce((a, b) => a * b, 1);
        const ds = px.create_dataset({
          name,
          data: data as Float32Array,
          shape: [0, ...shape],
          maxshape: [null, ...shape],
          chunks: [chunkRows(elements), ...shape],
          dtype,
        });
        if (units) ds.create_attribute('units', units);
      };
      growable('seq', '<i', new Int32Array(0), []);
      growable('row', '<i', new Int32Array(0), []);
      growable('col', '<i', new Int32Array(0), []);
      growable('t', '<d', new Float64Array(0), [], 's');
      for (const b of parsed.buffers) growable(b.name, '<f', new Float32Array(0), b.shape, b.unit);
      if (truth) writeTruth(file, parsed, truth);
      file.flush();
    } catch (err) {
      file.close();
      throw err;
    }
    return new ScanRecorder(file, parsed, 0);
  }

  /**
   * Open an existing recording to append to it (after a restart or a crash). Datasets left at different lengths
   * by a write interrupted mid-batch are cut back to the pixels every dataset holds.
   */
  static async reopen(path: string): Promise<{ recorder: ScanRecorder; start: StartHeader; lastSeq: number; count: number }> {
    const file = await openH5(path, 'a');
    try {
      const start = readStartAttrs(file, path);
      const names = [...INDEX_DATASETS, ...start.buffers.map((b) => b.name)];
      const lengths = names.map((name) => needDataset(file, `${SCAN_PATHS.pixels}/${name}`, path).shape?.[0] ?? 0);
      const count = completeRows(file, path, start);
      names.forEach((name, i) => {
        if (lengths[i] > count) {
          const ds = needDataset(file, `${SCAN_PATHS.pixels}/${name}`, path);
          ds.resize([count, ...(ds.shape ?? []).slice(1)]);
        }
      });
      const recorder = new ScanRecorder(file, start, count);
      recorder.stopWritten = file.get(SCAN_PATHS.root) !== null && attr(groupAt(file, SCAN_PATHS.root)!, 'stop') !== undefined;
      let lastSeq = -1;
      if (count > 0) {
        const seqs = needDataset(file, `${SCAN_PATHS.pixels}/seq`, path).slice([[0, count]]) as Int32Array;
        for (let i = 0; i < count; i++) lastSeq = Math.max(lastSeq, seqs[i]);
      }
      file.flush();
      return { recorder, start, lastSeq, count };
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Append a batch of pixels (one or many) of this scan; on disk after the next `flush()`. */
  append(pixels: readonly PixelEvent[]): void {
    if (this.closed) throw new Error(`ScanRecorder ${this.path}: append after close`);
    const m = pixels.length;
    if (m === 0) return;
    const seq = new Int32Array(m);
    const row = new Int32Array(m);
    const col = new Int32Array(m);
    const t = new Float64Array(m);
    const bufs = this.elements.map((e) => new Float32Array(m * e));
    for (let j = 0; j < m; j++) {
      const p = pixels[j];
      if (p.scanId !== this.start.scanId) {
        throw new RangeError(`ScanRecorder ${this.path}: pixel seq ${p.seq} belongs to scan ${p.scanId}, this file records ${this.start.scanId}`);
      }
      if (p.data.length !== bufs.length) {
        throw new RangeError(`ScanRecorder ${this.path}: pixel seq ${p.seq} carries ${p.data.length} buffers; the start header declares ${bufs.length}`);
      }
      seq[j] = p.seq;
      row[j] = p.row;
      col[j] = p.col;
      t[j] = p.t;
      for (let b = 0; b < bufs.length; b++) {
        const e = this.elements[b];
        if (p.data[b].length !== e) {
          throw new RangeError(`ScanRecorder ${this.path}: pixel seq ${p.seq} buffer "${this.start.buffers[b].name}" has ${p.data[b].length} values; expected ${e}`);
        }
        bufs[b].set(p.data[b], j * e);
      }
    }
    const from = this.n;
    const to = from + m;
    // Index datasets last: a batch cut short by a crash is then trimmed by reopen() to what all datasets hold.
    this.bufferDs.forEach((ds, b) => grow(ds, from, to, this.start.buffers[b].shape, bufs[b]));
    grow(this.tDs, from, to, [], t);
    grow(this.rowDs, from, to, [], row);
    grow(this.colDs, from, to, [], col);
    grow(this.seqDs, from, to, [], seq);
    this.n = to;
  }

  /** Push everything appended so far to disk (HDF5 H5Fflush). */
  flush(): void {
    if (this.closed) return;
    // h5wasm's File.flush() drops H5Fflush's status, and a failed write (disk full, file-size limit) surfaces only
    // here: check it, or the recording would silently miss pixels.
    if (Module.flush(this.file.file_id) < 0) {
      const why = diagnoseWriteFailure(this.path);
      throw Object.assign(new FileFormatError('LS_FILE_WRITE', `${this.path}: writing the recording failed after ${this.n} pixel(s): ${why.detail}`, this.path), { errno: why.errno });
    }
  }

  /** Record the scan's stop message (once) and flush. */
  writeStop(stop: StopHeader): void {
    const parsed = StopHeader.parse(stop);
    const root = groupAt(this.file, SCAN_PATHS.root)!;
    if (this.stopWritten) root.delete_attribute('stop');
    root.create_attribute('stop', JSON.stringify(parsed));
    this.stopWritten = true;
    this.file.flush();
  }

  /** Flush and close the file; further calls do nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.flush();
    this.file.close();
  }
}

function grow(ds: Dataset, from: number, to: number, shape: number[], data: ArrayLike<number>): void {
  ds.resize([to, ...shape]);
  ds.write_slice([[from, to]], data);
}

function writeTruth(file: File, start: StartHeader, truth: SimTruth): void {
  const { rows, cols } = start.grid;
  const n = rows * cols;
  for (const [name, arr] of [['mechanism', truth.mechanism], ['anomaly', truth.anomaly]] as const) {
    if (arr.length !== n) throw new RangeError(`ScanRecorder: truth.${name} has ${arr.length} values; the ${rows}x${cols} grid needs ${n}`);
  }
  const g = file.create_group(SCAN_PATHS.truth);
  g.create_attribute('mechanismNames', JSON.stringify(truth.mechanismNames));
  g.create_attribute('anomalyNames', JSON.stringify(truth.anomalyNames));
  g.create_attribute('regions', JSON.stringify(truth.regions));
  const m = g.create_dataset({ name: 'mechanism', data: truth.mechanism, shape: [rows, cols], dtype: '<B' });
  m.create_attribute('names', JSON.stringify(truth.mechanismNames));
  const a = g.create_dataset({ name: 'anomaly', data: truth.anomaly, shape: [rows, cols], dtype: '<B' });
  a.create_attribute('names', JSON.stringify(['none', ...truth.anomalyNames]));
  if (truth.region) g.create_dataset({ name: 'region', data: truth.region, shape: [rows, cols], dtype: '<H' });
}

/**
 * Rows of a recording that every per-pixel dataset holds and that were really written. A crash can leave
 * datasets at different lengths (a batch cut short), or rows whose extent reached the disk but whose data did
 * not (HDF5 evicted metadata before the chunks): those read as the fill value 0. seq is written last in a batch
 * and t is never 0 after row 0, so trailing rows past the first with seq = 0 and t = 0 are not counted.
 */
export function completeRows(file: File, path: string, start: StartHeader): number {
  const names = [...INDEX_DATASETS, ...start.buffers.map((b) => b.name)];
  let count = Math.min(...names.map((name) => needDataset(file, `${SCAN_PATHS.pixels}/${name}`, path).shape?.[0] ?? 0));
  if (count > 1) {
    const seqs = needDataset(file, `${SCAN_PATHS.pixels}/seq`, path).slice([[0, count]]) as Int32Array;
    const ts = needDataset(file, `${SCAN_PATHS.pixels}/t`, path).slice([[0, count]]) as Float64Array;
    while (count > 1 && seqs[count - 1] === 0 && ts[count - 1] === 0) count--;
  }
  return count;
}

/** The start header stored in an own-layout file, validated; FileFormatError when the file is not ours. */
export function readStartAttrs(file: File, path: string): StartHeader {
  const root = groupAt(file, SCAN_PATHS.root);
  const format = root ? attr(root, 'format') : undefined;
  if (!root || format !== SCAN_FORMAT) {
    throw new FileFormatError('LS_FILE_LAYOUT', `${path}: no /scan group with format="${SCAN_FORMAT}"; not a loopstream scan file`, path);
  }
  const version = Number(attr(root, 'formatVersion'));
  if (!(version >= 1 && version <= SCAN_FORMAT_VERSION)) {
    throw new FileFormatError('LS_FILE_VERSION', `${path}: /scan formatVersion is ${version}; this build reads 1..${SCAN_FORMAT_VERSION}`, path);
  }
  const raw = attr(root, 'start');
  try {
    return StartHeader.parse(JSON.parse(String(raw)));
  } catch (err) {
    throw new FileFormatError('LS_FILE_MISSING', `${path}: /scan attribute "start" is missing or not a valid start header (${(err as Error).message.slice(0, 200)})`, path);
  }
}

/** The stop header stored in an own-layout file, if the scan ended cleanly. */
export function readStopAttr(root: Group, path: string): StopHeader | undefined {
  const raw = attr(root, 'stop');
  if (raw === undefined) return undefined;
  try {
    return StopHeader.parse(JSON.parse(String(raw)));
  } catch (err) {
    throw new FileFormatError('LS_FILE_MISSING', `${path}: /scan attribute "stop" is not a valid stop header (${(err as Error).message.slice(0, 200)})`, path);
  }
}

/** The simulator's ground truth stored in an own-layout file, if any. */
export function readTruth(file: File, start: StartHeader, path: string): SimTruth | undefined {
  const g = groupAt(file, SCAN_PATHS.truth);
  if (!g) return undefined;
  const { rows, cols } = start.grid;
  const u8 = (name: string) => {
    const ds = needDataset(file, `${SCAN_PATHS.truth}/${name}`, path);
    const v = ds.value;
    if (!(v instanceof Uint8Array) || v.length !== rows * cols) {
      throw new FileFormatError('LS_FILE_SHAPE', `${path}: ${ds.path} must be uint8 [${rows}, ${cols}]`, path);
    }
    return v;
  };
  const json = <T>(name: string): T => JSON.parse(String(attr(g, name) ?? 'null')) as T;
  const regionObj = file.get(`${SCAN_PATHS.truth}/region`) ? needDataset(file, `${SCAN_PATHS.truth}/region`, path) : undefined;
  return {
    mechanism: u8('mechanism'),
    mechanismNames: json<string[]>('mechanismNames') ?? [],
    anomaly: u8('anomaly'),
    anomalyNames: json<string[]>('anomalyNames') ?? [],
    ...(regionObj ? { region: regionObj.value as Uint16Array } : {}),
    regions: json<SimTruth['regions']>('regions') ?? [],
  };
}
