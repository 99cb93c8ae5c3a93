/**
 * Faults of the data folder, on a real `loopstream serve` process: the raw recording cannot be written because the
 * disk is full (a file-size limit on the daemon: every write past it fails with EFBIG, exactly as on a full disk) or
 * the folder is read-only. The daemon must say so clearly (path and errno), mark the scan 'error', and stop
 * receiving — the producer blocks — rather than accept pixels it cannot record. It must not crash.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, chownSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePixel, encodeStart } from '../../src/protocol/encode.ts';
import { simulateScan, type SimulatedScan } from '../../src/sim/index.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { DaemonProcess, ROOT, type LogLine } from './support/daemon-process.ts';
import { readResults } from './support/results.ts';
import { testBundle } from './support/test-bundle.ts';

/** Send a scan's start and pixels until `send` times out (the daemon stopped receiving); returns pixels sent. */
async function sendUntilBlocked(endpoint: string, scan: SimulatedScan): Promise<number> {
  const push = new zmq.Push({ linger: 0, sendHighWaterMark: 16, sendTimeout: 3000 });
  push.connect(endpoint);
  let sent = 0;
  try {
    await push.send(encodeStart(scan.start));
    for (const p of scan.pixels()) {
      await push.send(encodePixel({ type: 'pixel', scanId: p.scanId, seq: p.seq, row: p.row, col: p.col, t: p.t }, p.data, scan.start));
      sent++;
    }
  } catch (err) {
    expect((err as { code?: string }).code).toBe('EAGAIN'); // the send timed out: nobody is receiving
  } finally {
    push.close();
  }
  return sent;
}

const run = promisify(execFile);

// As root, permission bits do not bind, so the read-only case runs the daemon as `nobody` — which needs to read the
// checkout. Where it cannot (a clone under a private home folder), that one case cannot be set up here.
const NOBODY = { uid: 65534, gid: 65534 };
const asRoot = process.getuid?.() === 0;
const nobodyCanRun = !asRoot || spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(join(ROOT, 'bin/loopstream.js'))})`], NOBODY).status === 0;

const isFailure = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('recording failed');

describe('faults: recording folder full or read-only', () => {
  let d: DaemonProcess | undefined;
  afterEach(async () => {
    await d?.kill();
    d = undefined;
  });

  it('disk full mid-scan: logs path and errno, marks the scan error, stops receiving, loses nothing silently', async () => {
    const bundle = await testBundle();
    // 32x32 sho pixels are ~6 KiB each: the 1 MiB limit is reached after ~150 pixels.
    d = await DaemonProcess.start({ bundle: bundle.dir, fileSizeLimitKb: 1024, config: { ingest: { highWaterMark: 16 }, batch: { maxSize: 16 } } });
    const scan = simulateScan({ rows: 32, cols: 32, seed: 5, steps: bundle.T, scanId: 'disk-full' });
    const sent = await sendUntilBlocked(d.endpoint, scan);
    const failure = await d.waitForLog(isFailure);
    expect(failure).toMatchObject({ scanId: 'disk-full', path: d.recordingPath('disk-full'), errno: 'EFBIG', code: 'LS_FILE_WRITE' });
    expect(failure.msg).toMatch(/ulimit -f/);
    expect(sent).toBeLessThan(1024); // ingest stopped accepting: the producer blocked
    expect(d.alive).toBe(true);
    // /healthz says so (a probe sees it without reading logs)
    const { url } = await d.waitForLog((l) => typeof l.url === 'string');
    const health = (await (await fetch(new URL('healthz', String(url)))).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ingest-halted', reason: `EFBIG writing ${d.recordingPath('disk-full')}: ingest stopped` });

    await d.stop();
    expect(d.exitCode).toBe(0);
    const r = await readResults(d.resultsPath('disk-full'));
    expect(r.attrs.status).toBe('error');
    expect(String(r.attrs.recording_error)).toMatch(/^EFBIG: /);
    // Every pixel the daemon received is either recorded (flushed before the failure) or counted as unrecorded —
    // none vanished.
    const received = Number(r.attrs.pixels_received);
    const unrecorded = Number(r.attrs.pixels_unrecorded);
    const recorded = Number(failure.recorded);
    expect(unrecorded).toBeGreaterThan(0);
    expect(recorded + unrecorded).toBe(received);
    expect(received).toBeLessThanOrEqual(sent);

    // The recording is left as HDF5 left it (its superblock may claim the space the failed write wanted); once there
    // is room again the repair example makes it readable, and the `recorded` rows are the scan's first pixels, exact.
    const repair = await run('/usr/bin/python3', [join(ROOT, 'examples/python/repair_recording.py'), d.recordingPath('disk-full'), '--keep', String(recorded)]);
    expect(repair.stdout).toMatch(new RegExp(`kept ${recorded} row`));
    const rec = await openScanFile(d.recordingPath('disk-full'));
    try {
      expect(rec.count).toBe(recorded);
      for (const p of rec.pixels()) {
        const q = scan.pixel(p.seq);
        expect([p.row, p.col]).toEqual([q.row, q.col]);
        for (let b = 0; b < q.data.length; b++) expect(p.data[b]).toEqual(Float32Array.from(q.data[b]));
      }
      expect([...rec.pixels()].map((p) => p.seq)).toEqual(Array.from({ length: recorded }, (_, i) => i));
    } finally {
      rec.close();
    }
  }, 90_000);

  it.skipIf(!nobodyCanRun)('read-only folder: the scan cannot open its recording, the daemon says why and stops receiving', async () => {
    const bundle = await testBundle();
    const dataDir = mkdtempSync(join(tmpdir(), 'loopstream-ro-'));
    const asNobody: { uid?: number; gid?: number } = asRoot ? NOBODY : {};
    if (asNobody.uid !== undefined) chownSync(dataDir, asNobody.uid, asNobody.gid!);
    d = await DaemonProcess.start({ bundle: bundle.dir, dataDir, ...asNobody, config: { ingest: { highWaterMark: 16 } } });
    chmodSync(dataDir, 0o555);
    try {
      const scan = simulateScan({ rows: 32, cols: 32, seed: 6, steps: bundle.T, scanId: 'read-only' });
      const sent = await sendUntilBlocked(d.endpoint, scan);
      const failure = await d.waitForLog(isFailure);
      expect(failure).toMatchObject({ scanId: 'read-only', path: d.recordingPath('read-only'), errno: 'EACCES', code: 'LS_FILE_WRITE' });
      expect(failure.msg).toMatch(/cannot create the recording/);
      expect(sent).toBeLessThan(1024);
      expect(d.alive).toBe(true);
      await d.stop();
      expect(d.exitCode).toBe(0);
    } finally {
      chmodSync(dataDir, 0o755);
    }
  }, 90_000);
});
