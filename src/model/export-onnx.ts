/**
 * tfjs β-VAE → ONNX graphs built with onnx-proto (protobufjs message classes), not hand-written bytes.
 *
 *   encoder.onnx   x [N,T,C] → mu [N,L], logvar [N,L]
 *   decoder.onnx   z [N,L]   → recon [N,T,C]
 *
 * Inside, the graphs run time-major ([T,N,F]) so consecutive ONNX LSTM ops need no transposes between them.
 * Keras/tfjs LSTM weights are converted to ONNX conventions: kernels are transposed ([in,4U] → [4U,in]), gate
 * blocks reordered from Keras i,f,c,o to ONNX i,o,f,c, and the bias split into Wb (the Keras bias) and Rb (zeros).
 * A Bidirectional layer becomes one LSTM with direction "bidirectional": its Y [T,2,N,U] is transposed to [T,N,2,U]
 * and reshaped to [T,N,2U], which is Keras's concat (forward, then backward re-reversed to forward time); for the
 * last-step layer Y_h [2,N,U] gives the forward state at T−1 and the backward state after reading the whole reversed
 * sequence, which is what Keras returns. Default ONNX activations (sigmoid, tanh, tanh) match recurrent activation
 * sigmoid.
 *
 * The mlp and conv presets (vae.ts) export with the same inputs and outputs. mlp: Flatten (Reshape [N,T·C]) →
 * MatMul+Add(+Relu) per Dense → Reshape [N,T,C]. conv: the graph runs channels-first ([N,F,T], ONNX Conv's layout):
 * tfjs Conv1D kernels [k,in,out] become ONNX W [out,in,k] and TensorFlow's 'same' padding becomes explicit pads
 * (the extra one at the end); the encoder transposes back to [N,T8,F] before flattening so the Dense weights see
 * tfjs's order; nearest upsampling ×2 is Unsqueeze → Expand → Reshape; a crop to T is a Slice.
 */
import type * as tf from '@tensorflow/tfjs';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { archOf, CONV_EMBED, convBottleneck, type Vae } from './vae.ts';
import { samePadding } from './forward.ts';
import { BUNDLE_FILES, type BundleManifest } from './bundle.ts';
import { loadLayersModel } from './io.ts';
import { GraphBuilder, intAttr, intsAttr, modelBytes, ONNX_OPSET, strAttr, valueInfo } from './onnx-graph.ts';


/** Keras gate blocks (i,f,c,o) in ONNX order (i,o,f,c). */
const KERAS_TO_ONNX_GATES = [0, 3, 1, 2];

function weightsOf(model: tf.LayersModel, layerName: string): Float32Array[] {
  return model.getLayer(layerName).getWeights().map((w) => w.dataSync() as Float32Array);
}

/** Keras [rows, 4U] (gates i,f,c,o in columns) → ONNX [4U, rows] (gates i,o,f,c), written into out at `offset`. */
function convertKernel(k: Float32Array, rows: number, U: number, out: Float32Array, offset: number): void {
  for (let g = 0; g < 4; g++) {
    const src = KERAS_TO_ONNX_GATES[g]! * U;
    for (let u = 0; u < U; u++) {
      const o = offset + (g * U + u) * rows;
      for (let r = 0; r < rows; r++) out[o + r] = k[r * 4 * U + src + u]!;
    }
  }
}

/** Add one bidirectional LSTM node; returns [Y, Y_h]. */
function addBiLstm(g: GraphBuilder, model: tf.LayersModel, layer: string, input: string, inDim: number, U: number): [string, string] {
  const [fk, fr, fb, bk, br, bb] = weightsOf(model, layer) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const W = new Float32Array(2 * 4 * U * inDim);
  const R = new Float32Array(2 * 4 * U * U);
  const B = new Float32Array(2 * 8 * U); // per direction: Wb (Keras bias) then Rb (zeros)
  convertKernel(fk, inDim, U, W, 0);
  convertKernel(bk, inDim, U, W, 4 * U * inDim);
  convertKernel(fr, U, U, R, 0);
  convertKernel(br, U, U, R, 4 * U * U);
  [fb, bb].forEach((b, d) => {
    for (let gate = 0; gate < 4; gate++) B.set(b.subarray(KERAS_TO_ONNX_GATES[gate]! * U, KERAS_TO_ONNX_GATES[gate]! * U + U), d * 8 * U + gate * U);
  });
  const w = g.init(`${layer}_W`, [2, 4 * U, inDim], W);
  const r = g.init(`${layer}_R`, [2, 4 * U, U], R);
  const b = g.init(`${layer}_B`, [2, 8 * U], B);
  const [y, yh] = g.node('LSTM', [input, w, r, b], [`${layer}_Y`, `${layer}_Y_h`], [intAttr('hidden_size', U), strAttr('direction', 'bidirectional')]) as [string, string];
  return [y, yh];
}

