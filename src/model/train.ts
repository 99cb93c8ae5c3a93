/**
 * β-VAE training (docs/science.md §3): Adam on loss = MSE(x, x̂) + β·KL + λ·L1, λ = 1e−5·10^β, where
 * KL = −½·mean(1 + log σ² − μ² − σ²) over batch and latents and L1 = Σ|embedding activations| per sample (encoder
 * and decoder Dense(L)+ReLU layers, batch-averaged as Keras activity regularisers are). β follows a schedule: a
 * priming stage at 0, then steps of `step` every `every` epochs up to `max`, compressed into the run when the run
 * (its epochs or its time budget) is shorter than the schedule (`betaForRun`) — or, in the constrained mode
 * (`constraint`, model/beta-control.ts), is adapted after every batch so that KL is minimised subject to MSE ≤ κ.
 *
 * `trainVae` is a plain async function over a Float32Array [n][T][C], so a worker thread (fine-tuning) can call it.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32, shuffleInPlace } from '../util/prng.ts';
import { trainableVariables, type Vae } from './vae.ts';
import { decodeTrain, encodeTrain } from './forward.ts';
import { BetaController, L1_BETA_CAP, type BetaConstraint, type BetaControlState } from './beta-control.ts';
import { createOnnxTrainStep, supportsOnnxStep, type OnnxTrainStep, type StepBatch, type StepStats } from './onnx-train-step.ts';

/** β schedule: 0 for `primingEpochs`, then +`step` every `every` epochs, capped at `max`. */
export interface BetaSchedule {
  primingEpochs: number;
  step: number;
  every: number;
  max: number;
}

/** β at a given (0-based) epoch. */
export function betaAt(epoch: number, s: BetaSchedule): number {
  if (epoch < s.primingEpochs) return 0;
  const k = Math.floor((epoch - s.primingEpochs) / Math.max(1, s.every)) + 1;
  return Math.min(s.max, k * s.step);
}

/** Epochs the schedule needs to reach `max` (priming plus every step). */
export function scheduleLength(s: BetaSchedule): number {
  const steps = s.step > 0 && s.max > 0 ? Math.ceil(s.max / s.step - 1e-9) : 0;
  return s.primingEpochs + Math.max(0, steps - 1) * Math.max(1, s.every) + (steps > 0 ? 1 : 0);
}

/** Share of a run the β schedule is fitted into when the run is shorter than the schedule. */
export const SCHEDULE_SHARE = 0.6;

/**
 * β of an epoch in a run of known length: the schedule as written when the run is long enough, else compressed so
 * that it completes at SCHEDULE_SHARE of the run. `progress` (0…1) is how far the run is — the larger of
 * epoch/epochs and elapsed/maxSeconds — so a 2-epoch run, or a 2-minute run that fits 40 epochs, is still a
 * β-VAE for its last 40 % instead of a plain autoencoder primed at β = 0 (issue 15).
 */
export function betaForRun(epoch: number, progress: number, s: BetaSchedule): number {
  const e = Math.max(epoch, Math.floor((Math.min(1, Math.max(0, progress)) * scheduleLength(s)) / SCHEDULE_SHARE));
  return betaAt(e, s);
}

/** λ of the L1 activity penalty for a given β (the paper ties both to one knob). */
export function lambdaFor(beta: number): number {
  return 1e-5 * 10 ** beta;
}

/** Metrics of one epoch (means over its batches, scaled units). */
export interface EpochMetrics {
  epoch: number;
  beta: number;
  loss: number;
  /** the loss's reconstruction term (sampled z; weighted by `constraint.weights` when given) */
  mse: number;
  kl: number;
  l1: number;
  seconds: number;
  samplesPerSec: number;
  /** mean per-sample MSE through μ on the validation samples (when `validation` is given) */
  valMse?: number;
  /** constrained mode: the moving average of (MSE − κ)/κ after the epoch (`beta` is then β after the epoch) */
  constraint?: number;
  /** constrained mode: whether the controller has started moving β (the constraint was met once) */
  constraintEngaged?: boolean;
  /** constrained mode, with validation: KL per sample (sum over latents, nats) and active channels on the held-out samples */
  valKl?: number;
  valActive?: number;
  /** constrained mode with per-sample weights: the weighted held-out MSE (what the keep rule compares) */
  valWeightedMse?: number;
}

