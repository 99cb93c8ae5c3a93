/**
 * ModelEncoder: the BatchEncoder of the live pipeline. For each batch: preprocess every pixel into one input
 * tensor (preprocess/), run encoder + decoder once (model/runtime via the ModelSlot), write μ, log σ², error and
 * version into each scan's maps, and tell the per-pixel listeners (alerts). Control items go to the registry.
 */
import type { Logger } from '../util/log.ts';
import { toModelInput } from '../preprocess/index.ts';
import type { ControlItem, PipelineEvent, PixelItem } from './items.ts';
import type { BatchEncoder } from './operators/encode-batches.ts';
import type { ModelSlot } from './model-slot.ts';
import type { ScanContext } from './scan-context.ts';
import type { ScanRegistry } from './scan-registry.ts';

/** Told after a scan's maps received a batch: `index` are the flat pixel indices just written. */
export type EncodedListener = (ctx: ScanContext, index: Uint32Array) => void;

export class ModelEncoder implements BatchEncoder {
  private readonly listeners = new Set<EncodedListener>();
  /** duration of the latest inference call, ms */
  lastBatchMs = 0;
  /** arrival-to-encoded time of the oldest pixel of the latest batch, s */
  lastLagSec = 0;

  constructor(
    private readonly model: ModelSlot,
    private readonly registry: ScanRegistry,
    private readonly log: Logger,
  ) {}

  /** Subscribe to encoded batches (alerts, metrics); returns the unsubscribe function. */
  onEncoded(fn: EncodedListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async encode(items: readonly PixelItem[]): Promise<void> {
    await this.model.run(async (engine, bundle) => {
      const spec = bundle.preprocess;
      const stride = engine.T * engine.C;
      const x = new Float32Array(items.length * stride);
      const kept: PixelItem[] = [];
      for (const item of items) {
        if (!item.ctx.encodable) continue;
        try {
          toModelInput(item.ev.data, item.ctx.start, spec, x, kept.length * stride);
          kept.push(item);
        } catch (err) {
          item.ctx.counters.rejected++;
          this.log.warn({ scanId: item.ctx.start.scanId, seq: item.ev.seq, code: (err as { code?: string }).code }, (err as Error).message);
        }
      }
      if (kept.length === 0) return;
      const t0 = performance.now();
      const out = await engine.encodeDecode(x.subarray(0, kept.length * stride), kept.length);
      this.lastBatchMs = performance.now() - t0;
      // Lag from arrival (not the acquisition timestamp: replayed files carry old times, instruments other clocks).
      this.lastLagSec = (performance.now() - kept[0].receivedAt) / 1000;
      this.apply(kept, x, stride, out, engine.latentDim, engine.version);
    });
  }

  /** Write one batch's outputs into the maps of each scan it touched. */
  private apply(kept: PixelItem[], x: Float32Array, stride: number, out: { mu: Float32Array; logVar: Float32Array; error: Float32Array }, d: number, version: number): void {
    // Batches are usually one scan; interleaved producers give several, handled one scan at a time.
    const byScan = new Map<ScanContext, number[]>();
    kept.forEach((item, k) => {
      item.ctx.inputs?.set(x.subarray(k * stride, (k + 1) * stride), item.index * stride);
      let list = byScan.get(item.ctx);
      if (!list) byScan.set(item.ctx, (list = []));
      list.push(k);
    });
    for (const [ctx, ks] of byScan) {
      const single = ks.length === kept.length;
      const index = Uint32Array.from(ks, (k) => kept[k].index);
      const pick = (src: Float32Array, width: number) => {
        if (single) return src;
        const dst = new Float32Array(ks.length * width);
        ks.forEach((k, j) => dst.set(src.subarray(k * width, (k + 1) * width), j * width));
        return dst;
      };
      const error = pick(out.error, 1);
      ctx.maps.applyBatch({ index, mu: pick(out.mu, d), logVar: pick(out.logVar, d), error, version });
      ctx.counters.encoded += ks.length;
      for (let j = 0; j < error.length; j++) ctx.counters.errorSum += error[j];
      for (const fn of this.listeners) fn(ctx, index);
    }
  }

  control(item: ControlItem): Promise<PipelineEvent | undefined> {
    return this.registry.control(item);
  }
}
