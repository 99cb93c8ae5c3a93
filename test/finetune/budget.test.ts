/**
 * The budget: while ingest lags (queue depth above finetune.pauseQueueDepth) the training worker is blocked between
 * batches, the dashboard says so, and the round goes on once the queue drains. The queue depth is the only thing
 * faked here (a real daemon, worker thread and model otherwise), so the test decides when ingest "lags".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { writeSimulatedScan } from '../../src/sim/write-scan-file.ts';
import { Config } from '../../src/config/schema.ts';
import { wireFinetune } from '../../src/app/wire-finetune.ts';
import { Daemon } from '../../src/pipeline/daemon.ts';
import { replayFile } from '../../src/sources/hdf5/index.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { pretrainedTestBundle, SHIFTED_SCAN } from './support/small-bundle.ts';

let work: string;
let bundle: string;
let file: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'loopstream-ftbudget-'));
  bundle = await pretrainedTestBundle();
  file = join(work, 'scan.h5');
  await writeSimulatedScan(simulateScan({ ...SHIFTED_SCAN, rows: 10, cols: 10 }), file);
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('training pauses while ingest lags and finishes its round once the queue drains', async () => {
  const config = Config.parse({
    model: { bundle, threads: 1 },
    data: { dir: join(work, 'data') },
    batch: { maxSize: 16, maxWaitMs: 2 },
    alerts: { enabled: false },
    finetune: { enabled: true, everyPixels: 80, epochs: 2, batch: 8, cpuShare: 1, maxRounds: 1, pauseQueueDepth: 100 },
  });
  const daemon = await Daemon.create(config, silentLogger, { source: 'replay', record: false });
  let lagging = true;
  const host = { slot: daemon.slot, registry: daemon.registry, encoder: daemon.encoder, queueDepth: () => (lagging ? 5000 : 0) };
  const texts: string[] = [];
  const ft = await wireFinetune(host, { setFinetuneStatus: (state, text) => texts.push(`${state}: ${text}`) }, config, silentLogger);
  try {
    await daemon.run(replayFile(file, { pace: { kind: 'max' } }));
    // The round started at 80 pixels; wait until its worker is actually blocked, then let ingest "catch up".
    while (!ft.trainingPaused) await new Promise((r) => setTimeout(r, 20));
    expect(texts).toContain('training: round 1: paused while ingest catches up (5000 pixels waiting)');
    lagging = false;
    await ft.settle();
    const [round] = ft.rounds;
    console.log(`paused ${round!.pausedSeconds.toFixed(2)} s of a ${round!.trainSeconds.toFixed(2)} s round; ${round!.accepted ? 'accepted' : 'rejected'}`);
    expect(round!.pausedSeconds).toBeGreaterThan(0);
    expect(round!.epochs).toBe(2); // the pause delayed the round; it did not cut it
    expect(texts[texts.length - 1]).toMatch(/^collecting: (v2 live|round 1 rejected)/);
  } finally {
    await ft.close();
    await daemon.close();
  }
});

test('a round also starts after finetune.everyMinutes when at least minPixels new pixels arrived', async () => {
  const config = Config.parse({
    model: { bundle, threads: 1 },
    data: { dir: join(work, 'data-time') },
    batch: { maxSize: 16, maxWaitMs: 2 },
    alerts: { enabled: false },
    // far more than the scan has: only the clock can start this round (0.005 min = 0.3 s); the fit check is off, so
    // a scan the small test bundle does not fit cannot start an early 'ood' round at minPixels either
    finetune: { enabled: true, everyPixels: 100_000, everyMinutes: 0.005, minPixels: 50, epochs: 0, maxRounds: 1 },
    ood: { enabled: false },
  });
  const daemon = await Daemon.create(config, silentLogger, { source: 'replay', record: false });
  const ft = await wireFinetune(daemon, { setFinetuneStatus: () => undefined }, config, silentLogger);
  try {
    await daemon.run(replayFile(file, { pace: { kind: 'max' } }));
    while (ft.rounds.length === 0) await new Promise((r) => setTimeout(r, 50));
    await ft.settle();
    const [round] = ft.rounds;
    expect(round!.trigger).toBe('time');
    expect(round!.recentTrainPixels + round!.heldOutPixels).toBe(100);
  } finally {
    await ft.close();
    await daemon.close();
  }
});
