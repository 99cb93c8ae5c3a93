/**
 * Reader for pycroscopy/USID SHO-fit results (docs/science.md §6): `Raw_Data-SHO_Fit_NNN/Fit`, compound
 * (num_pix, num_udvs_steps) with fields "Amplitude [V]", "Frequency [Hz]", "Quality Factor", "Phase [rad]".
 * Which column is which (DC step, field state, cycle) is read from the group's Spectroscopic_Values rows by their
 * labels, never assumed from column parity; pycroscopy writes Field 0 = out-of-field, 1 = in-field.
 * The grid comes from Position_Indices (labels X → column, Y → row). Replayed as protocol kind `sho`.
 */
import { MAX_GRID_SIDE, pixelSizeFrom, shoStartHeader, type StartHeader } from '../../protocol/messages.ts';
import type { PixelEvent } from '../../protocol/events.ts';
import { FileFormatError } from '../../hdf5/errors.ts';
import { attr, checkFilters, checkLocal, checkNumeric, groupAt, numbers, stringList, type Dataset, type File, type Group } from '../../hdf5/h5.ts';
import { NOMINAL_PIXEL_SECONDS, iteratePixels, scanIdFromPath, type ScanFileReader } from './reader.ts';

/** Compound fields of a SHO fit, in the order of the protocol's sho buffers. */
export const SHO_FIELDS = ['Amplitude [V]', 'Phase [rad]', 'Frequency [Hz]', 'Quality Factor'] as const;

const BLOCK = 64;

/** Path of the SHO-fit group of a USID file, if any (beside Raw_Data, at the root, or anywhere). */
export function findShoGroup(file: File): string | undefined {
  for (const p of ['Measurement_000/Channel_000/Raw_Data-SHO_Fit_000', 'Raw_Data-SHO_Fit_000']) {
    if (groupAt(file, p)?.get('Fit')) return p;
  }
  let paths: string[] = [];
  try {
    paths = file.paths();
  } catch {
    return undefined;
  }
  return paths.find((p) => /(^|\/)[^/]*-SHO_Fit_\d+$/.test(p) && groupAt(file, p)?.get('Fit'));
}

function need(g: Group, name: string, path: string, why: string): Dataset {
  checkLocal(g.file_id, `${g.path}/${name}`, path);
  const obj = g.get(name) as { type?: string } | null;
  if (!obj || obj.type !== 'Dataset') throw new FileFormatError('LS_FILE_MISSING', `${path}: ${g.path}/${name} is missing (${why})`, path);
  checkFilters(obj as Dataset, path);
  return obj as Dataset;
}

/** The rows of a USID ancillary dataset keyed by their labels. */
function labelledRows(ds: Dataset, path: string): Map<string, Float64Array> {
  const labels = stringList(attr(ds, 'labels'));
  const shape = ds.shape ?? [];
  if (!labels || shape.length !== 2 || labels.length !== shape[0]) {
    throw new FileFormatError('LS_FILE_SHAPE', `${path}: ${ds.path} [${shape.join(', ')}] needs a "labels" attribute with one label per row`, path);
  }
  checkNumeric(ds, path);
  const v = numbers(ds);
  const n = shape[1];
  return new Map(labels.map((l, r) => [l, v.subarray(r * n, (r + 1) * n)]));
}

