/**
 * Reader for pyNSID/sidpy loop files (docs/science.md §6): `<group>/<name>/<name>` holds an N-d array whose
 * dimension scales (or DIMENSION_LABELS) say which axes are spatial and which is the voltage axis. Replayed as
 * protocol kind `loop`, one buffer `piezoresponse` per pixel, pixels in raster order (row = Y, col = X).
 */
import { PROTOCOL_VERSION, pixelSizeFrom, type StartHeader } from '../../protocol/messages.ts';
import type { PixelEvent } from '../../protocol/events.ts';
import { FileFormatError } from '../../hdf5/errors.ts';
import { attr, checkFilters, checkNumeric, groupAt, stringList, type Dataset, type File } from '../../hdf5/h5.ts';
import { NOMINAL_PIXEL_SECONDS, iteratePixels, scanIdFromPath, type ScanFileReader } from './reader.ts';

// Whole-array read: NSID loop files are small (the PTO file is 1.3 MB); refuse anything absurd instead of OOM.
const MAX_ELEMENTS = 64 * 1024 * 1024;

/** Does this dataset look like an NSID main dataset (its attributes or attached dimension information)? */
function isNsidMain(ds: Dataset): boolean {
  const a = ds.attrs;
  return Boolean(a.DIMENSION_LIST || a.DIMENSION_LABELS || a.data_type || a.main_data_name || a.quantity);
}

/**
 * The NSID main dataset of a file, if it has one, found by its attributes wherever the writer put it: pyNSID's
 * `/Measurement_000/Channel_000/<name>/<name>`, a top-level `/Channel_NNN/<name>/<name>`, or any other group.
 * Groups are searched breadth first in name order (shallowest first); a dataset named like its parent group is
 * preferred (pyNSID's convention), and dimension-scale datasets are never main datasets.
 */
export function findNsidMain(file: File): Dataset | undefined {
  const queue: Array<File | import('../../hdf5/h5.ts').Group> = [file];
  let fallback: Dataset | undefined;
  let visited = 0;
  while (queue.length && visited < 10_000) {
    const g = queue.shift()!;
    visited++;
    const parentName = g.path.split('/').pop() ?? '';
    for (const name of g.keys().sort()) {
      let obj: { type?: string } | null = null;
      try {
        obj = g.get(name) as { type?: string } | null;
      } catch {
        continue;
      }
      if (obj?.type === 'Group') queue.push(obj as import('../../hdf5/h5.ts').Group);
      else if (obj?.type === 'Dataset') {
        const ds = obj as Dataset;
        if (String(attr(ds, 'CLASS') ?? '') === 'DIMENSION_SCALE' || (ds.shape?.length ?? 0) < 2 || !isNsidMain(ds)) continue;
        if (name === parentName) return ds;
        fallback ??= ds;
      }
    }
  }
  return fallback;
}

interface Axis {
  label: string;
  kind: 'spatial' | 'spectral';
  values?: Float64Array;
  units: string;
}

function axesOf(file: File, ds: Dataset, path: string): Axis[] {
  const shape = ds.shape ?? [];
  let labels: (string | null)[] = [];
  try {
    labels = ds.get_dimension_labels();
  } catch {
    labels = stringList(attr(ds, 'DIMENSION_LABELS')) ?? [];
  }
  return shape.map((n, i) => {
    let scales: string[] = [];
    try {
      scales = ds.get_attached_scales(i);
    } catch {
      scales = [];
    }
    const scale = scales.length ? (file.get(scales[0]) as Dataset | null) : null;
    const label = labels[i] ?? (scale ? String(attr(scale, 'name') ?? scale.path.split('/').pop()) : `dim${i}`);
    const declared = scale ? String(attr(scale, 'dimension_type') ?? '').toUpperCase() : '';
    const kind: Axis['kind'] = declared ? (declared === 'SPATIAL' ? 'spatial' : 'spectral') : /^(x|y|row|col|column)s?$/i.test(label) ? 'spatial' : 'spectral';
    let values: Float64Array | undefined;
    if (scale) {
      checkFilters(scale, path);
      const v = scale.value;
      if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<number>).length === n) values = Float64Array.from(v as unknown as ArrayLike<number>);
    }
    return { label, kind, ...(values ? { values } : {}), units: scale ? String(attr(scale, 'units') ?? '') : '' };
  });
}

