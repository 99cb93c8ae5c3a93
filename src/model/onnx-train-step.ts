/**
 * One training step of the mlp β-VAE — forward, hand-derived backward and Adam — as a single ONNX graph run by
 * onnxruntime-node (issue 15, item 2: "fused kernels"). tfjs-wasm is single-threaded in Node and its matmuls alone
 * top out at ~0.6× PyTorch's training speed here (docs/performance.md); onnxruntime's MLAS GEMMs use every core and
 * the CPU's widest vectors, so the step trains at PyTorch's speed or better while the model stays a tfjs model
 * (the weights go back into its variables after every epoch; saving, export and fine-tuning are unchanged).
 *
 * The loss and the Adam update are exactly trainVae's (train.ts), so the two steps agree to float rounding
 * (test/model/onnx-train-step.test.ts):
 *   loss = Σ_i lw_i·Σ_d (x̂ − x)² / (m·D) + β·KL + λ·L1,  KL = −½·mean(1 + log σ² − μ² − σ²),
 *   L1 = (Σ|encoder emb| + Σ|decoder emb|)/m,  z = μ + exp(½ log σ²)·ε  (ε given: trainVae draws it),
 * plus the constraint's error through μ: Σ_i cw_i·Σ_d (dec(μ) − x)² / (flagged·D) (no gradient), and tfjs's Adam
 * (β1 0.9, β2 0.999, ε 1e-7, bias corrections 1/(1 − β^t)).
 *
 * Layout: every trainable variable (trainableVariables order: encoder then decoder, kernel then bias per layer) is
 * one slice of a flat θ [P]; Adam's moments m, v are flat too, so the update is a dozen elementwise ops over P instead
 * of a dozen per variable, and a step feeds and fetches three [P] tensors. Gradients of a Dense layer y = xW + b:
 * dW = xᵀ·dy and dx = dy·Wᵀ are Gemm with transA / transB (MLAS runs transposed operands natively); ReLU's gradient
 * passes dy where the output is > 0 (tfjs's step(x) at 0 is 0, as Where(y > 0) is).
 */
import type * as Ort from 'onnxruntime-node';
import { ort } from './onnxruntime.ts';
import * as tf from '@tensorflow/tfjs';
import { archOf, trainableVariables, type Vae } from './vae.ts';
import { GraphBuilder, intAttr, modelBytes, valueInfo } from './onnx-graph.ts';

/** tfjs's Adam defaults (tf.train.adam(lr): β1, β2, and the float32 backend's epsilon). */
export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;

/** The loss terms of one step (the values trainVae's tfjs step reports). */
export interface StepStats {
  loss: number;
  mse: number;
  kl: number;
  l1: number;
  /** the constraint's reconstruction error through μ (only when the step was built `constrained`) */
  muMse?: number;
}

/** One batch of a step. Weights are per sample: `lossWeights` scale the reconstruction term of the loss,
 *  `constraintWeights` (mask × weight) the error through μ, whose mean divides by `flagged`. */
export interface StepBatch {
  /** [m, T·C] scaled inputs (the first m·T·C values are read) */
  x: Float32Array;
  m: number;
  /** [m, L] standard-normal noise of the reparameterisation */
  eps: Float32Array;
  beta: number;
  lambda: number;
  lossWeights?: Float32Array;
  constraintWeights?: Float32Array;
  flagged?: number;
}

/** θ and Adam's state at one moment (the step's tensors are never written in place, so this holds no copy). */
export interface StepSnapshot {
  readonly theta: Ort.Tensor;
  readonly m: Ort.Tensor;
  readonly v: Ort.Tensor;
  readonly iterations: number;
}

/** A compiled training step bound to one VAE's variables. */
export interface OnnxTrainStep {
  /** how many Adam steps have run (tfjs's `iterations`) */
  readonly iterations: number;
  /** Adam's learning rate for the next steps (trainVae lowers it after a divergence) */
  learningRate: number;
  snapshot(): StepSnapshot;
  /** go back to a snapshot: weights, moments and iteration count */
  restore(s: StepSnapshot): void;
  step(batch: StepBatch): Promise<StepStats>;
  /** write θ into the VAE's tfjs variables (before anything reads the model: validation, saving) */
  syncToVariables(): void;
  /** give a tf.train.adam optimizer this step's moments and iteration count (for a checkpoint) */
  syncOptimizer(optimizer: tf.Optimizer): Promise<void>;
  release(): Promise<void>;
}

