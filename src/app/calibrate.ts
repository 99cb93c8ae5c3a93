/**
 * The offline tools on the daemon's own graph: calibration (`alerts-reference.json`) and the alert quality
 * evaluation encode their scans by replaying them through the pipeline (pipeline/daemon.ts `Daemon.run`, the same
 * path as `loopstream replay` and a live scan: warm-up, refusals, micro-batches, pipeline/encode-into-maps.ts) and
 * read the maps from the resulting ScanContexts. alerts/ keeps the statistics (alerts/calibrate.ts, quality.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Observable } from 'rxjs';
import type { Config } from '../config/schema.ts';
import { checkCalibrationScans, writeCalibration } from '../alerts/calibrate.ts';
import { AlertsError } from '../alerts/errors.ts';
import { qualityScans, type EncodedScan, type QualityPlan } from '../alerts/quality.ts';
import type { AlertsReference } from '../alerts/types.ts';
import { loadBundle } from '../model/bundle.ts';
import { Daemon } from '../pipeline/daemon.ts';
import { replayRules } from '../pipeline/replay-rules.ts';
import type { ScanContext } from '../pipeline/scan-context.ts';
import type { PixelEvent, ScanEvent } from '../protocol/events.ts';
import type { StartHeader } from '../protocol/messages.ts';
import { openScanFile, replayReader } from '../sources/hdf5/index.ts';
import type { Logger } from '../util/log.ts';

/** A scan for an offline tool: its start header and its event stream (start, pixels, stop), replayable once. */
export interface OfflineScan {
  start: StartHeader;
  events(): Observable<ScanEvent>;
  /** rows·cols, non-zero = leave out of the calibration (known anomalies) */
  exclude?: Uint8Array;
}

/** Pixels per macrotask of a memory scan (the file replay source's chunk). */
const CHUNK = 512;

/** A scan held in memory (a simulated one): start, its pixels in order, a completed stop. */
export function memoryScan(scan: { start: StartHeader; pixels(): Iterable<PixelEvent>; exclude?: Uint8Array }): OfflineScan {
  return {
    start: scan.start,
    exclude: scan.exclude,
    // In chunks, one macrotask each, as the file replay source reads (sources/hdf5 replayReader): the graph sees
    // the same arrival pattern as `loopstream replay --pace max`.
    events: () =>
      new Observable<ScanEvent>((subscriber) => {
        const pixels = scan.pixels()[Symbol.iterator]();
        let sent = 0;
        let lastSeq = -1;
        let timer: ReturnType<typeof setImmediate> | undefined;
        const step = () => {
          for (let k = 0; k < CHUNK && !subscriber.closed; k++) {
            const next = pixels.next();
            if (next.done) {
              subscriber.next({ type: 'stop', header: { type: 'stop', scanId: scan.start.scanId, status: 'completed', pixelsSent: sent, lastSeq } });
              subscriber.complete();
              return;
            }
            sent++;
            lastSeq = next.value.seq;
            subscriber.next(next.value);
          }
          if (!subscriber.closed) timer = setImmediate(step);
        };
        subscriber.next({ type: 'start', header: scan.start });
        timer = setImmediate(step);
        return () => {
          if (timer) clearImmediate(timer);
        };
      }),
  };
}

/** Scan files (own recordings, NSID, USID: whatever `openScanFile` reads), replayed at full speed as `loopstream replay` does. */
export async function fileScans(config: Config, log: Logger, paths: readonly string[]): Promise<{ scans: OfflineScan[]; close(): void }> {
  const readers: Array<Awaited<ReturnType<typeof openScanFile>>> = [];
  const close = () => {
    for (const r of readers) r.close();
  };
  try {
    for (const p of paths) readers.push(await openScanFile(p));
  } catch (err) {
    close();
    throw err;
  }
  return { scans: readers.map((reader) => ({ start: reader.start, events: () => replayReader(reader, { pace: { kind: 'max' }, ...replayRules(config, log) }) })), close };
}

/** One scan through the pipeline: its context (maps, counters) and its batches in the order they were encoded. */
export interface OfflineEncoded {
  ctx: ScanContext;
  batches: Uint32Array[];
}

/**
 * Replay `scans` one after another through a daemon on the bundle in `bundleDir` (nothing recorded; results files
 * go to a temporary folder, removed after; no baselines) and return each scan's context and batches.
 */
export async function encodeOffline(config: Config, log: Logger, bundleDir: string, scans: readonly OfflineScan[], onScan?: (done: number, total: number) => void): Promise<OfflineEncoded[]> {
  const dir = mkdtempSync(join(tmpdir(), 'loopstream-offline-'));
  const offline: Config = {
    ...config,
    model: { ...config.model, bundle: bundleDir },
    data: { ...config.data, dir, record: false },
    baselines: { ...config.baselines, enabled: false },
  };
  const daemon = await Daemon.create(offline, log, { source: 'replay', record: false });
  const batches = new Map<ScanContext, Uint32Array[]>();
  const sub = daemon.encoder.encoded$.subscribe(({ ctx, index }) => {
    const list = batches.get(ctx);
    if (list) list.push(index);
    else batches.set(ctx, [index]);
  });
  try {
    const out: OfflineEncoded[] = [];
    for (const scan of scans) {
      const run = await daemon.run(scan.events());
      const ctx = run.scans.find((c) => c.start.scanId === scan.start.scanId) ?? run.scans[0];
      if (!ctx) throw new AlertsError('LS_ALERTS_CALIBRATION', `scan ${scan.start.scanId}: its replay through the pipeline opened no scan (see the log for why it was refused)`, bundleDir);
      out.push({ ctx, batches: batches.get(ctx) ?? [] });
      batches.delete(ctx);
      onScan?.(out.length, scans.length);
    }
    return out;
  } finally {
    sub.unsubscribe();
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Compute the alert reference of the bundle in `bundleDir` from clean scans and write `alerts-reference.json` into
 * it (alerts/calibrate.ts). Pixels flagged in a scan's `exclude` map are left out. Returns the reference.
 */
export async function calibrateAlerts(config: Config, log: Logger, bundleDir: string, scans: readonly OfflineScan[]): Promise<AlertsReference> {
  const bundle = await loadBundle(bundleDir);
  checkCalibrationScans(bundleDir, bundle, scans.map((s) => s.start));
  const encoded = await encodeOffline(config, log, bundleDir, scans);
  const maps = encoded.map(({ ctx }, k) => ({ scanId: ctx.start.scanId, state: ctx.maps.state, error: ctx.maps.error, mu: ctx.maps.mu, exclude: scans[k]!.exclude }));
  return writeCalibration(bundleDir, bundle, maps, bundle.latentDim);
}

/** Simulate the quality plan's scans (alerts/quality.ts) and encode them through the pipeline. */
export async function encodeQualityScans(config: Config, log: Logger, bundleDir: string, plan: QualityPlan, onScan?: (done: number, total: number) => void): Promise<EncodedScan[]> {
  const bundle = await loadBundle(bundleDir);
  const jobs = qualityScans(bundle, plan);
  const encoded = await encodeOffline(config, log, bundleDir, jobs.map((j) => memoryScan(j.sim)), onScan);
  return encoded.map(({ ctx, batches }, k) => ({ sim: jobs[k]!.sim, kind: jobs[k]!.kind, error: ctx.maps.error, mu: ctx.maps.mu, latentDim: ctx.maps.latentDim, batches }));
}