/** Progress callback payload after every batch. */
export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  mse: number;
  kl: number;
  beta: number;
}

/** What `trainVae` needs besides the model and data. */
export interface TrainOptions {
  epochs: number;
  batch: number;
  learningRate: number;
  schedule: BetaSchedule;
  seed: number;
  /** first epoch (resume); default 0 */
  startEpoch?: number;
  /** an optimizer to continue with (resume); default a fresh Adam */
  optimizer?: tf.Optimizer;
  /** stop (after the current epoch) once this many seconds have passed; 0 = no limit */
  maxSeconds?: number;
  onBatch?: (p: BatchProgress) => void;
  /** after every epoch; `adamState` gives the optimizer holding Adam's state for a checkpoint (on the ONNX step its
   *  moments are copied into it only when asked: a copy every epoch cost the short epochs of a small scan) */
  onEpoch?: (m: EpochMetrics, adamState: () => Promise<tf.Optimizer>) => void | Promise<void>;
  /** the divergence guard went back to the last good epoch (see DIVERGENCE_FACTOR) */
  onRollback?: (r: Rollback) => void;
  /** checked between batches: stop early (e.g. a fine-tuning worker asked to quit) */
  shouldStop?: () => boolean;
  /**
   * Held-out samples ([n][T][C]): their MSE through μ is measured after every epoch, and the run ends with the
   * weights of the best validation epoch among those at the final β (a higher β is a different objective, so
   * each β step starts the search afresh).
   */
  validation?: { data: Float32Array; n: number; weights?: Float32Array };
  /**
   * Constrained β (model/beta-control.ts) instead of `schedule`: β adapts after every batch so that KL is minimised
   * subject to the batch's reconstruction MSE through μ (what inference reports) ≤ κ. With validation the run ends
   * with the weights of the epoch with the fewest active held-out channels (then the lowest held-out MSE) among those
   * whose held-out MSE ≤ the larger of `keepBelow` (default κ; the training command passes the PCA-5 fit's MSE on the
   * held-out pixels: ρ is then the margin for the gap between training and held-out pixels) and KEEP_TOLERANCE × the
   * lowest held-out MSE so far. `state` resumes the controller. `rows` (one flag per sample) limits the constraint's
   * MSE to the flagged samples: a fine-tuning round constrains the scan's own pixels, while the reference pixels mixed
   * in against forgetting only train (a batch without flagged samples leaves β as it is). `weights` (one per sample,
   * model/beta-control.ts perScanBaseline) weigh each sample's reconstruction error in the loss and in the
   * constraint alike (per-scan κ for a multi-scan corpus); `validation.weights` then weigh the held-out errors the
   * keep rule compares with `keepBelow` (the same weighted unit).
   */
  constraint?: BetaConstraint & { state?: BetaControlState; keepBelow?: number; rows?: Uint8Array; weights?: Float32Array };
  /** use the op-level forward (forward.ts: fast LSTM, matmul convs; same math and gradients); default true. The
   *  layers graph (false) cannot train the conv preset on wasm (no Conv2DBackpropFilter kernel there). */
  fast?: boolean;
  /**
   * What runs a training step: `onnxruntime` (onnx-train-step.ts: forward, backward and Adam as one ONNX graph on
   * onnxruntime's MLAS kernels; mlp only), `tfjs` (the op-level forward on the tfjs backend), `auto` (default:
   * onnxruntime where the architecture has its step, else tfjs). Same loss, gradients and Adam either way.
   */
  stepEngine?: StepEngine;
  /** onnxruntime intra-op threads of the step (default 1: the fastest on the 2-core bench machine, docs/performance.md) */
  threads?: number;
}

/** Which engine runs the training steps (TrainOptions.stepEngine). */
export type StepEngine = 'auto' | 'onnxruntime' | 'tfjs';

/** The engine `trainVae` will use for this VAE and choice: 'onnxruntime' or 'tfjs'. */
export function stepEngineFor(vae: Vae, choice: StepEngine = 'auto', fast = true): 'onnxruntime' | 'tfjs' {
  if (choice === 'tfjs' || !fast) return 'tfjs';
  if (supportsOnnxStep(vae)) return 'onnxruntime';
  if (choice === 'onnxruntime') throw new RangeError(`train.stepEngine onnxruntime: the ${vae.dims.arch ?? 'lstm'} architecture has no ONNX training step (mlp only); use auto or tfjs`);
  return 'tfjs';
}

