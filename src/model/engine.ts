/**
 * The inference interface both engines implement (engine-onnx.ts, engine-tfjs.ts) and the checks and maths they
 * share. Its own module so the engines need not import runtime.ts, which loads them (no cycle).
 */
import { EngineError } from './errors.ts';

/** A loaded model that encodes and decodes batches. */
export interface InferenceEngine {
  readonly latentDim: number;
  readonly T: number;
  readonly C: number;
  /** model version (manifest.version unless overridden) */
  readonly version: number;
  /** μ and log σ², each n × latentDim */
  encode(x: Float32Array, n: number): Promise<{ mu: Float32Array; logVar: Float32Array }>;
  /** reconstruction n × T × C from latents n × latentDim */
  decode(z: Float32Array, n: number): Promise<Float32Array>;
  /** encoder, then decoder(μ); error = per-sample MSE in scaled units */
  encodeDecode(x: Float32Array, n: number): Promise<{ mu: Float32Array; logVar: Float32Array; recon: Float32Array; error: Float32Array }>;
  close(): Promise<void>;
}

/** How an engine runs. */
export interface EngineOptions {
  engine: 'onnx' | 'tfjs';
  provider: 'cpu' | 'cuda' | 'webgpu';
  threads: number;
  version?: number;
}

/**
 * The input guard both engines run before every call: refuses a closed engine and an input shorter than n × per.
 * `engine` names the engine in the message ('onnx', 'tfjs').
 */
export function inputGuard(engine: string, isClosed: () => boolean): (x: Float32Array, n: number, per: number, what: string) => void {
  return (x, n, per, what) => {
    if (isClosed()) throw new EngineError('LS_ENGINE_CLOSED', `the ${engine} engine was closed; create a new one`);
    if (x.length < n * per) throw new EngineError('LS_ENGINE_INPUT', `${what}: ${x.length} floats for n = ${n}; expected n × ${per} = ${n * per}`);
  };
}

/** Encoder, then decoder on μ, and the per-sample MSE: `encodeDecode` of every engine. */
export async function encodeThenDecode(
  engine: Pick<InferenceEngine, 'encode' | 'decode'>,
  x: Float32Array,
  n: number,
  stride: number,
): Promise<{ mu: Float32Array; logVar: Float32Array; recon: Float32Array; error: Float32Array }> {
  const { mu, logVar } = await engine.encode(x, n);
  const recon = await engine.decode(mu, n);
  return { mu, logVar, recon, error: perSampleMse(x, recon, n, stride) };
}

/**
 * Encode a sample of rows that goes into no map ([n][T·C] canonical model inputs): the fine-tuning gate's held-out
 * scores, its summary's errors under the initial model, a bundle's training reference. Runs `batchSize` rows per
 * call (default: all at once) and returns μ, log σ² and the per-row error for all n. Maps are filled by the one
 * encode path instead (pipeline/encode-into-maps.ts).
 */
export async function encodeRows(engine: InferenceEngine, x: Float32Array, n: number, batchSize = n): Promise<{ mu: Float32Array; logVar: Float32Array; error: Float32Array }> {
  const stride = engine.T * engine.C;
  const d = engine.latentDim;
  const mu = new Float32Array(n * d);
  const logVar = new Float32Array(n * d);
  const error = new Float32Array(n);
  const step = Math.max(1, batchSize);
  for (let from = 0; from < n; from += step) {
    const m = Math.min(step, n - from);
    const out = await engine.encodeDecode(x.subarray(from * stride, (from + m) * stride), m);
    mu.set(out.mu.subarray(0, m * d), from * d);
    logVar.set(out.logVar.subarray(0, m * d), from * d);
    error.set(out.error.subarray(0, m), from);
  }
  return { mu, logVar, error };
}

/** Per-sample mean squared error between x and y ([n][stride]) into `out` (length n). */
export function perSampleMse(x: Float32Array, y: Float32Array, n: number, stride: number, out = new Float32Array(n)): Float32Array {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * stride;
    for (let j = 0; j < stride; j++) {
      const d = x[o + j]! - y[o + j]!;
      s += d * d;
    }
    out[i] = s / stride;
  }
  return out;
}
