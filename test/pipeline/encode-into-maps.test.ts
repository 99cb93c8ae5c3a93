/**
 * The one encode path (src/pipeline/encode-into-maps.ts) with the shipped edge-sim bundle on onnxruntime: what it
 * writes equals the engine's own outputs row by row, a non-finite row is dropped and never written, the counters
 * follow the map when a pixel is encoded again, and `accept` leaves a pixel as it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanMaps, PIXEL_DONE } from '../../src/maps/scan-maps.ts';
import { loadBundle } from '../../src/model/bundle.ts';
import { createEngine } from '../../src/model/runtime.ts';
import type { InferenceEngine } from '../../src/model/engine.ts';
import { encodeIntoMaps } from '../../src/pipeline/encode-into-maps.ts';
import { newCounters, scanMeanError, type ScanContext } from '../../src/pipeline/scan-context.ts';
import { simulateScan } from '../../src/sim/index.ts';

let engine: InferenceEngine;
beforeAll(async () => {
  engine = await createEngine(await loadBundle('fixtures/models/edge-sim'), { engine: 'onnx', provider: 'cpu', threads: 1, version: 3 });
});
afterAll(async () => engine?.close());

function scan(): ScanContext {
  const start = simulateScan({ rows: 4, cols: 4, seed: 1 }).start;
  const maps = new ScanMaps(start, engine.latentDim);
  maps.allocate();
  return { start, maps, counters: newCounters(), inputs: new Float32Array(maps.size * engine.T * engine.C) } as unknown as ScanContext;
}

/** n rows of a smooth loop-like input, row k shifted by k/10 (finite, different per row). */
function rows(n: number): Float32Array {
  const stride = engine.T * engine.C;
  return Float32Array.from({ length: n * stride }, (_, i) => Math.sin((i % stride) / 7) + Math.floor(i / stride) / 10);
}

describe('encodeIntoMaps', () => {
  it('writes the engine outputs into the maps, drops a non-finite row, and counts what it wrote', async () => {
    const ctx = scan();
    const stride = engine.T * engine.C;
    const x = rows(3);
    x[stride + 5] = Number.POSITIVE_INFINITY; // row 1: an overflowing input
    const res = await encodeIntoMaps(engine, x, [{ ctx, index: 0 }, { ctx, index: 5 }, { ctx, index: 9 }], { storeInputs: true });
    expect(res.nonFinite).toEqual([1]);
    expect(res.written).toHaveLength(1);
    expect(Array.from(res.written[0]!.index)).toEqual([0, 9]);
    const ref = await engine.encodeDecode(Float32Array.from([...x.subarray(0, stride), ...x.subarray(2 * stride, 3 * stride)]), 2);
    expect(ctx.maps.error[0]).toBe(ref.error[0]);
    expect(ctx.maps.error[9]).toBe(ref.error[1]);
    expect(Array.from(ctx.maps.mu.subarray(9 * engine.latentDim, 10 * engine.latentDim))).toEqual(Array.from(ref.mu.subarray(engine.latentDim)));
    expect(ctx.maps.state[5]).not.toBe(PIXEL_DONE);
    expect(ctx.maps.version[9]).toBe(3);
    expect(Array.from(ctx.inputs!.subarray(9 * stride, 10 * stride))).toEqual(Array.from(x.subarray(2 * stride, 3 * stride)));
    expect(ctx.counters.encoded).toBe(2);
    expect(ctx.counters.errorSum).toBeCloseTo(ref.error[0]! + ref.error[1]!, 6);
  });

  it('a pixel encoded again replaces its error in the sum: the mean error is the mean the map shows', async () => {
    const ctx = scan();
    const stride = engine.T * engine.C;
    await encodeIntoMaps(engine, rows(2), [{ ctx, index: 1 }, { ctx, index: 2 }]);
    const other = rows(3).subarray(2 * stride); // a different input for pixel 1
    await encodeIntoMaps(engine, other, [{ ctx, index: 1 }]);
    expect(ctx.counters.encoded).toBe(2);
    expect(scanMeanError(ctx.counters)).toBeCloseTo((ctx.maps.error[1]! + ctx.maps.error[2]!) / 2, 6);
  });

  it('accept = false leaves the pixel as it is', async () => {
    const ctx = scan();
    const res = await encodeIntoMaps(engine, rows(2), [{ ctx, index: 3 }, { ctx, index: 4 }], { accept: (t) => t.index !== 4 });
    expect(Array.from(res.written[0]!.index)).toEqual([3]);
    expect(ctx.maps.state[4]).not.toBe(PIXEL_DONE);
    expect(ctx.counters.encoded).toBe(1);
  });
});