/**
 * Divergence guard. A batch whose loss is not finite, or whose reconstruction error exceeds DIVERGENCE_FACTOR × the
 * lowest epoch error so far, has diverged (measured: the mlp on the 60-scan corpus at lr 1e-3 went from an epoch MSE
 * of 0.06 to 1e21 within one epoch — log σ² of one channel ran away — and every later epoch was NaN). The run then
 * goes back to the weights, Adam state and β controller of the last finished epoch, halves the learning rate and
 * goes on with the next epoch's shuffle. A state that diverges again before an epoch finishes is dropped and the run
 * goes one epoch further back (the 240-scan corpus diverged five times from the same epoch-36 state, at learning rates
 * down to 3e-5: the state, not the step size, was the trouble); after MAX_ROLLBACKS rollbacks in a row it stops and
 * keeps the best epoch it had. The last MAX_ROLLBACKS + 1 epoch-end states are kept for this.
 */
export const DIVERGENCE_FACTOR = 100;
/** the lowest epoch error the factor applies to (scaled units): a near-perfect fit's small batches are not a divergence */
export const DIVERGENCE_FLOOR = 1e-3;
export const MAX_ROLLBACKS = 4;

/** One rollback of the divergence guard. */
export interface Rollback {
  /** the epoch (0-based) and batch where the loss diverged */
  epoch: number;
  batch: number;
  loss: number;
  mse: number;
  /** the epoch whose end state the run went back to (−1: the run's start) */
  restoredEpoch: number;
  /** the learning rate from then on */
  learningRate: number;
}

/** Result of a training run. */
export interface TrainResult {
  /** the divergence guard's rollbacks, in order */
  rollbacks: Rollback[];
  history: EpochMetrics[];
  last: EpochMetrics | undefined;
  optimizer: tf.Optimizer;
  epochsRun: number;
  samplesSeen: number;
  seconds: number;
  /** with `validation`: the epoch whose weights the model ends with, and its validation MSE */
  best?: { epoch: number; valMse: number; beta: number };
  /** what ran the steps */
  stepEngine: 'onnxruntime' | 'tfjs';
  /** why `auto` fell back to tfjs for an architecture that has an ONNX step */
  stepEngineFallback?: string;
}

/**
 * Constrained mode: a held-out error within this factor of the run's lowest counts as reconstructing as well, so when
 * no epoch gets below `keepBelow` (the linear baseline on the held-out pixels) the run still
 * keeps the sparsest of its near-best epochs instead of the unregularised early one with every channel active.
 */
export const KEEP_TOLERANCE = 1.05;

/** Constrained mode: is epoch `a` a better one to keep than `b` (see TrainOptions.constraint)? */
export function betterConstrained(a: EpochMetrics, b: EpochMetrics | undefined, keepBelow: number): boolean {
  if (!b) return true;
  // held-out error in the constraint's unit (weighted when the run weighs its samples)
  const va = a.valWeightedMse ?? a.valMse!;
  const vb = b.valWeightedMse ?? b.valMse!;
  const okA = va <= keepBelow;
  const okB = vb <= keepBelow;
  if (okA !== okB) return okA;
  if (!okA) return va < vb;
  if (a.valActive! !== b.valActive!) return a.valActive! < b.valActive!;
  // as sparse: the one that reconstructs better (a lower-KL tie-break kept the last, most regularised epoch of a
  // corpus run that never pruned a channel: held-out 0.416 where its best epoch had 0.364)
  return va < vb;
}

