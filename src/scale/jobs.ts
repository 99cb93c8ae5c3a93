/**
 * Reprocessing jobs: one per scan file, named by what it computes — the file's sha256 and the bundle's content
 * hash — so enqueueing the same file with the same bundle again finds the job already there (BullMQ refuses a
 * second job with an existing id): re-running `loopstream reprocess` never duplicates work.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BUNDLE_FILES } from '../model/bundle.ts';

/** What a worker needs to run one job (paths absolute: workers share the filesystem). */
export interface ReprocessJobData {
  file: string;
  /** sha256 of the file when it was queued; a worker refuses a file that changed since (LS_SCALE_FILE_CHANGED) */
  sha256: string;
  bundle: string;
  /** content hash of the bundle (bundleKey) */
  bundleKey: string;
  /** folder the results file is renamed into */
  resultsDir: string;
  /** results file name, without folder */
  resultsName: string;
  /** a merge job (src/scale/ranges.ts): the pixel ranges its child jobs encode, with their job ids */
  ranges?: Array<{ from: number; to: number; id: string }>;
  /** a range job: the flat-index pixel range it encodes */
  range?: { from: number; to: number };
  /** a range job: the id of its merge job (whose `.jobs/<id>/parts/` folder takes its part file) */
  flow?: string;
}

/** What a finished job returns (stored by BullMQ as the job's return value). */
export interface ReprocessJobResult {
  file: string;
  results: string;
  scanId: string;
  pixels: number;
  encoded: number;
  missing: number;
  meanError: number | null;
  modelVersion: number;
  seconds: number;
  /** pixel-range jobs the scan was split into (absent: one job) */
  ranges?: number;
  /** a split scan the merge had to replay whole, and why (a refused, missing or repeated pixel) */
  replayedWhole?: string;
}

/** sha256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Content hash of a model bundle: its manifest, preprocessing spec and ONNX graphs. Two bundles with equal
 * manifest versions but other weights get different keys; a copied bundle keeps its key.
 */
export async function bundleKey(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of [BUNDLE_FILES.manifest, BUNDLE_FILES.preprocess, BUNDLE_FILES.encoderOnnx, BUNDLE_FILES.decoderOnnx]) {
    const p = join(dir, name);
    hash.update(`${name}\0`);
    if (existsSync(p)) hash.update(await sha256File(p));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** The job id: sha256 of the file and of the bundle (BullMQ ids must not contain ':'). */
export function reprocessJobId(fileSha: string, bundleSha: string): string {
  return `${fileSha}-${bundleSha.slice(0, 16)}`;
}

/** Results file name of a job: the input's stem, then file and bundle hashes, so neither a re-run nor another bundle overwrites another's results. */
export function resultsNameFor(file: string, fileSha: string, bundleSha: string): string {
  const stem = basename(file).replace(/\.(h5|hdf5|nsid|usid)$/i, '').replace(/[^A-Za-z0-9._-]/g, '_');
  return `${stem}.${fileSha.slice(0, 12)}-${bundleSha.slice(0, 8)}.results.h5`;
}

/** Job data for one file (hashes it). */
export async function reprocessJobFor(file: string, bundle: string, bundleSha: string, resultsDir: string): Promise<{ id: string; data: ReprocessJobData }> {
  const abs = resolve(file);
  const sha = await sha256File(abs);
  return {
    id: reprocessJobId(sha, bundleSha),
    data: { file: abs, sha256: sha, bundle: resolve(bundle), bundleKey: bundleSha, resultsDir: resolve(resultsDir), resultsName: resultsNameFor(abs, sha, bundleSha) },
  };
}
