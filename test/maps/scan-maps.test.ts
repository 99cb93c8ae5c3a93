/**
 * ScanMaps (src/maps/scan-maps.ts) on hand-computed answers: lazy allocation and refusal, the per-pixel state machine
 * (pending → received → done, pending → missing → received/done), the counters, one revision per pixel change,
 * deltas since a revision, snapshots as copies, and the seq → pixel walk of raster and serpentine gaps.
 */
import { describe, expect, it } from 'vitest';
import { PIXEL_DONE, PIXEL_MISSING, PIXEL_PENDING, PIXEL_RECEIVED, ScanMaps, type EncodedBatch } from '../../src/maps/scan-maps.ts';
import type { ScanOrder } from '../../src/protocol/messages.ts';
import { loopStart } from '../helpers/scan.ts';

const D = 2; // latent size of these tests

function maps(rows = 3, cols = 4, order: ScanOrder = 'raster'): ScanMaps {
  const start = loopStart('m1', rows, cols);
  return new ScanMaps({ ...start, grid: { ...start.grid, order } }, D);
}

/** A batch whose μ row of pixel i is [i, -i], log σ² row [i/10, -i/10], error i/100. */
function batch(index: number[], version = 1): EncodedBatch {
  return {
    index,
    mu: Float32Array.from(index.flatMap((i) => [i, -i])),
    logVar: Float32Array.from(index.flatMap((i) => [i / 10, -i / 10])),
    error: Float32Array.from(index, (i) => i / 100),
    version,
  };
}

const counts = (m: ScanMaps) => ({ received: m.received, encoded: m.encoded, missing: m.missing, revision: m.revision });

