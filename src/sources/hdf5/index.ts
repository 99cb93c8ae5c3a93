/**
 * HDF5 replay: open a scan file in any supported layout and turn it into the same `ScanEvent` stream a live
 * scan produces (start, pixels, gaps for seqs a recording lacks, stop), paced as asked.
 */
import { Observable, asyncScheduler, defer, finalize, from, switchMap, type SchedulerLike } from 'rxjs';
import type { PixelEvent, ScanEvent } from '../../protocol/events.ts';
import { FrameError, type IngestWarning } from '../../protocol/errors.ts';
import { ScanTracker } from '../../protocol/scan-tracker.ts';
import type { StopHeader } from '../../protocol/messages.ts';
import { FileFormatError } from '../../hdf5/errors.ts';
import { openH5 } from '../../hdf5/h5.ts';
import { isScanFile } from '../../hdf5/own-format.ts';
import { findNsidMain, readNsidLayout } from './nsid.ts';
import { readOwnLayout } from './own.ts';
import type { ScanFileReader } from './reader.ts';
import { findShoGroup, readUsidShoLayout } from './usid-sho.ts';

export { FileFormatError } from '../../hdf5/errors.ts';
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
    if (isScanFile(file)) return readOwnLayout(file, path);
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

/** Default for `replay.maxGapSeconds`: the longest a realtime replay waits between two pixels. */
export const DEFAULT_MAX_GAP_SECONDS = 5;

/** Options of a replay. */
export interface ReplayOptions {
  pace: Pace;
  /** replace the file's scan id (e.g. to replay one file twice as two scans) */
  scanId?: string;
  /** scheduler for pacing (tests pass a virtual-time scheduler) */
  scheduler?: SchedulerLike;
  /** most pixels emitted per scheduler task at `max` pace, so a long file does not block the event loop */
  chunk?: number;
  /**
   * realtime pacing waits at most this long (seconds of the file's clock, before the pace factor) between two
   * pixels; a longer gap between timestamps (t = 1e300, a paused acquisition) is skipped and reported through
   * `onPaceSkip`. Default DEFAULT_MAX_GAP_SECONDS (config `replay.maxGapSeconds`).
   */
  maxGapSeconds?: number;
  /** largest rows × cols accepted, as live ingest (`ingest.maxScanPixels`, LS_SCAN_TOO_LARGE); default: no limit */
  maxScanPixels?: number;
  /** every refused pixel or header, with the same code live ingest gives it (the replay goes on) */
  onReject?: (err: FrameError) => void;
  /** plausibility warnings, once per scan and check (docs/protocol.md §Plausibility) */
  onWarning?: (w: IngestWarning) => void;
  /** a timestamp gap longer than maxGapSeconds was skipped (seconds of the file's clock, and the seq after it) */
  onPaceSkip?: (gapSeconds: number, seq: number) => void;
  /**
   * Let the consumer slow the file down: while `pending()` (pixels emitted that the consumer has not finished with,
   * as it counts them) is `max` or more, no pixel is read; the replay looks again every BACKPRESSURE_POLL_MS. Without
   * it a `max`-pace replay reads the whole file into the consumer's queue when the consumer is slower than the disk.
   * `max` must exceed what the consumer holds back on its own (e.g. a scan's warm-up pixels), or the replay waits forever.
   */
  backpressure?: { pending: () => number; max: number };
}

/** How often (ms) a replay held back by `backpressure` looks again. */
export const BACKPRESSURE_POLL_MS = 2;

/**
 * The event stream of an opened reader. Pixel i is due at i/pxPerSec (rate), at (t_i − t_0)/factor (realtime, each
 * gap capped at maxGapSeconds), or at once (max); the reader is not closed here.
 *
 * Every event goes through the live ingest rules (protocol/scan-tracker.ts `acceptEvent`): a file is refused or a
 * pixel of it is refused with the code live ingest would give it. A refused start ends the stream with that
 * FrameError; a refused pixel is reported to `onReject` and as a `refused` event (counted in pixels_rejected), and
 * the replay goes on. Seq gaps become `gap` events there too.
 */
