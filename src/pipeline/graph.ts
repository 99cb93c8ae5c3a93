/**
 * The live pipeline, read top to bottom as the data flows (docs/pipeline.md). No arithmetic here: each step is
 * a named operator in pipeline/operators/, each calling a stage's functions.
 *
 *   ScanEvents ─ openScans ─ microBatch ─ recordRaw ─ encodeBatches ─▶ PipelineEvents
 *                (bind to scan)  (size/time)  (disk first)  (onnxruntime → maps, alerts, results)
 */
import { type Observable, share } from 'rxjs';
import type { ScanEvent } from '../protocol/events.ts';
import { isControl, type ControlItem, type PipelineEvent, type PixelItem } from './items.ts';
import { encodeBatches, type BatchEncoder } from './operators/encode-batches.ts';
import { microBatch } from './operators/micro-batch.ts';
import { openScans, type ScanDirectory } from './operators/open-scans.ts';
import { recordRaw, type RecordFailureHandler } from './operators/record-raw.ts';

export interface GraphDeps {
  scans: ScanDirectory & { recordingFailed?: RecordFailureHandler };
  encoder: BatchEncoder;
  batch: { maxSize: number; maxWaitMs: number };
}

/** Wire a source of ScanEvents to the maps; subscribe to run it. */
export function encodeScans(events$: Observable<ScanEvent>, d: GraphDeps): Observable<PipelineEvent> {
  return events$.pipe(
    openScans(d.scans), //                                 start opens the scan; pixels are bound to it
    microBatch<PixelItem, ControlItem>(d.batch.maxSize, d.batch.maxWaitMs, isControl), // one inference call per batch
    recordRaw(d.scans.recordingFailed?.bind(d.scans)), //  lossless: on disk before it waits for inference
    encodeBatches(d.encoder), //                           onnxruntime → maps → alerts; control in order
    share(),
  );
}
