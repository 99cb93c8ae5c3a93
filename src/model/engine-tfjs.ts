/**
 * The tfjs engine: runs the bundle's tfjs layers models (on the GPU when @tensorflow/tfjs-node-gpu is installed,
 * else wasm). Slower than onnx on CPU; used for parity checks and by fine-tuning.
 */
import * as tf from '@tensorflow/tfjs';
import type { Bundle } from './bundle.ts';
import { initBackend } from './backend.ts';
import { loadLayersModel } from './io.ts';
import { encodeThenDecode, inputGuard, type EngineOptions, type InferenceEngine } from './engine.ts';

/** An engine over already-built tfjs models (encoder x → [μ, log σ², …], decoder z → [x̂, …]). */
export function tfjsEngineFromModels(encoder: tf.LayersModel, decoder: tf.LayersModel, dims: { T: number; C: number; latentDim: number }, version: number): InferenceEngine {
  const { T, C, latentDim: L } = dims;
  let closed = false;
  const check = inputGuard('tfjs', () => closed);
  const encode = async (x: Float32Array, n: number) => {
    check(x, n, T * C, 'encode');
    const outs = tf.tidy(() => encoder.predict(tf.tensor3d(x.subarray(0, n * T * C), [n, T, C])) as tf.Tensor[]);
    const [mu, logVar] = await Promise.all([outs[0]!.data() as Promise<Float32Array>, outs[1]!.data() as Promise<Float32Array>]);
    tf.dispose(outs);
    return { mu, logVar };
  };
  const decode = async (z: Float32Array, n: number) => {
    check(z, n, L, 'decode');
    const outs = tf.tidy(() => decoder.predict(tf.tensor2d(z.subarray(0, n * L), [n, L])) as tf.Tensor[]);
    const recon = (await outs[0]!.data()) as Float32Array;
    tf.dispose(outs);
    return recon;
  };
  return {
    latentDim: L,
    T,
    C,
    version,
    encode,
    decode,
    encodeDecode: (x, n) => encodeThenDecode({ encode, decode }, x, n, T * C),
    async close() {
      closed = true;
    },
  };
}

/** Load the bundle's tfjs models and wrap them as an engine. */
export async function createTfjsEngine(bundle: Bundle, opts: EngineOptions): Promise<InferenceEngine> {
  await initBackend();
  const encoder = await loadLayersModel(bundle.tfjsEncoderPath);
  const decoder = await loadLayersModel(bundle.tfjsDecoderPath);
  const engine = tfjsEngineFromModels(encoder, decoder, bundle, opts.version ?? bundle.manifest.version);
  const close = engine.close;
  return {
    ...engine,
    async close() {
      await close();
      encoder.dispose();
      decoder.dispose();
    },
  };
}
