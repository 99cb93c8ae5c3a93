/**
 * Train a bundle from scan files end to end (what `loopstream train` runs): read every pixel through
 * openScanFile, fit the preprocessing, train the VAE with checkpoints, measure, and save the bundle with ONNX.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { openScanFile } from '../sources/hdf5/index.ts';
import { fitPreprocess, type FitPreprocessOptions, type TrainingScan } from '../preprocess/fit.ts';
import { sampleRows, TRAIN_SAMPLE_ROWS, writeTrainSample } from './train-sample.ts';
import { canonicalDescriptor, fitCanonicalTraining, type Normalisation } from '../preprocess/canonical-input.ts';
import type { PreprocessSpec } from '../preprocess/index.ts';
import { initBackend, type BackendChoice } from './backend.ts';
import type { BundleManifest } from './bundle.ts';
import { trainingReference } from './fit-check.ts';
import { pcaBaselineMse, perScanBaseline } from './beta-control.ts';
import { BundleError } from './errors.ts';
import { saveBundle, saveCheckpoint, loadCheckpoint, removeCheckpoint } from './save-bundle.ts';
import { mulberry32 } from '../util/prng.ts';
import { encodeAll, klPerLatent, reconstructionErrors, stepEngineFor, trainVae, type BetaSchedule, type EpochMetrics, type Rollback, type StepEngine, type TrainOptions } from './train.ts';
import { buildVae, countParams, presetDims, type PresetName } from './vae.ts';

/** Settings of a training run (the config's `train` section plus the command's own). */
export interface TrainBundleOptions {
  files: string[];
  out: string;
  preset: PresetName;
  epochs: number;
  batch: number;
  learningRate: number;
  schedule: BetaSchedule;
  /**
   * constrained β (model/beta-control.ts) instead of `schedule`: κ = `target` × the PCA-5 MSE of the training pixels;
   * β starts at `initial`, stays in [min, max] and moves by `rate` (ln β per batch) on a moving average (`smoothing`).
   * `baseline`: `perScan` sets κ from each scan's own PCA-5 (model/beta-control.ts perScanBaseline), `pooled` from
   * one PCA-5 over all training pixels; `auto` (default) takes perScan when the pixels come from two scans or more.
   */
  constraint?: { target: number; initial: number; min: number; max: number; rate: number; smoothing: number; baseline?: 'auto' | 'pooled' | 'perScan' };
  checkpointEvery: number;
  /** and at least this many seconds since the last checkpoint (default 0): fast epochs would spend their time writing */
  checkpointSeconds?: number;
  seed: number;
  valFraction: number;
  maxMinutes: number;
  resume: boolean;
  backend?: BackendChoice;
  /** what runs the training steps, and its threads (TrainOptions.stepEngine, .threads) */
  stepEngine?: StepEngine;
  threads?: number;
  preprocess?: FitPreprocessOptions;
  /**
   * train on the canonical model input (preprocess/canonical-input.ts) instead of the reference preprocessing: files
   * of any layouts mix, each read with its own frozen state; the bundle's preprocess.json carries the descriptor
   */
  canonical?: { T: number; channels: string[]; normalisation?: Normalisation };
  /** the exact command line, recorded in the manifest */
  command: string;
  onBatch?: TrainOptions['onBatch'];
  onEpoch?: (m: EpochMetrics) => void;
}

/** sha256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Read scans for training: every pixel's buffers (copied), per file. */
export async function readTrainingScans(files: string[], sameLayout = true): Promise<TrainingScan[]> {
  const scans: TrainingScan[] = [];
  for (const f of files) {
    const reader = await openScanFile(f);
    try {
      const pixels: Float32Array[][] = [];
      for (const px of reader.pixels()) pixels.push(px.data.map((d) => Float32Array.from(d)));
      scans.push({ start: reader.start, pixels });
    } finally {
      reader.close();
    }
  }
  const first = scans[0]!.start;
  for (let i = 1; sameLayout && i < scans.length; i++) {
    const s = scans[i]!.start;
    if (s.kind !== first.kind || s.dcVoltage.length !== first.dcVoltage.length || s.buffers.length !== first.buffers.length) {
      throw new BundleError('LS_BUNDLE_MISMATCH', `training files differ in layout: ${files[0]} is ${first.kind} with T = ${first.dcVoltage.length} and ${first.buffers.length} buffers, ${files[i]} is ${s.kind} with T = ${s.dcVoltage.length} and ${s.buffers.length} buffers; train one layout per bundle`);
    }
  }
  return scans;
}

