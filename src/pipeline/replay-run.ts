/**
 * Replay a file through the full pipeline (the same graph as a live scan): maps, results file, alerts, and
 * optionally the dashboard. What `loopstream replay` runs; its summary extends the source-level counts with
 * the model's mean reconstruction error, the results path and the alert count.
 */
import { tap } from 'rxjs';
import type { Config } from '../config/schema.ts';
import { startDashboardServer } from '../server/index.ts';
import { openScanFile, replayReader, type Pace } from '../sources/hdf5/index.ts';
import { ScanEventCounter, type ReplaySummary } from '../sources/hdf5/replay-summary.ts';
import type { Logger } from '../util/log.ts';
import { Daemon } from './daemon.ts';
import { PipelineHub } from './hub.ts';
import { wireAlerts } from './wire-alerts.ts';

export interface PipelineReplaySummary extends ReplaySummary {
  file: string;
  layout: string;
  /** pixels encoded into the maps */
  encoded: number;
  /** pixels the preprocessing refused */
  rejected: number;
  /** mean per-pixel reconstruction MSE (scaled units) under the bundle's model; null when nothing was encoded */
  meanError: number | null;
  /** results HDF5 path */
  results: string;
  /** alerts raised (after merges) */
  alerts: number;
  modelVersion: number;
}

export interface ReplayRunOptions {
  pace: Pace;
  scanId?: string;
  /** also serve the dashboard while replaying */
  dashboard?: boolean;
  /** resolves when the caller wants the dashboard down (after the replay); default: at once */
  keepServing?: () => Promise<unknown>;
  /** called with the dashboard URL once it listens */
  onServing?: (url: string) => void;
}

export async function replayThroughPipeline(config: Config, log: Logger, path: string, opts: ReplayRunOptions): Promise<PipelineReplaySummary> {
  const daemon = await Daemon.create(config, log, { source: 'replay', file: path, record: false });
  const hub = new PipelineHub(daemon);
  const alerts = await wireAlerts(daemon, hub, config, log.child({ stage: 'alerts' }));
  const server = opts.dashboard ? await startDashboardServer({ config, hub, logger: log.child({ stage: 'server' }) }) : undefined;
  if (server) {
    log.info({ url: server.url }, `dashboard at ${server.url}`);
    opts.onServing?.(server.url);
  }
  const reader = await openScanFile(path);
  const layout = reader.layout;
  const counter = new ScanEventCounter();
  try {
    counter.markStart();
    const run = await daemon.run(replayReader(reader, { pace: opts.pace, scanId: opts.scanId }).pipe(tap((ev) => counter.observe(ev))));
    const ctx = run.scans[0];
    const source = counter.summary();
    const summary: PipelineReplaySummary = {
      ...source,
      seconds: run.seconds,
      pxPerSec: run.seconds > 0 ? source.pixels / run.seconds : 0,
      file: path,
      layout,
      encoded: ctx?.counters.encoded ?? 0,
      rejected: ctx?.counters.rejected ?? 0,
      meanError: ctx && ctx.counters.encoded > 0 ? ctx.counters.errorSum / ctx.counters.encoded : null,
      results: ctx?.resultsPath ?? '',
      alerts: ctx?.alerts?.list().length ?? 0,
      modelVersion: daemon.slot.engine.version,
    };
    if (ctx && ctx.state === 'running') await daemon.registry.writeResults(ctx, false);
    if (server && opts.keepServing) await opts.keepServing();
    return summary;
  } finally {
    reader.close();
    await server?.close();
    await alerts.close();
    await daemon.close();
  }
}
