/**
 * Model bundle: a folder holding everything one trained model needs (ARCHITECTURE.md §Model bundle).
 *
 *   manifest.json     version, parent, preset and dims, β, training data (files + sha256), metrics, KL per latent,
 *                     active channels, exact training command, seed
 *   preprocess.json   the PreprocessSpec (θ, cycle/field, scaler statistics, voltage axis, roll)
 *   tfjs/encoder/model.json + weights.bin, tfjs/decoder/model.json + weights.bin   tfjs layers models (training)
 *   encoder.onnx      x [N,T,C] → mu [N,L], logvar [N,L]          (inference)
 *   decoder.onnx      z [N,L] → recon [N,T,C]
 */
import { readFile, writeFile, mkdir, access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { StartHeader } from '../protocol/messages.ts';
import type { PreprocessSpec } from '../preprocess/index.ts';
import { BundleError } from './errors.ts';

/** Dimensions of a β-VAE (DOMAIN.md §3). */
export interface VaeDims {
  /** architecture (src/model/vae.ts): the paper's recurrent LSTM β-VAE (default when absent), an MLP or a 1-D CNN */
  arch?: 'lstm' | 'mlp' | 'conv';
  /** mlp: hidden widths of the encoder (the decoder mirrors them); conv: filters of the 3 conv layers */
  hidden?: readonly number[];
  /** LSTM units per direction (0 for mlp and conv) */
  units: number;
  /** residual blocks in encoder and decoder */
  blocks: number;
  /** latent size */
  latentDim: number;
  /** time steps */
  T: number;
  /** channels */
  C: number;
}

/** Training metrics stored in the manifest. */
export interface BundleMetrics {
  /** final training loss, MSE and KL (scaled units) */
  loss: number;
  mse: number;
  kl: number;
  /** mean per-sample MSE on held-out samples, scaled units */
  valMse?: number;
  /** KL divergence per latent channel (nats, mean over samples) */
  klPerLatent: number[];
  /** latent channels whose KL exceeds the threshold (indices) */
  activeChannels: number[];
  /** 1-based epoch whose weights the bundle holds (best held-out MSE at the final β), when validation ran */
  bestEpoch?: number;
  epochs: number;
  samples: number;
  seconds: number;
  samplesPerSec?: number;
}

/** manifest.json */
export interface BundleManifest {
  format: 'loopstream-bundle';
  formatVersion: 1;
  /** model version (1 for a pretrained bundle, +1 per fine-tuning round) */
  version: number;
  parent: number | null;
  preset: string;
  dims: VaeDims;
  beta: number;
  created: string;
  data: { description: string; files: Array<{ path: string; sha256: string; pixels?: number }>; samples: number };
  metrics: BundleMetrics;
  training: { command: string; seed: number; backend: string; epochs: number; batch: number; learningRate: number; maxMinutes?: number; schedule?: unknown };
  onnx?: { encoder: string; decoder: string; opset: number };
}

/** A loaded bundle. */
export interface Bundle {
  dir: string;
  manifest: BundleManifest;
  preprocess: PreprocessSpec;
  onnxEncoderPath: string;
  onnxDecoderPath: string;
  tfjsEncoderPath: string;
  tfjsDecoderPath: string;
  latentDim: number;
  T: number;
  C: number;
}

/** File names inside a bundle folder. */
export const BUNDLE_FILES = {
  manifest: 'manifest.json',
  preprocess: 'preprocess.json',
  encoderOnnx: 'encoder.onnx',
  decoderOnnx: 'decoder.onnx',
  tfjsEncoder: 'tfjs/encoder/model.json',
  tfjsDecoder: 'tfjs/decoder/model.json',
} as const;

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

async function readJson(dir: string, name: string): Promise<unknown> {
  const p = join(dir, name);
  let text: string;
  try {
    text = await readFile(p, 'utf8');
  } catch {
    throw new BundleError('LS_BUNDLE_MISSING', `bundle ${dir}: ${name} is missing; a bundle holds ${BUNDLE_FILES.manifest}, ${BUNDLE_FILES.preprocess}, ${BUNDLE_FILES.encoderOnnx}, ${BUNDLE_FILES.decoderOnnx} (see docs/model.md)`, dir);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BundleError('LS_BUNDLE_INVALID', `bundle ${dir}: ${name} is not valid JSON (${(err as Error).message})`, dir);
  }
}

/**
 * Load and check a bundle folder. `requireOnnx` (default true) insists on encoder.onnx/decoder.onnx; training and
 * export read bundles that only hold tfjs weights. Throws BundleError saying what is missing or wrong.
 */
export async function loadBundle(dir: string, opts: { requireOnnx?: boolean } = {}): Promise<Bundle> {
  const abs = resolve(dir);
  const manifest = (await readJson(abs, BUNDLE_FILES.manifest)) as BundleManifest;
  const preprocess = (await readJson(abs, BUNDLE_FILES.preprocess)) as PreprocessSpec;
  if (manifest?.format !== 'loopstream-bundle' || !manifest.dims) {
    throw new BundleError('LS_BUNDLE_INVALID', `bundle ${dir}: manifest.json has format ${JSON.stringify(manifest?.format)}; expected "loopstream-bundle" with dims`, abs);
  }
  const { T, C, latentDim } = manifest.dims;
  const problems: string[] = [];
  if (preprocess.T !== T) problems.push(`preprocess.json T = ${preprocess.T} but the model has T = ${T}`);
  if (preprocess.C !== C || preprocess.channels?.length !== C) problems.push(`preprocess.json has ${preprocess.channels?.length} channel(s) (C = ${preprocess.C}) but the model has C = ${C}`);
  if (preprocess.mean?.length !== C || preprocess.std?.length !== C) problems.push(`preprocess.json mean/std have ${preprocess.mean?.length}/${preprocess.std?.length} entries; expected ${C}`);
  if (preprocess.voltage?.length !== T) problems.push(`preprocess.json voltage has ${preprocess.voltage?.length} steps; expected ${T}`);
  if (problems.length) throw new BundleError('LS_BUNDLE_INVALID', `bundle ${dir}: ${problems.join('; ')}`, abs);
  const bundle: Bundle = {
    dir: abs,
    manifest,
    preprocess,
    onnxEncoderPath: join(abs, BUNDLE_FILES.encoderOnnx),
    onnxDecoderPath: join(abs, BUNDLE_FILES.decoderOnnx),
    tfjsEncoderPath: join(abs, BUNDLE_FILES.tfjsEncoder),
    tfjsDecoderPath: join(abs, BUNDLE_FILES.tfjsDecoder),
    latentDim,
    T,
    C,
  };
  if (opts.requireOnnx ?? true) {
    for (const p of [bundle.onnxEncoderPath, bundle.onnxDecoderPath]) {
      if (!(await exists(p))) {
        throw new BundleError('LS_BUNDLE_MISSING', `bundle ${dir}: ${p.slice(abs.length + 1)} is missing; run \`loopstream export ${dir}\` to write the ONNX graphs`, abs);
      }
    }
  }
  return bundle;
}

/**
 * Check that a bundle can read a scan: same data kind, same number of steps T, and the channels (C) the model
 * needs present (and, for sho, the cycle and field it selects). Throws BundleError listing every mismatch.
 */
export function checkBundleAgainstScan(bundle: Bundle, start: StartHeader): void {
  const spec = bundle.preprocess;
  const problems: string[] = [];
  const steps = start.dcVoltage.length;
  if (start.kind !== spec.kind) problems.push(`kind: the scan carries ${start.kind} data, the model reads ${spec.kind}`);
  if (steps !== bundle.T) problems.push(`steps: the scan has T = ${steps} DC steps, the model expects T = ${bundle.T}`);
  if (start.kind === 'sho' && spec.kind === 'sho') {
    if (!start.fields.includes(spec.field)) problems.push(`field: the scan has fields [${start.fields.join(', ')}], the model reads ${spec.field}-field`);
    if (spec.cycle >= start.cycles) problems.push(`cycle: the scan has ${start.cycles} cycle(s), the model reads cycle index ${spec.cycle}`);
  } else if (start.kind === 'loop' && spec.kind === 'loop') {
    const names = start.buffers.map((b) => b.name);
    const missing = spec.channels.filter((c) => !names.includes(c));
    if (missing.length) problems.push(`channels: the scan has C = ${names.length} [${names.join(', ')}], the model expects C = ${bundle.C} [${spec.channels.join(', ')}]`);
  }
  if (problems.length) {
    throw new BundleError('LS_BUNDLE_MISMATCH', `bundle ${bundle.dir} does not fit scan ${start.scanId}: ${problems.join('; ')}`, bundle.dir);
  }
}

/** Write manifest.json and preprocess.json into `dir` (created if needed). */
export async function writeBundleJson(dir: string, manifest: BundleManifest, preprocess: PreprocessSpec): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, BUNDLE_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
  await writeFile(join(dir, BUNDLE_FILES.preprocess), JSON.stringify(preprocess, null, 2) + '\n');
}
