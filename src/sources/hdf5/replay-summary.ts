/**
 * Counting a scan event stream into the replay summary `loopstream replay --summary-json` prints (the pipeline
 * extends it with its own fields). Works on any ScanEvent stream, live or replayed.
 */
import { Observable, tap } from 'rxjs';
import type { ScanEvent } from '../../protocol/events.ts';
import type { DataKind } from '../../protocol/messages.ts';

/** What a finished (or aborted) scan stream amounted to. */
export interface ReplaySummary {
  scanId: string;
  kind: DataKind | null;
  rows: number;
  cols: number;
  /** pixels received */
  pixels: number;
  /** pixels known missing (sum of gap events) */
  missing: number;
  gaps: number;
  /** rows*cols of the grid */
  expected: number;
  stopStatus: string | null;
  /** wall-clock seconds from subscription (or the first event) to the last event */
  seconds: number;
  pxPerSec: number;
  /** pixels and headers refused by the live ingest rules (the replay went on), and how many of each code */
  refused: number;
  refusedByCode: Record<string, number>;
}

/** Accumulates ScanEvents; `summary()` at any time. */
export class ScanEventCounter {
  private scanId = '';
  private kind: DataKind | null = null;
  private rows = 0;
  private cols = 0;
  private pixels = 0;
  private missing = 0;
  private gaps = 0;
  private stopStatus: string | null = null;
  private firstMs = NaN;
  private readonly refusals = new Map<string, number>();
  private lastMs = NaN;

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Start the clock now (e.g. at subscription) rather than at the first event. */
  markStart(): void {
    this.firstMs = this.clock();
  }

  /** Count one event. */
  observe(ev: ScanEvent): void {
    const now = this.clock();
    if (Number.isNaN(this.firstMs)) this.firstMs = now;
    this.lastMs = now;
    switch (ev.type) {
      case 'start':
        this.scanId = ev.header.scanId;
        this.kind = ev.header.kind;
        this.rows = ev.header.grid.rows;
        this.cols = ev.header.grid.cols;
        break;
      case 'pixel':
        this.pixels++;
        break;
      case 'gap':
        this.gaps++;
        this.missing += ev.toSeq - ev.fromSeq + 1;
        break;
      case 'stop':
        this.stopStatus = ev.header.status;
        break;
    }
  }

  /** Count one refusal (ReplayOptions.onReject) by its code. */
  reject(code: string): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  /** The counts so far. */
  summary(): ReplaySummary {
    const seconds = Number.isNaN(this.firstMs) ? 0 : (this.lastMs - this.firstMs) / 1000;
    return {
      scanId: this.scanId,
      kind: this.kind,
      rows: this.rows,
      cols: this.cols,
      pixels: this.pixels,
      missing: this.missing,
      gaps: this.gaps,
      expected: this.rows * this.cols,
      stopStatus: this.stopStatus,
      seconds,
      pxPerSec: seconds > 0 ? this.pixels / seconds : 0,
      refused: [...this.refusals.values()].reduce((a, b) => a + b, 0),
      refusedByCode: Object.fromEntries(this.refusals),
    };
  }
}

/** Run a stream to its end and summarise it (refusals counted by `counter.reject`, when the caller wires it). */
export function summarizeEvents(events: Observable<ScanEvent>, clock?: () => number, counter = new ScanEventCounter(clock)): Promise<ReplaySummary> {
  return new Promise((resolve, reject) => {
    counter.markStart();
    events.pipe(tap((ev) => counter.observe(ev))).subscribe({ error: reject, complete: () => resolve(counter.summary()) });
  });
}

/** Replay a file at `pace` and summarise it, with the file's layout (what `loopstream replay` prints). */
export async function summarizeReplayFile(
  path: string,
  opts: Omit<import('./index.ts').ReplayOptions, 'scheduler' | 'chunk'>,
): Promise<ReplaySummary & { file: string; layout: string }> {
  const { openScanFile, replayReader } = await import('./index.ts');
  const reader = await openScanFile(path);
  try {
    const counter = new ScanEventCounter();
    const onReject = opts.onReject;
    const summary = await summarizeEvents(replayReader(reader, { ...opts, onReject: (r) => (counter.reject(r.code), onReject?.(r)) }), undefined, counter);
    return { file: path, layout: reader.layout, ...summary };
  } finally {
    reader.close();
  }
}
