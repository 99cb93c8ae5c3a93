/**
 * Region-level quality of alerts against a ground-truth anomaly map (the simulator's `truth`), as pure functions.
 *
 * - A planted region counts as **detected** when one alert covers at least `minCover` of its pixels (default 20 %,
 *   at least one pixel): the microscopist is sent to the right place even if the rim was missed.
 * - An alert counts as **correct** when at least `minPurity` (default 50 %) of its pixels are anomalous in the
 *   truth map dilated by one pixel (8-neighbourhood): a model sees a pixel's neighbours blur into its rim.
 * precision = correct alerts / alerts, recall = detected regions / regions.
 */
import type { Alert, BBox } from './types.ts';

/** The part of a simulator truth the evaluation reads. */
export interface TruthMaps {
  rows: number;
  cols: number;
  /** rows·cols, 0 = normal, k > 0 = anomaly kind index */
  anomaly: Uint8Array;
  /** rows·cols, 0 = none, else the planted region id */
  region: Uint16Array;
  regions: Array<{ id: number; kind: string; rowMin: number; rowMax: number; colMin: number; colMax: number; pixels: number }>;
}

/** Counts for one scan (add them up over scans before dividing). */
export interface AlertQuality {
  regions: number;
  detected: number;
  alerts: number;
  correct: number;
  /** per planted region: IoU of its bounding box with the best covering alert's box (0 when undetected) */
  bboxIoU: number[];
  /** per kind: regions and detected */
  byKind: Record<string, { regions: number; detected: number }>;
}

/** Options of `evaluateAlerts`. */
export interface EvaluateOptions {
  minCover?: number;
  minPurity?: number;
}

/** Intersection over union of two inclusive boxes. */
export function bboxIoU(a: BBox, b: BBox): number {
  const r = Math.min(a.rowMax, b.rowMax) - Math.max(a.rowMin, b.rowMin) + 1;
  const c = Math.min(a.colMax, b.colMax) - Math.max(a.colMin, b.colMin) + 1;
  const inter = r > 0 && c > 0 ? r * c : 0;
  const area = (x: BBox) => (x.rowMax - x.rowMin + 1) * (x.colMax - x.colMin + 1);
  return inter / (area(a) + area(b) - inter);
}

/** Count detected regions and correct alerts of one scan (merged-away alerts are ignored). */
export function evaluateAlerts(alerts: readonly Alert[], truth: TruthMaps, opts: EvaluateOptions = {}): AlertQuality {
  const minCover = opts.minCover ?? 0.2;
  const minPurity = opts.minPurity ?? 0.5;
  const { rows, cols } = truth;
  const live = alerts.filter((a) => a.mergedInto === undefined);
  // truth dilated by one pixel
  const near = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (!truth.anomaly[r * cols + c]) continue;
      for (let dr = -1; dr <= 1; dr++) {
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr;
          const cc = c + dc;
          if (rr >= 0 && rr < rows && cc >= 0 && cc < cols) near[rr * cols + cc] = 1;
        }
      }
    }
  }
  let correct = 0;
  const cover = new Map<number, Map<number, number>>(); // region id → alert id → pixels covered
  for (const a of live) {
    let inside = 0;
    for (const i of a.pixels) {
      if (near[i]) inside++;
      const id = truth.region[i];
      if (!id) continue;
      let m = cover.get(id);
      if (!m) cover.set(id, (m = new Map()));
      m.set(a.id, (m.get(a.id) ?? 0) + 1);
    }
    if (a.pixels.length > 0 && inside >= minPurity * a.pixels.length) correct++;
  }
  const byKind: AlertQuality['byKind'] = {};
  const ious: number[] = [];
  let detected = 0;
  for (const reg of truth.regions) {
    const k = (byKind[reg.kind] ??= { regions: 0, detected: 0 });
    k.regions++;
    const need = Math.max(1, Math.ceil(minCover * reg.pixels));
    let best: Alert | undefined;
    let bestCover = 0;
    for (const [alertId, n] of cover.get(reg.id) ?? []) {
      if (n > bestCover) {
        bestCover = n;
        best = live.find((a) => a.id === alertId);
      }
    }
    if (best && bestCover >= need) {
      detected++;
      k.detected++;
      ious.push(bboxIoU(best.bbox, reg));
    } else {
      ious.push(0);
    }
  }
  return { regions: truth.regions.length, detected, alerts: live.length, correct, bboxIoU: ious, byKind };
}
