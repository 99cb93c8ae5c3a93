/** What flows through the pipeline between the source and the maps. */
import type { GapEvent, StartEvent, StopEvent } from '../protocol/events.ts';
import type { PixelItem, ScanContext } from './scan-context.ts';

// PixelItem is declared beside ScanContext (a scan holds its warm-up pixels), so the two files form no cycle.
export type { PixelItem };

/** start / gap / stop, bound to its scan; flushes the open batch and passes through in order. */
export interface ControlItem {
  kind: 'control';
  ctx: ScanContext;
  ev: StartEvent | GapEvent | StopEvent;
}

export type PipelineItem = PixelItem | ControlItem;

/** Type guard used by microBatch. */
export const isControl = (item: PipelineItem): item is ControlItem => item.kind === 'control';

/** What the pipeline reports downstream (summaries, tests, the daemon's bookkeeping). */
export type PipelineEvent =
  | { type: 'scan:start'; ctx: ScanContext }
  | { type: 'batch'; ctx: ScanContext; pixels: number; latencyMs: number }
  | { type: 'scan:end'; ctx: ScanContext };
