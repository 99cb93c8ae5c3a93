/**
 * DashboardHub: everything the dashboard server reads from the daemon, and nothing more.
 *
 * The pipeline implements this interface; the server only ever *pulls* from it (on its own timers) or awaits
 * the two on-demand calls (`pixel`, `traverse`). The pipeline never waits on the server: hub events are plain
 * notifications that set dirty flags, so a slow or stalled browser can never slow ingest down.
 *
 * Every type here is plain data (JSON-friendly) except `MapSource`, which is the read side of `ScanMaps`.
 * The page imports these types too (through src/server/events.ts), so nothing here may import Node modules.
 */
import type { Observable } from 'rxjs';
import type { Alert } from '../alerts/types.ts';
import type { MapDelta, MapSnapshot } from '../maps/scan-maps.ts';
import type { FinetuneState } from '../contracts/finetune-state.ts';
import type { ScanRunState, ScanSource } from '../contracts/scan-state.ts';

export type { FinetuneState, ScanRunState, ScanSource };

/** One scan in the picker: live or replayed, newest first. */
export interface ScanInfo {
  /** the protocol scan id */
  id: string;
  source: ScanSource;
  /** replayed file name (relative to a replay root), for replays */
  file?: string;
  rows: number;
  cols: number;
  state: ScanRunState;
  /** ms since the epoch when the start message arrived */
  startedAt: number;
  /** pixels received so far (recorded, maybe not yet encoded) */
  received: number;
  /** pixels encoded into the maps */
  encoded: number;
  /** pixels known to be missing (sequence gaps) */
  missing: number;
  /** mean reconstruction error of the encoded pixels (model's scaled units; pipeline/scan-context.ts scanMeanError); null before the first */
  meanError: number | null;
  /** why the scan is in state 'error' (a replay that failed, a recording that could not be written); shown on the page */
  failure?: ScanFailure;
  /** whether alerting runs for this scan; when off the page shows "alerts off: <reason>" instead of an empty table */
  alerts?: AlertsStatus;
  /**
   * Does the model fit this scan (src/model/fit-check.ts): absent until the first check (after `ood.minPixels`
   * encoded pixels). `flag` true = it does not: the page shows the reasons in a banner; the maps are unreliable then.
   */
  ood?: OodStatus;
  /** physical size of one pixel (start header `pixelSize`, when the producer or file gives it): map axes in units */
  pixelSize?: PixelSize;
}

/** Why a scan failed: the error's LS_ code (or 'LS_SERVER_REPLAY' when it had none) and its message. */
export interface ScanFailure {
  code: string;
  message: string;
}

/**
 * Alerting for one scan. `enabled: false` always carries a human reason, e.g. "no alerts reference for bundle
 * fixtures/models/x (run alerts-eval --calibrate)" or "alerts are disabled in the configuration (alerts.enabled = false)"; the page shows it verbatim.
 */
export interface AlertsStatus {
  enabled: boolean;
  /** why alerts are off (required when `enabled` is false) */
  reason?: string;
  /** what the alert reference was calibrated on, when on */
  reference?: string;
}

/**
 * "The model does not fit this scan" (out of distribution), as computed by the model-fit check against the bundle's
 * training reference. Only `flag` is required; the rest is shown when present.
 */
export interface OodStatus {
  /** true = the model does not fit this scan */
  flag: boolean;
  /** scan median error ÷ training median error (null: unknown) */
  errorRatio: number | null;
  /** largest per-channel input shift in training std (null: the bundle has no input reference) */
  inputShift: number | null;
  /** one human sentence per failed check; empty when it fits */
  reasons: string[];
  /** pixels the verdict is based on */
  pixels: number;
}

/** Physical size of one pixel, e.g. { value: 20, unit: 'nm' }. */
export interface PixelSize {
  value: number;
  unit: string;
}

/**
 * The read side of `ScanMaps` (src/maps/scan-maps.ts) the server needs: a monotonic revision,
 * a full copy, and the pixels changed since a revision. `ScanMaps` satisfies it as it is.
 */
export interface MapSource {
  readonly scanId: string;
  readonly rows: number;
  readonly cols: number;
  readonly latentDim: number;
  /** bumped on every pixel change; 0 = nothing seen yet */
  readonly revision: number;
  snapshot(): MapSnapshot;
  deltaSince(fromRevision: number): MapDelta;
}

/** One input channel of a pixel with the model's reconstruction, both in physical units. */
export interface LoopChannel {
  /** 'piezoresponse' | 'resonance' (as in the bundle's preprocess.json) */
  name: string;
  /** physical unit, e.g. 'a.u.' or 'kHz' */
  unit: string;
  /** the preprocessed input loop the model saw, unscaled back to physical units; one value per voltage step */
  input: number[];
  /** the decoded reconstruction of μ, unscaled; null when the pixel is not encoded yet */
  reconstruction: number[] | null;
}

