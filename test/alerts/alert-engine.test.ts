import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/alert-engine.ts';
import type { AlertDelivery, AlertEvent, AlertSink } from '../../src/alerts/types.ts';
import { referenceFromEncodings } from '../../src/alerts/scores.ts';
import { alertsConfig, rasterBatches, syntheticMaps, syntheticReference } from './synthetic.ts';

/** A sink that records every event. */
function recorder(): AlertSink & { events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  return { name: 'recorder', events, deliver: ({ event }: AlertDelivery) => void events.push(event) };
}

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function run(engine: AlertEngine, maps: { error: Float32Array; mu: Float32Array }, batches: Uint32Array[], between?: (k: number) => void) {
  batches.forEach((b, k) => {
    engine.onBatch(maps, b);
    between?.(k);
  });
  return engine.finish(maps);
}

describe('AlertEngine on synthetic error maps', () => {
  it('alerts a planted region with its exact bounding box, and nothing else', () => {
    const maps = syntheticMaps({ rows: 40, cols: 50, seed: 1, planted: [{ rowMin: 12, rowMax: 17, colMin: 30, colMax: 38, errorFactor: 20 }] });
    const sink = recorder();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig(), [sink], { now: clock().now });
    const alerts = run(engine, maps, rasterBatches(40 * 50, 64));
    expect(alerts).toHaveLength(1);
    const [a] = alerts;
    expect(a!.bbox).toEqual({ rowMin: 12, rowMax: 17, colMin: 30, colMax: 38 });
    expect(a!.area).toBe(6 * 9);
    expect(a!.state).toBe('closed');
    expect(a!.reason).toBe('error');
    expect(a!.peakScore).toBeGreaterThanOrEqual(1);
    expect(Array.from(a!.pixels)).toEqual(Array.from(maps.truth.keys()).filter((i) => maps.truth[i] === 1));
    // the sink saw it open, grow, close — always the same id
    expect(sink.events[0]!.type).toBe('open');
    expect(sink.events.at(-1)!.type).toBe('closed');
    expect(new Set(sink.events.map((e) => e.alert.id))).toEqual(new Set([1]));
  });

  it('a clean scan raises no alert (10 seeds, 60×60)', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const maps = syntheticMaps({ rows: 60, cols: 60, seed });
      const engine = new AlertEngine(maps, syntheticReference(), alertsConfig(), []);
      expect(run(engine, maps, rasterBatches(3600, 256))).toEqual([]);
      expect(engine.stats.pixelsScored).toBe(3600);
    }
  });

  it('a scan that sits wholly above the training errors raises no alert (the scan median/MAD absorbs it)', () => {
    const maps = syntheticMaps({ rows: 30, cols: 30, seed: 4 });
    for (let i = 0; i < maps.error.length; i++) maps.error[i]! *= 8; // ~7σ above the reference everywhere
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig(), []);
    expect(run(engine, maps, rasterBatches(900, 100))).toEqual([]);
  });

  it('a region found only by the latent distance is alerted with reason "latent"', () => {
    const maps = syntheticMaps({ rows: 30, cols: 30, seed: 5, planted: [{ rowMin: 3, rowMax: 8, colMin: 3, colMax: 8, muShift: 6 }] });
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig(), []);
    const alerts = run(engine, maps, rasterBatches(900, 50));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.reason).toBe('latent');
    expect(alerts[0]!.bbox).toEqual({ rowMin: 3, rowMax: 8, colMin: 3, colMax: 8 });
  });

  it('pixels before the warm-up wait and are scored later; none are lost', () => {
    const maps = syntheticMaps({ rows: 20, cols: 20, seed: 6, planted: [{ rowMin: 0, rowMax: 3, colMin: 0, colMax: 3, errorFactor: 20 }] });
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 300 }), []);
    const batches = rasterBatches(400, 100);
    engine.onBatch(maps, batches[0]!);
    expect(engine.stats.pixelsWaiting).toBe(100);
    expect(engine.alerts()).toEqual([]);
    const alerts = run(engine, maps, batches.slice(1));
    expect(engine.stats.pixelsScored).toBe(400);
    expect(alerts.map((a) => a.bbox)).toEqual([{ rowMin: 0, rowMax: 3, colMin: 0, colMax: 3 }]);
  });

  it('two alerts that grow together merge under the older id; the younger is closed with mergedInto', () => {
    // two 4×4 blocks joined later by a bridge row; pixels arrive block A, block B, then the bridge
    const maps = syntheticMaps({
      rows: 20,
      cols: 20,
      seed: 7,
      planted: [
        { rowMin: 2, rowMax: 5, colMin: 2, colMax: 5, errorFactor: 20 },
        { rowMin: 2, rowMax: 5, colMin: 12, colMax: 15, errorFactor: 20 },
        { rowMin: 4, rowMax: 4, colMin: 6, colMax: 11, errorFactor: 20 },
      ],
    });
    const idx = (k: number) => Uint32Array.from(Array.from(maps.truth.keys()).filter((i) => maps.truth[i] === k));
    const background = Uint32Array.from(Array.from(maps.truth.keys()).filter((i) => maps.truth[i] === 0));
    const sink = recorder();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ cooldownMs: 0 }), [sink]);
    engine.onBatch(maps, background);
    engine.onBatch(maps, idx(1));
    engine.onBatch(maps, idx(2));
    expect(engine.alerts().map((a) => a.id)).toEqual([1, 2]);
    engine.onBatch(maps, idx(3));
    const closed2 = sink.events.find((e) => e.alert.id === 2 && e.type === 'closed');
    expect(closed2?.alert.mergedInto).toBe(1);
    const alerts = engine.finish(maps);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.id).toBe(1);
    expect(alerts[0]!.merged).toEqual([2]);
    expect(alerts[0]!.bbox).toEqual({ rowMin: 2, rowMax: 5, colMin: 2, colMax: 15 });
    expect(alerts[0]!.area).toBe(16 + 16 + 6);
    expect(engine.alerts({ includeMerged: true }).map((a) => [a.id, a.mergedInto])).toEqual([
      [1, undefined],
      [2, 1],
    ]);
  });

  it('cooldown: growth within cooldownMs is sent as one update once the cooldown has passed', () => {
    const maps = syntheticMaps({ rows: 40, cols: 30, seed: 8, planted: [{ rowMin: 5, rowMax: 20, colMin: 5, colMax: 12, errorFactor: 20 }] });
    const sink = recorder();
    const c = clock();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ cooldownMs: 1000 }), [sink], { now: c.now });
    const batches = rasterBatches(1200, 30); // one row per batch: the region grows on 16 batches
    for (const b of batches.slice(0, 12)) engine.onBatch(maps, b); // rows 0..11, clock still
    expect(sink.events.map((e) => e.type)).toEqual(['open']);
    c.advance(999);
    engine.onBatch(maps, batches[12]!);
    expect(sink.events.map((e) => e.type)).toEqual(['open']);
    c.advance(1);
    engine.onBatch(maps, batches[13]!);
    expect(sink.events.map((e) => e.type)).toEqual(['open', 'updated']);
    expect(sink.events[1]!.alert.bbox).toEqual({ rowMin: 5, rowMax: 13, colMin: 5, colMax: 12 });
    for (const b of batches.slice(14)) engine.onBatch(maps, b);
    engine.finish(maps);
    // finish sends the pending growth, then closes
    expect(sink.events.map((e) => e.type)).toEqual(['open', 'updated', 'updated', 'closed']);
    expect(sink.events[2]!.alert.bbox).toEqual({ rowMin: 5, rowMax: 20, colMin: 5, colMax: 12 });
    expect(sink.events[2]!.alert.area).toBe(16 * 8);
    expect(sink.events.map((e) => e.alert.sequence)).toEqual([1, 2, 3, 4]);
  });

  it('a re-encoded region whose error dropped is closed, and its pixels leave', () => {
    const maps = syntheticMaps({ rows: 20, cols: 20, seed: 9, planted: [{ rowMin: 5, rowMax: 9, colMin: 5, colMax: 9, errorFactor: 20 }] });
    const sink = recorder();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ cooldownMs: 0 }), [sink]);
    for (const b of rasterBatches(400, 40)) engine.onBatch(maps, b);
    expect(engine.alerts()).toHaveLength(1);
    // the fine-tuned model reconstructs the region well: same pixels, normal errors
    const region = Uint32Array.from(Array.from(maps.truth.keys()).filter((i) => maps.truth[i] === 1));
    for (const i of region) maps.error[i] = 0.01;
    engine.onBatch(maps, region);
    expect(sink.events.at(-1)!.type).toBe('closed');
    expect(engine.finish(maps)[0]!.state).toBe('closed');
    expect(Array.from(engine.flags).every((f) => f === 0)).toBe(true);
  });

  it('a sink that throws or rejects does not stop the others', () => {
    const maps = syntheticMaps({ rows: 20, cols: 20, seed: 10, planted: [{ rowMin: 1, rowMax: 4, colMin: 1, colMax: 4, errorFactor: 20 }] });
    const throwing: AlertSink = { name: 'throws', deliver: () => { throw new Error('boom'); } };
    const rejecting: AlertSink = { name: 'rejects', deliver: () => Promise.reject(new Error('later boom')) };
    const sink = recorder();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 0 }), [throwing, rejecting, sink]);
    run(engine, maps, rasterBatches(400, 50));
    expect(sink.events.map((e) => e.type)).toEqual(['open', 'updated', 'closed']);
    expect(engine.stats.sinkFailures).toBeGreaterThanOrEqual(3);
  });

  it('NaN errors (pixels not encoded) are skipped; enabled=false does nothing', () => {
    const maps = syntheticMaps({ rows: 10, cols: 10, seed: 11, planted: [{ rowMin: 0, rowMax: 9, colMin: 0, colMax: 9, errorFactor: 50 }] });
    maps.error.fill(Number.NaN);
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 0 }), []);
    expect(run(engine, maps, rasterBatches(100, 10))).toEqual([]);
    expect(engine.stats.pixelsScored).toBe(0);
    const off = new AlertEngine(maps, syntheticReference(), alertsConfig({ enabled: false }), []);
    expect(run(off, maps, rasterBatches(100, 10))).toEqual([]);
  });

  it.each(['knn', 'lof'] as const)('latentMethod %s: a calibrated reference finds a latent-shifted region and stays quiet on a clean scan', (latentMethod) => {
    const train = syntheticMaps({ rows: 80, cols: 80, seed: 40 });
    const ref = referenceFromEncodings({ error: train.error, mu: train.mu, dim: train.latentDim, description: 'synthetic clean' });
    const cfg = alertsConfig({ latentMethod, latentThreshold: 6 });
    const maps = syntheticMaps({ rows: 30, cols: 30, seed: 41, planted: [{ rowMin: 10, rowMax: 14, colMin: 20, colMax: 25, muShift: 5 }] });
    const engine = new AlertEngine(maps, ref, cfg, []);
    const alerts = run(engine, maps, rasterBatches(900, 64));
    expect(alerts.map((a) => [a.bbox, a.reason])).toEqual([[{ rowMin: 10, rowMax: 14, colMin: 20, colMax: 25 }, 'latent']]);
    const clean = syntheticMaps({ rows: 30, cols: 30, seed: 42 });
    expect(run(new AlertEngine(clean, ref, cfg, []), clean, rasterBatches(900, 64))).toEqual([]);
  });
});
