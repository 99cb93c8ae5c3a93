/** RoundPolicy on a fake clock: which trigger starts a round when, early rounds on a fit flag, the drain, the pause rule. */
import { expect, test } from 'vitest';
import { lagAction, RoundPolicy, type RoundPolicyConfig } from '../../src/finetune/round-policy.ts';

const C: RoundPolicyConfig = { everyPixels: 1000, minPixels: 100, everyMinutes: 10, maxRounds: 0, pauseQueueDepth: 400 };

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

test('a pixel round starts at everyPixels new pixels, and none while another runs', () => {
  const p = new RoundPolicy(C, clock().now);
  expect(p.pixelTrigger).toBe('pixels');
  expect(p.decide('pixels', { added: 999, size: 999 })).toBeUndefined();
  expect(p.decide('pixels', { added: 1000, size: 1000 })).toBe('pixels');
  expect(p.begin()).toBe(1);
  expect(p.decide('pixels', { added: 5000, size: 5000 })).toBeUndefined();
  p.end(true);
  expect(p.decide('pixels', { added: 1000, size: 1000 })).toBe('pixels');
  expect(p.begin()).toBe(2);
});

test('the time trigger: due everyMinutes after start or after the last round ended, and only with minPixels', () => {
  const clk = clock();
  const p = new RoundPolicy(C, clk.now);
  expect(p.timeCheckMs).toBe(5000);
  clk.t += 10 * 60_000 - 1;
  expect(p.timeDue()).toBe(false);
  clk.t += 1;
  expect(p.timeDue()).toBe(true);
  expect(p.decide('time', { added: 99, size: 99 })).toBeUndefined();
  expect(p.decide('time', { added: 100, size: 100 })).toBe('time');
  p.begin();
  clk.t += 3 * 60_000; // the round takes 3 minutes: the clock restarts at its end
  p.end(false);
  clk.t += 9 * 60_000;
  expect(p.timeDue()).toBe(false);
  clk.t += 60_000;
  expect(p.timeDue()).toBe(true);
  expect(new RoundPolicy({ ...C, everyMinutes: 0.005 }, clk.now).timeCheckMs).toBe(300);
});

test('a scan flagged as not fitting lowers the pixels a round needs to minPixels until it fits again', () => {
  const p = new RoundPolicy(C, clock().now);
  expect(p.pixelsNeeded).toBe(1000);
  expect(p.setFit('scan-a', true)).toBe(true);
  expect(p.setFit('scan-b', true)).toBe(true);
  expect(p.pixelsNeeded).toBe(100);
  expect(p.pixelTrigger).toBe('ood');
  expect(p.decide('ood', { added: 100, size: 100 })).toBe('ood');
  expect(p.setFit('scan-a', false)).toBe(false);
  expect(p.pixelsNeeded).toBe(100); // scan-b is still flagged
  p.setFit('scan-b', false);
  expect(p.pixelsNeeded).toBe(1000);
  expect(p.decide('pixels', { added: 100, size: 100 })).toBeUndefined();
  // minPixels above everyPixels never makes the flagged case wait longer
  const q = new RoundPolicy({ ...C, minPixels: 2000 }, clock().now);
  q.setFit('s', true);
  expect(q.pixelsNeeded).toBe(1000);
});

test('maxRounds and close stop new rounds', () => {
  const p = new RoundPolicy({ ...C, maxRounds: 2 }, clock().now);
  for (const r of [1, 2]) {
    expect(p.decide('pixels', { added: 1000, size: 1000 })).toBe('pixels');
    expect(p.begin()).toBe(r);
    p.end(true);
  }
  expect(p.decide('pixels', { added: 1000, size: 1000 })).toBeUndefined();
  const q = new RoundPolicy(C, clock().now);
  q.closed = true;
  expect(q.decide('pixels', { added: 1000, size: 1000 })).toBeUndefined();
});

test('the drain: one round on what arrived (at least minPixels), then more on the same pixels while the gate accepts', () => {
  const p = new RoundPolicy(C, clock().now);
  expect(p.drain({ added: 99, size: 99 })).toBe('none-first'); // never ran a round: the caller logs why
  expect(p.drain({ added: 300, size: 300 })).toBe('start');
  expect(p.decide('end', { added: 300, size: 300 })).toBe('end');
  p.begin();
  expect(p.drain({ added: 0, size: 300 })).toBe('running');
  p.end(true);
  // after an accepted round a pixel trigger becomes an 'end' round on the buffer's pixels
  expect(p.decide('pixels', { added: 0, size: 300 })).toBe('end');
  expect(p.decide('pixels', { added: 0, size: 99 })).toBeUndefined(); // fewer than minPixels held
  p.begin();
  p.end(false);
  // rejected: the chain stops
  expect(p.decide('pixels', { added: 0, size: 300 })).toBeUndefined();
  expect(p.drain({ added: 0, size: 300 })).toBe('none');
  // a round that failed outside its own handling keeps the last verdict
  const q = new RoundPolicy(C, clock().now);
  q.drain({ added: 300, size: 300 });
  q.begin();
  q.end(true);
  q.begin();
  q.end(undefined);
  expect(q.decide('pixels', { added: 0, size: 300 })).toBe('end');
});

test('a collecting status at most once a second, and none while a round runs', () => {
  const clk = clock();
  const p = new RoundPolicy(C, clk.now);
  expect(p.collectingDue()).toBe(true);
  clk.t += 1000;
  expect(p.collectingDue()).toBe(false);
  clk.t += 1;
  expect(p.collectingDue()).toBe(true);
  clk.t += 5000;
  p.begin();
  expect(p.collectingDue()).toBe(false);
});

test('training pauses above pauseQueueDepth and resumes at half of it (hysteresis)', () => {
  expect(lagAction(401, false, 400)).toBe('pause');
  expect(lagAction(400, false, 400)).toBeUndefined();
  expect(lagAction(401, true, 400)).toBeUndefined();
  expect(lagAction(300, true, 400)).toBeUndefined();
  expect(lagAction(200, true, 400)).toBe('resume');
  expect(lagAction(0, false, 400)).toBeUndefined();
});
