/** A protocol v1 producer for fault tests: sends a simulated scan's pixels over a PUSH socket, range by range. */
import * as zmq from 'zeromq';
import { encodePixel, encodeStart, encodeStop } from '../../../src/protocol/encode.ts';
import type { SimulatedScan } from '../../../src/sim/index.ts';

/** One producer socket (PUSH, connected) for one simulated scan. */
export class Producer {
  private readonly push: zmq.Push;

  constructor(
    endpoint: string,
    readonly scan: SimulatedScan,
    opts: { linger?: number } = {},
  ) {
    this.push = new zmq.Push({ linger: opts.linger ?? 10_000, sendHighWaterMark: 1000 });
    this.push.connect(endpoint);
  }

  /** (Re)send the scan's start message. */
  start(): Promise<void> {
    return this.push.send(encodeStart(this.scan.start));
  }

  /** Send pixels with seq in [from, to). */
  async pixels(from: number, to: number): Promise<void> {
    for (let seq = from; seq < to; seq++) {
      const p = this.scan.pixel(seq);
      await this.push.send(encodePixel({ type: 'pixel', scanId: p.scanId, seq: p.seq, row: p.row, col: p.col, t: p.t }, p.data, this.scan.start));
    }
  }

  /** Send the stop of a completed scan. */
  stop(): Promise<void> {
    const n = this.scan.start.grid.rows * this.scan.start.grid.cols;
    return this.push.send(encodeStop({ type: 'stop', scanId: this.scan.start.scanId, status: 'completed', pixelsSent: n, lastSeq: n - 1 }));
  }

  close(): void {
    this.push.close();
  }
}

/** Poll `pred` every 50 ms until it holds (rejects after `timeoutMs`). */
export async function until(pred: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