/** BiLSTM returning sequences, time-major [T,N,in] → [T,N,2U]. */
function biLstmSeq(g: GraphBuilder, model: tf.LayersModel, layer: string, input: string, inDim: number, U: number): string {
  const [y] = addBiLstm(g, model, layer, input, inDim, U);
  const t = g.one('Transpose', [y], [intsAttr('perm', [0, 2, 1, 3])]); // [T,N,2,U]
  return g.one('Reshape', [t, g.ints(`${layer}_shape`, [0, 0, -1])]); // [T,N,2U]
}

function dense(g: GraphBuilder, model: tf.LayersModel, layer: string, input: string, inDim: number, outDim: number, relu: boolean, output?: string): string {
  const [k, b] = weightsOf(model, layer) as [Float32Array, Float32Array];
  const mm = g.one('MatMul', [input, g.init(`${layer}_kernel`, [inDim, outDim], k)]);
  const add = g.one('Add', [mm, g.init(`${layer}_bias`, [outDim], b)], [], relu ? undefined : output);
  return relu ? g.one('Relu', [add], [], output) : add;
}

function residualBlock(g: GraphBuilder, model: tf.LayersModel, prefix: string, input: string, inDim: number, U: number): string {
  const h1 = g.one('Relu', [biLstmSeq(g, model, `${prefix}_lstm0`, input, inDim, U)]);
  const h2 = g.one('Relu', [biLstmSeq(g, model, `${prefix}_lstm1`, h1, 2 * U, U)]);
  return g.one('Add', [inDim === 2 * U ? input : h1, h2]);
}

/** Conv1D layer → ONNX Conv on [N,in,L] (channels first), TensorFlow 'same' padding made explicit. */
function conv1d(g: GraphBuilder, model: tf.LayersModel, layer: string, input: string, inLen: number, stride: number, relu: boolean): { out: string; len: number } {
  const [k, b] = model.getLayer(layer).getWeights() as [tf.Tensor3D, tf.Tensor1D];
  const [K, cin, cout] = k.shape;
  const kd = k.dataSync() as Float32Array;
  const W = new Float32Array(cout * cin * K); // [out,in,k] from [k,in,out]
  for (let o = 0; o < cout; o++) for (let c = 0; c < cin; c++) for (let j = 0; j < K; j++) W[(o * cin + c) * K + j] = kd[(j * cin + c) * cout + o]!;
  const { before, after, out } = samePadding(inLen, K, stride);
  const y = g.one('Conv', [input, g.init(`${layer}_W`, [cout, cin, K], W), g.init(`${layer}_B`, [cout], b.dataSync() as Float32Array)], [intsAttr('kernel_shape', [K]), intsAttr('strides', [stride]), intsAttr('pads', [before, after])]);
  return { out: relu ? g.one('Relu', [y]) : y, len: out };
}

