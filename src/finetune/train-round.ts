/**
 * One fine-tuning round, as the worker runs it: load the incumbent's tfjs models, train them on the round's data
 * with a fixed β or the constrained β controller (model/train.ts, model/beta-control.ts), and write the candidate as a complete bundle (tfjs + ONNX) into `outDir`.
 * Plain async code with no worker_threads in it, so a test can run it in-process too.
 */
import { access } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/backend.ts';
import { loadBundle } from '../model/bundle.ts';
import { loadVae, saveBundle } from '../model/save-bundle.ts';
import { trainVae } from '../model/train.ts';
import { FinetuneError } from './errors.ts';
import type { FromWorker, TrainDone, TrainRequest } from './messages.ts';
import { TrainControl } from './train-control.ts';

/** Train one candidate; `post` receives progress and epoch messages. Resolves with the `trained` message. */
export async function trainRound(req: TrainRequest, post: (m: FromWorker) => void): Promise<TrainDone> {
  const t0 = performance.now();
  const backend = await initBackend(req.backend);
  const bundle = await loadBundle(req.bundleDir, { requireOnnx: false });
  try {
    await access(bundle.tfjsEncoderPath);
    await access(bundle.tfjsDecoderPath);
  } catch {
    throw new FinetuneError('LS_FINETUNE_NO_WEIGHTS', `bundle ${bundle.dir} has no tfjs weights (tfjs/encoder/model.json, tfjs/decoder/model.json); fine-tuning starts from them — use a bundle written by \`loopstream train\``);
  }
  const vae = await loadVae(bundle.dir, bundle.manifest.dims);
  const control = new TrainControl(req.control);
  control.startClock();
  let lastPost = 0;
  try {
    const result = await trainVae(vae, req.data, req.n, {
      epochs: req.epochs,
      batch: req.batch,
      learningRate: req.learningRate,
      // A fixed β: step = max = β from the first epoch on (betaAt gives min(max, 1·step)); ignored with a constraint.
      schedule: { primingEpochs: 0, step: req.beta, every: Number.MAX_SAFE_INTEGER, max: req.beta },
      ...(req.constraint ? { constraint: req.constraint } : {}),
      seed: req.seed,
      maxSeconds: req.maxSeconds,
      shouldStop: () => control.stopped,
      onBatch: (p) => {
        const now = performance.now();
        if (now - lastPost > 250 || p.batch === p.batches - 1) {
          lastPost = now;
          post({ type: 'progress', round: req.round, epoch: p.epoch, epochs: req.epochs, batch: p.batch, batches: p.batches, mse: p.mse });
        }
        control.afterBatch(); // after posting: a paused worker has told the main thread how far it got
      },
      onEpoch: (metrics) => post({ type: 'epoch', round: req.round, metrics }),
    });
    const last = result.last;
    const beta = req.constraint ? (last?.beta ?? req.constraint.state?.beta ?? req.constraint.initial) : req.beta;
    const betaState = req.constraint && last ? { beta, constraint: last.constraint ?? 1, engaged: last.constraintEngaged ?? false } : undefined;
    await saveBundle(req.outDir, vae, bundle.preprocess, { ...bundle.manifest, version: req.version, parent: bundle.manifest.version, beta, created: new Date().toISOString() });
    return {
      type: 'trained',
      round: req.round,
      outDir: req.outDir,
      history: result.history,
      epochsRun: result.epochsRun,
      samplesSeen: result.samplesSeen,
      seconds: (performance.now() - t0) / 1000,
      busySeconds: control.busySeconds,
      throttledSeconds: control.throttledSeconds,
      pausedSeconds: control.pausedSeconds,
      backend,
      cut: result.epochsRun < req.epochs,
      beta,
      ...(betaState ? { control: betaState } : {}),
    };
  } finally {
    vae.encoder.dispose();
    vae.decoder.dispose();
    tf.disposeVariables();
  }
}
