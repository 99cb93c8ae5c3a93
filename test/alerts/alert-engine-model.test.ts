/**
 * Alerts through the real model: a small simulated scan is encoded by the shipped bundle (onnxruntime, CPU), batch
 * by batch through the daemon's pipeline (app/calibrate.ts encodeOffline), and the AlertEngine must find the planted region where the truth says it is.
 * Needs fixtures/models/edge-sim with its alerts-reference.json (`loopstream alerts-eval --calibrate`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/alert-engine.ts';
import { bboxIoU } from '../../src/alerts/evaluate.ts';
import { ALERTS_REFERENCE_FILE, loadAlertsReference } from '../../src/alerts/reference.ts';
import type { AlertsReference } from '../../src/alerts/types.ts';
import { DEFAULTS } from '../../src/config/schema.ts';
import { loadBundle, type Bundle } from '../../src/model/bundle.ts';
import { encodeOffline, memoryScan } from '../../src/app/calibrate.ts';
import { silentLogger } from '../../src/util/log.ts';
import { simulateScan } from '../../src/sim/index.ts';

const BUNDLE = 'fixtures/models/edge-sim';
const present = existsSync(join(BUNDLE, 'encoder.onnx')) && existsSync(join(BUNDLE, ALERTS_REFERENCE_FILE));

describe.skipIf(!present)('alerts through the shipped model', () => {
  let bundle: Bundle;
  let ref: AlertsReference;
  beforeAll(async () => {
    bundle = await loadBundle(BUNDLE);
    ref = await loadAlertsReference(BUNDLE);
  });

  async function alertsOf(sim: ReturnType<typeof simulateScan>) {
    const alerts = new AlertEngine({ scanId: sim.start.scanId, rows: sim.start.grid.rows, cols: sim.start.grid.cols, latentDim: bundle.latentDim }, ref, DEFAULTS.alerts, []);
    // through the daemon's pipeline, as a replay: the batches in the order it encoded them
    const [{ ctx, batches }] = await encodeOffline(DEFAULTS, silentLogger, BUNDLE, [memoryScan(sim)]);
    for (const idx of batches) alerts.onBatch(ctx.maps, idx);
    return alerts.finish(ctx.maps);
  }

  it('a planted noise-burst region is alerted over its bounding box', async () => {
    const sim = simulateScan({ rows: 32, cols: 32, seed: 77, anomalies: 1, anomalyKinds: ['noiseBurst'] });
    const [truth] = sim.truth.regions;
    const alerts = await alertsOf(sim);
    expect(alerts).toHaveLength(1);
    const box = alerts[0]!.bbox;
    // the alert lies within the region's box grown by one pixel, and covers most of it
    expect(box.rowMin).toBeGreaterThanOrEqual(truth!.rowMin - 1);
    expect(box.rowMax).toBeLessThanOrEqual(truth!.rowMax + 1);
    expect(box.colMin).toBeGreaterThanOrEqual(truth!.colMin - 1);
    expect(box.colMax).toBeLessThanOrEqual(truth!.colMax + 1);
    expect(bboxIoU(box, truth!)).toBeGreaterThan(0.6);
  }, 120_000);

  it('one region of each kind: each is alerted by its own alert, inside its box grown by a pixel, with no normal pixel', async () => {
    const sim = simulateScan({ rows: 40, cols: 40, seed: 79, anomalies: 4 });
    expect(sim.truth.regions.map((r) => r.kind).sort()).toEqual(['imprint', 'noSwitching', 'noiseBurst', 'pinched']);
    const alerts = await alertsOf(sim);
    expect(alerts).toHaveLength(4);
    const region = sim.truth.region!;
    for (const truth of sim.truth.regions) {
      // the alert with most pixels in this region (boxes of neighbouring regions may overlap)
      const inRegion = (x: (typeof alerts)[number]) => Array.from(x.pixels).filter((i) => region[i] === truth.id).length;
      const a = [...alerts].sort((p, q) => inRegion(q) - inRegion(p))[0];
      expect(inRegion(a!), `region ${truth.id} (${truth.kind})`).toBeGreaterThan(0.5 * truth.pixels);
      // every alert pixel is anomalous in the truth
      expect(Array.from(a!.pixels).every((i) => region[i] === truth.id)).toBe(true);
      expect(a!.bbox.rowMin).toBeGreaterThanOrEqual(truth.rowMin - 1);
      expect(a!.bbox.rowMax).toBeLessThanOrEqual(truth.rowMax + 1);
      expect(a!.bbox.colMin).toBeGreaterThanOrEqual(truth.colMin - 1);
      expect(a!.bbox.colMax).toBeLessThanOrEqual(truth.colMax + 1);
      expect(bboxIoU(a!.bbox, truth)).toBeGreaterThan(0.6);
    }
  }, 120_000);

  it('a clean scan raises no alert', async () => {
    const sim = simulateScan({ rows: 32, cols: 32, seed: 78 });
    expect(await alertsOf(sim)).toEqual([]);
  }, 120_000);
});