/** Can this VAE train through the ONNX step? (only the mlp preset has a hand-derived backward) */
export function supportsOnnxStep(vae: Vae): boolean {
  return archOf(vae.dims) === 'mlp';
}

// hyper-parameter vector fed each step (one small input instead of eight scalar ones): β, λ, Adam's step size and ε
// with the bias corrections folded in, and the 1/count scales of the loss terms (they change with the batch size)
const H = { beta: 0, lambda: 1, stepSize: 2, epsHat: 3, mseScale: 4, klScale: 5, l1Scale: 6, muScale: 7 } as const;
const H_LEN = 8;

interface Slot {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/** θ's layout: one slot per trainable variable, in trainableVariables order, named by layer and role. */
function layoutOf(vae: Vae): Slot[] {
  let offset = 0;
  return trainableVariables(vae).map((v) => {
    const size = v.shape.reduce((a, b) => a * b, 1);
    const slot = { name: v.name, shape: [...v.shape], offset, size };
    offset += size;
    return slot;
  });
}

/** The step graph. Inputs theta, m, v [P], x [N,D], eps [N,L], lw, cw [N,1], hyper [8]; outputs theta_out,
 *  m_out, v_out [P] and stats [5] = loss, mse, kl, l1, muMse (0 when not constrained). */
function buildStepGraph(vae: Vae, constrained: boolean): { bytes: Uint8Array; slots: Slot[] } {
  const { T, C, latentDim: L } = vae.dims;
  const D = T * C;
  const hidden = [...(vae.dims.hidden ?? [])];
  const slots = layoutOf(vae);
  const P = slots.reduce((s, v) => s + v.size, 0);
  const g = new GraphBuilder('step');
  const f32 = (name: string, v: number) => g.init(name, [], Float32Array.of(v));
  const zero = f32('zero', 0);
  const half = f32('half', 0.5);
  const one = f32('one', 1);
  const two = f32('two', 2);
  const hp = (k: keyof typeof H) => g.one('Gather', ['hyper', g.init(`h_${k}`, [], BigInt64Array.of(BigInt(H[k])), 'int64')], [intAttr('axis', 0)]);
  const beta = hp('beta');
  const lambda = hp('lambda');
  const l1Scale = hp('l1Scale');

  // weights: slices of θ, by layer
  const weight = (layer: string, role: 'kernel' | 'bias') => {
    const s = slots.find((v) => v.name.startsWith(`${layer}/`) && v.name.includes(role));
    if (!s) throw new Error(`onnx train step: no ${role} variable for layer ${layer} (variables: ${slots.map((v) => v.name).join(', ')})`);
    const flat = g.one('Slice', ['theta', g.ints(g.name('s0'), [s.offset]), g.ints(g.name('s1'), [s.offset + s.size]), g.ints(g.name('ax'), [0])]);
    return s.shape.length === 1 ? flat : g.one('Reshape', [flat, g.ints(g.name('shape'), s.shape)]);
  };
  const W = new Map<string, { k: string; b: string }>();
  const layers = [...hidden.map((_, i) => `enc_h${i}`), 'enc_mu', 'enc_logvar', ...hidden.map((_, i) => `dec_h${i}`), 'dec_out'];
  for (const l of layers) W.set(l, { k: weight(l, 'kernel'), b: weight(l, 'bias') });
  const gemm = (a: string, b: string, c?: string, transA = 0, transB = 0) => g.one('Gemm', c ? [a, b, c] : [a, b], [intAttr('transA', transA), intAttr('transB', transB)]);
  const dense = (l: string, x: string, relu: boolean) => {
    const y = gemm(x, W.get(l)!.k, W.get(l)!.b);
    return relu ? g.one('Relu', [y]) : y;
  };
  const sumAll = (t: string) => g.one('ReduceSum', [t], [intAttr('keepdims', 0)]);
  const sumRows = (t: string) => g.one('ReduceSum', [t, g.ints(g.name('axes'), [0])], [intAttr('keepdims', 0)]);

  // forward
  const enc: string[] = [];
  let h = 'x';
  for (let i = 0; i < hidden.length; i++) enc.push((h = dense(`enc_h${i}`, h, true)));
  const emb = h;
  const mu = dense('enc_mu', emb, false);
  const lv = dense('enc_logvar', emb, false);
  const std = g.one('Exp', [g.one('Mul', [lv, half])]);
  const z = g.one('Add', [mu, g.one('Mul', [std, 'eps'])]);
  const decode = (from: string) => {
    const acts: string[] = [];
    let d = from;
    for (let i = 0; i < hidden.length; i++) acts.push((d = dense(`dec_h${i}`, d, true)));
    return { acts, out: dense('dec_out', d, false) };
  };
  const dec = decode(z);
  const diff = g.one('Sub', [dec.out, 'x']);
  const mseScale = hp('mseScale');
  const mse = g.one('Mul', [sumAll(g.one('Mul', [g.one('Mul', [diff, diff]), 'lw'])), mseScale]);
  const klScale = hp('klScale');
  const expLv = g.one('Mul', [std, std]);
  const klSum = sumAll(g.one('Sub', [g.one('Sub', [g.one('Add', [lv, one]), g.one('Mul', [mu, mu])]), expLv]));
  const kl = g.one('Mul', [klSum, g.one('Mul', [klScale, f32('minus_half', -0.5)])]);
  const l1 = g.one('Mul', [g.one('Add', [sumAll(emb), sumAll(dec.acts[0]!)]), l1Scale]);
  const loss = g.one('Add', [g.one('Add', [mse, g.one('Mul', [kl, beta])]), g.one('Mul', [l1, lambda])]);

  // backward
  const grads = new Map<string, { k: string; b: string }>();
  const reluBack = (y: string, dy: string) => g.one('Where', [g.one('Greater', [y, zero]), dy, zero]);
  const l1Grad = g.one('Mul', [lambda, l1Scale]); // ∂(λ·L1)/∂act = λ/m where act > 0
  let dy = g.one('Mul', [g.one('Mul', [diff, 'lw']), g.one('Mul', [mseScale, two])]); // ∂loss/∂x̂
  // decoder, last layer first
  const decIn = [z, ...dec.acts];
  for (let i = hidden.length; i >= 0; i--) {
    const l = i === hidden.length ? 'dec_out' : `dec_h${i}`;
    const input = decIn[i]!;
    grads.set(l, { k: gemm(input, dy, undefined, 1, 0), b: sumRows(dy) });
    const dx = gemm(dy, W.get(l)!.k, undefined, 0, 1);
    if (i > 0) dy = reluBack(dec.acts[i - 1]!, i - 1 === 0 ? g.one('Add', [dx, l1Grad]) : dx);
    else dy = dx; // ∂loss/∂z
  }
  const dz = dy;
  const klGrad = g.one('Mul', [beta, klScale]);
  const dmu = g.one('Add', [dz, g.one('Mul', [mu, klGrad])]);
  const dlv = g.one('Add', [g.one('Mul', [g.one('Mul', [dz, g.one('Mul', [std, 'eps'])]), half]), g.one('Mul', [g.one('Sub', [expLv, one]), g.one('Mul', [klGrad, half])])]);
  grads.set('enc_mu', { k: gemm(emb, dmu, undefined, 1, 0), b: sumRows(dmu) });
  grads.set('enc_logvar', { k: gemm(emb, dlv, undefined, 1, 0), b: sumRows(dlv) });
  dy = reluBack(emb, g.one('Add', [gemm(dlv, W.get('enc_logvar')!.k, gemm(dmu, W.get('enc_mu')!.k, undefined, 0, 1), 0, 1), l1Grad]));
  for (let i = hidden.length - 1; i >= 0; i--) {
    const l = `enc_h${i}`;
    const input = i === 0 ? 'x' : enc[i - 1]!;
    grads.set(l, { k: gemm(input, dy, undefined, 1, 0), b: sumRows(dy) });
    if (i > 0) dy = reluBack(enc[i - 1]!, gemm(dy, W.get(l)!.k, undefined, 0, 1));
  }

  // flat gradient in θ's order, then Adam on the flat vectors
  const flatG = slots.map((s) => {
    const [layer, rest] = [s.name.slice(0, s.name.indexOf('/')), s.name.slice(s.name.indexOf('/') + 1)];
    const gr = grads.get(layer);
    if (!gr) throw new Error(`onnx train step: no gradient for ${s.name}`);
    const t = rest.includes('kernel') ? gr.k : gr.b;
    return s.shape.length === 1 ? t : g.one('Reshape', [t, g.ints(g.name('flat'), [-1])]);
  });
  const grad = g.one('Concat', flatG, [intAttr('axis', 0)]);
  const b1 = f32('adam_b1', ADAM.beta1);
  const b2 = f32('adam_b2', ADAM.beta2);
  g.one('Add', [g.one('Mul', ['m', b1]), g.one('Mul', [grad, f32('adam_1mb1', 1 - ADAM.beta1)])], [], 'm_out');
  g.one('Add', [g.one('Mul', ['v', b2]), g.one('Mul', [g.one('Mul', [grad, grad]), f32('adam_1mb2', 1 - ADAM.beta2)])], [], 'v_out');
  // lr·m̂/(√v̂ + ε) with m̂ = c1·m, v̂ = c2·v is (lr·c1/√c2)·m/(√v + ε/√c2): the two scalars come in with the
  // hyper-parameters, so the update is five passes over θ instead of seven
  const update = g.one('Div', ['m_out', g.one('Add', [g.one('Sqrt', ['v_out']), hp('epsHat')])]);
  g.one('Sub', ['theta', g.one('Mul', [update, hp('stepSize')])], [], 'theta_out');

  // the constraint's error through μ (no gradient), then the stats vector
  let muMse = zero;
  if (constrained) {
    const r = g.one('Sub', [decode(mu).out, 'x']);
    muMse = g.one('Mul', [sumAll(g.one('Mul', [g.one('Mul', [r, r]), 'cw'])), hp('muScale')]);
  }
  const axes0 = g.ints('axes0', [0]);
  g.one('Concat', [loss, mse, kl, l1, muMse].map((s) => g.one('Unsqueeze', [s, axes0])), [intAttr('axis', 0)], 'stats');

  const tensor = (name: string, dims: Array<number | string>) => valueInfo(name, dims);
  const bytes = modelBytes(
    g,
    'loopstream_train_step',
    [tensor('theta', [P]), tensor('m', [P]), tensor('v', [P]), tensor('x', ['N', D]), tensor('eps', ['N', L]), tensor('lw', ['N', 1]), tensor('cw', ['N', 1]), tensor('hyper', [H_LEN])],
    [tensor('theta_out', [P]), tensor('m_out', [P]), tensor('v_out', [P]), tensor('stats', [5])],
    `β-VAE (mlp) training step: loss, backward and Adam on flat θ [${P}]`,
  );
  return { bytes, slots };
}

/** Options of `createOnnxTrainStep`. */
export interface OnnxStepOptions {
  learningRate: number;
  /** onnxruntime intra-op threads (the cores training may use) */
  threads: number;
  /** compute the constraint's error through μ every step */
  constrained: boolean;
  /** continue from this tf.train.adam's moments and iteration count (resume) */
  optimizer?: tf.Optimizer;
}

/** Compile the step for `vae` and load θ from its variables (and Adam's state from `optimizer`, when given). */
export async function createOnnxTrainStep(vae: Vae, opts: OnnxStepOptions): Promise<OnnxTrainStep> {
  if (!supportsOnnxStep(vae)) throw new RangeError(`onnx train step: the ${archOf(vae.dims)} architecture has no ONNX training step (mlp only)`);
  const { bytes, slots } = buildStepGraph(vae, opts.constrained);
  const P = slots.reduce((s, v) => s + v.size, 0);
  /** variable i's part of a flat [P] buffer (θ, m or v), as a view */
  const part = (flat: Float32Array, i: number) => flat.subarray(slots[i]!.offset, slots[i]!.offset + slots[i]!.size);
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const vars = trainableVariables(vae);
  const { T, C, latentDim: L } = vae.dims;
  const D = T * C;
  const theta = new Float32Array(P);
  vars.forEach((v, i) => part(theta, i).set(v.dataSync() as Float32Array));
  let state: { theta: Ort.Tensor; m: Ort.Tensor; v: Ort.Tensor } = { theta: new ort.Tensor('float32', theta, [P]), m: new ort.Tensor('float32', new Float32Array(P), [P]), v: new ort.Tensor('float32', new Float32Array(P), [P]) };
  let iterations = 0;
  if (opts.optimizer) {
    const w = await opts.optimizer.getWeights();
    if (w.length > 1) {
      // tf.train.adam's weights: iterations, then the first moments, then the second moments, in variable order
      iterations = (await w[0]!.tensor.data())[0]!;
      const k = (w.length - 1) / 2;
      if (k !== vars.length) throw new RangeError(`onnx train step: the optimizer holds moments for ${k} variables; the model has ${vars.length}`);
      const mf = new Float32Array(P);
      const vf = new Float32Array(P);
      for (let i = 0; i < k; i++) {
        part(mf, i).set((await w[1 + i]!.tensor.data()) as Float32Array);
        part(vf, i).set((await w[1 + k + i]!.tensor.data()) as Float32Array);
      }
      state = { ...state, m: new ort.Tensor('float32', mf, [P]), v: new ort.Tensor('float32', vf, [P]) };
    }
  }
  const hyper = new Float32Array(H_LEN);
  let onesBuf = new Float32Array(0);
  const onesOf = (m: number) => (onesBuf.length >= m ? onesBuf : (onesBuf = new Float32Array(m).fill(1))).subarray(0, m);
  let learningRate = opts.learningRate;
  return {
    get iterations() {
      return iterations;
    },
    get learningRate() {
      return learningRate;
    },
    set learningRate(lr: number) {
      learningRate = lr;
    },
    snapshot: () => ({ ...state, iterations }),
    restore(snap) {
      state = { theta: snap.theta, m: snap.m, v: snap.v };
      iterations = snap.iterations;
    },
    async step(b) {
      const m = b.m;
      const t = iterations + 1;
      hyper[H.beta] = b.beta;
      hyper[H.lambda] = b.lambda;
      const c1 = 1 / (1 - ADAM.beta1 ** t); // Adam's bias corrections
      const c2 = 1 / (1 - ADAM.beta2 ** t);
      hyper[H.stepSize] = (learningRate * c1) / Math.sqrt(c2);
      hyper[H.epsHat] = ADAM.epsilon / Math.sqrt(c2);
      hyper[H.mseScale] = 1 / (m * D);
      hyper[H.klScale] = 1 / (m * L);
      hyper[H.l1Scale] = 1 / m;
      hyper[H.muScale] = 1 / (Math.max(1, b.flagged ?? m) * D);
      const out = await session.run({
        theta: state.theta,
        m: state.m,
        v: state.v,
        x: new ort.Tensor('float32', b.x.subarray(0, m * D), [m, D]),
        eps: new ort.Tensor('float32', b.eps.subarray(0, m * L), [m, L]),
        lw: new ort.Tensor('float32', b.lossWeights ? b.lossWeights.subarray(0, m) : onesOf(m), [m, 1]),
        cw: new ort.Tensor('float32', b.constraintWeights ? b.constraintWeights.subarray(0, m) : onesOf(m), [m, 1]),
        hyper: new ort.Tensor('float32', hyper, [H_LEN]),
      });
      state = { theta: out['theta_out'] as Ort.Tensor, m: out['m_out'] as Ort.Tensor, v: out['v_out'] as Ort.Tensor };
      iterations = t;
      const s = out['stats']!.data as Float32Array;
      return { loss: s[0]!, mse: s[1]!, kl: s[2]!, l1: s[3]!, ...(opts.constrained ? { muMse: s[4]! } : {}) };
    },
    syncToVariables() {
      const th = state.theta.data as Float32Array;
      vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(part(th, i), v.shape))));
    },
    async syncOptimizer(optimizer) {
      const mf = state.m.data as Float32Array;
      const vf = state.v.data as Float32Array;
      // tf.train.adam's layout: iterations, every variable's first moment, then every second moment
      const weights = [
        { name: 'iter', tensor: tf.scalar(iterations, 'int32') },
        ...vars.map((v, i) => ({ name: `${v.name}/m`, tensor: tf.tensor(part(mf, i), v.shape) })),
        ...vars.map((v, i) => ({ name: `${v.name}/v`, tensor: tf.tensor(part(vf, i), v.shape) })),
      ];
      await optimizer.setWeights(weights);
      tf.dispose(weights.map((w) => w.tensor)); // setWeights made its own variables of them
    },
    async release() {
      await session.release();
    },
  };
}