/** Open an NSID loop file that `openH5` already opened. */
export function readNsidLayout(file: File, path: string, main: Dataset): ScanFileReader {
  checkFilters(main, path);
  const shape = main.shape ?? [];
  const axes = axesOf(file, main, path);
  const spatial = axes.map((a, i) => ({ ...a, i })).filter((a) => a.kind === 'spatial');
  const spectral = axes.map((a, i) => ({ ...a, i })).filter((a) => a.kind === 'spectral');
  const where = `${path}: NSID dataset ${main.path} [${shape.join(', ')}] with dimensions [${axes.map((a) => `${a.label} (${a.kind})`).join(', ')}]`;
  // A dimension named for the bias is the spectral one even without a declared type.
  if (spatial.length !== 2 || spectral.length !== 1) {
    const named = axes.findIndex((a) => /^(voltage|dc_?bias|bias|dc_?offset|v)$/i.test(a.label));
    if (named >= 0 && axes.length === 3) axes.forEach((a, i) => (a.kind = i === named ? 'spectral' : 'spatial'));
  }
  spatial.splice(0, spatial.length, ...axes.map((a, i) => ({ ...a, i })).filter((a) => a.kind === 'spatial'));
  spectral.splice(0, spectral.length, ...axes.map((a, i) => ({ ...a, i })).filter((a) => a.kind === 'spectral'));
  if (spatial.length !== 2 || spectral.length !== 1) {
    throw new FileFormatError('LS_FILE_SHAPE', `${where}: expected two spatial dimensions and one spectral (voltage) dimension`, path);
  }
  const volt = spectral[0];
  if (!volt.values) {
    throw new FileFormatError('LS_FILE_MISSING', `${where}: the spectral dimension "${volt.label}" has no dimension scale with its voltages`, path);
  }
  // Rows run along Y and columns along X when the labels say so; otherwise the first spatial axis is the row.
  let [rowAx, colAx] = spatial;
  if (/^x/i.test(rowAx.label) && /^y/i.test(colAx.label)) [rowAx, colAx] = [colAx, rowAx];
  const total = shape.reduce((a, b) => a * b, 1);
  if (total > MAX_ELEMENTS) throw new FileFormatError('LS_FILE_SHAPE', `${where}: ${total} values is more than the ${MAX_ELEMENTS} this reader loads`, path);
  checkNumeric(main, path); // text values: LS_FILE_DTYPE, as for every layout
  let raw: ArrayLike<number>;
  try {
    const v = main.value as unknown;
    // 64-bit integers arrive as BigInt: as numbers, like every other type
    raw = v instanceof BigInt64Array || v instanceof BigUint64Array ? Float64Array.from(v, Number) : (v as ArrayLike<number>);
  } catch (err) {
    throw new FileFormatError('LS_FILE_UNREADABLE', `${where}: reading failed (${(err as Error).message}); the file is damaged`, path);
  }
  const rows = shape[rowAx.i];
  const cols = shape[colAx.i];
  const steps = shape[volt.i];
  // Row-major strides of the stored array, so any axis order maps to (row, col, step).
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const units = String(attr(main, 'units') ?? '');
  const scanId = scanIdFromPath(path);
  // Physical pitch from the spatial dimension scales (x along columns, y along rows), when they carry one unit.
  const pixelSize = rowAx.units === colAx.units || !rowAx.units || !colAx.units ? pixelSizeFrom(colAx.values, rowAx.values, colAx.units || rowAx.units) : undefined;
  const start: StartHeader = {
    type: 'start',
    protocol: PROTOCOL_VERSION,
    scanId,
    grid: { rows, cols, order: 'raster' },
    kind: 'loop',
    dcVoltage: Array.from(volt.values),
    fields: ['off'],
    cycles: 1,
    phaseUnit: 'rad',
    buffers: [{ name: 'piezoresponse', dtype: 'float32', shape: [steps], unit: units }],
    ...(pixelSize ? { pixelSize } : {}),
    metadata: {
      source: 'nsid',
      file: path.split('/').pop(),
      dataset: main.path,
      quantity: String(attr(main, 'quantity') ?? ''),
      dimensions: axes.map((a) => a.label),
      voltageUnits: volt.units,
    },
  };
  const pixel = (i: number): PixelEvent => {
    if (!(i >= 0 && i < rows * cols)) throw new RangeError(`${path}: pixel ${i} is outside 0..${rows * cols - 1}`);
    const row = Math.floor(i / cols);
    const col = i % cols;
    const base = row * strides[rowAx.i] + col * strides[colAx.i];
    const s = strides[volt.i];
    const p = new Float32Array(steps);
    for (let k = 0; k < steps; k++) p[k] = raw[base + k * s];
    return { type: 'pixel', scanId, seq: i, row, col, t: i * NOMINAL_PIXEL_SECONDS, data: [p] };
  };
  const reader: ScanFileReader = {
    layout: 'nsid',
    path,
    start,
    count: rows * cols,
    pixel,
    pixels: () => iteratePixels(reader),
    close: () => file.close(),
  };
  return reader;
}