/** Open a USID SHO-fit file that `openH5` already opened; `groupPath` from findShoGroup. */
export function readUsidShoLayout(file: File, path: string, groupPath: string): ScanFileReader {
  const g = groupAt(file, groupPath)!;
  const fit = need(g, 'Fit', path, 'the SHO fit results');
  const members = fit.metadata.compound_type?.members.map((m) => m.name) ?? [];
  const fieldIdx = SHO_FIELDS.map((f) => members.indexOf(f));
  if (fieldIdx.some((i) => i < 0)) {
    throw new FileFormatError('LS_FILE_SHAPE', `${path}: ${fit.path} has compound fields [${members.join(', ')}]; expected ${SHO_FIELDS.map((f) => `"${f}"`).join(', ')}`, path);
  }
  checkNumeric(fit, path, SHO_FIELDS);
  const [npix, ncol] = fit.shape ?? [];
  if (!(npix > 0 && ncol > 0) || (fit.shape ?? []).length !== 2) {
    throw new FileFormatError('LS_FILE_SHAPE', `${path}: ${fit.path} has shape [${(fit.shape ?? []).join(', ')}]; expected (num_pix, num_udvs_steps)`, path);
  }

  // --- spectroscopic axes: which (cycle, field, step) each column holds
  const spec = labelledRows(need(g, 'Spectroscopic_Values', path, 'spectroscopic axes of the SHO fit'), path);
  const dc = spec.get('DC_Offset');
  if (!dc) throw new FileFormatError('LS_FILE_MISSING', `${path}: ${groupPath}/Spectroscopic_Values has rows [${[...spec.keys()].join(', ')}]; a DC_Offset row is required`, path);
  if (dc.length !== ncol) throw new FileFormatError('LS_FILE_SHAPE', `${path}: Spectroscopic_Values has ${dc.length} columns; Fit has ${ncol}`, path);
  const fieldRow = spec.get('Field');
  const cycleRow = spec.get('Cycle');
  const fieldOf = (j: number): 'on' | 'off' => (fieldRow ? (fieldRow[j] === 1 ? 'on' : 'off') : 'off');
  const present = new Set(Array.from({ length: ncol }, (_, j) => fieldOf(j)));
  const fields = (['on', 'off'] as const).filter((f) => present.has(f));
  const cycleValues = cycleRow ? [...new Set(cycleRow)].sort((a, b) => a - b) : [0];
  const cycles = cycleValues.length;
  const slots = new Int32Array(ncol); // column → flat index into [cycles, fields, steps]
  const stepOf = new Int32Array(ncol); // column → DC step within its (cycle, field)
  const fill = new Map<string, number>();
  const dcVoltage: number[] = [];
  for (let j = 0; j < ncol; j++) {
    const c = cycleRow ? cycleValues.indexOf(cycleRow[j]) : 0;
    const f = fields.indexOf(fieldOf(j));
    const key = `${c},${f}`;
    const k = fill.get(key) ?? 0;
    fill.set(key, k + 1);
    if (c === 0 && f === 0) dcVoltage.push(dc[j]);
    slots[j] = c * fields.length + f; // finished below once steps is known
    stepOf[j] = k;
  }
  const counts = [...fill.values()];
  const steps = counts[0];
  if (counts.length !== cycles * fields.length || counts.some((n) => n !== steps)) {
    throw new FileFormatError(
      'LS_FILE_SHAPE',
      `${path}: the ${ncol} SHO columns do not split evenly into ${cycles} cycle(s) x ${fields.length} field state(s) (${[...fill].map(([k, n]) => `[cycle,field ${k}]: ${n}`).join(', ')})`,
      path,
    );
  }
  for (let j = 0; j < ncol; j++) slots[j] = slots[j] * steps + stepOf[j];

  // --- grid: Position_Indices beside the SHO group, beside Raw_Data, or at the root
  const parent = groupPath.includes('/') ? groupPath.slice(0, groupPath.lastIndexOf('/')) : '';
  let posDs: Dataset | undefined;
  for (const p of [groupPath, parent, ''].map((q) => (q ? `${q}/Position_Indices` : 'Position_Indices'))) {
    const obj = file.get(p) as { type?: string } | null;
    if (obj?.type === 'Dataset') {
      posDs = obj as Dataset;
      break;
    }
  }
  let pos: Float64Array;
  let plabels: string[];
  if (posDs) {
    checkFilters(posDs, path);
    const pshape = posDs.shape ?? [];
    plabels = stringList(attr(posDs, 'labels')) ?? ['X', 'Y'];
    if (pshape.length !== 2 || pshape[0] !== npix || pshape[1] !== plabels.length || pshape[1] < 1 || pshape[1] > 2) {
      throw new FileFormatError('LS_FILE_SHAPE', `${path}: ${posDs.path} [${pshape.join(', ')}] does not match ${npix} pixels with 1 or 2 labelled position dimensions`, path);
    }
    checkNumeric(posDs, path);
    pos = numbers(posDs);
  } else {
    // No Position_Indices: BE acquisitions record the grid on the measurement group; pixels are then raster order.
    const meas = groupAt(file, 'Measurement_000');
    const gr = Number(meas ? attr(meas, 'grid_num_rows') : NaN);
    const gc = Number(meas ? attr(meas, 'grid_num_cols') : NaN);
    if (!(gr > 0 && gc > 0 && gr * gc === npix)) {
      throw new FileFormatError(
        'LS_FILE_MISSING',
        `${path}: no Position_Indices beside ${groupPath}, its parent or at the root, and Measurement_000 grid_num_rows x grid_num_cols (${gr} x ${gc}) does not give the ${npix} pixels of Fit; the grid is unknown`,
        path,
      );
    }
    plabels = ['X', 'Y'];
    pos = new Float64Array(npix * 2);
    for (let i = 0; i < npix; i++) {
      pos[2 * i] = i % gc;
      pos[2 * i + 1] = Math.floor(i / gc);
    }
  }
  const ndim = plabels.length;
  const yAt = plabels.findIndex((l) => /^y/i.test(l));
  const xAt = ndim === 1 ? 0 : plabels.findIndex((l) => /^x/i.test(l)) >= 0 ? plabels.findIndex((l) => /^x/i.test(l)) : yAt === 0 ? 1 : 0;
  const rowAt = ndim === 1 ? -1 : yAt >= 0 ? yAt : 1 - xAt;
  // Every pixel must sit at one whole, non-negative position of its own: a NaN, negative or fractional index, or two
  // pixels at one place, leaves the grid undefined (and silently dropped pixels before this check).
  const rowOf = new Int32Array(npix);
  const colOf = new Int32Array(npix);
  const placeOf = (v: number, i: number, axis: string): number => {
    if (!(Number.isInteger(v) && v >= 0 && v < MAX_GRID_SIDE)) {
      throw new FileFormatError('LS_FILE_POSITIONS', `${path}: ${posDs?.path ?? 'the grid'} gives pixel ${i} the ${axis} index ${v}; positions must be whole numbers 0..${MAX_GRID_SIDE - 1}`, path);
    }
    return v;
  };
  let rows = 1;
  let cols = 1;
  for (let i = 0; i < npix; i++) {
    rowOf[i] = rowAt < 0 ? 0 : placeOf(pos[i * ndim + rowAt]!, i, plabels[rowAt] ?? 'row');
    colOf[i] = placeOf(pos[i * ndim + xAt]!, i, plabels[xAt] ?? 'column');
    rows = Math.max(rows, rowOf[i] + 1);
    cols = Math.max(cols, colOf[i] + 1);
  }
  // Replay in raster order whatever order the file stores pixels in.
  const fileRowOfSeq = new Int32Array(rows * cols).fill(-1);
  for (let i = 0; i < npix; i++) {
    const at = rowOf[i] * cols + colOf[i];
    if (fileRowOfSeq[at] >= 0) {
      throw new FileFormatError('LS_FILE_POSITIONS', `${path}: ${posDs?.path ?? 'the grid'} places pixels ${fileRowOfSeq[at]} and ${i} both at (row ${rowOf[i]}, col ${colOf[i]}); each pixel needs a position of its own`, path);
    }
    fileRowOfSeq[at] = i;
  }
  const order = Array.from(fileRowOfSeq).map((fileRow, seq) => ({ fileRow, seq })).filter((x) => x.fileRow >= 0);

  const scanId = scanIdFromPath(path);
  // Physical pitch from Position_Values (beside Position_Indices, same column order), when present.
  let pixelSize: ReturnType<typeof pixelSizeFrom>;
  if (posDs) {
    const pvObj = file.get(posDs.path.replace(/Position_Indices$/, 'Position_Values')) as { type?: string } | null;
    if (pvObj?.type === 'Dataset') {
      const pv = pvObj as Dataset;
      const shape = pv.shape ?? [];
      if (shape.length === 2 && shape[0] === npix && shape[1] === ndim) {
        checkFilters(pv, path);
        const v = numbers(pv);
        const col = (k: number) => (k < 0 ? undefined : Float64Array.from({ length: npix }, (_, i) => v[i * ndim + k]!));
        const unitsAttr = stringList(attr(pv, 'units')) ?? [];
        pixelSize = pixelSizeFrom(col(xAt), col(rowAt), unitsAttr[xAt] ?? unitsAttr[0] ?? '');
      }
    }
  }
  const start: StartHeader = shoStartHeader({
    ...(pixelSize ? { pixelSize } : {}),
    scanId,
    rows,
    cols,
    dcVoltage,
    fields: [...fields],
    cycles,
    metadata: { source: 'usid-sho', file: path.split('/').pop(), dataset: fit.path, spectroscopicRows: [...spec.keys()] },
  });

  let blockAt = -1;
  let block: number[][] = []; // h5wasm returns a block of compound rows flat: one record per (pixel, column)
  const pixel = (i: number): PixelEvent => {
    if (!(i >= 0 && i < order.length)) throw new RangeError(`${path}: pixel ${i} is outside 0..${order.length - 1}`);
    const { fileRow, seq } = order[i];
    if (blockAt < 0 || fileRow < blockAt || fileRow >= blockAt + BLOCK) {
      blockAt = Math.floor(fileRow / BLOCK) * BLOCK;
      try {
        block = fit.slice([[blockAt, Math.min(npix, blockAt + BLOCK)]]) as unknown as number[][];
      } catch (err) {
        throw new FileFormatError('LS_FILE_UNREADABLE', `${path}: reading ${fit.path} rows ${blockAt}.. failed (${(err as Error).message}); the file is damaged`, path);
      }
    }
    const at = (fileRow - blockAt) * ncol;
    const data = SHO_FIELDS.map(() => new Float32Array(ncol));
    for (let j = 0; j < ncol; j++) {
      const v = block[at + j];
      const s = slots[j];
      for (let b = 0; b < 4; b++) data[b][s] = v[fieldIdx[b]];
    }
    return { type: 'pixel', scanId, seq, row: Math.floor(seq / cols), col: seq % cols, t: seq * NOMINAL_PIXEL_SECONDS, data };
  };
  const reader: ScanFileReader = {
    layout: 'usid-sho',
    path,
    start,
    count: order.length,
    pixel,
    pixels: () => iteratePixels(reader),
    close: () => file.close(),
  };
  return reader;
}
