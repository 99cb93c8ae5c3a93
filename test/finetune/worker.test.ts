/** The real worker thread (started as the daemon starts it): a round can be stopped, and a bad bundle fails with a code. */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import type { FromWorker, TrainDone, TrainFailed, TrainRequest } from '../../src/finetune/messages.ts';
import { startTrainWorker } from '../../src/finetune/start-train-worker.ts';
import { TrainControl } from '../../src/finetune/train-control.ts';
import { readTrainSample } from '../../src/model/reference-sample.ts';
import { loadBundle } from '../../src/model/bundle.ts';
import { pretrainedTestBundle } from './support/small-bundle.ts';

let work: string;
let bundleDir: string;
let worker: Worker | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'loopstream-ftworker-'));
  bundleDir = await pretrainedTestBundle();
}, 600_000);
afterEach(async () => {
  await worker?.terminate();
  worker = undefined;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function request(outDir: string, epochs: number, dir = bundleDir): Promise<{ req: TrainRequest; control: TrainControl }> {
  const b = await loadBundle(dir, { requireOnnx: false });
  const sample = (await readTrainSample(bundleDir, b.T * b.C))!;
  const control = new TrainControl(1);
  return { control, req: { type: 'train', round: 1, bundleDir: dir, outDir, version: 2, data: sample.data, n: 64, epochs, batch: 16, learningRate: 1e-3, beta: b.manifest.beta, seed: 1, maxSeconds: 0, backend: 'wasm', control: control.buffer } };
}

function answer(w: Worker, onProgress?: () => void): Promise<TrainDone | TrainFailed> {
  return new Promise((resolve, reject) => {
    w.on('error', reject);
    w.on('message', (m: FromWorker) => {
      if (m.type === 'progress') onProgress?.();
      if (m.type === 'trained' || m.type === 'failed') resolve(m);
    });
  });
}

test('a paused round waits after its batch, and a stop ends it there; the candidate bundle is still written', async () => {
  const out = join(work, 'stopped');
  const { req, control } = await request(out, 5);
  // Paused from the start: the worker trains one batch, reports it, and waits; the stop then ends the round there.
  control.pause();
  worker = startTrainWorker();
  // Stop only once the worker is really blocked by the pause (it reports progress just before it blocks).
  const stopWhenWaiting = (): void => void (control.waiting ? control.stop() : setTimeout(stopWhenWaiting, 5));
  const done = answer(worker, stopWhenWaiting);
  worker.postMessage(req);
  const m = (await done) as TrainDone;
  expect(m.type).toBe('trained');
  expect(m.cut).toBe(true);
  expect(m.epochsRun).toBe(1);
  expect(m.samplesSeen).toBe(16);
  expect(m.history[0]!.epoch).toBe(0);
  expect(m.pausedSeconds).toBeGreaterThan(0);
  expect(m.backend).toBe('wasm');
  const cand = await loadBundle(out);
  expect(cand.manifest.version).toBe(2);
  expect(cand.manifest.parent).toBe(1);
  expect(existsSync(join(out, 'tfjs/decoder/model.json'))).toBe(true);
});

test('a bundle without tfjs weights fails the round with LS_FINETUNE_NO_WEIGHTS', async () => {
  const dir = join(work, 'onnx-only');
  cpSync(bundleDir, dir, { recursive: true });
  rmSync(join(dir, 'tfjs'), { recursive: true });
  const { req } = await request(join(work, 'never'), 1, dir);
  worker = startTrainWorker();
  const done = answer(worker);
  worker.postMessage(req);
  expect(await done).toEqual({
    type: 'failed',
    round: 1,
    code: 'LS_FINETUNE_NO_WEIGHTS',
    message: `bundle ${dir} has no tfjs weights (tfjs/encoder/model.json, tfjs/decoder/model.json); fine-tuning starts from them — use a bundle written by \`loopstream train\``,
  });
});

test('a constrained round: β moves from its start under the constraint on the flagged pixels, and the candidate carries the final β', async () => {
  const run = async (name: string, kappa: number) => {
    const out = join(work, name);
    const { req } = await request(out, 2);
    // the first 32 of the 64 rows stand for the scan's pixels; the rest are the reference mix
    const rows = Uint8Array.from({ length: req.n }, (_, i) => (i < 32 ? 1 : 0));
    const start = 0.01;
    const w = startTrainWorker();
    try {
      const done = answer(w);
      w.postMessage({ ...req, constraint: { kappa, initial: start, min: 1e-4, max: 10, rate: 0.2, smoothing: 0.5, state: { beta: start, constraint: 0, engaged: true }, rows } } satisfies TrainRequest);
      const m = (await done) as TrainDone;
      expect(m.type).toBe('trained');
      expect((await loadBundle(out)).manifest.beta).toBe(m.beta);
      return { m, start };
    } finally {
      await w.terminate();
    }
  };
  // any reconstruction meets κ = 100: β rises every batch; none meets κ = 1e-9: β falls to its floor
  const loose = await run('loose', 100);
  expect(loose.m.beta).toBeGreaterThan(loose.start);
  expect(loose.m.control).toMatchObject({ engaged: true });
  expect(loose.m.control!.constraint).toBeLessThan(0);
  const tight = await run('tight', 1e-9);
  expect(tight.m.beta).toBeLessThan(tight.start);
  expect(tight.m.control!.constraint).toBeGreaterThan(0);
}, 600_000);
