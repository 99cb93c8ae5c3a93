import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualTimeScheduler, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScanEvent } from '../../../src/protocol/events.ts';
import { simulateScan } from '../../../src/sim/index.ts';
import { openScanFile, parsePace, replayFile, replayReader, type Pace } from '../../../src/sources/hdf5/index.ts';
import { summarizeEvents } from '../../../src/sources/hdf5/replay-summary.ts';
import { ScanRecorder } from '../../../src/store/scan-file.ts';
import { writeSimulatedScan } from '../../../src/sim/write-scan-file.ts';

const ROOT = join(import.meta.dirname, '../../..');
const PTO = join(ROOT, 'fixtures/external/BEPS_PTO_50x50.h5');
const MAKE_USID = join(ROOT, 'test/fixtures-py/make_usid_sho.py');
const dir = mkdtempSync(join(tmpdir(), 'ls-hdf5-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ stdout, stderr, code }));
  });
}
const py = async (script: string, ...args: string[]) => {
  const r = await run('/usr/bin/python3', ['-c', script, ...args]);
  if (r.code !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
};
const loopstream = (...args: string[]) => run(process.execPath, [join(ROOT, 'bin/loopstream.js'), ...args]);

describe('parsePace', () => {
  it('parses the config grammar', () => {
    expect(parsePace('max')).toEqual({ kind: 'max' });
    expect(parsePace('realtime')).toEqual({ kind: 'realtime', factor: 1 });
    expect(parsePace('x4')).toEqual({ kind: 'realtime', factor: 4 });
    expect(parsePace('x0.5')).toEqual({ kind: 'realtime', factor: 0.5 });
    expect(parsePace('200pxps')).toEqual({ kind: 'rate', pxPerSec: 200 });
    expect(parsePace('12.5pxps')).toEqual({ kind: 'rate', pxPerSec: 12.5 });
  });
  it('refuses anything else with the grammar in the message', () => {
    for (const bad of ['fast', 'x0', '0pxps', 'x-1', '200', '']) {
      expect(() => parsePace(bad)).toThrow(`pace "${bad}": expected max, realtime, xN (N times real time, N > 0) or Npxps (pixels per second, N > 0)`);
    }
  });
});

describe('simulate → replay', () => {
  it('replays a simulated 10x10 scan file: 100 pixels, 0 missing, identical to the simulator', async () => {
    const scan = simulateScan({ rows: 10, cols: 10, seed: 21, anomalies: 1 });
    const path = join(dir, 'sim10.h5');
    await writeSimulatedScan(scan, path);
    const events = await lastValueFrom(replayFile(path, { pace: { kind: 'max' } }).pipe(toArray()));
    expect(events[0]).toEqual({ type: 'start', header: scan.start });
    const pixels = events.filter((e) => e.type === 'pixel');
    expect(pixels).toEqual([...scan.pixels()]);
    expect(events.filter((e) => e.type === 'gap')).toEqual([]);
    expect(events.at(-1)).toEqual({ type: 'stop', header: { type: 'stop', scanId: scan.start.scanId, status: 'completed', pixelsSent: 100, lastSeq: 99 } });
    const summary = await summarizeEvents(replayFile(path, { pace: { kind: 'max' } }));
    expect(summary).toMatchObject({ scanId: scan.start.scanId, kind: 'sho', pixels: 100, missing: 0, expected: 100, stopStatus: 'completed' });
  });

  it('does the same through the CLI in child processes (--summary-json on the last stdout line)', async () => {
    const path = join(dir, 'cli10.h5');
    const sim = await loopstream('simulate', '--rows', '10', '--cols', '10', '--seed', '5', '--anomalies', '1', '--out', path, '--log-level', 'warn');
    expect(sim.code).toBe(0);
    expect(JSON.parse(sim.stdout.trim().split('\n').at(-1)!)).toMatchObject({ out: path, pixels: 100, regions: 1 });
    const rep = await loopstream('replay', path, '--pace', 'max', '--summary-json');
    expect(rep.code).toBe(0);
    const summary = JSON.parse(rep.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ layout: 'loopstream', pixels: 100, missing: 0, rows: 10, cols: 10, kind: 'sho' });
    expect(typeof summary.seconds).toBe('number');
    expect(typeof summary.pxPerSec).toBe('number');
    // The CLI wrote what the library simulates for that seed.
    const scan = simulateScan({ rows: 10, cols: 10, seed: 5, anomalies: 1, pxPerSec: 200 });
    const a = await openScanFile(path);
    expect(a.start).toEqual(scan.start);
    expect([...a.pixels()]).toEqual([...scan.pixels()]);
    expect(a.truth).toEqual(scan.truth);
    a.close();
  });

  it('writes the same values for the same seed (files written twice)', async () => {
    const one = join(dir, 'det1.h5');
    const two = join(dir, 'det2.h5');
    await writeSimulatedScan(simulateScan({ rows: 6, cols: 6, seed: 99, anomalies: 1 }), one);
    await writeSimulatedScan(simulateScan({ rows: 6, cols: 6, seed: 99, anomalies: 1 }), two);
    const a = await openScanFile(one);
    const b = await openScanFile(two);
    expect([...b.pixels()]).toEqual([...a.pixels()]);
    expect(b.truth).toEqual(a.truth);
    expect(b.start).toEqual(a.start);
    a.close();
    b.close();
  });

  it('stores the ground truth so the replay side can read it back', async () => {
    const scan = simulateScan({ rows: 30, cols: 30, seed: 8, anomalies: 3 });
    const path = join(dir, 'truth.h5');
    await writeSimulatedScan(scan, path);
    const r = await openScanFile(path);
    expect(r.truth).toEqual(scan.truth);
    expect(r.truth!.regions.map((x) => x.kind)).toEqual(['imprint', 'pinched', 'noSwitching']);
    r.close();
  });
});