export function replayReader(reader: ScanFileReader, opts: ReplayOptions): Observable<ScanEvent> {
  const scheduler = opts.scheduler ?? asyncScheduler;
  const chunk = opts.chunk ?? 512;
  const scanId = opts.scanId ?? reader.start.scanId;
  const maxGap = opts.maxGapSeconds ?? DEFAULT_MAX_GAP_SECONDS;
  const { pace } = opts;
  return new Observable<ScanEvent>((subscriber) => {
    const tracker = new ScanTracker({ pendingLimit: 0, ...(opts.maxScanPixels ? { maxScanPixels: opts.maxScanPixels } : {}) });
    let lastSeq = -1;
    /** feed one event through the live rules; false when the stream ended (a refused start) */
    const feed = (ev: ScanEvent): boolean => {
      const { events, rejects, warnings } = tracker.acceptEvent(ev);
      for (const w of warnings) opts.onWarning?.(w);
      if (ev.type === 'start' && rejects.length) {
        const r = rejects[0]!;
        subscriber.error(new FrameError(r.code, `${reader.path}: ${r.message}`, r.at));
        return false;
      }
      for (const r of rejects) opts.onReject?.(r);
      for (const e of events) {
        if (e.type === 'pixel') lastSeq = Math.max(lastSeq, e.seq);
        subscriber.next(e);
      }
      return true;
    };
    if (!feed({ type: 'start', header: { ...reader.start, scanId } })) return;
    let i = 0;
    let prevT = NaN;
    let dueAt = 0;
    let lastDue = 0;
    const origin = scheduler.now();
    const dueMs = (px: { t: number; seq: number }, index: number): number => {
      if (pace.kind === 'max') return 0;
      if (pace.kind === 'rate') return (index * 1000) / pace.pxPerSec;
      // Realtime: the file's clock between consecutive pixels, each gap capped (a timestamp of 1e300 must not make
      // the replay wait forever), never backwards, and nothing for a timestamp that is not a number.
      if (Number.isFinite(px.t)) {
        if (Number.isFinite(prevT) && px.t > prevT) {
          const gap = px.t - prevT;
          if (gap > maxGap) opts.onPaceSkip?.(gap, px.seq);
          dueAt += (Math.min(gap, maxGap) * 1000) / pace.factor;
        }
        if (!Number.isFinite(prevT) || px.t > prevT) prevT = px.t;
      }
      lastDue = Math.max(lastDue, dueAt);
      return lastDue;
    };
    const finish = () => {
      const stop: StopHeader = reader.stop
        ? { ...reader.stop, scanId }
        : { type: 'stop', scanId, status: reader.layout === 'loopstream' ? 'aborted' : 'completed', pixelsSent: reader.count, lastSeq };
      feed({ type: 'stop', header: stop });
      subscriber.complete();
    };
    let pending: { px: PixelEvent; due: number } | undefined;
    const work = (action: { schedule(state?: undefined, delay?: number): unknown }) => {
      let emitted = 0;
      while (i < reader.count && !subscriber.closed) {
        // A pixel is read and its due time computed once (the pacing state advances per pixel, not per look).
        if (!pending) {
          if (opts.backpressure && opts.backpressure.pending() >= opts.backpressure.max) {
            action.schedule(undefined, BACKPRESSURE_POLL_MS);
            return;
          }
          const px = reader.pixel(i);
          pending = { px, due: dueMs(px, i) };
        }
        const now = scheduler.now() - origin;
        if (pending.due > now) {
          action.schedule(undefined, pending.due - now);
          return;
        }
        const { px } = pending;
        pending = undefined;
        feed(scanId === px.scanId ? px : { ...px, scanId });
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
