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
import { loadReferenceSample } from '../finetune/reference-sample.ts';
import { descriptorOf, type InputDescriptor } from '../preprocess/canonical-input.ts';
import { createLogger } from '../util/log.ts';
import { BUNDLE_FILES, loadBundle } from './bundle.ts';

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

export async function migrateBundleInput(dir: string): Promise<InputDescriptor> {
  const bundle = await loadBundle(dir, { requireOnnx: false });
  const sample = await loadReferenceSample(bundle, { maxPixels: 4096, seed: 1, log: createLogger({ level: 'warn' }) });
  if (sample.n === 0) throw new Error(`${dir}: ${sample.description}; cannot derive the input target`);
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
