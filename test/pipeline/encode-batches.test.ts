/**
 * encodeBatches (src/pipeline/operators/encode-batches.ts): one inference call at a time, control items handled in
 * stream order between batches, one `batch` event per scan of a batch, and an encoder failure ends the stream with
 * that error (nothing after it is handled).
 */
import { firstValueFrom, from, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ControlItem, PipelineEvent, PixelItem } from '../../src/pipeline/items.ts';
import type { Batched } from '../../src/pipeline/operators/micro-batch.ts';
import { encodeBatches, type BatchEncoder } from '../../src/pipeline/operators/encode-batches.ts';
import type { ScanContext } from '../../src/pipeline/scan-context.ts';
import { MemoryScans, scanEvents } from './support/scans.ts';

async function twoScans() {
  const scans = new MemoryScans();
  const a = scanEvents('a', 2, 2);
  const b = scanEvents('b', 2, 2);
  const ca = await scans.open(a.start);
  const cb = await scans.open(b.start);
  const px = (ctx: ScanContext, ev: ReturnType<typeof a.pixel>): PixelItem => ({ kind: 'pixel', ctx, ev, index: ev.row * 2 + ev.col, receivedAt: 0 });
  const ctl = (ctx: ScanContext, ev: ControlItem['ev']): Batched<PixelItem, ControlItem> => ({ kind: 'control', item: { kind: 'control', ctx, ev } });
  return { a, b, ca, cb, px, ctl };
}

/** An encoder that journals its calls and answers start → scan:start, stop → scan:end, gap → nothing. */
function journalEncoder(journal: string[], gate?: () => Promise<void>): BatchEncoder {
  return {
    async encode(items) {
      journal.push(`encode ${items.map((i) => `${i.ctx.start.scanId}#${i.ev.seq}`).join(',')}`);
      await gate?.();
      journal.push('encoded');
    },
    async control(item) {
      journal.push(`control ${item.ev.type} ${item.ctx.start.scanId}`);
      if (item.ev.type === 'start') return { type: 'scan:start', ctx: item.ctx };
      if (item.ev.type === 'stop') return { type: 'scan:end', ctx: item.ctx };
      return undefined;
    },
  };
}

const show = (evs: PipelineEvent[]) => evs.map((e) => (e.type === 'batch' ? `batch ${e.ctx.start.scanId} ${e.pixels}` : `${e.type} ${e.ctx.start.scanId}`));

describe('encodeBatches', () => {
  it('controls in order between batches; a batch mixing scans reports each scan once, in first-seen order', async () => {
    const { a, b, ca, cb, px, ctl } = await twoScans();
    const journal: string[] = [];
    const input: Array<Batched<PixelItem, ControlItem>> = [
      ctl(ca, a.start),
      ctl(cb, b.start),
      { kind: 'batch', items: [px(cb, b.pixel(0)), px(ca, a.pixel(0)), px(cb, b.pixel(1))] },
      ctl(ca, a.gap(1, 1) as ControlItem['ev']),
      { kind: 'batch', items: [px(ca, a.pixel(2))] },
      ctl(ca, a.stop() as ControlItem['ev']),
    ];
    const out = await firstValueFrom(from(input).pipe(encodeBatches(journalEncoder(journal)), toArray()));
    expect(show(out)).toEqual(['scan:start a', 'scan:start b', 'batch b 2', 'batch a 1', 'batch a 1', 'scan:end a']);
    expect(journal).toEqual(['control start a', 'control start b', 'encode b#0,a#0,b#1', 'encoded', 'control gap a', 'encode a#2', 'encoded', 'control stop a']);
    const batches = out.filter((e) => e.type === 'batch');
    expect(batches.every((e) => e.type === 'batch' && e.latencyMs >= 0)).toBe(true);
  });

  it('one inference call at a time: the next batch and a stop wait until the running call resolved', async () => {
    const { a, ca, px, ctl } = await twoScans();
    const journal: string[] = [];
    const releases: Array<() => void> = [];
    const gate = () => new Promise<void>((r) => releases.push(r));
    const input = new Subject<Batched<PixelItem, ControlItem>>();
    const out: PipelineEvent[] = [];
    input.pipe(encodeBatches(journalEncoder(journal, gate))).subscribe((e) => out.push(e));
    input.next({ kind: 'batch', items: [px(ca, a.pixel(0))] });
    input.next({ kind: 'batch', items: [px(ca, a.pixel(1))] });
    input.next(ctl(ca, a.stop() as ControlItem['ev']));
    await new Promise((r) => setImmediate(r));
    expect(journal).toEqual(['encode a#0']); // the second batch and the stop are queued behind the first call
    releases[0]!();
    await new Promise((r) => setImmediate(r));
    expect(journal).toEqual(['encode a#0', 'encoded', 'encode a#1']);
    releases[1]!();
    await new Promise((r) => setImmediate(r));
    expect(journal).toEqual(['encode a#0', 'encoded', 'encode a#1', 'encoded', 'control stop a']);
    expect(show(out)).toEqual(['batch a 1', 'batch a 1', 'scan:end a']);
  });

  it('a failed inference call errors the stream with its error; nothing queued after it is handled', async () => {
    const { a, ca, px, ctl } = await twoScans();
    const journal: string[] = [];
    const boom = new Error('onnxruntime: session run failed');
    const encoder = journalEncoder(journal);
    const failing: BatchEncoder = {
      control: encoder.control,
      async encode(items) {
        if (items.some((i) => i.ev.seq === 1)) throw boom;
        return encoder.encode(items);
      },
    };
    const input: Array<Batched<PixelItem, ControlItem>> = [
      { kind: 'batch', items: [px(ca, a.pixel(0))] },
      { kind: 'batch', items: [px(ca, a.pixel(1))] },
      ctl(ca, a.stop() as ControlItem['ev']),
    ];
    const seen: PipelineEvent[] = [];
    const err = await new Promise<unknown>((resolve) => from(input).pipe(encodeBatches(failing)).subscribe({ next: (e) => seen.push(e), error: resolve, complete: () => resolve('completed') }));
    expect(err).toBe(boom);
    expect(show(seen)).toEqual(['batch a 1']);
    expect(journal).toEqual(['encode a#0', 'encoded']); // the stop was never handled

    const failingControl: BatchEncoder = { encode: encoder.encode, control: async () => Promise.reject(new RangeError('bad stop')) };
    await expect(firstValueFrom(from([ctl(ca, a.stop() as ControlItem['ev'])]).pipe(encodeBatches(failingControl)))).rejects.toThrow('bad stop');
  });
});
