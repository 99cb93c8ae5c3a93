/**
 * TensorFlow.js backend selection: `@tensorflow/tfjs-node-gpu` when installed (optional dependency; it registers
 * the 'tensorflow' backend on CUDA), otherwise the WebAssembly backend (XNNPACK, SIMD). The wasm backend is
 * single-threaded in Node: its threaded build needs browser workers and fails to initialise here (measured,
 * docs/model.md). The pure-JS 'cpu' backend is a last resort (about 5x slower than wasm on the LSTMs).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Which backend to use: auto = tfjs-node-gpu if importable, else wasm. */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

let ready: Promise<string> | undefined;

async function tryNodeGpu(): Promise<boolean> {
  const name = '@tensorflow/tfjs-node-gpu'; // a variable, so a build without the package still type-checks and loads
  try {
    await import(name);
    return tf.findBackend('tensorflow') !== undefined || tf.engine().registryFactory['tensorflow'] !== undefined;
  } catch {
    return false;
  }
}

/**
 * Initialise the tfjs backend once per process and return its name ('tensorflow', 'wasm' or 'cpu').
 * Later calls return the same backend whatever they ask for.
 */
export function initBackend(choice: BackendChoice = 'auto'): Promise<string> {
  ready ??= (async () => {
    tf.env().set('PROD', true); // no debug checks, no "install tfjs-node" banner noise
    if ((choice === 'auto' || choice === 'tensorflow') && (await tryNodeGpu()) && (await tf.setBackend('tensorflow'))) {
      await tf.ready();
      return tf.getBackend();
    }
    if (choice !== 'cpu') {
      const req = createRequire(import.meta.url);
      setWasmPaths(join(dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return tf.getBackend();
      }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}
