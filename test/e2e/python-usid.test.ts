/**
 * Interop with a client we did not write: the Python example publisher (pyzmq PUSH, h5py) streams a
 * pycroscopy/USID SHO-fit file into a real `loopstream serve` child process; every pixel must reach the maps.
 * The Python results reader then reads what the daemon wrote.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { DaemonProcess, ROOT } from './support/daemon-process.ts';
import { encodedPixels, readResults } from './support/results.ts';
import { testBundle } from './support/test-bundle.ts';

const run = promisify(execFile);
const PY = '/usr/bin/python3';
const EX = join(ROOT, 'examples/python');

describe('Python publisher → loopstream serve → Python reader', () => {
  let d: DaemonProcess;
  let usid: string;
  beforeAll(async () => {
    const bundle = await testBundle();
    // one open scan at a time, so the last test can make the daemon refuse the example's scan
    d = await DaemonProcess.start({ bundle: bundle.dir, startTimeoutMs: 150_000, config: { ingest: { maxOpenScans: 1 } } });
    usid = join(d.dataDir, 'pto-usid.h5');
    // --off-first: the out-of-field columns come first, the reverse of the default — the publisher must read the
    // Field row rather than assume column parity.
    await run(PY, [join(EX, 'make_usid.py'), usid, '--rows', '8', '--cols', '8', '--steps', String(bundle.T), '--cycles', '2', '--off-first']);
  }, 180_000);
  afterAll(async () => {
    await d?.stop();
  });

  it('streams every pixel of a USID SHO file into the maps, at the right coordinates', async () => {
    const { stderr } = await run(PY, [join(EX, 'publish_usid.py'), usid, '--endpoint', d.endpoint, '--status-endpoint', d.statusEndpoint!, '--scan-id', 'py-usid'], { timeout: 60_000 });
    expect(stderr).toMatch(/sent scan py-usid: 8x8 grid, 64 pixels/);
    // the example heard the daemon's final counts on the status channel (PUB)
    expect(stderr).toMatch(/daemon finished py-usid: status completed, received 64, recorded 64, encoded 64, rejected 0, missing 0/);
    expect(stderr).not.toMatch(/daemon refused/);
    const finished = await d.scanFinished('py-usid');
    expect(finished).toMatchObject({ status: 'completed', received: 64, encoded: 64, missing: 0 });

    const r = await readResults(d.resultsPath('py-usid'));
    expect([r.rows, r.cols]).toEqual([8, 8]);
    expect(r.attrs.complete).toBe(1);
    expect(encodedPixels(r)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect([...r.missing].every((m) => m === 0)).toBe(true);
    expect([...r.modelVersion].every((v) => v >= 1)).toBe(true);
    expect([...r.error].every((e) => Number.isFinite(e) && e >= 0)).toBe(true);

    // The recording holds what Python sent; our own USID reader (an independent implementation) must agree with it
    // value for value, per (cycle, field, step) and pixel position.
    const sent = await openScanFile(d.recordingPath('py-usid'));
    const file = await openScanFile(usid);
    try {
      expect(sent.count).toBe(64);
      expect(sent.start).toMatchObject({ kind: 'sho', cycles: 2, grid: { rows: 8, cols: 8 } });
      expect(sent.start.dcVoltage).toEqual(file.start.dcVoltage.map((v) => Math.fround(v)).map((v) => expect.closeTo(v, 5)));
      const byPos = new Map([...file.pixels()].map((p) => [p.row * 8 + p.col, p]));
      const T = sent.start.dcVoltage.length;
      for (const p of sent.pixels()) {
        const q = byPos.get(p.row * 8 + p.col)!;
        for (let b = 0; b < 4; b++) {
          for (let c = 0; c < 2; c++) {
            for (const f of ['on', 'off'] as const) {
              const a = p.data[b].subarray((c * 2 + sent.start.fields.indexOf(f)) * T, (c * 2 + sent.start.fields.indexOf(f) + 1) * T);
              const e = q.data[b].subarray((c * file.start.fields.length + file.start.fields.indexOf(f)) * T, (c * file.start.fields.length + file.start.fields.indexOf(f) + 1) * T);
              expect(Array.from(a)).toEqual(Array.from(e));
            }
          }
        }
      }
    } finally {
      sent.close();
      file.close();
    }
  }, 90_000);

  it('reads the results file with the Python example (h5py)', async () => {
    const { stdout } = await run(PY, [join(EX, 'read_results.py'), d.resultsPath('py-usid'), '--json']);
    const s = JSON.parse(stdout) as Record<string, unknown>;
    expect(s).toMatchObject({ scan_id: 'py-usid', complete: true, status: 'completed', grid: [8, 8], latent_dim: 16, encoded: 64, missing: 0 });
    expect((s.encoded_coords as number[][]).length).toBe(64);
    expect((s.model_versions as number[]).length).toBeGreaterThan(0);
    const human = await run(PY, [join(EX, 'read_results.py'), d.resultsPath('py-usid')]);
    expect(human.stdout).toMatch(/pixels encoded 64, missing 0/);
  }, 30_000);

  it('prints the refusals the daemon publishes on the status channel', async () => {
    // Another producer holds the only open-scan slot (ingest.maxOpenScans = 1), so the example's start is refused.
    const zmq = await import('zeromq');
    const { encodeStart, encodeStop } = await import('../../src/protocol/encode.ts');
    const { simulateScan } = await import('../../src/sim/index.ts');
    const holder = new zmq.Push({ linger: 5000 });
    holder.connect(d.endpoint);
    const scan = simulateScan({ rows: 2, cols: 2, seed: 1, steps: 96, scanId: 'slot-holder' });
    await holder.send(encodeStart(scan.start));
    await d.waitForLog((l) => l.scanId === 'slot-holder' && l.msg === 'scan started');
    const { stderr } = await run(PY, [join(EX, 'publish_usid.py'), usid, '--endpoint', d.endpoint, '--status-endpoint', d.statusEndpoint!, '--scan-id', 'py-refused', '--wait-finished', '2'], { timeout: 60_000 });
    expect(stderr).toMatch(/daemon refused: \[LS_SCAN_LIMIT\] scan py-refused: 1 scans are open/);
    expect(stderr).toMatch(/daemon refused: \[LS_SCAN_REFUSED\] scan py-refused pixel seq 0/);
    expect(stderr).toMatch(/no 'finished' status for py-refused/);
    await holder.send(encodeStop({ type: 'stop', scanId: 'slot-holder', status: 'aborted', pixelsSent: 0, lastSeq: -1 }));
    await d.scanFinished('slot-holder');
    holder.close();
  }, 90_000);
});
