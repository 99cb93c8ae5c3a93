import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrames, decodePixelData } from '../../src/protocol/decode.ts';
import { encodeHeartbeat, encodePixel, encodeStart, encodeStop } from '../../src/protocol/encode.ts';
import { FrameError } from '../../src/protocol/errors.ts';
import { pixelSizeFrom, type PixelHeader, type StartHeader } from '../../src/protocol/messages.ts';
import { loopStart, loopValues } from '../helpers/scan.ts';

const start = loopStart();

function expectError(result: unknown, code: string, message: string) {
  expect(result).toBeInstanceOf(FrameError);
  expect((result as FrameError).code).toBe(code);
  expect((result as FrameError).message).toBe(message);
}

describe('protocol v1 codec', () => {
  it('round-trips start, pixel, stop and heartbeat', () => {
    const s = decodeFrames(encodeStart(start));
    expect(s).not.toBeInstanceOf(FrameError);
    expect((s as { header: StartHeader }).header).toEqual(start);
    const hdr: PixelHeader = { type: 'pixel', scanId: 's1', seq: 5, row: 1, col: 1, t: 12.5 };
    const [p, r] = loopValues(5);
    const px = decodeFrames(encodePixel(hdr, [p, r], start));
    if (px instanceof FrameError) throw px;
    expect(px.header).toEqual(hdr);
    const data = decodePixelData(hdr, px.buffers, start);
    if (data instanceof FrameError) throw data;
    expect(Array.from(data[0])).toEqual(Array.from(p));
    expect(Array.from(data[1])).toEqual(Array.from(Float32Array.from(r)));
    const stop = decodeFrames(encodeStop({ type: 'stop', scanId: 's1', status: 'completed', pixelsSent: 12, lastSeq: 11 }));
    expect((stop as { header: unknown }).header).toEqual({ type: 'stop', scanId: 's1', status: 'completed', pixelsSent: 12, lastSeq: 11 });
    const hb = decodeFrames(encodeHeartbeat({ type: 'heartbeat', t: 1 }));
    expect((hb as { header: unknown }).header).toEqual({ type: 'heartbeat', t: 1 });
  });

  it('round-trips arbitrary pixels (property)', () => {
    const steps = 8;
    fc.assert(
      fc.property(
        fc.nat(1e6),
        fc.nat(2),
        fc.nat(3),
        // JSON has no -0, so timestamps are generated without it
        fc.double({ noDefaultInfinity: true, noNaN: true }).map((x) => x + 0),
        fc.float32Array({ minLength: steps, maxLength: steps, noNaN: true }),
        // float64 values within float32 range: the daemon works in float32
        fc.float64Array({ minLength: steps, maxLength: steps, noNaN: true, min: -3e38, max: 3e38 }),
        (seq, row, col, t, p, r) => {
          const hdr: PixelHeader = { type: 'pixel', scanId: 's1', seq, row, col, t };
          const dec = decodeFrames(encodePixel(hdr, [p, r], start));
          if (dec instanceof FrameError) return false;
          const data = decodePixelData(hdr, dec.buffers, start);
          if (data instanceof FrameError) return false;
          expect(dec.header).toEqual(hdr);
          expect(Array.from(data[0])).toEqual(Array.from(p));
          expect(Array.from(data[1])).toEqual(Array.from(Float32Array.from(r)));
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('round-trips arbitrary start headers (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/).filter((id) => !/^\.+$/.test(id)), // dots alone: LS_FRAME_SCAN_ID
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 500 }),
        fc.constantFrom('raster' as const, 'serpentine' as const, 'custom' as const),
        fc.integer({ min: 2, max: 200 }),
        fc.dictionary(fc.string().filter((k) => k !== '__proto__'), fc.oneof(fc.string(), fc.integer(), fc.boolean())),
        (scanId, rows, cols, order, steps, metadata) => {
          const h: StartHeader = { ...loopStart(scanId, rows, cols, steps), metadata };
          h.grid.order = order;
          const dec = decodeFrames(encodeStart(h));
          if (dec instanceof FrameError) throw dec;
          expect(dec.header).toEqual(h);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('turns malformed frames into typed errors with reasons', () => {
    expectError(decodeFrames([Buffer.from('pixel')]), 'LS_FRAME_PARTS', 'message has 1 frame(s); expected [type][header JSON][buffers…]');
    expectError(decodeFrames([Buffer.from('bogus'), Buffer.from('{}')]), 'LS_FRAME_TYPE', 'unknown message type "bogus"; expected one of start, pixel, stop, heartbeat');
    expectError(decodeFrames([Buffer.from('stop'), Buffer.from('{"type":')]), 'LS_FRAME_JSON', "stop header is not valid JSON: Unexpected end of JSON input");
    expectError(
      decodeFrames([Buffer.from('pixel'), Buffer.from(JSON.stringify({ type: 'stop', scanId: 's1' }))]),
      'LS_FRAME_HEADER',
      'type frame says "pixel" but the header says "stop"',
    );
    expectError(
      decodeFrames(encodeStart({ ...start, protocol: 2 as 1 })),
      'LS_FRAME_VERSION',
      'start declares protocol 2; this daemon speaks protocol 1',
    );
    expectError(
      decodeFrames([Buffer.from('pixel'), Buffer.from(JSON.stringify({ type: 'pixel', scanId: 's1', seq: -1, row: 0, col: 0, t: 0 }))]),
      'LS_FRAME_HEADER',
      'invalid pixel header: seq: Too small: expected number to be >=0',
    );
    expectError(
      decodeFrames(encodeStart({ ...start, buffers: [{ name: 'piezoresponse', dtype: 'float32', shape: [7], unit: '' }] })),
      'LS_FRAME_START_LAYOUT',
      'scan s1: loop buffer "piezoresponse" has shape [7]; expected [8] (one value per DC step)',
    );
    expectError(
      decodeFrames(encodeStart({ ...start, buffers: [{ name: 'piezoresponse', dtype: 'float32', shape: [4096, 4096], unit: '' }] })),
      'LS_FRAME_START_LAYOUT',
      'scan s1: buffer "piezoresponse" declares 16777216 elements; the limit is 1048576',
    );
  });

  it('carries an optional pixelSize and refuses a non-positive one', () => {
    const withSize = { ...start, pixelSize: { x: 0.04, y: 0.05, unit: 'um' } };
    const ok = decodeFrames(encodeStart(withSize));
    expect(ok).not.toBeInstanceOf(FrameError);
    expect((ok as { header: StartHeader }).header.pixelSize).toEqual({ x: 0.04, y: 0.05, unit: 'um' });
    expectError(decodeFrames(encodeStart({ ...start, pixelSize: { x: -1, y: 0.05, unit: 'um' } })), 'LS_FRAME_HEADER', 'invalid start header: pixelSize.x: Too small: expected number to be >0');
  });

  it('reads the pixel pitch from position values (median step of each axis)', () => {
    expect(pixelSizeFrom([0, 0.1, 0.2, 0, 0.1, 0.2], [0, 0, 0, 0.05, 0.05, 0.05], 'um')).toEqual({ x: expect.closeTo(0.1, 9), y: expect.closeTo(0.05, 9), unit: 'um' });
    expect(pixelSizeFrom([0, 1, 2], undefined, 'nm')).toEqual({ x: 1, y: 1, unit: 'nm' }); // one row: square pixels
    expect(pixelSizeFrom([3, 3], [1, 1], 'um')).toBeUndefined(); // no step at all
  });

  it('checks pixel buffers against the start header', () => {
    const hdr: PixelHeader = { type: 'pixel', scanId: 's1', seq: 7, row: 0, col: 1, t: 0 };
    const [p, r] = loopValues(7);
    const frames = encodePixel(hdr, [p, r], start);
    expectError(decodePixelData(hdr, [frames[2], frames[3].subarray(0, 60)], start), 'LS_FRAME_BUFFER_SIZE', 'scan s1 pixel seq 7: buffer 1 ("resonance") has 60 bytes; the start message declared float64[8] = 64 bytes');
    expectError(decodePixelData(hdr, [frames[2]], start), 'LS_FRAME_BUFFER_COUNT', 'scan s1 pixel seq 7: 1 buffer(s); the start message declared 2 (piezoresponse, resonance)');
    expectError(decodePixelData({ ...hdr, row: 3 }, frames.slice(2), start), 'LS_FRAME_OUT_OF_GRID', 'scan s1 pixel seq 7: (row 3, col 1) is outside the 3x4 grid');
    const nan = encodePixel(hdr, [new Float32Array(8).fill(Number.NaN), r], start);
    expectError(decodePixelData(hdr, nan.slice(2), start), 'LS_FRAME_ALL_NONFINITE', 'scan s1 pixel seq 7: buffer 0 ("piezoresponse") holds no finite value (all NaN/Inf)');
    // a few NaN values are kept: preprocessing interpolates them (docs/science.md §2)
    const someNan = Float32Array.from(p);
    someNan[3] = Number.NaN;
    const ok = decodePixelData(hdr, encodePixel(hdr, [someNan, r], start).slice(2), start);
    expect(ok).not.toBeInstanceOf(FrameError);
    expect(Number.isNaN((ok as Float32Array[])[0][3])).toBe(true);
  });

  it('never throws on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 }), (parts) => {
        const res = decodeFrames(parts.map((u) => Buffer.from(u)));
        expect(res instanceof FrameError || typeof res === 'object').toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
