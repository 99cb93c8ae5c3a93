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

  // issue 12 item 6: 120 pixels of 8 MiB each for scans that never start took ~900 MB; the count cap allowed ~78 GB.
  it('caps pixels held before their start in bytes, and refuses implausible ones, with LS_PENDING_BYTES', () => {
    const onePixelBytes = loopValues(0)[0].byteLength + loopValues(0)[1].byteLength; // 32 + 64
    const tr = new ScanTracker({ pendingLimit: 10_000, pendingMaxBytes: 3 * onePixelBytes });
    for (const seq of [0, 1, 2]) expect(tr.accept(pixel(seq)).rejects).toEqual([]);
    expect(tr.pendingBytes).toBe(3 * onePixelBytes);
    const over = tr.accept(pixel(3));
    expect(over.rejects.map((r) => r.code)).toEqual(['LS_PENDING_BYTES']);
    expect(over.rejects[0].message).toBe(`scan s1 pixel seq 3: no start message for this scan; holding its ${onePixelBytes} bytes would exceed ingest.pendingMaxBytes (${3 * onePixelBytes} of ${3 * onePixelBytes} held); send "start" before pixels`);
    expect(tr.pendingCount).toBe(3);
    // a pixel no start could ever accept is not held at all
    const hdr = { type: 'pixel' as const, scanId: 's2', seq: 0, row: 0, col: 0, t: 0 };
    const odd = tr.accept([Buffer.from('pixel'), Buffer.from(JSON.stringify(hdr)), Buffer.alloc(7)]);
    expect(odd.rejects[0]).toMatchObject({ code: 'LS_PENDING_BYTES', message: 'scan s2 pixel seq 0: no start message for this scan yet and buffer 0 has 7 bytes, not a whole number of float32/float64 values; not held' });
    const nine = tr.accept([Buffer.from('pixel'), Buffer.from(JSON.stringify(hdr)), ...Array.from({ length: 9 }, () => Buffer.alloc(8))]);
    expect(nine.rejects[0].code).toBe('LS_PENDING_BYTES');
    // the start releases the held bytes, in order
    const r = tr.accept(encodeStart(start));
    expect(r.events.map((e) => (e.type === 'pixel' ? e.seq : e.type))).toEqual(['start', 0, 1, 2]);
    expect(tr.pendingBytes).toBe(0);
  });

  // issue 12 item 12: a restarted producer's start with another phaseUnit or grid order was taken as "same layout".
  it('refuses a re-sent start whose layout differs in any field that changes how pixels are read', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    tr.accept(encodeStart(start));
    tr.accept(pixel(0));
    const variants: Array<[string, Partial<typeof start>]> = [
      ['phaseUnit', { phaseUnit: 'deg' }],
      ['grid', { grid: { ...start.grid, order: 'serpentine' } }],
      ['fields', { fields: ['on'] }],
      ['cycles', { cycles: 2 }],
      ['dcVoltage', { dcVoltage: start.dcVoltage.map((v) => v * 2) }],
      ['buffers', { buffers: start.buffers.map((b) => ({ ...b, unit: 'pm' })) }],
    ];
    for (const [field, change] of variants) {
      const r = tr.accept(encodeStart({ ...start, ...change }));
      expect(r.events, field).toEqual([]);
      expect(r.rejects.map((e) => e.code), field).toEqual(['LS_FRAME_START_LAYOUT']);
      expect(r.rejects[0].message, field).toContain(`another layout (${field}: `);
    }
    // the same layout with new metadata continues the scan, keeping the first start
    expect(tr.accept(encodeStart({ ...start, metadata: { restartedAt: 'now' } })).rejects).toEqual([]);
    expect(tr.activeScans()[0].phaseUnit).toBe('rad');
    expect(tr.activeScans()[0].metadata).toEqual(start.metadata);
    expect(tr.accept(pixel(1)).events.map((e) => e.type)).toEqual(['pixel']);
  });

  // issue 12 items 4 and 7: refused at decode, with their own codes, before anything is stored.
  it('refuses scan ids made of dots and start metadata too deep or too big', () => {
    const tr = new ScanTracker({ pendingLimit: 10 });
    for (const scanId of ['.', '..', '...']) {
      const r = tr.accept([Buffer.from('start'), Buffer.from(JSON.stringify({ ...start, scanId }))]);
      expect(r.rejects.map((e) => e.code), scanId).toEqual(['LS_FRAME_SCAN_ID']);
      const p = tr.accept([Buffer.from('pixel'), Buffer.from(JSON.stringify({ type: 'pixel', scanId, seq: 0, row: 0, col: 0, t: 0 })), Buffer.alloc(32)]);
      expect(p.rejects.map((e) => e.code), scanId).toEqual(['LS_FRAME_SCAN_ID']);
    }
    // depth 100,000 (~200 KB) as in the report: JSON.stringify of it overflowed the stack in the recorder
    const deep = `{"type":"start","protocol":1,"scanId":"deep","grid":{"rows":3,"cols":4},"kind":"loop","dcVoltage":${JSON.stringify(start.dcVoltage)},"buffers":${JSON.stringify(start.buffers)},"metadata":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
    const r = tr.accept([Buffer.from('start'), Buffer.from(deep)]);
    expect(r.rejects[0]).toMatchObject({ code: 'LS_FRAME_METADATA', message: 'start of scan deep: metadata is nested deeper than 32 levels' });
    const big = tr.accept(encodeStart({ ...start, scanId: 'big', metadata: { note: 'x'.repeat(40_000) } }));
    expect(big.rejects[0]).toMatchObject({ code: 'LS_FRAME_METADATA', message: 'start of scan big: metadata is larger than 32768 bytes of JSON' });
    // within the bounds: accepted
    const ok = tr.accept(encodeStart({ ...start, scanId: 'ok.1', metadata: { a: { b: { c: [1, 2, 3] } }, note: 'x'.repeat(1000) } }));
    expect(ok.rejects).toEqual([]);
    expect(ok.events.map((e) => e.type)).toEqual(['start']);
  });
});