/** Train `vae` on `n` samples of `data` ([n][T][C], scaled). Returns per-epoch metrics. */
export async function trainVae(vae: Vae, data: Float32Array, n: number, opts: TrainOptions): Promise<TrainResult> {
  const { T, C } = vae.dims;
  const stride = T * C;
  if (data.length < n * stride) throw new RangeError(`trainVae: data has ${data.length} floats; expected n × T × C = ${n} × ${T} × ${C}`);
  const optimizer = opts.optimizer ?? tf.train.adam(opts.learningRate);
  const fast = opts.fast ?? true;
  const vars = trainableVariables(vae);
  const engine = stepEngineFor(vae, opts.stepEngine, fast);
  let onnxStep: OnnxTrainStep | undefined;
  let fallback: string | undefined;
  if (engine === 'onnxruntime') {
    try {
      onnxStep = await createOnnxTrainStep(vae, { learningRate: opts.learningRate, threads: opts.threads ?? 1, constrained: opts.constraint !== undefined, optimizer });
    } catch (err) {
      if (opts.stepEngine === 'onnxruntime') throw err; // asked for by name: no silent substitute
      fallback = `onnxruntime training step unavailable (${(err as Error).message.split('\n')[0]}); training on tfjs`; // auto: the tfjs step trains the same model
    }
  }
  try {
    const result = await trainLoop(vae, data, n, opts, optimizer, vars, onnxStep);
    return fallback ? { ...result, stepEngineFallback: fallback } : result;
  } finally {
    await onnxStep?.release();
  }
}

