/**
 * The instrument of the live benchmark, on its own thread: simulates a scan and publishes it with publishScan
 * at the given rate, noting when each pixel's send resolved, so the simulator's CPU work does not share the
 * daemon's event loop. Posts `{ sentAt: Float64Array, pixels, seconds }` (Date.now() ms; the clock is shared
 * with the main thread) when done.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { simulateScan, type SimulatedScan } from '../src/sim/index.ts';
import { publishScan } from '../src/sim/publish.ts';

/** What the worker is told. */
export interface PublisherJob {
  endpoint: string;
  rows: number;
  cols: number;
  seed: number;
  rate: number;
  limit?: number;
}

const job = workerData as PublisherJob;
const scan = simulateScan({ rows: job.rows, cols: job.cols, seed: job.seed, anomalies: 3, pxPerSec: job.rate, t0: Date.now() / 1000 });
// publishScan asks its iterator for pixel k+1 right after `send(pixel k)` resolved (queued in ZeroMQ): the
// iterator notes the send time of the previous pixel on each resume.
const sentAt = new Float64Array(job.rows * job.cols).fill(Number.NaN);
const timed: SimulatedScan = {
  ...scan,
  *pixels() {
    let prev = -1;
    for (const px of scan.pixels()) {
      if (prev >= 0) sentAt[prev] = Date.now();
      yield px;
      prev = px.seq;
    }
    if (prev >= 0) sentAt[prev] = Date.now();
  },
};
const sent = await publishScan(timed, { endpoint: job.endpoint, ratePxPerSec: job.rate, ...(job.limit ? { limit: job.limit } : {}) });
parentPort!.postMessage({ sentAt, pixels: sent.pixels, seconds: sent.seconds });
