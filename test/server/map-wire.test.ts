import { describe, expect, it } from 'vitest';
import { applyDelta, fromWireDelta, fromWireSnapshot, toWireDelta, toWireSnapshot } from '../../src/server/map-wire.ts';
import type { WireSnapshot } from '../../src/server/events.ts';
import { PIXEL_DONE, PIXEL_PENDING } from '../../src/maps/scan-maps.ts';
import { encode, makeMaps } from './support/maps.ts';

/** Copy a byte view into a Node Buffer starting at an odd offset of a larger buffer, as a pooled receive can be. */
function unaligned(bin: ArrayBuffer | Uint8Array): Buffer {
  const src = bin instanceof Uint8Array ? bin : new Uint8Array(bin);
  const big = Buffer.alloc(src.byteLength + 3);
  big.set(src, 1);
  return big.subarray(1, 1 + src.byteLength);
}

/** Copy into a fresh ArrayBuffer, as the browser receives attachments. */
function arrayBuffer(bin: ArrayBuffer | Uint8Array): ArrayBuffer {
  const src = bin instanceof Uint8Array ? bin : new Uint8Array(bin);
  return src.slice().buffer;
}

describe('map wire', () => {
  it('round-trips a snapshot through browser ArrayBuffers and unaligned Node Buffers', () => {
    const maps = makeMaps('s1', 3, 4, 2);
    encode(maps, [1, 5], 2.5, 7);
    const wire = toWireSnapshot(maps.snapshot());
    for (const conv of [arrayBuffer, unaligned]) {
      const got = fromWireSnapshot({ ...wire, mu: conv(wire.mu), error: conv(wire.error), version: conv(wire.version), state: conv(wire.state) });
      expect(got.rows).toBe(3);
      expect(Array.from(got.mu.subarray(2, 4))).toEqual([2.5, Math.fround(2.6)]);
      expect(Number.isNaN(got.mu[0])).toBe(true);
      expect(got.error[5]).toBe(2.5);
      expect(got.version[5]).toBe(7);
      expect(got.version[0]).toBe(-1);
      expect(got.state[1]).toBe(PIXEL_DONE);
      expect(got.state[0]).toBe(PIXEL_PENDING);
      expect(got.encoded).toBe(2);
    }
  });

  it('applies deltas only on top of the revision they start from', () => {
    const maps = makeMaps('s1', 3, 3, 2);
    encode(maps, [0], 1);
    const client = fromWireSnapshot(toWireSnapshot(maps.snapshot()));
    const r1 = maps.revision;
    encode(maps, [4, 8], 3);
    const d1 = maps.deltaSince(r1);
    encode(maps, [4], 9);
    const d2 = maps.deltaSince(maps.revision - 1);
    // applying d2 before d1 is refused and changes nothing
    expect(applyDelta(client, fromWireDelta(toWireDelta(d2), 2))).toBe(false);
    expect(client.revision).toBe(r1);
    expect(applyDelta(client, fromWireDelta(toWireDelta(d1), 2))).toBe(true);
    expect(applyDelta(client, fromWireDelta(toWireDelta(d2), 2))).toBe(true);
    expect(Array.from(client.error)).toEqual(Array.from(maps.error));
    expect(Array.from(client.mu)).toEqual(Array.from(maps.mu));
    expect(client.encoded).toBe(3);
    // a delta of another scan is refused
    const other = makeMaps('s2', 3, 3, 2);
    encode(other, [1], 1);
    expect(applyDelta(client, fromWireDelta(toWireDelta(other.deltaSince(0)), 2))).toBe(false);
  });

  it('applies a delta on top of a snapshot taken between its two revisions (room broadcasts), and skips one already held', () => {
    const maps = makeMaps('s1', 3, 3, 2);
    encode(maps, [0, 1], 1);
    const broadcastAt = maps.revision;
    encode(maps, [1, 2], 2);
    // a late joiner's snapshot, taken after the last broadcast
    const client = fromWireSnapshot(toWireSnapshot(maps.snapshot()));
    encode(maps, [2, 5], 3);
    // the next broadcast starts at the last broadcast, before the snapshot: it still brings the client to the maps
    const next = maps.deltaSince(broadcastAt);
    expect(applyDelta(client, fromWireDelta(toWireDelta(next), 2))).toBe(true);
    expect(Array.from(client.error)).toEqual(Array.from(maps.error));
    expect(client.revision).toBe(maps.revision);
    // the same delta again (already held) changes nothing
    expect(applyDelta(client, fromWireDelta(toWireDelta(next), 2))).toBe(true);
    expect(client.revision).toBe(maps.revision);
  });

  it('refuses arrays that do not match the grid, naming the sizes', () => {
    const maps = makeMaps('s9', 2, 2, 2);
    const wire: WireSnapshot = { ...toWireSnapshot(maps.snapshot()), error: new Uint8Array(12) };
    expect(() => fromWireSnapshot(wire)).toThrow(
      'map wire: snapshot of s9 has mu 8, error 3, version 4, state 4 values; expected 8, 4, 4, 4 for 2x2x2',
    );
    expect(() => fromWireSnapshot({ ...wire, error: new Uint8Array(7) })).toThrow('map wire: snapshot.error has 7 bytes, not a multiple of 4');
  });
});
