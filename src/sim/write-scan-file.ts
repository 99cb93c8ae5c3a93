/** Write a simulated scan to our HDF5 scan file (docs/formats.md), ground truth included: `loopstream simulate --out`. */
import { ScanRecorder } from '../store/scan-file.ts';
import type { SimulatedScan } from './index.ts';

/** Write every pixel of `scan` to a new scan file at `out` (with its ground truth), in batches. */
export async function writeSimulatedScan(scan: SimulatedScan, out: string, batch = 256): Promise<{ pixels: number; seconds: number }> {
  const t0 = performance.now();
  const rec = await ScanRecorder.create(out, scan.start, scan.truth, { overwrite: true });
  try {
    let pending = [];
    for (const px of scan.pixels()) {
      pending.push(px);
      if (pending.length >= batch) {
        rec.append(pending);
        rec.flush();
        pending = [];
      }
    }
    rec.append(pending);
    rec.flush(); // verified and committed: `count` counts only rows verified on disk
    const n = rec.count;
    rec.writeStop({ type: 'stop', scanId: scan.start.scanId, status: 'completed', pixelsSent: n, lastSeq: n - 1 });
    return { pixels: n, seconds: (performance.now() - t0) / 1000 };
  } finally {
    rec.close();
  }
}
