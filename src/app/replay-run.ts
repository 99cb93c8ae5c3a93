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
import { copyLoopStats, newLoopStats, scanMeanError, type AlertsStatus, type LoopStats, type ScanContext } from '../pipeline/scan-context.ts';
import type { StartHeader, StopHeader } from '../protocol/messages.ts';
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
  /** encode only the pixels with a flat index in [from, to) once the input state is frozen (a range job, src/scale) */
  encodeRange?: { from: number; to: number };
  /**
   * called with the wired daemon before the scan is fed; the function it returns is called with the scan and the
   * summary once the final results are written, before the daemon closes (range jobs collect their rows there)
   */
  observe?: (daemon: Daemon) => (ctx: ScanContext | undefined, summary: PipelineReplaySummary) => void | Promise<void>;
}

export async function replayThroughPipeline(config: Config, log: Logger, path: string, opts: ReplayRunOptions): Promise<PipelineReplaySummary | FinetunedReplaySummary> {
  // The file first: a broken or unknown file is refused before the model loads.
  const reader = await openScanFile(path);
  return runOnReplayDaemon(config, log, path, opts, {
    start: reader.start,
    layout: reader.layout,
    release: () => reader.close(),
    async feed(daemon) {
      const counter = new ScanEventCounter();
      counter.markStart();
      const rules = replayRules(config, log.child({ stage: 'replay' }), (code) => counter.reject(code));
      const run = await daemon.run(replayReader(reader, { pace: opts.pace, scanId: opts.scanId, ...rules, backpressure: daemon.replayBackpressure() }).pipe(tap((ev) => (counter.observe(ev), opts.onEvent?.(ev)))));
      return { ctx: run.scans[0], seconds: run.seconds, source: counter.summary() };
    },
  });
}

/** How a scan gets into a replay daemon: the file through the graph, or the engine outputs of range jobs. */
interface ReplayFeed {
  start: StartHeader;
  layout: string;
  release(): void;
  feed(daemon: Daemon): Promise<{ ctx: ScanContext | undefined; seconds: number; source: ReplaySummary }>;
}

/**
 * A replay daemon around one scan: model, alerts, metrics (and fine-tuning, the dashboard when asked), then the
 * whole-scan steps every replay ends with — baselines, the fit verdict, the summary, the final results file.
 */
