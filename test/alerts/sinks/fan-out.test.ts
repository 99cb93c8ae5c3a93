/** The sink fan-out: every sink gets every event in order; a throwing or rejecting sink is counted, logged and isolated. */
import { capturingLog } from '../../helpers/capturing-log.ts';
import { expect, it } from 'vitest';
import { FanOut, fanOut } from '../../../src/alerts/sinks/fan-out.ts';
import type { AlertDelivery, AlertEvent, AlertSink } from '../../../src/alerts/types.ts';

function recorder(name = 'recorder'): AlertSink & { events: AlertEvent[]; closed: number[] } {
  const events: AlertEvent[] = [];
  const closed: number[] = [];
  return { name, events, closed, deliver: ({ event }: AlertDelivery) => void events.push(event), close: async (p) => void closed.push(p?.timeoutMs ?? -1) };
}

const event = (id: number, scanId = 'scan-1'): AlertEvent => ({
  type: 'open',
  at: 1000 + id,
  alert: { id, scanId, state: 'open', sequence: 1, reason: 'error', openedAt: 1000, updatedAt: 1000, bbox: { rowMin: 0, rowMax: 0, colMin: 0, colMax: 0 }, area: 1, strongPixels: 1, errorPixels: 1, latentPixels: 0, peakScore: 2, meanScore: 2, centroid: { row: 0, col: 0 }, merged: [], pixels: Uint32Array.of(0) },
}) as unknown as AlertEvent;

it('a sink that throws and one that rejects do not stop the others; each failure is counted per sink and logged', async () => {
  const a = recorder('a');
  const b = recorder('b');
  const throwing: AlertSink = { name: 'throws', deliver: () => { throw new Error('boom'); } };
  const rejecting: AlertSink = { name: 'rejects', deliver: () => Promise.reject(new Error('later boom')) };
  const { log, lines } = capturingLog('warn');
  const out = fanOut([a, throwing, rejecting, b], log);
  const heard: string[] = [];
  for (const id of [1, 2, 3]) out.deliver({ event: event(id) }, (sink, err) => heard.push(`${sink.name}: ${(err as Error).message}`));
  expect(a.events.map((e) => e.alert.id)).toEqual([1, 2, 3]);
  expect(b.events.map((e) => e.alert.id)).toEqual([1, 2, 3]);
  expect(out.delivered).toBe(3);
  // the throws are counted at once; the rejections once their promises settle
  expect(Object.fromEntries(out.failures)).toEqual({ throws: 3 });
  await new Promise((r) => setImmediate(r));
  expect(Object.fromEntries(out.failures)).toEqual({ throws: 3, rejects: 3 });
  expect(out.failureCount).toBe(6);
  expect(heard.filter((h) => h === 'throws: boom')).toHaveLength(3);
  expect(heard.filter((h) => h === 'rejects: later boom')).toHaveLength(3);
  expect(lines).toHaveLength(6);
  expect(lines[0]).toMatchObject({ level: 40, sink: 'throws', scanId: 'scan-1', msg: 'alert sink throws failed; the other sinks go on' });
});

it('no sinks: delivering is a no-op; close closes every sink that can be closed, a failing close included', async () => {
  expect(() => fanOut([]).deliver({ event: event(1) })).not.toThrow();
  const a = recorder('a');
  const failingClose: AlertSink = { name: 'bad-close', deliver: () => undefined, close: () => Promise.reject(new Error('cannot close')) };
  const noClose: AlertSink = { name: 'no-close', deliver: () => undefined };
  const out = new FanOut([a, failingClose, noClose]);
  await out.close(250);
  expect(a.closed).toEqual([250]);
});
