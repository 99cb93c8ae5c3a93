/**
 * ModelEncoder: the BatchEncoder of the live pipeline. For each batch: turn every pixel into the bundle's canonical
 * model input (preprocess/canonical-input.ts), run encoder + decoder once (model/runtime via the ModelSlot), write
 * μ, log σ², error and version into each scan's maps (encode-into-maps.ts, the one encode path), and announce it
 * on `encoded$` (alerts, fit check, fine-tuning). Control items go to the registry.
 *
 * A scan's input state (θ, resampling grid, normalisation) is fitted on its first `warmupPixels` pixels and then
 * frozen: those pixels wait here until there are enough of them (or the scan stops), then all are encoded.
 */
import { Subject, type Observable } from 'rxjs';
import type { Logger } from '../util/log.ts';
import { fitScanInputState, toCanonicalInput, type PixelLoopStats } from '../preprocess/canonical-input.ts';
import { modelledValuesProblem } from '../preprocess/modelled-values.ts';
import type { ControlItem, PipelineEvent, PixelItem } from './items.ts';
import type { BatchEncoder } from './operators/encode-batches.ts';
import { encodeIntoMaps, writeIntoMaps, type EngineRows } from './encode-into-maps.ts';
import type { ModelSlot } from './model-slot.ts';
import { copyLoopStats, newLoopStats, type LoopStats, type ScanContext } from './scan-context.ts';
import type { ScanRegistry } from './scan-registry.ts';

/** A scan's maps received a batch: `index` are the flat pixel indices just written. */
export interface Encoded {
  ctx: ScanContext;
  index: Uint32Array;
}

/** A pixel the preprocessing refused, with its code. */
export interface PixelRefusal {
  ctx: ScanContext;
  seq: number;
  code: string;
  message: string;
}

export class ModelEncoder implements BatchEncoder {
  private readonly encoded = new Subject<Encoded>();
  private readonly refused = new Subject<PixelRefusal>();
  private readonly refusalsLogged = new WeakMap<ScanContext, number>();
  /** every batch written into a scan's maps, after the write (fit check, alerts, fine-tuning) */
  readonly encoded$: Observable<Encoded> = this.encoded.asObservable();
  /** every pixel the preprocessing refuses (the status channel publishes them) */
  readonly refused$: Observable<PixelRefusal> = this.refused.asObservable();
  /** duration of the latest inference call, ms */
  lastBatchMs = 0;
  /** arrival-to-encoded time of the oldest pixel of the latest batch, s */
  lastLagSec = 0;

  constructor(
    private readonly model: ModelSlot,
    private readonly registry: ScanRegistry,
    private readonly log: Logger,
  ) {}

  /** Complete `encoded$` and `refused$` (daemon shutdown). */
  close(): void {
    this.encoded.complete();
    this.refused.complete();
  }

  async encode(items: readonly PixelItem[]): Promise<void> {
    const ready: PixelItem[] = [];
    for (const item of items) {
      const { ctx } = item;
      if (!ctx.encodable) continue;
      // The values the model reads (its cycle/field and channels) must hold something finite and physical: a failed
      // fit or an overflowing value is refused here, before it can be encoded or join the warm-up that fits the
      // scan's normalisation (preprocess/modelled-values.ts).
      const problem = modelledValuesProblem(item.ev.data, ctx.start, this.model.bundle.input, item.ev.seq);
      if (problem) {
        this.refusePixel(item, problem.code, problem.message);
        continue;
      }
      if (ctx.inputState) {
        if (inRange(ctx, item.index)) ready.push(item);
        continue;
      }
      (ctx.warmup ??= []).push(item);
      const need = Math.min(this.model.bundle.input.warmupPixels, ctx.start.grid.rows * ctx.start.grid.cols);
      if (ctx.warmup.length >= need) ready.push(...this.freeze(ctx));
    }
    if (ready.length) await this.encodeReady(ready);
  }

  /** A pixel the preprocessing refuses: counted in pixels_rejected, logged with its code (rate-limited per scan). */
  private refusePixel(item: PixelItem, code: string | undefined, message: string): void {
    const { ctx } = item;
    ctx.counters.rejected++;
    this.refused.next({ ctx, seq: item.ev.seq, code: code ?? 'LS_PREPROCESS_LAYOUT', message });
    const logged = (this.refusalsLogged.get(ctx) ?? 0) + 1;
    this.refusalsLogged.set(ctx, logged);
    if (logged <= 20) this.log.warn({ scanId: ctx.start.scanId, seq: item.ev.seq, code }, message);
  }

