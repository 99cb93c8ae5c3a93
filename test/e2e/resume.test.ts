/**
 * Crash and resume with real processes: SIGKILL the daemon mid-scan, start it again on the same endpoint and data
 * folder. Every pixel recorded before the kill is encoded after the restart; the producer (blocked while no daemon
 * listened) continues; pixels lost inside the killed process show as missing, never silently.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { daemonConfig, python, runCli, type CliProcess } from '../helpers/cli.ts';
import { freePort } from '../helpers/ports.ts';

const procs: CliProcess[] = [];
afterAll(() => {
  for (const p of procs) p.proc.kill('SIGKILL');
});

describe('resume after SIGKILL', () => {
  it('loses no recorded pixel and accounts for every pixel of the scan', { timeout: 240_000 }, async () => {
    const port = await freePort();
    const endpoint = `tcp://127.0.0.1:${port}`;
    const { configPath, dataDir } = daemonConfig({ ingest: { endpoint }, server: { enabled: false } });
    const first = runCli(['serve', '--config', configPath]);
    procs.push(first);
    await first.waitForLog((l) => l.msg === 'listening for scans', 'its endpoint');

    const rows = 20;
    const cols = 20;
    const sim = runCli(['simulate', '--rows', `${rows}`, '--cols', `${cols}`, '--seed', '5', '--anomalies', '0', '--zmq', endpoint, '--rate', '100', '--linger-ms', '300000', '--scan-id', 'e2e-resume']);
    procs.push(sim);
    await first.waitForLog((l) => l.msg === 'scan started' && l.scanId === 'e2e-resume', 'the scan start');
    // Kill mid-scan: the scan takes 400 / 100 px/s = 4 s; the kill point only needs to fall inside it (checked below),
    // early enough that the stop is still with the producer (what the dead process had queued is lost: missing).
    // (Polling the recording instead would open an HDF5 file another process is writing.)
    const recording = `${dataDir}/e2e-resume.raw.h5`;
    await new Promise((r) => setTimeout(r, 1000));
    first.proc.kill('SIGKILL');
    await first.exited;
    const beforeRestart = await openScanFile(recording);
    const recordedSeqs = [...beforeRestart.pixels()].map((p) => p.seq);
    beforeRestart.close();
    expect(recordedSeqs.length).toBeGreaterThan(0);
    expect(recordedSeqs.length).toBeLessThan(rows * cols);

    const second = runCli(['serve', '--config', configPath]);
    procs.push(second);
    const resumed = await second.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('resumed a scan'), 'the resume');
    expect(resumed).toMatchObject({ scanId: 'e2e-resume', recorded: recordedSeqs.length, nextSeq: recordedSeqs[recordedSeqs.length - 1] + 1 });
    expect(await sim.exited).toBe(0);
    const finished = await second.waitForLog((l) => l.msg === 'scan finished' && l.scanId === 'e2e-resume', 'the end of the scan', 40_000);

    const results = await python<{ encoded: number[]; missing: number }>(
      `import h5py, json, sys, numpy as np
f = h5py.File(sys.argv[1], 'r')
v = f['model_version'][()].ravel(); m = f['missing'][()].ravel()
print(json.dumps({'encoded': [int(i) for i in np.flatnonzero(v >= 0)], 'missing': int(m.sum())}))`,
      [`${dataDir}/e2e-resume.results.h5`],
    );
    // every pixel recorded before the kill is in the maps (raster order: seq = flat index)
    const encoded = new Set(results.encoded);
    for (const seq of recordedSeqs) expect(encoded.has(seq)).toBe(true);
    // and every pixel of the scan is either encoded or visibly missing
    expect(results.encoded.length + results.missing).toBe(rows * cols);
    expect(finished).toMatchObject({ encoded: results.encoded.length, missing: results.missing });
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