/**
 * Split sample indices into train/validation (seeded) and copy them into two tensors. With `group` (each sample's
 * scan), also each side's groups in the same order.
 */
export function splitSamples(
  data: Float32Array,
  n: number,
  stride: number,
  valFraction: number,
  seed: number,
  group?: Uint32Array,
): { train: Float32Array; nTrain: number; val: Float32Array; nVal: number; trainGroup: Uint32Array; valGroup: Uint32Array } {
  const rnd = mulberry32(seed ^ 0x5eed);
  const nVal = valFraction > 0 ? Math.max(1, Math.round(n * valFraction)) : 0;
  const isVal = new Uint8Array(n);
  let k = 0;
  while (k < nVal) {
    const i = Math.floor(rnd() * n);
    if (!isVal[i]) {
      isVal[i] = 1;
      k++;
    }
  }
  const train = new Float32Array((n - nVal) * stride);
  const val = new Float32Array(nVal * stride);
  const trainGroup = new Uint32Array(n - nVal);
  const valGroup = new Uint32Array(nVal);
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    const src = data.subarray(i * stride, (i + 1) * stride);
    const g = group ? group[i]! : 0;
    if (isVal[i]) (valGroup[b] = g), val.set(src, b++ * stride);
    else (trainGroup[a] = g), train.set(src, a++ * stride);
  }
  return { train, nTrain: n - nVal, val, nVal, trainGroup, valGroup };
}

function mean(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v;
  return a.length ? s / a.length : Number.NaN;
}

