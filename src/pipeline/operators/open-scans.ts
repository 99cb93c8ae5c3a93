/**
 * openScans: bind every ScanEvent to its ScanContext. A `start` opens the scan (recording, results path; the maps
 * stay unallocated) through `open`; the scan's first pixel or gap allocates its maps, and an allocation that fails
 * refuses that one scan (`refuse`), never the pipeline. Pixels are marked received; a pixel the source refused is
 * counted as rejected; an event of a scan that is not open (or was refused) is counted and dropped.
 */
import { Observable, type OperatorFunction } from 'rxjs';
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

/**
 * Events stay in arrival order: while a `start` is being opened (a promise), later events queue behind it. The queue
 * is drained in a loop, not by one inner Observable per event (concatMap): a source that emits thousands of events
 * synchronously behind a start made concatMap's drain recurse once per event and overflow the stack, silently
 * ending the run (found by encoding a whole in-memory scan with rxjs `from`).
 */
export function openScans(scans: ScanDirectory): OperatorFunction<ScanEvent, PipelineItem> {
  return (source) =>
    new Observable<PipelineItem>((subscriber) => {
      const queue: ScanEvent[] = [];
      let head = 0; // next queued event (an index, so draining a long queue is linear)
      let opening = false;
      let sourceDone = false;
      const drain = () => {
        while (!opening && head < queue.length && !subscriber.closed) {
          const ev = queue[head++]!;
          if (ev.type === 'start') {
            opening = true;
            scans.open(ev).then(
              (ctx) => {
                opening = false;
                if (subscriber.closed) return;
                subscriber.next({ kind: 'control', ctx, ev });
                drain();
              },
              (err) => subscriber.error(err),
            );
            break;
          }
          const item = bind(scans, ev);
          if (item) subscriber.next(item);
        }
        if (head === queue.length) {
          queue.length = 0;
          head = 0;
        }
        if (!opening && sourceDone && head === queue.length && !subscriber.closed) subscriber.complete();
      };
      const sub = source.subscribe({
        next: (ev) => {
          queue.push(ev);
          drain();
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          drain();
        },
      });
      return () => sub.unsubscribe();
    });
}

/** One non-start event bound to its open scan; undefined when it is counted and dropped. */
function bind(scans: ScanDirectory, ev: Exclude<ScanEvent, { type: 'start' }>): PipelineItem | undefined {
  const scanId = ev.type === 'stop' ? ev.header.scanId : ev.scanId;
  const ctx = scans.get(scanId);
  if (!ctx) {
    scans.orphan(ev);
    return undefined;
  }
  if (ctx.refused) {
    if (ev.type === 'pixel' || ev.type === 'refused') ctx.counters.rejected++;
    return ev.type === 'stop' ? { kind: 'control', ctx, ev } : undefined;
  }
  if (ev.type === 'refused') {
    ctx.counters.rejected++;
    return undefined;
  }
  if (ev.type !== 'stop') {
    try {
      scans.allocate(ctx);
    } catch (err) {
      scans.refuse(ctx, err);
      if (ev.type === 'pixel') ctx.counters.rejected++;
      return undefined;
    }
  }
  if (ev.type !== 'pixel') return { kind: 'control', ctx, ev };
  ctx.counters.received++;
  if (ev.seq > ctx.counters.lastSeq) ctx.counters.lastSeq = ev.seq;
  ctx.maps.markReceived(ev.row, ev.col);
  return { kind: 'pixel', ctx, ev, index: ctx.maps.indexOf(ev.row, ev.col), receivedAt: performance.now() };
}
