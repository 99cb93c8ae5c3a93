import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { isHeldOut, ReplayBuffer, seqOfPixel } from '../../src/finetune/replay-buffer.ts';
import { pixelOfSeq } from '../../src/maps/scan-order.ts';

/** inputs [n][stride] where every value of row i is i (so copied rows can be identified). */
function rowsNumbered(n: number, stride: number): Float32Array {
  const x = new Float32Array(n * stride);
  for (let i = 0; i < n; i++) x.fill(i, i * stride, (i + 1) * stride);
  return x;
}

describe('seqOfPixel', () => {
  test('inverts pixelOfSeq for raster and serpentine orders', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.constantFrom('raster' as const, 'serpentine' as const), fc.nat(), (rows, cols, order, s) => {
        const seq = s % (rows * cols);
        const at = pixelOfSeq(seq, rows, cols, order)!;
        expect(seqOfPixel(at.row * cols + at.col, cols, order)).toBe(seq);
      }),
    );
  });

  test('is -1 for custom orders', () => {
    expect(seqOfPixel(5, 4, 'custom')).toBe(-1);
  });
});

describe('isHeldOut', () => {
  test('holds out close to the asked fraction and is stable', () => {
    let n = 0;
    for (let i = 0; i < 20000; i++) if (isHeldOut('scan-a', i, 0.15)) n++;
    expect(n / 20000).toBeGreaterThan(0.14);
    expect(n / 20000).toBeLessThan(0.16);
    for (let i = 0; i < 100; i++) expect(isHeldOut('scan-a', i, 0.15)).toBe(isHeldOut('scan-a', i, 0.15));
  });
});

describe('ReplayBuffer', () => {
  test('take() splits buffered rows into training and held-out rows by the hash, with seq ranges', () => {
    const stride = 3;
    const inputs = rowsNumbered(20, stride); // a 4×5 serpentine scan
    const buf = new ReplayBuffer(100, stride, 0.3, 7);
    buf.add('s', 5, 'serpentine', inputs, Uint32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(buf.added).toBe(10);
    const r = buf.take();
    expect(buf.added).toBe(0);
    const held = Array.from({ length: 10 }, (_, i) => i).filter((i) => isHeldOut('s', i, 0.3, 7));
    const trained = Array.from({ length: 10 }, (_, i) => i).filter((i) => !isHeldOut('s', i, 0.3, 7));
    expect(r.nHeldOut).toBe(held.length);
    expect(r.nTrain).toBe(trained.length);
    expect(Array.from({ length: r.nHeldOut }, (_, k) => r.heldOut[k * stride])).toEqual(held);
    expect(Array.from({ length: r.nTrain }, (_, k) => r.train[k * stride])).toEqual(trained);
    // pixels 0..9 of a 5-wide serpentine scan: row 1 is reversed, so seqs are 0..9 as well
    expect(r.ranges).toEqual([{ scanId: 's', fromSeq: 0, toSeq: 9, pixels: 10 }]);
  });

  test('keeps only the most recent `capacity` pixels, across scans', () => {
    const stride = 2;
    const buf = new ReplayBuffer(4, stride, 0.0001, 1);
    buf.add('a', 10, 'raster', rowsNumbered(10, stride), Uint32Array.from([0, 1, 2]));
    buf.add('b', 10, 'raster', rowsNumbered(10, stride), Uint32Array.from([7, 8, 9]));
    expect(buf.size).toBe(4);
    const r = buf.take();
    const rows = [...Array.from({ length: r.nTrain }, (_, k) => r.train[k * stride]), ...Array.from({ length: r.nHeldOut }, (_, k) => r.heldOut[k * stride])].sort();
    expect(rows).toEqual([2, 7, 8, 9]);
    expect(r.ranges.sort((x, y) => x.scanId.localeCompare(y.scanId))).toEqual([
      { scanId: 'a', fromSeq: 2, toSeq: 2, pixels: 1 },
      { scanId: 'b', fromSeq: 7, toSeq: 9, pixels: 3 },
    ]);
  });
});
