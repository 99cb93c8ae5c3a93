/**
 * The pipeline's fan-out streams (src/pipeline/fan-out.ts) on the real daemon (the shipped edge-sim bundle,
 * onnxruntime): what their subscribers rely on. A subscriber of `encoded$` sees each batch right after its write and
 * before the next one; `ending$` comes before the final results file, `scans$` 'close' after it; a subscriber that
 * throws is logged and the others and ingest go on; a wiring that unsubscribes is told nothing more; after the
 * daemon closes, every stream has completed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capturingLog } from '../helpers/capturing-log.ts';
import { from, type Observable } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Config } from '../../src/config/schema.ts';
import { PipelineHub } from '../../src/app/hub.ts';
import { wireMetrics } from '../../src/app/wire-metrics.ts';
import { Daemon } from '../../src/pipeline/daemon.ts';
import { guarded } from '../../src/pipeline/fan-out.ts';
import type { ScanEvent } from '../../src/protocol/events.ts';
import { createDashboardMetrics } from '../../src/server/metrics.ts';
import { simulateScan } from '../../src/sim/index.ts';

const work = mkdtempSync(join(tmpdir(), 'ls-streams-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A whole simulated scan as the events a source would emit. */
function scanEvents(scanId: string, rows: number, cols: number): Observable<ScanEvent> {
  const sim = simulateScan({ rows, cols, seed: 7, scanId });
  const pixels = [...sim.pixels()];
  return from<ScanEvent[]>([{ type: 'start', header: sim.start }, ...pixels, { type: 'stop', header: { type: 'stop', scanId, status: 'completed', pixelsSent: pixels.length, lastSeq: pixels.length - 1 } }]);
}

async function newDaemon() {
  const { log, lines } = capturingLog();
  // small batches, so a scan is many writes; no periodic flush, so only the final write makes the results file
  const config = Config.parse({ data: { dir: mkdtempSync(join(work, 'data-')), record: false, resultsFlushMs: 3_600_000 }, model: { bundle: 'fixtures/models/edge-sim', threads: 1 }, baselines: { enabled: false }, batch: { maxSize: 32 } });
  const daemon = await Daemon.create(config, log, { source: 'replay', record: false });
  return { daemon, log, lines };
}

describe('pipeline streams', () => {
  it('deliver in order: each batch right after its write, ending$ before the results file, scans$ close after it', { timeout: 120_000 }, async () => {
    const { daemon, log, lines } = await newDaemon();
    try {
      const journal: string[] = [];
      let seen = 0;
      const mapsAtBatch: Array<[number, number]> = [];
      // subscribed first and throwing every time: logged, and nobody after it misses a value
      daemon.encoder.encoded$.subscribe(
        guarded(log, 'a broken subscriber', () => {
          throw new Error('boom');
        }),
      );
      daemon.registry.scans$.subscribe(({ ctx, what }) => journal.push(`${what} ${ctx.start.scanId}`));
      daemon.encoder.encoded$.subscribe(({ ctx, index }) => {
        seen += index.length;
        // the maps hold exactly the batches seen so far: this one is written, the next one is not
        mapsAtBatch.push([ctx.maps.encoded, seen]);
        if (journal.at(-1) !== 'encoded') journal.push('encoded');
      });
      daemon.registry.ending$.subscribe((ctx) => journal.push(`ending, results file ${existsSync(ctx.resultsPath) ? 'written' : 'not written'}, ood ${ctx.ood ? 'assessed' : 'not assessed'}`));
      daemon.events$.subscribe((ev) => {
        if (ev.type !== 'batch') journal.push(ev.type);
      });

      const run = await daemon.run(scanEvents('s1', 16, 16));
      const ctx = run.scans[0]!;
      expect(ctx.counters.encoded).toBe(256);
      expect(seen).toBe(256);
      expect(mapsAtBatch.length).toBeGreaterThan(1);
      for (const [maps, cumulative] of mapsAtBatch) expect(maps).toBe(cumulative);
      // the fit monitor (subscribed in Daemon.create, before the test) has assessed the scan when ending$ reaches us
      expect(journal).toEqual(['open s1', 'scan:start', 'encoded', 'ending, results file not written, ood assessed', 'close s1', 'scan:end']);
      expect(existsSync(ctx.resultsPath)).toBe(true);
      const errors = lines.filter((l) => l.subscriber === 'a broken subscriber');
      expect(errors.length).toBe(mapsAtBatch.length);
      expect(errors[0]).toMatchObject({ level: 50, err: 'boom' });
    } finally {
      await daemon.close();
    }
  });

  it('a wiring that unsubscribes is told nothing more; after close every stream has completed', { timeout: 120_000 }, async () => {
    const { daemon } = await newDaemon();
    const hub = new PipelineHub(daemon);
    const metrics = createDashboardMetrics({ defaultMetrics: false });
    const ingested = async () => (await metrics.ingestPixels.get()).values[0]?.value ?? 0;
    const off = wireMetrics(daemon, metrics);
    await daemon.run(scanEvents('m1', 10, 10));
    expect(await ingested()).toBe(100);
    off();
    await daemon.run(scanEvents('m2', 10, 10));
    expect(await ingested()).toBe(100);
    expect(daemon.registry.get('m2')!.counters.encoded).toBe(100);

    const completed: string[] = [];
    const called: string[] = [];
    const watch = (name: string, s: Observable<unknown>) => s.subscribe({ next: () => called.push(name), complete: () => completed.push(name) });
    const subs = [
      watch('events$', daemon.events$),
      watch('encoded$', daemon.encoder.encoded$),
      watch('encoder refused$', daemon.encoder.refused$),
      watch('scans$', daemon.registry.scans$),
      watch('ending$', daemon.registry.ending$),
      watch('recordingFailed$', daemon.registry.recordingFailed$),
      watch('registry refused$', daemon.registry.refused$),
      watch('swapped$', daemon.slot.swapped$),
      watch('verdicts$', daemon.fit.verdicts$),
      watch('hub events$', hub.events$),
    ];
    await daemon.close();
    expect(completed.sort()).toEqual(['encoded$', 'encoder refused$', 'ending$', 'events$', 'hub events$', 'recordingFailed$', 'registry refused$', 'scans$', 'swapped$', 'verdicts$']);
    expect(subs.every((s) => s.closed)).toBe(true);
    // a late swap (fine-tuning finishing a round during shutdown) reaches nobody
    await daemon.slot.swap(daemon.slot.engine, daemon.slot.bundle);
    daemon.registry.forget('m1');
    hub.setAlertsOff('after close');
    expect(called).toEqual([]);
  });
});