function mlpGraphs(vae: Vae): { encoder: Uint8Array; decoder: Uint8Array } {
  const { latentDim: L, T, C } = vae.dims;
  const hidden = [...(vae.dims.hidden ?? [])];
  const e = new GraphBuilder('enc');
  let h = e.one('Reshape', ['x', e.ints('flat', [0, -1])]);
  let dim = T * C;
  hidden.forEach((w, i) => {
    h = dense(e, vae.encoder, `enc_h${i}`, h, dim, w, true);
    dim = w;
  });
  dense(e, vae.encoder, 'enc_mu', h, dim, L, false, 'mu');
  dense(e, vae.encoder, 'enc_logvar', h, dim, L, false, 'logvar');
  const encoder = modelBytes(e, 'loopstream_encoder', [valueInfo('x', ['N', T, C])], [valueInfo('mu', ['N', L]), valueInfo('logvar', ['N', L])], `β-VAE (mlp) encoder: x [N,${T},${C}] scaled → mu, logvar [N,${L}]`);

  const d = new GraphBuilder('dec');
  const rev = [...hidden].reverse();
  let s = 'z';
  dim = L;
  rev.forEach((w, i) => {
    s = dense(d, vae.decoder, `dec_h${i}`, s, dim, w, true);
    dim = w;
  });
  const flat = dense(d, vae.decoder, 'dec_out', s, dim, T * C, false);
  d.one('Reshape', [flat, d.ints('recon_shape', [0, T, C])], [], 'recon');
  const decoder = modelBytes(d, 'loopstream_decoder', [valueInfo('z', ['N', L])], [valueInfo('recon', ['N', T, C])], `β-VAE (mlp) decoder: z [N,${L}] → recon [N,${T},${C}] scaled`);
  return { encoder, decoder };
}

function convGraphs(vae: Vae): { encoder: Uint8Array; decoder: Uint8Array } {
  const { latentDim: L, T, C } = vae.dims;
  const filters = [...(vae.dims.hidden ?? [])];
  const e = new GraphBuilder('enc');
  let h = e.one('Transpose', ['x'], [intsAttr('perm', [0, 2, 1])]); // [N,C,T]
  let len = T;
  for (let i = 0; i < 3; i++) ({ out: h, len } = conv1d(e, vae.encoder, `enc_conv${i}`, h, len, 2, true));
  const flat = e.one('Reshape', [e.one('Transpose', [h], [intsAttr('perm', [0, 2, 1])]), e.ints('flat', [0, -1])]); // [N,T8·F]
  const emb = dense(e, vae.encoder, 'enc_emb', flat, len * filters[2]!, CONV_EMBED, true);
  dense(e, vae.encoder, 'enc_mu', emb, CONV_EMBED, L, false, 'mu');
  dense(e, vae.encoder, 'enc_logvar', emb, CONV_EMBED, L, false, 'logvar');
  const encoder = modelBytes(e, 'loopstream_encoder', [valueInfo('x', ['N', T, C])], [valueInfo('mu', ['N', L]), valueInfo('logvar', ['N', L])], `β-VAE (conv) encoder: x [N,${T},${C}] scaled → mu, logvar [N,${L}]`);

  const d = new GraphBuilder('dec');
  const T8 = convBottleneck(T);
  const demb = dense(d, vae.decoder, 'dec_emb', 'z', L, CONV_EMBED, true);
  const fc = dense(d, vae.decoder, 'dec_fc', demb, CONV_EMBED, T8 * filters[2]!, true);
  let s = d.one('Transpose', [d.one('Reshape', [fc, d.ints('fc_shape', [0, T8, filters[2]!])])], [intsAttr('perm', [0, 2, 1])]); // [N,F,T8]
  len = T8;
  for (let i = 0; i < 3; i++) {
    // [N,F,L] → [N,F,L,1] → expand [N,F,L,2] → [N,F,2L]: each step repeated twice (nearest ×2)
    const un = d.one('Unsqueeze', [s, d.ints(`up${i}_axes`, [3])]);
    const ex = d.one('Expand', [un, d.ints(`up${i}_shape`, [1, 1, 1, 2])]);
    s = d.one('Reshape', [ex, d.ints(`up${i}_out`, [0, 0, -1])]);
    len *= 2;
    ({ out: s, len } = conv1d(d, vae.decoder, `dec_conv${i}`, s, len, 1, i < 2));
  }
  if (len > T) s = d.one('Slice', [s, d.ints('crop_start', [0]), d.ints('crop_end', [T]), d.ints('crop_axes', [2])]);
  d.one('Transpose', [s], [intsAttr('perm', [0, 2, 1])], 'recon');
  const decoder = modelBytes(d, 'loopstream_decoder', [valueInfo('z', ['N', L])], [valueInfo('recon', ['N', T, C])], `β-VAE (conv) decoder: z [N,${L}] → recon [N,${T},${C}] scaled`);
  return { encoder, decoder };
}

