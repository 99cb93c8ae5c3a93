/**
 * Publish a simulated scan over ZeroMQ in protocol v1, paced at a pixel rate: the simulator side of a live test.
 * PUSH (default) is lossless: `send` waits while the daemon's queue is full, so a slow daemon slows the
 * "instrument" instead of losing pixels. PUB is for monitor-style tests and drops at the high-water mark.
 */
import * as zmq from 'zeromq';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodePixel, encodeStart, encodeStop } from '../protocol/encode.ts';
import type { StopHeader } from '../protocol/messages.ts';
import type { SimulatedScan } from './index.ts';

/** How to publish. */
export interface PublishOptions {
  endpoint: string;
  /** pixels per second (Infinity = as fast as the socket takes them) */
  ratePxPerSec: number;
  /** push (default, connects: the daemon binds PULL) or pub */
  socket?: 'push' | 'pub';
  /** bind instead of connect (the daemon then connects) */
  bind?: boolean;
  /** seqs never sent, to force gaps in tests */
  skipSeqs?: number[];
  /** after every N pixels, also send one malformed frame (tests the daemon's refusal path) */
  malformedEvery?: number;
  /** only publish the first N pixels (then stop with status aborted) */
  limit?: number;
  /** abort publishing: a stop with status `aborted` is still sent */
  signal?: AbortSignal;
  /** wait before the first message, ms (PUB subscribers need a moment to join; default 0 push, 300 pub) */
  settleMs?: number;
  /** linger on close for undelivered messages, ms (default 10000) */
  lingerMs?: number;
}

/** What was sent. */
export interface PublishCounts {
  pixels: number;
  skipped: number;
  malformed: number;
  seconds: number;
  stop: StopHeader;
}

/** Frames the daemon must refuse (a pixel whose header is not JSON): LS_FRAME_JSON. */
export function malformedFrame(i: number): Buffer[] {
  return [Buffer.from('pixel'), Buffer.from(`{"scanId": "broken-${i}", not json`)];
}

/** Send `scan` to `opts.endpoint`: start, pixels (paced), stop. */
export async function publishScan(scan: SimulatedScan, opts: PublishOptions): Promise<PublishCounts> {
  const kind = opts.socket ?? 'push';
  const sock: zmq.Push | zmq.Publisher = kind === 'push' ? new zmq.Push() : new zmq.Publisher();
  sock.linger = opts.lingerMs ?? 10_000;
  const skip = new Set(opts.skipSeqs ?? []);
  const total = Math.min(scan.start.grid.rows * scan.start.grid.cols, opts.limit ?? Infinity);
  const counts = { pixels: 0, skipped: 0, malformed: 0 };
  let lastSeq = -1;
  const t0 = performance.now();
  try {
    if (opts.bind) await sock.bind(opts.endpoint);
    else sock.connect(opts.endpoint);
    const settle = opts.settleMs ?? (kind === 'pub' ? 300 : 0);
    if (settle > 0) await sleep(settle);
    await sock.send(encodeStart(scan.start));
    const origin = performance.now();
    let i = 0;
    for (const px of scan.pixels()) {
      if (i >= total || opts.signal?.aborted) break;
      const dueMs = Number.isFinite(opts.ratePxPerSec) ? (i * 1000) / opts.ratePxPerSec : 0;
      const wait = dueMs - (performance.now() - origin);
      // Sleep only when ahead by more than a timer tick; below that, bursts keep the average rate exact.
      if (wait > 2) await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : undefined).catch(() => undefined);
      if (opts.signal?.aborted) break;
      i++;
      lastSeq = px.seq;
      if (skip.has(px.seq)) {
        counts.skipped++;
      } else {
        await sock.send(encodePixel({ type: 'pixel', scanId: px.scanId, seq: px.seq, row: px.row, col: px.col, t: px.t }, px.data, scan.start));
        counts.pixels++;
      }
      if (opts.malformedEvery && i % opts.malformedEvery === 0) {
        await sock.send(malformedFrame(i));
        counts.malformed++;
      }
    }
    const completed = i === scan.start.grid.rows * scan.start.grid.cols;
    const stop: StopHeader = { type: 'stop', scanId: scan.start.scanId, status: completed ? 'completed' : 'aborted', pixelsSent: counts.pixels, lastSeq };
    await sock.send(encodeStop(stop));
    return { ...counts, seconds: (performance.now() - t0) / 1000, stop };
  } finally {
    sock.close();
  }
}
