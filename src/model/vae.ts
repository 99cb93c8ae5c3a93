/**
 * The LSTM β-VAE of the paper (docs/science.md §3), built with tfjs layers and parameterised by VaeDims.
 *
 * Encoder  x [T,C] → `blocks` residual blocks of 2 × (BiLSTM(units) → ReLU), shortcut added around the pair
 *          (the first block's shortcut starts at its first layer's output, since C ≠ 2·units) → BiLSTM returning
 *          the last step → Dense(L)+ReLU (the embedding activations, L1 penalty) → Dense(L) heads μ and log σ².
 * Decoder  z [L] → Dense(L)+ReLU (L1 penalty) → RepeatVector(T) → BiLSTM → ReLU → `blocks` residual blocks →
 *          time-distributed linear Dense(C).
 * LSTMs use Keras conventions (gates i,f,c,o; tanh; recurrent activation sigmoid — tfjs defaults to hardSigmoid).
 * With units 128 and 3 blocks this is the reference model: 5,018,946 parameters for T = 96, C = 2.
 *
 * Two non-recurrent architectures with the same 16-d latent, μ/log σ² heads and loss (train.ts), chosen for CPU
 * training speed (issue 15, docs/model.md "Choosing the architecture"):
 * mlp      x [T,C] → flatten → Dense(h0)+ReLU → Dense(h1)+ReLU (embedding activations, L1) → heads μ, log σ².
 *          Decoder mirrored: z → Dense(h1)+ReLU (L1) → Dense(h0)+ReLU → Dense(T·C) → [T,C].
 * conv     x [T,C] → 3 × Conv1D(f_i, kernel 4, stride 2, same)+ReLU → flatten → Dense(64)+ReLU (L1) → heads.
 *          Decoder: z → Dense(64)+ReLU (L1) → Dense(T8·f2)+ReLU → [T8,f2] → 3 × (nearest upsampling ×2 →
 *          Conv1D(kernel 3, same)), ReLU on the first two, linear C filters on the last → crop to T. T8 = T/8 rounded up.
 */
import * as tf from '@tensorflow/tfjs';
import type { VaeDims } from './bundle.ts';

/**
 * Named models. `paper` is the reference LSTM (fidelity; needs a GPU to train), `edge` the small LSTM, `mlp` and
 * `conv` the non-recurrent ones; the default (config train.preset) was chosen by measurement (docs/model.md).
 */
export const PRESETS = {
  paper: { arch: 'lstm', units: 128, blocks: 3, latentDim: 16 },
  edge: { arch: 'lstm', units: 16, blocks: 0, latentDim: 16 },
  mlp: { arch: 'mlp', hidden: [256, 128], units: 0, blocks: 0, latentDim: 16 },
  conv: { arch: 'conv', hidden: [16, 32, 64], units: 0, blocks: 0, latentDim: 16 },
} as const satisfies Record<string, Omit<VaeDims, 'T' | 'C'>>;
/** Preset names, for option parsing and messages. */
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** The architecture of some dims (bundles written before `arch` existed are LSTMs). */
export function archOf(dims: Pick<VaeDims, 'arch'>): 'lstm' | 'mlp' | 'conv' {
  return dims.arch ?? 'lstm';
}

/** Width of the conv preset's embedding Dense layers (encoder and decoder). */
export const CONV_EMBED = 64;
/** Conv encoder kernel (stride 2) and decoder kernel (stride 1). */
export const CONV_KERNEL_DOWN = 4;
export const CONV_KERNEL_UP = 3;

/** Length after the conv encoder's three stride-2 'same' convolutions: T/8 rounded up at each halving. */
export function convBottleneck(T: number): number {
  return Math.ceil(Math.ceil(Math.ceil(T / 2) / 2) / 2);
}
export type PresetName = keyof typeof PRESETS;

/** A built VAE: encoder x → [μ, log σ², embedding activations], decoder z → [x̂, decoder embedding activations]. */
export interface Vae {
  dims: VaeDims;
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
}

/** Dims of a preset for a given input shape. */
export function presetDims(preset: PresetName, T: number, C: number): VaeDims {
  const p = PRESETS[preset] as Omit<VaeDims, 'T' | 'C'> | undefined;
  if (!p) throw new RangeError(`unknown preset "${String(preset)}"; expected one of ${Object.keys(PRESETS).join(', ')}`);
  return { ...p, ...(p.hidden ? { hidden: [...p.hidden] } : {}), T, C };
}

function biLstm(name: string, units: number, returnSequences: boolean, seed: number | undefined, fastInit: boolean): tf.layers.Layer {
  const init = (s: number) => ({
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed === undefined ? undefined : seed + s }),
    // Keras uses an orthogonal recurrent kernel; glorot is much faster to draw for big layers (tests with random weights)
    recurrentInitializer: fastInit ? tf.initializers.glorotUniform({ seed: seed === undefined ? undefined : seed + s + 1 }) : tf.initializers.orthogonal({ seed: seed === undefined ? undefined : seed + s + 1 }),
  });
  const lstm = tf.layers.lstm({ units, returnSequences, recurrentActivation: 'sigmoid', activation: 'tanh', unitForgetBias: true, ...init(0) });
  return tf.layers.bidirectional({ layer: lstm as tf.RNN, mergeMode: 'concat', name });
}

