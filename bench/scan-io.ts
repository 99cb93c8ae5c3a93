/**
 * Simulator, scan-file recording and HDF5 replay speed: `node --import tsx bench/scan-io.ts [rows] [cols]`.
 * Prints one JSON object. Wall and CPU times both, since the machine may be shared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulateScan } from '../src/sim/index.ts';
import { openScanFile, replayFile } from '../src/sources/hdf5/index.ts';
import { summarizeEvents } from '../src/sources/hdf5/replay-summary.ts';
import { ScanRecorder } from '../src/store/scan-file.ts';

const rows = Number(process.argv[2] ?? 60);
const cols = Number(process.argv[3] ?? 60);
const dir = mkdtempSync(join(tmpdir(), 'ls-bench-'));

function timed<T>(fn: () => T): { value: T; wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { value, wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

async function timedAsync<T>(fn: () => Promise<T>): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { value, wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

try {
  const scan = simulateScan({ rows, cols, seed: 1, anomalies: 3 });
  const n = rows * cols;
  const sim = timed(() => [...scan.pixels()]);
  const pixels = sim.value;
  const out: Record<string, unknown> = {
    grid: `${rows}x${cols}`,
    simulate: { wallMs: Math.round(sim.wallMs), cpuMs: Math.round(sim.cpuMs), usPerPixel: Math.round((sim.cpuMs * 1000) / n) },
  };
  const record: Record<string, unknown> = {};
  for (const batch of [1, 10, 50, 256]) {
    const path = join(dir, `rec-${batch}.h5`);
    const rec = await ScanRecorder.create(path, scan.start, scan.truth);
    const count = batch === 1 ? Math.min(n, 500) : n; // batch 1 is slow by design: time 500 pixels
    const r = timed(() => {
      for (let i = 0; i < count; i += batch) {
        rec.append(pixels.slice(i, Math.min(count, i + batch)));
        rec.flush();
      }
    });
    rec.close();
    record[`batch${batch}`] = { pixels: count, wallMs: Math.round(r.wallMs), usPerPixelCpu: Math.round((r.cpuMs * 1000) / count), usPerPixelWall: Math.round((r.wallMs * 1000) / count) };
  }
  out.recordWithFlushPerBatch = record;
  const file = join(dir, 'rec-256.h5');
  const rep = await timedAsync(() => summarizeEvents(replayFile(file, { pace: { kind: 'max' } })));
  out.replayMax = { pixels: rep.value.pixels, wallMs: Math.round(rep.wallMs), pxPerSec: Math.round((rep.value.pixels * 1000) / rep.wallMs), cpuMs: Math.round(rep.cpuMs) };
  const pto = join(import.meta.dirname, '../fixtures/external/BEPS_PTO_50x50.h5');
  const ptoRep = await timedAsync(() => summarizeEvents(replayFile(pto, { pace: { kind: 'max' } })));
  out.replayPtoMax = { pixels: ptoRep.value.pixels, wallMs: Math.round(ptoRep.wallMs), pxPerSec: Math.round((ptoRep.value.pixels * 1000) / ptoRep.wallMs) };
  const open = await timedAsync(() => openScanFile(file));
  open.value.close();
  out.openMs = Math.round(open.wallMs);
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
