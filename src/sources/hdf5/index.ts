/**
 * HDF5 replay: open a scan file in any supported layout and turn it into the same `ScanEvent` stream a live
 * scan produces (start, pixels, gaps for seqs a recording lacks, stop), paced as asked.
 */
import { Observable, asyncScheduler, defer, finalize, from, switchMap, type SchedulerLike } from 'rxjs';
import type { ScanEvent } from '../../protocol/events.ts';
import type { StopHeader } from '../../protocol/messages.ts';
import { SCAN_FORMAT, SCAN_PATHS } from '../../store/scan-file.ts';
import { FileFormatError } from './errors.ts';
import { attr, groupAt, openH5 } from './h5.ts';
import { findNsidMain, readNsidLayout } from './nsid.ts';
import { readOwnLayout } from './own.ts';
import type { ScanFileReader } from './reader.ts';
import { findShoGroup, readUsidShoLayout } from './usid-sho.ts';

export { FileFormatError } from './errors.ts';
export type { ScanFileLayout, ScanFileReader } from './reader.ts';

/** How fast a replay emits pixels. */
export type Pace = { kind: 'max' } | { kind: 'realtime'; factor: number } | { kind: 'rate'; pxPerSec: number };

/** Parse `max`, `realtime`, `xN` (N times real time) or `Npxps` (config `replay.pace` grammar). */
export function parsePace(s: string): Pace {
  const v = s.trim();
  if (v === 'max') return { kind: 'max' };
  if (v === 'realtime') return { kind: 'realtime', factor: 1 };
  let m = /^x([0-9]+(?:\.[0-9]+)?)$/.exec(v);
  if (m && Number(m[1]) > 0) return { kind: 'realtime', factor: Number(m[1]) };
  m = /^([0-9]+(?:\.[0-9]+)?)pxps$/.exec(v);
  if (m && Number(m[1]) > 0) return { kind: 'rate', pxPerSec: Number(m[1]) };
  throw Object.assign(new Error(`pace "${s}": expected max, realtime, xN (N times real time, N > 0) or Npxps (pixels per second, N > 0)`), {
    name: 'ConfigError',
    code: 'LS_CONFIG_INVALID',
  });
}

/** Open a scan file, detecting its layout: loopstream scan file, NSID loop file, or USID SHO fit. */
export async function openScanFile(path: string): Promise<ScanFileReader> {
  const file = await openH5(path, 'r');
  try {
    const root = groupAt(file, SCAN_PATHS.root);
    if (root && attr(root, 'format') === SCAN_FORMAT) return readOwnLayout(file, path);
    const sho = findShoGroup(file);
    if (sho) return readUsidShoLayout(file, path, sho);
    const main = findNsidMain(file);
    if (main) return readNsidLayout(file, path, main);
    throw new FileFormatError(
      'LS_FILE_LAYOUT',
      `${path}: unknown layout (top level: [${file.keys().join(', ')}]); expected a loopstream scan file (/scan), an NSID file (a main dataset with NSID attributes, e.g. /Measurement_000/Channel_000/<name>/<name>) or a USID SHO fit (Raw_Data-SHO_Fit_000/Fit)`,
      path,
    );
  } catch (err) {
    try {
      file.close();
    } catch {
      /* already closed by the failing reader */
    }
    if (err instanceof FileFormatError) throw err;
    // HDF5 failing inside a damaged file throws bare errors ("error - name not defined!"): say what that means.
    throw new FileFormatError('LS_FILE_UNREADABLE', `${path}: HDF5 failed while reading the file's structure (${(err as Error).message}); the file is truncated or damaged`, path);
  }
}

/** Options of a replay. */
export interface ReplayOptions {
  pace: Pace;
  /** replace the file's scan id (e.g. to replay one file twice as two scans) */
  scanId?: string;
  /** scheduler for pacing (tests pass a virtual-time scheduler) */
  scheduler?: SchedulerLike;
  /** most pixels emitted per scheduler task at `max` pace, so a long file does not block the event loop */
  chunk?: number;
}

/**
 * The event stream of an opened reader. Pixel i is due at i/pxPerSec (rate), at (t_i − t_0)/factor (realtime),
 * or at once (max); the reader is not closed here.
 */
export function replayReader(reader: ScanFileReader, opts: ReplayOptions): Observable<ScanEvent> {
  const scheduler = opts.scheduler ?? asyncScheduler;
  const chunk = opts.chunk ?? 512;
  const scanId = opts.scanId ?? reader.start.scanId;
  const { pace } = opts;
  return new Observable<ScanEvent>((subscriber) => {
    subscriber.next({ type: 'start', header: { ...reader.start, scanId } });
    let i = 0;
    let nextSeq = 0;
    let t0 = NaN;
    let lastDue = 0;
    const origin = scheduler.now();
    const dueMs = (px: { t: number }, index: number): number => {
      if (pace.kind === 'max') return 0;
      if (pace.kind === 'rate') return (index * 1000) / pace.pxPerSec;
      if (Number.isNaN(t0)) t0 = px.t;
      // Timestamps that run backwards never make a replay wait less than the pixel before.
      lastDue = Math.max(lastDue, ((px.t - t0) * 1000) / pace.factor);
      return lastDue;
    };
    const finish = () => {
      const stop: StopHeader = reader.stop
        ? { ...reader.stop, scanId }
        : { type: 'stop', scanId, status: reader.layout === 'loopstream' ? 'aborted' : 'completed', pixelsSent: reader.count, lastSeq: nextSeq - 1 };
      if (stop.lastSeq >= nextSeq) subscriber.next({ type: 'gap', scanId, fromSeq: nextSeq, toSeq: stop.lastSeq });
      subscriber.next({ type: 'stop', header: stop });
      subscriber.complete();
    };
    const work = (action: { schedule(state?: undefined, delay?: number): unknown }) => {
      let emitted = 0;
      while (i < reader.count && !subscriber.closed) {
        const px = reader.pixel(i);
        const due = dueMs(px, i);
        const now = scheduler.now() - origin;
        if (due > now) {
          // Not due yet: come back then (the block cache makes reading it again cheap).
          action.schedule(undefined, due - now);
          return;
        }
        if (px.seq > nextSeq) subscriber.next({ type: 'gap', scanId, fromSeq: nextSeq, toSeq: px.seq - 1 });
        nextSeq = Math.max(nextSeq, px.seq + 1);
        subscriber.next(scanId === px.scanId ? px : { ...px, scanId });
        i++;
        if (++emitted >= chunk && pace.kind === 'max') {
          action.schedule(undefined, 0);
          return;
        }
      }
      if (!subscriber.closed) finish();
    };
    const sub = scheduler.schedule(function () {
      try {
        work(this);
      } catch (err) {
        subscriber.error(err);
      }
    });
    return () => sub.unsubscribe();
  });
}

/** Replay a file as a live scan: open it, emit its events at `pace`, close it when the stream ends. */
export function replayFile(path: string, opts: ReplayOptions): Observable<ScanEvent> {
  return defer(() => from(openScanFile(path))).pipe(switchMap((reader) => replayReader(reader, opts).pipe(finalize(() => reader.close()))));
}
