import { describe, expect, it } from 'vitest';
import { encodePixel, encodeStart, encodeStop } from '../../src/protocol/encode.ts';
import { ScanTracker } from '../../src/protocol/scan-tracker.ts';
import { loopStart, loopValues } from '../helpers/scan.ts';

const start = loopStart();
const pixel = (seq: number, scanId = 's1') =>
  encodePixel({ type: 'pixel', scanId, seq, row: Math.floor(seq / 4), col: seq % 4, t: seq }, loopValues(seq), start);

describe('ScanTracker', () => {
  it('emits start, pixels and stop in order', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    const types = [encodeStart(start), pixel(0), pixel(1), encodeStop({ type: 'stop', scanId: 's1', status: 'completed', pixelsSent: 2, lastSeq: 1 })]
      .flatMap((m) => tr.accept(m).events)
      .map((e) => e.type);
    expect(types).toEqual(['start', 'pixel', 'pixel', 'stop']);
  });

  it('reports a seq gap as missing pixels, and a gap at the end from the stop message', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    tr.accept(encodeStart(start));
    tr.accept(pixel(0));
    const r = tr.accept(pixel(3));
    expect(r.events[0]).toEqual({ type: 'gap', scanId: 's1', fromSeq: 1, toSeq: 2 });
    expect(r.events[1]).toMatchObject({ type: 'pixel', seq: 3, row: 0, col: 3 });
    const end = tr.accept(encodeStop({ type: 'stop', scanId: 's1', status: 'completed', pixelsSent: 6, lastSeq: 5 }));
    expect(end.events.map((e) => e.type)).toEqual(['gap', 'stop']);
    expect(end.events[0]).toEqual({ type: 'gap', scanId: 's1', fromSeq: 4, toSeq: 5 });
  });

  it('refuses duplicate and backwards seqs', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    tr.accept(encodeStart(start));
    tr.accept(pixel(0));
    tr.accept(pixel(1));
    const r = tr.accept(pixel(1));
    expect(r.events).toEqual([]);
    expect(r.rejects[0].code).toBe('LS_SEQ_DUPLICATE');
    expect(r.rejects[0].message).toBe('scan s1 pixel seq 1: already past it (next expected seq 2); duplicate or backwards seq');
  });

  it('holds pixels that arrive before their start, then refuses beyond the limit', () => {
    const tr = new ScanTracker({ pendingLimit: 2 });
    expect(tr.accept(pixel(0)).events).toEqual([]);
    expect(tr.accept(pixel(1)).events).toEqual([]);
    const over = tr.accept(pixel(2));
    expect(over.rejects[0].code).toBe('LS_PENDING_OVERFLOW');
    expect(over.rejects[0].message).toBe('scan s1 pixel seq 2: no start message for this scan and 2 pixels already held (limit 2); send "start" before pixels');
    const r = tr.accept(encodeStart(start));
    expect(r.events.map((e) => (e.type === 'pixel' ? e.seq : e.type))).toEqual(['start', 0, 1]);
    expect(tr.pendingCount).toBe(0);
  });

  it('drains pixels of a stopped scan as stale and refuses stops of unknown scans', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    tr.accept(encodeStart(start));
    tr.accept(pixel(0));
    tr.accept(encodeStop({ type: 'stop', scanId: 's1', status: 'aborted', pixelsSent: 1, lastSeq: 0 }));
    expect(tr.accept(pixel(1)).rejects[0].code).toBe('LS_SCAN_STALE');
    const unknown = tr.accept(encodeStop({ type: 'stop', scanId: 'nope', status: 'completed', pixelsSent: 0, lastSeq: -1 }));
    expect(unknown.rejects[0].code).toBe('LS_SCAN_UNKNOWN');
    expect(unknown.rejects[0].message).toBe('stop for scan nope, which is not running');
  });

  it('lets a restarted producer resend the same start, and resumes a recorded scan at its next seq', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    tr.accept(encodeStart(start));
    tr.accept(pixel(0));
    expect(tr.accept(encodeStart(start))).toEqual({ events: [], rejects: [], warnings: [] });
    expect(tr.accept(pixel(1)).events[0]).toMatchObject({ type: 'pixel', seq: 1 });

    const resumed = new ScanTracker({ pendingLimit: 10 });
    resumed.resume(start, 5);
    expect(resumed.accept(pixel(4)).rejects[0].code).toBe('LS_SEQ_DUPLICATE');
    expect(resumed.accept(pixel(5)).events[0]).toMatchObject({ type: 'pixel', seq: 5 });
  });

  it('keeps two interleaved scans apart', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    const other = loopStart('s2');
    tr.accept(encodeStart(start));
    tr.accept(encodeStart(other));
    const a = tr.accept(pixel(0, 's1')).events;
    const b = tr.accept(encodePixel({ type: 'pixel', scanId: 's2', seq: 0, row: 0, col: 0, t: 0 }, loopValues(0), other)).events;
    const c = tr.accept(pixel(1, 's1')).events;
    expect([...a, ...b, ...c].map((e) => (e.type === 'pixel' ? `${e.scanId}:${e.seq}` : e.type))).toEqual(['s1:0', 's2:0', 's1:1']);
  });
});
