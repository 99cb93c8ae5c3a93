/**
 * ScanEvent: what every source emits and the pipeline consumes, whatever the transport
 * (ZeroMQ, HDF5 replay, in-process simulator). Buffers are already decoded to Float32Array.
 */
import type { StartHeader, StopHeader } from './messages.ts';

export interface StartEvent {
  type: 'start';
  header: StartHeader;
}

export interface PixelEvent {
  type: 'pixel';
  scanId: string;
  seq: number;
  row: number;
  col: number;
  /** acquisition time, s since the Unix epoch */
  t: number;
  /** one Float32Array per buffer declared in the start header, same order */
  data: Float32Array[];
}

export interface StopEvent {
  type: 'stop';
  header: StopHeader;
}

/** Pixels the source knows were sent but never arrived (a seq gap), inclusive range. */
export interface GapEvent {
  type: 'gap';
  scanId: string;
  fromSeq: number;
  toSeq: number;
}

/**
 * A pixel whose header was in order but whose data was refused (wrong buffer size or count, all NaN, outside the
 * grid): it was sent and did arrive, so it is counted as rejected (`pixels_rejected`), never as missing.
 */
export interface RefusedPixelEvent {
  type: 'refused';
  scanId: string;
  seq: number;
  code: string;
}

export type ScanEvent = StartEvent | PixelEvent | StopEvent | GapEvent | RefusedPixelEvent;
export type ScanEventType = ScanEvent['type'];
