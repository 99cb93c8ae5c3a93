/**
 * Issue 12 item 13 through the real `loopstream` CLI and real files: extreme values and failed fits are refused with
 * codes (never encoded to Inf/NaN maps), out-of-grid rows are refused as live refuses them and the replay goes on, a
 * damaged gzip chunk exits 3 with LS_FILE_UNREADABLE, t = 1e300 at realtime pace ends, and an unfinished recording
 * holding rows live ingest refuses no longer stops the daemon from starting.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/model/bundle.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { ScanRecorder } from '../../src/store/scan-file.ts';
import { writeSimulatedScan } from '../../src/sim/write-scan-file.ts';
import { daemonConfig, python, ROOT, runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'ls-replay-parity-'));
const hostile = (variant: string, src: string, out = join(dir, `${variant}.h5`)) => {
  execFileSync('/usr/bin/python3', [join(ROOT, 'test/fixtures-py/make_hostile.py'), variant, src, out]);
  return out;
};

describe('loopstream replay refuses what live refuses', () => {
  it('refuses overflowing and failed-fit pixels and out-of-grid rows with codes; the maps hold no Inf', { timeout: 180_000 }, async () => {
    const bundle = await loadBundle(process.env.LOOPSTREAM_TEST_BUNDLE ?? 'fixtures/models/edge-sim');
    const scan = simulateScan({ rows: 8, cols: 8, seed: 3 });
    const { start } = scan;
    const T = start.dcVoltage.length;
    const cycle = Math.min(bundle.input.cycle, start.cycles - 1);
    const field = start.fields.includes(bundle.input.field) ? bundle.input.field : start.fields[0]!;
    const base = (cycle * start.fields.length + start.fields.indexOf(field)) * T; // the part the model reads
    const px = [...scan.pixels()];
    px[5]!.data[0]![base + 10] = 3.4e38; // one amplitude at the float32 maximum
    for (let t = 0; t < T; t++) px[13]!.data[0]![base + t] = t % 2 ? 3.4e38 : -3.4e38;
    for (const b of px[9]!.data) for (let t = 0; t < T; t++) b[base + t] = Number.NaN; // a failed fit of that cycle only
    const clean = join(dir, 'extreme.h5');
    const rec = await ScanRecorder.create(clean, start);
    rec.append(px);
    rec.flush();
    rec.writeStop({ type: 'stop', scanId: start.scanId, status: 'completed', pixelsSent: 64, lastSeq: 63 });
    rec.close();
    const file = hostile('out-of-grid', clean); // rows 3 and 7 at row 99

    const cli = runCli(['replay', file, '--pace', 'max', '--summary-json', '--data', join(dir, 'data')]);
    expect(await cli.exited, cli.stderrText().slice(-2000)).toBe(0);
    const s = JSON.parse(cli.stdout[cli.stdout.length - 1]!) as Record<string, unknown>;
    expect(s).toMatchObject({ pixels: 62, missing: 0, refused: 2, refusedByCode: { LS_FRAME_OUT_OF_GRID: 2 }, encoded: 59, rejected: 5 });
    expect(Number.isFinite(s.meanError)).toBe(true);
    const codes = (seq: number) => cli.logs.filter((l) => l.seq === seq).map((l) => l.code);
    expect(codes(3)).toContain('LS_FRAME_OUT_OF_GRID');
    expect(codes(5)).toContain('LS_INPUT_OVERFLOW');
    expect(codes(13)).toContain('LS_INPUT_OVERFLOW');
    expect(codes(9)).toContain('LS_INPUT_ALL_NONFINITE');

    const h5 = await python<{ inf: number; finite: number; rejected: number; nanAt: number[] }>(
      `import h5py, json, sys, numpy as np
f = h5py.File(sys.argv[1], 'r')
e = f['error'][()].astype('f8').ravel(); z = f['embedding'][()]
print(json.dumps({'inf': int(np.isinf(e).sum() + np.isinf(z).sum()), 'finite': int(np.isfinite(e).sum()), 'rejected': int(f.attrs['pixels_rejected']),
  'nanAt': [int(i) for i in np.flatnonzero(np.isnan(e))]}))`,
      [String(s.results)],
    );
    expect(h5).toEqual({ inf: 0, finite: 59, rejected: 5, nanAt: [3, 5, 7, 9, 13] });
  });

  it('a damaged gzip chunk exits 3 with LS_FILE_UNREADABLE; t = 1e300 at realtime pace ends', { timeout: 120_000 }, async () => {
    const usid = join(dir, 'usid.h5');
    execFileSync('/usr/bin/python3', [join(ROOT, 'test/fixtures-py/make_usid_sho.py'), usid, '--rows', '4', '--cols', '4', '--steps', '8', '--cycles', '2']);
    const damaged = runCli(['replay', hostile('gzip-corrupt', usid), '--ingest-only']);
    expect(await damaged.exited).toBe(3);
    expect(damaged.stderrText()).toContain('loopstream: [LS_FILE_UNREADABLE]');

    const own = join(dir, 'own.h5');
    await writeSimulatedScan(simulateScan({ rows: 4, cols: 4, seed: 5, steps: 16 }), own);
    const t0 = performance.now();
    const far = runCli(['replay', hostile('t-1e300', own), '--ingest-only', '--pace', 'realtime', '--summary-json']);
    expect(await far.exited).toBe(0);
    const seconds = (performance.now() - t0) / 1000;
    expect(JSON.parse(far.stdout[far.stdout.length - 1]!)).toMatchObject({ pixels: 16, missing: 0 });
    expect(far.logs.some((l) => l.seq === 3 && l.maxGapSeconds === 5)).toBe(true); // the skipped gap, logged
    console.log(`t = 1e300 at realtime pace: replay ended after ${seconds.toFixed(1)} s (one gap capped at replay.maxGapSeconds = 5 s)`);
  });

  it('unfinished recordings in data.dir: one with out-of-grid rows is resumed with them refused; a damaged one is skipped with its code; the daemon starts', { timeout: 120_000 }, async () => {
    const { configPath, dataDir } = daemonConfig();
    mkdirSync(dataDir, { recursive: true });
    const scan = simulateScan({ rows: 4, cols: 4, seed: 7, steps: 16, scanId: 'left-behind' });
    const src = join(dir, 'left-behind.h5');
    await writeSimulatedScan(scan, src);
    const oog = hostile('out-of-grid', src);
    hostile('unfinish', oog, join(dataDir, 'left-behind.raw.h5'));
    await writeSimulatedScan(simulateScan({ rows: 4, cols: 4, seed: 8, steps: 16, scanId: 'damaged' }), join(dir, 'damaged.h5'));
    hostile('own-gzip-corrupt', join(dir, 'damaged.h5'), join(dataDir, 'damaged.raw.h5'));
    const serve = runCli(['serve', '--config', configPath]);
    try {
      const resumed = await serve.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('resumed a scan'), 'the resume');
      expect(resumed).toMatchObject({ scanId: 'left-behind', recorded: 16 });
      await serve.waitForLog((l) => l.msg === 'listening for scans', 'its endpoint');
      expect(serve.logs.filter((l) => l.code === 'LS_FRAME_OUT_OF_GRID').map((l) => l.seq)).toEqual([3, 7]);
      // the damaged one opens, then fails at its rows 4..: logged with its code, left on disk, not resumed
      const skipped = serve.logs.find((l) => l.msg === 'cannot resume recording; left as it is, the daemon goes on without it');
      expect(skipped).toMatchObject({ scanId: 'damaged', code: 'LS_FILE_UNREADABLE' });
      expect(String(skipped!.err)).toContain('/scan/pixels/amplitude');
      expect(serve.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('resumed a scan')).map((l) => l.scanId)).toEqual(['left-behind']);
    } finally {
      serve.proc.kill('SIGTERM');
      await serve.exited;
    }
  });
});
