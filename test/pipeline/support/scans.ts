/**
 * In-memory stand-ins for the daemon's scan registry and raw recorder, for unit tests of the pipeline operators and
 * graph: the real ones write HDF5 files and need a model bundle. They hold real ScanContexts with real ScanMaps and
 * write every call into one shared journal, so a test can assert the order in which the stages touched a scan.
 */
import { ScanMaps } from '../../../src/maps/scan-maps.ts';
import type { PixelEvent, ScanEvent, StartEvent } from '../../../src/protocol/events.ts';
import type { StartHeader, StopHeader } from '../../../src/protocol/messages.ts';
import type { ScanDirectory } from '../../../src/pipeline/operators/open-scans.ts';
import { newCounters, type RawRecorder, type ScanContext } from '../../../src/pipeline/scan-context.ts';
import { loopStart, loopValues } from '../../helpers/scan.ts';

/** Latent size the in-memory scans use. */
export const LATENT = 2;

/** A recorder that keeps the pixels in memory; `failWith` makes the next append throw. */
export class MemoryRecorder implements RawRecorder {
  readonly pixels: PixelEvent[] = [];
  stop?: StopHeader;
  failWith?: Error;
  constructor(private readonly journal: string[]) {}
  append(pixels: readonly PixelEvent[]): void {
    if (this.failWith) throw this.failWith;
    this.pixels.push(...pixels);
    this.journal.push(`record ${pixels.map((p) => p.seq).join(',')}`);
  }
  flush(): void {}
  writeStop(stop: StopHeader): void {
    this.stop = stop;
  }
  close(): void {}
}

/** A ScanDirectory over a Map; `open` resolves when the test says so (`hold`), or at once. */
export class MemoryScans implements ScanDirectory {
  readonly journal: string[] = [];
  readonly scans = new Map<string, ScanContext>();
  readonly orphans: ScanEvent[] = [];
  readonly refusals: Array<{ scanId: string; message: string }> = [];
  readonly recordingFailures: Array<{ scanId: string; message: string; seqs: number[] }> = [];
  /** scan ids whose allocation throws (a grid too large for memory) */
  readonly failAllocation = new Set<string>();
  /** when set, `open` waits for this promise (to test that later events wait for their start) */
  hold?: Promise<void>;

  async open(ev: StartEvent): Promise<ScanContext> {
    this.journal.push(`open ${ev.header.scanId}`);
    await this.hold;
    const ctx: ScanContext = {
      start: ev.header,
      maps: new ScanMaps(ev.header, LATENT),
      source: 'live',
      startedAt: 0,
      recorder: new MemoryRecorder(this.journal),
      resultsPath: `${ev.header.scanId}.results.h5`,
      counters: newCounters(),
      state: 'running',
      encodable: true,
      resultsRevision: -1,
    };
    this.scans.set(ev.header.scanId, ctx);
    return ctx;
  }
  get(scanId: string): ScanContext | undefined {
    return this.scans.get(scanId);
  }
  orphan(ev: ScanEvent): void {
    this.orphans.push(ev);
  }
  allocate(ctx: ScanContext): void {
    if (this.failAllocation.has(ctx.start.scanId)) throw new RangeError('Array buffer allocation failed');
    ctx.maps.allocate();
  }
  refuse(ctx: ScanContext, err: unknown): void {
    ctx.refused = { code: 'LS_SCAN_MEMORY', message: (err as Error).message };
    ctx.state = 'error';
    ctx.maps.refuse((err as Error).message);
    this.refusals.push({ scanId: ctx.start.scanId, message: (err as Error).message });
  }
  recordingFailed(ctx: ScanContext, err: unknown, pixels: readonly PixelEvent[]): void {
    this.recordingFailures.push({ scanId: ctx.start.scanId, message: (err as Error).message, seqs: pixels.map((p) => p.seq) });
    ctx.recorder = undefined;
    ctx.recordingError = { path: 'memory', errno: 'EIO', message: (err as Error).message, unrecorded: pixels.length, haltsIngest: true };
  }
}

/** Events of one hand-made raster scan (test/helpers/scan.ts loop layout). */
export function scanEvents(scanId: string, rows: number, cols: number) {
  const start: StartHeader = loopStart(scanId, rows, cols);
  return {
    start: { type: 'start', header: start } satisfies StartEvent,
    pixel: (seq: number): PixelEvent => ({ type: 'pixel', scanId, seq, row: Math.floor(seq / cols), col: seq % cols, t: seq, data: loopValues(seq).map((a) => Float32Array.from(a)) }),
    gap: (fromSeq: number, toSeq: number): ScanEvent => ({ type: 'gap', scanId, fromSeq, toSeq }),
    refused: (seq: number): ScanEvent => ({ type: 'refused', scanId, seq, code: 'LS_FRAME_SIZE' }),
    stop: (lastSeq = rows * cols - 1): ScanEvent => ({ type: 'stop', header: { type: 'stop', scanId, status: 'completed', pixelsSent: lastSeq + 1, lastSeq } }),
  };
}
