/**
 * AlertEngine: per-scan alert state, shaped like a LiberTEM UDF — buffers allocated at scan start, updated per
 * encoded batch, results on demand. It reads ScanMaps (error, mu), scores each new pixel (scores.ts), grows
 * connected regions (regions.ts) and sends alert events to its sinks without ever waiting on them.
 *
 * Rules (docs/alerts.md):
 * - a pixel is *strong* when its threshold ratio (max of error z / errorThreshold and latent z / latentThreshold)
 *   is ≥ 1, and a *member* when it is ≥ growFactor (hysteresis, so a region's rim joins it);
 * - a region raises an alert once it has ≥ minArea pixels and ≥ ceil(minArea / 2) strong ones;
 * - growth and merges are updates of the same id (a merge keeps the older id; the younger is closed with
 *   `mergedInto`), sent at most once per cooldownMs per alert, the last change always sent by `finish`;
 * - every open alert closes at scan end (`finish`).
 */
import type { Logger } from '../util/log.ts';
import { silentLogger } from '../util/log.ts';
import { RegionLabeler } from './regions.ts';
import { FanOut, fanOut } from './sinks/fan-out.ts';
import { RunningMedianMad, errorZ, latentScorer, ERROR_FLOOR, type LatentScorer } from './scores.ts';
import { FLAG_ERROR, FLAG_LATENT, type Alert, type AlertEvent, type AlertReason, type AlertSink, type BBox, type AlertsConfig, type AlertsReference } from './types.ts';

/** The scan an engine watches: a ScanMaps satisfies this. */
export interface AlertScanInfo {
  scanId: string;
  rows: number;
  cols: number;
  latentDim: number;
}

/** What the engine reads from the maps of its scan (a ScanMaps satisfies this). */
export interface AlertMapsView {
  /** [rows·cols] reconstruction error, NaN until encoded */
  error: Float32Array;
  /** [rows·cols·latentDim] */
  mu: Float32Array;
}

/** Counters for /metrics and the replay summary. */
export interface AlertEngineStats {
  pixelsScored: number;
  pixelsWaiting: number;
  strongPixels: number;
  alertsOpened: number;
  eventsSent: number;
  sinkFailures: number;
}

/** Strong pixels a region needs besides its area: half the minimum area, at least 1. */
export function minStrongFor(minArea: number): number {
  return Math.max(1, Math.ceil(minArea / 2));
}

/** Threshold ratio and flags of one pixel from its two z-scores (NaN scores do not fire). */
export function thresholdRatio(zErr: number, zLat: number, errorThreshold: number, latentThreshold: number): { ratio: number; flags: number } {
  let ratio = Number.NEGATIVE_INFINITY;
  let flags = 0;
  if (Number.isFinite(zErr)) {
    ratio = zErr / errorThreshold;
    if (zErr >= errorThreshold) flags |= FLAG_ERROR;
  }
  if (latentThreshold > 0 && Number.isFinite(zLat)) {
    ratio = Math.max(ratio, zLat / latentThreshold);
    if (zLat >= latentThreshold) flags |= FLAG_LATENT;
  }
  return { ratio, flags };
}

export class AlertEngine {
  readonly scanId: string;
  readonly rows: number;
  readonly cols: number;
  /** per-pixel threshold ratio (1 = at threshold); NaN until scored */
  readonly score: Float32Array;
  /** per-pixel FLAG_ERROR | FLAG_LATENT of strong pixels */
  readonly flags: Uint8Array;
  private readonly cls: Uint8Array;
  private readonly scored: Uint8Array;
  private readonly regions: RegionLabeler;
  private readonly running: RunningMedianMad;
  /** the latent score (scores.ts latentScorer picks it from the config and the reference) */
  private readonly latent: LatentScorer;
  private readonly dim: number;
  private readonly minStrong: number;
  private waiting: number[] = [];
  private readonly byId = new Map<number, Alert>();
  private readonly rootOfAlert = new Map<number, number>();
  private readonly dirty = new Set<number>();
  private readonly lastSent = new Map<number, { at: number; area: number; merged: number; bbox: BBox }>();
  private nextId = 1;
  private finished = false;
  private readonly now: () => number;
  private readonly log: Logger;
  /** the sinks every event goes to, each isolated from the others (sinks/fan-out.ts) */
  private readonly out: FanOut;
  readonly stats: AlertEngineStats = { pixelsScored: 0, pixelsWaiting: 0, strongPixels: 0, alertsOpened: 0, eventsSent: 0, sinkFailures: 0 };

