/**
 * Crashes and restarts on both ends, against real `loopstream serve` processes:
 *  - the daemon is SIGKILLed mid-scan and restarted on the same data folder: every pixel its recording held is in
 *    the maps after the resume, and the producer, continuing from the next seq the daemon logs, completes the scan
 *    with nothing missing;
 *  - the producer (the Python example) dies mid-scan and is restarted: it resends its start and continues; seqs it
 *    sends twice are refused as duplicates, and every pixel still arrives once.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { simulateScan } from '../../src/sim/index.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { DaemonProcess, ROOT, freePort } from './support/daemon-process.ts';
import { Producer } from './support/producer.ts';
import { encodedPixels, readResults } from './support/results.ts';
import { testBundle } from './support/test-bundle.ts';

const run = promisify(execFile);
const all = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('faults: crashes and restarts', () => {
  const daemons: DaemonProcess[] = [];
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.kill();
  });

  it('SIGKILL mid-scan, restart: the recording is resumed into the maps and the producer continues from nextSeq', async () => {
    const bundle = await testBundle();
    const port = await freePort();
    const d1 = await DaemonProcess.start({ bundle: bundle.dir, port });
    daemons.push(d1);
    const scan = simulateScan({ rows: 16, cols: 16, seed: 21, steps: bundle.T, scanId: 'crash-me' });
    const p1 = new Producer(d1.endpoint, scan, { linger: 0 });
    await p1.start();
    await p1.pixels(0, 160);
    // Mid-scan: wait until the daemon has encoded some pixels (so they are recorded: the recording comes first),
    // then crash it while the rest are still arriving.
    const url = String(d1.logs.find((l) => typeof l.url === 'string')?.url);
    for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 50))) {
      const m = /^loopstream_ingest_pixels_total (\d+)/m.exec(await (await fetch(new URL('/metrics', url))).text());
      if (m && Number(m[1]) >= 32) break;
      if (Date.now() - t0 > 30_000) throw new Error(`no 32 pixels encoded within 30 s; last lines:\n${d1.tail()}`);
    }
    await d1.kill();
    expect(d1.exitSignal).toBe('SIGKILL');
    p1.close(); // the producer notices and drops what it had queued; it resends from the daemon's nextSeq

    const d2 = await DaemonProcess.start({ bundle: bundle.dir, port, dataDir: d1.dataDir });
    daemons.push(d2);
    const resumed = d2.logs.find((l) => l.scanId === 'crash-me' && /^resumed a scan/.test(l.msg));
    expect(resumed).toBeDefined();
    const recorded = Number(resumed!.recorded);
    const nextSeq = Number(resumed!.nextSeq);
    expect(recorded).toBeGreaterThan(0);
    expect(recorded).toBeLessThanOrEqual(160);
    expect(nextSeq).toBe(recorded); // seqs were recorded without holes, so the next one is their count

    const p2 = new Producer(d2.endpoint, scan);
    await p2.start(); // a restarted producer sends its start again: same layout, the scan continues
    await p2.pixels(nextSeq, 256);
    await p2.stop();
    p2.close();
    const finished = await d2.scanFinished('crash-me');
    expect(finished).toMatchObject({ status: 'completed', missing: 0 });
    await d2.stop();

    const r = await readResults(d2.resultsPath('crash-me'));
    expect(encodedPixels(r)).toEqual(all(256));
    expect(r.attrs.complete).toBe(1);
    // The recording holds each seq exactly once: the pre-crash part and the continuation.
    const rec = await openScanFile(d2.recordingPath('crash-me'));
    try {
      expect([...rec.pixels()].map((p) => p.seq)).toEqual(all(256));
      expect(rec.stop?.status).toBe('completed');
    } finally {
      rec.close();
    }
  }, 90_000);

  it('producer restarted mid-scan (Python): resends start, continues; re-sent seqs are refused, nothing is lost', async () => {
    const bundle = await testBundle();
    const d = await DaemonProcess.start({ bundle: bundle.dir });
    daemons.push(d);
    const file = join(d.dataDir, 'usid.h5');
    const py = (args: string[]) => run('/usr/bin/python3', args, { timeout: 60_000 });
    await py([join(ROOT, 'examples/python/make_usid.py'), file, '--steps', String(bundle.T)]);
    const pub = join(ROOT, 'examples/python/publish_usid.py');
    // First producer dies after 20 pixels, without a stop…
    const first = await py([pub, file, '--endpoint', d.endpoint, '--scan-id', 'py-restart', '--stop-after', '20']);
    expect(first.stderr).toMatch(/stopped after 20 pixels \(next seq 20\)/);
    // …its replacement does not know exactly how far it got and starts 5 pixels early.
    await py([pub, file, '--endpoint', d.endpoint, '--scan-id', 'py-restart', '--from-seq', '15']);
    const finished = await d.scanFinished('py-restart');
    expect(finished).toMatchObject({ status: 'completed', received: 64, encoded: 64, missing: 0 });
    const final = await d.stop();
    expect(final?.rejected).toEqual({ LS_SEQ_DUPLICATE: 5 });
    const r = await readResults(d.resultsPath('py-restart'));
    expect(encodedPixels(r)).toEqual(all(64));
  }, 90_000);
});
