/**
 * Add a training reference (model/fit-check.ts `TrainingReference`) to an existing bundle: what
 * `loopstream models DIR --reference` runs, and how the shipped bundles got theirs (fixtures/models/README.md).
 * The pixels are the bundle's reference sample (model/reference-sample.ts: `train-sample.bin`, else its training
 * files re-read through the bundle's own preprocessing), encoded with the bundle's ONNX model. Newly trained bundles
 * get a reference from their validation split at training time instead (model/train-bundle.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadReferenceSample } from './reference-sample.ts';
import type { Logger } from '../util/log.ts';
import { BUNDLE_FILES, loadBundle } from './bundle.ts';
import { BundleError } from './errors.ts';
import { trainingReference, type TrainingReference } from './fit-check.ts';
import { encodeRows } from './engine.ts';
import { createEngine } from './runtime.ts';

/** Compute the training reference of the bundle in `dir` and store it in its manifest.json; returns it. */
export async function addTrainingReference(dir: string, log: Logger, opts: { maxPixels?: number; seed?: number } = {}): Promise<TrainingReference> {
  const bundle = await loadBundle(dir);
  const sample = await loadReferenceSample(bundle, { maxPixels: opts.maxPixels ?? 2048, seed: opts.seed ?? 1, log });
  if (sample.n === 0) {
    throw new BundleError('LS_BUNDLE_MISSING', `bundle ${dir}: no training pixels to compute a training reference from (${sample.description}); retrain it, or put its training files where manifest data.files says`, bundle.dir);
  }
  const engine = await createEngine(bundle, { engine: 'onnx', provider: 'cpu', threads: 2 });
  let errors: Float32Array;
  try {
    errors = (await encodeRows(engine, sample.data, sample.n)).error;
  } finally {
    await engine.close();
  }
  const ref = trainingReference(sample.data, sample.n, bundle.preprocess.channels, errors, `${sample.description} (reference sample of the training data, encoded with this bundle's ONNX model)`);
  // Rewrite manifest.json only (as read from disk: keeps every other field exactly).
  const path = join(bundle.dir, BUNDLE_FILES.manifest);
  const manifest = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  manifest.reference = ref;
  await writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return ref;
}