  constructor(
    scan: AlertScanInfo,
    private readonly reference: AlertsReference,
    private readonly config: AlertsConfig,
    sinks: readonly AlertSink[] | FanOut = [],
    opts: { now?: () => number; log?: Logger } = {},
  ) {
    this.scanId = scan.scanId;
    this.rows = scan.rows;
    this.cols = scan.cols;
    this.dim = scan.latentDim;
    const n = scan.rows * scan.cols;
    this.score = new Float32Array(n).fill(Number.NaN);
    this.flags = new Uint8Array(n);
    this.cls = new Uint8Array(n);
    this.scored = new Uint8Array(n);
    this.regions = new RegionLabeler(scan.rows, scan.cols);
    this.running = new RunningMedianMad(config.reservoirSize);
    this.now = opts.now ?? Date.now;
    this.log = (opts.log ?? silentLogger).child({ scanId: scan.scanId, stage: 'alerts' });
    this.out = sinks instanceof FanOut ? sinks : fanOut(sinks, this.log);
    this.minStrong = minStrongFor(config.minArea);
    const { scorer, note } = latentScorer(config, reference, scan.latentDim);
    this.latent = scorer;
    if (note) this.log.warn(note.fields, note.message);
  }

  /** Score the pixels of one encoded batch (flat indices) and send what changed. Returns at once. */
  onBatch(maps: AlertMapsView, index: ArrayLike<number>): void {
    if (this.finished || !this.config.enabled) return;
    for (let k = 0; k < index.length; k++) {
      const i = index[k];
      const e = maps.error[i];
      if (Number.isFinite(e) && !this.scored[i]) this.running.push(Math.log(Math.max(e, ERROR_FLOOR)));
    }
    if (this.running.seen < this.config.warmupPixels) {
      for (let k = 0; k < index.length; k++) this.waiting.push(index[k]);
      this.stats.pixelsWaiting = this.waiting.length;
      return;
    }
    if (this.waiting.length > 0) {
      const w = this.waiting;
      this.waiting = [];
      this.stats.pixelsWaiting = 0;
      this.scorePixels(maps, w);
    }
    this.scorePixels(maps, index);
    this.flushDue(false);
  }

  /** End of scan: score any waiting pixels, send every pending update, close every alert; returns all alerts. */
  finish(maps: AlertMapsView): Alert[] {
    if (!this.finished && this.config.enabled) {
      if (this.waiting.length > 0) {
        const w = this.waiting;
        this.waiting = [];
        this.stats.pixelsWaiting = 0;
        this.scorePixels(maps, w);
      }
      this.flushDue(true);
      const at = this.now();
      for (const alert of this.byId.values()) {
        if (alert.state === 'closed') continue;
        alert.state = 'closed';
        alert.closedAt = at;
        alert.updatedAt = at;
        this.emit(alert, at);
      }
    }
    this.finished = true;
    return this.alerts();
  }

  /** Snapshot of the alerts so far (merged-away ones only with includeMerged), by id. */
  alerts(opts: { includeMerged?: boolean } = {}): Alert[] {
    const out: Alert[] = [];
    for (const a of this.byId.values()) if (opts.includeMerged || a.mergedInto === undefined) out.push(copyAlert(a));
    return out.sort((a, b) => a.id - b.id);
  }

  private scorePixels(maps: AlertMapsView, index: ArrayLike<number>): void {
    const cfg = this.config;
    const scan = this.running.stats();
    const memberLevel = cfg.growFactor;
    const d = this.dim;
    const touched: number[] = [];
    let needRebuild = false;
    for (let k = 0; k < index.length; k++) {
      const i = index[k];
      const e = maps.error[i];
      if (!Number.isFinite(e)) continue;
      const zErr = errorZ(e, this.reference.error, scan);
      const zLat = this.latent.z(maps.mu, i * d);
      const { ratio, flags } = thresholdRatio(zErr, zLat, cfg.errorThreshold, cfg.latentThreshold);
      const cls = ratio >= 1 ? 2 : ratio >= memberLevel ? 1 : 0;
      const was = this.scored[i] ? this.cls[i] : 0;
      if (!this.scored[i]) this.stats.pixelsScored++;
      this.scored[i] = 1;
      this.score[i] = ratio;
      if (this.flags[i] === 0 && flags !== 0) this.stats.strongPixels++;
      else if (this.flags[i] !== 0 && flags === 0) this.stats.strongPixels--;
      this.flags[i] = flags;
      this.cls[i] = cls;
      if (cls === was) {
        if (cls > 0) touched.push(i);
        continue;
      }
      // a re-encoded pixel that leaves a region (or weakens) cannot be undone in a disjoint-set forest
      if (cls < was) {
        needRebuild = true;
        continue;
      }
      this.regions.add(i, cls === 2);
      touched.push(i);
    }
    if (needRebuild) {
      const { merges, lost } = this.regions.rebuild(this.cls);
      this.applyMerges(merges);
      for (const id of lost) this.closeAlert(id, undefined);
      this.refreshRoots();
      for (let i = 0; i < this.cls.length; i++) if (this.cls[i] > 0) touched.push(i);
    } else {
      this.applyMerges(this.regions.takeMerges());
    }
    const seen = new Set<number>();
    for (const i of touched) {
      const r = this.regions.find(i);
      if (seen.has(r)) continue;
      seen.add(r);
      const id = this.regions.alertId(r);
      if (id) {
        this.rootOfAlert.set(id, r);
        this.dirty.add(id);
      } else if (this.regions.area(r) >= cfg.minArea && this.regions.strong(r) >= this.minStrong) {
        this.open(r);
      }
    }
  }

