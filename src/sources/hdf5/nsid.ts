/**
 * Reader for pyNSID/sidpy loop files (DOMAIN.md §6): `/Channel_NNN/<name>/<name>` holds an N-d array whose
 * dimension scales (or DIMENSION_LABELS) say which axes are spatial and which is the voltage axis. Replayed as
 * protocol kind `loop`, one buffer `piezoresponse` per pixel, pixels in raster order (row = Y, col = X).
 */
import { PROTOCOL_VERSION, type StartHeader } from '../../protocol/messages.ts';
import type { PixelEvent } from '../../protocol/events.ts';
import { FileFormatError } from './errors.ts';
import { attr, checkFilters, groupAt, stringList, type Dataset, type File } from './h5.ts';
import { NOMINAL_PIXEL_SECONDS, iteratePixels, scanIdFromPath, type ScanFileReader } from './reader.ts';

// Whole-array read: NSID loop files are small (the PTO file is 1.3 MB); refuse anything absurd instead of OOM.
const MAX_ELEMENTS = 64 * 1024 * 1024;

/** The NSID main dataset of a file, if it has one: the first `/Channel_NNN/<name>/<name>` with dimension info. */
export function findNsidMain(file: File): Dataset | undefined {
  for (const ch of file.keys().filter((k) => /^Channel_\d+$/.test(k)).sort()) {
    const g = groupAt(file, ch);
    if (!g) continue;
    for (const name of g.keys()) {
      const sub = groupAt(g, name);
      const obj = sub?.get(name) as { type?: string } | null | undefined;
      if (obj?.type === 'Dataset') {
        const ds = obj as Dataset;
        if (ds.attrs.DIMENSION_LABELS || ds.attrs.DIMENSION_LIST || ds.attrs.data_type) return ds;
      }
    }
  }
  return undefined;
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
  const metaType = main.metadata;
  if (metaType.type !== 1 /* H5T_FLOAT */ && metaType.type !== 0 /* H5T_INTEGER */) {
    throw new FileFormatError('LS_FILE_SHAPE', `${where}: values are not numeric (HDF5 type class ${metaType.type})`, path);
  }
  let raw: ArrayLike<number>;
  try {
    raw = main.value as unknown as ArrayLike<number>;
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

