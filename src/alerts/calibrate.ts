/**
 * Calibration: encode clean scans with a bundle's model and store the reference statistics the alert scores
 * compare against (`alerts-reference.json` in the bundle). Also the small encode loop the quality evaluation
 * uses to fill ScanMaps the way the pipeline does, batch by batch.
 */
import type { PixelEvent } from '../protocol/events.ts';
import type { StartHeader } from '../protocol/messages.ts';
import { ScanMaps } from '../maps/scan-maps.ts';
import { checkBundleAgainstScan, loadBundle, type Bundle } from '../model/bundle.ts';
import { createEngine, type InferenceEngine } from '../model/runtime.ts';
import { fitScanInputState, toCanonicalInput } from '../preprocess/canonical-input.ts';
import { AlertsError } from './errors.ts';
import { referenceFromEncodings } from './scores.ts';
import { loadAlertsReference, modelSha256, saveAlertsReference } from './reference.ts';
import type { AlertsReference } from './types.ts';

/** A scan to encode: its start header and its pixels; `exclude` (rows·cols, non-zero = skip) drops known anomalies. */
export interface CalibrationScan {
  start: StartHeader;
  pixels(): Iterable<PixelEvent>;
  exclude?: Uint8Array;
}

/**
 * Encode every pixel of a scan into fresh ScanMaps in batches of `batchSize`, calling `onBatch` after each
 * `applyBatch` (as the pipeline does). Returns the filled maps.
 */
export async function encodeScanInto(
  engine: InferenceEngine,
  bundle: Bundle,
  scan: { start: StartHeader; pixels(): Iterable<PixelEvent> },
  opts: { batchSize?: number; onBatch?: (maps: ScanMaps, index: Uint32Array) => void } = {},
): Promise<ScanMaps> {
  const batchSize = opts.batchSize ?? 256;
  const maps = new ScanMaps(scan.start, engine.latentDim);
  const stride = bundle.T * bundle.C;
  const x = new Float32Array(batchSize * stride);
  const index = new Uint32Array(batchSize);
  let n = 0;
  const flush = async () => {
    if (n === 0) return;
    const out = await engine.encodeDecode(x.subarray(0, n * stride), n);
    const idx = index.slice(0, n);
    maps.applyBatch({ index: idx, mu: out.mu, logVar: out.logVar, error: out.error, version: engine.version });
    opts.onBatch?.(maps, idx);
    n = 0;
  };
  // the scan's input state is fitted on its first pixels and frozen, as the live pipeline does (canonical-input.ts)
  const warm: Float32Array[][] = [];
  for (const px of scan.pixels()) {
    warm.push(px.data);
    if (warm.length >= bundle.input.warmupPixels) break;
  }
  const state = fitScanInputState(scan.start, warm, bundle.input);
  for (const px of scan.pixels()) {
    toCanonicalInput(px.data, scan.start, state, bundle.input, x, n * stride);
    index[n++] = maps.indexOf(px.row, px.col);
    if (n === batchSize) await flush();
  }
  await flush();
  return maps;
}

/**
 * Compute the alert reference of a bundle from clean scans and write `alerts-reference.json` into it.
 * Pixels flagged in a scan's `exclude` map are left out. Returns the reference.
 */
export async function calibrateAlerts(bundleDir: string, scans: CalibrationScan[], opts: { threads?: number } = {}): Promise<AlertsReference> {
  if (scans.length === 0) throw new AlertsError('LS_ALERTS_CALIBRATION', `calibrating ${bundleDir}: no scans given; pass at least one clean scan`, bundleDir);
  const bundle = await loadBundle(bundleDir);
  // Every scan must be one the bundle reads (kind, steps, channels): say which and why before encoding anything.
  for (const scan of scans) {
    try {
      checkBundleAgainstScan(bundle, scan.start);
    } catch (err) {
      throw new AlertsError('LS_ALERTS_CALIBRATION', `calibrating ${bundleDir}: scan ${scan.start.scanId} cannot calibrate this bundle (${(err as Error).message}); calibrate on clean scans of the kind the bundle reads, e.g. \`loopstream alerts-eval --calibrate --bundle ${bundleDir} --from YOUR_SCAN.h5\``, bundleDir);
    }
  }
  const engine = await createEngine(bundle, { engine: 'onnx', provider: 'cpu', threads: opts.threads ?? 2 });
  try {
    const errors: Float32Array[] = [];
    const mus: Float32Array[] = [];
    const d = engine.latentDim;
    for (const scan of scans) {
      const maps = await encodeScanInto(engine, bundle, scan);
      let keep = 0;
      for (let i = 0; i < maps.size; i++) if (!scan.exclude?.[i]) keep++;
      const err = new Float32Array(keep);
      const mu = new Float32Array(keep * d);
      let k = 0;
      for (let i = 0; i < maps.size; i++) {
        if (scan.exclude?.[i]) continue;
        err[k] = maps.error[i];
        mu.set(maps.mu.subarray(i * d, (i + 1) * d), k * d);
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
      dim: d,
      description: `${scans.length} clean scan(s): ${scans.map((s) => s.start.scanId).join(', ')}`,
      bundleVersion: bundle.manifest.version,
    });
    const sha = await modelSha256(bundleDir);
    if (sha) ref.source.modelSha256 = sha;
    await saveAlertsReference(bundleDir, ref);
    // What calibration writes, the daemon must accept: read it back through the same schema check.
    await loadAlertsReference(bundleDir);
    return ref;
  } finally {
    await engine.close();
  }
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
