/**
 * Every way a frame can be refused, as one coded error class (docs/errors.md gives each code a fix).
 * The message says what was wrong, where, and what was expected.
 */
import { CodedError } from '../util/coded-error.ts';

/** Closed set of reasons a frame or scan event is refused. */
export const FRAME_ERROR_CODES = [
  'LS_FRAME_PARTS',
  'LS_FRAME_TYPE',
  'LS_FRAME_JSON',
  'LS_FRAME_HEADER',
  'LS_FRAME_VERSION',
  'LS_FRAME_START_LAYOUT',
  'LS_FRAME_BUFFER_COUNT',
  'LS_FRAME_BUFFER_SIZE',
  'LS_FRAME_ALL_NONFINITE',
  'LS_FRAME_OUT_OF_GRID',
  'LS_SCAN_UNKNOWN',
  'LS_SCAN_STALE',
  'LS_SEQ_DUPLICATE',
  'LS_PENDING_OVERFLOW',
  'LS_SCAN_LIMIT',
  'LS_SCAN_TOO_LARGE',
  'LS_SCAN_REFUSED',
  // issue 12: refused at decode (scan id that names no file, start metadata too deep or too big, held pixel bytes)
  'LS_FRAME_SCAN_ID',
  'LS_FRAME_METADATA',
  'LS_PENDING_BYTES',
] as const;
export type FrameErrorCode = (typeof FRAME_ERROR_CODES)[number];

/** Where in the stream a refused frame was. */
export interface ScanRef {
  scanId?: string;
  seq?: number;
}

/** A refused frame: counted by `code` and logged, never the end of a stream. */
export class FrameError extends CodedError<FrameErrorCode> {
  override readonly name = 'FrameError';
  constructor(
    code: FrameErrorCode,
    message: string,
    readonly at: ScanRef = {},
  ) {
    super(code, message);
  }
}

/** Accepted input that looks wrong (logged and counted once per scan, never refused): docs/protocol.md §Plausibility. */
export const INGEST_WARNING_CODES = ['LS_WARN_FREQUENCY_UNIT', 'LS_WARN_TIME_UNIT'] as const;
export type IngestWarningCode = (typeof INGEST_WARNING_CODES)[number];

/** A plausibility warning about an accepted scan. */
export class IngestWarning extends CodedError<IngestWarningCode> {
  override readonly name = 'IngestWarning';
  constructor(
    code: IngestWarningCode,
    message: string,
    readonly at: ScanRef = {},
  ) {
    super(code, message);
  }
}
