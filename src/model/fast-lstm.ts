/**
 * A fast training path for the β-VAE: the same math as the tfjs layers graph of vae.ts, with each LSTM pass computed
 * by one custom op (forward and back-propagation through time in plain typed-array loops, tf.customGrad) instead of
 * tfjs-layers' per-step kernels. Measured on this 2-core machine, one edge training step went from ~115,000 wasm
 * kernel calls (17 s under load) to a few hundred (docs/model.md). The weights are the layers' own variables, so a
 * model trained here saves, exports and runs exactly like one trained through `model.apply`; a test checks both
 * paths give the same outputs and gradients.
 *
 * LSTM (Keras conventions): z = x_t·K + h_{t−1}·R + b, gates [i, f, c, o] = [σ, σ, tanh, σ](z), c_t = f·c_{t−1} + i·g,
 * h_t = o·tanh(c_t); the reverse direction reads t = T−1 … 0 and its output at t is the state after reading t.
 */
import * as tf from '@tensorflow/tfjs';
import type { Vae } from './vae.ts';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** One LSTM direction over [B,T,D] → [B,T,U] (or the final state [B,U]), differentiable in x, K, R and b. */
export function lstmPass(x: tf.Tensor3D, kernel: tf.Tensor2D, recurrent: tf.Tensor2D, bias: tf.Tensor1D, reverse: boolean, returnSequences: boolean): tf.Tensor {
  const f = tf.customGrad((...args: unknown[]) => {
    const [xT, kT, rT, bT, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([xT, kT]); // kept alive for the backward matmuls
    const [B, T, D] = xT.shape;
    const U = rT.shape[0];
    const G = 4 * U;
    // The input projection of every step is one large matmul (wasm/XNNPACK); only the recurrence runs in JS.
    const zxT = tf.tidy(() => tf.add(tf.matMul(xT.reshape([B * T, D]), kT), bT));
    const zx = zxT.dataSync() as Float32Array; // row b·T + t
    zxT.dispose();
    const R = rT.dataSync() as Float32Array;
    // Saved per processed step s (0 … T−1 in reading order): gates (B×4U, activated), c, tanh(c), h (B×U each).
    const gates = new Float32Array(T * B * G);
    const cs = new Float32Array(T * B * U);
    const tcs = new Float32Array(T * B * U);
    const hs = new Float32Array(T * B * U);
    const y = new Float32Array(returnSequences ? B * T * U : B * U);
    const z = new Float32Array(G);
    for (let s = 0; s < T; s++) {
      const t = reverse ? T - 1 - s : s;
      for (let b = 0; b < B; b++) {
        const zo = (b * T + t) * G;
        for (let g = 0; g < G; g++) z[g] = zx[zo + g]!;
        if (s > 0) {
          const ho = ((s - 1) * B + b) * U;
          for (let u = 0; u < U; u++) {
            const hv = hs[ho + u]!;
            const ro = u * G;
            for (let g = 0; g < G; g++) z[g]! += hv * R[ro + g]!;
          }
        }
        const go = (s * B + b) * G;
        const so = (s * B + b) * U;
        const po = ((s - 1) * B + b) * U;
        for (let u = 0; u < U; u++) {
          const i = sigmoid(z[u]!);
          const fg = sigmoid(z[U + u]!);
          const g = Math.tanh(z[2 * U + u]!);
          const o = sigmoid(z[3 * U + u]!);
          gates[go + u] = i;
          gates[go + U + u] = fg;
          gates[go + 2 * U + u] = g;
          gates[go + 3 * U + u] = o;
          const c = (s > 0 ? fg * cs[po + u]! : 0) + i * g;
          const tc = Math.tanh(c);
          cs[so + u] = c;
          tcs[so + u] = tc;
          const h = o * tc;
          hs[so + u] = h;
          if (returnSequences) y[(b * T + t) * U + u] = h;
          else if (s === T - 1) y[b * U + u] = h;
        }
      }
    }
    const value = returnSequences ? tf.tensor3d(y, [B, T, U]) : tf.tensor2d(y, [B, U]);
    const gradFunc = (dyT: tf.Tensor, saved: tf.Tensor[]) => {
      const [xS, kS] = saved as [tf.Tensor3D, tf.Tensor2D];
      const dy = dyT.dataSync() as Float32Array;
      const dZ = new Float32Array(B * T * G); // row b·T + t, like zx
      const dR = new Float64Array(U * G);
      const dhNext = new Float32Array(B * U);
      const dcNext = new Float32Array(B * U);
      for (let s = T - 1; s >= 0; s--) {
        const t = reverse ? T - 1 - s : s;
        for (let b = 0; b < B; b++) {
          const go = (s * B + b) * G;
          const so = (s * B + b) * U;
          const po = ((s - 1) * B + b) * U;
          const zo = (b * T + t) * G;
          for (let u = 0; u < U; u++) {
            let dh = dhNext[b * U + u]!;
            if (returnSequences) dh += dy[(b * T + t) * U + u]!;
            else if (s === T - 1) dh += dy[b * U + u]!;
            const i = gates[go + u]!;
            const fg = gates[go + U + u]!;
            const g = gates[go + 2 * U + u]!;
            const o = gates[go + 3 * U + u]!;
            const tc = tcs[so + u]!;
            const dc = dh * o * (1 - tc * tc) + dcNext[b * U + u]!;
            const cPrev = s > 0 ? cs[po + u]! : 0;
            dZ[zo + u] = dc * g * i * (1 - i);
            dZ[zo + U + u] = dc * cPrev * fg * (1 - fg);
            dZ[zo + 2 * U + u] = dc * i * (1 - g * g);
            dZ[zo + 3 * U + u] = dh * tc * o * (1 - o);
            dcNext[b * U + u] = dc * fg;
          }
          for (let u = 0; u < U; u++) {
            const hPrev = s > 0 ? hs[po + u]! : 0;
            const ro = u * G;
            let acc = 0;
            for (let g = 0; g < G; g++) {
              const d = dZ[zo + g]!;
              dR[ro + g]! += hPrev * d;
              acc += R[ro + g]! * d;
            }
            dhNext[b * U + u] = acc;
          }
        }
      }
      return tf.tidy(() => {
        const dz2 = tf.tensor2d(dZ, [B * T, G]);
        const dx = tf.matMul(dz2, kS, false, true).reshape([B, T, D]); // dZ·Kᵀ
        const dK = tf.matMul(xS.reshape([B * T, D]), dz2, true, false); // Xᵀ·dZ
        const db = tf.sum(dz2, 0);
        return [dx, dK, tf.tensor2d(Float32Array.from(dR), [U, G]), db];
      });
    };
    return { value, gradFunc };
  });
  return f(x, kernel, recurrent, bias);
}

function vars(model: tf.LayersModel, name: string): tf.Tensor[] {
  return model.getLayer(name).trainableWeights.map((w) => w.read());
}

function biLstm(model: tf.LayersModel, name: string, x: tf.Tensor3D, returnSequences: boolean): tf.Tensor {
  const [fk, fr, fb, bk, br, bb] = vars(model, name) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
  const fwd = lstmPass(x, fk, fr, fb, false, returnSequences);
  const bwd = lstmPass(x, bk, br, bb, true, returnSequences);
  return tf.concat([fwd, bwd], -1);
}

function dense(model: tf.LayersModel, name: string, x: tf.Tensor, relu: boolean): tf.Tensor {
  const [k, b] = vars(model, name) as [tf.Tensor2D, tf.Tensor1D];
  const shape = x.shape;
  const flat = shape.length === 2 ? (x as tf.Tensor2D) : x.reshape([-1, shape[shape.length - 1]!]) as tf.Tensor2D;
  let y: tf.Tensor = tf.add(tf.matMul(flat, k), b);
  if (relu) y = tf.relu(y);
  return shape.length === 2 ? y : y.reshape([...shape.slice(0, -1), k.shape[1]]);
}

function block(model: tf.LayersModel, prefix: string, x: tf.Tensor3D, inDim: number, units: number): tf.Tensor3D {
  const h1 = tf.relu(biLstm(model, `${prefix}_lstm0`, x, true)) as tf.Tensor3D;
  const h2 = tf.relu(biLstm(model, `${prefix}_lstm1`, h1, true)) as tf.Tensor3D;
  return tf.add(inDim === 2 * units ? x : h1, h2);
}

/** Encoder forward on the fast path: [μ, log σ², embedding activations], same as `vae.encoder.apply(x)`. */
export function encodeFast(vae: Vae, x: tf.Tensor3D): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] {
  const { units, blocks, C } = vae.dims;
  let h = x;
  let dim = C;
  for (let b = 0; b < blocks; b++) {
    h = block(vae.encoder, `enc_b${b}`, h, dim, units);
    dim = 2 * units;
  }
  const last = biLstm(vae.encoder, 'enc_last', h, false);
  const emb = dense(vae.encoder, 'enc_emb', last, true) as tf.Tensor2D;
  return [dense(vae.encoder, 'enc_mu', emb, false) as tf.Tensor2D, dense(vae.encoder, 'enc_logvar', emb, false) as tf.Tensor2D, emb];
}

/** Decoder forward on the fast path: [x̂, decoder embedding activations], same as `vae.decoder.apply(z)`. */
export function decodeFast(vae: Vae, z: tf.Tensor2D): [tf.Tensor3D, tf.Tensor2D] {
  const { units, blocks, T } = vae.dims;
  const demb = dense(vae.decoder, 'dec_emb', z, true) as tf.Tensor2D;
  const rep = tf.tile(tf.expandDims(demb, 1), [1, T, 1]) as tf.Tensor3D;
  let d = tf.relu(biLstm(vae.decoder, 'dec_lstm', rep, true)) as tf.Tensor3D;
  for (let b = 0; b < blocks; b++) d = block(vae.decoder, `dec_b${b}`, d, 2 * units, units);
  return [dense(vae.decoder, 'dec_out', d, false) as tf.Tensor3D, demb];
}
