/** Read a results file with our own HDF5 layer (h5wasm) for assertions: state, embedding and attributes. */
import { h5 } from '../../../src/hdf5/h5.ts';

/** The parts of a results file the tests check. */
export interface ResultsView {
  rows: number;
  cols: number;
  latentDim: number;
  embedding: Float32Array;
  error: Float32Array;
  state: Uint8Array;
  missing: Uint8Array;
  modelVersion: Int32Array;
  attrs: Record<string, unknown>;
}

/** Open `path` read-only and copy out the datasets the tests check. */
export async function readResults(path: string): Promise<ResultsView> {
  const H = await h5();
  const f = new H.File(path, 'r');
  try {
    const attrs: Record<string, unknown> = {};
    for (const [k, a] of Object.entries(f.attrs)) attrs[k] = (a as { value: unknown }).value;
    const ds = (n: string) => (f.get(n) as unknown as { value: unknown }).value;
    return {
      rows: Number(attrs.rows),
      cols: Number(attrs.cols),
      latentDim: Number(attrs.latent_dim),
      embedding: Float32Array.from(ds('embedding') as ArrayLike<number>),
      error: Float32Array.from(ds('error') as ArrayLike<number>),
      state: Uint8Array.from(ds('state') as ArrayLike<number>),
      missing: Uint8Array.from(ds('missing') as ArrayLike<number>),
      modelVersion: Int32Array.from(ds('model_version') as ArrayLike<number>),
      attrs,
    };
  } finally {
    f.close();
  }
}

/** Indices (row*cols+col) whose embedding is finite in every latent dimension. */
export function encodedPixels(r: ResultsView): number[] {
  const out: number[] = [];
  for (let i = 0; i < r.rows * r.cols; i++) {
    let ok = true;
    for (let k = 0; k < r.latentDim; k++) if (!Number.isFinite(r.embedding[i * r.latentDim + k])) ok = false;
    if (ok) out.push(i);
  }
  return out;
}
