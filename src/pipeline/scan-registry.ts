/**
 * ScanRegistry: opens, finds and closes ScanContexts. Opening makes the maps, the raw recording (live scans)
 * and the results path; closing writes the stop into the recording and the final results file. Results of
 * running scans are rewritten every `data.resultsFlushMs` while their maps change.
 */
import { mkdirSync } from 'node:fs';
import { Subject, type Observable } from 'rxjs';
import { basename } from 'node:path';
import type { Config } from '../config/schema.ts';
import { PIXEL_DONE, ScanMaps } from '../maps/scan-maps.ts';
import { scanBaselines } from '../model/baselines.ts';
import { checkBundleAgainstScan } from '../model/bundle.ts';
import type { ScanEvent, StartEvent } from '../protocol/events.ts';
import type { ScanSource } from '../contracts/scan-state.ts';
import { writeResultsFile } from '../store/results-file.ts';
import { ScanRecorder } from '../store/scan-file.ts';
import { RAW_SUFFIX, RESULTS_SUFFIX, newScanFileName, scanFilePath } from '../store/scan-paths.ts';
import type { Logger } from '../util/log.ts';
import type { ControlItem, PipelineEvent } from './items.ts';
import type { ModelSlot } from './model-slot.ts';
import type { PixelEvent } from '../protocol/events.ts';
import { newCounters, scanMeanError, type RecordingFailure, type ScanContext } from './scan-context.ts';

/** Results-file attributes of the model-fit checks: baselines, out-of-distribution status, alerting (docs/formats.md). */
export function fitAttrs(ctx: ScanContext): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  const b = ctx.baselines;
  if (b) {
    if (b.pca5Mse !== null) out.baseline_pca5_mse = b.pca5Mse;
    if (b.dlMse !== null) out.baseline_dl_mse = b.dlMse;
    out.baseline_pixels_used = b.pixelsUsed;
    out.baseline_pixels_evaluated = b.pixelsEvaluated;
    out.baseline_seconds = b.seconds;
  }
  const o = ctx.ood;
  if (o) {
    out.ood_flag = o.flag ? 1 : 0;
    if (o.errorRatio !== null) out.ood_error_ratio = o.errorRatio;
    if (o.inputShift !== null) out.ood_input_shift = o.inputShift;
    out.ood_json = JSON.stringify(o);
  }
  const a = ctx.alertsStatus;
  if (a) {
    out.alerts_enabled = a.enabled ? 1 : 0;
    if (a.reason) out.alerts_off_reason = a.reason;
  }
  return out;
}

/** How the next `start` of a scan id should be opened (set by the daemon before a replay or a resume). */
export interface OpenPlan {
  source: ScanSource;
  file?: string;
  /** record raw pixels (live scans) */
  record: boolean;
  /** an already-open recorder to continue (resume after a restart) */
  recorder?: ScanRecorder;
  recordingPath?: string;
}

/** A scan opened (after its recording was created) or closed (after its final results were written, or forgotten). */
export interface ScanChange {
  ctx: ScanContext;
  what: 'open' | 'close';
}

export class ScanRegistry {
  private readonly scans = new Map<string, ScanContext>();
  private readonly plans = new Map<string, OpenPlan>();
  private readonly scanChanges = new Subject<ScanChange>();
  private readonly ending = new Subject<ScanContext>();
  private readonly recordingFailures = new Subject<{ ctx: ScanContext; failure: RecordingFailure }>();
  private readonly refusals = new Subject<{ ctx: ScanContext; refusal: { code: string; message: string } }>();
  /** a scan opened, and after it closed */
  readonly scans$: Observable<ScanChange> = this.scanChanges.asObservable();
  /** a scan's stop arrived, before its final results write (final checks that the file should carry) */
  readonly ending$: Observable<ScanContext> = this.ending.asObservable();
  /** a scan's recording could not be created or written (the daemon stops receiving); again for every later batch */
  readonly recordingFailed$: Observable<{ ctx: ScanContext; failure: RecordingFailure }> = this.recordingFailures.asObservable();
  /** an open scan was refused (its buffers could not be allocated) */
  readonly refused$: Observable<{ ctx: ScanContext; refusal: { code: string; message: string } }> = this.refusals.asObservable();
  private flushTimer?: NodeJS.Timeout;
  constructor(
    private readonly config: Config,
    private readonly model: ModelSlot,
    private readonly log: Logger,
    private readonly defaultPlan: OpenPlan,
  ) {
    mkdirSync(config.data.dir, { recursive: true });
    this.flushTimer = setInterval(() => void this.flushRunning(), config.data.resultsFlushMs);
    this.flushTimer.unref();
  }

