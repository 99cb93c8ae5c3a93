/**
 * ScanContext: everything the pipeline keeps for one running scan — its maps, its raw recording, its results
 * file and its counters. Opened on `start`, closed on `stop`; no math here.
 */
import type { ScanMaps } from '../maps/scan-maps.ts';
import type { ScanInputState } from '../preprocess/canonical-input.ts';
import type { PixelEvent } from '../protocol/events.ts';
import type { StartHeader, StopHeader } from '../protocol/messages.ts';
import type { ScanRunState, ScanSource } from '../contracts/scan-state.ts';

/** The raw-recording side the pipeline needs (src/store/scan-file.ts ScanRecorder satisfies it). */
export interface RawRecorder {
  append(pixels: readonly PixelEvent[]): void;
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
  state: ScanRunState;
  stop?: StopHeader;
  /** false when the model cannot read this scan (shape mismatch): pixels are recorded, not encoded */
  encodable: boolean;
  /** why the scan is not encodable */
  notEncodableReason?: string;
  /** the scan's alerts, when alerting is wired (app/wire-alerts.ts) */
  alerts?: ScanAlerts;
  /** the scaled model input of every encoded pixel [rows*cols][T*C], for pixel inspection and re-encoding */
  inputs?: Float32Array;
  /**
   * The scan's frozen model-input state (θ, resampling grid, normalisation; preprocess/canonical-input.ts), fitted
   * on its first pixels; undefined until then. Written to the results file.
   */
  inputState?: ScanInputState;
  /**
   * Set by a reprocessing pixel-range job (src/scale): once the input state is frozen, only pixels with a flat index in
   * [from, to) are preprocessed and encoded; the warm-up still sees every pixel, so the state is the one replay fits.
   * `skipped` counts the pixels left out (they are not waiting for the encoder: Daemon.queueDepth).
   */
  encodeRange?: { from: number; to: number; skipped: number };
  /** pixels held until the input state is fitted (at most the bundle's warmupPixels; flushed at the scan's stop) */
  warmup?: PixelItem[];
  /** per-pixel piezoresponse loop offset and half-height (physical units), coercive biases and imprint (V); NaN until encoded */
  loopStats?: LoopStats;
  /** maps revision last written to the results file */
  resultsRevision: number;
  /** maps revision of the last complete (final) results file that was written successfully; unset until one is */
  finalResultsRevision?: number;
  /** set when the scan was refused after it opened (its maps could not be allocated): state 'error', events dropped */
  refused?: { code: string; message: string };
  /** set when the raw recording could not be created or written (the scan is then in state 'error') */
  recordingError?: RecordingFailure;
  /** PCA-5 and dictionary-learning errors on the scan's own model inputs, computed when the scan ends (model/baselines.ts) */
  baselines?: import('../model/baselines.ts').ScanBaselines;
  /** does the model fit this scan: the latest check against the bundle's training reference (model/fit-check.ts) */
  ood?: import('../model/fit-check.ts').OodStatus;
  /** whether this scan is scored for alerts, and if not why (shown as "alerts off: <reason>") */
  alertsStatus?: AlertsStatus;
}

/** Alerting of one scan as the dashboard, the log and the summary report it. */
export interface AlertsStatus {
  enabled: boolean;
  /** why alerts are off (or still calibrating) for this scan; absent when enabled */
  reason?: string;
  /** when enabled by live calibration (alerts.calibrateFromScan): what the reference was computed from */
  reference?: string;
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

/**
 * A scan's mean reconstruction error over its encoded pixels (scaled units), null before the first: the one place
 * the formula lives. The counters follow the map (pipeline/encode-into-maps.ts), so it is the mean the map shows.
 */
export function scanMeanError(counters: Pick<ScanCounters, 'encoded' | 'errorSum'>): number | null {
  return counters.encoded > 0 ? counters.errorSum / counters.encoded : null;
}

/** Fresh counters. */
export function newCounters(): ScanCounters {
  return { received: 0, recorded: 0, encoded: 0, rejected: 0, errorSum: 0, lastSeq: -1 };
}

/** A received pixel, bound to its scan and its flat map index. */
export interface PixelItem {
  kind: 'pixel';
  ctx: ScanContext;
  ev: PixelEvent;
  /** row * cols + col */
  index: number;
  /** performance.now() when it entered the pipeline */
  receivedAt: number;
}

/** The per-pixel loop statistics a scan keeps, one column each (the results file's loop_* datasets). */
export const LOOP_STAT_KEYS = ['offset', 'height', 'coerciveDown', 'coerciveUp', 'imprint'] as const;
export type LoopStats = Record<(typeof LOOP_STAT_KEYS)[number], Float32Array>;

/** Loop statistics for `n` pixels (or rows), NaN until written. */
export function newLoopStats(n: number): LoopStats {
  return Object.fromEntries(LOOP_STAT_KEYS.map((k) => [k, new Float32Array(n).fill(Number.NaN)])) as LoopStats;
}

/** Copy row `from` of `src` to row `to` of `dst`, every column. */
export function copyLoopStats(src: LoopStats, from: number, dst: LoopStats, to: number): void {
  for (const k of LOOP_STAT_KEYS) dst[k][to] = src[k][from]!;
}
