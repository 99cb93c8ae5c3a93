/**
 * TrainWorkerClient with the real worker thread: a round's answers become one promise, pause/cancel reach the
 * worker between batches, and failures (a bad bundle, a worker that dies mid-round) reject with a coded error; a
 * dead worker is replaced at the next round.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import type { TrainEpoch, TrainProgress, TrainRequest } from '../../src/finetune/messages.ts';
import { TrainControl } from '../../src/finetune/train-control.ts';
import { TrainWorkerClient } from '../../src/finetune/worker-client.ts';
import { readTrainSample } from '../../src/model/reference-sample.ts';
import { loadBundle } from '../../src/model/bundle.ts';
import { silentLogger } from '../../src/util/log.ts';
import { pretrainedTestBundle } from './support/small-bundle.ts';

let work: string;
let bundleDir: string;
let client: TrainWorkerClient;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'loopstream-ftclient-'));
  bundleDir = await pretrainedTestBundle();
}, 600_000);
afterEach(async () => {
  await client?.close();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function request(outDir: string, epochs: number, dir = bundleDir, round = 1): Promise<TrainRequest> {
  const b = await loadBundle(dir, { requireOnnx: false });
  const sample = (await readTrainSample(bundleDir, b.T * b.C))!;
  return { type: 'train', round, bundleDir: dir, outDir, version: 2, data: sample.data, n: 64, epochs, batch: 16, learningRate: 1e-3, beta: b.manifest.beta, seed: 1, maxSeconds: 0, backend: 'wasm', control: new TrainControl(1).buffer };
}

test('a round trains to its end: progress as it goes, one epoch message per epoch, then the trained answer', async () => {
  client = new TrainWorkerClient('wasm', silentLogger);
  client.start();
  expect(client.started).toBe(true);
  const progress: TrainProgress[] = [];
  const epochs: TrainEpoch[] = [];
  const m = await client.train(await request(join(work, 'full'), 2), { onProgress: (p) => progress.push(p), onEpoch: (e) => epochs.push(e) });
  expect(m).toMatchObject({ type: 'trained', round: 1, epochsRun: 2, samplesSeen: 128, cut: false, backend: 'wasm' });
  // progress is posted at most every 250 ms and always at an epoch's last batch (train-round.ts), in order
  const steps = progress.map((p) => p.epoch * p.batches + p.batch);
  expect(steps).toEqual([...steps].sort((a, b) => a - b));
  expect(progress.every((p) => p.round === 1 && p.batches === 4 && p.epochs === 2)).toBe(true);
  expect(progress.filter((p) => p.batch === 3).map((p) => p.epoch)).toEqual([0, 1]);
  expect(epochs.map((e) => e.metrics.epoch)).toEqual([0, 1]);
  expect(client.paused).toBe(false); // no round: nothing to pause
}, 120_000);

test('pause blocks the round after its batch; cancel then ends it there with the candidate written', async () => {
  client = new TrainWorkerClient('wasm', silentLogger);
  const req = await request(join(work, 'cancelled'), 5);
  const answer = client.train(req, {
    // stop only once the worker is really blocked by the pause (it reports progress just before it blocks)
    onProgress: () => {
      const stopWhenWaiting = (): void => void (client.waiting ? client.cancel() : setTimeout(stopWhenWaiting, 5));
      stopWhenWaiting();
    },
  });
  client.pause();
  expect(client.paused).toBe(true);
  const m = await answer;
  expect(m).toMatchObject({ type: 'trained', cut: true, epochsRun: 1, samplesSeen: 16 });
  expect(m.pausedSeconds).toBeGreaterThan(0);
  expect(client.waiting).toBe(false); // the round is over: the client holds no control
  expect((await loadBundle(join(work, 'cancelled'))).manifest.version).toBe(2);
}, 120_000);

test('a bundle without tfjs weights rejects with LS_FINETUNE_NO_WEIGHTS; the worker stays for the next round', async () => {
  const dir = join(work, 'onnx-only');
  cpSync(bundleDir, dir, { recursive: true });
  rmSync(join(dir, 'tfjs'), { recursive: true });
  client = new TrainWorkerClient('wasm', silentLogger);
  await expect(client.train(await request(join(work, 'never'), 1, dir))).rejects.toMatchObject({ code: 'LS_FINETUNE_NO_WEIGHTS', message: expect.stringContaining(`bundle ${dir} has no tfjs weights`) });
  expect(client.started).toBe(true);
  const m = await client.train(await request(join(work, 'after-failure'), 1, bundleDir, 2));
  expect(m).toMatchObject({ type: 'trained', round: 2, epochsRun: 1 });
}, 120_000);

test('a worker that dies mid-round rejects with LS_FINETUNE_WORKER, and the next round starts a new one', async () => {
  client = new TrainWorkerClient('wasm', silentLogger);
  const worker = client.start();
  const answer = client.train(await request(join(work, 'killed'), 50), { onProgress: () => void worker.terminate() });
  await expect(answer).rejects.toMatchObject({ code: 'LS_FINETUNE_WORKER', message: 'the fine-tuning worker exited (code 1) during round 1' });
  expect(client.started).toBe(false);
  const next = client.start();
  expect(next).not.toBe(worker);
  const m = await client.train(await request(join(work, 'new-worker'), 1, bundleDir, 2));
  expect(m).toMatchObject({ type: 'trained', round: 2 });
}, 120_000);
