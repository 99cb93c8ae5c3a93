/**
 * Give an older bundle (trained on one global z-score, before the canonical input existed) an explicit input
 * descriptor in its preprocess.json (`input`, preprocess/canonical-input.ts): per-scan robust scaling, mapped onto
 * the z-units the model was trained in. The target centre and scale are the median and 1.4826·MAD of each channel
 * over the bundle's training inputs (its train-sample.bin, or its training files re-read), so a scan like the
 * training data gets the same inputs it was trained on, and any other scan is brought to the same robust scale.
 *
 *   npx tsx src/model/migrate-input.ts fixtures/models/edge-sim [more bundle folders]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolve } from 'node:path';
import { readTrainSample } from '../finetune/reference-sample.ts';
import { descriptorOf, type InputDescriptor } from '../preprocess/canonical-input.ts';
import { toModelInput } from '../preprocess/index.ts';
import { openScanFile } from '../sources/hdf5/index.ts';
import { BUNDLE_FILES, loadBundle, type Bundle } from './bundle.ts';

/** Median and 1.4826·MAD of channel c of [n][T][C] data. */
export function robustChannelStats(data: Float32Array, C: number): { centre: number[]; scale: number[] } {
  const centre: number[] = [];
  const scale: number[] = [];
  for (let c = 0; c < C; c++) {
    const v = Float64Array.from({ length: data.length / C }, (_, i) => data[i * C + c]!).sort();
    const med = v[v.length >> 1]!;
    const dev = v.map((x) => Math.abs(x - med)).sort();
    centre.push(med);
    scale.push(1.4826 * dev[dev.length >> 1]!);
  }
  return { centre, scale };
}

/** The bundle's training inputs in its own (global z-score) units: train-sample.bin, else its training files. */
async function trainingInputs(bundle: Bundle): Promise<{ data: Float32Array; n: number; description: string }> {
  const stride = bundle.T * bundle.C;
  const stored = await readTrainSample(bundle.dir, stride);
  if (stored) return { ...stored, description: `${stored.n} pixels of train-sample.bin` };
  const chunks: Float32Array[] = [];
  for (const f of bundle.manifest.data?.files ?? []) {
    const reader = await openScanFile(resolve(f.path));
    try {
      const x = new Float32Array(reader.count * stride);
      for (let i = 0; i < reader.count; i++) toModelInput(reader.pixel(i).data, reader.start, bundle.preprocess, x, i * stride);
      chunks.push(x);
    } finally {
      reader.close();
    }
  }
  const data = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) (data.set(c, at), (at += c.length));
  if (data.length === 0) throw new Error(`${bundle.dir}: no train-sample.bin and no training files; cannot derive the input target`);
  return { data, n: data.length / stride, description: `${data.length / stride} pixels of its training files` };
}

export async function migrateBundleInput(dir: string): Promise<InputDescriptor> {
  const bundle = await loadBundle(dir, { requireOnnx: false });
  const sample = await trainingInputs(bundle);
  const input: InputDescriptor = { ...descriptorOf({ ...bundle.preprocess, input: undefined }), target: robustChannelStats(sample.data, bundle.C) };
  const path = join(bundle.dir, BUNDLE_FILES.preprocess);
  const spec = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  spec.input = input;
  await writeFile(path, JSON.stringify(spec, null, 2) + '\n');
  console.log(`${dir}: input = ${input.normalisation} normalisation, target ${JSON.stringify(input.target)} from ${sample.description}`);
  return input;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const dir of process.argv.slice(2)) await migrateBundleInput(dir);
}
