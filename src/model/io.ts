/**
 * tfjs layers models to and from a folder (model.json + weights.bin, the tfjs layers format) without tfjs-node:
 * a save handler writes the artifacts with node:fs, and loading goes through tf.io.fromMemory.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

function weightBytes(data: tf.io.ModelArtifacts['weightData']): Uint8Array {
  if (!data) return new Uint8Array(0);
  const buf = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  return new Uint8Array(buf);
}

/** Save a layers model as `modelJsonPath` (+ weights.bin beside it). */
export async function saveLayersModel(model: tf.LayersModel, modelJsonPath: string): Promise<void> {
  const dir = dirname(modelJsonPath);
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightsManifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }];
      const json = { format: 'layers-model', generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`, convertedBy: null, modelTopology: artifacts.modelTopology, weightsManifest };
      await writeFile(join(dir, 'weights.bin'), weightBytes(artifacts.weightData));
      await writeFile(modelJsonPath, JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** Load a layers model saved by `saveLayersModel` (or by tfjs tooling with a single weights file set). */
export async function loadLayersModel(modelJsonPath: string): Promise<tf.LayersModel> {
  const dir = dirname(modelJsonPath);
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as { modelTopology: object; weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> };
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: ArrayBuffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const b = await readFile(join(dir, p));
      parts.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
    }
  }
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: tf.io.concatenateArrayBuffers(parts) }));
}
