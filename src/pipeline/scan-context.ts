/**
 * ScanContext: everything the pipeline keeps for one running scan — its maps, its raw recording, its results
 * file and its counters. Opened on `start`, closed on `stop`; no math here.
 */
import type { ScanMaps } from '../maps/scan-maps.ts';
import type { StartHeader, StopHeader } from '../protocol/messages.ts';
import type { ScanSource } from '../server/hub.ts';

/** The raw-recording side the pipeline needs (src/store/scan-file.ts ScanRecorder satisfies it). */
export interface RawRecorder {
  append(pixels: readonly import('../protocol/events.ts').PixelEvent[]): void;
  flush(): void;
  writeStop(stop: StopHeader): void;
  close(): void;
}

export interface ScanCounters {
  /** pixels received from the source */
  received: number;
  /** pixels appended to the raw recording */
  recorded: number;
  /** pixels encoded into the maps */
  encoded: number;
  /** pixels the preprocessing refused (counted, logged; they stay recorded) */
  rejected: number;
  /** sum of reconstruction errors over encoded pixels (for the mean) */
  errorSum: number;
  /** highest seq received */
  lastSeq: number;
}

export interface ScanContext {
  readonly start: StartHeader;
  readonly maps: ScanMaps;
  readonly source: ScanSource;
  /** replayed file name, for replays */
  readonly file?: string;
  readonly startedAt: number;
  /** absent when recording is off or the scan is itself a replay of a recording */
  recorder?: RawRecorder;
  recordingPath?: string;
  resultsPath: string;
  counters: ScanCounters;
  state: 'running' | 'completed' | 'aborted' | 'error';
  stop?: StopHeader;
  /** false when the model cannot read this scan (shape mismatch): pixels are recorded, not encoded */
  encodable: boolean;
  /** why the scan is not encodable */
  notEncodableReason?: string;
  /** the scan's alerts, when alerting is wired (pipeline/wire-alerts.ts) */
  alerts?: ScanAlerts;
  /** the scaled model input of every encoded pixel [rows*cols][T*C], for pixel inspection and re-encoding */
  inputs?: Float32Array;
  /** maps revision last written to the results file */
  resultsRevision: number;
  /** set when the raw recording could not be created or written (the scan is then in state 'error') */
  recordingError?: RecordingFailure;
}

/** Why a scan's recording failed, and how many received pixels are therefore not on disk. */
export interface RecordingFailure {
  path: string;
  /** errno name of the cause (ENOSPC, EROFS, EACCES, EFBIG, EIO…) */
  errno: string;
  message: string;
  /** received pixels not recorded (still encoded into the maps) */
  unrecorded: number;
  /**
   * true for a failing disk or folder (LS_FILE_WRITE: the daemon halts ingest, nothing more can be recorded);
   * false for a fault of this one scan (a reused id, a start that cannot be stored): only this scan goes unrecorded
   */
  haltsIngest: boolean;
}

/** The alert side of a scan as the registry and the hub need it. */
export interface ScanAlerts {
  list(): readonly import('../alerts/types.ts').Alert[];
  table(): import('../store/results-file.ts').AlertTable;
  /** close every open alert (scan end) */
  finish(): void;
}

/** Fresh counters. */
export function newCounters(): ScanCounters {
  return { received: 0, recorded: 0, encoded: 0, rejected: 0, errorSum: 0, lastSeq: -1 };
}
