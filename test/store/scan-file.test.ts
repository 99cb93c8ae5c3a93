import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulateScan } from '../../src/sim/index.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { ScanRecorder } from '../../src/store/scan-file.ts';
import type { PixelEvent } from '../../src/protocol/events.ts';
import { encodePixel } from '../../src/protocol/encode.ts';
import { ScanTracker } from '../../src/protocol/scan-tracker.ts';

const dir = mkdtempSync(join(tmpdir(), 'ls-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ScanRecorder', () => {
  it('round-trips start, pixels, truth and stop exactly', async () => {
    const scan = simulateScan({ rows: 7, cols: 6, seed: 3, anomalies: 1 });
    const path = join(dir, 'roundtrip.h5');
    const rec = await ScanRecorder.create(path, scan.start, scan.truth);
    const px = [...scan.pixels()];
    rec.append(px.slice(0, 1)); // a batch of one
    rec.append(px.slice(1, 30)); // and of many
    rec.flush();
    rec.append(px.slice(30));
    const stop = { type: 'stop', scanId: scan.start.scanId, status: 'completed', pixelsSent: 42, lastSeq: 41 } as const;
    rec.writeStop(stop);
    rec.close();
    rec.close(); // idempotent

    const r = await openScanFile(path);
    try {
      expect(r.layout).toBe('loopstream');
      expect(r.start).toEqual(scan.start);
      expect(r.stop).toEqual(stop);
      expect(r.count).toBe(42);
      expect([...r.pixels()]).toEqual(px);
      expect(r.truth!.mechanism).toEqual(scan.truth.mechanism);
      expect(r.truth!.anomaly).toEqual(scan.truth.anomaly);
      expect(r.truth!.region).toEqual(scan.truth.region);
      expect(r.truth!.regions).toEqual(scan.truth.regions);
      expect(r.truth!.mechanismNames).toEqual(scan.truth.mechanismNames);
      expect(r.truth!.anomalyNames).toEqual(scan.truth.anomalyNames);
    } finally {
      r.close();
    }
  });

  it('writes a layout h5py reads without custom code', async () => {
    const scan = simulateScan({ rows: 3, cols: 4, seed: 1 });
    const path = join(dir, 'h5py.h5');
    const rec = await ScanRecorder.create(path, scan.start, scan.truth);
    rec.append([...scan.pixels()]);
    rec.close();
    const script = [
      'import h5py, json, sys',
      'f = h5py.File(sys.argv[1], "r")',
      's = f["scan"]',
      'print(json.dumps({"format": s.attrs["format"], "kind": s.attrs["kind"], "amp": list(f["scan/pixels/amplitude"].shape),',
      '  "seq": f["scan/pixels/seq"][:].tolist(), "a0": float(f["scan/pixels/amplitude"][5, 1, 1, 7]),',
      '  "dc": f["scan/dc_voltage"][:3].tolist(), "mech": f["scan/truth/mechanism"].shape, "start": json.loads(s.attrs["start"])["scanId"]}))',
    ].join('\n');
    const out = await run('/usr/bin/python3', ['-c', script, path]);
    const got = JSON.parse(out.stdout);
    const p5 = scan.pixel(5);
    expect(got).toEqual({
      format: 'loopstream-scan',
      kind: 'sho',
      amp: [12, 2, 2, 96],
      seq: [...Array(12).keys()],
      a0: p5.data[0][(1 * 2 + 1) * 96 + 7],
      dc: scan.start.dcVoltage.slice(0, 3),
      mech: [3, 4],
      start: scan.start.scanId,
    });
  });

  it('refuses to overwrite an existing recording unless asked', async () => {
    const scan = simulateScan({ rows: 2, cols: 2, seed: 1 });
    const path = join(dir, 'exists.h5');
    writeFileSync(path, 'precious');
    await expect(ScanRecorder.create(path, scan.start)).rejects.toMatchObject({ name: 'FileFormatError', code: 'LS_FILE_EXISTS' });
    const rec = await ScanRecorder.create(path, scan.start, undefined, { overwrite: true });
    rec.close();
  });

  it('refuses pixels that do not fit the start header', async () => {
    const scan = simulateScan({ rows: 2, cols: 2, seed: 1 });
    const rec = await ScanRecorder.create(join(dir, 'bad.h5'), scan.start);
    const p = scan.pixel(0);
    expect(() => rec.append([{ ...p, data: [p.data[0]] }])).toThrow(/carries 1 buffers; the start header declares 4/);
    expect(() => rec.append([{ ...p, scanId: 'other' }])).toThrow(/belongs to scan other/);
    expect(() => rec.append([{ ...p, data: [p.data[0].subarray(1), p.data[1], p.data[2], p.data[3]] }])).toThrow(/"amplitude" has 383 values; expected 384/);
    expect(rec.count).toBe(0);
    rec.close();
  });

  it('reopens a recording and appends after the pixels it already holds', async () => {
    const scan = simulateScan({ rows: 5, cols: 5, seed: 4 });
    const path = join(dir, 'resume.h5');
    const px = [...scan.pixels()];
    const a = await ScanRecorder.create(path, scan.start);
    a.append(px.slice(0, 11));
    a.close();
    const { recorder, start, lastSeq, count } = await ScanRecorder.reopen(path);
    expect(start).toEqual(scan.start);
    expect([lastSeq, count]).toEqual([10, 11]);
    recorder.append(px.slice(11));
    recorder.close();
    const r = await openScanFile(path);
    expect([...r.pixels()]).toEqual(px);
    r.close();
  });

  it('drops rows a crash left unwritten (extent on disk, data still the fill value) and rows only some datasets hold', async () => {
    const scan = simulateScan({ rows: 4, cols: 4, seed: 6 });
    const path = join(dir, 'torn.h5');
    const rec = await ScanRecorder.create(path, scan.start);
    rec.append([0, 1, 2, 3, 4].map((s) => scan.pixel(s)));
    rec.close();
    // Emulate the torn write with h5py: every per-pixel dataset grown by 2 rows of fill value, the buffers by a third.
    const script = [
      'import h5py, sys',
      'f = h5py.File(sys.argv[1], "a")',
      'for name, ds in f["scan/pixels"].items():',
      '    ds.resize(ds.shape[0] + (3 if name in ("amplitude", "phase", "frequency", "quality") else 2), axis=0)',
    ].join('\n');
    expect((await run('/usr/bin/python3', ['-c', script, path])).code).toBe(0);
    const torn = await openScanFile(path); // replay sees only the complete rows too
    expect(torn.count).toBe(5);
    torn.close();
    const { recorder, lastSeq, count } = await ScanRecorder.reopen(path);
    expect([count, lastSeq]).toEqual([5, 4]);
    recorder.append([scan.pixel(5)]);
    recorder.close();
    const r = await openScanFile(path);
    expect([...r.pixels()]).toEqual([0, 1, 2, 3, 4, 5].map((s) => scan.pixel(s)));
    r.close();
  });

  it('reopens after the writing process was killed with SIGKILL and finds every flushed pixel', async () => {
    const path = join(dir, 'killed.h5');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'record-child.ts'), path, '7'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let flushed = 0;
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const killed = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) {
          const m = /^flushed (\d+)$/.exec(l);
          if (m) flushed = Number(m[1]);
          // Kill once a good share is on disk, while the child is busy appending the next batch.
          if (flushed >= 301 && !child.killed) {
            child.kill('SIGKILL');
            resolve();
          }
          if (l === 'done') reject(new Error('child finished before it was killed'));
        }
      });
      child.on('exit', () => (flushed >= 301 ? resolve() : reject(new Error(`child exited early: ${stderr}`))));
    });
    expect(await killed).toBe('SIGKILL');

    const scan = simulateScan({ rows: 40, cols: 40, seed: 77, anomalies: 2 });
    const { recorder, start, lastSeq, count } = await ScanRecorder.reopen(path);
    expect(start).toEqual(scan.start);
    // Everything reported flushed is there; at most the batch in flight beyond it.
    expect(count).toBeGreaterThanOrEqual(flushed);
    expect(count).toBeLessThanOrEqual(flushed + 2 * 7);
    expect(lastSeq).toBe(count - 1);
    // Resume where it stopped, then the file holds the whole scan, each pixel once.
    const rest: PixelEvent[] = [];
    for (let seq = lastSeq + 1; seq < 1600; seq++) rest.push(scan.pixel(seq));
    recorder.append(rest);
    recorder.close();
    const r = await openScanFile(path);
    try {
      expect(r.count).toBe(1600);
      expect(r.pixel(flushed - 1)).toEqual(scan.pixel(flushed - 1));
      expect(r.pixel(1599)).toEqual(scan.pixel(1599));
      expect(Array.from({ length: 1600 }, (_, i) => r.pixel(i).seq)).toEqual([...Array(1600).keys()]);
      expect(r.truth!.regions).toEqual(scan.truth.regions);
    } finally {
      r.close();
    }
  });

  // issue 12 item 8: seq >= 2^31 was stored as int32 (-2147483648); after a restart the scan resumed at nextSeq 1
  // and a re-sent pixel was recorded twice. Stored as float64 now: exact up to 2^53 - 1.
  for (const [label, first] of [['2^31 + k', 2 ** 31 + 5], ['2^53 - 1', 2 ** 53 - 3]] as const) {
    it(`resumes exactly after seqs at ${label}, and a re-sent pixel is refused as a duplicate`, async () => {
      const scan = simulateScan({ rows: 3, cols: 3, seed: 8 });
      const path = join(dir, `bigseq-${first}.h5`);
      const px = [...scan.pixels()].slice(0, 3).map((p, i) => ({ ...p, seq: first + i }));
      const a = await ScanRecorder.create(path, scan.start);
      a.append(px);
      a.flush();
      a.close();
      const { recorder, lastSeq, count } = await ScanRecorder.reopen(path);
      recorder.close();
      expect([lastSeq, count]).toEqual([first + 2, 3]);
      const r = await openScanFile(path);
      expect([...r.pixels()].map((p) => p.seq)).toEqual([first, first + 1, first + 2]);
      r.close();
      // the live tracker resumes at lastSeq + 1: the producer re-sending its last pixel is refused, not recorded twice
      const tracker = new ScanTracker({ pendingLimit: 10 });
      tracker.resume(scan.start, lastSeq + 1);
      const last = px[2];
      const again = tracker.accept(encodePixel({ type: 'pixel', scanId: last.scanId, seq: last.seq, row: last.row, col: last.col, t: last.t }, last.data, scan.start));
      expect(again.rejects.map((e) => e.code)).toEqual(['LS_SEQ_DUPLICATE']);
      expect(again.events).toEqual([]);
    });
  }
});

function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ stdout, stderr, code }));
  });
}