/** Train a bundle from files and write it to `opts.out`; returns the manifest. */
export async function trainBundleFromFiles(opts: TrainBundleOptions, log: Logger): Promise<BundleManifest> {
  const backend = await initBackend(opts.backend ?? 'auto');
  log.info({ backend, tfjs: tf.version.tfjs }, `tfjs backend: ${backend}${backend === 'wasm' ? ' (single-threaded; install @tensorflow/tfjs-node-gpu for CUDA)' : ''}`);
  const scans = await readTrainingScans(opts.files, !opts.canonical);
  const fitted = opts.canonical
    ? fitCanonicalTraining(scans, canonicalDescriptor(opts.canonical.T, opts.canonical.channels, opts.canonical.normalisation))
    : { ...fitPreprocess(scans, opts.preprocess), perScan: scans.map((sc) => sc.pixels.length) };
  const { spec, data, n } = fitted;
  // each sample's scan (index into opts.files): per-scan constraint targets
  const group = new Uint32Array(n);
  fitted.perScan.reduce((at, rows, s) => (group.fill(s, at, at + rows), at + rows), 0);
  log.info({ samples: n, T: spec.T, C: spec.C, channels: spec.channels, thetaRad: spec.thetaRad, mean: spec.mean, std: spec.std }, 'preprocessing fitted');
  const stride = spec.T * spec.C;
  const { train, nTrain, val, nVal, trainGroup, valGroup } = splitSamples(data, n, stride, opts.valFraction, opts.seed, group);
  const dims = presetDims(opts.preset, spec.T, spec.C);
  const ckptDir = join(opts.out, 'checkpoint');
  let vae = buildVae(dims, { seed: opts.seed });
  let optimizer: tf.Optimizer | undefined;
  let startEpoch = 0;
  let history: EpochMetrics[] = [];
  let priorSeconds = 0;
  let priorSamples = 0;
  if (opts.resume) {
    try {
      await access(join(ckptDir, 'state.json'));
      const ck = await loadCheckpoint(ckptDir, dims, opts.learningRate);
      vae = ck.vae;
      optimizer = ck.optimizer;
      startEpoch = ck.state.nextEpoch;
      history = ck.state.history as EpochMetrics[];
      priorSeconds = ck.state.seconds;
      priorSamples = ck.state.samplesSeen;
      log.info({ checkpoint: ckptDir, nextEpoch: startEpoch }, 'resuming from checkpoint');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      log.info({ checkpoint: ckptDir }, 'no checkpoint to resume from; starting fresh');
    }
  }
  log.info({ preset: opts.preset, dims, params: countParams(vae), nTrain, nVal, epochs: opts.epochs, batch: opts.batch }, 'training');
  let stepEngine = stepEngineFor(vae, opts.stepEngine);
  const threads = opts.threads ?? 1;
  log.info({ stepEngine, ...(stepEngine === 'onnxruntime' ? { threads } : { backend }) }, stepEngine === 'onnxruntime' ? `training steps on onnxruntime (one ONNX graph per step: forward, backward, Adam; ${threads} thread${threads > 1 ? 's' : ''})` : `training steps on tfjs (${backend})`);
  // Constrained β: the target is set from the training pixels' own linear baseline (PCA-5, as every summary reports).
  // The held-out epochs are judged against the same PCA on the held-out pixels (a noisy corpus's held-out rows can
  // sit well above its training rows for any model).
  // With pixels from several scans (baseline auto or perScan) each scan gets its own PCA-5 and the constraint is on the
  // error relative to it (weights per sample, beta-control.ts perScanBaseline): one fit pooled over very different
  // scans is a poor target (docs/model.md §Per-scan κ).
  type Recorded = Omit<NonNullable<TrainBundleOptions['constraint']>, 'baseline'> & { baseline: 'pooled' | 'perScan'; pca5Mse: number; pca5HeldOutMse?: number; kappa: number; pooledPca5Mse?: number; perScan?: Array<{ file: string; rows: number; pca5Mse: number; pca5HeldOutMse: number | null; weight: number; pooledFit: boolean }> };
  let constraint: Recorded | undefined;
  let weights: { train: Float32Array; val: Float32Array } | undefined;
  if (opts.constraint) {
    const scansWithRows = fitted.perScan.filter((r) => r > 0).length;
    const baseline = opts.constraint.baseline ?? 'auto';
    const perScan = baseline === 'perScan' || (baseline === 'auto' && scansWithRows >= 2);
    const { baseline: _chosen, ...settings } = opts.constraint;
    if (perScan) {
      const b = perScanBaseline({ data: train, n: nTrain, group: trainGroup }, { data: val, n: nVal, group: valGroup }, opts.files.length, stride, opts.seed);
      weights = { train: b.weights, val: b.valWeights };
      constraint = {
        ...settings,
        baseline: 'perScan',
        pca5Mse: b.scale,
        ...(nVal > 0 ? { pca5HeldOutMse: b.heldOutMse } : {}),
        kappa: opts.constraint.target * b.scale,
        pooledPca5Mse: b.pooledMse,
        perScan: opts.files.map((f, s) => ({ file: relative(process.cwd(), resolve(f)), rows: b.rows[s]!, pca5Mse: +b.pca5[s]!.toPrecision(5), pca5HeldOutMse: Number.isFinite(b.pca5HeldOut[s]!) ? +b.pca5HeldOut[s]!.toPrecision(5) : null, weight: +(b.scale / b.pca5[s]!).toPrecision(5), pooledFit: b.pooled[s]! })),
      };
      const ws = b.pca5.map((p) => b.scale / p);
      log.info({ scans: opts.files.length, pca5Scale: +b.scale.toPrecision(5), pooledPca5Mse: +b.pooledMse.toPrecision(5), pca5HeldOutMse: +b.heldOutMse.toPrecision(5), perScanPca5: [+Math.min(...b.pca5).toPrecision(3), +Math.max(...b.pca5).toPrecision(3)], weights: [+Math.min(...ws).toPrecision(3), +Math.max(...ws).toPrecision(3)], target: opts.constraint.target, kappa: +constraint.kappa.toPrecision(5) }, 'constrained β, per-scan κ: minimise KL subject to mean(MSE / its scan\'s PCA-5) ≤ ρ (weighted MSE ≤ κ)');
    } else {
      const pca = pcaBaselineMse(train, nTrain, stride, opts.seed, 5, 2000, { data: val, n: nVal });
      constraint = { ...settings, baseline: 'pooled', pca5Mse: pca.train, ...(pca.heldOut !== undefined ? { pca5HeldOutMse: pca.heldOut } : {}), kappa: opts.constraint.target * pca.train };
      log.info({ pca5Mse: +pca.train.toPrecision(5), pca5HeldOutMse: pca.heldOut !== undefined ? +pca.heldOut.toPrecision(5) : null, target: opts.constraint.target, kappa: +constraint.kappa.toPrecision(5) }, 'constrained β: minimise KL subject to MSE ≤ κ');
    }
  }
  const lastState = history[history.length - 1];

  const files = await Promise.all(opts.files.map(async (f, i) => ({ path: relative(process.cwd(), resolve(f)), sha256: await sha256File(f), pixels: scans[i]!.pixels.length })));
  /** The manifest for the current weights: KL per latent on up to `probe` training samples, validation MSE. */
  const buildManifest = (seconds: number, probe: number, best?: { epoch: number; beta: number }): BundleManifest => {
    const bestEpoch = best?.epoch;
    const last = history[history.length - 1];
    const p = Math.min(nTrain, probe);
    const { mu, logVar } = encodeAll(vae, train, p);
    const { kl, active } = klPerLatent(mu, logVar, p, dims.latentDim);
    const valErrors = nVal > 0 ? reconstructionErrors(vae, val, nVal) : undefined;
    const valMse = valErrors ? mean(valErrors) : undefined;
    // The training reference a scan is compared with (model/fit-check.ts): the validation split's inputs and errors.
    const reference = valErrors ? trainingReference(val, nVal, spec.channels, valErrors, `validation split (${nVal} of ${n} pixels)`) : undefined;
    const lastEpoch = last?.epoch ?? startEpoch - 1;
    return {
      format: 'loopstream-bundle',
      formatVersion: 1,
      version: 1,
      parent: null,
      preset: opts.preset,
      dims,
      // the β of the kept weights (fine-tuning trains on at this β)
      beta: best?.beta ?? last?.beta ?? 0,
      created: new Date().toISOString(),
      data: { description: `${opts.files.length} file(s), ${scans[0]!.start.kind} T=${spec.T} C=${spec.C} [${spec.channels.join(', ')}], ${n} pixels (${nTrain} train, ${nVal} validation)`, files, samples: n },
      metrics: {
        loss: last?.loss ?? Number.NaN,
        mse: last?.mse ?? Number.NaN,
        kl: last?.kl ?? Number.NaN,
        ...(valMse !== undefined ? { valMse } : {}),
        klPerLatent: kl,
        activeChannels: active,
        ...(bestEpoch !== undefined ? { bestEpoch: bestEpoch + 1 } : {}),
        epochs: lastEpoch + 1,
        samples: samplesSeen,
        seconds,
        samplesPerSec: samplesSeen / Math.max(seconds, 1e-9),
      },
      training: {
        command: opts.command,
        ...(opts.maxMinutes > 0 ? { maxMinutes: opts.maxMinutes } : {}),
        seed: opts.seed,
        backend,
        stepEngine,
        ...(rollbacks.length ? { rollbacks: rollbacks.map((r) => ({ ...r, epoch: r.epoch + 1, batch: r.batch + 1, restoredEpoch: r.restoredEpoch + 1 })) } : {}),
        epochs: lastEpoch + 1,
        batch: opts.batch,
        learningRate: opts.learningRate,
        schedule: {
          ...(constraint ? { mode: 'constrained', ...constraint } : { mode: 'schedule', ...opts.schedule }),
          history: history.map((h) => ({
            epoch: h.epoch,
            beta: +h.beta.toPrecision(5),
            loss: +h.loss.toPrecision(5),
            mse: +h.mse.toPrecision(5),
            kl: +h.kl.toPrecision(5),
            ...(h.valMse !== undefined ? { valMse: +h.valMse.toPrecision(5) } : {}),
            ...(h.constraint !== undefined ? { constraint: +h.constraint.toPrecision(4) } : {}),
            ...(h.valKl !== undefined ? { valKl: +h.valKl.toPrecision(4), valActive: h.valActive } : {}),
            ...(h.valWeightedMse !== undefined ? { valWeightedMse: +h.valWeightedMse.toPrecision(5) } : {}),
            seconds: +h.seconds.toFixed(1),
          })),
        },
      },
      ...(reference ? { reference } : {}),
    };
  };
  let samplesSeen = priorSamples;
  const t0 = performance.now();
  let lastCheckpoint = t0;
  const rollbacks: Rollback[] = [];
  const result = await trainVae(vae, train, nTrain, {
    stepEngine: opts.stepEngine ?? 'auto',
    threads,
    onRollback: (r) => {
      rollbacks.push(r);
      log.warn({ ...r }, `training diverged at epoch ${r.epoch + 1}, batch ${r.batch + 1} (loss ${r.loss.toPrecision(3)}): back to the state after epoch ${r.restoredEpoch + 1}, learning rate halved to ${r.learningRate.toPrecision(3)}`);
    },
    epochs: opts.epochs,
    batch: opts.batch,
    learningRate: opts.learningRate,
    schedule: opts.schedule,
    ...(constraint ? { constraint: { ...constraint, ...(weights ? { weights: weights.train } : {}), keepBelow: constraint.pca5HeldOutMse ?? constraint.pca5Mse, ...(lastState?.constraint !== undefined ? { state: { beta: lastState.beta, constraint: lastState.constraint, engaged: lastState.constraintEngaged ?? true } } : {}) } } : {}),
    seed: opts.seed,
    startEpoch,
    ...(optimizer ? { optimizer } : {}),
    maxSeconds: opts.maxMinutes > 0 ? Math.max(1, opts.maxMinutes * 60 - priorSeconds) : 0,
    // the bundle keeps the weights of the best held-out epoch at the final β, not the last epoch's
    ...(nVal > 0 ? { validation: { data: val, n: nVal, ...(weights ? { weights: weights.val } : {}) } } : {}),
    ...(opts.onBatch ? { onBatch: opts.onBatch } : {}),
    onEpoch: async (m, adamState) => {
      history.push(m);
      samplesSeen += nTrain;
      opts.onEpoch?.(m);
      const sinceCheckpoint = (performance.now() - lastCheckpoint) / 1000;
      if ((m.epoch + 1) % opts.checkpointEvery === 0 && m.epoch + 1 < opts.epochs && sinceCheckpoint >= (opts.checkpointSeconds ?? 0)) {
        lastCheckpoint = performance.now();
        const elapsed = priorSeconds + (performance.now() - t0) / 1000;
        await saveCheckpoint(ckptDir, vae, await adamState(), { nextEpoch: m.epoch + 1, history, seconds: elapsed, samplesSeen });
        // The output folder is a usable bundle from the first checkpoint on (interim metrics on a small probe).
        await saveBundle(opts.out, vae, spec as PreprocessSpec, buildManifest(elapsed, 500));
        log.info({ out: opts.out, epoch: m.epoch + 1 }, 'checkpoint and interim bundle written');
      }
    },
  });
  if (result.stepEngineFallback) log.warn({ stepEngine: result.stepEngine }, result.stepEngineFallback);
  stepEngine = result.stepEngine;
  const seconds = priorSeconds + result.seconds;
  if (result.best) log.info({ bestEpoch: result.best.epoch + 1, valMse: +result.best.valMse.toPrecision(5), beta: result.best.beta }, constraint ? 'kept the weights of the held-out epoch with the fewest active channels among those below PCA-5 on the held-out pixels or within 5 % of the lowest held-out MSE' : 'kept the weights of the best validation epoch at the final β');
  if (!constraint && (result.last?.beta ?? 0) === 0 && opts.schedule.max > 0) log.warn({ schedule: opts.schedule }, 'β stayed 0 for the whole run: this bundle is a plain autoencoder, not a β-VAE (raise --epochs or --max-minutes)');
  const manifest = buildManifest(seconds, 4000, result.best);
  const { valMse, activeChannels: active, epochs } = manifest.metrics;
  const written = await saveBundle(opts.out, vae, spec as PreprocessSpec, manifest);
  // A seeded sample of the training rows ships with the bundle (model/train-sample.ts): fine-tuning and the fit
  // reference then work wherever the bundle goes, without its training files.
  const sample = sampleRows(train, nTrain, stride, TRAIN_SAMPLE_ROWS, opts.seed);
  await writeTrainSample(opts.out, sample.data, sample.n, stride);
  await removeCheckpoint(ckptDir);
  log.info({ out: opts.out, valMse, activeChannels: active, epochs, seconds: Math.round(seconds) }, 'bundle written');
  return written;
}
