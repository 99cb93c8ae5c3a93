/**
 * openScans: bind every ScanEvent to its ScanContext. A `start` opens the scan (maps, recording, results path)
 * through `open`; pixels are marked received; a pixel of a scan that is not open is counted and dropped.
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
    if (ev.type !== 'pixel') return of({ kind: 'control', ctx, ev });
    ctx.counters.received++;
    if (ev.seq > ctx.counters.lastSeq) ctx.counters.lastSeq = ev.seq;
    ctx.maps.markReceived(ev.row, ev.col);
    return of({ kind: 'pixel', ctx, ev, index: ctx.maps.indexOf(ev.row, ev.col), receivedAt: performance.now() });
  });
}
