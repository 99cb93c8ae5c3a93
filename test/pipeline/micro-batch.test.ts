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
});
