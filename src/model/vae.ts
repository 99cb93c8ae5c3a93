/**
 * The LSTM β-VAE of the paper (DOMAIN.md §3), built with tfjs layers and parameterised by VaeDims.
 *
 * Encoder  x [T,C] → `blocks` residual blocks of 2 × (BiLSTM(units) → ReLU), shortcut added around the pair
 *          (the first block's shortcut starts at its first layer's output, since C ≠ 2·units) → BiLSTM returning
 *          the last step → Dense(L)+ReLU (the embedding activations, L1 penalty) → Dense(L) heads μ and log σ².
 * Decoder  z [L] → Dense(L)+ReLU (L1 penalty) → RepeatVector(T) → BiLSTM → ReLU → `blocks` residual blocks →
 *          time-distributed linear Dense(C).
 * LSTMs use Keras conventions (gates i,f,c,o; tanh; recurrent activation sigmoid — tfjs defaults to hardSigmoid).
 * With units 128 and 3 blocks this is the reference model: 5,018,946 parameters for T = 96, C = 2.
 */
import * as tf from '@tensorflow/tfjs';
import type { VaeDims } from './bundle.ts';

/** Named model sizes. `edge` was chosen by measurement on a 2-core CPU (docs/model.md). */
export const PRESETS = {
  paper: { units: 128, blocks: 3, latentDim: 16 },
  edge: { units: 16, blocks: 0, latentDim: 16 },
} as const satisfies Record<string, Omit<VaeDims, 'T' | 'C'>>;
export type PresetName = keyof typeof PRESETS;

/** A built VAE: encoder x → [μ, log σ², embedding activations], decoder z → [x̂, decoder embedding activations]. */
export interface Vae {
  dims: VaeDims;
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
}

/** Dims of a preset for a given input shape. */
export function presetDims(preset: PresetName, T: number, C: number): VaeDims {
  const p = PRESETS[preset];
  if (!p) throw new RangeError(`unknown preset "${String(preset)}"; expected one of ${Object.keys(PRESETS).join(', ')}`);
  return { ...p, T, C };
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

/** Trainable parameter count of encoder + decoder. */
export function countParams(vae: Vae): number {
  return vae.encoder.countParams() + vae.decoder.countParams();
}