/** Build encoder and decoder for the given dims (weights random; `seed` makes them reproducible). */
export function buildVae(dimsOrPreset: VaeDims | { preset: PresetName; T: number; C: number }, opts: { seed?: number; fastInit?: boolean } = {}): Vae {
  const dims = 'preset' in dimsOrPreset ? presetDims(dimsOrPreset.preset, dimsOrPreset.T, dimsOrPreset.C) : dimsOrPreset;
  if (archOf(dims) === 'mlp') return buildMlpVae(dims, opts.seed);
  if (archOf(dims) === 'conv') return buildConvVae(dims, opts.seed);
  const { units, blocks, latentDim: L, T, C } = dims;
  const fastInit = opts.fastInit ?? false;
  let s = opts.seed ?? 1;
  const nextSeed = () => (opts.seed === undefined ? undefined : (s += 17));
  const relu = (name: string) => tf.layers.activation({ activation: 'relu', name });
  const dense = (name: string, n: number, activation: 'relu' | 'linear') =>
    tf.layers.dense({ units: n, activation, name, kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }) });

  const block = (prefix: string, input: tf.SymbolicTensor, inDim: number): tf.SymbolicTensor => {
    const h1 = relu(`${prefix}_relu0`).apply(biLstm(`${prefix}_lstm0`, units, true, nextSeed(), fastInit).apply(input)) as tf.SymbolicTensor;
    const h2 = relu(`${prefix}_relu1`).apply(biLstm(`${prefix}_lstm1`, units, true, nextSeed(), fastInit).apply(h1)) as tf.SymbolicTensor;
    const shortcut = inDim === 2 * units ? input : h1;
    return tf.layers.add({ name: `${prefix}_add` }).apply([shortcut, h2]) as tf.SymbolicTensor;
  };

  const x = tf.input({ shape: [T, C], name: 'x' });
  let h: tf.SymbolicTensor = x;
  let dim = C;
  for (let b = 0; b < blocks; b++) {
    h = block(`enc_b${b}`, h, dim);
    dim = 2 * units;
  }
  const last = biLstm('enc_last', units, false, nextSeed(), fastInit).apply(h) as tf.SymbolicTensor;
  const emb = dense('enc_emb', L, 'relu').apply(last) as tf.SymbolicTensor;
  const mu = dense('enc_mu', L, 'linear').apply(emb) as tf.SymbolicTensor;
  const logVar = dense('enc_logvar', L, 'linear').apply(emb) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: x, outputs: [mu, logVar, emb], name: 'encoder' });

  const z = tf.input({ shape: [L], name: 'z' });
  const demb = dense('dec_emb', L, 'relu').apply(z) as tf.SymbolicTensor;
  let d = tf.layers.repeatVector({ n: T, name: 'dec_repeat' }).apply(demb) as tf.SymbolicTensor;
  d = relu('dec_lstm_relu').apply(biLstm('dec_lstm', units, true, nextSeed(), fastInit).apply(d)) as tf.SymbolicTensor;
  for (let b = 0; b < blocks; b++) d = block(`dec_b${b}`, d, 2 * units);
  const recon = dense('dec_out', C, 'linear').apply(d) as tf.SymbolicTensor;
  const decoder = tf.model({ inputs: z, outputs: [recon, demb], name: 'decoder' });
  return { dims, encoder, decoder };
}

/** Trainable variables of encoder and decoder. */
export function trainableVariables(vae: Vae): tf.Variable[] {
  return [...vae.encoder.trainableWeights, ...vae.decoder.trainableWeights].map((w) => w.read() as tf.Variable);
}

/** Trainable parameter count of encoder + decoder. */
export function countParams(vae: Vae): number {
  return vae.encoder.countParams() + vae.decoder.countParams();
}

/** Seeded glorot-uniform Dense/Conv1D layer factories shared by the mlp and conv builders. */
function layerFactory(seed: number | undefined) {
  let s = seed ?? 1;
  const init = () => tf.initializers.glorotUniform({ seed: seed === undefined ? undefined : (s += 17) });
  return {
    dense: (name: string, units: number, activation: 'relu' | 'linear') => tf.layers.dense({ units, activation, name, kernelInitializer: init() }),
    conv: (name: string, filters: number, kernelSize: number, strides: number, activation: 'relu' | 'linear') =>
      tf.layers.conv1d({ filters, kernelSize, strides, padding: 'same', activation, name, kernelInitializer: init() }),
  };
}

function hiddenOf(dims: VaeDims, n: number): number[] {
  const h = dims.hidden ?? [];
  if (h.length !== n || h.some((v) => !Number.isInteger(v) || v <= 0)) throw new RangeError(`${archOf(dims)} VAE needs ${n} positive hidden widths; got ${JSON.stringify(dims.hidden)}`);
  return [...h];
}