  /** Open the next `start` of `scanId` with this plan instead of the default. */
  planFor(scanId: string, plan: OpenPlan): void {
    this.plans.set(scanId, plan);
  }

  /**
   * A recording could not be created or appended to (disk full, read-only folder, file-size limit): log it with the
   * path and errno, mark the scan 'error', drop the broken recorder and announce it on `recordingFailed$`. The pixels of the failed
   * batch still go to the maps; they and every later pixel of the scan are counted in `recordingError.unrecorded`.
   */
  recordingFailed(ctx: ScanContext, err: unknown, pixels: readonly PixelEvent[]): void {
    const e = err as Error & { errno?: string; code?: string };
    const path = ctx.recordingPath ?? scanFilePath(this.config.data.dir, ctx.start.scanId, RAW_SUFFIX);
    if (!ctx.recordingError) {
      // Only LS_FILE_WRITE (HDF5 could not write: disk full, read-only folder, file-size limit) is the disk's fault
      // and halts ingest. Anything else (a RangeError from a pixel that does not fit, a start that cannot be
      // serialised) is this scan's input: the scan goes unrecorded, every other producer goes on.
      const disk = e.code === 'LS_FILE_WRITE';
      const code = disk ? 'LS_FILE_WRITE' : (e.code ?? 'LS_SCAN_UNRECORDED');
      ctx.recordingError = { path, errno: e.errno ?? (disk ? 'EIO' : 'EINVAL'), message: e.message, unrecorded: 0, haltsIngest: disk };
      this.log.error(
        { scanId: ctx.start.scanId, path, errno: ctx.recordingError.errno, code, recorded: ctx.counters.recorded, firstUnrecordedSeq: pixels[0]?.seq },
        disk
          ? `recording failed: ${e.message}; scan ${ctx.start.scanId} marked 'error' and ingest stopped (nothing more is accepted until the cause is fixed and the daemon restarted; it resumes after the last verified row)`
          : `recording failed for scan ${ctx.start.scanId} only: ${e.message}; its pixels are encoded but not recorded (scan marked 'error'); ingest goes on`,
      );
    }
    ctx.recordingError.unrecorded += pixels.length;
    ctx.state = 'error';
    // Dropped without close(): closing would try to write the failed metadata again over the last good flush.
    ctx.recorder = undefined;
    this.recordingFailures.next({ ctx, failure: ctx.recordingError });
  }

  /**
   * Forget a scan whose source failed before it could run (a recording that could not be resumed): its context is
   * marked 'error' and dropped, so the id is free for a new start (its files stay on disk, untouched).
   */
  forget(scanId: string): void {
    const ctx = this.scans.get(scanId);
    if (ctx) {
      ctx.state = 'error';
      this.scanChanges.next({ ctx, what: 'close' });
    }
    this.scans.delete(scanId);
    this.plans.delete(scanId);
  }

  get(scanId: string): ScanContext | undefined {
    return this.scans.get(scanId);
  }

  /** All scans, newest first. */
  list(): ScanContext[] {
    return [...this.scans.values()].sort((a, b) => b.startedAt - a.startedAt);
  }

  orphan(ev: ScanEvent): void {
    this.log.warn({ type: ev.type, scanId: ev.type === 'stop' ? ev.header.scanId : ev.type === 'start' ? ev.header.scanId : ev.scanId }, 'event for a scan that is not open; dropped');
  }

