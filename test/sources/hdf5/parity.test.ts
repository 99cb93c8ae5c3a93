/**
 * Issue 12 item 13: replay refuses what live refuses, with the same codes. Hostile files are written with h5py
 * (test/fixtures-py/make_hostile.py) from valid ones (make_usid_sho.py, or our own writer), then read by the real
 * readers: a file whose structure cannot be trusted is refused with a code naming the dataset; a pixel the live
 * rules refuse is refused with the live code, counted, and the replay goes on.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FrameError } from '../../../src/protocol/errors.ts';
import type { ScanEvent } from '../../../src/protocol/events.ts';
import { simulateScan } from '../../../src/sim/index.ts';
import { writeSimulatedScan } from '../../../src/sim/write-scan-file.ts';
import { openScanFile, replayFile, type ReplayOptions } from '../../../src/sources/hdf5/index.ts';

const ROOT = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'ls-parity-'));
const usid = join(dir, 'usid.h5');
const own = join(dir, 'own.h5');

function hostile(variant: string, src: string): string {
  const out = join(dir, `${variant}.h5`);
  execFileSync('/usr/bin/python3', [join(ROOT, 'test/fixtures-py/make_hostile.py'), variant, src, out]);
  return out;
}

async function replay(path: string, opts: Partial<ReplayOptions> = {}): Promise<{ events: ScanEvent[]; rejects: FrameError[] }> {
  const rejects: FrameError[] = [];
  const events = await lastValueFrom(replayFile(path, { pace: { kind: 'max' }, onReject: (r) => rejects.push(r), ...opts }).pipe(toArray()));
  return { events, rejects };
}

async function refusal(path: string, opts: Partial<ReplayOptions> = {}): Promise<{ code?: string; message: string }> {
  try {
    await replay(path, opts);
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error(`${path} was replayed; expected a refusal`);
}

const count = (events: ScanEvent[], type: ScanEvent['type']) => events.filter((e) => e.type === type).length;

beforeAll(async () => {
  execFileSync('/usr/bin/python3', [join(ROOT, 'test/fixtures-py/make_usid_sho.py'), usid, '--rows', '4', '--cols', '4', '--steps', '8', '--cycles', '2']);
  await writeSimulatedScan(simulateScan({ rows: 4, cols: 4, seed: 5, steps: 16 }), own);
}, 60_000);

describe('replay applies the live ingest rules to files', () => {
  it('the unmodified files replay whole (the baseline the cases below depart from)', async () => {
    for (const f of [usid, own]) {
      const { events, rejects } = await replay(f);
      expect([count(events, 'pixel'), count(events, 'gap'), rejects.length]).toEqual([16, 0, 0]);
    }
  });

  it('a USID pixel whose fit is all NaN is refused as live refuses it (LS_FRAME_ALL_NONFINITE), not missing', async () => {
    const { events, rejects } = await replay(hostile('fit-nan', usid));
    expect(rejects.map((r) => [r.code, r.at.seq])).toEqual([['LS_FRAME_ALL_NONFINITE', 5]]);
    // refused, counted by the pipeline (a `refused` event), never reported missing; pixel 6 (one cycle NaN) passes
    // this rule and is left to the model's own check (test/e2e/replay-parity.test.ts)
    expect(events.filter((e) => e.type === 'refused').map((e) => (e as { seq: number }).seq)).toEqual([5]);
    expect([count(events, 'pixel'), count(events, 'gap')]).toEqual([15, 0]);
  });

  it('rows outside the grid are refused with LS_FRAME_OUT_OF_GRID and the replay goes on', async () => {
    const { events, rejects } = await replay(hostile('out-of-grid', own));
    expect(rejects.map((r) => [r.code, r.at.seq])).toEqual([
      ['LS_FRAME_OUT_OF_GRID', 3],
      ['LS_FRAME_OUT_OF_GRID', 7],
    ]);
    expect([count(events, 'pixel'), count(events, 'refused'), count(events, 'gap'), count(events, 'stop')]).toEqual([14, 2, 0, 1]);
  });

  it('a NaN or negative seq is a bad header (LS_FRAME_HEADER) and a repeated one a duplicate (LS_SEQ_DUPLICATE)', async () => {
    const { events, rejects } = await replay(hostile('bad-seq', own));
    expect(rejects.map((r) => r.code)).toEqual(['LS_FRAME_HEADER', 'LS_FRAME_HEADER', 'LS_SEQ_DUPLICATE']);
    expect(count(events, 'pixel')).toBe(13);
    // seqs 2, 4 (their rows' seqs are not seqs) and 6 (its row claims seq 5) never arrived: the next pixel reports
    // each missing, as live ingest does
    expect(events.filter((e) => e.type === 'gap').map((e) => [(e as { fromSeq: number }).fromSeq, (e as { toSeq: number }).toSeq])).toEqual([
      [2, 2],
      [4, 4],
      [6, 6],
    ]);
  });

  it('a file whose grid is beyond ingest.maxScanPixels is refused as live refuses its start (LS_SCAN_TOO_LARGE)', async () => {
    const r = await refusal(own, { maxScanPixels: 15 });
    expect(r.code).toBe('LS_SCAN_TOO_LARGE');
    expect(r.message).toContain(own);
    expect(count((await replay(own, { maxScanPixels: 16 })).events, 'pixel')).toBe(16);
  });

  it('a dataset of text where numbers belong refuses the file, naming it (LS_FILE_DTYPE)', async () => {
    const seq = await refusal(hostile('seq-string', own));
    expect(seq.code).toBe('LS_FILE_DTYPE');
    expect(seq.message).toContain('/scan/pixels/seq');
    const amp = await refusal(hostile('amp-string', usid));
    expect(amp.code).toBe('LS_FILE_DTYPE');
    expect(amp.message).toContain('"Amplitude [V]"');
  });

  it('duplicate, negative or NaN USID positions refuse the file (LS_FILE_POSITIONS) instead of dropping pixels', async () => {
    for (const v of ['pos-dup', 'pos-neg', 'pos-nan']) {
      const r = await refusal(hostile(v, usid));
      expect(r.code, v).toBe('LS_FILE_POSITIONS');
      expect(r.message).toContain('Position_Indices');
    }
  });

  it('an external link or a virtual dataset into another file is refused (LS_FILE_EXTERNAL), not followed', async () => {
    for (const v of ['external', 'virtual']) {
      const path = hostile(v, usid);
      const r = await refusal(path);
      expect(r.code, v).toBe('LS_FILE_EXTERNAL');
      expect(r.message).toContain(`${path}.ext.h5`);
    }
  });

  it('a damaged gzip chunk is a read failure (LS_FILE_UNREADABLE), never data', async () => {
    const r = await refusal(hostile('gzip-corrupt', usid));
    expect(r.code).toBe('LS_FILE_UNREADABLE');
    expect(r.message).toContain('/Raw_Data-SHO_Fit_000/Fit');
    // the same file before the damage reads whole: the refusal is the damage, not the compression
    const intact = join(dir, 'gzip-intact.h5');
    execFileSync('/usr/bin/python3', [
      '-c',
      `import h5py, shutil, sys
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], 'r+') as h:
    g = h['Measurement_000/Channel_000/Raw_Data-SHO_Fit_000']; fit = g['Fit'][()]; del g['Fit']
    g.create_dataset('Fit', data=fit, chunks=(4, fit.shape[1]), compression='gzip')`,
      usid,
      intact,
    ]);
    expect(count((await replay(intact)).events, 'pixel')).toBe(16);
  });

  it('realtime pacing caps each timestamp gap (t = 1e300 does not make the replay wait forever)', async () => {
    const path = hostile('t-1e300', own);
    const skips: number[] = [];
    const t0 = performance.now();
    const { events } = await replay(path, { pace: { kind: 'realtime', factor: 1 }, maxGapSeconds: 0.2, onPaceSkip: (gap, seq) => skips.push(seq, gap) });
    const seconds = (performance.now() - t0) / 1000;
    expect(count(events, 'pixel')).toBe(16);
    const reader = await openScanFile(path);
    const t2 = reader.pixel(2).t;
    reader.close();
    expect(skips).toEqual([3, 1e300 - t2]);
    // 13 more pixels at the same t: no further wait; the file's own first gaps are the simulator's 5 ms
    expect(seconds).toBeLessThan(5);
  });
});