  private refreshRoots(): void {
    this.rootOfAlert.clear();
    for (let i = 0; i < this.cls.length; i++) {
      if (!this.cls[i]) continue;
      const r = this.regions.find(i);
      const id = this.regions.alertId(r);
      if (id) this.rootOfAlert.set(id, r);
    }
  }

  private applyMerges(merges: { absorbed: number; into: number }[]): void {
    for (const m of merges) {
      const into = this.byId.get(m.into);
      if (into) into.merged.push(m.absorbed);
      this.closeAlert(m.absorbed, m.into);
      this.dirty.add(m.into);
    }
  }

  private closeAlert(id: number, mergedInto: number | undefined): void {
    const a = this.byId.get(id);
    this.dirty.delete(id);
    this.rootOfAlert.delete(id);
    if (!a || a.state === 'closed') return;
    const at = this.now();
    a.state = 'closed';
    a.closedAt = at;
    a.updatedAt = at;
    if (mergedInto !== undefined) a.mergedInto = mergedInto;
    this.emit(a, at);
  }

  private open(root: number): void {
    const id = this.nextId++;
    this.regions.setAlertId(root, id);
    this.rootOfAlert.set(id, root);
    const at = this.now();
    const alert: Alert = {
      id,
      scanId: this.scanId,
      state: 'open',
      bbox: this.regions.bbox(root),
      area: 0,
      pixels: new Uint32Array(0),
      peakScore: 0,
      meanScore: 0,
      reason: 'error',
      errorPixels: 0,
      latentPixels: 0,
      openedAt: at,
      updatedAt: at,
      merged: [],
      sequence: 0,
    };
    this.fill(alert, root);
    this.byId.set(id, alert);
    this.stats.alertsOpened++;
    this.emit(alert, at);
  }

  /** Recompute an alert's region fields from its root. */
  private fill(alert: Alert, root: number): void {
    const pixels = this.regions.members(root);
    let peak = Number.NEGATIVE_INFINITY;
    let sum = 0;
    let errorPixels = 0;
    let latentPixels = 0;
    for (let k = 0; k < pixels.length; k++) {
      const i = pixels[k];
      const s = this.score[i];
      if (s > peak) peak = s;
      sum += s;
      if (this.flags[i] & FLAG_ERROR) errorPixels++;
      if (this.flags[i] & FLAG_LATENT) latentPixels++;
    }
    alert.pixels = pixels;
    alert.area = pixels.length;
    alert.bbox = this.regions.bbox(root);
    alert.peakScore = peak;
    alert.meanScore = pixels.length > 0 ? sum / pixels.length : 0;
    alert.errorPixels = errorPixels;
    alert.latentPixels = latentPixels;
    alert.reason = reasonOf(errorPixels, latentPixels);
  }

  /** Send updates of dirty alerts whose cooldown has passed (all of them when `force`). */
  private flushDue(force: boolean): void {
    if (this.dirty.size === 0) return;
    const at = this.now();
    for (const id of [...this.dirty]) {
      const a = this.byId.get(id);
      const root = this.rootOfAlert.get(id);
      if (!a || a.state === 'closed' || root === undefined) {
        this.dirty.delete(id);
        continue;
      }
      const last = this.lastSent.get(id);
      if (!force && last && at - last.at < this.config.cooldownMs) continue;
      this.dirty.delete(id);
      this.fill(a, root);
      // nothing visible changed since the last event (a re-scored pixel kept its class): no event
      if (last && a.area === last.area && a.merged.length === last.merged && sameBox(a.bbox, last.bbox)) continue;
      a.state = 'updated';
      a.updatedAt = at;
      this.emit(a, at);
    }
  }

  private emit(alert: Alert, at: number): void {
    alert.sequence++;
    this.lastSent.set(alert.id, { at, area: alert.area, merged: alert.merged.length, bbox: { ...alert.bbox } });
    const event: AlertEvent = { type: alert.state, alert: copyAlert(alert), at };
    this.stats.eventsSent++;
    this.out.deliver({ event }, this.sinkFailed);
  }

  /** A sink failed with an event of this engine (the fan-out counted and logged it for the daemon). */
  private readonly sinkFailed = (): void => {
    this.stats.sinkFailures++;
  };
}


function reasonOf(errorPixels: number, latentPixels: number): AlertReason {
  if (errorPixels > 0 && latentPixels > 0) return 'error+latent';
  return latentPixels > 0 ? 'latent' : 'error';
}

function sameBox(a: BBox, b: BBox): boolean {
  return a.rowMin === b.rowMin && a.rowMax === b.rowMax && a.colMin === b.colMin && a.colMax === b.colMax;
}

function copyAlert(a: Alert): Alert {
  return { ...a, bbox: { ...a.bbox }, merged: [...a.merged] };
}
