/**
 * Alert types shared by the engine, the sinks, the dashboard server and the results writer.
 * An alert is one connected region of anomalous pixels in one scan; its id is stable while it grows and merges.
 */
import type { Config } from '../config/schema.ts';

/** The `alerts` section of the config (src/config/schema.ts is the one place its keys and defaults live). */
export type AlertsConfig = Config['alerts'];

/** Inclusive pixel bounding box of a region. */
export interface BBox {
  rowMin: number;
  rowMax: number;
  colMin: number;
  colMax: number;
}

/** Life of an alert: opened once, updated as it grows or absorbs another, closed at scan end (or when merged away). */
export type AlertState = 'open' | 'updated' | 'closed';

/** Which score fired for the region's pixels: reconstruction error, latent distance, or pixels of both. */
export type AlertReason = 'error' | 'latent' | 'error+latent';

/** Bit flags per pixel in `AlertEngine.flags` and the results table. */
export const FLAG_ERROR = 1;
export const FLAG_LATENT = 2;

/** One anomalous region of a scan. Scores are threshold ratios: 1 = exactly at the configured threshold. */
export interface Alert {
  /** 1, 2, 3 … per scan; a merged region keeps the older (smaller) id */
  id: number;
  scanId: string;
  state: AlertState;
  bbox: BBox;
  /** pixels in the region */
  area: number;
  /** flat pixel indices (row * cols + col), ascending */
  pixels: Uint32Array;
  /** highest threshold ratio in the region */
  peakScore: number;
  /** mean threshold ratio over the region */
  meanScore: number;
  reason: AlertReason;
  /** pixels flagged by the reconstruction-error score */
  errorPixels: number;
  /** pixels flagged by the latent-distance score */
  latentPixels: number;
  /** ms since the epoch (engine clock) */
  openedAt: number;
  updatedAt: number;
  /** set when state is 'closed' */
  closedAt?: number;
  /** set when this alert was absorbed by an older one */
  mergedInto?: number;
  /** ids this alert absorbed, oldest first */
  merged: number[];
  /** events sent for this alert so far (open = 1) */
  sequence: number;
  /** optional guess at the mechanism (simulator kind names); absent when no rule applies */
  kindHint?: string;
}

/** What a sink receives: the alert as it is now, and why it was sent. */
export interface AlertEvent {
  type: AlertState;
  /** a snapshot: sinks may keep it, the engine never mutates it afterwards */
  alert: Alert;
  /** engine clock, ms since the epoch */
  at: number;
}

/** The one parameter object every sink call receives (as LiberTEM-live hooks receive one env object). */
export interface AlertDelivery {
  event: AlertEvent;
}

/**
 * A destination for alert events. `deliver` must return at once (queue internally); a throw or a rejected
 * promise is counted and logged by the engine and never stops the other sinks.
 */
export interface AlertSink {
  /** short name for logs and counters, e.g. 'zmq' */
  readonly name: string;
  deliver(params: AlertDelivery): void | Promise<void>;
  /** flush and release resources; pending work may be abandoned after `timeoutMs` */
  close?(params?: { timeoutMs?: number }): Promise<void>;
}

/** JSON form of an alert (pixels as a plain array) for the wire, JSONL and webhooks. */
export interface AlertJson extends Omit<Alert, 'pixels'> {
  pixels: number[];
}

/** JSON form of an event. */
export interface AlertEventJson {
  type: AlertState;
  alert: AlertJson;
  at: number;
}

/** The JSON form of an event, as ZeroMQ, JSONL and webhook sinks send it. */
export function alertEventToJson(event: AlertEvent): AlertEventJson {
  return { type: event.type, at: event.at, alert: { ...event.alert, pixels: Array.from(event.alert.pixels) } };
}

/** Reference statistics of the training data the scores compare against (alerts-reference.json in a bundle). */
export interface AlertsReference {
  /** file format version */
  format: 1;
  /** where the numbers came from (bundle version, scans, pixel count) */
  source: {
    bundleVersion?: string | number;
    /** sha256 of encoder.onnx + decoder.onnx the statistics were computed with; a different model makes them stale */
    modelSha256?: string;
    description: string;
    pixels: number;
    createdAt: string;
  };
  error: {
    /** median of ln(error) over the reference pixels */
    logMedian: number;
    /** median absolute deviation of ln(error) (unscaled) */
    logMad: number;
    /** quantile levels (0..1) and the error values at them, scaled units */
    quantiles: { p: number[]; value: number[] };
  };
  latent: {
    dim: number;
    /** mean of μ, length dim */
    mean: number[];
    /** covariance of μ, row-major dim × dim (before shrinkage) */
    cov: number[];
    /** shrinkage weight toward the scaled identity used when inverting `cov` */
    shrinkage: number;
    /** median and MAD of ln(Mahalanobis distance²) over the reference pixels */
    logD2Median: number;
    logD2Mad: number;
    /** k-nearest-neighbour model (latentMethod 'knn'): a sample of μ and the held-out k-th-neighbour distances */
    knn?: {
      k: number;
      /** per-dimension scale (shrunk standard deviation) the distances are measured in */
      scale: number[];
      /** dimensions whose scale was (near) zero on the calibration pixels and was raised to SCALE_FLOOR (a collapsed encoder) */
      flooredScales?: number[];
      /** sample × dim, raw μ, row-major */
      sample: number[];
      /** median and MAD of ln(k-th neighbour distance) over held-out reference pixels */
      logDkMedian: number;
      logDkMad: number;
      /** per sample point: its own k-th-neighbour distance within the sample (leave-one-out), for latentMethod 'lof' */
      kdist?: number[];
      /** median and MAD of ln(local density ratio) over held-out reference pixels */
      logLofMedian?: number;
      logLofMad?: number;
    };
  };
}
