import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { decodeFrames, decodePixelData } from '../../src/protocol/decode.ts';
import { FrameError } from '../../src/protocol/errors.ts';
import type { StartHeader } from '../../src/protocol/messages.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { publishScan } from '../../src/sim/publish.ts';

let pull: zmq.Pull | undefined;
afterEach(() => {
  pull?.close();
  pull = undefined;
});

describe('publishScan', () => {
  it('sends start, every pixel but the skipped ones, malformed frames when asked, then stop — over a real PUSH/PULL pair', async () => {
    pull = new zmq.Pull();
    await pull.bind('tcp://127.0.0.1:*');
    const endpoint = pull.lastEndpoint!;
    const scan = simulateScan({ rows: 4, cols: 5, seed: 3, steps: 16, cycles: 1 });

    const received: Buffer[][] = [];
    const receiving = (async () => {
      for await (const msg of pull!) {
        received.push(msg);
        if (msg[0].toString() === 'stop') break;
      }
    })();
    const counts = await publishScan(scan, { endpoint, ratePxPerSec: Infinity, skipSeqs: [7], malformedEvery: 6 });
    await receiving;

    expect(counts).toMatchObject({ pixels: 19, skipped: 1, malformed: 3, stop: { type: 'stop', scanId: scan.start.scanId, status: 'completed', pixelsSent: 19, lastSeq: 19 } });
    const decoded = received.map((m) => decodeFrames(m));
    const bad = decoded.filter((d) => d instanceof FrameError) as FrameError[];
    expect(bad.map((e) => e.code)).toEqual(['LS_FRAME_JSON', 'LS_FRAME_JSON', 'LS_FRAME_JSON']);
    const good = decoded.filter((d) => !(d instanceof FrameError)) as Exclude<(typeof decoded)[number], FrameError>[];
    expect(good[0].header).toEqual(scan.start);
    const start = good[0].header as StartHeader;
    const pixels = good.filter((d) => d.header.type === 'pixel');
    expect(pixels.map((d) => (d.header as { seq: number }).seq)).toEqual([...Array(20).keys()].filter((s) => s !== 7));
    // Buffers arrive bit-identical to what the simulator made.
    const p12 = pixels.find((d) => (d.header as { seq: number }).seq === 12)!;
    expect(decodePixelData(p12.header as never, p12.buffers, start)).toEqual(scan.pixel(12).data);
    expect(good.at(-1)!.header).toEqual(counts.stop);
  });

  it('stops early with an aborted stop at the limit', async () => {
    pull = new zmq.Pull();
    await pull.bind('tcp://127.0.0.1:*');
    const scan = simulateScan({ rows: 3, cols: 3, seed: 1, steps: 8, cycles: 1 });
    const types: string[] = [];
    const receiving = (async () => {
      for await (const msg of pull!) {
        types.push(msg[0].toString());
        if (msg[0].toString() === 'stop') break;
      }
    })();
    const counts = await publishScan(scan, { endpoint: pull.lastEndpoint!, ratePxPerSec: 1000, limit: 4 });
    await receiving;
    expect(types).toEqual(['start', 'pixel', 'pixel', 'pixel', 'pixel', 'stop']);
    expect(counts.stop).toEqual({ type: 'stop', scanId: scan.start.scanId, status: 'aborted', pixelsSent: 4, lastSeq: 3 });
  });
});
