/**
 * `train-sample.bin`: a few thousand rows of a bundle's own training input, stored in the bundle folder, so that
 * fine-tuning (its reference against forgetting, model/reference-sample.ts) and the model-fit reference need no
 * training files on the machine that runs the bundle. Float32 little-endian [n][T][C] scaled model input.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FinetuneError } from './errors.ts';
import { mulberry32, partialShuffle } from '../util/prng.ts';

/** File name of the stored sample inside a bundle folder. */
export const TRAIN_SAMPLE_FILE = 'train-sample.bin';

/** Rows a freshly trained bundle keeps (the default of finetune.referencePixels). */
export const TRAIN_SAMPLE_ROWS = 2048;

/** Write `n` rows of `data` ([n][T·C]) as `train-sample.bin` into `dir`. */
export async function writeTrainSample(dir: string, data: Float32Array, n: number, stride: number): Promise<void> {
  const rows = data.subarray(0, n * stride);
  await writeFile(join(dir, TRAIN_SAMPLE_FILE), new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
}

/** Up to `rows` rows of `data` ([n][stride]) drawn without replacement by a seeded partial shuffle, in draw order. */
export function sampleRows(data: Float32Array, n: number, stride: number, rows: number, seed: number): { data: Float32Array; n: number } {
  const take = Math.min(rows, n);
  const order = partialShuffle(Uint32Array.from({ length: n }, (_, i) => i), take, mulberry32(seed ^ 0x7a3));
  const out = new Float32Array(take * stride);
  for (let k = 0; k < take; k++) out.set(data.subarray(order[k]! * stride, (order[k]! + 1) * stride), k * stride);
  return { data: out, n: take };
}

/** Read a bundle's `train-sample.bin`; undefined when it has none. Throws FinetuneError when its size is wrong. */
export async function readTrainSample(dir: string, stride: number): Promise<{ data: Float32Array; n: number } | undefined> {
  const p = join(dir, TRAIN_SAMPLE_FILE);
  if (!existsSync(p)) return undefined;
  const b = await readFile(p);
  if (b.byteLength % (stride * 4) !== 0) {
    throw new FinetuneError('LS_FINETUNE_SAMPLE', `${p} has ${b.byteLength} bytes; expected a multiple of T × C × 4 = ${stride * 4} (float32 rows of the model input)`);
  }
  const data = new Float32Array(b.byteLength / 4);
  new Uint8Array(data.buffer).set(b);
  return { data, n: data.length / stride };
}
