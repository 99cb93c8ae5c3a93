/**
 * Live equals replay (issue 13 item 2): a simulated 12×12 scan streamed over ZeroMQ into a real `loopstream serve`
 * gives the same maps as `loopstream replay` of that daemon's own recording with the same bundle and config.
 * Both sides are read from their results files by h5py (no code of ours on the reading side).
 *
 * Equality is BITWISE (float32 bit patterns of μ, log σ², error; NaN where not encoded), not "within an ulp": the
 * two runs feed the same pixels in the same order, so the scan's frozen input state (θ, resampling, normalisation,
 * fitted on its first pixels) is the same, and onnxruntime runs each pixel's rows through the same kernels with one
 * intra-op thread on both sides. Only the batch composition differs, on purpose: live batches follow arrival timing
 * (up to batch.maxSize 256), the replay runs with batch.maxSize 7 (after the 64-pixel warm-up, which is one call on
 * both sides). A difference of even one ulp would mean a pixel's result depends on its batchmates or on the path it
 * took, which is exactly what this test exists to catch; the ulp distance is in the failure message.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { simulateScan } from '../../src/sim/index.ts';
import { python, runCli } from '../helpers/cli.ts';
import { DaemonProcess } from './support/daemon-process.ts';
import { Producer } from './support/producer.ts';
import { testBundle } from './support/test-bundle.ts';

const ROWS = 12;
const COLS = 12;
/** one pixel never sent: live marks it missing from the seq gap, the replay from the recording's gap */
const SKIPPED = 20;

const daemons: DaemonProcess[] = [];
afterAll(async () => {
  for (const d of daemons) {
    await d.kill();
    rmSync(d.dataDir, { recursive: true, force: true });
  }
});

/** h5py: compare two results files dataset by dataset, bit pattern by bit pattern. */
const COMPARE = `import h5py, json, sys, numpy as np
a = h5py.File(sys.argv[1], 'r'); b = h5py.File(sys.argv[2], 'r')
out = {}
for name in ['embedding', 'log_var', 'error']:
    x = a[name][()]; y = b[name][()]
    assert x.dtype == np.float32 and y.dtype == np.float32, name
    xi = x.view(np.int32).astype(np.int64); yi = y.view(np.int32).astype(np.int64)
    # ulp distance on the ordered integer line of float32 (negative floats mapped below zero)
    xo = np.where(xi < 0, -(xi & 0x7fffffff), xi); yo = np.where(yi < 0, -(yi & 0x7fffffff), yi)
    both = np.isfinite(x) & np.isfinite(y)
    out[name] = {'shape': list(x.shape), 'bitsDiffer': int((xi != yi).sum()), 'finite': int(np.isfinite(x).sum()),
                 'nanSame': bool((np.isnan(x) == np.isnan(y)).all()), 'maxUlp': int(np.abs(xo - yo)[both].max()) if both.any() else 0}
out['intsEqual'] = {name: bool(np.array_equal(a[name][()], b[name][()])) for name in ['state', 'missing', 'model_version']}
out['missingAt'] = [np.argwhere(f['missing'][()] == 1).tolist() for f in (a, b)]
out['complete'] = [int(a.attrs['complete']), int(b.attrs['complete'])]
out['received'] = [int(a.attrs['pixels_received']), int(b.attrs['pixels_received'])]
print(json.dumps(out))`;

interface Comparison {
  embedding: { shape: number[]; bitsDiffer: number; finite: number; nanSame: boolean; maxUlp: number };
  log_var: Comparison['embedding'];
  error: Comparison['embedding'];
  intsEqual: Record<'state' | 'missing' | 'model_version', boolean>;
  missingAt: number[][][];
  complete: number[];
  received: number[];
}

describe('live equals replay', () => {
  it('a scan streamed over ZeroMQ and the replay of its recording give bitwise identical μ, log σ² and error maps', { timeout: 240_000 }, async () => {
    const bundle = await testBundle();
    const daemon = await DaemonProcess.start({ bundle: bundle.dir });
    daemons.push(daemon);
    const scanId = 'live-vs-replay';
    const scan = simulateScan({ rows: ROWS, cols: COLS, seed: 11, scanId });
    const producer = new Producer(daemon.endpoint, scan);
    try {
      await producer.start();
      await producer.pixels(0, SKIPPED);
      await producer.pixels(SKIPPED + 1, ROWS * COLS);
      await producer.stop();
      const finished = await daemon.scanFinished(scanId, 120_000);
      expect(finished).toMatchObject({ received: ROWS * COLS - 1, encoded: ROWS * COLS - 1, missing: 1 });
    } finally {
      producer.close();
    }
    await daemon.stop();
    expect(daemon.exitCode).toBe(0);

    // the daemon's own recording, replayed with its config (same bundle, same onnxruntime threads) into another folder,
    // in batches of 7 pixels: other batchmates than live had
    const replayData = `${daemon.dataDir}/replayed`;
    const replay = runCli(['replay', daemon.recordingPath(scanId), '--config', daemon.configPath, '--set', 'batch.maxSize=7', '--data', replayData, '--pace', 'max', '--summary-json']);
    expect(await replay.exited, replay.stderrText().slice(-2000)).toBe(0);
    const summary = JSON.parse(replay.stdout[replay.stdout.length - 1]!) as { pixels: number; missing: number; encoded: number; results: string };
    expect(summary).toMatchObject({ pixels: ROWS * COLS - 1, missing: 1, encoded: ROWS * COLS - 1 });

    const c = await python<Comparison>(COMPARE, [daemon.resultsPath(scanId), summary.results]);
    const encoded = ROWS * COLS - 1;
    const d = bundle.manifest.dims.latentDim;
    expect(c.embedding).toEqual({ shape: [ROWS, COLS, d], bitsDiffer: 0, finite: encoded * d, nanSame: true, maxUlp: 0 });
    expect(c.log_var).toEqual({ shape: [ROWS, COLS, d], bitsDiffer: 0, finite: encoded * d, nanSame: true, maxUlp: 0 });
    expect(c.error).toEqual({ shape: [ROWS, COLS], bitsDiffer: 0, finite: encoded, nanSame: true, maxUlp: 0 });
    expect(c.intsEqual).toEqual({ state: true, missing: true, model_version: true });
    const skippedAt = [Math.floor(SKIPPED / COLS), SKIPPED % COLS];
    expect(c.missingAt).toEqual([[skippedAt], [skippedAt]]);
    expect(c.complete).toEqual([1, 1]);
    expect(c.received).toEqual([encoded, encoded]);
  });
});
