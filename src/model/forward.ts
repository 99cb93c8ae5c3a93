/**
 * The training forward pass of every architecture, as plain tfjs ops on the layers' own variables (so a trained
 * model saves, exports and runs exactly like its layers graph):
 * - lstm: fast-lstm.ts (one custom op per LSTM pass);
 * - mlp: Dense layers as matMul + bias;
 * - conv: each Conv1D as matmuls over shifted views, because the wasm backend has no Conv2DBackpropFilter kernel
 *   (tfjs-layers' conv1d cannot be trained there). Stride-2 kernel-4 'same' convolutions use space-to-depth: the
 *   padded input [N, 2(out+1), C] is viewed as [N, out+1, 2C] and y_i = row_i·K[0:2] + row_{i+1}·K[2:4]; the
 *   stride-1 kernel-3 convolutions concatenate the three shifted slices ([N, L, 3C]) and do one matmul.
 * `test/model/forward.test.ts` checks every path against `model.predict`.
 */
import * as tf from '@tensorflow/tfjs';
import { decodeFast, encodeFast } from './fast-lstm.ts';
import { archOf, CONV_KERNEL_DOWN, CONV_KERNEL_UP, convBottleneck, type Vae } from './vae.ts';

/**
 * a·b whose gradients multiply by explicitly transposed copies (da = g·transpose(b), db = transpose(a)·g) instead of
 * matMul's transpose flags: on the wasm backend a flagged BatchMatMul is 7–10× slower than a plain one (measured:
 * [128,192]·[192,256] 6 ms, the same with transposeA 61 ms, with transposeB 44 ms; docs/model.md), and these two
 * products are most of a training step.
 */
export function matMulT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((...args: unknown[]) => {
    const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.matMul(x, w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)];
      },
    };
  });
  return f(a, b) as tf.Tensor2D;
}

function vars(model: tf.LayersModel, name: string): tf.Tensor[] {
  return model.getLayer(name).trainableWeights.map((w) => w.read());
}

/** Dense layer `name` of `model` on [N, in]: x·K + b, ReLU when asked. */
function dense(model: tf.LayersModel, name: string, x: tf.Tensor2D, relu: boolean): tf.Tensor2D {
  const [k, b] = vars(model, name) as [tf.Tensor2D, tf.Tensor1D];
  const y = tf.add(matMulT(x, k), b) as tf.Tensor2D;
  return relu ? tf.relu(y) : y;
}

/** TensorFlow 'same' padding of a 1-D convolution: [before, after] and the output length. */
export function samePadding(length: number, kernel: number, stride: number): { before: number; after: number; out: number } {
  const out = Math.ceil(length / stride);
  const total = Math.max((out - 1) * stride + kernel - length, 0);
  const before = Math.floor(total / 2);
  return { before, after: total - before, out };
}

/** Conv1D `name` (kernel 4, stride 2, 'same') on [N, L, Cin] by space-to-depth and two matmuls. */
function convDown(model: tf.LayersModel, name: string, x: tf.Tensor3D, relu: boolean): tf.Tensor3D {
  const [k, b] = vars(model, name) as [tf.Tensor3D, tf.Tensor1D]; // k [4, Cin, Cout]
  const [N, L, Cin] = x.shape;
  const Cout = k.shape[2];
  if (k.shape[0] !== CONV_KERNEL_DOWN) throw new RangeError(`${name}: kernel ${k.shape[0]}; the fast conv path needs ${CONV_KERNEL_DOWN}`);
  const { before, after, out } = samePadding(L, CONV_KERNEL_DOWN, 2);
  const rows = tf.pad(x, [[0, 0], [before, after], [0, 0]]).reshape([N, out + 1, 2 * Cin]);
  const ka = tf.slice(k, [0, 0, 0], [2, Cin, Cout]).reshape([2 * Cin, Cout]) as tf.Tensor2D;
  const kb = tf.slice(k, [2, 0, 0], [2, Cin, Cout]).reshape([2 * Cin, Cout]) as tf.Tensor2D;
  const lo = tf.slice(rows, [0, 0, 0], [N, out, 2 * Cin]).reshape([N * out, 2 * Cin]) as tf.Tensor2D;
  const hi = tf.slice(rows, [0, 1, 0], [N, out, 2 * Cin]).reshape([N * out, 2 * Cin]) as tf.Tensor2D;
  let y: tf.Tensor = tf.add(tf.add(matMulT(lo, ka), matMulT(hi, kb)), b);
  if (relu) y = tf.relu(y);
  return y.reshape([N, out, Cout]);
}

