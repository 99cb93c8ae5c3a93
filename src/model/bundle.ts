/**
 * Model bundle: a folder holding everything one trained model needs (docs/model.md §Bundle layout).
 *
 *   manifest.json     version, parent, preset and dims, β, training data (files + sha256), metrics, KL per latent,
 *                     active channels, exact training command, seed
 *   preprocess.json   the PreprocessSpec (θ, cycle/field, scaler statistics, voltage axis, roll) and, under
 *                     `input`, the InputDescriptor of the canonical model input (preprocess/canonical-input.ts);
 *                     a bundle without one gets it derived from its spec (`descriptorOf`)
 *   tfjs/encoder/model.json + weights.bin, tfjs/decoder/model.json + weights.bin   tfjs layers models (training)
 *   encoder.onnx      x [N,T,C] → mu [N,L], logvar [N,L]          (inference)
 *   decoder.onnx      z [N,L] → recon [N,T,C]
 */
import { readFile, writeFile, mkdir, access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { StartHeader } from '../protocol/messages.ts';
import type { PreprocessSpec } from '../preprocess/index.ts';
import { CanonicalInputError, descriptorOf, descriptorProblems, sourcePlan, type InputDescriptor } from '../preprocess/canonical-input.ts';
import { BundleError } from './errors.ts';

/** Dimensions of a β-VAE (docs/science.md §3). */
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
  training: { command: string; seed: number; backend: string; stepEngine?: string; rollbacks?: unknown[]; epochs: number; batch: number; learningRate: number; maxMinutes?: number; schedule?: unknown };
  onnx?: { encoder: string; decoder: string; opset: number };
  /**
   * Training reference: model-input statistics and the reconstruction-error distribution on held-out training
   * pixels; what a scan is compared with to say whether the model fits it (model/fit-check.ts). Optional: older
   * bundles fall back to `metrics.valMse`; `loopstream models --reference DIR` adds one.
   */
  reference?: import('./fit-check.ts').TrainingReference;
}

/** A loaded bundle. */
export interface Bundle {
  dir: string;
  manifest: BundleManifest;
  preprocess: PreprocessSpec;
  /** the model input this bundle reads (preprocess.json `input`, or derived from the spec of an older bundle) */
  input: InputDescriptor;
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
  const preprocess = (await readJson(abs, BUNDLE_FILES.preprocess)) as PreprocessSpec & { input?: InputDescriptor };
  if (manifest?.format !== 'loopstream-bundle' || !manifest.dims) {
    throw new BundleError('LS_BUNDLE_INVALID', `bundle ${dir}: manifest.json has format ${JSON.stringify(manifest?.format)}; expected "loopstream-bundle" with dims`, abs);
  }
  const { T, C, latentDim } = manifest.dims;
  const problems: string[] = [];
  if (preprocess.T !== T) problems.push(`preprocess.json T = ${preprocess.T} but the model has T = ${T}`);
  if (preprocess.C !== C || preprocess.channels?.length !== C) problems.push(`preprocess.json has ${preprocess.channels?.length} channel(s) (C = ${preprocess.C}) but the model has C = ${C}`);
  if (preprocess.mean?.length !== C || preprocess.std?.length !== C) problems.push(`preprocess.json mean/std have ${preprocess.mean?.length}/${preprocess.std?.length} entries; expected ${C}`);
  if (preprocess.voltage?.length !== T) problems.push(`preprocess.json voltage has ${preprocess.voltage?.length} steps; expected ${T}`);
  const input = problems.length ? undefined : descriptorOf(preprocess);
  if (input) problems.push(...descriptorProblems(input, T, C).map((p) => `preprocess.json ${p}`));
  if (problems.length || !input) throw new BundleError('LS_BUNDLE_INVALID', `bundle ${dir}: ${problems.join('; ')}`, abs);
  const bundle: Bundle = {
    dir: abs,
    manifest,
    preprocess,
    input,
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
 * Check that a bundle can read a scan. Every scan with a piezoresponse maps onto the bundle's canonical input
 * (preprocess/canonical-input.ts: any kind, step count, voltage range, resonance unit or none); only a scan with no
 * piezoresponse at all is refused, with BundleError LS_BUNDLE_MISMATCH saying why.
 */
export function checkBundleAgainstScan(bundle: Bundle, start: StartHeader): void {
  try {
    sourcePlan(start, bundle.input);
  } catch (err) {
    if (!(err instanceof CanonicalInputError)) throw err;
    throw new BundleError('LS_BUNDLE_MISMATCH', `bundle ${bundle.dir} cannot model scan ${start.scanId}: ${err.message}`, bundle.dir);
  }
}

/** Write manifest.json and preprocess.json into `dir` (created if needed). */
export async function writeBundleJson(dir: string, manifest: BundleManifest, preprocess: PreprocessSpec): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, BUNDLE_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
  await writeFile(join(dir, BUNDLE_FILES.preprocess), JSON.stringify(preprocess, null, 2) + '\n');
}
