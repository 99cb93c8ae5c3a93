/**
 * recordRaw: append each batch's raw pixels to their scan's recording and flush, BEFORE the batch is queued
 * for inference — so everything waiting in the inference queue is already safe on disk (lossless ingest).
 *
 * A failed write (disk full, read-only folder, file-size limit) is never swallowed: `onFailure` is told (the
 * registry logs it with the path and errno, marks the scan 'error' and the daemon stops receiving), and the
 * batch still goes on to the maps.
 */
import { type MonoTypeOperatorFunction, tap } from 'rxjs';
import type { PixelEvent } from '../../protocol/events.ts';
import type { Batched } from './micro-batch.ts';
import type { ControlItem, PixelItem } from '../items.ts';
import type { ScanContext } from '../scan-context.ts';

/** Told when appending to a scan's recording failed; `pixels` of this batch are not on disk. */
export type RecordFailureHandler = (ctx: ScanContext, err: unknown, pixels: readonly PixelEvent[]) => void;

/** Record each batch's pixels to their scans' recordings before inference; failures go to `onFailure`. */
export function recordRaw(onFailure?: RecordFailureHandler): MonoTypeOperatorFunction<Batched<PixelItem, ControlItem>> {
  return tap((b) => {
    if (b.kind !== 'batch') return;
    // A batch may mix scans (interleaved producers): group per recorder, keeping arrival order.
    const perScan = new Map<ScanContext, PixelEvent[]>();
    for (const item of b.items) {
      // After a write failure the scan has no recorder: count what is not on disk rather than skip it silently.
      if (item.ctx.recordingError) {
        item.ctx.recordingError.unrecorded++;
        continue;
      }
      if (!item.ctx.recorder) continue; // replays and resumed re-feeds are on disk already
      let list = perScan.get(item.ctx);
      if (!list) perScan.set(item.ctx, (list = []));
      list.push(item.ev);
    }
    for (const [ctx, pixels] of perScan) {
      try {
        ctx.recorder!.append(pixels);
        ctx.recorder!.flush();
        ctx.counters.recorded += pixels.length;
      } catch (err) {
        if (!onFailure) throw err;
        onFailure(ctx, err, pixels);
      }
    }
  });
}