/** Everything the page shows for a clicked pixel. */
export interface PixelDetail {
  scanId: string;
  row: number;
  col: number;
  /** per-pixel state code (maps/scan-maps.ts PIXEL_*) */
  state: number;
  /**
   * DC bias per step in the SCAN's own units (`voltageUnit`), one per value of each channel's `input`: the scan's
   * start-header `dcVoltage` when the model input has one value per scan step, else the model's normalised axis
   * (fractions of its Vmax) scaled by the scan's Vmax (src/preprocess/voltage-axis.ts). Never the model's volts.
   */
  voltage: number[];
  /** unit of `voltage` (the start header's, 'V' by default) */
  voltageUnit?: string;
  channels: LoopChannel[];
  /** μ of the pixel (latentDim values); empty when not encoded */
  mu: number[];
  /** reconstruction MSE in scaled units; null when not encoded */
  error: number | null;
  /** model version that encoded the pixel; -1 when not encoded */
  version: number;
}

/** A latent traversal request: vary latent `latent` over `values`, the other latents held at `base`'s μ (or 0). */
export interface TraversalRequest {
  scanId: string;
  /** latent channel index, 0 … latentDim-1 */
  latent: number;
  /** values of that latent to decode, e.g. 9 points from −3 to 3 */
  values: number[];
  /** the pixel whose μ holds the other latents; absent = all other latents at 0 */
  base?: { row: number; col: number };
}

/** Decoded loops along one latent direction (the paper's latent "movies"). */
export interface TraversalResult {
  latent: number;
  values: number[];
  /** DC bias per step on the followed scan's own voltage axis (as PixelDetail.voltage) */
  voltage: number[];
  voltageUnit?: string;
  /** the latent vector the other channels were held at (latentDim values) */
  baseMu: number[];
  /** per channel, one decoded loop per value (physical units) */
  channels: Array<{ name: string; unit: string; curves: number[][] }>;
  /** model version that decoded */
  version: number;
}

/** The model bundle in use and the fine-tuning status. */
export interface ModelInfo {
  /** bundle version encoding new pixels */
  version: number;
  /** bundle folder or name */
  name: string;
  latentDim: number;
  /** latent channel indices ordered by KL, largest first; the first `activeCount` are the active ones */
  channelsByKl: number[];
  /** how many of `channelsByKl` the manifest calls active */
  activeCount: number;
  /** KL per latent channel from the manifest (latentDim values), nats */
  klPerLatent: number[];
  finetune: {
    state: FinetuneState;
    /** one human line, e.g. 'epoch 12/50, val MSE 0.081' or 'candidate v3 rejected: MSE 0.12 > 0.10' */
    text: string;
    /** 0 … 1 while training, else absent */
    progress?: number;
  };
}

/** Live ingest numbers, read about once a second. */
export interface LiveStats {
  /** pixels ingested per second, averaged over the last few seconds */
  ingestPxPerSec: number;
  /** pixels waiting for inference */
  queueDepth: number;
  /** seconds between a pixel's arrival in the daemon and its encoding (oldest pixel of the latest batch) */
  lagSec: number;
  /** duration of the latest inference batch, ms */
  batchLatencyMs: number;
  /** refused frames since start, by LS_… code */
  rejectedFrames: Record<string, number>;
  /** set when ingest stopped accepting because a recording could not be written (disk full, read-only…): the reason */
  ingestHalted?: string;
}

/** Notifications from the pipeline; each only marks something dirty on the server side. */
export type HubEvent =
  /** a scan started, changed state or finished (the scan list is re-read); scanId '' = every scan */
  | { type: 'scan:change'; scanId: string }
  /** an alert of the scan opened, grew or closed (the scan's alert list is re-read) */
  | { type: 'alert:change'; scanId: string }
  /** the model version or fine-tuning status changed (`model()` is re-read) */
  | { type: 'model:change' };

/** The daemon, as the dashboard server sees it. Implemented by the pipeline; see docs/dashboard.md. */
export interface DashboardHub {
  /** live and replayed scans, newest first */
  scans(): ScanInfo[];
  /** the maps of a scan (kept after the scan ends until the daemon forgets it) */
  maps(scanId: string): MapSource | undefined;
  /** a pixel's input loops and reconstruction; undefined when the scan or pixel is unknown or not received */
  pixel(scanId: string, row: number, col: number): Promise<PixelDetail | undefined>;
  /** decode loops along one latent direction with the current model */
  traverse(request: TraversalRequest): Promise<TraversalResult>;
  /** the scan's alerts, all states */
  alerts(scanId: string): readonly Alert[];
  /** the model in use and the fine-tuning status */
  model(): ModelInfo;
  /** live ingest numbers */
  stats(): LiveStats;
  /** files that may be replayed (names relative to the configured replay roots); absent = replay not offered */
  replayFiles?(): Promise<string[]>;
  /** start replaying a file by the name `replayFiles` gave (the hub confines names to its roots) → the new scan id */
  replay?(file: string): Promise<string>;
  /** the notifications, delivered synchronously as they happen (subscribers only mark things dirty) */
  readonly events$: Observable<HubEvent>;
}
