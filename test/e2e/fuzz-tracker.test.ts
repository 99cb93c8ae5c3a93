/**
 * The fuzz generator against the protocol layer in-process (no sockets): every malformed frame must be refused
 * under exactly the reason protocol v1 prescribes, held pixels must stay held, and the valid scans must come
 * through whole. test/e2e/fuzz.test.ts sends the same kind of stream into a real daemon process.
 */
import { describe, expect, it } from 'vitest';
import { ScanTracker } from '../../src/protocol/scan-tracker.ts';
import { RejectCounts } from '../../src/sources/zmq.ts';
import { FUZZ_TARGET, OutcomeTally, fuzzSession } from './support/fuzz-frames.ts';

describe('fuzz session through the ScanTracker', () => {
  it('refuses 20,000 malformed frames each under its prescribed code and passes the valid scan whole', () => {
    const pendingLimit = 200;
    const tracker = new ScanTracker({ pendingLimit });
    const counts = new RejectCounts();
    const tally = new OutcomeTally();
    const pixels = new Map<string, Set<number>>();
    const stops: string[] = [];
    for (const f of fuzzSession({ frames: 20_000, seed: 11, pendingLimit, steps: 96, validRows: 12, validCols: 12 })) {
      tally.add(f);
      const { events, rejects } = tracker.accept(f.parts);
      for (const r of rejects) counts.add(r.code);
      // one refusal per refused frame, none for the others — checked frame by frame, so a miscount names its frame
      if (f.expect === 'ok' || f.expect === 'held') expect(rejects.map((r) => r.code), f.kind).toEqual([]);
      else expect(rejects.map((r) => r.code), f.kind).toEqual([f.expect]);
      for (const ev of events) {
        expect(ev.type, f.kind).not.toBe('gap');
        if (ev.type === 'pixel') {
          if (!pixels.has(ev.scanId)) pixels.set(ev.scanId, new Set());
          pixels.get(ev.scanId)!.add(ev.row * 1000 + ev.col);
        }
        if (ev.type === 'stop') stops.push(ev.header.scanId);
      }
    }
    expect(counts.toJSON()).toEqual(tally.rejects());
    expect(pixels.get('fuzz-valid')?.size).toBe(144);
    expect(pixels.get(FUZZ_TARGET)?.size).toBe(10);
    expect(stops).toEqual(['fuzz-stale', 'fuzz-valid', FUZZ_TARGET]);
    expect(tracker.pendingCount).toBe(pendingLimit);
    // every reason in the generator was exercised
    expect(Object.keys(tally.rejects()).sort()).toEqual(
      ['LS_FRAME_ALL_NONFINITE', 'LS_FRAME_BUFFER_COUNT', 'LS_FRAME_BUFFER_SIZE', 'LS_FRAME_HEADER', 'LS_FRAME_JSON', 'LS_FRAME_OUT_OF_GRID', 'LS_FRAME_PARTS', 'LS_FRAME_START_LAYOUT', 'LS_FRAME_TYPE', 'LS_FRAME_VERSION', 'LS_PENDING_OVERFLOW', 'LS_SCAN_STALE', 'LS_SCAN_UNKNOWN', 'LS_SEQ_DUPLICATE'],
    );
  }, 60_000);
});
