/**
 * Alert quality on simulated scans through a real model (docs/alerts.md §Quality): encode scans with planted
 * regions of each kind plus clean scans once, then score any number of alert configs on the same encodings.
 * Used by `loopstream alerts-eval`; the scans are encoded by the daemon's pipeline (app/calibrate.ts).
 */
import type { Bundle } from '../model/bundle.ts';
import { checkBundleAgainstScan } from '../model/bundle.ts';
import { ANOMALY_KINDS, simulateScan, type AnomalyKind, type SimulatedScan } from '../sim/index.ts';
import { AlertEngine } from './alert-engine.ts';
import { evaluateAlerts, type AlertQuality } from './evaluate.ts';
import type { AlertsConfig, AlertsReference } from './types.ts';

/** What to simulate for a quality run. */
export interface QualityPlan {
  rows: number;
  cols: number;
  /** seeds per kind (and clean scans) */
  seeds: number;
  /** first seed index (default 1): a later range is a held-out check of thresholds tuned on the first */
  firstSeed?: number;
  /** planted regions per scan with anomalies */
  anomalies: number;
}

/** One simulated scan, encoded, with the batches in the order the pipeline delivered them. */
export interface EncodedScan {
  sim: SimulatedScan;
  kind: AnomalyKind | 'clean';
  error: Float32Array;
  mu: Float32Array;
  latentDim: number;
  batches: Uint32Array[];
}

/** Per-kind row of a quality report. */
export interface KindQuality {
  kind: AnomalyKind;
  scans: number;
  regions: number;
  detected: number;
  recall: number;
  alerts: number;
  correct: number;
  precision: number;
  /** mean bounding-box IoU of detected regions with their alert */
  meanBboxIoU: number;
}

/** Precision/recall per kind and false alerts on clean scans. */
export interface QualityReport {
  kinds: KindQuality[];
  clean: { scans: number; alerts: number; alertsPerScan: number };
}

/** Seed of the s-th scan (1-based) of a kind; clean scans use 5000 + s, calibration 9001… (never overlapping). */
export function qualitySeed(kind: AnomalyKind | 'clean', s: number): number {
  return kind === 'clean' ? 5000 + s : 1000 * (ANOMALY_KINDS.indexOf(kind) + 1) + s;
}

/**
 * The scans of the plan: `seeds` scans per anomaly kind (only that kind planted) and `seeds` clean ones, each
 * checked against the bundle. app/calibrate.ts encodes them through the daemon's pipeline into EncodedScans.
 */
export function qualityScans(bundle: Bundle, plan: QualityPlan): Array<{ kind: AnomalyKind | 'clean'; sim: SimulatedScan }> {
  const first = plan.firstSeed ?? 1;
  const out: Array<{ kind: AnomalyKind | 'clean'; sim: SimulatedScan }> = [];
  for (let s = first; s < first + plan.seeds; s++) {
    for (const kind of [...ANOMALY_KINDS, 'clean' as const]) {
      const seed = qualitySeed(kind, s);
      const sim =
        kind === 'clean'
          ? simulateScan({ rows: plan.rows, cols: plan.cols, seed })
          : simulateScan({ rows: plan.rows, cols: plan.cols, seed, anomalies: plan.anomalies, anomalyKinds: [kind] });
      checkBundleAgainstScan(bundle, sim.start);
      out.push({ kind, sim });
    }
  }
  return out;
}

/** Run an AlertEngine over each encoded scan (batch by batch, as live) and count hits against the truth. */
export function scoreQuality(scans: readonly EncodedScan[], ref: AlertsReference, config: AlertsConfig): QualityReport {
  const qs = new Map<string, AlertQuality[]>();
  let cleanScans = 0;
  let cleanAlerts = 0;
  for (const e of scans) {
    const { rows, cols } = e.sim.start.grid;
    const engine = new AlertEngine({ scanId: e.sim.start.scanId, rows, cols, latentDim: e.latentDim }, ref, config, []);
    const maps = { error: e.error, mu: e.mu };
    for (const b of e.batches) engine.onBatch(maps, b);
    const alerts = engine.finish(maps);
    if (e.kind === 'clean') {
      cleanScans++;
      cleanAlerts += alerts.length;
      continue;
    }
    const t = e.sim.truth;
    const list = qs.get(e.kind) ?? [];
    list.push(evaluateAlerts(alerts, { rows, cols, anomaly: t.anomaly, region: t.region ?? regionMap(t.regions, rows, cols, t.anomaly), regions: t.regions }));
    qs.set(e.kind, list);
  }
  const kinds = ANOMALY_KINDS.map((kind): KindQuality => {
    const list = qs.get(kind) ?? [];
    const sum = (f: (q: AlertQuality) => number) => list.reduce((s, q) => s + f(q), 0);
    const regions = sum((q) => q.regions);
    const detected = sum((q) => q.detected);
    const alerts = sum((q) => q.alerts);
    const correct = sum((q) => q.correct);
    const ious = list.flatMap((q) => q.bboxIoU.filter((x) => x > 0));
    return {
      kind,
      scans: list.length,
      regions,
      detected,
      recall: regions ? detected / regions : Number.NaN,
      alerts,
      correct,
      // no alert at all: nothing was wrong
      precision: alerts ? correct / alerts : 1,
      meanBboxIoU: ious.length ? ious.reduce((s, x) => s + x, 0) / ious.length : Number.NaN,
    };
  });
  return { kinds, clean: { scans: cleanScans, alerts: cleanAlerts, alertsPerScan: cleanScans ? cleanAlerts / cleanScans : Number.NaN } };
}

/** The report as a markdown table (the form docs/alerts.md shows). */
export function formatQualityReport(r: QualityReport): string {
  const lines = ['| kind | scans | regions | detected | recall | alerts | correct | precision | mean bbox IoU |', '|---|---|---|---|---|---|---|---|---|'];
  for (const k of r.kinds) {
    lines.push(`| ${k.kind} | ${k.scans} | ${k.regions} | ${k.detected} | ${k.recall.toFixed(3)} | ${k.alerts} | ${k.correct} | ${k.precision.toFixed(3)} | ${k.meanBboxIoU.toFixed(2)} |`);
  }
  lines.push(`| clean | ${r.clean.scans} | 0 | – | – | ${r.clean.alerts} | – | – | – |`);
  lines.push('', `false alerts on clean scans: ${r.clean.alerts} in ${r.clean.scans} scans (${r.clean.alertsPerScan.toFixed(2)} per scan)`);
  return lines.join('\n');
}

/** Region-id map from bounding boxes when a truth lacks one (older scan files): pixels inside a box and anomalous. */
function regionMap(regions: EncodedScan['sim']['truth']['regions'], rows: number, cols: number, anomaly: Uint8Array): Uint16Array {
  const m = new Uint16Array(rows * cols);
  for (const r of regions) for (let row = r.rowMin; row <= r.rowMax; row++) for (let c = r.colMin; c <= r.colMax; c++) if (anomaly[row * cols + c]) m[row * cols + c] = r.id;
  return m;
}
