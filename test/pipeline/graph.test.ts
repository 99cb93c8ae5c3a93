/**
 * encodeScans (src/pipeline/graph.ts) wired end to end in virtual time (vitest fake timers drive RxJS's async
 * scheduler): start opens the scan, pixels are batched by size and by time, every batch is on the recording BEFORE
 * it is encoded, control items keep their place, a failed recording is reported and its batch still encoded.
 *
 * The registry and encoder are in-memory (test/pipeline/support/scans.ts and `valueEncoder` below): the real ones
 * need a model bundle and HDF5 files; the daemon's real wiring is covered by test/e2e (e.g. live-replay.test.ts).
 * The maps are the real ScanMaps.
 */
import { Subject, lastValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PIXEL_DONE, PIXEL_MISSING } from '../../src/maps/scan-maps.ts';
import { encodeScans } from '../../src/pipeline/graph.ts';
import type { PipelineEvent } from '../../src/pipeline/items.ts';
import type { BatchEncoder } from '../../src/pipeline/operators/encode-batches.ts';
import type { ScanEvent } from '../../src/protocol/events.ts';
import { LATENT, MemoryRecorder, MemoryScans, scanEvents } from './support/scans.ts';

/**
 * Encodes pixel k as μ = [first piezoresponse value, seq], log σ² = [0, 0], error = seq / 1000 (known answers that
 * tell pixels apart), and handles control items as the registry does (gap → missing, start/stop → events).
 */
function valueEncoder(journal: string[]): BatchEncoder {
  return {
    async encode(items) {
      journal.push(`encode ${items.map((i) => i.ev.seq).join(',')}`);
      for (const it of items) {
        it.ctx.maps.applyBatch({
          index: [it.index],
          mu: Float32Array.of(it.ev.data[0]![0]!, it.ev.seq),
          logVar: new Float32Array(LATENT),
          error: Float32Array.of(it.ev.seq / 1000),
          version: 1,
        });
        it.ctx.counters.encoded++;
      }
    },
    async control({ ctx, ev }) {
      journal.push(`control ${ev.type}`);
      if (ev.type === 'gap') ctx.maps.markMissing(ev.fromSeq, ev.toSeq);
      if (ev.type === 'start') return { type: 'scan:start', ctx };
      if (ev.type === 'stop') return { type: 'scan:end', ctx };
      return undefined;
    },
  };
}

const show = (evs: PipelineEvent[]) => evs.map((e) => (e.type === 'batch' ? `batch ${e.ctx.start.scanId} ${e.pixels}` : `${e.type} ${e.ctx.start.scanId}`));

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('encodeScans (virtual time)', () => {
  it('start → size flush → time flush → gap → stop: recorded before encoded, controls in place, maps at the right pixels', async () => {
    const scans = new MemoryScans();
    const journal = scans.journal; // one journal: registry, recorder and encoder calls in the order they happened
    const s = scanEvents('s', 2, 3);
    const events = new Subject<ScanEvent>();
    const out: PipelineEvent[] = [];
    const done = lastValueFrom(encodeScans(events, { scans, encoder: valueEncoder(journal), batch: { maxSize: 4, maxWaitMs: 50 } }).pipe(toArray()));
    events.next(s.start);
    for (const seq of [0, 1, 2, 3, 4]) events.next(s.pixel(seq));
    await vi.advanceTimersByTimeAsync(0);
    expect(journal).toEqual(['open s', 'control start', 'record 0,1,2,3', 'encode 0,1,2,3']); // full at 4: flushed at once

    await vi.advanceTimersByTimeAsync(49);
    expect(journal.at(-1)).toBe('encode 0,1,2,3'); // pixel 4 still waits for its batch to fill
    await vi.advanceTimersByTimeAsync(1);
    expect(journal.slice(4)).toEqual(['record 4', 'encode 4']); // 50 ms after it arrived: flushed by time

    events.next(s.gap(5, 5));
    events.next(s.stop());
    events.complete();
    await vi.advanceTimersByTimeAsync(0);
    out.push(...(await done));
    expect(journal.slice(6)).toEqual(['control gap', 'control stop']);
    expect(show(out)).toEqual(['scan:start s', 'batch s 4', 'batch s 1', 'scan:end s']);

    const ctx = scans.get('s')!;
    expect(ctx.counters).toMatchObject({ received: 5, recorded: 5, encoded: 5 });
    expect((ctx.recorder as MemoryRecorder).pixels.map((p) => p.seq)).toEqual([0, 1, 2, 3, 4]);
    expect([...ctx.maps.state]).toEqual([PIXEL_DONE, PIXEL_DONE, PIXEL_DONE, PIXEL_DONE, PIXEL_DONE, PIXEL_MISSING]);
    // pixel seq k sits at row k / 3, col k % 3 (raster), with μ = [sin(k), k] (test/helpers/scan.ts loopValues)
    for (let k = 0; k < 5; k++) expect([...ctx.maps.mu.subarray(k * LATENT, (k + 1) * LATENT)]).toEqual([Math.fround(Math.sin(k)), k]);
    expect(ctx.maps.error[4]).toBe(Math.fround(0.004));
    expect(Number.isNaN(ctx.maps.error[5])).toBe(true);
  });

  it('a batch mixing two scans is recorded per scan and reported per scan; a failed recording is told and still encoded', async () => {
    const scans = new MemoryScans();
    const a = scanEvents('a', 2, 2);
    const b = scanEvents('b', 2, 2);
    const events = new Subject<ScanEvent>();
    const done = lastValueFrom(encodeScans(events, { scans, encoder: valueEncoder(scans.journal), batch: { maxSize: 3, maxWaitMs: 1000 } }).pipe(toArray()));
    events.next(a.start);
    events.next(b.start);
    await vi.advanceTimersByTimeAsync(0);
    (scans.get('b')!.recorder as MemoryRecorder).failWith = Object.assign(new Error('disk full'), { code: 'LS_FILE_WRITE' });
    events.next(a.pixel(0));
    events.next(b.pixel(0));
    events.next(a.pixel(1)); // full: one batch of two scans
    events.next(b.pixel(1)); // b has no recorder any more: counted as unrecorded, still encoded
    events.next(a.stop(1));
    events.next(b.stop(1));
    events.complete();
    const out = await done;
    expect(show(out)).toEqual(['scan:start a', 'scan:start b', 'batch a 2', 'batch b 1', 'batch b 1', 'scan:end a', 'scan:end b']);
    expect(scans.journal).toEqual(['open a', 'control start', 'open b', 'control start', 'record 0,1', 'encode 0,0,1', 'encode 1', 'control stop', 'control stop']);
    expect(scans.recordingFailures).toEqual([{ scanId: 'b', message: 'disk full', seqs: [0] }]);
    const cb = scans.get('b')!;
    expect(cb.recordingError?.unrecorded).toBe(2); // the failed batch's pixel and the one after it
    expect(cb.counters).toMatchObject({ received: 2, recorded: 0, encoded: 2 });
    expect(scans.get('a')!.counters).toMatchObject({ received: 2, recorded: 2, encoded: 2 });
  });
});