/** The mlp preset (see the file comment). Layer names: enc_h{i}, enc_mu, enc_logvar; dec_h{i}, dec_out. */
function buildMlpVae(dims: VaeDims, seed: number | undefined): Vae {
  const { latentDim: L, T, C } = dims;
  const hidden = hiddenOf(dims, dims.hidden?.length || 1);
  const f = layerFactory(seed);
  const x = tf.input({ shape: [T, C], name: 'x' });
  let h = tf.layers.flatten({ name: 'enc_flatten' }).apply(x) as tf.SymbolicTensor;
  hidden.forEach((w, i) => (h = f.dense(`enc_h${i}`, w, 'relu').apply(h) as tf.SymbolicTensor));
  const mu = f.dense('enc_mu', L, 'linear').apply(h) as tf.SymbolicTensor;
  const logVar = f.dense('enc_logvar', L, 'linear').apply(h) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: x, outputs: [mu, logVar, h], name: 'encoder' });

  const z = tf.input({ shape: [L], name: 'z' });
  const rev = [...hidden].reverse();
  const demb = f.dense('dec_h0', rev[0]!, 'relu').apply(z) as tf.SymbolicTensor;
  let d = demb;
  for (let i = 1; i < rev.length; i++) d = f.dense(`dec_h${i}`, rev[i]!, 'relu').apply(d) as tf.SymbolicTensor;
  const flat = f.dense('dec_out', T * C, 'linear').apply(d) as tf.SymbolicTensor;
  const recon = tf.layers.reshape({ targetShape: [T, C], name: 'dec_reshape' }).apply(flat) as tf.SymbolicTensor;
  const decoder = tf.model({ inputs: z, outputs: [recon, demb], name: 'decoder' });
  return { dims, encoder, decoder };
}

/** The conv preset (see the file comment). Layer names: enc_conv{i}, enc_emb, enc_mu, enc_logvar; dec_emb, dec_fc, dec_conv{i}. */
function buildConvVae(dims: VaeDims, seed: number | undefined): Vae {
  const { latentDim: L, T, C } = dims;
  const filters = hiddenOf(dims, 3);
  const f = layerFactory(seed);
  const x = tf.input({ shape: [T, C], name: 'x' });
  let h: tf.SymbolicTensor = x;
  filters.forEach((n, i) => (h = f.conv(`enc_conv${i}`, n, CONV_KERNEL_DOWN, 2, 'relu').apply(h) as tf.SymbolicTensor));
  h = tf.layers.flatten({ name: 'enc_flatten' }).apply(h) as tf.SymbolicTensor;
  const emb = f.dense('enc_emb', CONV_EMBED, 'relu').apply(h) as tf.SymbolicTensor;
  const mu = f.dense('enc_mu', L, 'linear').apply(emb) as tf.SymbolicTensor;
  const logVar = f.dense('enc_logvar', L, 'linear').apply(emb) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: x, outputs: [mu, logVar, emb], name: 'encoder' });

  const T8 = convBottleneck(T);
  const z = tf.input({ shape: [L], name: 'z' });
  const demb = f.dense('dec_emb', CONV_EMBED, 'relu').apply(z) as tf.SymbolicTensor;
  let d = f.dense('dec_fc', T8 * filters[2]!, 'relu').apply(demb) as tf.SymbolicTensor;
  let len = T8;
  d = tf.layers.reshape({ targetShape: [len, filters[2]!], name: 'dec_reshape' }).apply(d) as tf.SymbolicTensor;
  const outFilters = [filters[1]!, filters[0]!, C];
  outFilters.forEach((n, i) => {
    // nearest-neighbour upsampling ×2 along time, as a 2-D upsampling over [len, 1, F]
    d = tf.layers.reshape({ targetShape: [len, 1, i === 0 ? filters[2]! : outFilters[i - 1]!], name: `dec_up${i}_in` }).apply(d) as tf.SymbolicTensor;
    d = tf.layers.upSampling2d({ size: [2, 1], name: `dec_up${i}` }).apply(d) as tf.SymbolicTensor;
    len *= 2;
    d = tf.layers.reshape({ targetShape: [len, i === 0 ? filters[2]! : outFilters[i - 1]!], name: `dec_up${i}_out` }).apply(d) as tf.SymbolicTensor;
    d = f.conv(`dec_conv${i}`, n, CONV_KERNEL_UP, 1, i < 2 ? 'relu' : 'linear').apply(d) as tf.SymbolicTensor;
  });
  if (len > T) {
    d = tf.layers.reshape({ targetShape: [len, 1, C], name: 'dec_crop_in' }).apply(d) as tf.SymbolicTensor;
    d = tf.layers.cropping2D({ cropping: [[0, len - T], [0, 0]], name: 'dec_crop' }).apply(d) as tf.SymbolicTensor;
    d = tf.layers.reshape({ targetShape: [T, C], name: 'dec_crop_out' }).apply(d) as tf.SymbolicTensor;
  }
  const decoder = tf.model({ inputs: z, outputs: [d, demb], name: 'decoder' });
  return { dims, encoder, decoder };
}
