/**
 * Replay a file through the full pipeline (the same graph as a live scan): maps, results file, alerts, and
 * optionally the dashboard. What `loopstream replay` runs; its summary extends the source-level counts with
 * the model's mean reconstruction error, the results path and the alert count.
 */
import { tap } from 'rxjs';
import type { Config } from '../config/schema.ts';
import { openScanFile, replayReader, type Pace } from '../sources/hdf5/index.ts';
import { ScanEventCounter, type ReplaySummary } from '../sources/hdf5/replay-summary.ts';
import type { Logger } from '../util/log.ts';
import { checkBundleAgainstScan } from '../model/bundle.ts';
import { Daemon } from '../pipeline/daemon.ts';
import { replayRules } from '../pipeline/replay-rules.ts';
import { PipelineHub } from './hub.ts';
import { wireAlerts } from './wire-alerts.ts';
import { metricsAlertSink, wireMetrics } from './wire-metrics.ts';
import type { FinetuneSummary } from '../finetune/finetuner.ts';
import type { ScanBaselines } from '../model/baselines.ts';
import type { OodStatus } from '../model/fit-check.ts';
import { scanMeanError, type AlertsStatus } from '../pipeline/scan-context.ts';
import type { ScanEvent } from '../protocol/events.ts';

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
  /** whether alerts were scored for this scan and, if not, why */
  alertsStatus: AlertsStatus | null;
  modelVersion: number;
  /** PCA-5 and dictionary learning fitted on the scan's own model inputs, same units as meanError (model/baselines.ts) */
  baselines: ScanBaselines | null;
  /** does the model fit this scan, over all its encoded pixels at the end (model/fit-check.ts) */
  ood: OodStatus | null;
  /** the model's active latent channels (mean KL > 0.1 nats on its training data; bundle manifest), null if unknown */
  activeChannels: number[] | null;
}

/** The summary with fine-tuning on: modelVersions, errorBeforeFinetune, errorAfterFinetune (src/finetune). */
export type FinetunedReplaySummary = PipelineReplaySummary & FinetuneSummary;

export interface ReplayRunOptions {
  pace: Pace;
  scanId?: string;
  /** also serve the dashboard while replaying */
  dashboard?: boolean;
  /** resolves when the caller wants the dashboard down (after the replay); default: at once */
  keepServing?: () => Promise<unknown>;
  /** called with the dashboard URL once it listens */
  onServing?: (url: string) => void;
  /** fine-tune while replaying (as finetune.enabled); the summary waits for the rounds the replay triggered */
  finetune?: boolean;
  /** sees every event the file yields, as it is read (progress reporting: `loopstream worker`, src/scale) */
  onEvent?: (ev: ScanEvent) => void;
}

export async function replayThroughPipeline(config: Config, log: Logger, path: string, opts: ReplayRunOptions): Promise<PipelineReplaySummary | FinetunedReplaySummary> {
  // The file first: a broken or unknown file is refused before the model loads.
  const reader = await openScanFile(path);
  const daemon = await Daemon.create(config, log, { source: 'replay', file: path, record: false }).catch((err) => {
    reader.close();
    throw err;
  });
  try {
    // A replay the model cannot read is refused up front (a live daemon instead records such a scan and logs it).
    checkBundleAgainstScan(daemon.slot.bundle, reader.start);
  } catch (err) {
    reader.close();
    await daemon.close();
    throw err;
  }
  const hub = new PipelineHub(daemon);
  // Metrics (prom-client) serve only the dashboard's /metrics: a replay without a dashboard does not load them.
  const metrics = opts.dashboard ? (await import('../server/metrics.ts')).createDashboardMetrics() : undefined;
  const alerts = await wireAlerts(daemon, hub, config, log.child({ stage: 'alerts' }), metrics ? [metricsAlertSink(metrics)] : []);
  const offMetrics = metrics ? wireMetrics(daemon, metrics) : () => undefined;
  // Background fine-tuning (src/finetune): wired before the source runs so a stored later version is used from the start.
  // Fine-tuning (tfjs) and the dashboard server (Socket.IO, the page bundler) load only when asked for: a plain
  // replay does not pay their module loading (docs/performance.md §Start-up and whole-process replay).
  const finetune = opts.finetune || config.finetune.enabled ? await (await import('./wire-finetune.ts')).wireFinetune(daemon, hub, config, log.child({ stage: 'finetune' })) : undefined;
  const server = opts.dashboard ? await (await import('../server/index.ts')).startDashboardServer({ config, hub, logger: log.child({ stage: 'server' }), metrics }) : undefined;
  if (server) {
    log.info({ url: server.url }, `dashboard at ${server.url}`);
    opts.onServing?.(server.url);
  }
  const layout = reader.layout;
  const counter = new ScanEventCounter();
  try {
    counter.markStart();
    const rules = replayRules(config, log.child({ stage: 'replay' }), (code) => counter.reject(code));
    const run = await daemon.run(replayReader(reader, { pace: opts.pace, scanId: opts.scanId, ...rules, backpressure: daemon.replayBackpressure() }).pipe(tap((ev) => (counter.observe(ev), opts.onEvent?.(ev)))));
    const ctx = run.scans[0];
    // A scan smaller than everyPixels still gets a round (≥ minPixels), and rounds go on while the gate accepts them.
    finetune?.drain();
    await finetune?.settle(); // the rounds this replay triggered finish (gate, swap, re-encode) before the summary
    if (ctx) {
      // Over the final maps (re-encoded by accepted rounds): baselines once, the fit verdict of the whole scan.
      daemon.registry.computeBaselines(ctx);
      daemon.fit.assess(ctx);
    }
    const source = counter.summary();
    const summary: PipelineReplaySummary = {
      ...source,
      seconds: run.seconds,
      pxPerSec: run.seconds > 0 ? source.pixels / run.seconds : 0,
      file: path,
      layout,
      encoded: ctx?.counters.encoded ?? 0,
      rejected: ctx?.counters.rejected ?? 0,
      meanError: ctx ? scanMeanError(ctx.counters) : null,
      results: ctx?.resultsPath ?? '',
      alerts: ctx?.alerts?.list().length ?? 0,
      alertsStatus: ctx?.alertsStatus ?? null,
      modelVersion: daemon.slot.engine.version,
      baselines: ctx?.baselines ?? null,
      ood: ctx?.ood ?? null,
      activeChannels: daemon.slot.bundle.manifest.metrics.activeChannels?.slice() ?? null,
    };
    if (ctx) await daemon.registry.writeResults(ctx, ctx.stop !== undefined);
    if (server && opts.keepServing) await opts.keepServing();
    return finetune ? { ...summary, ...(await finetune.summary(ctx)) } : summary;
  } finally {
    reader.close();
    await server?.close();
    await finetune?.close();
    await alerts.close();
    offMetrics();
    await daemon.close();
  }
}