async function trainLoop(vae: Vae, data: Float32Array, n: number, opts: TrainOptions, optimizer: tf.Optimizer, vars: tf.Variable[], onnxStep: OnnxTrainStep | undefined): Promise<TrainResult> {
  const ownOptimizer = opts.optimizer === undefined;
  const { T, C, latentDim: L } = vae.dims;
  const stride = T * C;
  const fast = opts.fast ?? true;
  const rnd = mulberry32(opts.seed);
  const idx = Uint32Array.from({ length: n }, (_, i) => i);
  const B = Math.min(opts.batch, n);
  const batches = Math.ceil(n / B);
  const buf = new Float32Array(B * stride);
  const eps = new Float32Array(B * L);
  const history: EpochMetrics[] = [];
  const t0 = performance.now();
  const startEpoch = opts.startEpoch ?? 0;
  // Advance the shuffle stream past earlier epochs so a resumed run sees the same batches as an unbroken one.
  for (let e = 0; e < startEpoch; e++) shuffleInPlace(idx, (i) => Math.floor(rnd() * (i + 1)));
  let samplesSeen = 0;
  let epoch = startEpoch;
  let best: { epoch: number; valMse: number; beta: number; weights: tf.Tensor[]; metrics: EpochMetrics } | undefined;
  const control = opts.constraint ? new BetaController(opts.constraint, opts.constraint.state) : undefined;
  const rowsMask = opts.constraint?.rows;
  if (rowsMask && rowsMask.length < n) throw new RangeError(`trainVae: constraint.rows has ${rowsMask.length} flags; expected one per sample (${n})`);
  const sampleWeights = opts.constraint?.weights;
  if (sampleWeights && sampleWeights.length < n) throw new RangeError(`trainVae: constraint.weights has ${sampleWeights.length} weights; expected one per sample (${n})`);
  const valWeights = opts.validation?.weights;
  if (valWeights && opts.validation && valWeights.length < opts.validation.n) throw new RangeError(`trainVae: validation.weights has ${valWeights.length} weights; expected one per held-out sample (${opts.validation.n})`);
  // per-sample weights of the constrained error: the mask (0/1) times the sample's weight
  const weight = rowsMask || sampleWeights ? new Float32Array(B) : undefined;
  const lossWeight = sampleWeights ? new Float32Array(B) : undefined;
  let lowestVal = Number.POSITIVE_INFINITY;
  // the divergence guard's state: the last finished epoch (weights, Adam, β controller) and the lowest epoch error
  let learningRate = opts.learningRate;
  const rollbacks: Rollback[] = [];
  let lowestMse = Number.POSITIVE_INFINITY;
  const takeGood = (e: number) => ({ epoch: e, step: onnxStep?.snapshot(), weights: onnxStep ? [] : vars.map((w) => tf.keep(w.clone())), control: control?.state() });
  const goods = [takeGood(startEpoch - 1)]; // the last epoch-end states, oldest first
  let inARow = 0; // rollbacks since the last finished epoch
  const adamState = async () => {
    if (onnxStep) await onnxStep.syncOptimizer(optimizer);
    return optimizer;
  };
  for (; epoch < opts.epochs; epoch++) {
    const progress = Math.max(epoch / opts.epochs, opts.maxSeconds ? (performance.now() - t0) / 1000 / opts.maxSeconds : 0);
    let beta = control ? control.beta : betaForRun(epoch, progress, opts.schedule);
    let lambda = lambdaFor(control ? Math.min(beta, L1_BETA_CAP) : beta);
    const te = performance.now();
    shuffleInPlace(idx, (i) => Math.floor(rnd() * (i + 1)));
    let sLoss = 0;
    let sMse = 0;
    let sKl = 0;
    let sL1 = 0;
    let count = 0;
    let diverged: { epoch: number; batch: number; loss: number; mse: number } | undefined;
    for (let b = 0; b < batches; b++) {
      if (opts.shouldStop?.()) break;
      const from = b * B;
      const m = Math.min(B, n - from);
      for (let i = 0; i < m; i++) buf.set(data.subarray(idx[from + i]! * stride, idx[from + i]! * stride + stride), i * stride);
      let flagged = m;
      if (weight) {
        flagged = 0;
        for (let i = 0; i < m; i++) {
          const k = idx[from + i]!;
          const on = !rowsMask || rowsMask[k] ? 1 : 0;
          flagged += on;
          weight[i] = on * (sampleWeights ? sampleWeights[k]! : 1);
          if (lossWeight) lossWeight[i] = sampleWeights![k]!;
        }
      }
      // the reparameterisation noise, drawn here for either engine (tf.randomNormal took 0.9 ms per batch of 128,
      // a third of an ONNX step: it draws each value through seedrandom in JS)
      const normal = mulberry32((opts.seed * 1000003 + epoch * 7919 + b) % 2147483647).normal;
      for (let i = 0; i < m * L; i++) eps[i] = normal();
      const batch: StepBatch = { x: buf, m, eps, beta, lambda, ...(lossWeight ? { lossWeights: lossWeight } : {}), ...(weight ? { constraintWeights: weight } : {}), flagged };
      const { loss, mse, kl, l1, muMse } = onnxStep ? await onnxStep.step(batch) : tfjsStep(vae, optimizer, vars, fast, batch, control !== undefined);
      if (!Number.isFinite(loss) || mse > DIVERGENCE_FACTOR * Math.max(lowestMse, DIVERGENCE_FLOOR)) {
        diverged = { epoch, batch: b, loss, mse };
        break;
      }
      sLoss += loss * m;
      sMse += mse * m;
      sKl += kl * m;
      sL1 += l1 * m;
      count += m;
      samplesSeen += m;
      opts.onBatch?.({ epoch, batch: b, batches, loss, mse, kl, beta });
      if (control && muMse !== undefined && flagged > 0) {
        beta = control.update(muMse);
        lambda = lambdaFor(Math.min(beta, L1_BETA_CAP));
      }
    }
    if (diverged) {
      learningRate /= 2;
      // the state the last rollback went back to diverged again: drop it and go one epoch further back
      if (inARow > 0 && goods.length > 1) tf.dispose(goods.pop()!.weights);
      inARow++;
      const good = goods[goods.length - 1]!;
      if (onnxStep) {
        onnxStep.restore(good.step!);
        onnxStep.learningRate = learningRate;
        onnxStep.syncToVariables();
      } else {
        vars.forEach((w, i) => w.assign(good.weights[i]!));
        if (ownOptimizer) optimizer.dispose();
        optimizer = tf.train.adam(learningRate); // Adam's moments carry the divergence: start them afresh
      }
      if (control && good.control) Object.assign(control, good.control);
      const r: Rollback = { ...diverged, restoredEpoch: good.epoch, learningRate };
      rollbacks.push(r);
      opts.onRollback?.(r);
      if (inARow > MAX_ROLLBACKS) {
        epoch++;
        break;
      }
      continue;
    }
    if (count === 0) break;
    onnxStep?.syncToVariables(); // validation, the kept weights and onEpoch read the tfjs variables
    const seconds = (performance.now() - te) / 1000;
    const metrics: EpochMetrics = { epoch, beta, loss: sLoss / count, mse: sMse / count, kl: sKl / count, l1: sL1 / count, seconds, samplesPerSec: count / seconds, ...(control ? { constraint: control.constraint, constraintEngaged: control.engaged } : {}) };
    if (opts.validation && opts.validation.n > 0) {
      const errs = reconstructionErrors(vae, opts.validation.data, opts.validation.n);
      let v = 0;
      for (const e of errs) v += e / errs.length;
      metrics.valMse = v;
      let better: boolean;
      if (control) {
        // the keep rule compares the held-out error in the constraint's unit: weighted when the samples are
        let vk = v;
        if (valWeights) {
          vk = 0;
          for (let i = 0; i < errs.length; i++) vk += (valWeights[i]! * errs[i]!) / errs.length;
          metrics.valWeightedMse = vk;
        }
        const { mu, logVar } = encodeAll(vae, opts.validation.data, opts.validation.n);
        const { kl, active } = klPerLatent(mu, logVar, opts.validation.n, vae.dims.latentDim);
        metrics.valKl = kl.reduce((s, k) => s + k, 0);
        metrics.valActive = active.length;
        lowestVal = Math.min(lowestVal, vk);
        better = betterConstrained(metrics, best?.metrics, Math.max(opts.constraint!.keepBelow ?? control.settings.kappa, KEEP_TOLERANCE * lowestVal));
      } else {
        better = !best || best.beta !== beta || v < best.valMse;
      }
      if (better) {
        if (best) tf.dispose(best.weights);
        best = { epoch, valMse: v, beta, weights: vars.map((w) => tf.keep(w.clone())), metrics };
      }
    }
    history.push(metrics);
    lowestMse = Math.min(lowestMse, metrics.mse);
    inARow = 0;
    goods.push(takeGood(epoch));
    if (goods.length > MAX_ROLLBACKS + 1) tf.dispose(goods.shift()!.weights);
    await opts.onEpoch?.(metrics, adamState);
    if (opts.shouldStop?.()) {
      epoch++;
      break;
    }
    if (opts.maxSeconds && (performance.now() - t0) / 1000 >= opts.maxSeconds) {
      epoch++;
      break;
    }
  }
  tf.dispose(goods.flatMap((g) => g.weights));
  await adamState(); // the optimizer the result hands back holds the run's Adam state
  let bestOut: TrainResult['best'];
  if (best) {
    vars.forEach((w, i) => w.assign(best!.weights[i]!));
    tf.dispose(best.weights);
    bestOut = { epoch: best.epoch, valMse: best.valMse, beta: best.beta };
  }
  return { history, rollbacks, last: history[history.length - 1], optimizer, epochsRun: epoch - startEpoch, samplesSeen, seconds: (performance.now() - t0) / 1000, ...(bestOut ? { best: bestOut } : {}), stepEngine: onnxStep ? 'onnxruntime' : 'tfjs' };
}