describe('recordings with missing pixels', () => {
  it('emits gap events for seqs a recording lacks, including after the last pixel up to stop.lastSeq', async () => {
    const scan = simulateScan({ rows: 2, cols: 5, seed: 1 });
    const path = join(dir, 'gappy.h5');
    const rec = await ScanRecorder.create(path, scan.start);
    rec.append([0, 1, 2, 5, 6, 7, 8].map((s) => scan.pixel(s)));
    rec.writeStop({ type: 'stop', scanId: scan.start.scanId, status: 'completed', pixelsSent: 10, lastSeq: 9 });
    rec.close();
    const events = await lastValueFrom(replayFile(path, { pace: { kind: 'max' }, scanId: 'renamed' }).pipe(toArray()));
    const shape = events.map((e) => (e.type === 'pixel' ? e.seq : e.type === 'gap' ? `gap ${e.fromSeq}-${e.toSeq}` : e.type));
    expect(shape).toEqual(['start', 0, 1, 2, 'gap 3-4', 5, 6, 7, 8, 'gap 9-9', 'stop']);
    expect(new Set(events.map((e) => (e.type === 'start' || e.type === 'stop' ? e.header.scanId : e.scanId)))).toEqual(new Set(['renamed']));
    const summary = await summarizeEvents(replayFile(path, { pace: { kind: 'max' } }));
    expect(summary).toMatchObject({ pixels: 7, missing: 3, gaps: 2 });
  });

  it('ends a recording without a stop (a crashed scan) with an aborted stop', async () => {
    const scan = simulateScan({ rows: 2, cols: 2, seed: 1 });
    const path = join(dir, 'nostop.h5');
    const rec = await ScanRecorder.create(path, scan.start);
    rec.append([scan.pixel(0), scan.pixel(1)]);
    rec.close();
    const events = await lastValueFrom(replayFile(path, { pace: { kind: 'max' } }).pipe(toArray()));
    expect(events.at(-1)).toEqual({ type: 'stop', header: { type: 'stop', scanId: scan.start.scanId, status: 'aborted', pixelsSent: 2, lastSeq: 1 } });
  });
});