describe('ScanMaps', () => {
  it('allocates on first use, NaN / -1 / pending until written; bytesFor is what allocate takes', () => {
    const m = maps(3, 4);
    expect(m.allocated).toBe(false);
    expect([m.size, m.indexOf(2, 3), m.indexOf(1, 0)]).toEqual([12, 11, 4]);
    m.allocate();
    m.allocate(); // idempotent: the same buffers
    expect(m.allocated).toBe(true);
    expect(m.mu.length).toBe(12 * D);
    expect([...m.mu].every(Number.isNaN) && [...m.logVar].every(Number.isNaN) && [...m.error].every(Number.isNaN)).toBe(true);
    expect([...new Set(m.version)]).toEqual([-1]);
    expect([...new Set(m.state)]).toEqual([PIXEL_PENDING]);
    // 12 pixels × (μ and log σ² of 2 float32, error f32, version i32, state u8, revision u32) = 12 × 29
    expect(ScanMaps.bytesFor(3, 4, D)).toBe(12 * 29);
    const bytes = m.mu.byteLength + m.logVar.byteLength + m.error.byteLength + m.version.byteLength + m.state.byteLength + 12 * 4;
    expect(bytes).toBe(ScanMaps.bytesFor(3, 4, D));
  });

  it('a refused grid is never allocated: allocate and every read throw a RangeError naming the scan and the reason', () => {
    const m = maps();
    m.refuse('Array buffer allocation failed');
    expect(m.allocated).toBe(false);
    expect(() => m.allocate()).toThrow(RangeError);
    expect(() => m.mu).toThrow('scan m1: its grid buffers were refused (Array buffer allocation failed)');
    expect(() => m.snapshot()).toThrow(RangeError);
  });

  it('received → encoded: counters count pixels once, every change is one revision', () => {
    const m = maps();
    m.markReceived(0, 1);
    m.markReceived(0, 1); // the same pixel again (a resent frame): counted once, still one more revision
    expect(m.state[1]).toBe(PIXEL_RECEIVED);
    expect(counts(m)).toEqual({ received: 1, encoded: 0, missing: 0, revision: 2 });

    m.applyBatch(batch([1, 5])); // 1 was received, 5 arrives encoded directly (a replay of results)
    expect(counts(m)).toEqual({ received: 2, encoded: 2, missing: 0, revision: 4 });
    expect([...m.mu.subarray(5 * D, 6 * D)]).toEqual([5, -5]);
    expect([...m.logVar.subarray(1 * D, 2 * D)]).toEqual([Math.fround(0.1), Math.fround(-0.1)]);
    expect([m.error[1], m.error[5], m.version[1], m.version[5], m.version[0]]).toEqual([Math.fround(0.01), Math.fround(0.05), 1, 1, -1]);
    expect([m.state[0], m.state[1], m.state[5]]).toEqual([PIXEL_PENDING, PIXEL_DONE, PIXEL_DONE]);

    // a done pixel received again stays done; re-encoding it (a new model version) changes values, not counts
    m.markReceived(0, 1);
    expect(m.state[1]).toBe(PIXEL_DONE);
    m.applyBatch({ ...batch([5], 2), mu: Float32Array.of(7, 8) });
    expect(counts(m)).toEqual({ received: 2, encoded: 2, missing: 0, revision: 6 });
    expect([...m.mu.subarray(5 * D, 6 * D), m.version[5]]).toEqual([7, 8, 2]);
  });

  it('markMissing walks the raster order from seq to pixel, skips pixels already seen, and a late arrival un-misses', () => {
    const m = maps(3, 4);
    m.markReceived(0, 3); // seq 3
    expect(m.markMissing(2, 5)).toBe(3); // seqs 2, 4, 5 → (0,2), (1,0), (1,1); seq 3 was received
    expect([2, 3, 4, 5].map((i) => m.state[i])).toEqual([PIXEL_MISSING, PIXEL_RECEIVED, PIXEL_MISSING, PIXEL_MISSING]);
    expect(counts(m)).toEqual({ received: 1, encoded: 0, missing: 3, revision: 4 });
    expect(m.markMissing(2, 5)).toBe(0); // already marked: no change, no revision
    expect(m.revision).toBe(4);

    m.markReceived(1, 0); // seq 4 arrived after all
    m.applyBatch(batch([5])); // seq 5 encoded
    expect(counts(m)).toEqual({ received: 3, encoded: 1, missing: 1, revision: 6 });
    expect([m.state[4], m.state[5]]).toEqual([PIXEL_RECEIVED, PIXEL_DONE]);
  });

  it('serpentine rows run backwards on odd rows; seqs past the grid locate nothing; a custom order marks nothing', () => {
    const s = maps(3, 4, 'serpentine');
    expect(s.markMissing(4, 5)).toBe(2); // row 1 reversed: seq 4 → (1,3), seq 5 → (1,2)
    expect([s.state[s.indexOf(1, 3)], s.state[s.indexOf(1, 2)], s.state[s.indexOf(1, 0)]]).toEqual([PIXEL_MISSING, PIXEL_MISSING, PIXEL_PENDING]);

    const r = maps(3, 4);
    expect(r.markMissing(10, Number.MAX_SAFE_INTEGER)).toBe(2); // seqs 10, 11; the rest of the range is off the grid
    expect(r.markMissing(-5, -1)).toBe(0);
    expect(r.missing).toBe(2);

    const c = maps(3, 4, 'custom');
    expect(c.markMissing(0, 11)).toBe(0);
    expect(counts(c)).toEqual({ received: 0, encoded: 0, missing: 0, revision: 0 });
  });

  it('deltaSince(r) holds exactly the pixels changed after r, in index order, with their values and the counters', () => {
    const m = maps(3, 4);
    m.applyBatch(batch([7, 2])); // revisions 1 (pixel 7), 2 (pixel 2)
    const r = m.revision;
    m.markMissing(0, 0); // revision 3: pixel 0 missing
    m.applyBatch(batch([9], 3)); // revision 4
    m.markReceived(2, 3); // revision 5: pixel 11

    const d = m.deltaSince(r);
    expect([d.fromRevision, d.revision, d.received, d.encoded, d.missing]).toEqual([2, 5, 4, 3, 1]);
    expect([...d.index]).toEqual([0, 9, 11]);
    expect([...d.state]).toEqual([PIXEL_MISSING, PIXEL_DONE, PIXEL_RECEIVED]);
    expect([...d.version]).toEqual([-1, 3, -1]);
    expect([...d.mu]).toEqual([Number.NaN, Number.NaN, 9, -9, Number.NaN, Number.NaN]);
    expect([...d.error]).toEqual([Number.NaN, Math.fround(0.09), Number.NaN]);

    expect([...m.deltaSince(0).index]).toEqual([0, 2, 7, 9, 11]);
    expect(m.deltaSince(m.revision).index.length).toBe(0);
    // pixel 7 changed again: it moves to the newest revision, and an old reader's delta has it once
    m.applyBatch(batch([7], 4));
    expect([...m.deltaSince(r).index]).toEqual([0, 7, 9, 11]);
  });

  it('snapshot is a copy: later batches do not change it', () => {
    const m = maps(2, 2);
    m.applyBatch(batch([3]));
    const snap = m.snapshot();
    m.applyBatch(batch([0], 2));
    m.applyBatch({ ...batch([3], 2), mu: Float32Array.of(1, 1) });
    expect([snap.revision, snap.encoded, snap.rows, snap.cols, snap.latentDim, snap.scanId]).toEqual([1, 1, 2, 2, D, 'm1']);
    expect([...snap.mu]).toEqual([Number.NaN, Number.NaN, Number.NaN, Number.NaN, Number.NaN, Number.NaN, 3, -3]);
    expect([...snap.version]).toEqual([-1, -1, -1, 1]);
    expect([...snap.state]).toEqual([PIXEL_PENDING, PIXEL_PENDING, PIXEL_PENDING, PIXEL_DONE]);
    expect([...m.version]).toEqual([2, -1, -1, 2]);
  });
});