/** Conv1D `name` (kernel 3, stride 1, 'same') on [N, L, Cin]: the three shifted slices side by side, one matmul. */
function convSame(model: tf.LayersModel, name: string, x: tf.Tensor3D, relu: boolean): tf.Tensor3D {
  const [k, b] = vars(model, name) as [tf.Tensor3D, tf.Tensor1D]; // k [3, Cin, Cout]
  const [N, L, Cin] = x.shape;
  const Cout = k.shape[2];
  const K = CONV_KERNEL_UP;
  const { before, after } = samePadding(L, K, 1);
  const p = tf.pad(x, [[0, 0], [before, after], [0, 0]]);
  const cols = tf.concat(Array.from({ length: K }, (_, j) => tf.slice(p, [0, j, 0], [N, L, Cin])), 2).reshape([N * L, K * Cin]) as tf.Tensor2D;
  let y: tf.Tensor = tf.add(matMulT(cols, k.reshape([K * Cin, Cout]) as tf.Tensor2D), b);
  if (relu) y = tf.relu(y);
  return y.reshape([N, L, Cout]);
}

/** Nearest-neighbour upsampling ×2 along time: [N, L, F] → [N, 2L, F]. */
function upsample2(x: tf.Tensor3D): tf.Tensor3D {
  const [N, L, F] = x.shape;
  const e = x.reshape([N, L, 1, F]);
  return tf.concat([e, e], 2).reshape([N, 2 * L, F]);
}

/** Encoder forward for training: [μ, log σ², embedding activations], equal to `vae.encoder.apply(x)`. */
export function encodeTrain(vae: Vae, x: tf.Tensor3D): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] {
  const arch = archOf(vae.dims);
  if (arch === 'lstm') return encodeFast(vae, x);
  const m = vae.encoder;
  const [N, T, C] = x.shape;
  let emb: tf.Tensor2D;
  if (arch === 'mlp') {
    let h = x.reshape([N, T * C]) as tf.Tensor2D;
    for (let i = 0; i < (vae.dims.hidden?.length ?? 0); i++) h = dense(m, `enc_h${i}`, h, true);
    emb = h;
  } else {
    let h = x;
    for (let i = 0; i < 3; i++) h = convDown(m, `enc_conv${i}`, h, true);
    emb = dense(m, 'enc_emb', h.reshape([N, -1]) as tf.Tensor2D, true);
  }
  return [dense(m, 'enc_mu', emb, false), dense(m, 'enc_logvar', emb, false), emb];
}

/** Decoder forward for training: [x̂, decoder embedding activations], equal to `vae.decoder.apply(z)`. */
export function decodeTrain(vae: Vae, z: tf.Tensor2D): [tf.Tensor3D, tf.Tensor2D] {
  const arch = archOf(vae.dims);
  if (arch === 'lstm') return decodeFast(vae, z);
  const m = vae.decoder;
  const { T, C } = vae.dims;
  const N = z.shape[0];
  if (arch === 'mlp') {
    const demb = dense(m, 'dec_h0', z, true);
    let d = demb;
    for (let i = 1; i < (vae.dims.hidden?.length ?? 0); i++) d = dense(m, `dec_h${i}`, d, true);
    return [dense(m, 'dec_out', d, false).reshape([N, T, C]), demb];
  }
  const demb = dense(m, 'dec_emb', z, true);
  const T8 = convBottleneck(T);
  let d = dense(m, 'dec_fc', demb, true).reshape([N, T8, -1]) as tf.Tensor3D;
  for (let i = 0; i < 3; i++) d = convSame(m, `dec_conv${i}`, upsample2(d), i < 2);
  if (d.shape[1] > T) d = tf.slice(d, [0, 0, 0], [N, T, C]);
  return [d, demb];
}
