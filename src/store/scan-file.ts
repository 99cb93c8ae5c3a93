/**
 * Our own HDF5 scan layout (docs/formats.md "Scan files"): the simulator's output and the lossless raw recording
 * the live pipeline appends to before any processing. One row per received pixel, in arrival order, in
 * resizable chunked datasets; `flush()` after each batch makes a crash (even SIGKILL) lose at most the batch
 * being written, and `reopen()` finds where the recording stopped.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { StartHeader, StopHeader, specElements } from '../protocol/messages.ts';
import type { PixelEvent } from '../protocol/events.ts';
import type { SimTruth } from '../contracts/sim-truth.ts';
import { FileFormatError } from '../hdf5/errors.ts';
import { attr, groupAt, h5, needDataset, openH5, type Dataset, type File, type Group } from '../hdf5/h5.ts';
import { Module } from 'h5wasm/node';
import { diagnoseWriteFailure } from './write-failure.ts';

/** Value of the `/scan` `format` attribute that marks our layout. */
export const SCAN_FORMAT = 'loopstream-scan';
/**
 * Layout version written by this build; readers refuse newer ones. Version 2: `seq` is float64 (exact up to
 * 2^53 - 1; version 1 stored int32) and `/scan/committed` holds the count of verified rows.
 */
export const SCAN_FORMAT_VERSION = 2;
/** Group paths of the layout. */
export const SCAN_PATHS = { root: 'scan', pixels: 'scan/pixels', truth: 'scan/truth', committed: 'scan/committed' } as const;
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
  private readonly committedDs: Dataset;
  private closed = false;
  private failed = false;
  private stopWritten = false;
  /** rows written to the datasets (verified or not) */
  private written: number;
  /** batches written but not yet verified by flush(): their rows and the columns written, in dataset order */
  private unverified: Array<{ from: number; to: number; columns: ArrayLike<number>[] }> = [];

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
    this.committedDs = needDataset(file, SCAN_PATHS.committed, file.filename);
    this.written = n;
  }

  /** Pixels recorded and verified on disk so far. */
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
    // Serialised before the file exists: a start that cannot be serialised is the producer's error, not the disk's.
    const startJson = JSON.stringify(parsed);
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
      root.create_attribute('start', startJson);
      const dc = root.create_dataset({ name: 'dc_voltage', data: Float64Array.from(parsed.dcVoltage) });
      dc.create_attribute('units', 'V');
      // Rows verified on disk (flushed, read back, compared): only this many rows are data, whatever length the
      // datasets reached. Advanced after each verified batch; a reader never trusts rows past it.
      root.create_dataset({ name: 'committed', data: new Float64Array([0]), shape: [1], dtype: '<d' }).create_attribute(
        'description',
        'rows of /scan/pixels verified on disk (written, flushed, read back equal); rows past it are not data',
      );
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
      growable('seq', '<d', new Float64Array(0), []);
      growable('row', '<i', new Int32Array(0), []);
      growable('col', '<i', new Int32Array(0), []);
      growable('t', '<d', new Float64Array(0), [], 's');
      for (const b of parsed.buffers) growable(b.name, '<f', new Float32Array(0), b.shape, b.unit);
      if (truth) writeTruth(file, parsed, truth);
      if (Module.flush(file.file_id) < 0) throw new Error('HDF5 could not flush the new file');
    } catch (err) {
      file.close();
      if (err instanceof RangeError) throw err; // the truth does not fit the grid: the caller's error
      const why = diagnoseWriteFailure(path);
      throw Object.assign(new FileFormatError('LS_FILE_WRITE', `${path}: cannot create the recording (${(err as Error).message}): ${why.detail}`, path), { errno: why.errno });
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
      // A version-1 recording has no committed count yet: its complete rows are committed now.
      if (!file.get(SCAN_PATHS.committed)) groupAt(file, SCAN_PATHS.root)!.create_dataset({ name: 'committed', data: Float64Array.of(count), shape: [1], dtype: '<d' });
      else needDataset(file, SCAN_PATHS.committed, path).write_slice([[0, 1]], Float64Array.of(count));
      const recorder = new ScanRecorder(file, start, count);
      recorder.stopWritten = file.get(SCAN_PATHS.root) !== null && attr(groupAt(file, SCAN_PATHS.root)!, 'stop') !== undefined;
      let lastSeq = -1;
      if (count > 0) {
        const seqs = needDataset(file, `${SCAN_PATHS.pixels}/seq`, path).slice([[0, count]]) as unknown as ArrayLike<number>;
        for (let i = 0; i < count; i++) lastSeq = Math.max(lastSeq, Number(seqs[i]));
      }
      file.flush();
      return { recorder, start, lastSeq, count };
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /**
   * Append a batch of pixels (one or many) of this scan. The rows count as recorded only after the next `flush()`
   * verified them on disk. A pixel that does not match the start header throws a RangeError (an input error); a
   * failed HDF5 write throws FileFormatError LS_FILE_WRITE with the errno of the cause (a disk failure).
   */
  append(pixels: readonly PixelEvent[]): void {
    if (this.closed) throw new Error(`ScanRecorder ${this.path}: append after close`);
    const m = pixels.length;
    if (m === 0) return;
    const seq = new Float64Array(m);
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
    const from = this.written;
    const to = from + m;
    try {
      // Index datasets last: a batch cut short by a crash is then trimmed by reopen() to what all datasets hold.
      this.bufferDs.forEach((ds, b) => grow(ds, from, to, this.start.buffers[b].shape, bufs[b]));
      grow(this.tDs, from, to, [], t);
      grow(this.rowDs, from, to, [], row);
      grow(this.colDs, from, to, [], col);
      grow(this.seqDs, from, to, [], seq);
    } catch (err) {
      throw this.writeFailed(`appending ${m} pixel(s) failed (${(err as Error).message})`);
    }
    this.written = to;
    this.unverified.push({ from, to, columns: [...bufs, t, row, col, seq] });
  }

  /**
   * Make everything appended so far durable and verified: H5Fflush (its status checked), read every new row back
   * and compare it with what was written, then advance `/scan/committed` and flush again. HDF5 reports a chunk it
   * could not write (disk full) only on stderr when the dataset closes, and the flush after it may still succeed:
   * the read-back is what catches rows that hold fill values instead of the pixels. Throws LS_FILE_WRITE.
   */
  flush(): void {
    if (this.closed) return;
    this.checkedFlush();
    if (this.unverified.length === 0) return;
    const datasets = [...this.bufferDs, this.tDs, this.rowDs, this.colDs, this.seqDs];
    for (const batch of this.unverified) {
      datasets.forEach((ds, k) => {
        let back: ArrayLike<number>;
        try {
          back = ds.slice([[batch.from, batch.to]]) as unknown as ArrayLike<number>;
        } catch (err) {
          throw this.writeFailed(`reading back rows ${batch.from}..${batch.to - 1} of ${ds.path} failed (${(err as Error).message})`);
        }
        const at = firstDifference(batch.columns[k], back);
        if (at >= 0) {
          throw this.writeFailed(`rows ${batch.from}..${batch.to - 1} of ${ds.path} did not reach the disk (value ${at} reads back as ${back[at]}, written ${batch.columns[k][at]})`);
        }
      });
    }
    const to = this.written;
    try {
      this.committedDs.write_slice([[0, 1]], Float64Array.of(to));
    } catch (err) {
      throw this.writeFailed(`advancing /scan/committed failed (${(err as Error).message})`);
    }
    this.checkedFlush();
    this.unverified = [];
    this.n = to;
  }

  /** H5Fflush with its status checked (h5wasm's File.flush() drops it). */
  private checkedFlush(): void {
    if (Module.flush(this.file.file_id) < 0) throw this.writeFailed('HDF5 could not flush the file');
  }

  /** The LS_FILE_WRITE error of a failed write, with the errno the folder probe finds. Marks the recorder failed. */
  private writeFailed(what: string): FileFormatError & { errno: string } {
    this.failed = true;
    const why = diagnoseWriteFailure(this.path);
    return Object.assign(new FileFormatError('LS_FILE_WRITE', `${this.path}: writing the recording failed after ${this.n} verified pixel(s): ${what}; ${why.detail}`, this.path), { errno: why.errno });
  }

  /** Verify and commit the rows appended so far, then record the scan's stop message and flush; LS_FILE_WRITE when it cannot be written. */
  writeStop(stop: StopHeader): void {
    const parsed = StopHeader.parse(stop);
    const json = JSON.stringify(parsed);
    this.flush();
    try {
      const root = groupAt(this.file, SCAN_PATHS.root)!;
      if (this.stopWritten) root.delete_attribute('stop');
      root.create_attribute('stop', json);
    } catch (err) {
      throw this.writeFailed(`writing the stop failed (${(err as Error).message})`);
    }
    this.stopWritten = true;
    this.checkedFlush();
  }

  /**
   * Verify and commit what was appended (as `flush()`), then close the file; further calls do nothing. Throws
   * LS_FILE_WRITE when the last rows cannot be verified (the file is closed all the same). A recorder whose write
   * failed before is closed without writing.
   */
  close(): void {
    if (this.closed) return;
    try {
      if (!this.failed) this.flush();
    } finally {
      this.closed = true;
      this.file.close();
    }
  }
}

