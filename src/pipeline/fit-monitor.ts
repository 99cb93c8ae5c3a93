/**
 * FitMonitor: the rolling "does the model fit this scan" check of the live pipeline (model/fit-check.ts has the
 * math). After a scan's first `ood.minPixels` encoded pixels, and then every `ood.everyPixels`, it compares the
 * latest `ood.windowPixels` pixels (their model inputs and errors) with the bundle's training reference and stores
 * the verdict in `ctx.ood` — which the dashboard's scan list, /metrics, the results file and the replay summary read.
 * The first time a scan is flagged it logs one warning with the numbers and tells its listeners (fine-tuning
 * starts a round early, through `verdicts$`); when it fits again (e.g. after an accepted fine-tuning round) it logs that once too.
 */
import { Subject, type Observable } from 'rxjs';
import type { Config } from '../config/schema.ts';
import { PIXEL_DONE } from '../maps/scan-maps.ts';
import { checkFit, checkScanPixels, fitReferenceOf, type OodStatus } from '../model/fit-check.ts';
import { medianMad } from '../util/robust-stats.ts';
import type { Logger } from '../util/log.ts';
import type { ModelSlot } from './model-slot.ts';
import type { ScanContext } from './scan-context.ts';

/** A scan's verdict flipped (flagged = the model does not fit it). */
export interface FitVerdict {
  ctx: ScanContext;
  status: OodStatus;
}

interface Window {
  /** ring of the latest pixel indices */
  ring: Uint32Array;
  filled: number;
  at: number;
  seen: number;
  sinceCheck: number;
  flagged: boolean;
}

export class FitMonitor {
  private readonly windows = new WeakMap<ScanContext, Window>();
  private readonly verdicts = new Subject<FitVerdict>();
  /** every flip of a scan's verdict (fine-tuning starts a round early on a flag); completes on `close` */
  readonly verdicts$: Observable<FitVerdict> = this.verdicts.asObservable();

  constructor(
    private readonly config: Config['ood'],
    private readonly slot: ModelSlot,
    private readonly log: Logger,
  ) {}

  /** Complete `verdicts$` (daemon shutdown). */
  close(): void {
    this.verdicts.complete();
  }

  /**
   * Only the verdict over the whole scan (`assess`), no rolling checks: set by a reprocessing merge (src/scale),
   * where nobody watches the scan live and only the final verdict goes into the results file (assess replaces
   * whatever the rolling checks said).
   */
  wholeScanOnly = false;

  /** Feed one encoded batch of a scan (a subscriber of ModelEncoder.encoded$). */
  onEncoded(ctx: ScanContext, index: Uint32Array): void {
    if (!this.config.enabled || !ctx.inputs || this.wholeScanOnly) return;
    let w = this.windows.get(ctx);
    if (!w) this.windows.set(ctx, (w = { ring: new Uint32Array(this.config.windowPixels), filled: 0, at: 0, seen: 0, sinceCheck: 0, flagged: false }));
    for (const i of index) {
      w.ring[w.at] = i;
      w.at = (w.at + 1) % w.ring.length;
      w.filled = Math.min(w.filled + 1, w.ring.length);
    }
    w.seen += index.length;
    w.sinceCheck += index.length;
    if (w.seen < this.config.minPixels) return;
    if (ctx.ood && w.sinceCheck < this.config.everyPixels) return;
    w.sinceCheck = 0;
    this.update(ctx, w, this.check(ctx, w.ring.subarray(0, w.filled)));
  }

  /** The verdict over every encoded pixel of a scan as its maps hold them now (after re-encoding): summaries. */
  assess(ctx: ScanContext): OodStatus | undefined {
    if (!this.config.enabled || !ctx.inputs) return undefined;
    const pixels: number[] = [];
    for (let i = 0; i < ctx.maps.size; i++) if (ctx.maps.state[i] === PIXEL_DONE) pixels.push(i);
    if (pixels.length === 0) return undefined;
    const status = this.check(ctx, pixels);
    const w = this.windows.get(ctx);
    if (w) this.update(ctx, w, status);
    else ctx.ood = status;
    return status;
  }

  private check(ctx: ScanContext, pixels: ArrayLike<number>): OodStatus {
    const bundle = this.slot.bundle;
    const thresholds = { errorRatio: this.config.errorRatio, inputShift: this.config.inputShift };
    const ref = fitReferenceOf(bundle.manifest);
    const channels = bundle.preprocess.channels;
    if (ref.kind === 'none') {
      const e = Float64Array.from({ length: pixels.length }, (_, k) => ctx.maps.error[pixels[k]!]!);
      return checkFit(ref, { mean: [], std: [], medianError: medianMad(e).median, pixels: pixels.length, channels: [] }, thresholds);
    }
    return checkScanPixels(ref, ctx.inputs!, ctx.maps.error, pixels, bundle.T * bundle.C, channels, thresholds, ctx.inputState?.channels.map((c) => c.present));
  }

  private update(ctx: ScanContext, w: Window, status: OodStatus): void {
    ctx.ood = status;
    if (status.flag === w.flagged) return;
    w.flagged = status.flag;
    const numbers = { scanId: ctx.start.scanId, errorRatio: status.errorRatio, inputShift: status.inputShift, scanMedianError: status.scanMedianError, trainMedianError: status.trainMedianError, pixels: status.pixels, reference: status.reference, code: 'LS_MODEL_NOT_FITTING' };
    if (status.flag) this.log.warn(numbers, `the model (v${this.slot.engine.version}) does not fit scan ${ctx.start.scanId}: ${status.reasons.join('; ')}; its maps and alerts are unreliable until it is fine-tuned on this sample (docs/model.md)`);
    else this.log.info(numbers, `the model (v${this.slot.engine.version}) fits scan ${ctx.start.scanId} again: error ratio ${status.errorRatio?.toPrecision(3) ?? 'n/a'}, input shift ${status.inputShift?.toPrecision(3) ?? 'n/a'}`);
    this.verdicts.next({ ctx, status });
  }
}
