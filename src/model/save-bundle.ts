/** Write a trained VAE as a complete bundle: tfjs models, manifest.json, preprocess.json, encoder/decoder ONNX. */
import * as tf from '@tensorflow/tfjs';
import { writeFile, readFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PreprocessSpec } from '../preprocess/index.ts';
import { BUNDLE_FILES, writeBundleJson, type BundleManifest } from './bundle.ts';
import { exportOnnx } from './export-onnx.ts';
import { ONNX_OPSET } from './onnx-graph.ts';
import { loadLayersModel, saveLayersModel } from './io.ts';
import type { Vae } from './vae.ts';

/** Save everything a bundle holds into `dir`; returns the manifest written (with its onnx entry). */
export async function saveBundle(dir: string, vae: Vae, preprocess: PreprocessSpec, manifest: BundleManifest): Promise<BundleManifest> {
  await mkdir(dir, { recursive: true });
  await saveLayersModel(vae.encoder, join(dir, BUNDLE_FILES.tfjsEncoder));
  await saveLayersModel(vae.decoder, join(dir, BUNDLE_FILES.tfjsDecoder));
  const onnx = exportOnnx(vae);
  await writeFile(join(dir, BUNDLE_FILES.encoderOnnx), onnx.encoder);
  await writeFile(join(dir, BUNDLE_FILES.decoderOnnx), onnx.decoder);
  const full: BundleManifest = { ...manifest, onnx: { encoder: BUNDLE_FILES.encoderOnnx, decoder: BUNDLE_FILES.decoderOnnx, opset: ONNX_OPSET } };
  await writeBundleJson(dir, full, preprocess);
  return full;
}

/** Load the VAE (tfjs models) of a bundle folder, for fine-tuning or export. */
export async function loadVae(dir: string, dims: Vae['dims']): Promise<Vae> {
  return { dims, encoder: await loadLayersModel(join(dir, BUNDLE_FILES.tfjsEncoder)), decoder: await loadLayersModel(join(dir, BUNDLE_FILES.tfjsDecoder)) };
}

/** Training state kept in a checkpoint folder beside the weights, for `--resume`. */
export interface CheckpointState {
  nextEpoch: number;
  history: unknown[];
  seconds: number;
  samplesSeen: number;
}

/** Checkpoint: the VAE's tfjs models, Adam's state (optimizer.bin + optimizer.json) and state.json. */
export async function saveCheckpoint(dir: string, vae: Vae, optimizer: tf.Optimizer, state: CheckpointState): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveLayersModel(vae.encoder, join(dir, BUNDLE_FILES.tfjsEncoder));
  await saveLayersModel(vae.decoder, join(dir, BUNDLE_FILES.tfjsDecoder));
  const weights = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(weights);
  const bytes = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  await writeFile(join(dir, 'optimizer.bin'), new Uint8Array(bytes));
  await writeFile(join(dir, 'optimizer.json'), JSON.stringify(specs));
  await writeFile(join(dir, 'state.json'), JSON.stringify(state));
}

/** Load a checkpoint written by `saveCheckpoint`; the optimizer gets its Adam moments back. */
export async function loadCheckpoint(dir: string, dims: Vae['dims'], learningRate: number): Promise<{ vae: Vae; optimizer: tf.Optimizer; state: CheckpointState }> {
  const vae = await loadVae(dir, dims);
  const optimizer = tf.train.adam(learningRate);
  const specs = JSON.parse(await readFile(join(dir, 'optimizer.json'), 'utf8')) as tf.io.WeightsManifestEntry[];
  const b = await readFile(join(dir, 'optimizer.bin'));
  const map = tf.io.decodeWeights(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer, specs);
  if (specs.length) await optimizer.setWeights(specs.map((s) => ({ name: s.name, tensor: map[s.name]! })));
  const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  return { vae, optimizer, state };
}

/** Remove a checkpoint folder. */
export async function removeCheckpoint(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