/** Index of the first value of `read` that differs from `written` (NaN equals NaN), or -1. */
function firstDifference(written: ArrayLike<number>, read: ArrayLike<number>): number {
  if (read.length !== written.length) return Math.min(read.length, written.length);
  for (let i = 0; i < written.length; i++) {
    const a = written[i];
    const b = read[i];
    if (a !== b && !(a !== a && b !== b)) return i;
  }
  return -1;
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
 * Rows of a recording that hold data. Since layout version 2 that is `/scan/committed`: rows verified on disk after
 * their batch was flushed and read back (a full disk leaves the datasets extended over rows of fill values, which
 * are never data). For version 1 files, which lack it: the rows every per-pixel dataset holds, less trailing rows
 * whose extent reached the disk but whose data did not (seq = 0 and t = 0 past row 0: seq is written last).
 */
export function completeRows(file: File, path: string, start: StartHeader): number {
  const names = [...INDEX_DATASETS, ...start.buffers.map((b) => b.name)];
  let count = Math.min(...names.map((name) => needDataset(file, `${SCAN_PATHS.pixels}/${name}`, path).shape?.[0] ?? 0));
  if (file.get(SCAN_PATHS.committed)) {
    const committed = Number((needDataset(file, SCAN_PATHS.committed, path).value as ArrayLike<number>)[0]);
    if (!(Number.isInteger(committed) && committed >= 0)) {
      throw new FileFormatError('LS_FILE_SHAPE', `${path}: /scan/committed is ${committed}; expected a row count`, path);
    }
    return Math.min(count, committed);
  }
  if (count > 1) {
    const seqs = needDataset(file, `${SCAN_PATHS.pixels}/seq`, path).slice([[0, count]]) as unknown as ArrayLike<number>;
    const ts = needDataset(file, `${SCAN_PATHS.pixels}/t`, path).slice([[0, count]]) as unknown as ArrayLike<number>;
    while (count > 1 && Number(seqs[count - 1]) === 0 && ts[count - 1] === 0) count--;
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
