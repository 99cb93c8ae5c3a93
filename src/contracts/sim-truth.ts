/**
 * Ground truth of a simulated scan (src/sim makes it): which mechanism and which planted anomaly each pixel has.
 * Here rather than in sim/ because our own scan files carry it (src/store writes it, src/sources reads it back), and
 * those layers sit below the simulator. Plain data, no imports.
 */

/** Kinds of planted anomalous region; truth value k means ANOMALY_KINDS[k - 1]. */
export const ANOMALY_KINDS = ['imprint', 'pinched', 'noSwitching', 'noiseBurst'] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** Ground truth of a simulated scan, row-major rows*cols maps. */
export interface SimTruth {
  /** index into mechanismNames per pixel */
  mechanism: Uint8Array;
  mechanismNames: string[];
  /** 0 = none, k = anomalyNames[k - 1] */
  anomaly: Uint8Array;
  anomalyNames: string[];
  /** 0 = none, else the id of the planted region covering the pixel */
  region?: Uint16Array;
  /** 1 = dead pixel (only when src/sim SimOptions.deadFraction > 0; not stored in scan files, see the corpus manifest) */
  dead?: Uint8Array;
  regions: Array<{ id: number; kind: AnomalyKind; rowMin: number; rowMax: number; colMin: number; colMax: number; pixels: number }>;
}
