/**
 * The alert reference of a bundle: `alerts-reference.json` next to manifest.json, holding the training error
 * distribution and the embedding mean/covariance the scores compare against (types.ts `AlertsReference`).
 * Written by `calibrateAlerts` (calibrate.ts); read when a scan starts.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../util/log.ts';
import { AlertsError } from './errors.ts';
import type { AlertsReference } from './types.ts';

/** File name of the alert reference inside a bundle folder. */
export const ALERTS_REFERENCE_FILE = 'alerts-reference.json';

const finite = z.number().finite();
/** A long array of finite numbers, checked in one pass: zod's per-element schema cost ~30 ms on the 32,768-value
 *  kNN sample at every start (docs/performance.md §Start-up and whole-process replay). */
const finiteNumbers = (what: string, min = -Infinity) =>
  z.custom<number[]>((v) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= min), {
    message: `expected an array of finite numbers${min > -Infinity ? ` ≥ ${min}` : ''} (${what})`,
  });
const ReferenceSchema = z.object({
  format: z.literal(1),
  source: z.object({
    bundleVersion: z.union([z.string(), z.number()]).optional(),
    modelSha256: z.string().optional(),
    description: z.string(),
    pixels: z.number().int().positive(),
    createdAt: z.string(),
  }),
  error: z.object({
    logMedian: finite,
    logMad: finite.nonnegative(),
    quantiles: z.object({ p: z.array(finite), value: z.array(finite) }),
  }),
  latent: z
    .object({
      dim: z.number().int().positive(),
      mean: z.array(finite),
      cov: z.array(finite),
      shrinkage: finite.min(0).max(1),
      logD2Median: finite,
      logD2Mad: finite.nonnegative(),
      knn: z
        .object({
          k: z.number().int().positive(),
          scale: z.array(finite.positive()),
          flooredScales: z.array(z.number().int().nonnegative()).optional(),
          sample: finiteNumbers('the kNN sample'),
          logDkMedian: finite,
          logDkMad: finite.nonnegative(),
          kdist: finiteNumbers('k-th neighbour distances', 0).optional(),
          logLofMedian: finite.optional(),
          logLofMad: finite.nonnegative().optional(),
        })
        .optional(),
    })
    .refine((l) => l.mean.length === l.dim && l.cov.length === l.dim * l.dim, { message: 'latent.mean must have dim values and latent.cov dim² values' })
    .refine((l) => !l.knn || (l.knn.scale.length === l.dim && l.knn.sample.length % l.dim === 0 && l.knn.sample.length / l.dim >= l.knn.k), {
      message: 'latent.knn.scale must have dim values and latent.knn.sample a multiple of dim values with at least k rows',
    }),
});

/** Read and check `<bundleDir>/alerts-reference.json`. Throws AlertsError saying how to make one. */
export async function loadAlertsReference(bundleDir: string): Promise<AlertsReference> {
  const path = join(bundleDir, ALERTS_REFERENCE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new AlertsError('LS_ALERTS_REFERENCE_MISSING', `bundle ${bundleDir}: ${ALERTS_REFERENCE_FILE} is missing; run \`loopstream alerts-eval --calibrate --bundle ${bundleDir} --from CLEAN_SCAN.h5\` to compute it from your own clean scans (without --from: from simulated sho scans, for bundles that read them)`, path);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AlertsError('LS_ALERTS_REFERENCE_INVALID', `${path} is not valid JSON (${(err as Error).message})`, path);
  }
  // jitless: parsed once per daemon, so zod's generated fast parsers would cost more than they save (config/schema.ts)
  const parsed = ReferenceSchema.safeParse(json, { jitless: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AlertsError('LS_ALERTS_REFERENCE_INVALID', `${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}; expected the AlertsReference format 1 (docs/alerts.md)`, path);
  }
  const ref = parsed.data as AlertsReference;
  if (ref.source.modelSha256) {
    const now = await modelSha256(bundleDir);
    if (now !== undefined && now !== ref.source.modelSha256) {
      throw new AlertsError(
        'LS_ALERTS_REFERENCE_STALE',
        `${path} was computed for model ${ref.source.modelSha256.slice(0, 12)}…, but the bundle's encoder.onnx + decoder.onnx are now ${now.slice(0, 12)}…; run \`loopstream alerts-eval --calibrate --bundle ${bundleDir}\` again`,
        path,
      );
    }
  }
  return ref;
}

/** sha256 (hex) of the bundle's encoder.onnx followed by decoder.onnx; undefined when either is missing. */
export async function modelSha256(bundleDir: string): Promise<string | undefined> {
  const h = createHash('sha256');
  for (const name of ['encoder.onnx', 'decoder.onnx']) {
    try {
      h.update(await readFile(join(bundleDir, name)));
    } catch {
      return undefined;
    }
  }
  return h.digest('hex');
}

/**
 * The bundle's reference, or undefined (logged as a warning with its code) when it is missing or invalid: the
 * daemon then runs without alerts instead of refusing the scan.
 */
export async function tryLoadAlertsReference(bundleDir: string, log: Logger): Promise<AlertsReference | undefined> {
  try {
    return await loadAlertsReference(bundleDir);
  } catch (err) {
    if (!(err instanceof AlertsError)) throw err;
    log.warn({ code: err.code, bundle: bundleDir }, `alerts off: ${err.message}`);
    return undefined;
  }
}

/** Write the reference into the bundle folder (compact JSON, numbers to float32 precision). */
export async function saveAlertsReference(bundleDir: string, ref: AlertsReference): Promise<string> {
  const path = join(bundleDir, ALERTS_REFERENCE_FILE);
  // one line, 7 significant digits (float32 precision): the kNN sample makes the file large otherwise
  await writeFile(path, `${JSON.stringify(ref, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(7)) : v))}\n`);
  return path;
}
