/**
 * The tracker's bounds (issue 12 items 2, 10, 15), in-process: open-scan and grid-size caps, refused pixels that
 * count as arrived (never missing), plausibility warnings once per scan, and gaps to seq 2^53 − 1 that cost one
 * pass over the grid in ScanMaps. The same behaviours on a real daemon: test/e2e/faults-ingest.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ScanMaps, PIXEL_MISSING } from '../../src/maps/scan-maps.ts';
import { encodePixel, encodeStart, encodeStop } from '../../src/protocol/encode.ts';
import { ScanTracker } from '../../src/protocol/scan-tracker.ts';
import { loopStart, loopValues } from '../helpers/scan.ts';

const pixel = (scanId: string, seq: number, opts: { t?: number; data?: [Float32Array, Float64Array]; row?: number } = {}) =>
  encodePixel({ type: 'pixel', scanId, seq, row: opts.row ?? Math.floor(seq / 4) % 3, col: seq % 4, t: opts.t ?? 1.7e9 + seq }, opts.data ?? loopValues(seq), loopStart(scanId));

describe('ScanTracker bounds', () => {
  it('refuses a start beyond maxOpenScans, and its pixels, until a scan stops', () => {
    const tr = new ScanTracker({ pendingLimit: 100, maxOpenScans: 2 });
    tr.accept(encodeStart(loopStart('a')));
    tr.accept(encodeStart(loopStart('b')));
    const c = tr.accept(encodeStart(loopStart('c')));
    expect(c.events).toEqual([]);
    expect(c.rejects.map((r) => r.code)).toEqual(['LS_SCAN_LIMIT']);
    expect(c.rejects[0].message).toMatch(/2 scans are open .* the limit is 2 \(ingest\.maxOpenScans\)/);
    const px = tr.accept(pixel('c', 0));
    expect(px.rejects.map((r) => r.code)).toEqual(['LS_SCAN_REFUSED']);
    expect(tr.pendingCount).toBe(0); // not held waiting for a start
    tr.accept(encodeStop({ type: 'stop', scanId: 'a', status: 'completed', pixelsSent: 0, lastSeq: -1 }));
    expect(tr.accept(encodeStart(loopStart('c'))).events.map((e) => e.type)).toEqual(['start']);
  });

  it('refuses a grid beyond maxScanPixels and the pixels held for it', () => {
    const tr = new ScanTracker({ pendingLimit: 100, maxScanPixels: 11 });
    expect(tr.accept(pixel('big', 0)).rejects).toEqual([]); // held: no start yet
    const r = tr.accept(encodeStart(loopStart('big', 3, 4)));
    expect(r.rejects.map((e) => e.code)).toEqual(['LS_SCAN_TOO_LARGE', 'LS_SCAN_REFUSED']);
    expect(r.rejects[0].message).toBe('scan big: a 3x4 grid is 12 pixels; this daemon accepts at most 11 (ingest.maxScanPixels)');
    expect(tr.pendingCount).toBe(0);
    expect(tr.accept(encodeStop({ type: 'stop', scanId: 'big', status: 'completed', pixelsSent: 1, lastSeq: 0 })).rejects[0].code).toBe('LS_SCAN_REFUSED');
  });

  it('reports a refused pixel as refused, never inside a later gap, and lets it be sent again', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    tr.accept(encodeStart(loopStart('n')));
    tr.accept(pixel('n', 0));
    const nan: [Float32Array, Float64Array] = [new Float32Array(8).fill(Number.NaN), new Float64Array(8).fill(Number.NaN)];
    const r1 = tr.accept(pixel('n', 1, { data: nan }));
    expect(r1.rejects.map((e) => e.code)).toEqual(['LS_FRAME_ALL_NONFINITE']);
    expect(r1.events).toEqual([{ type: 'refused', scanId: 'n', seq: 1, code: 'LS_FRAME_ALL_NONFINITE' }]);
    tr.accept(pixel('n', 3, { data: nan }));
    const r2 = tr.accept(pixel('n', 5));
    // seqs 1 and 3 arrived (refused): only 2 and 4 are missing
    expect(r2.events.map((e) => (e.type === 'gap' ? `${e.fromSeq}-${e.toSeq}` : e.type))).toEqual(['2-2', '4-4', 'pixel']);
    const again = tr.accept(encodeStart(loopStart('m')));
    expect(again.events.length).toBe(1);
    tr.accept(pixel('m', 0, { data: nan }));
    expect(tr.accept(pixel('m', 0)).events.map((e) => e.type)).toEqual(['pixel']); // the corrected pixel, same seq
  });

  it('warns once per scan about a t that looks like milliseconds', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    tr.accept(encodeStart(loopStart('ms')));
    const w = [0, 1, 2].flatMap((seq) => tr.accept(pixel('ms', seq, { t: 1.7e12 + seq })).warnings);
    expect(w.map((x) => x.code)).toEqual(['LS_WARN_TIME_UNIT']);
    expect(w[0].at).toEqual({ scanId: 'ms', seq: 0 });
  });

  it('marks at most the grid missing for a gap to seq 2^53 - 1, in one pass', () => {
    const maps = new ScanMaps(loopStart('g', 3, 4), 4);
    expect(maps.allocated).toBe(false); // nothing allocated at start
    expect(maps.markMissing(5, Number.MAX_SAFE_INTEGER)).toBe(7);
    expect(maps.markMissing(0, Number.MAX_SAFE_INTEGER)).toBe(5);
    expect(maps.missing).toBe(12);
    expect(Array.from(maps.state).every((s) => s === PIXEL_MISSING)).toBe(true);
    const custom = new ScanMaps({ ...loopStart('c'), grid: { rows: 3, cols: 4, order: 'custom' } }, 4);
    expect(custom.markMissing(0, Number.MAX_SAFE_INTEGER)).toBe(0); // a custom order locates no seq
  });
});
