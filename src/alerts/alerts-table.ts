/** Alerts as flat typed columns, the shape an HDF5 writer stores (one row per alert plus per-pixel maps). */
import type { AlertTable as AlertsTable } from '../store/results-file.ts';
import { FLAG_ERROR, FLAG_LATENT, type Alert, type AlertReason } from './types.ts';

// The table's shape is the results file's (src/store owns that format); alerts only fill it.
export type { AlertsTable };

/** Reason codes stored in `AlertsTable.reason`: bit 1 error, bit 2 latent. */
export const REASON_CODE: Record<AlertReason, number> = { error: FLAG_ERROR, latent: FLAG_LATENT, 'error+latent': FLAG_ERROR | FLAG_LATENT };

/**
 * Flatten alerts for storage. `size` is rows·cols of the scan. Alerts merged into another keep their row, with
 * no pixels of their own (their pixels belong to the alert they merged into).
 */
export function alertsToTable(alerts: readonly Alert[], size: number): AlertsTable {
  const list = [...alerts].sort((a, b) => a.id - b.id);
  const n = list.length;
  const t: AlertsTable = {
    id: new Int32Array(n),
    rowMin: new Int32Array(n),
    rowMax: new Int32Array(n),
    colMin: new Int32Array(n),
    colMax: new Int32Array(n),
    area: new Int32Array(n),
    peakScore: new Float32Array(n),
    meanScore: new Float32Array(n),
    reason: new Uint8Array(n),
    closed: new Uint8Array(n),
    mergedInto: new Int32Array(n),
    openedAt: new Float64Array(n),
    updatedAt: new Float64Array(n),
    closedAt: new Float64Array(n),
    pixelOffset: new Uint32Array(n + 1),
    pixelIndex: new Uint32Array(0),
    pixelAlert: new Int32Array(size),
  };
  let total = 0;
  for (const a of list) if (a.mergedInto === undefined) total += a.pixels.length;
  t.pixelIndex = new Uint32Array(total);
  let at = 0;
  list.forEach((a, k) => {
    t.id[k] = a.id;
    t.rowMin[k] = a.bbox.rowMin;
    t.rowMax[k] = a.bbox.rowMax;
    t.colMin[k] = a.bbox.colMin;
    t.colMax[k] = a.bbox.colMax;
    t.area[k] = a.area;
    t.peakScore[k] = a.peakScore;
    t.meanScore[k] = a.meanScore;
    t.reason[k] = REASON_CODE[a.reason];
    t.closed[k] = a.state === 'closed' ? 1 : 0;
    t.mergedInto[k] = a.mergedInto ?? 0;
    t.openedAt[k] = a.openedAt;
    t.updatedAt[k] = a.updatedAt;
    t.closedAt[k] = a.closedAt ?? Number.NaN;
    t.pixelOffset[k] = at;
    if (a.mergedInto !== undefined) return;
    for (let j = 0; j < a.pixels.length; j++) {
      const i = a.pixels[j];
      if (i >= size) throw new RangeError(`alert ${a.id} has pixel ${i}; the scan has ${size} pixels`);
      t.pixelIndex[at++] = i;
      t.pixelAlert[i] = a.id;
    }
  });
  t.pixelOffset[n] = at;
  return t;
}
