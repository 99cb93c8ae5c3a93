/**
 * The live path end to end with real processes: `loopstream simulate --zmq` publishing into `loopstream serve`
 * over ZeroMQ, with a forced seq gap and malformed frames; the results file is read back by h5py.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { daemonConfig, python, runCli, type CliProcess } from '../helpers/cli.ts';

const procs: CliProcess[] = [];
afterAll(() => {
  for (const p of procs) p.proc.kill('SIGKILL');
});

describe('simulator process → serve process over ZeroMQ', () => {
  it('encodes every pixel at the right place, reports the gap, counts malformed frames and keeps running', async () => {
    const { configPath, dataDir } = daemonConfig();
    const daemon = runCli(['serve', '--config', configPath]);
    procs.push(daemon);
    const listening = await daemon.waitForLog((l) => l.msg === 'listening for scans', 'its endpoint');
    const endpoint = String(listening.endpoint);

    const rows = 12;
    const cols = 12;
    const skipped = 20;
    const sim = runCli(['simulate', '--rows', `${rows}`, '--cols', `${cols}`, '--seed', '3', '--anomalies', '0', '--zmq', endpoint, '--rate', '3000', '--skip-seq', `${skipped}`, '--malformed', '50', '--scan-id', 'e2e-zmq']);
    expect(await sim.exited).toBe(0);
    const finished = await daemon.waitForLog((l) => l.msg === 'scan finished' && l.scanId === 'e2e-zmq', 'the end of the scan');
    expect(finished).toMatchObject({ received: rows * cols - 1, encoded: rows * cols - 1, missing: 1 });

    // the daemon counted and logged the malformed frames (one after every 50 pixels) and is still running
    const refused = daemon.logs.filter((l) => l.code === 'LS_FRAME_JSON');
    expect(refused.length).toBe(Math.floor((rows * cols - 1) / 50));
    expect(daemon.proc.exitCode).toBeNull();

    // and /metrics counts the same
    const { url } = await daemon.waitForLog((l) => typeof l.url === 'string', 'the dashboard URL');
    const metrics = await (await fetch(new URL('metrics', String(url)))).text();
    expect(metrics).toMatch(new RegExp(`^loopstream_ingest_pixels_total ${rows * cols - 1}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^loopstream_rejected_frames_total\\{code="LS_FRAME_JSON"\\} ${refused.length}$`, 'm'));

    // results, read with h5py and no custom code
    const results = await python<{ shape: number[]; finite: number; missing: number[][]; versions: number[]; errFinite: number; complete: number }>(
      `import h5py, json, sys, numpy as np
f = h5py.File(sys.argv[1], 'r')
emb = f['embedding'][()]; err = f['error'][()]; ver = f['model_version'][()]; miss = f['missing'][()]
print(json.dumps({'shape': list(emb.shape), 'finite': int(np.isfinite(emb).all(axis=2).sum()), 'missing': np.argwhere(miss == 1).tolist(),
  'versions': sorted(set(int(v) for v in ver.ravel())), 'errFinite': int(np.isfinite(err).sum()), 'complete': int(f.attrs['complete'])}))`,
      [`${dataDir}/e2e-zmq.results.h5`],
    );
    expect(results.shape).toEqual([rows, cols, 16]);
    expect(results.finite).toBe(rows * cols - 1);
    expect(results.errFinite).toBe(rows * cols - 1);
    expect(results.missing).toEqual([[Math.floor(skipped / cols), skipped % cols]]);
    expect(results.versions).toEqual([-1, 1]);
    expect(results.complete).toBe(1);

    // the raw recording holds exactly what the simulator sent
    const recording = await openScanFile(`${dataDir}/e2e-zmq.raw.h5`);
    const expected = [...simulateScan({ rows, cols, seed: 3, scanId: 'e2e-zmq' }).pixels()].filter((p) => p.seq !== skipped);
    const got = [...recording.pixels()];
    recording.close();
    expect(got.length).toBe(expected.length);
    for (let k = 0; k < got.length; k++) {
      expect([got[k].seq, got[k].row, got[k].col]).toEqual([expected[k].seq, expected[k].row, expected[k].col]);
      got[k].data.forEach((buf, b) => expect(Array.from(buf)).toEqual(Array.from(expected[k].data[b])));
    }

    daemon.proc.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
  });
});
