/**
 * The onnx engine: two onnxruntime-node sessions (encoder.onnx, decoder.onnx) run on batches of n pixels.
 * Execution provider and intra-op threads come from the config; an unavailable GPU provider is a clear error.
 */
import type * as Ort from 'onnxruntime-node';
import { ort } from './onnxruntime.ts';
import type { Bundle } from './bundle.ts';
import { EngineError } from './errors.ts';
import { encodeThenDecode, inputGuard, type EngineOptions, type InferenceEngine } from './engine.ts';

const HOW_TO_ENABLE: Record<string, string> = {
  cuda: 'the installed onnxruntime-node has no CUDA provider: on a machine with CUDA 12, remove the `onnxruntime-node-install=skip` line from .npmrc and run `npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12` (docs/operations.md)',
  webgpu: 'the installed onnxruntime-node has no WebGPU provider on this platform; use model.provider=cpu, or a platform whose onnxruntime-node build lists webgpu (docs/operations.md)',
};

/** Open encoder and decoder sessions for a bundle. */
export async function createOnnxEngine(bundle: Bundle, opts: EngineOptions): Promise<InferenceEngine> {
  const sessionOptions: Ort.InferenceSession.SessionOptions = {
    executionProviders: [opts.provider],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // No busy-waiting in the intra-op pool: onnxruntime-node runs a session on the JS main thread, and on a small
    // shared CPU the spinning pool thread takes the core the event loop (ZeroMQ, Socket.IO, HDF5) needs. Measured
    // on the 2-core bench machine under load (bench/, docs/performance.md): edge encoder, 2 threads, batch 16
    // 6.4 → 2.3 ms, batch 256 97 → 57 ms; 1 thread unchanged.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  let enc: Ort.InferenceSession;
  let dec: Ort.InferenceSession;
  try {
    enc = await ort.InferenceSession.create(bundle.onnxEncoderPath, sessionOptions);
    dec = await ort.InferenceSession.create(bundle.onnxDecoderPath, sessionOptions);
  } catch (err) {
    const msg = (err as Error).message;
    if (opts.provider !== 'cpu') {
      throw new EngineError('LS_ENGINE_PROVIDER', `onnxruntime cannot use execution provider "${opts.provider}" (${msg.split('\n')[0]}); ${HOW_TO_ENABLE[opts.provider]}`);
    }
    throw err;
  }
  const { T, C, latentDim: L } = bundle;
  let closed = false;
  const check = inputGuard('onnx', () => closed);
  const encode = async (x: Float32Array, n: number) => {
    check(x, n, T * C, 'encode');
    const input = new ort.Tensor('float32', x.length === n * T * C ? x : x.subarray(0, n * T * C), [n, T, C]);
    const out = await enc.run({ x: input });
    return { mu: out['mu']!.data as Float32Array, logVar: out['logvar']!.data as Float32Array };
  };
  const decode = async (z: Float32Array, n: number) => {
    check(z, n, L, 'decode');
    const out = await dec.run({ z: new ort.Tensor('float32', z.length === n * L ? z : z.subarray(0, n * L), [n, L]) });
    return out['recon']!.data as Float32Array;
  };
  return {
    latentDim: L,
    T,
    C,
    version: opts.version ?? bundle.manifest.version,
    encode,
    decode,
    encodeDecode: (x, n) => encodeThenDecode({ encode, decode }, x, n, T * C),
    async close() {
      if (closed) return;
      closed = true;
      await enc.release();
      await dec.release();
    },
  };
}
