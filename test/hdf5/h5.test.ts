/**
 * sliceRows (src/hdf5/h5.ts): rows of a dataset read through h5wasm's Module.get_dataset_data and copied out of the
 * wasm heap with `set` — the same array, type and values as h5wasm's own `Dataset.slice`, for every number type it
 * takes over, and the same result through `slice` for what it leaves to it (64-bit integers, rows out of range).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { h5, sliceRows } from '../../src/hdf5/h5.ts';

const dir = mkdtempSync(join(tmpdir(), 'loopstream-h5-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sliceRows', () => {
  it('equals Dataset.slice for float, integer and 64-bit integer datasets, chunked or not, any row range', async () => {
    const { File } = await h5();
    const path = join(dir, 'types.h5');
    const f = new File(path, 'w');
    const rows = 37;
    const floats = Float32Array.from({ length: rows * 2 * 3 }, (_, i) => Math.sin(i) * 1e3);
    f.create_dataset({ name: 'f32', data: floats, shape: [rows, 2, 3], dtype: '<f', chunks: [5, 2, 3] });
    f.create_dataset({ name: 'f64', data: Float64Array.from({ length: rows }, (_, i) => i / 7), shape: [rows], dtype: '<d' });
    f.create_dataset({ name: 'i32', data: Int32Array.from({ length: rows }, (_, i) => i * 1000 - 17000), shape: [rows], dtype: '<i' });
    f.create_dataset({ name: 'u8', data: Uint8Array.from({ length: rows * 4 }, (_, i) => (i * 37) % 256), shape: [rows, 4], dtype: '<B' });
    f.create_dataset({ name: 'i16', data: Int16Array.from({ length: rows }, (_, i) => i * 300 - 5000), shape: [rows], dtype: '<h' });
    f.create_dataset({ name: 'i64', data: BigInt64Array.from({ length: rows }, (_, i) => BigInt(i) * 10_000_000_000n), shape: [rows], dtype: '<q' });
    f.close();
    const r = new File(path, 'r');
    try {
      for (const name of ['f32', 'f64', 'i32', 'u8', 'i16', 'i64']) {
        const ds = r.get(name) as Parameters<typeof sliceRows>[0];
        for (const [from, to] of [[0, rows], [0, 1], [3, 19], [36, 37], [10, 10]] as const) {
          const want = ds.slice([[from, to]]) as unknown as ArrayLike<number>;
          const got = sliceRows(ds, from, to);
          expect(got.constructor, `${name} ${from}..${to}`).toBe(want.constructor);
          expect(Array.from(got as ArrayLike<number>)).toEqual(Array.from(want));
        }
      }
      // rows past the end are clipped exactly as slice clips them
      const f32 = r.get('f32') as Parameters<typeof sliceRows>[0];
      expect(Array.from(sliceRows(f32, 30, 50))).toEqual(Array.from(f32.slice([[30, 50]]) as unknown as ArrayLike<number>));
      expect(Array.from(sliceRows(f32, 0, rows))).toEqual(Array.from(floats));
    } finally {
      r.close();
    }
  });
});
