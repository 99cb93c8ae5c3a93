/**
 * Child process for the SIGKILL test: records a simulated scan in batches, flushing after each, and reports
 * "flushed <count>" on stdout after every flush, then keeps going until killed (or done).
 * Usage: node --import tsx test/store/record-child.ts FILE BATCH
 */
import { simulateScan } from '../../src/sim/index.ts';
import { ScanRecorder } from '../../src/store/scan-file.ts';

const [file, batchArg] = process.argv.slice(2);
const batch = Number(batchArg ?? 7);
const scan = simulateScan({ rows: 40, cols: 40, seed: 77, anomalies: 2 });
const rec = await ScanRecorder.create(file, scan.start, scan.truth);
let pending = [];
for (const px of scan.pixels()) {
  pending.push(px);
  if (pending.length === batch) {
    rec.append(pending);
    rec.flush();
    pending = [];
    process.stdout.write(`flushed ${rec.count}\n`);
    // Yield so the parent's kill can land at any point of the next batch.
    await new Promise((r) => setImmediate(r));
  }
}
process.stdout.write('done\n');
