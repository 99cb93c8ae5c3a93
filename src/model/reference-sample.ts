/**
 * The reference sample: a few thousand pixels of the bundle's own training data, mixed into every round against
 * forgetting and used (its held-out part) as the gate's reference slice.
 *
 * Where it comes from, first found wins:
 *   1. `train-sample.bin` in the bundle folder — float32 little-endian [n][T][C] scaled model input (written by
 *      `writeTrainSample`; every fine-tuned version carries one, so a restart needs nothing else);
 *   2. the training files the manifest lists (`data.files`, paths relative to the working directory, checked
 *      against their sha256), re-read and preprocessed with the bundle's own preprocess.json;
 *   3. none: rounds train on recent pixels only and the gate has no reference slice (logged).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Bundle } from './bundle.ts';
import { mulberry32, partialShuffle } from '../util/prng.ts';
import { fitScanInputState, toCanonicalInput, type ScanInputState } from '../preprocess/canonical-input.ts';
import { openScanFile } from '../sources/hdf5/index.ts';
import type { Logger } from '../util/log.ts';

// The sample file is part of a bundle (written at training, read here): src/model/train-sample.ts.
export { readTrainSample, TRAIN_SAMPLE_FILE, writeTrainSample } from './train-sample.ts';
import { readTrainSample, TRAIN_SAMPLE_FILE } from './train-sample.ts';

/** A sample of training pixels, [n][T·C] scaled model input. */
export interface ReferenceSample {
  data: Float32Array;
  n: number;
  /** where it came from */
  source: 'bundle' | 'files' | 'none';
  description: string;
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Up to `maxPixels` pixels drawn (seeded) from the manifest's training files, preprocessed as the bundle does. */
async function sampleFromFiles(bundle: Bundle, maxPixels: number, seed: number, log: Logger): Promise<{ data: Float32Array; n: number; files: string[] } | undefined> {
  const files = bundle.manifest.data?.files ?? [];
  const usable: string[] = [];
  for (const f of files) {
    const p = resolve(f.path);
    if (!existsSync(p)) {
      log.info({ file: p }, 'a training file of the bundle is not here; it cannot feed the reference sample');
      continue;
    }
    if (f.sha256 && (await sha256(p)) !== f.sha256) {
      log.warn({ file: p }, 'a training file of the bundle has changed since training (sha256 differs); not used for the reference sample');
      continue;
    }
    usable.push(p);
  }
  if (usable.length === 0) return undefined;
  const stride = bundle.T * bundle.C;
  const rnd = mulberry32(seed ^ 0x2ef);
  const perFile = Math.ceil(maxPixels / usable.length);
  const out = new Float32Array(perFile * usable.length * stride);
  let n = 0;
  for (const p of usable) {
    const reader = await openScanFile(p);
    try {
      // each file's input state from its first pixels, frozen, as the pipeline reads a scan (canonical-input.ts)
      const warm = Array.from({ length: Math.min(reader.count, bundle.input.warmupPixels) }, (_, i) => reader.pixel(i).data);
      let state: ScanInputState;
      try {
        state = fitScanInputState(reader.start, warm, bundle.input);
      } catch {
        continue; // a file the model cannot read at all (no piezoresponse) feeds nothing
      }
      // A seeded random subset of rows (partial Fisher–Yates over row numbers).
      const take = Math.min(perFile, reader.count);
      const order = partialShuffle(Uint32Array.from({ length: reader.count }, (_, i) => i), take, rnd);
      for (let k = 0; k < take; k++) {
        try {
          toCanonicalInput(reader.pixel(order[k]).data, reader.start, state, bundle.input, out, n * stride);
          n++;
        } catch {
          // a pixel the preprocessing refuses is simply not sampled (the pipeline refuses it too)
        }
      }
    } finally {
      reader.close();
    }
  }
  return { data: out.subarray(0, n * stride), n, files: usable };
}

/** Find the bundle's reference sample (see the file comment for the order), at most `maxPixels` rows. */
export async function loadReferenceSample(bundle: Bundle, opts: { maxPixels: number; seed: number; log: Logger }): Promise<ReferenceSample> {
  const stride = bundle.T * bundle.C;
  const none: ReferenceSample = { data: new Float32Array(0), n: 0, source: 'none', description: 'no reference sample' };
  if (opts.maxPixels <= 0) return { ...none, description: 'reference sample off (finetune.referencePixels = 0)' };
  const stored = await readTrainSample(bundle.dir, stride);
  if (stored) {
    const n = Math.min(stored.n, opts.maxPixels);
    return { data: stored.data.subarray(0, n * stride), n, source: 'bundle', description: `${n} pixels from ${join(bundle.dir, TRAIN_SAMPLE_FILE)}` };
  }
  const fromFiles = await sampleFromFiles(bundle, opts.maxPixels, opts.seed, opts.log);
  if (fromFiles && fromFiles.n > 0) {
    return { data: fromFiles.data, n: fromFiles.n, source: 'files', description: `${fromFiles.n} pixels re-read from ${fromFiles.files.join(', ')}` };
  }
  return { ...none, description: `bundle ${bundle.dir} has no ${TRAIN_SAMPLE_FILE} and none of its training files (manifest data.files) is readable here` };
}

/** Split a sample into training rows and held-out rows (the gate's reference slice), seeded. */
export function splitReference(sample: ReferenceSample, stride: number, holdout: number, seed: number): { train: Float32Array; nTrain: number; heldOut: Float32Array; nHeldOut: number } {
  const n = sample.n;
  const nHeldOut = n === 0 ? 0 : Math.max(1, Math.round(n * holdout));
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const rnd = mulberry32(seed ^ 0x7e5);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const heldOut = new Float32Array(nHeldOut * stride);
  const train = new Float32Array((n - nHeldOut) * stride);
  for (let k = 0; k < n; k++) {
    const row = sample.data.subarray(order[k] * stride, (order[k] + 1) * stride);
    if (k < nHeldOut) heldOut.set(row, k * stride);
    else train.set(row, (k - nHeldOut) * stride);
  }
  return { train, nTrain: n - nHeldOut, heldOut, nHeldOut };
}
