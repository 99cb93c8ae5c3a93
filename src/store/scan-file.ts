/**
 * The raw recording's lifecycle: create a scan file, append batches of pixels, flush them and read them back before
 * they count, resume after a crash, close. The layout itself (names, versions, write and read primitives) is
 * src/hdf5/own-format.ts (docs/formats.md "Scan files"); `flush()` after each batch makes a crash (even SIGKILL)
 * lose at most the batch being written, and `reopen()` finds where the recording stopped.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { StartHeader, StopHeader } from '../protocol/messages.ts';
import type { PixelEvent } from '../protocol/events.ts';
import type { SimTruth } from '../contracts/sim-truth.ts';
import { FileFormatError } from '../hdf5/errors.ts';
import { h5, openH5, type Dataset, type File } from '../hdf5/h5.ts';
import { ScanDatasets, committedDataset, completeRows, readStart, writeCommitted, writeScanLayout, writeStopAttr, type ScanRows } from '../hdf5/own-format.ts';
import { Module } from 'h5wasm/node';
import { diagnoseWriteFailure } from './write-failure.ts';

/** Appends pixels of one scan to an HDF5 scan file; resumable after a crash with `reopen`. */
export class ScanRecorder {
  private readonly ds: ScanDatasets;
  private readonly committed: Dataset;
  private closed = false;
  private failed = false;
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
    this.ds = new ScanDatasets(file, file.filename, start);
    this.committed = committedDataset(file, file.filename);
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
    JSON.stringify(parsed);
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
      writeScanLayout(file, parsed, truth);
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
      const start = readStart(file, path);
      const ds = new ScanDatasets(file, path, start);
      const count = completeRows(ds);
      ds.cutRows(count);
      // A version-1 recording has no committed count yet: its complete rows are committed now.
      writeCommitted(committedDataset(file, path), count);
      const recorder = new ScanRecorder(file, start, count);
      let lastSeq = -1;
      if (count > 0) {
        const seqs = ds.seq.slice([[0, count]]) as unknown as ArrayLike<number>;
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
    const elements = this.ds.elements;
    const seq = new Float64Array(m);
    const row = new Int32Array(m);
    const col = new Int32Array(m);
    const t = new Float64Array(m);
    const bufs = elements.map((e) => new Float32Array(m * e));
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
        const e = elements[b];
        if (p.data[b].length !== e) {
          throw new RangeError(`ScanRecorder ${this.path}: pixel seq ${p.seq} buffer "${this.start.buffers[b].name}" has ${p.data[b].length} values; expected ${e}`);
        }
        bufs[b].set(p.data[b], j * e);
      }
    }
    const from = this.written;
    const to = from + m;
    const rows: ScanRows = { seq, row, col, t, buffers: bufs };
    try {
      this.ds.append(from, rows);
    } catch (err) {
      throw this.writeFailed(`appending ${m} pixel(s) failed (${(err as Error).message})`);
    }
    this.written = to;
    this.unverified.push({ from, to, columns: this.ds.columns(rows) });
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
    for (const batch of this.unverified) {
      this.ds.all.forEach((ds, k) => {
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
      writeCommitted(this.committed, to);
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
    JSON.stringify(parsed); // a stop that cannot be serialised fails here, before anything is written
    this.flush();
    try {
      writeStopAttr(this.file, parsed);
    } catch (err) {
      throw this.writeFailed(`writing the stop failed (${(err as Error).message})`);
    }
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