/** Convert a built (or trained) VAE into encoder and decoder ONNX models (serialized ModelProto bytes). */
export function exportOnnx(vae: Vae): { encoder: Uint8Array; decoder: Uint8Array } {
  if (archOf(vae.dims) === 'mlp') return mlpGraphs(vae);
  if (archOf(vae.dims) === 'conv') return convGraphs(vae);
  const { units: U, blocks, latentDim: L, T, C } = vae.dims;

  const e = new GraphBuilder('enc');
  let h = e.one('Transpose', ['x'], [intsAttr('perm', [1, 0, 2])]); // [T,N,C]
  let dim = C;
  for (let b = 0; b < blocks; b++) {
    h = residualBlock(e, vae.encoder, `enc_b${b}`, h, dim, U);
    dim = 2 * U;
  }
  const [, yh] = addBiLstm(e, vae.encoder, 'enc_last', h, dim, U); // Y_h [2,N,U]
  const last = e.one('Reshape', [e.one('Transpose', [yh], [intsAttr('perm', [1, 0, 2])]), e.ints('enc_last_shape', [0, -1])]); // [N,2U]
  const emb = dense(e, vae.encoder, 'enc_emb', last, 2 * U, L, true);
  dense(e, vae.encoder, 'enc_mu', emb, L, L, false, 'mu');
  dense(e, vae.encoder, 'enc_logvar', emb, L, L, false, 'logvar');
  const encoder = modelBytes(e, 'loopstream_encoder', [valueInfo('x', ['N', T, C])], [valueInfo('mu', ['N', L]), valueInfo('logvar', ['N', L])], `β-VAE encoder: x [N,${T},${C}] scaled → mu, logvar [N,${L}]`);

  const d = new GraphBuilder('dec');
  const demb = dense(d, vae.decoder, 'dec_emb', 'z', L, L, true); // [N,L]
  const rep = d.one('Expand', [d.one('Unsqueeze', [demb, d.ints('axes0', [0])]), d.ints('repeat_shape', [T, 1, 1])]); // [T,N,L]
  let s = d.one('Relu', [biLstmSeq(d, vae.decoder, 'dec_lstm', rep, L, U)]);
  for (let b = 0; b < blocks; b++) s = residualBlock(d, vae.decoder, `dec_b${b}`, s, 2 * U, U);
  const out = dense(d, vae.decoder, 'dec_out', s, 2 * U, C, false); // [T,N,C]
  d.one('Transpose', [out], [intsAttr('perm', [1, 0, 2])], 'recon');
  const decoder = modelBytes(d, 'loopstream_decoder', [valueInfo('z', ['N', L])], [valueInfo('recon', ['N', T, C])], `β-VAE decoder: z [N,${L}] → recon [N,${T},${C}] scaled`);
  return { encoder, decoder };
}

/** Read a bundle's tfjs models, write encoder.onnx and decoder.onnx beside them and record them in the manifest. */
export async function exportBundleOnnx(dir: string): Promise<{ encoderBytes: number; decoderBytes: number }> {
  const manifest = JSON.parse(await readFile(join(dir, BUNDLE_FILES.manifest), 'utf8')) as BundleManifest;
  const encoder = await loadLayersModel(join(dir, BUNDLE_FILES.tfjsEncoder));
  const decoder = await loadLayersModel(join(dir, BUNDLE_FILES.tfjsDecoder));
  const bytes = exportOnnx({ dims: manifest.dims, encoder, decoder });
  await writeFile(join(dir, BUNDLE_FILES.encoderOnnx), bytes.encoder);
  await writeFile(join(dir, BUNDLE_FILES.decoderOnnx), bytes.decoder);
  manifest.onnx = { encoder: BUNDLE_FILES.encoderOnnx, decoder: BUNDLE_FILES.decoderOnnx, opset: ONNX_OPSET };
  await writeFile(join(dir, BUNDLE_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
  encoder.dispose();
  decoder.dispose();
  return { encoderBytes: bytes.encoder.length, decoderBytes: bytes.decoder.length };
}
