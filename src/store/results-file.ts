/**
 * The results HDF5 file of one scan: embedding, log σ², error map, per-pixel model version, pixel state and
 * missing mask, scan metadata, the bundle's manifest and the alerts. Layout in docs/formats.md §Results files.
 *
 * Each write produces a complete file under a temporary name and renames it into place, so a reader (h5py, the
 * dashboard, a crash) only ever sees a whole, consistent file — never one half-written.
 */
import { renameSync, rmSync } from 'node:fs';
import type { ScanMaps } from '../maps/scan-maps.ts';
import { PIXEL_MISSING } from '../maps/scan-maps.ts';
import { h5 } from '../hdf5/h5.ts';
import { FileFormatError } from '../hdf5/errors.ts';
import { diagnoseWriteFailure } from './write-failure.ts';

/**
 * Alerts as flat typed columns; each column becomes one dataset under /alerts (src/alerts/alerts-table.ts fills it).
 * One row per alert (ascending id); region pixels in CSR form; a per-pixel alert-id map.
 */
export interface AlertTable {
  /** alert ids */
  id: Int32Array;
  rowMin: Int32Array;
  rowMax: Int32Array;
  colMin: Int32Array;
  colMax: Int32Array;
  area: Int32Array;
  peakScore: Float32Array;
  meanScore: Float32Array;
  /** REASON_CODE (src/alerts/alerts-table.ts) of each alert */
  reason: Uint8Array;
  /** 0 = open/updated, 1 = closed */
  closed: Uint8Array;
  /** id of the alert this one merged into, 0 = none */
  mergedInto: Int32Array;
  /** ms since the epoch */
  openedAt: Float64Array;
  updatedAt: Float64Array;
  /** NaN while open */
  closedAt: Float64Array;
  /** pixels of alert k are pixelIndex[pixelOffset[k] .. pixelOffset[k+1]) (flat row*cols+col) */
  pixelOffset: Uint32Array;
  pixelIndex: Uint32Array;
  /** [size] alert id of each pixel, 0 = none */
  pixelAlert: Int32Array;
}

export interface ResultsContent {
  maps: ScanMaps;
  /** the bundle's manifest.json content */
  manifest: unknown;
  complete: boolean;
  alerts?: AlertTable;
  /** free metadata (source, recording path, counts) stored as attributes */
  attrs?: Record<string, string | number>;
  /** further per-pixel physical maps [rows, cols] (e.g. loop height and offset), each with its description and unit */
  physicalMaps?: Record<string, { data: Float32Array; description: string; units: string }>;
}

/** HDF5 dtype string of a typed array column. */
function dtypeOf(a: unknown): string {
  if (a instanceof Float64Array) return '<d';
  if (a instanceof Float32Array) return '<f';
  if (a instanceof Uint32Array) return '<I';
  if (a instanceof Uint8Array) return '<B';
  return '<i';
}

/** Write (or rewrite) the results file at `path` atomically. */
export async function writeResultsFile(path: string, content: ResultsContent): Promise<void> {
  const H = await h5();
  const { maps } = content;
  const tmp = `${path}.tmp`;
  rmSync(tmp, { force: true });
  const f = new H.File(tmp, 'w');
  // h5wasm reports a file it could not create (disk full, read-only folder) with an id of -1 instead of throwing.
  if (f.file_id < 0n) {
    const why = diagnoseWriteFailure(tmp);
    throw Object.assign(new FileFormatError('LS_FILE_WRITE', `${path}: cannot write the results file: ${why.detail}`, path), { errno: why.errno });
  }
  try {
    const { rows, cols, latentDim: d } = maps;
    f.create_attribute('format', 'loopstream-results');
    f.create_attribute('format_version', 1);
    f.create_attribute('scan_id', maps.scanId);
    f.create_attribute('kind', maps.start.kind);
    f.create_attribute('rows', rows);
    f.create_attribute('cols', cols);
    f.create_attribute('latent_dim', d);
    f.create_attribute('complete', content.complete ? 1 : 0);
    f.create_attribute('pixels_encoded', maps.encoded);
    f.create_attribute('pixels_missing', maps.missing);
    f.create_attribute('start_header_json', JSON.stringify(maps.start));
    f.create_attribute('model_manifest_json', JSON.stringify(content.manifest ?? {}));
    for (const [k, v] of Object.entries(content.attrs ?? {})) f.create_attribute(k, v);

    const emb = f.create_dataset({ name: 'embedding', data: maps.mu, shape: [rows, cols, d], dtype: '<f' });
    emb.create_attribute('description', 'latent mean mu of each pixel (the embedding); NaN where not encoded');
    f.create_dataset({ name: 'log_var', data: maps.logVar, shape: [rows, cols, d], dtype: '<f' }).create_attribute('description', 'latent log variance of each pixel');
    const err = f.create_dataset({ name: 'error', data: maps.error, shape: [rows, cols], dtype: '<f' });
    err.create_attribute('description', 'reconstruction MSE per pixel, in the scaled (z-score) units of the model');
    f.create_dataset({ name: 'model_version', data: maps.version, shape: [rows, cols], dtype: '<i' }).create_attribute('description', 'version of the model that encoded each pixel; -1 = not encoded');
    f.create_dataset({ name: 'state', data: maps.state, shape: [rows, cols], dtype: '<B' }).create_attribute('description', '0 pending, 1 encoded, 2 missing (seq gap), 3 received not encoded');
    const missing = new Uint8Array(rows * cols);
    for (let i = 0; i < missing.length; i++) missing[i] = maps.state[i] === PIXEL_MISSING ? 1 : 0;
    f.create_dataset({ name: 'missing', data: missing, shape: [rows, cols], dtype: '<B' }).create_attribute('description', '1 where the pixel was sent but never arrived');
    for (const [name, m] of Object.entries(content.physicalMaps ?? {})) {
      const ds = f.create_dataset({ name, data: m.data, shape: [rows, cols], dtype: '<f' });
      ds.create_attribute('description', m.description);
      ds.create_attribute('units', m.units);
    }
    f.create_dataset({ name: 'dc_voltage', data: Float64Array.from(maps.start.dcVoltage), shape: [maps.start.dcVoltage.length], dtype: '<d' }).create_attribute('units', 'V');

    const a = content.alerts;
    const g = f.create_group('alerts');
    g.create_attribute('count', a ? a.id.length : 0);
    g.create_attribute('description', 'one row per alert (ascending id); pixels of alert k are pixel_index[pixel_offset[k]:pixel_offset[k+1]]; reason bit 1 = error, bit 2 = latent');
    if (a) {
      for (const [key, column] of Object.entries(a) as Array<[string, ArrayLike<number> & { length: number }]>) {
        if (key === 'pixelAlert') continue;
        const name = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
        if (column.length > 0) g.create_dataset({ name, data: column as never, shape: [column.length], dtype: dtypeOf(column) });
      }
    }
    g.create_dataset({ name: 'pixel_alert', data: a?.pixelAlert ?? new Int32Array(rows * cols), shape: [rows, cols], dtype: '<i' }).create_attribute('description', 'alert id of each pixel, 0 = none');
  } finally {
    f.close();
  }
  renameSync(tmp, path);
}
