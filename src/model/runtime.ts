/**
 * Inference: one interface, two engines (onnx via onnxruntime-node, the default; tfjs on the bundle's layers model).
 * Inputs are [n][T][C] scaled floats, outputs μ and log σ² [n][L], reconstructions [n][T][C] and per-sample MSE.
 */
import type { Bundle } from './bundle.ts';
import type { EngineOptions, InferenceEngine } from './engine.ts';

// The interface and the shared helpers live in engine.ts; re-exported so callers keep one import.
export { encodeThenDecode, inputGuard, perSampleMse, type EngineOptions, type InferenceEngine } from './engine.ts';

/** Create an inference engine for a bundle. */
export async function createEngine(bundle: Bundle, opts: EngineOptions): Promise<InferenceEngine> {
  if (opts.engine === 'tfjs') {
    const { createTfjsEngine } = await import('./engine-tfjs.ts');
    return createTfjsEngine(bundle, opts);
  }
  const { createOnnxEngine } = await import('./engine-onnx.ts');
  return createOnnxEngine(bundle, opts);
}