async function runOnReplayDaemon(config: Config, log: Logger, path: string, opts: ReplayRunOptions, input: ReplayFeed): Promise<PipelineReplaySummary | FinetunedReplaySummary> {
  const daemon = await Daemon.create(config, log, { source: 'replay', file: path, record: false }).catch((err) => {
    input.release();
    throw err;
  });
  try {
    // A replay the model cannot read is refused up front (a live daemon instead records such a scan and logs it).
    checkBundleAgainstScan(daemon.slot.bundle, input.start);
  } catch (err) {
    input.release();
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
  if (opts.encodeRange) {
    const range = opts.encodeRange;
    daemon.registry.scans$.subscribe(({ ctx, what }) => {
      if (what === 'open') ctx.encodeRange = { ...range, skipped: 0 };
    });
  }
  const done = opts.observe?.(daemon);
  try {
    const { ctx, seconds, source } = await input.feed(daemon);
    // A scan smaller than everyPixels still gets a round (≥ minPixels), and rounds go on while the gate accepts them.
    finetune?.drain();
    await finetune?.settle(); // the rounds this replay triggered finish (gate, swap, re-encode) before the summary
    // The scan's stop already wrote its final results, baselines and fit verdict included (ScanRegistry.control). They
    // are redone and written again only if pixels changed since (fine-tuning re-encoded them) or no complete write
    // happened (a file without a stop, a failed write): rewriting an unchanged 60x60 results file cost ~0.06 s.
    const finalWritten = ctx !== undefined && ctx.finalResultsRevision === ctx.maps.revision;
    if (ctx && !finalWritten) {
      // Over the final maps (re-encoded by accepted rounds): baselines once, the fit verdict of the whole scan.
      daemon.registry.computeBaselines(ctx);
      daemon.fit.assess(ctx);
    }
    const summary: PipelineReplaySummary = {
      ...source,
      seconds,
      pxPerSec: seconds > 0 ? source.pixels / seconds : 0,
      file: path,
      layout: input.layout,
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
    if (ctx && !finalWritten) await daemon.registry.writeResults(ctx, ctx.stop !== undefined);
    await done?.(ctx, summary);
    if (server && opts.keepServing) await opts.keepServing();
    return finetune ? { ...summary, ...(await finetune.summary(ctx)) } : summary;
  } finally {
    input.release();
    await server?.close();
    await finetune?.close();
    await alerts.close();
    offMetrics();
    await daemon.close();
  }
}

/** One encoded batch of a pixel-range job: the replay batch it belongs to and its rows, in encoding order. */
export interface EncodedRangeBatch {
  /** ordinal of the replay's micro-batch (0 = the first), the same in every range job of a scan */
  batch: number;
  index: Uint32Array;
  /** arrival ordinal of each pixel in the file's event stream (orders the rows of one batch across ranges) */
  arrival: Uint32Array;
}

/**
 * What a pixel-range job hands to the merge: the replay of the whole file, with only the pixels of [from, to)
 * preprocessed and encoded (the warm-up sees every pixel, so the input state is the one replay fits), and for
 * each encoded pixel its model input, engine outputs and loop statistics, in encoding order.
 */
export interface EncodedRange {
  from: number;
  to: number;
  start: StartHeader;
  stop?: StopHeader;
  layout: string;
  /** the file's event stream, counted (identical in every range job of the file) */
  source: ReplaySummary;
  received: number;
  lastSeq: number;
  inputStateJson: string;
  /**
   * null when the merge can rebuild replay's scan exactly from the ranges; otherwise why not (a refused, missing,
   * repeated or non-finite pixel, a scan the model cannot read: replay's handling of those is not per pixel)
   */
  unmergeable: string | null;
  batches: EncodedRangeBatch[];
  /** per encoded row, rows in batch order: model input [n][T·C], μ and log σ² [n][latentDim], error [n] */
  x: Float32Array;
  mu: Float32Array;
  logVar: Float32Array;
  error: Float32Array;
  loop: LoopStats;
}

/**
 * A pixel-range job of a reprocessing flow (src/scale): replay the file through the pipeline, encoding only the
 * pixels with a flat index in [from, to), and collect what the merge needs. Alerts, the fit check and the
 * baselines are whole-scan: they are the merge's (`config` should turn them off here).
 */
export async function replayRange(config: Config, log: Logger, path: string, range: { from: number; to: number }, opts: Pick<ReplayRunOptions, 'pace' | 'onEvent'>): Promise<{ summary: PipelineReplaySummary; part: EncodedRange }> {
  let part: EncodedRange | undefined;
  let arrivals = 0;
  let arrival: Uint32Array | undefined;
  let cols = 0;
  let inRangeEvents = 0;
  const summary = await replayThroughPipeline(config, log, path, {
    pace: opts.pace,
    encodeRange: range,
    onEvent: (ev) => {
      if (ev.type === 'start') {
        cols = ev.header.grid.cols;
        arrival = new Uint32Array(ev.header.grid.rows * cols);
      } else if (ev.type === 'pixel' && arrival) {
        const i = ev.row * cols + ev.col;
        if (i >= range.from && i < range.to) {
          arrival[i] = arrivals;
          inRangeEvents++;
        }
        arrivals++;
      }
      opts.onEvent?.(ev);
    },
    observe: (daemon) => {
      let batch = 0;
      const order: Array<{ batch: number; index: Uint32Array }> = [];
      const subs = [
        daemon.events$.subscribe((ev) => {
          if (ev.type === 'batch') batch++;
        }),
        daemon.encoder.encoded$.subscribe(({ index }) => order.push({ batch, index: index.slice() })),
      ];
      return (ctx, s) => {
        for (const sub of subs) sub.unsubscribe();
        if (!ctx || !ctx.inputs || !ctx.inputState) {
          part = emptyPart(range, s, ctx, 'the model did not encode this scan');
          return;
        }
        const d = ctx.maps.latentDim;
        const stride = ctx.inputs.length / ctx.maps.size;
        const n = order.reduce((k, b) => k + b.index.length, 0);
        const p: EncodedRange = {
          ...emptyPart(range, s, ctx, null),
          x: new Float32Array(n * stride),
          mu: new Float32Array(n * d),
          logVar: new Float32Array(n * d),
          error: new Float32Array(n),
          loop: newLoopStats(n),
        };
        const ls = ctx.loopStats!;
        let k = 0;
        const seen = new Uint8Array(ctx.maps.size);
        let repeated = 0;
        for (const b of order) {
          p.batches.push({ batch: b.batch, index: b.index, arrival: Uint32Array.from(b.index, (i) => arrival![i]!) });
          for (const i of b.index) {
            if (seen[i]) repeated++;
            seen[i] = 1;
            p.x.set(ctx.inputs.subarray(i * stride, (i + 1) * stride), k * stride);
            p.mu.set(ctx.maps.mu.subarray(i * d, (i + 1) * d), k * d);
            p.logVar.set(ctx.maps.logVar.subarray(i * d, (i + 1) * d), k * d);
            p.error[k] = ctx.maps.error[i]!;
            copyLoopStats(ls, i, p.loop, k);
            k++;
          }
        }
        // Every pixel of the range that arrived was encoded once, nothing was refused, nothing went missing: the
        // scan is the sum of its ranges. Anything else is replayed whole by the merge.
        if (s.refused > 0 || ctx.counters.rejected > 0) p.unmergeable = `${s.refused + ctx.counters.rejected} pixel(s) refused`;
        else if (s.gaps > 0 || s.missing > 0) p.unmergeable = `${s.missing} pixel(s) missing`;
        else if (repeated > 0 || inRangeEvents !== n) p.unmergeable = `pixels repeated or not encoded (${inRangeEvents} arrived in the range, ${n} encoded)`;
        part = p;
      };
    },
  });
  return { summary: summary as PipelineReplaySummary, part: part! };
}

function emptyPart(range: { from: number; to: number }, source: PipelineReplaySummary, ctx: ScanContext | undefined, unmergeable: string | null): EncodedRange {
  const none = new Float32Array(0);
  return {
    from: range.from,
    to: range.to,
    start: ctx?.start ?? ({} as StartHeader),
    stop: ctx?.stop,
    layout: source.layout,
    source: { scanId: source.scanId, kind: source.kind, rows: source.rows, cols: source.cols, pixels: source.pixels, missing: source.missing, gaps: source.gaps, expected: source.expected, stopStatus: source.stopStatus, seconds: source.seconds, pxPerSec: source.pxPerSec, refused: source.refused, refusedByCode: source.refusedByCode },
    received: ctx?.counters.received ?? 0,
    lastSeq: ctx?.counters.lastSeq ?? -1,
    inputStateJson: ctx?.inputState ? JSON.stringify(ctx.inputState) : '',
    unmergeable,
    batches: [],
    x: none,
    mu: none,
    logVar: none,
    error: none,
    loop: newLoopStats(0),
  };
}

/**
 * The merge of a reprocessing flow (src/scale): rebuild the scan replay would have built from the encoded ranges
 * that cover it — their rows written into the maps batch by batch in replay's encoding order (alerts and the fit
 * check see the same stream), then the scan's stop and the whole-scan steps of every replay (baselines, fit
 * verdict, results file). The ranges must all be mergeable (`unmergeable` null) and cover the grid.
 */
export async function replayEncodedRanges(config: Config, log: Logger, path: string, parts: readonly EncodedRange[], opts: Pick<ReplayRunOptions, 'onEvent'> = {}): Promise<PipelineReplaySummary> {
  const first = parts[0];
  const why = whyNotMergeable(parts);
  if (!first || why) throw new Error(`the ranges cannot be merged: ${why}`);
  const summary = await runOnReplayDaemon(config, log, path, { pace: { kind: 'max' } }, {
    start: first.start,
    layout: first.layout,
    release: () => undefined,
    async feed(daemon) {
      const t0 = performance.now();
      daemon.fit.wholeScanOnly = true; // the rolling checks only feed live views; the results carry the final verdict
      const startEv = { type: 'start' as const, header: first.start };
      const ctx = await daemon.registry.open(startEv);
      await daemon.encoder.control({ kind: 'control', ctx, ev: startEv });
      daemon.registry.allocate(ctx);
      ctx.inputState = JSON.parse(first.inputStateJson) as ScanContext['inputState'];
      ctx.counters.received = first.received;
      ctx.counters.lastSeq = first.lastSeq;
      const { T, C, latentDim } = daemon.slot.bundle;
      for (const batch of mergedBatches(parts, T * C, latentDim)) daemon.encoder.applyEncoded(ctx, batch.x, batch, batch.index, batch.loop);
      if (first.stop) await daemon.encoder.control({ kind: 'control', ctx, ev: { type: 'stop', header: first.stop } });
      opts.onEvent?.(startEv);
      return { ctx, seconds: (performance.now() - t0) / 1000, source: first.source };
    },
  });
  return summary as PipelineReplaySummary;
}

/** Why these ranges cannot be merged into replay's scan (null: they can): one unmergeable, or two that disagree. */
export function whyNotMergeable(parts: readonly EncodedRange[]): string | null {
  const first = parts[0];
  if (!first) return 'no ranges';
  for (const p of parts) {
    if (p.unmergeable) return `range ${p.from}-${p.to}: ${p.unmergeable}`;
    if (p.inputStateJson !== first.inputStateJson) return `range ${p.from}-${p.to} fitted another input state than range ${first.from}-${first.to}`;
  }
  return null;
}

/** The ranges' batches as replay encoded them: grouped by replay batch, rows in arrival order within each. */
function* mergedBatches(parts: readonly EncodedRange[], stride: number, d: number): Generator<{ index: Uint32Array; x: Float32Array; mu: Float32Array; logVar: Float32Array; error: Float32Array; loop: LoopStats }> {
  type Row = { part: EncodedRange; k: number; arrival: number; index: number };
  const byBatch = new Map<number, Row[]>();
  for (const part of parts) {
    let k = 0;
    for (const b of part.batches) {
      let rows = byBatch.get(b.batch);
      if (!rows) byBatch.set(b.batch, (rows = []));
      for (let j = 0; j < b.index.length; j++) rows.push({ part, k: k++, arrival: b.arrival[j]!, index: b.index[j]! });
    }
  }
  for (const batch of [...byBatch.keys()].sort((a, b) => a - b)) {
    const rows = byBatch.get(batch)!.sort((a, b) => a.arrival - b.arrival);
    const n = rows.length;
    const out = { index: new Uint32Array(n), x: new Float32Array(n * stride), mu: new Float32Array(n * d), logVar: new Float32Array(n * d), error: new Float32Array(n), loop: newLoopStats(n) };
    rows.forEach((r, j) => {
      const { part, k } = r;
      out.index[j] = r.index;
      out.x.set(part.x.subarray(k * stride, (k + 1) * stride), j * stride);
      out.mu.set(part.mu.subarray(k * d, (k + 1) * d), j * d);
      out.logVar.set(part.logVar.subarray(k * d, (k + 1) * d), j * d);
      out.error[j] = part.error[k]!;
      copyLoopStats(part.loop, k, out.loop, j);
    });
    yield out;
  }
}