describe('pacing (virtual time)', () => {
  let path: string;
  beforeAll(async () => {
    path = join(dir, 'pace.h5');
    // 200 px/s nominal: timestamps 5 ms apart
    await writeSimulatedScan(simulateScan({ rows: 2, cols: 5, seed: 1, pxPerSec: 200, steps: 8, cycles: 1 }), path);
  });
  const timeline = async (pace: Pace, chunk?: number) => {
    const reader = await openScanFile(path);
    const vts = new VirtualTimeScheduler(undefined, Infinity);
    const seen: Array<[number, string]> = [];
    replayReader(reader, { pace, scheduler: vts, ...(chunk ? { chunk } : {}) }).subscribe((e: ScanEvent) => seen.push([vts.now(), e.type === 'pixel' ? `p${e.seq}` : e.type]));
    vts.flush();
    reader.close();
    return seen;
  };

  it('rate: pixel i at i/rate seconds', async () => {
    const seen = await timeline({ kind: 'rate', pxPerSec: 100 });
    expect(seen).toEqual([[0, 'start'], ...[...Array(10).keys()].map((i) => [i * 10, `p${i}`] as [number, string]), [90, 'stop']]);
  });

  it('realtime xN: timestamps divided by N', async () => {
    // Timestamps are epoch seconds (~1.8e9), so their differences carry ~1e-4 ms of rounding.
    const seen = (await timeline({ kind: 'realtime', factor: 2 })).filter(([, k]) => k.startsWith('p'));
    expect(seen.map(([, k]) => k)).toEqual([...Array(10).keys()].map((i) => `p${i}`));
    seen.forEach(([t], i) => expect(t).toBeCloseTo(i * 2.5, 3));
    const rt = (await timeline({ kind: 'realtime', factor: 1 })).filter(([, k]) => k.startsWith('p'));
    rt.forEach(([t], i) => expect(t).toBeCloseTo(i * 5, 3));
  });

  it('max: everything at once, in chunks that yield to the event loop', async () => {
    const seen = await timeline({ kind: 'max' }, 4);
    expect(seen.map(([, k]) => k)).toEqual(['start', ...[...Array(10).keys()].map((i) => `p${i}`), 'stop']);
    expect(new Set(seen.map(([t]) => t))).toEqual(new Set([0]));
  });

  it('max with backpressure: never more than `max` pixels ahead of a slow consumer, and none lost', async () => {
    const reader = await openScanFile(path);
    const vts = new VirtualTimeScheduler(undefined, Infinity);
    let emitted = 0;
    let done = 0;
    let mostAhead = 0;
    const seen: string[] = [];
    // The consumer finishes one pixel every 10 ms of virtual time.
    const consume = () => {
      if (done < emitted) done++;
      if (done < 10) vts.schedule(consume, 10);
    };
    vts.schedule(consume, 10);
    replayReader(reader, { pace: { kind: 'max' }, scheduler: vts, backpressure: { pending: () => emitted - done, max: 3 } }).subscribe((e: ScanEvent) => {
      if (e.type === 'pixel') mostAhead = Math.max(mostAhead, ++emitted - done);
      seen.push(e.type === 'pixel' ? `p${e.seq}` : e.type);
    });
    vts.flush();
    reader.close();
    expect(seen).toEqual(['start', ...[...Array(10).keys()].map((i) => `p${i}`), 'stop']);
    expect(mostAhead).toBe(3);
    expect(vts.now()).toBeGreaterThanOrEqual(70); // it waited for the consumer: 10 pixels, 3 ahead, 10 ms each
  });
});

describe('NSID: the real PTO file (fixtures/external)', () => {
  it('replays 2500 loop pixels with the Voltage dimension scale as the DC axis', async () => {
    const r = await openScanFile(PTO);
    try {
      expect(r.layout).toBe('nsid');
      expect(r.count).toBe(2500);
      expect(r.start.kind).toBe('loop');
      expect(r.start.grid).toEqual({ rows: 50, cols: 50, order: 'raster' });
      expect(r.start.buffers).toEqual([{ name: 'piezoresponse', dtype: 'float32', shape: [64], unit: 'a.u.' }]);
      const v = r.start.dcVoltage;
      expect(v).toHaveLength(64);
      expect(v[0]).toBe(0);
      expect(Math.max(...v)).toBe(8.5);
      expect(v.indexOf(8.5)).toBe(16);
      expect(Math.min(...v)).toBe(-8.5);
      expect(v.indexOf(-8.5)).toBe(48);
      expect(v[63]).toBe(-0.53125);
      // Independent reading with h5py: the Voltage scale, and pixel (row 3 = Y, col 7 = X) = generic[X=7, Y=3, :].
      const ref = JSON.parse(
        await py(
          'import h5py, json, sys\nf = h5py.File(sys.argv[1], "r")\ng = f["Channel_000/generic"]\nprint(json.dumps({"v": g["Voltage"][:].tolist(), "p": g["generic"][7, 3, :].tolist()}))',
          PTO,
        ),
      );
      expect(v).toEqual(ref.v);
      const p = r.pixel(3 * 50 + 7);
      expect([p.seq, p.row, p.col]).toEqual([157, 3, 7]);
      expect(Array.from(p.data[0])).toEqual(ref.p.map((x: number) => Math.fround(x)));
    } finally {
      r.close();
    }
  });

  it('summarises to 2500 pixels, 0 missing', async () => {
    const s = await summarizeEvents(replayFile(PTO, { pace: { kind: 'max' } }));
    expect(s).toMatchObject({ scanId: 'BEPS_PTO_50x50', kind: 'loop', pixels: 2500, missing: 0, expected: 2500, stopStatus: 'completed' });
  });
});

