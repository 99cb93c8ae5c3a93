/**
 * FLOPs and parameters of the β-VAE (src/model/vae.ts), counted from the architecture alone — pure functions,
 * so the benchmark's GFLOP/s do not depend on any runtime's own accounting.
 *
 * Counted: the matrix products, 2 FLOPs per multiply-add (the convention SGEMM peaks are quoted in). A BiLSTM
 * layer with `in` inputs and U units per direction does, per time step and direction, x·W [in → 4U] and h·R
 * [U → 4U]: 2·4U·(in + U) FLOPs. The layer that returns only the last step still runs all T steps in both
 * directions. Dense layers: 2·in·out per sample (per step for the time-distributed output). Not counted: biases,
 * gate nonlinearities, ReLUs, residual adds, transposes — O(U) per step against O(U²), and not GEMM work, so
 * leaving them out keeps "% of SGEMM peak" honest (it can only under-state the work done).
 */
import type { VaeDims } from '../src/model/bundle.ts';
import { archOf, CONV_EMBED, CONV_KERNEL_DOWN, CONV_KERNEL_UP, convBottleneck } from '../src/model/vae.ts';

/** mlp: 2·in·out per Dense layer; conv: 2·out_len·k·in·out per Conv1D plus the Dense layers (vae.ts). */
function nonRecurrentFlops(dims: VaeDims): VaeFlops {
  const { latentDim: L, T, C } = dims;
  const h = [...(dims.hidden ?? [])];
  const dense = (i: number, o: number) => 2 * i * o;
  if (archOf(dims) === 'mlp') {
    const widths = [T * C, ...h];
    let encoder = 2 * dense(h[h.length - 1]!, L);
    let decoder = dense(h[0]!, T * C);
    for (let i = 0; i + 1 < widths.length; i++) {
      encoder += dense(widths[i]!, widths[i + 1]!);
      decoder += dense(widths[i + 1]!, i + 2 < widths.length ? widths[i + 2]! : L);
    }
    return { encoder, decoder, total: encoder + decoder };
  }
  let encoder = 0;
  let len = T;
  let cin = C;
  for (const f of h) {
    len = Math.ceil(len / 2);
    encoder += 2 * len * CONV_KERNEL_DOWN * cin * f;
    cin = f;
  }
  encoder += dense(len * cin, CONV_EMBED) + 2 * dense(CONV_EMBED, L);
  const T8 = convBottleneck(T);
  let decoder = dense(L, CONV_EMBED) + dense(CONV_EMBED, T8 * h[2]!);
  len = T8;
  cin = h[2]!;
  for (const f of [h[1]!, h[0]!, C]) {
    len *= 2;
    decoder += 2 * len * CONV_KERNEL_UP * cin * f;
    cin = f;
  }
  return { encoder, decoder, total: encoder + decoder };
}

/** Matmul FLOPs of one sequence (one pixel) through each half of the VAE. */
export interface VaeFlops {
  /** x [T,C] → μ, log σ² */
  encoder: number;
  /** z [L] → x̂ [T,C] */
  decoder: number;
  /** encoder + decoder (what the pipeline runs per pixel) */
  total: number;
}

/** FLOPs of one bidirectional LSTM layer over T steps (both directions). */
export function biLstmFlops(T: number, inDim: number, U: number): number {
  return 2 * T * 2 * 4 * U * (inDim + U);
}

/** Parameters of one bidirectional LSTM layer (Keras: kernel, recurrent kernel, one bias per direction). */
export function biLstmParams(inDim: number, U: number): number {
  return 2 * (4 * U * (inDim + U) + 4 * U);
}

/** Matmul FLOPs per sequence for the given dims (see the file comment for what is counted). */
export function vaeFlops(dims: VaeDims): VaeFlops {
  if (archOf(dims) !== 'lstm') return nonRecurrentFlops(dims);
  const { units: U, blocks, latentDim: L, T, C } = dims;
  let encoder = 0;
  let dim = C;
  for (let b = 0; b < blocks; b++) {
    encoder += biLstmFlops(T, dim, U) + biLstmFlops(T, 2 * U, U);
    dim = 2 * U;
  }
  encoder += biLstmFlops(T, dim, U); // enc_last
  encoder += 2 * 2 * U * L + 2 * (2 * L * L); // enc_emb, enc_mu, enc_logvar

  let decoder = 2 * L * L; // dec_emb
  decoder += biLstmFlops(T, L, U); // dec_lstm
  for (let b = 0; b < blocks; b++) decoder += 2 * biLstmFlops(T, 2 * U, U);
  decoder += T * 2 * 2 * U * C; // dec_out, time-distributed
  return { encoder, decoder, total: encoder + decoder };
}

/** Trainable parameters of encoder + decoder (matches `countParams(buildVae(dims))`). */
export function vaeParams(dims: VaeDims): number {
  if (archOf(dims) !== 'lstm') throw new RangeError('vaeParams counts LSTM presets; use countParams(buildVae(dims)) for mlp and conv');
  const { units: U, blocks, latentDim: L, C } = dims;
  const dense = (i: number, o: number) => i * o + o;
  let p = 0;
  let dim = C;
  for (let b = 0; b < blocks; b++) {
    p += biLstmParams(dim, U) + biLstmParams(2 * U, U);
    dim = 2 * U;
  }
  p += biLstmParams(dim, U) + dense(2 * U, L) + 2 * dense(L, L);
  p += dense(L, L) + biLstmParams(L, U);
  for (let b = 0; b < blocks; b++) p += 2 * biLstmParams(2 * U, U);
  p += dense(2 * U, C);
  return p;
}
