/** h5wasm's Node build, initialised once (its WASM module loads asynchronously). */
import h5wasm from 'h5wasm/node';

export type H5 = typeof h5wasm;

let ready: Promise<H5> | undefined;

/** The initialised h5wasm module; files opened through it read and write the real file system. */
export function h5(): Promise<H5> {
  ready ??= h5wasm.ready.then(() => h5wasm);
  return ready;
}
