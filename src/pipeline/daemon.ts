/**
 * The daemon's assembly: the model slot, the scan registry and the encoder, shared by every source that runs
 * through it (the live ZeroMQ socket, replays, resumed recordings). `run(events$)` wires one source through the
 * pipeline graph and resolves when the source completes. The dashboard reads it through app/hub.ts.
 */
import { type Observable, Subject, defaultIfEmpty, filter, lastValueFrom, takeUntil, tap } from 'rxjs';
import type { Config } from '../config/schema.ts';
import { loadBundle } from '../model/bundle.ts';
import { createEngine } from '../model/runtime.ts';
import type { ScanEvent } from '../protocol/events.ts';
import type { Logger } from '../util/log.ts';
import { guarded } from './fan-out.ts';
import { encodeScans } from './graph.ts';
import type { PipelineEvent } from './items.ts';
import { FitMonitor } from './fit-monitor.ts';
import { ModelEncoder } from './model-encoder.ts';
import { createModelSlot, type ModelSlot } from './model-slot.ts';
import type { RecordingFailure, ScanContext } from './scan-context.ts';
import { ScanRegistry, type OpenPlan } from './scan-registry.ts';

/** Recording failures that concern one scan, not the disk: they never halt ingest. */
const SCAN_LOCAL_ERRNOS = new Set(['EEXIST', 'EMFILE', 'ENFILE']);

/** What one finished source run reports (the replay summary builds on it). */
export interface RunSummary {
  scans: ScanContext[];
  seconds: number;
}

export class Daemon {
  private readonly runs = new Set<Promise<unknown>>();
  /** emits once on close: every running source is unsubscribed (its socket closed) */
  private readonly closing$ = new Subject<void>();
  private readonly events = new Subject<PipelineEvent>();
  /** every pipeline event of every run (batches, scan start and end), in the order the graph emits them */
  readonly events$: Observable<PipelineEvent> = this.events.asObservable();
  /** pixels per second over the last few seconds, updated by batches */
  private readonly rateWindow: Array<{ t: number; n: number }> = [];