/** One Adam step on the tfjs backend (the op-level forward, or the layers graph when `fast` is false): the loss and
 *  stats of onnx-train-step.ts's graph, from the same batch. */
function tfjsStep(vae: Vae, optimizer: tf.Optimizer, vars: tf.Variable[], fast: boolean, b: StepBatch, constrained: boolean): StepStats {
  const { T, C, latentDim: L } = vae.dims;
  const { m, lossWeights, constraintWeights, flagged = m } = b;
  const xb = tf.tensor3d(b.x.subarray(0, m * T * C), [m, T, C]);
  let parts: tf.Scalar[] = [];
  const lossT = optimizer.minimize(
    () => {
      const [mu, logVar, emb] = fast ? encodeTrain(vae, xb) : (vae.encoder.apply(xb, { training: true }) as tf.Tensor[]);
      const eps = tf.tensor2d(b.eps.subarray(0, m * L), [m, L]);
      const z = mu!.add(tf.exp(logVar!.mul(0.5)).mul(eps));
      const [xh, demb] = fast ? decodeTrain(vae, z as tf.Tensor2D) : (vae.decoder.apply(z, { training: true }) as tf.Tensor[]);
      // per-sample weights (per-scan κ) weigh the loss's reconstruction term as they weigh the constraint
      const mse = (lossWeights ? tf.mean(tf.mean(tf.squaredDifference(xb, xh!), [1, 2]).mul(tf.tensor1d(lossWeights.subarray(0, m)))) : tf.mean(tf.squaredDifference(xb, xh!))) as tf.Scalar;
      const kl = tf.mean(tf.add(1, logVar!).sub(tf.square(mu!)).sub(tf.exp(logVar!))).mul(-0.5) as tf.Scalar;
      const l1 = tf.add(tf.sum(tf.abs(emb!)), tf.sum(tf.abs(demb!))).div(m) as tf.Scalar;
      parts = [tf.keep(mse), tf.keep(kl), tf.keep(l1)];
      // The constraint is on the error the product reports: reconstruction through μ (not part of the loss).
      if (constrained && flagged > 0) {
        const sq = tf.squaredDifference(xb, decodeTrain(vae, mu as tf.Tensor2D)[0]!);
        // Only the flagged samples count (all when no mask), each with its weight: weighted mean of the per-sample MSE.
        const muMse = constraintWeights ? tf.sum(tf.mean(sq, [1, 2]).mul(tf.tensor1d(constraintWeights.subarray(0, m)))).div(flagged) : tf.mean(sq);
        parts.push(tf.keep(muMse as tf.Scalar));
      }
      return mse.add(kl.mul(b.beta)).add(l1.mul(b.lambda)) as tf.Scalar;
    },
    true,
    vars,
  );
  const [loss, mse, kl, l1, muMse] = [lossT!, ...parts].map((t) => t.dataSync()[0]!) as [number, number, number, number, number | undefined];
  tf.dispose([lossT!, ...parts, xb]);
  return { loss, mse, kl, l1, ...(muMse !== undefined ? { muMse } : {}) };
}