  async open(ev: StartEvent): Promise<ScanContext> {
    const start = ev.header;
    const existing = this.scans.get(start.scanId);
    if (existing?.state === 'running') return existing;
    const plan = this.plans.get(start.scanId) ?? this.defaultPlan;
    this.plans.delete(start.scanId);
    const bundle = this.model.bundle;
    let encodable = true;
    let notEncodableReason: string | undefined;
    try {
      checkBundleAgainstScan(bundle, start);
    } catch (err) {
      encodable = false;
      notEncodableReason = (err as Error).message;
      const kept = plan.record && this.config.data.record ? 'recorded' : 'counted';
      this.log.error({ scanId: start.scanId, code: (err as { code?: string }).code }, `${notEncodableReason}; its pixels are ${kept} but not encoded`);
    }
    const dir = this.config.data.dir;
    let recorder = plan.recorder;
    let recordingPath = plan.recordingPath;
    let recordingFailure: unknown;
    // The files' name: a resumed recording keeps its own; a new live scan gets its id, or `<id>~<k>` when that id's
    // files exist already (a scan id used again: both scans are kept, docs/protocol.md §Scan ids).
    let name = recordingPath ? basename(recordingPath, RAW_SUFFIX) : start.scanId;
    if (!recorder && !recordingPath && plan.record && this.config.data.record) {
      name = newScanFileName(dir, start.scanId);
      if (name !== start.scanId) this.log.warn({ scanId: start.scanId, files: name }, `scan id ${start.scanId} was used before; this scan is recorded as ${name}${RAW_SUFFIX} beside the first one's files`);
      recordingPath = scanFilePath(dir, name, RAW_SUFFIX);
      try {
        recorder = await ScanRecorder.create(recordingPath, start);
      } catch (err) {
        recordingFailure = err; // reported below, once the scan exists to be marked 'error'
      }
    }
    const ctx: ScanContext = {
      start,
      maps: new ScanMaps(start, this.model.engine.latentDim),
      source: plan.source,
      file: plan.file,
      startedAt: Date.now(),
      recorder,
      recordingPath,
      resultsPath: scanFilePath(dir, name, RESULTS_SUFFIX),
      counters: newCounters(),
      state: 'running',
      encodable,
      notEncodableReason,
      // maps and model inputs are allocated at the first pixel (allocate), so a start costs no grid memory
      resultsRevision: -1,
    };
    this.scans.set(start.scanId, ctx);
    if (recordingFailure) this.recordingFailed(ctx, recordingFailure, []);
    this.log.info({ scanId: start.scanId, source: ctx.source, rows: start.grid.rows, cols: start.grid.cols, kind: start.kind, recording: recordingPath, results: ctx.resultsPath }, 'scan started');
    this.scanChanges.next({ ctx, what: 'open' });
    return ctx;
  }

  /** Allocate a scan's grid buffers: its maps and, when the model reads it, its model inputs [rows*cols][T*C]. */
  allocate(ctx: ScanContext): void {
    // The model inputs first: the largest buffer, and zero-filled, so a grid too large fails here before the maps
    // write NaN into gigabytes.
    if (ctx.encodable && !ctx.inputs) ctx.inputs = new Float32Array(ctx.maps.size * this.model.bundle.T * this.model.bundle.C);
    ctx.maps.allocate();
  }

  /**
   * A scan whose buffers could not be allocated (Array buffer allocation failed under a memory limit) is refused:
   * logged with LS_SCAN_MEMORY, state 'error', its recording closed with an 'error' stop (not resumed on restart),
   * later pixels dropped and counted as rejected. Other scans and the daemon go on.
   */
  refuse(ctx: ScanContext, err: unknown): void {
    const message = `scan ${ctx.start.scanId}: cannot allocate the buffers of its ${ctx.maps.rows}x${ctx.maps.cols} grid (${(err as Error).message}); the scan is refused, the daemon goes on. Lower ingest.maxScanPixels or give the daemon more memory`;
    ctx.refused = { code: 'LS_SCAN_MEMORY', message };
    ctx.state = 'error';
    ctx.inputs = undefined;
    ctx.maps.refuse((err as Error).message);
    this.log.error({ scanId: ctx.start.scanId, code: 'LS_SCAN_MEMORY', rows: ctx.maps.rows, cols: ctx.maps.cols }, message);
    if (ctx.recorder) {
      try {
        ctx.recorder.writeStop({ type: 'stop', scanId: ctx.start.scanId, status: 'error', pixelsSent: ctx.counters.recorded, lastSeq: ctx.counters.lastSeq });
        ctx.recorder.close();
      } catch (e) {
        this.log.error({ scanId: ctx.start.scanId, err: (e as Error).message }, 'closing the recording of a refused scan failed');
      }
      ctx.recorder = undefined;
    }
    this.refusals.next({ ctx, refusal: ctx.refused });
  }