  /** set when a recording could not be written: the live source stops receiving (lossless: nothing is dropped) */
  ingestHalted?: RecordingFailure & { scanId: string };

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly slot: ModelSlot,
    readonly registry: ScanRegistry,
    readonly encoder: ModelEncoder,
    /** does the model fit each scan (rolling check against the bundle's training reference) */
    readonly fit: FitMonitor,
  ) {
    registry.recordingFailed$.subscribe(({ ctx, failure }) => {
      // Only a failing disk or folder halts ingest. A fault of one scan's input (a reused id, a start that cannot be
      // stored) or EMFILE/ENFILE (too many open files for this one scan's recording) leaves that scan unrecorded and
      // every other producer going.
      if (failure.haltsIngest && !SCAN_LOCAL_ERRNOS.has(failure.errno)) this.ingestHalted ??= { ...failure, scanId: ctx.start.scanId };
    });
    this.events$.pipe(filter((ev) => ev.type === 'batch')).subscribe((ev) => this.rateWindow.push({ t: performance.now(), n: ev.pixels }));
  }

  /** Load the configured bundle, open an inference engine and build the shared pipeline parts. */
  static async create(config: Config, log: Logger, defaultPlan: OpenPlan = { source: 'live', record: true }): Promise<Daemon> {
    const bundle = await loadBundle(config.model.bundle);
    const engine = await createEngine(bundle, { engine: config.model.engine, provider: config.model.provider, threads: config.model.threads, version: bundle.manifest.version });
    log.info({ bundle: bundle.dir, version: engine.version, engine: config.model.engine, provider: config.model.provider, threads: config.model.threads, T: bundle.T, C: bundle.C }, 'model loaded');
    const slot = createModelSlot(engine, bundle);
    const registry = new ScanRegistry(config, slot, log, defaultPlan);
    const encoder = new ModelEncoder(slot, registry, log);
    const fit = new FitMonitor(config.ood, slot, log.child({ stage: 'fit' }));
    const fitLog = log.child({ stage: 'fit' });
    encoder.encoded$.subscribe(guarded(fitLog, 'fit monitor', ({ ctx, index }) => fit.onEncoded(ctx, index)));
    // the verdict over the whole scan goes into its final results (ending$ is told before they are written)
    registry.ending$.subscribe(guarded(fitLog, 'fit monitor', (ctx) => void fit.assess(ctx)));
    return new Daemon(config, log, slot, registry, encoder, fit);
  }

  /** Pixels received but not yet encoded, over all running scans that the model can read. */
  queueDepth(): number {
    let n = 0;
    for (const ctx of this.registry.list()) {
      // pixels a reprocessing range job leaves out (encodeRange) never reach the encoder: they are not waiting
      if (ctx.state === 'running' && ctx.encodable) n += ctx.counters.received - ctx.counters.encoded - ctx.counters.rejected - (ctx.encodeRange?.skipped ?? 0);
    }
    return n;
  }

  /**
   * Backpressure for a file replay (sources/hdf5 `replayReader`): stop reading while this many pixels wait to be
   * encoded. A max-pace replay otherwise reads far ahead of the encoder and holds every read pixel in the queue
   * (256 × 256: 733 → 376 MB RSS with it). Above the warm-up, which the encoder itself holds back until it is full.
   */
  replayBackpressure(): { pending: () => number; max: number } {
    return { pending: () => this.queueDepth(), max: Math.max(4096, 4 * this.slot.bundle.input.warmupPixels) };
  }

  /** Resolves when the queue is below `batch.maxQueue` (the live source awaits it before each receive). */
  waitForRoom(): Promise<void> | undefined {
    // Halted (a recording failed): never ready again, so producers block instead of their pixels going unrecorded.
    if (this.ingestHalted) return new Promise(() => undefined);
    if (this.queueDepth() < this.config.batch.maxQueue) return undefined;
    return new Promise((resolve) => {
      const poll = setInterval(() => {
        if (this.queueDepth() < this.config.batch.maxQueue) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
  }

  /** Ingest rate over the last 5 s, px/s. */
  ingestPxPerSec(): number {
    const now = performance.now();
    while (this.rateWindow.length && now - this.rateWindow[0].t > 5000) this.rateWindow.shift();
    if (this.rateWindow.length === 0) return 0;
    const n = this.rateWindow.reduce((s, r) => s + r.n, 0);
    return n / Math.max(1, (now - this.rateWindow[0].t) / 1000);
  }

  /** Run one source through the pipeline until it completes; `plan` says how its scans open. */
  async run(events$: Observable<ScanEvent>, plan?: OpenPlan): Promise<RunSummary> {
    const t0 = performance.now();
    // Scan ids, not contexts: the live run never ends, and holding its contexts here would keep every scan of a
    // days-long run in memory after the registry let it go (found by the soak, docs/reliability.md).
    const touched = new Set<string>();
    const stoppable = events$.pipe(takeUntil(this.closing$));
    const planned = plan
      ? stoppable.pipe(
          tap((ev) => {
            if (ev.type === 'start') this.registry.planFor(ev.header.scanId, plan);
          }),
        )
      : stoppable;
    const done = lastValueFrom(
      encodeScans(planned, { scans: this.registry, encoder: this.encoder, batch: this.config.batch }).pipe(
        tap((ev) => {
          touched.add(ev.ctx.start.scanId);
          this.events.next(ev);
        }),
        defaultIfEmpty(undefined),
      ),
    );
    this.runs.add(done);
    try {
      await done;
    } finally {
      this.runs.delete(done);
    }
    const scans = [...touched].map((id) => this.registry.get(id)).filter((c): c is ScanContext => c !== undefined);
    return { scans, seconds: (performance.now() - t0) / 1000 };
  }

  /**
   * Close recordings (running scans stay resumable), write results, release the engine. Every stream (`events$`, the
   * encoder's, the registry's, the slot's) completes once the runs have stopped: no subscriber is called after that.
   */
  async close(): Promise<void> {
    this.closing$.next();
    await Promise.allSettled([...this.runs]);
    this.events.complete();
    this.encoder.close();
    this.fit.close();
    this.slot.close();
    await this.registry.close();
    await this.slot.engine.close();
  }
}