/** μ, log σ² for all samples, computed in batches. */
export function encodeAll(vae: Vae, data: Float32Array, n: number, batch = 256): { mu: Float32Array; logVar: Float32Array } {
  const { T, C, latentDim: L } = vae.dims;
  const mu = new Float32Array(n * L);
  const logVar = new Float32Array(n * L);
  for (let from = 0; from < n; from += batch) {
    const m = Math.min(batch, n - from);
    const outs = tf.tidy(() => encodeTrain(vae, tf.tensor3d(data.subarray(from * T * C, (from + m) * T * C), [m, T, C])).slice(0, 2));
    mu.set(outs[0]!.dataSync(), from * L);
    logVar.set(outs[1]!.dataSync(), from * L);
    tf.dispose(outs);
  }
  return { mu, logVar };
}

/** Per-sample reconstruction MSE through μ (deterministic), scaled units, in batches. */
export function reconstructionErrors(vae: Vae, data: Float32Array, n: number, batch = 256): Float32Array {
  const { T, C } = vae.dims;
  const stride = T * C;
  const err = new Float32Array(n);
  for (let from = 0; from < n; from += batch) {
    const m = Math.min(batch, n - from);
    const e = tf.tidy(() => {
      const x = tf.tensor3d(data.subarray(from * stride, (from + m) * stride), [m, T, C]);
      const [mu] = encodeTrain(vae, x);
      const [xh] = decodeTrain(vae, mu);
      return tf.mean(tf.squaredDifference(x, xh!), [1, 2]);
    });
    err.set(e.dataSync(), from);
    e.dispose();
  }
  return err;
}

/** A latent channel is active when its mean KL over the data exceeds this many nats (the paper's criterion). */
export const ACTIVE_KL_NATS = 0.1;

/**
 * KL divergence per latent channel (mean over samples, nats) and the active channels: those whose KL exceeds
 * `threshold` (default 0.1 nats); the rest are close to the N(0, 1) prior and carry no structure (the paper's
 * "active channels"). Works on any engine's output (an onnx engine's `encode` gives the same μ and log σ²), so a
 * replay summary can count the active channels of the scan it encoded.
 */
export function klPerLatent(mu: Float32Array, logVar: Float32Array, n: number, L: number, threshold = ACTIVE_KL_NATS): { kl: number[]; active: number[] } {
  const kl = new Array<number>(L).fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L; j++) {
      const m = mu[i * L + j]!;
      const lv = logVar[i * L + j]!;
      kl[j]! += -0.5 * (1 + lv - m * m - Math.exp(lv));
    }
  }
  for (let j = 0; j < L; j++) kl[j] = kl[j]! / Math.max(1, n);
  const active = kl.flatMap((v, j) => (v > threshold ? [j] : []));
  return { kl, active };
}