  /** start / gap / stop, in stream order. */
  async control(item: ControlItem): Promise<PipelineEvent | undefined> {
    const { ctx, ev } = item;
    if (ev.type === 'start') return { type: 'scan:start', ctx };
    if (ev.type === 'gap') {
      const marked = ctx.maps.markMissing(ev.fromSeq, ev.toSeq);
      this.log.warn({ scanId: ctx.start.scanId, fromSeq: ev.fromSeq, toSeq: ev.toSeq, marked }, `${ev.toSeq - ev.fromSeq + 1} pixel(s) missing (seq gap)`);
      return undefined;
    }
    ctx.stop = ev.header;
    ctx.state = ctx.recordingError || ctx.refused ? 'error' : ev.header.status === 'completed' ? 'completed' : ev.header.status;
    ctx.alerts?.finish();
    this.computeBaselines(ctx);
    this.ending.next(ctx);
    if (ctx.recorder) {
      try {
        ctx.recorder.writeStop(ev.header);
        ctx.recorder.close();
        ctx.recorder = undefined;
      } catch (err) {
        this.recordingFailed(ctx, err, []);
      }
    }
    try {
      await this.writeResults(ctx, true);
    } catch (err) {
      // An unwritable results folder must not end the pipeline (other scans go on); the maps stay in memory.
      this.log.error({ scanId: ctx.start.scanId, path: ctx.resultsPath, err: (err as Error).message }, 'final results write failed');
    }
    this.log.info({ scanId: ctx.start.scanId, status: ev.header.status, received: ctx.counters.received, encoded: ctx.counters.encoded, missing: ctx.maps.missing, results: ctx.resultsPath }, 'scan finished');
    this.scanChanges.next({ ctx, what: 'close' });
    this.evictFinished();
    return { type: 'scan:end', ctx };
  }