describe('USID SHO fit written by h5py', () => {
  const expected = (pixel: number, c: number, on: number, k: number) => ({
    amplitude: pixel * 1000 + c * 200 + on * 100 + k,
    frequency: 1300000 + pixel * 10 + k,
    quality: 100 + c * 10 + on * 5,
    phase: Math.fround(on ? 0.5 : -0.5),
  });

  for (const [variant, extra] of [['a', []], ['b', []], ['a', ['--no-positions']]] as const) {
    it(`variant ${variant} ${extra.join(' ')}: every value lands in its (cycle, field, step) slot, whatever the column parity and row order`, async () => {
      const path = join(dir, `usid-${variant}${extra.length}.h5`);
      await run('/usr/bin/python3', [MAKE_USID, path, '--rows', '3', '--cols', '4', '--steps', '8', '--cycles', '2', '--variant', variant, ...extra]);
      const r = await openScanFile(path);
      try {
        expect(r.layout).toBe('usid-sho');
        expect(r.start.kind).toBe('sho');
        expect(r.start.grid).toEqual({ rows: 3, cols: 4, order: 'raster' });
        expect(r.start.fields).toEqual(['on', 'off']);
        expect(r.start.cycles).toBe(2);
        expect(r.start.dcVoltage).toEqual([0, 5, 10, 5, 0, -5, -10, -5]);
        expect(r.start.buffers.map((b) => b.shape)).toEqual([[2, 2, 8], [2, 2, 8], [2, 2, 8], [2, 2, 8]]);
        const px = [...r.pixels()];
        expect(px.map((p) => p.seq)).toEqual([...Array(12).keys()]);
        for (const p of px) {
          expect([p.row, p.col]).toEqual([Math.floor(p.seq / 4), p.seq % 4]);
          for (let c = 0; c < 2; c++) {
            for (let f = 0; f < 2; f++) {
              for (let k = 0; k < 8; k++) {
                const i = (c * 2 + f) * 8 + k;
                const e = expected(p.seq, c, f === 0 ? 1 : 0, k);
                expect([p.data[0][i], p.data[1][i], p.data[2][i], p.data[3][i]]).toEqual([e.amplitude, e.phase, e.frequency, e.quality]);
              }
            }
          }
        }
      } finally {
        r.close();
      }
    });
  }
});

