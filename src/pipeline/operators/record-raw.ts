/**
 * recordRaw: append each batch's raw pixels to their scan's recording and flush, BEFORE the batch is queued
 * for inference — so everything waiting in the inference queue is already safe on disk (lossless ingest).
 */
import { type MonoTypeOperatorFunction, tap } from 'rxjs';
import type { PixelEvent } from '../../protocol/events.ts';
import type { Batched } from './micro-batch.ts';
import type { ControlItem, PixelItem } from '../items.ts';
import type { ScanContext } from '../scan-context.ts';

export function recordRaw(): MonoTypeOperatorFunction<Batched<PixelItem, ControlItem>> {
  return tap((b) => {
    if (b.kind !== 'batch') return;
    // A batch may mix scans (interleaved producers): group per recorder, keeping arrival order.
    const perScan = new Map<ScanContext, PixelEvent[]>();
    for (const item of b.items) {
      // Pixels below recordFromSeq are already recorded (a resumed scan re-fed from its own recording).
      if (!item.ctx.recorder || item.ev.seq < item.ctx.recordFromSeq) continue;
      let list = perScan.get(item.ctx);
      if (!list) perScan.set(item.ctx, (list = []));
      list.push(item.ev);
    }
    for (const [ctx, pixels] of perScan) {
      ctx.recorder!.append(pixels);
      ctx.recorder!.flush();
      ctx.counters.recorded += pixels.length;
    }
  });
}