  /**
   * Drop the oldest finished scans beyond `data.keepFinishedScans` from memory (their recording and results files
   * stay on disk). Without it a daemon that runs for days grows by every scan's maps and model inputs
   * (~1.4 MB per 40 x 40 scan; docs/reliability.md §Soak).
   */
  private evictFinished(): void {
    const finished = [...this.scans.values()].filter((c) => c.state !== 'running' && c.stop).sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 0; i < finished.length - this.config.data.keepFinishedScans; i++) this.scans.delete(finished[i].start.scanId);
  }

  /** Rewrite the results file of a scan (atomically). */
  async writeResults(ctx: ScanContext, complete: boolean): Promise<void> {
    if (ctx.refused) return; // no maps to write: the refusal is in the log and on the status channel
    // A running scan without pixels has no grid yet: nothing to flush, and flushing must not allocate it.
    if (!complete && !ctx.maps.allocated) return;
    const revision = ctx.maps.revision;
    ctx.resultsRevision = revision;
    await writeResultsFile(ctx.resultsPath, {
      maps: ctx.maps,
      manifest: this.model.bundle.manifest,
      complete,
      alerts: ctx.alerts?.table(),
      ...(ctx.loopStats
        ? {
            physicalMaps: {
              loop_offset: { data: ctx.loopStats.offset, description: 'offset (max + min)/2 of each pixel\'s cleaned piezoresponse loop (before normalisation); NaN where not encoded', units: ctx.inputState?.channels[0]?.unit ?? '' },
              coercive_down: { data: ctx.loopStats.coerciveDown, description: 'bias where the falling branch of each pixel\'s cleaned loop crosses its mid-line (steepest crossing); NaN where it does not', units: 'V' },
              coercive_up: { data: ctx.loopStats.coerciveUp, description: 'bias where the rising branch of each pixel\'s cleaned loop crosses its mid-line (steepest crossing); NaN where it does not', units: 'V' },
              imprint: { data: ctx.loopStats.imprint, description: '(coercive_down + coercive_up) / 2', units: 'V' },
              loop_height: { data: ctx.loopStats.height, description: 'half-height (max − min)/2 of each pixel\'s cleaned piezoresponse loop; NaN where not encoded', units: ctx.inputState?.channels[0]?.unit ?? '' },
            },
          }
        : {}),
      attrs: {
        source: ctx.source,
        ...(ctx.file ? { replayed_file: ctx.file } : {}),
        ...(ctx.recordingPath ? { recording: ctx.recordingPath } : {}),
        pixels_received: ctx.counters.received,
        pixels_rejected: ctx.counters.rejected,
        status: ctx.state,
        ...(ctx.inputState ? { input_state_json: JSON.stringify(ctx.inputState), input_descriptor_json: JSON.stringify(this.model.bundle.input) } : {}),
        ...(ctx.recordingError ? { recording_error: `${ctx.recordingError.errno}: ${ctx.recordingError.message}`, pixels_unrecorded: ctx.recordingError.unrecorded } : {}),
        ...fitAttrs(ctx),
      },
    });
    if (complete) ctx.finalResultsRevision = revision;
  }

  /**
   * Fit the linear baselines (PCA-5, dictionary learning) on the scan's own model inputs, once, when it ends (or when
   * a replay summarises a scan that never sent its stop). Costs up to a few seconds; capped by `baselines.*`.
   */
  computeBaselines(ctx: ScanContext): void {
    const cfg = this.config.baselines;
    if (!cfg.enabled || !ctx.inputs || ctx.baselines) return;
    const encoded: number[] = [];
    for (let i = 0; i < ctx.maps.size; i++) if (ctx.maps.state[i] === PIXEL_DONE) encoded.push(i);
    const stride = this.model.bundle.T * this.model.bundle.C;
    try {
      ctx.baselines = scanBaselines(ctx.inputs, Uint32Array.from(encoded), stride, cfg);
      const b = ctx.baselines;
      this.log.info({ scanId: ctx.start.scanId, ...b, meanError: scanMeanError(ctx.counters) }, `baselines: PCA-5 ${b.pca5Mse?.toPrecision(4) ?? 'n/a'}, dictionary learning ${b.dlMse?.toPrecision(4) ?? 'n/a'} (fitted on ${b.pixelsUsed} pixels in ${b.seconds.toFixed(2)} s)`);
    } catch (err) {
      this.log.warn({ scanId: ctx.start.scanId, err: (err as Error).message }, 'baselines could not be fitted');
    }
  }

  private async flushRunning(): Promise<void> {
    for (const ctx of this.scans.values()) {
      if (ctx.state !== 'running' || ctx.maps.revision === ctx.resultsRevision) continue;
      try {
        await this.writeResults(ctx, false);
      } catch (err) {
        this.log.error({ scanId: ctx.start.scanId, err: (err as Error).message }, 'periodic results write failed');
      }
    }
  }

  /**
   * Stop the flush timer, complete the streams (no subscriber is called after this) and close open recordings
   * (daemon shutdown; running scans stay resumable).
   */
  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    for (const s of [this.scanChanges, this.ending, this.recordingFailures, this.refusals] as Subject<unknown>[]) s.complete();
    for (const ctx of this.scans.values()) {
      // 'error' without a stop: a scan whose recording failed; its results say so (status, recording_error).
      if (ctx.state === 'running' || (ctx.state === 'error' && !ctx.stop)) await this.writeResults(ctx, false).catch(() => undefined);
      try {
        ctx.recorder?.close(); // verifies and commits the last rows
      } catch (err) {
        this.log.error({ scanId: ctx.start.scanId, path: ctx.recordingPath, err: (err as Error).message }, 'recording failed at shutdown: its last rows are not verified; a restart resumes after the last verified row');
      }
      ctx.recorder = undefined;
    }
  }
}
