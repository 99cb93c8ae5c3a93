/**
 * Our own HDF5 scan layout (docs/formats.md "Scan files"), in one place: its names, its layout versions, and the
 * primitives that write and read it on an open h5wasm file. The recorder (store/scan-file.ts: open, append, verify,
 * resume) and replay (sources/hdf5/own.ts: rows → ScanEvents) both go through here and know no dataset path.
 *
 * One row per received pixel, in arrival order, in resizable chunked datasets under /scan/pixels; `/scan/committed`
 * counts the rows verified on disk (layout version 2).
 */
import { StartHeader, StopHeader, specElements } from '../protocol/messages.ts';
import type { SimTruth } from '../contracts/sim-truth.ts';
import { FileFormatError } from './errors.ts';
import { attr, checkNumeric, groupAt, needDataset, type Dataset, type File, type Group } from './h5.ts';

/** Value of the `/scan` `format` attribute that marks our layout. */
export const SCAN_FORMAT = 'loopstream-scan';
/**
 * Layout version written by this build; readers refuse newer ones. Version 2: `seq` is float64 (exact up to
 * 2^53 - 1; version 1 stored int32) and `/scan/committed` holds the count of verified rows.
 */
export const SCAN_FORMAT_VERSION = 2;
/** Group and dataset paths of the layout. */
export const SCAN_PATHS = { root: 'scan', pixels: 'scan/pixels', truth: 'scan/truth', committed: 'scan/committed' } as const;
/** Per-pixel index datasets under /scan/pixels, beside one dataset per buffer. */
export const INDEX_DATASETS = ['seq', 'row', 'col', 't'] as const;

// About 128 KiB of float32 per chunk: big enough that appends touch few chunks, small enough for tiny scans.
const CHUNK_BYTES = 128 * 1024;

/** Rows per chunk for a per-pixel dataset of `elements` float32 values. */
export function chunkRows(elements: number): number {
  return Math.max(1, Math.min(4096, Math.floor(CHUNK_BYTES / (4 * elements))));
}

