/**
 * openScans: bind every ScanEvent to its ScanContext. A `start` opens the scan (recording, results path; the maps
 * stay unallocated) through `open`; the scan's first pixel or gap allocates its maps, and an allocation that fails
 * refuses that one scan (`refuse`), never the pipeline. Pixels are marked received; a pixel the source refused is
 * counted as rejected; an event of a scan that is not open (or was refused) is counted and dropped.
 */
import { type Observable, type OperatorFunction, concatMap, EMPTY, from, of } from 'rxjs';
import type { ScanEvent } from '../../protocol/events.ts';
import type { PipelineItem } from '../items.ts';
import type { ScanContext } from '../scan-context.ts';

export interface ScanDirectory {
  /** open (or reopen, after a restart) the scan a start message describes */
  open(ev: Extract<ScanEvent, { type: 'start' }>): Promise<ScanContext>;
  get(scanId: string): ScanContext | undefined;
  /** count a pixel that belongs to no open scan */
  orphan(ev: ScanEvent): void;
  /** allocate the scan's grid buffers (maps, model inputs) if not yet done; throws when the memory is not there */
  allocate(ctx: ScanContext): void;
  /** the scan's buffers could not be allocated: refuse the scan (its later events are dropped and counted) */
  refuse(ctx: ScanContext, err: unknown): void;
}

export function openScans(scans: ScanDirectory): OperatorFunction<ScanEvent, PipelineItem> {
  return concatMap((ev): Observable<PipelineItem> => {
    if (ev.type === 'start') return from(scans.open(ev).then((ctx) => ({ kind: 'control' as const, ctx, ev })));
    const scanId = ev.type === 'stop' ? ev.header.scanId : ev.scanId;
    const ctx = scans.get(scanId);
    if (!ctx) {
      scans.orphan(ev);
      return EMPTY;
    }
    if (ctx.refused) {
      if (ev.type === 'pixel' || ev.type === 'refused') ctx.counters.rejected++;
      return ev.type === 'stop' ? of({ kind: 'control', ctx, ev }) : EMPTY;
    }
    if (ev.type === 'refused') {
      ctx.counters.rejected++;
      return EMPTY;
    }
    if (ev.type !== 'stop') {
      try {
        scans.allocate(ctx);
      } catch (err) {
        scans.refuse(ctx, err);
        if (ev.type === 'pixel') ctx.counters.rejected++;
        return EMPTY;
      }
    }
    if (ev.type !== 'pixel') return of({ kind: 'control', ctx, ev });
    ctx.counters.received++;
    if (ev.seq > ctx.counters.lastSeq) ctx.counters.lastSeq = ev.seq;
    ctx.maps.markReceived(ev.row, ev.col);
    return of({ kind: 'pixel', ctx, ev, index: ctx.maps.indexOf(ev.row, ev.col), receivedAt: performance.now() });
  });
}
