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
import { h5 } from './h5.ts';

/** Alert rows as flat arrays (from alerts/alertsToTable); optional until a scan has alerts. */
export interface AlertTable {
  id: Int32Array;
  rowMin: Int32Array;
  rowMax: Int32Array;
  colMin: Int32Array;
  colMax: Int32Array;
  area: Int32Array;
  score: Float32Array;
  /** JSON text of each alert (reason, state, timestamps) */
  json: string[];
  /** rows*cols: the alert id of each pixel, 0 = none */
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
}

/** Write (or rewrite) the results file at `path` atomically. */
export async function writeResultsFile(path: string, content: ResultsContent): Promise<void> {
  const H = await h5();
  const { maps } = content;
  const tmp = `${path}.tmp`;
  rmSync(tmp, { force: true });
  const f = new H.File(tmp, 'w');
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
    f.create_dataset({ name: 'dc_voltage', data: Float64Array.from(maps.start.dcVoltage), shape: [maps.start.dcVoltage.length], dtype: '<d' }).create_attribute('units', 'V');

    const a = content.alerts;
    const g = f.create_group('alerts');
    g.create_attribute('count', a ? a.id.length : 0);
    if (a && a.id.length > 0) {
      const n = a.id.length;
      g.create_dataset({ name: 'id', data: a.id, shape: [n], dtype: '<i' });
      g.create_dataset({ name: 'row_min', data: a.rowMin, shape: [n], dtype: '<i' });
      g.create_dataset({ name: 'row_max', data: a.rowMax, shape: [n], dtype: '<i' });
      g.create_dataset({ name: 'col_min', data: a.colMin, shape: [n], dtype: '<i' });
      g.create_dataset({ name: 'col_max', data: a.colMax, shape: [n], dtype: '<i' });
      g.create_dataset({ name: 'area', data: a.area, shape: [n], dtype: '<i' });
      g.create_dataset({ name: 'score', data: a.score, shape: [n], dtype: '<f' });
      g.create_attribute('alerts_json', JSON.stringify(a.json));
    }
    g.create_dataset({ name: 'pixel_alert', data: a?.pixelAlert ?? new Int32Array(rows * cols), shape: [rows, cols], dtype: '<i' }).create_attribute('description', 'alert id of each pixel, 0 = none');
  } finally {
    f.close();
  }
  renameSync(tmp, path);
}
