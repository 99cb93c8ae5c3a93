import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadReferenceSample, readTrainSample, splitReference, TRAIN_SAMPLE_FILE, writeTrainSample } from '../../src/model/reference-sample.ts';
import { loadBundle, type Bundle } from '../../src/model/bundle.ts';
import { fitScanInputState, toCanonicalInput } from '../../src/preprocess/canonical-input.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { pretrainedTestBundle } from './support/small-bundle.ts';

let work: string;
let bundle: Bundle;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'loopstream-refsample-'));
  bundle = await loadBundle(await pretrainedTestBundle());
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('train-sample.bin', () => {
  test('round-trips float32 rows', async () => {
    const data = Float32Array.from({ length: 3 * 4 }, (_, i) => i * 0.5 - 1);
    await writeTrainSample(work, data, 3, 4);
    const back = await readTrainSample(work, 4);
    expect(back!.n).toBe(3);
    expect([...back!.data]).toEqual([...data]);
  });

  test('a file whose size is not whole rows is refused with the numbers', async () => {
    const d = mkdtempSync(join(work, 'bad-'));
    writeFileSync(join(d, TRAIN_SAMPLE_FILE), new Uint8Array(10));
    await expect(readTrainSample(d, 4)).rejects.toMatchObject({
      name: 'FinetuneError',
      code: 'LS_FINETUNE_SAMPLE',
      message: `${join(d, TRAIN_SAMPLE_FILE)} has 10 bytes; expected a multiple of T × C × 4 = 16 (float32 rows of the model input)`,
    });
  });
});

describe('loadReferenceSample', () => {
  test('prefers the bundle\'s train-sample.bin', async () => {
    const s = await loadReferenceSample(bundle, { maxPixels: 100, seed: 1, log: silentLogger });
    expect(s.source).toBe('bundle');
    expect(s.n).toBe(100);
  });

  test('without it, re-reads the manifest\'s training files and preprocesses them exactly as the pipeline does', async () => {
    const copy = join(work, 'no-sample');
    cpSync(bundle.dir, copy, { recursive: true });
    rmSync(join(copy, TRAIN_SAMPLE_FILE));
    const b = await loadBundle(copy);
    const s = await loadReferenceSample(b, { maxPixels: 40, seed: 3, log: silentLogger });
    expect(s.source).toBe('files');
    expect(s.n).toBe(40);
    // every sampled row is the model input of some pixel of the training file, and no pixel is drawn twice
    const reader = await openScanFile(b.manifest.data.files[0]!.path);
    const stride = b.T * b.C;
    const all = new Float32Array(reader.count * stride);
    // the pipeline's way: the file's input state fitted on its first pixels, frozen, then every pixel converted
    const state = fitScanInputState(reader.start, Array.from({ length: Math.min(reader.count, b.input.warmupPixels) }, (_, i) => reader.pixel(i).data), b.input);
    for (let i = 0; i < reader.count; i++) toCanonicalInput(reader.pixel(i).data, reader.start, state, b.input, all, i * stride);
    reader.close();
    const found = new Set<number>();
    for (let k = 0; k < s.n; k++) {
      const row = s.data.subarray(k * stride, (k + 1) * stride);
      const i = [...Array(all.length / stride).keys()].find((p) => all.subarray(p * stride, (p + 1) * stride).every((v, j) => v === row[j]));
      expect(i).toBeDefined();
      found.add(i!);
    }
    expect(found.size).toBe(40);
  });

  test('with neither, says so and returns no rows', async () => {
    const copy = join(work, 'nothing');
    cpSync(bundle.dir, copy, { recursive: true });
    rmSync(join(copy, TRAIN_SAMPLE_FILE));
    const b = await loadBundle(copy);
    b.manifest.data.files = [{ path: join(work, 'gone.h5'), sha256: 'x' }];
    const s = await loadReferenceSample(b, { maxPixels: 40, seed: 3, log: silentLogger });
    expect(s).toMatchObject({ source: 'none', n: 0, description: `bundle ${copy} has no ${TRAIN_SAMPLE_FILE} and none of its training files (manifest data.files) is readable here` });
  });
});

test('splitReference holds out the asked share, disjoint from training rows, the same way every time', () => {
  const stride = 2;
  const n = 20;
  const data = Float32Array.from({ length: n * stride }, (_, i) => Math.floor(i / stride));
  const a = splitReference({ data, n, source: 'bundle', description: '' }, stride, 0.25, 9);
  const b = splitReference({ data, n, source: 'bundle', description: '' }, stride, 0.25, 9);
  expect(a.nHeldOut).toBe(5);
  expect(a.nTrain).toBe(15);
  const held = Array.from({ length: a.nHeldOut }, (_, k) => a.heldOut[k * stride]);
  const train = Array.from({ length: a.nTrain }, (_, k) => a.train[k * stride]);
  expect([...held, ...train].sort((x, y) => x - y)).toEqual([...Array(n).keys()]);
  expect([...b.heldOut]).toEqual([...a.heldOut]);
});
