/**
 * openScans (src/pipeline/operators/open-scans.ts): every ScanEvent bound to its scan, in order. Known answers for
 * the counters, the flat indices, the lazy grid allocation, orphans, refused pixels and a scan refused for memory.
 */
import { firstValueFrom, from, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { PIXEL_RECEIVED } from '../../src/maps/scan-maps.ts';
import type { PipelineItem } from '../../src/pipeline/items.ts';
import { openScans } from '../../src/pipeline/operators/open-scans.ts';
import type { ScanEvent } from '../../src/protocol/events.ts';
import { MemoryScans, scanEvents } from './support/scans.ts';

/** What came out, in a compact form: `start s`, `pixel s#seq@index`, `gap s`, `stop s`. */
const show = (items: PipelineItem[]) =>
  items.map((it) => (it.kind === 'pixel' ? `pixel ${it.ctx.start.scanId}#${it.ev.seq}@${it.index}` : `${it.ev.type} ${it.ctx.start.scanId}`));

const run = (scans: MemoryScans, events: ScanEvent[]) => firstValueFrom(from(events).pipe(openScans(scans), toArray()));

describe('openScans', () => {
  it('binds pixels to their scan with the flat index; counts received and the highest seq; allocates at the first pixel', async () => {
    const scans = new MemoryScans();
    const a = scanEvents('a', 3, 4);
    const items = await run(scans, [a.start, a.pixel(5), a.pixel(2), a.pixel(11), a.gap(3, 4), a.stop()]);
    expect(show(items)).toEqual(['start a', 'pixel a#5@5', 'pixel a#2@2', 'pixel a#11@11', 'gap a', 'stop a']);
    const ctx = scans.get('a')!;
    expect(items.every((it) => it.ctx === ctx)).toBe(true);
    expect(ctx.counters).toMatchObject({ received: 3, rejected: 0, lastSeq: 11 });
    expect([ctx.maps.received, ctx.maps.state[5], ctx.maps.state[11], ctx.maps.state[0]]).toEqual([3, PIXEL_RECEIVED, PIXEL_RECEIVED, 0]);
  });

  it('a start costs no grid memory: the maps are allocated by the first pixel or gap, not by the start', async () => {
    const scans = new MemoryScans();
    const a = scanEvents('a', 2, 2);
    await run(scans, [a.start]);
    expect(scans.get('a')!.maps.allocated).toBe(false);
    await run(scans, [a.gap(0, 0)]);
    expect(scans.get('a')!.maps.allocated).toBe(true);
  });

  it('events of a scan that is not open are handed to orphan() and dropped; refused pixels are counted, not emitted', async () => {
    const scans = new MemoryScans();
    const a = scanEvents('a', 2, 2);
    const b = scanEvents('b', 2, 2);
    const items = await run(scans, [b.pixel(0), a.start, a.refused(1), a.pixel(0), b.stop()]);
    expect(show(items)).toEqual(['start a', 'pixel a#0@0']);
    expect(scans.orphans.map((e) => e.type)).toEqual(['pixel', 'stop']);
    expect(scans.get('a')!.counters).toMatchObject({ received: 1, rejected: 1 });
  });

  it('a scan whose grid cannot be allocated is refused once; its pixels are counted rejected, its stop still passes', async () => {
    const scans = new MemoryScans();
    scans.failAllocation.add('big');
    const big = scanEvents('big', 4, 4);
    const ok = scanEvents('ok', 2, 2);
    const items = await run(scans, [big.start, ok.start, big.pixel(0), ok.pixel(1), big.pixel(1), big.gap(2, 3), big.refused(4), big.stop()]);
    expect(show(items)).toEqual(['start big', 'start ok', 'pixel ok#1@1', 'stop big']);
    expect(scans.refusals).toEqual([{ scanId: 'big', message: 'Array buffer allocation failed' }]);
    expect(scans.get('big')!.counters).toMatchObject({ received: 0, rejected: 3 });
    expect(scans.get('ok')!.counters.received).toBe(1);
  });

  it('events after a start wait for the scan to open, and leave in arrival order', async () => {
    const scans = new MemoryScans();
    let release!: () => void;
    scans.hold = new Promise((r) => (release = r));
    const a = scanEvents('a', 2, 2);
    const events = new Subject<ScanEvent>();
    const out: PipelineItem[] = [];
    events.pipe(openScans(scans)).subscribe((it) => out.push(it));
    events.next(a.start);
    events.next(a.pixel(0));
    events.next(a.pixel(1));
    await Promise.resolve();
    expect(out).toEqual([]); // nothing passes a scan that is still opening
    release();
    await new Promise((r) => setImmediate(r));
    expect(show(out)).toEqual(['start a', 'pixel a#0@0', 'pixel a#1@1']);
  });

  it('a source that emits a whole scan synchronously behind its start is bound completely (no recursion per event)', async () => {
    // 200 × 200 = 40,000 pixels emitted in one synchronous burst while the start is still opening: the old
    // concatMap drained them by recursion and overflowed the stack after ~800, silently ending the run.
    const scans = new MemoryScans();
    const a = scanEvents('big', 200, 200);
    const events: ScanEvent[] = [a.start];
    for (let seq = 0; seq < 40_000; seq++) events.push({ ...a.pixel(0), seq, row: Math.floor(seq / 200), col: seq % 200 });
    events.push(a.stop());
    const items = await run(scans, events);
    expect(items.length).toBe(40_002);
    expect(scans.get('big')!.counters).toMatchObject({ received: 40_000, lastSeq: 39_999 });
    expect(items.at(-1)!.ev.type).toBe('stop');
  });

  it('an unsubscribe while a start is opening emits nothing after it', async () => {
    const scans = new MemoryScans();
    let release!: () => void;
    scans.hold = new Promise((r) => (release = r));
    const a = scanEvents('a', 2, 2);
    const events = new Subject<ScanEvent>();
    const out: PipelineItem[] = [];
    const sub = events.pipe(openScans(scans)).subscribe((it) => out.push(it));
    events.next(a.start);
    events.next(a.pixel(0));
    sub.unsubscribe();
    release();
    await new Promise((r) => setImmediate(r));
    expect(out).toEqual([]);
  });
});
