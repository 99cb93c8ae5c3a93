/**
 * Give an older bundle (trained on one global z-score, before the canonical input existed) an explicit input
 * descriptor in its preprocess.json (`input`, preprocess/canonical-input.ts): the one `descriptorOf` derives —
 * normalisation 'trained' with its training mean/std, its own voltage axis as fractions of Vmax, θ per scan, no
 * Hampel step (it was trained without one). Written out so the file says what the bundle reads.
 *
 *   npx tsx src/model/migrate-input.ts fixtures/models/edge-sim [more bundle folders]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { descriptorOf, type InputDescriptor } from '../preprocess/canonical-input.ts';
import type { PreprocessSpec } from '../preprocess/index.ts';
import { BUNDLE_FILES } from './bundle.ts';

export async function migrateBundleInput(dir: string): Promise<InputDescriptor> {
  const path = join(dir, BUNDLE_FILES.preprocess);
  const spec = JSON.parse(await readFile(path, 'utf8')) as PreprocessSpec & { input?: InputDescriptor };
  const input = descriptorOf({ ...spec, input: undefined });
  await writeFile(path, JSON.stringify({ ...spec, input }, null, 2) + '\n');
  console.log(`${dir}: input = ${input.normalisation} normalisation, T = ${input.T}, channels [${input.channels.join(', ')}]`);
  return input;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const dir of process.argv.slice(2)) await migrateBundleInput(dir);
}
