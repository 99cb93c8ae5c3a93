/**
 * The own scan-file layout module (src/hdf5/own-format.ts) on its own: written with its primitives, read back with
 * them, with the replay reader built on them, and with h5py (plain HDF5, no custom code).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { h5 } from '../../src/hdf5/h5.ts';
import {
  SCAN_FORMAT,
  SCAN_FORMAT_VERSION,
  ScanDatasets,
  checkReadable,
  committedDataset,
  completeRows,
  isScanFile,
  readRowBlock,
  readStart,
  readStop,
  readTruth,
  writeCommitted,
  writeScanLayout,
  writeStopAttr,
  type ScanRows,
} from '../../src/hdf5/own-format.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import type { PixelEvent } from '../../src/protocol/events.ts';
import type { StopHeader } from '../../src/protocol/messages.ts';

const dir = mkdtempSync(join(tmpdir(), 'ls-ownfmt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pixels as the layout's columns. */
function toRows(px: readonly PixelEvent[], elements: number[]): ScanRows {
  return {
    seq: Float64Array.from(px, (p) => p.seq),
    row: Int32Array.from(px, (p) => p.row),
    col: Int32Array.from(px, (p) => p.col),
    t: Float64Array.from(px, (p) => p.t),
    buffers: elements.map((e, b) => {
      const out = new Float32Array(px.length * e);
      px.forEach((p, j) => out.set(p.data[b], j * e));
      return out;
    }),
  };
}

describe('own-format: the scan layout written and read by one module', () => {
  const scan = simulateScan({ rows: 20, cols: 16, seed: 5, anomalies: 1 }); // 320 pixels: more than one read block
  const px = [...scan.pixels()];
  const stop: StopHeader = { type: 'stop', scanId: scan.start.scanId, status: 'completed', pixelsSent: px.length, lastSeq: px.length - 1 };

  it('round-trips start, rows, committed, truth and stop through its own primitives', async () => {
    const H = await h5();
    const path = join(dir, 'module.h5');
    const f = new H.File(path, 'w');
    writeScanLayout(f, scan.start, scan.truth);
    const ds = new ScanDatasets(f, path, scan.start);
    ds.append(0, toRows(px.slice(0, 100), ds.elements));
    ds.append(100, toRows(px.slice(100), ds.elements));
    writeCommitted(committedDataset(f, path), 300); // the last 20 rows written but never verified: not data
    writeStopAttr(f, stop);
    writeStopAttr(f, { ...stop, status: 'aborted' }); // replaced, not duplicated
    f.close();

    const r = new H.File(path, 'r');
    try {
      expect(isScanFile(r)).toBe(true);
      expect(readStart(r, path)).toEqual(scan.start);
      expect(readStop(r, path)).toEqual({ ...stop, status: 'aborted' });
      expect(readTruth(r, scan.start, path)!.mechanism).toEqual(scan.truth.mechanism);
      expect(readTruth(r, scan.start, path)!.regions).toEqual(scan.truth.regions);
      const back = new ScanDatasets(r, path, scan.start);
      checkReadable(back);
      expect(back.lengths()).toEqual(Array(back.all.length).fill(320));
      expect(completeRows(back)).toBe(300);
      const block = readRowBlock(back, 250, 300);
      expect(block.length).toBe(50);
      expect(Array.from(block.seq)).toEqual(px.slice(250, 300).map((p) => p.seq));
      expect(Array.from(block.col)).toEqual(px.slice(250, 300).map((p) => p.col));
      expect(block.buffers[0]).toEqual(toRows(px.slice(250, 300), back.elements).buffers[0]);
    } finally {
      r.close();
    }

    // The replay reader stops at committed rows, and a pixel it returned stays intact after later blocks are read.
    const reader = await openScanFile(path);
    try {
      expect(reader.count).toBe(300);
      const first = reader.pixel(0);
      const all = [...reader.pixels()];
      expect(first).toEqual(px[0]);
      expect(all).toEqual(px.slice(0, 300));
    } finally {
      reader.close();
    }

    // h5py reads it as plain HDF5.
    const script = [
      'import h5py, json, sys',
      'f = h5py.File(sys.argv[1], "r")',
      's = f["scan"]',
      'print(json.dumps({"format": s.attrs["format"], "version": int(s.attrs["formatVersion"]), "committed": float(s["committed"][0]),',
      '  "seq": f["scan/pixels/seq"][:5].tolist(), "amp": float(f["scan/pixels/amplitude"][299, 1, 0, 9]),',
      '  "shape": list(f["scan/pixels/amplitude"].shape), "stop": json.loads(s.attrs["stop"])["status"],',
      '  "mech": int(f["scan/truth/mechanism"][3, 4])}))',
    ].join('\n');
    const out = spawnSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    const py = JSON.parse(out.stdout);
    const [, cycles, fields, steps] = py.shape;
    expect(py).toMatchObject({ format: SCAN_FORMAT, version: SCAN_FORMAT_VERSION, committed: 300, seq: [0, 1, 2, 3, 4], shape: [320, 2, 2, 96], stop: 'aborted' });
    expect(py.amp).toBe(px[299].data[0][(1 * fields + 0) * steps + 9]);
    expect(cycles).toBe(2);
    expect(py.mech).toBe(scan.truth.mechanism[3 * 16 + 4]);
  });

  it('reads a version-1 file (no committed): every row all datasets hold, less trailing fill rows', async () => {
    const H = await h5();
    const path = join(dir, 'v1.h5');
    const f = new H.File(path, 'w');
    writeScanLayout(f, scan.start);
    const ds = new ScanDatasets(f, path, scan.start);
    ds.append(0, toRows(px.slice(0, 10), ds.elements));
    // Two rows whose extent reached the disk but whose data did not (fill values: seq = 0, t = 0).
    const torn = toRows(px.slice(10, 12), ds.elements);
    torn.seq.fill(0);
    torn.t.fill(0);
    ds.append(10, torn);
    f.close();
    // Turn it into version 1 with h5py: no committed, formatVersion 1, seq int32.
    const script = [
      'import h5py, sys, numpy as np',
      'f = h5py.File(sys.argv[1], "a")',
      'del f["scan/committed"]',
      'f["scan"].attrs["formatVersion"] = 1',
      'seq = f["scan/pixels/seq"][:].astype(np.int32)',
      'del f["scan/pixels/seq"]',
      'f.create_dataset("scan/pixels/seq", data=seq, maxshape=(None,), chunks=(64,))',
    ].join('\n');
    const out = spawnSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    const r = new H.File(path, 'r');
    try {
      const back = new ScanDatasets(r, path, readStart(r, path));
      expect(completeRows(back)).toBe(10);
      expect(Array.from(readRowBlock(back, 0, 10).seq)).toEqual(px.slice(0, 10).map((p) => p.seq));
    } finally {
      r.close();
    }
  });
});