  /** Fit and freeze a scan's input state on its held pixels; returns them for encoding. */
  private freeze(ctx: ScanContext): PixelItem[] {
    const held = ctx.warmup ?? [];
    ctx.warmup = undefined;
    try {
      ctx.inputState = fitScanInputState(
        ctx.start,
        held.map((it) => it.ev.data),
        this.model.bundle.input,
      );
    } catch (err) {
      ctx.encodable = false;
      ctx.notEncodableReason = (err as Error).message;
      ctx.counters.rejected += held.length;
      this.log.error({ scanId: ctx.start.scanId, code: (err as { code?: string }).code }, `${ctx.notEncodableReason}; its pixels are not encoded`);
      return [];
    }
    const s = ctx.inputState;
    this.log.info(
      { scanId: ctx.start.scanId, thetaRad: s.thetaRad, normalisation: s.normalisation, channels: s.channels, sourceSteps: s.grid.sourceSteps, vmax: s.grid.vmax, pixels: s.fittedOnPixels },
      'model input state fitted and frozen',
    );
    return held.filter((it) => inRange(ctx, it.index));
  }

  /**
   * Write engine outputs computed elsewhere into a scan's maps and announce them, as if this encoder had just
   * encoded them: a reprocessing merge job (src/scale) replays the batches its pixel-range jobs encoded, in the
   * order replay encodes them, so alerts and the fit check see the same stream. `x` holds the rows' model inputs,
   * `loop` their loop statistics (row k is pixel index[k]).
   */
  applyEncoded(ctx: ScanContext, x: Float32Array, out: EngineRows, index: Uint32Array, loop: LoopStats): void {
    const targets = Array.from(index, (i) => ({ ctx, index: i }));
    const model = { T: this.model.bundle.T, C: this.model.bundle.C, latentDim: this.model.engine.latentDim, version: this.model.engine.version };
    const { written, nonFinite } = writeIntoMaps(model, x, out, targets, { storeInputs: true });
    if (nonFinite.length) throw new Error(`scan ${ctx.start.scanId}: ${nonFinite.length} of ${index.length} handed-over rows are not finite`);
    const ls = (ctx.loopStats ??= newLoopStats(ctx.maps.rows * ctx.maps.cols));
    index.forEach((i, k) => copyLoopStats(loop, k, ls, i));
    for (const w of written) this.encoded.next(w);
  }

  private async encodeReady(items: readonly PixelItem[]): Promise<void> {
    await this.model.run(async (engine, bundle) => {
      const d = bundle.input;
      const stride = engine.T * engine.C;
      const x = new Float32Array(items.length * stride);
      const kept: PixelItem[] = [];
      const stats: PixelLoopStats = { offset: Number.NaN, height: Number.NaN, coercive: { down: Number.NaN, up: Number.NaN, imprint: Number.NaN } };
      for (const item of items) {
        if (!item.ctx.encodable || !item.ctx.inputState) continue;
        try {
          toCanonicalInput(item.ev.data, item.ctx.start, item.ctx.inputState, d, x, kept.length * stride, stats);
          const ls = (item.ctx.loopStats ??= newLoopStats(item.ctx.maps.rows * item.ctx.maps.cols));
          ls.offset[item.index] = stats.offset;
          ls.height[item.index] = stats.height;
          ls.coerciveDown[item.index] = stats.coercive!.down;
          ls.coerciveUp[item.index] = stats.coercive!.up;
          ls.imprint[item.index] = stats.coercive!.imprint;
          kept.push(item);
        } catch (err) {
          this.refusePixel(item, (err as { code?: string }).code, (err as Error).message);
        }
      }
      if (kept.length === 0) return;
      const { written, nonFinite, engineMs } = await encodeIntoMaps(engine, x, kept, { storeInputs: true });
      this.lastBatchMs = engineMs;
      // Lag from arrival (not the acquisition timestamp: replayed files carry old times, instruments other clocks).
      this.lastLagSec = (performance.now() - kept[0].receivedAt) / 1000;
      for (const k of nonFinite) this.refusePixel(kept[k]!, 'LS_INPUT_OVERFLOW', `scan ${kept[k]!.ctx.start.scanId} pixel seq ${kept[k]!.ev.seq}: its model input or reconstruction is not finite (values beyond float32 arithmetic); not encoded`);
      for (const { ctx, index } of written) this.encoded.next({ ctx, index });
    });
  }

  async control(item: ControlItem): Promise<PipelineEvent | undefined> {
    // A scan that stops before its warm-up filled: fit on what it sent, encode, then close it.
    if (item.ev.type === 'stop' && item.ctx.warmup?.length) {
      const held = this.freeze(item.ctx);
      if (held.length) await this.encodeReady(held);
    }
    return this.registry.control(item);
  }
}

/** Is this pixel one the scan encodes (all, unless a reprocessing range job set `encodeRange`)? Counts those left out. */
function inRange(ctx: ScanContext, index: number): boolean {
  const r = ctx.encodeRange;
  if (!r || (index >= r.from && index < r.to)) return true;
  r.skipped++;
  return false;
}
