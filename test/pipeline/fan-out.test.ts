/**
 * `guarded` (src/pipeline/fan-out.ts) on a plain Subject, the way the pipeline's owners deliver: in subscription order,
 * synchronously inside `next`; a subscriber that throws is logged with its name and the others still get every value.
 * Without it, RxJS re-throws the error on a timer (shown at the end), where it would end the daemon.
 */
import { capturingLog } from '../helpers/capturing-log.ts';
import { Subject, config as rxConfig } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { guarded } from '../../src/pipeline/fan-out.ts';

afterEach(() => {
  vi.useRealTimers();
  rxConfig.onUnhandledError = null;
});

describe('guarded subscribers', () => {
  it('deliver in subscription order inside next; a throwing one is logged, the others get every value', async () => {
    const { log, lines } = capturingLog();
    const subject = new Subject<number>();
    const calls: string[] = [];
    subject.subscribe(guarded(log, 'first', (v) => calls.push(`first ${v}`)));
    subject.subscribe(
      guarded(log, 'broken', (v) => {
        if (v % 2 === 0) throw new Error(`even ${v}`);
        calls.push(`broken ${v}`);
      }),
    );
    subject.subscribe(guarded(log, 'last', (v) => calls.push(`last ${v}`)));
    for (const v of [1, 2, 3]) {
      subject.next(v);
      calls.push(`after next ${v}`);
    }
    expect(calls).toEqual(['first 1', 'broken 1', 'last 1', 'after next 1', 'first 2', 'last 2', 'after next 2', 'first 3', 'broken 3', 'last 3', 'after next 3']);
    await new Promise((r) => setImmediate(r)); // pino writes asynchronously
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ subscriber: 'broken', err: 'even 2' });
  });

  it('after complete (what Daemon.close does) no subscriber is called', () => {
    const { log } = capturingLog();
    const subject = new Subject<number>();
    const seen: number[] = [];
    const sub = subject.subscribe(guarded(log, 'x', (v) => seen.push(v)));
    subject.next(1);
    subject.complete();
    subject.next(2);
    expect(seen).toEqual([1]);
    expect(sub.closed).toBe(true);
  });

  it('unguarded, RxJS re-throws the error on a timer (why every daemon subscriber is guarded)', () => {
    vi.useFakeTimers();
    const reported: unknown[] = [];
    rxConfig.onUnhandledError = (err) => reported.push(err);
    const subject = new Subject<number>();
    const seen: number[] = [];
    subject.subscribe(() => {
      throw new Error('unguarded');
    });
    subject.subscribe((v) => seen.push(v));
    subject.next(1);
    expect(seen).toEqual([1]);
    expect(reported).toEqual([]); // not yet: it is scheduled
    vi.runAllTimers();
    expect(reported.map((e) => (e as Error).message)).toEqual(['unguarded']);
  });
});
