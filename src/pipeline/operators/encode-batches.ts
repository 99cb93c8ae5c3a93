/**
 * encodeBatches: one inference call per batch (encoder + decoder), results written into each scan's maps;
 * control items are handled in order between batches (start/gap/stop). One batch at a time: inference owns
 * the CPU threads configured for it, and a scan's stop is processed only after its last pixels.
 */
import { concatMap, from, mergeAll, type OperatorFunction } from 'rxjs';
import type { Batched } from './micro-batch.ts';
import type { ControlItem, PipelineEvent, PixelItem } from '../items.ts';
import type { ScanContext } from '../scan-context.ts';

/** What encodeBatches needs from the daemon. */
export interface BatchEncoder {
  /** preprocess + encode + decode the pixels; returns per-pixel results aligned with `items` (undefined = refused) */
  encode(items: readonly PixelItem[]): Promise<void>;
  /** handle a start / gap / stop in stream order */
  control(item: ControlItem): Promise<PipelineEvent | undefined>;
}

export function encodeBatches(encoder: BatchEncoder): OperatorFunction<Batched<PixelItem, ControlItem>, PipelineEvent> {
  const handle = async (b: Batched<PixelItem, ControlItem>): Promise<PipelineEvent[]> => {
    if (b.kind === 'control') {
      const ev = await encoder.control(b.item);
      return ev ? [ev] : [];
    }
    const t0 = performance.now();
    await encoder.encode(b.items);
    const latencyMs = performance.now() - t0;
    const perScan = new Map<ScanContext, number>();
    for (const it of b.items) perScan.set(it.ctx, (perScan.get(it.ctx) ?? 0) + 1);
    return [...perScan].map(([ctx, pixels]) => ({ type: 'batch' as const, ctx, pixels, latencyMs }));
  };
  return concatMap((b) => from(handle(b)).pipe(mergeAll()));
}
