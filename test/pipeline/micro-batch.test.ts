import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { microBatch } from '../../src/pipeline/operators/micro-batch.ts';

const isControl = (s: string): s is string => s === s.toUpperCase();

describe('microBatch (virtual time)', () => {
  const make = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

  it('flushes when full, on timeout, and before a control item; never emits an empty batch', () => {
    make().run(({ hot, expectObservable }) => {
      const items = hot('  a-b-c------d----------e-S-----|');
      const expected = '  ----x----------------y--(zS)--|';
      expectObservable(items.pipe(microBatch(3, 10, isControl))).toBe(expected, {
        x: { kind: 'batch', items: ['a', 'b', 'c'] },
        y: { kind: 'batch', items: ['d'] },
        z: { kind: 'batch', items: ['e'] },
        S: { kind: 'control', item: 'S' },
      });
    });
  });

  it('flushes the open batch when the source completes', () => {
    make().run(({ cold, expectObservable }) => {
      const items = cold(' a-b|');
      const expected = '   ---(x|)';
      expectObservable(items.pipe(microBatch(5, 100, isControl))).toBe(expected, { x: { kind: 'batch', items: ['a', 'b'] } });
    });
  });

  it('a size flush cancels the pending timer: the next batch waits its own maxWaitMs from its first item', () => {
    make().run(({ hot, expectObservable }) => {
      // a starts a 10-frame timer; full at c (frame 2) cancels it, so d (frame 4) is flushed at 14, not at 10
      const items = hot('  abc-d');
      const expected = '   --x-----------y';
      expectObservable(items.pipe(microBatch(3, 10, isControl))).toBe(expected, {
        x: { kind: 'batch', items: ['a', 'b', 'c'] },
        y: { kind: 'batch', items: ['d'] },
      });
    });
  });

  it('control items keep their order: consecutive controls pass one by one, with no empty batch between them', () => {
    make().run(({ hot, expectObservable }) => {
      const items = hot('  a----B----C----d----|');
      const expected = '   -----(xB)-C---------(y|)';
      expectObservable(items.pipe(microBatch(5, 100, isControl))).toBe(expected, {
        x: { kind: 'batch', items: ['a'] },
        y: { kind: 'batch', items: ['d'] },
        B: { kind: 'control', item: 'B' },
        C: { kind: 'control', item: 'C' },
      });
    });
  });

  it('an error flushes the open batch first, then errors; maxSize 1 batches every item alone', () => {
    make().run(({ cold, expectObservable }) => {
      expectObservable(cold('a-b-#').pipe(microBatch(5, 100, isControl))).toBe('----(x#)', { x: { kind: 'batch', items: ['a', 'b'] } });
      expectObservable(cold('ab-S|').pipe(microBatch(1, 100, isControl))).toBe('ab-S|', {
        a: { kind: 'batch', items: ['a'] },
        b: { kind: 'batch', items: ['b'] },
        S: { kind: 'control', item: 'S' },
      });
    });
  });
});