describe('refusals', () => {
  it('refuses a dataset compressed with a filter h5wasm lacks (LZF), naming it', async () => {
    const path = join(dir, 'usid-lzf.h5');
    await run('/usr/bin/python3', [MAKE_USID, path, '--lzf']);
    const err = await openScanFile(path).catch((e) => e);
    expect(err).toMatchObject({ name: 'FileFormatError', code: 'LS_FILE_FILTER' });
    expect(err.message).toBe(
      `${path}: dataset /Measurement_000/Channel_000/Raw_Data-SHO_Fit_000/Fit is compressed with filter 32000 (lzf), which this build cannot decode; supported: deflate, shuffle, fletcher32, nbit, scaleoffset. Re-save it without that filter (e.g. h5repack -f NONE, or -f GZIP=4)`,
    );
  });

  it('reads gzip-compressed datasets (deflate is built in)', async () => {
    const path = join(dir, 'nsid-gzip.h5');
    await py(
      [
        'import h5py, numpy as np, sys',
        'f = h5py.File(sys.argv[1], "w")',
        'g = f.create_group("Channel_000/loops")',
        'd = g.create_dataset("loops", data=np.arange(2*3*4, dtype=np.float32).reshape(3, 2, 4), compression="gzip", chunks=(1, 2, 4))',
        'for name, vals, kind in [("Y", np.arange(3.0), "SPATIAL"), ("X", np.arange(2.0), "SPATIAL"), ("Bias", np.array([0.0, 1.0, -1.0, 0.0]), "SPECTRAL")]:',
        '    s = g.create_dataset(name, data=vals); s.make_scale(name); s.attrs["dimension_type"] = kind; s.attrs["units"] = "V"',
        'for i, name in enumerate(["Y", "X", "Bias"]):',
        '    d.dims[i].attach_scale(g[name]); d.dims[i].label = name',
        'd.attrs["quantity"] = "Piezoresponse"; d.attrs["units"] = "pm"',
      ].join('\n'),
      path,
    );
    const r = await openScanFile(path);
    expect(r.layout).toBe('nsid');
    expect(r.start.grid).toEqual({ rows: 3, cols: 2, order: 'raster' });
    expect(r.start.dcVoltage).toEqual([0, 1, -1, 0]);
    // row 2 (Y), col 1 (X) = data[2, 1, :] = 20..23
    expect(Array.from(r.pixel(2 * 2 + 1).data[0])).toEqual([20, 21, 22, 23]);
    r.close();
  });

  it('refuses a file that is not HDF5, a missing file, and an unknown layout', async () => {
    const garbage = join(dir, 'garbage.h5');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    await expect(openScanFile(garbage)).rejects.toMatchObject({ name: 'FileFormatError', code: 'LS_FILE_NOT_HDF5' });
    await expect(openScanFile(join(dir, 'nope.h5'))).rejects.toMatchObject({ name: 'FileFormatError', code: 'LS_FILE_NOT_FOUND', message: `${join(dir, 'nope.h5')}: no such file` });
    const other = join(dir, 'other.h5');
    await py('import h5py, sys\nf = h5py.File(sys.argv[1], "w")\nf["data"] = [1, 2, 3]', other);
    const err = await openScanFile(other).catch((e) => e);
    expect(err).toMatchObject({ name: 'FileFormatError', code: 'LS_FILE_LAYOUT' });
    expect(err.message).toMatch(/unknown layout \(top level: \[data\]\)/);
  });

  it('refuses a truncated scan file instead of returning garbage', async () => {
    const full = join(dir, 'full.h5');
    await writeSimulatedScan(simulateScan({ rows: 10, cols: 10, seed: 2 }), full);
    const cut = join(dir, 'cut.h5');
    copyFileSync(full, cut);
    truncateSync(cut, Math.floor(statSync(full).size / 2));
    const outcome = await openScanFile(cut).then(
      (r) => {
        try {
          for (const _ of r.pixels()) void _;
          return 'read everything';
        } catch (e) {
          return e;
        } finally {
          r.close();
        }
      },
      (e) => e,
    );
    expect(outcome).toMatchObject({ name: 'FileFormatError' });
    expect(['LS_FILE_UNREADABLE', 'LS_FILE_MISSING', 'LS_FILE_SHAPE']).toContain((outcome as { code: string }).code);
    expect(readFileSync(cut).length).toBeLessThan(statSync(full).size);
  });

  it('refuses an own-layout file with a dataset missing', async () => {
    const path = join(dir, 'nophase.h5');
    await writeSimulatedScan(simulateScan({ rows: 2, cols: 2, seed: 2 }), path);
    await py('import h5py, sys\nf = h5py.File(sys.argv[1], "a")\ndel f["scan/pixels/phase"]', path);
    await expect(openScanFile(path)).rejects.toMatchObject({ name: 'FileFormatError', code: 'LS_FILE_MISSING', message: `${path}: dataset scan/pixels/phase is missing` });
  });

  it('exits with code 3 and a clear message from the CLI', async () => {
    const garbage = join(dir, 'garbage2.h5');
    writeFileSync(garbage, 'not hdf5 at all');
    const r = await loopstream('replay', garbage, '--summary-json');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`[LS_FILE_NOT_HDF5] ${garbage}: not an HDF5 file`);
  });
});