/** True when `file` is one of ours (a /scan group with format = SCAN_FORMAT); says nothing of its version. */
export function isScanFile(file: File): boolean {
  const root = groupAt(file, SCAN_PATHS.root);
  return root !== undefined && attr(root, 'format') === SCAN_FORMAT;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/**
 * Lay out a new scan file for `start` in the empty `file`: the /scan attributes, dc_voltage, committed = 0, one
 * empty growable dataset per index and buffer, and the simulator's truth if given. `start` must be validated.
 * Throws a RangeError when the truth does not fit the grid (the caller's error), anything else from HDF5.
 */
export function writeScanLayout(file: File, start: StartHeader, truth?: SimTruth): void {
  const root = file.create_group(SCAN_PATHS.root);
  root.create_attribute('format', SCAN_FORMAT);
  root.create_attribute('formatVersion', SCAN_FORMAT_VERSION);
  root.create_attribute('protocol', start.protocol);
  root.create_attribute('scanId', start.scanId);
  root.create_attribute('kind', start.kind);
  root.create_attribute('rows', start.grid.rows);
  root.create_attribute('cols', start.grid.cols);
  root.create_attribute('start', JSON.stringify(start));
  const dc = root.create_dataset({ name: 'dc_voltage', data: Float64Array.from(start.dcVoltage) });
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
  for (const b of start.buffers) growable(b.name, '<f', new Float32Array(0), b.shape, b.unit);
  if (truth) writeTruth(file, start, truth);
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

/** Set (or replace) the `/scan` stop attribute. `stop` must be validated. */
export function writeStopAttr(file: File, stop: StopHeader): void {
  const root = groupAt(file, SCAN_PATHS.root)!;
  if (attr(root, 'stop') !== undefined) root.delete_attribute('stop');
  root.create_attribute('stop', JSON.stringify(stop));
}

/**
 * The `/scan/committed` dataset, created (holding 0) in a version-1 file that lacks it. Kept open by a writer, which
 * advances it with `writeCommitted` after every verified batch.
 */
export function committedDataset(file: File, path: string): Dataset {
  if (!file.get(SCAN_PATHS.committed)) groupAt(file, SCAN_PATHS.root)!.create_dataset({ name: 'committed', data: Float64Array.of(0), shape: [1], dtype: '<d' });
  return needDataset(file, SCAN_PATHS.committed, path);
}

/** Set `/scan/committed` (from `committedDataset`) to `rows`: rows past it are not data. */
export function writeCommitted(committed: Dataset, rows: number): void {
  committed.write_slice([[0, 1]], Float64Array.of(rows));
}

/** One batch of rows in the layout's column order. */
export interface ScanRows {
  seq: Float64Array;
  row: Int32Array;
  col: Int32Array;
  t: Float64Array;
  /** one array per start.buffers entry, rows × its elements */
  buffers: Float32Array[];
}

/**
 * The per-pixel datasets of an open scan file, in the order a batch is written: the buffers first, the index
 * datasets after them and `seq` last, so that a batch cut short by a crash is trimmed by `cutRows` to what every
 * dataset holds.
 */
export class ScanDatasets {
  /** every per-pixel dataset in write order: buffers, t, row, col, seq */
  readonly all: Dataset[];
  readonly seq: Dataset;
  readonly row: Dataset;
  readonly col: Dataset;
  readonly t: Dataset;
  readonly buffers: Dataset[];
  /** values per row of each buffer */
  readonly elements: number[];

  constructor(
    readonly file: File,
    readonly path: string,
    readonly start: StartHeader,
  ) {
    const at = (name: string) => needDataset(file, `${SCAN_PATHS.pixels}/${name}`, path);
    this.seq = at('seq');
    this.row = at('row');
    this.col = at('col');
    this.t = at('t');
    this.buffers = start.buffers.map((b) => at(b.name));
    this.elements = start.buffers.map((b) => specElements(b));
    this.all = [...this.buffers, this.t, this.row, this.col, this.seq];
  }

  /** The columns of `rows` in the order of `all`. */
  columns(rows: ScanRows): ArrayLike<number>[] {
    return [...rows.buffers, rows.t, rows.row, rows.col, rows.seq];
  }

  /** Extend every dataset to `from + n` rows and write `rows` there, in `all` order. */
  append(from: number, rows: ScanRows): void {
    const to = from + rows.seq.length;
    const cols = this.columns(rows);
    this.all.forEach((ds, k) => {
      ds.resize([to, ...(ds.shape ?? []).slice(1)]);
      ds.write_slice([[from, to]], cols[k]);
    });
  }

  /** Rows each dataset holds, in `all` order. */
  lengths(): number[] {
    return this.all.map((ds) => ds.shape?.[0] ?? 0);
  }

  /** Cut every dataset longer than `count` rows back to `count`. */
  cutRows(count: number): void {
    for (const ds of this.all) {
      const shape = ds.shape ?? [0];
      if (shape[0] > count) ds.resize([count, ...shape.slice(1)]);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** The start header stored in an own-layout file, validated; FileFormatError when the file is not ours. */
export function readStart(file: File, path: string): StartHeader {
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
export function readStop(file: File, path: string): StopHeader | undefined {
  const root = groupAt(file, SCAN_PATHS.root) as Group;
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

/**
 * Rows of a recording that hold data. Since layout version 2 that is `/scan/committed`: rows verified on disk after
 * their batch was flushed and read back (a full disk leaves the datasets extended over rows of fill values, which
 * are never data). For version 1 files, which lack it: the rows every per-pixel dataset holds, less trailing rows
 * whose extent reached the disk but whose data did not (seq = 0 and t = 0 past row 0: seq is written last).
 */
export function completeRows(ds: ScanDatasets): number {
  const { file, path } = ds;
  let count = Math.min(...ds.lengths());
  if (file.get(SCAN_PATHS.committed)) {
    const committed = Number((needDataset(file, SCAN_PATHS.committed, path).value as ArrayLike<number>)[0]);
    if (!(Number.isInteger(committed) && committed >= 0)) {
      throw new FileFormatError('LS_FILE_SHAPE', `${path}: /scan/committed is ${committed}; expected a row count`, path);
    }
    return Math.min(count, committed);
  }
  if (count > 1) {
    const seqs = ds.seq.slice([[0, count]]) as unknown as ArrayLike<number>;
    const ts = ds.t.slice([[0, count]]) as unknown as ArrayLike<number>;
    while (count > 1 && Number(seqs[count - 1]) === 0 && ts[count - 1] === 0) count--;
  }
  return count;
}

/**
 * Check that the per-pixel datasets can be replayed as the start header says: numbers, not text (LS_FILE_DTYPE), and
 * each buffer shaped [N, …its spec's shape] (LS_FILE_SHAPE).
 */
export function checkReadable(ds: ScanDatasets): void {
  for (const d of ds.all) checkNumeric(d, ds.path);
  ds.buffers.forEach((d, b) => {
    const shape = d.shape ?? [];
    const want = ds.start.buffers[b].shape;
    if (shape.slice(1).join() !== want.join()) {
      throw new FileFormatError('LS_FILE_SHAPE', `${ds.path}: ${d.path} has shape [${shape.join(', ')}]; the start header declares [N, ${want.join(', ')}]`, ds.path);
    }
  });
}

/** A block of consecutive rows read from the file: index columns as numbers, buffers as float32. */
export interface RowBlock {
  /** first row of the block */
  from: number;
  /** rows in the block */
  length: number;
  seq: ArrayLike<number>;
  row: ArrayLike<number>;
  col: ArrayLike<number>;
  t: ArrayLike<number>;
  /** one array per buffer, `length` × its elements, row-major */
  buffers: Float32Array[];
}

/**
 * Read rows [from, to) of every per-pixel dataset: one HDF5 read per dataset per block, never a whole dataset.
 * A failed read is LS_FILE_UNREADABLE naming the dataset and rows. The buffers are new arrays each call: the pixels
 * a replay emits are views into them and outlive the next block.
 */
export function readRowBlock(ds: ScanDatasets, from: number, to: number): RowBlock {
  const rd = (d: Dataset) => {
    try {
      return d.slice([[from, to]]) as unknown as ArrayLike<number>;
    } catch (err) {
      throw new FileFormatError('LS_FILE_UNREADABLE', `${ds.path}: reading ${d.path} rows ${from}..${to - 1} failed (${(err as Error).message}); the file is damaged`, ds.path);
    }
  };
  return {
    from,
    length: to - from,
    seq: rd(ds.seq),
    row: rd(ds.row),
    col: rd(ds.col),
    t: rd(ds.t),
    buffers: ds.buffers.map((d) => {
      const v = rd(d);
      return v instanceof Float32Array ? v : Float32Array.from(v);
    }),
  };
}
