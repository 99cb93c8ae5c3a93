/**
 * Calibration statistics: from the maps of clean scans encoded with a bundle's model, the reference the alert
 * scores compare against (`alerts-reference.json` in the bundle). The scans are encoded by the daemon's own
 * pipeline on a replay source (app/calibrate.ts drives it): this module only checks the scans and turns their
 * maps into the reference.
 */
import type { StartHeader } from '../protocol/messages.ts';
import { PIXEL_DONE } from '../maps/scan-maps.ts';
import { checkBundleAgainstScan, type Bundle } from '../model/bundle.ts';
import { AlertsError } from './errors.ts';
import { referenceFromEncodings } from './scores.ts';
import { loadAlertsReference, modelSha256, saveAlertsReference } from './reference.ts';
import type { AlertsReference } from './types.ts';

/** One encoded clean scan: its maps (flat, rows·cols) and `exclude` (non-zero = skip: known anomalies). */
export interface CalibrationMaps {
  scanId: string;
  state: Uint8Array;
  error: Float32Array;
  mu: Float32Array;
  exclude?: Uint8Array;
}

/** Every scan must be one the bundle reads (kind, steps, channels): say which and why before encoding anything. */
export function checkCalibrationScans(bundleDir: string, bundle: Bundle, starts: readonly StartHeader[]): void {
  if (starts.length === 0) throw new AlertsError('LS_ALERTS_CALIBRATION', `calibrating ${bundleDir}: no scans given; pass at least one clean scan`, bundleDir);
  for (const start of starts) {
    try {
      checkBundleAgainstScan(bundle, start);
    } catch (err) {
      throw new AlertsError('LS_ALERTS_CALIBRATION', `calibrating ${bundleDir}: scan ${start.scanId} cannot calibrate this bundle (${(err as Error).message}); calibrate on clean scans of the kind the bundle reads, e.g. \`loopstream alerts-eval --calibrate --bundle ${bundleDir} --from YOUR_SCAN.h5\``, bundleDir);
    }
  }
}

/**
 * The alert reference of a bundle from the encoded pixels of clean scans (pixels flagged in `exclude`, and pixels
 * the pipeline did not encode, left out), written into `alerts-reference.json` and read back. Returns it.
 */
export async function writeCalibration(bundleDir: string, bundle: Bundle, scans: readonly CalibrationMaps[], dim: number): Promise<AlertsReference> {
  const errors: Float32Array[] = [];
  const mus: Float32Array[] = [];
  for (const scan of scans) {
    const use = (i: number) => scan.state[i] === PIXEL_DONE && !scan.exclude?.[i];
    let keep = 0;
    for (let i = 0; i < scan.state.length; i++) if (use(i)) keep++;
    const err = new Float32Array(keep);
    const mu = new Float32Array(keep * dim);
    let k = 0;
    for (let i = 0; i < scan.state.length; i++) {
      if (!use(i)) continue;
      err[k] = scan.error[i];
      mu.set(scan.mu.subarray(i * dim, (i + 1) * dim), k * dim);
      k++;
    }
    errors.push(err);
    mus.push(mu);
  }
  const error = concat(errors);
  const mu = concat(mus);
  if (error.length < 2) throw new AlertsError('LS_ALERTS_CALIBRATION', `calibrating ${bundleDir}: ${error.length} pixel(s) left after exclusions; calibrate on larger clean scans`, bundleDir);
  const ref = referenceFromEncodings({
    error,
    mu,
    dim,
    description: `${scans.length} clean scan(s): ${scans.map((s) => s.scanId).join(', ')}`,
    bundleVersion: bundle.manifest.version,
  });
  const sha = await modelSha256(bundleDir);
  if (sha) ref.source.modelSha256 = sha;
  await saveAlertsReference(bundleDir, ref);
  // What calibration writes, the daemon must accept: read it back through the same schema check.
  await loadAlertsReference(bundleDir);
  return ref;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
