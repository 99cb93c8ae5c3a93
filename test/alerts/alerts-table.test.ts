import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertEngine } from '../../src/alerts/alert-engine.ts';
import { alertsToTable, REASON_CODE } from '../../src/alerts/alerts-table.ts';
import { ALERTS_REFERENCE_FILE, loadAlertsReference, modelSha256, saveAlertsReference } from '../../src/alerts/reference.ts';
import { AlertsError } from '../../src/alerts/errors.ts';
import { alertsConfig, rasterBatches, syntheticMaps, syntheticReference } from './synthetic.ts';

describe('alertsToTable', () => {
  it('flattens alerts into typed columns, CSR pixels and a pixel → alert-id map', () => {
    const maps = syntheticMaps({
      rows: 20,
      cols: 20,
      seed: 31,
      planted: [
        { rowMin: 1, rowMax: 3, colMin: 1, colMax: 3, errorFactor: 20 },
        { rowMin: 10, rowMax: 12, colMin: 14, colMax: 17, muShift: 10 },
      ],
    });
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 0 }), []);
    for (const b of rasterBatches(400, 40)) engine.onBatch(maps, b);
    const alerts = engine.finish(maps);
    const t = alertsToTable(alerts, 400);
    expect(Array.from(t.id)).toEqual([1, 2]);
    expect([t.rowMin[0], t.rowMax[0], t.colMin[0], t.colMax[0]]).toEqual([1, 3, 1, 3]);
    expect([t.rowMin[1], t.rowMax[1], t.colMin[1], t.colMax[1]]).toEqual([10, 12, 14, 17]);
    expect(Array.from(t.area)).toEqual([9, 12]);
    expect(Array.from(t.reason)).toEqual([REASON_CODE.error, REASON_CODE.latent]);
    expect(Array.from(t.closed)).toEqual([1, 1]);
    expect(Array.from(t.pixelOffset)).toEqual([0, 9, 21]);
    // the pixel map is the truth map relabelled
    for (let i = 0; i < 400; i++) expect(t.pixelAlert[i]).toBe(maps.truth[i]);
    expect(Array.from(t.pixelIndex.subarray(0, 9))).toEqual([21, 22, 23, 41, 42, 43, 61, 62, 63]);
  });

  it('refuses a pixel outside the grid', () => {
    const a = { ...syntheticAlert(), pixels: Uint32Array.from([5]) };
    expect(() => alertsToTable([a], 4)).toThrow('alert 1 has pixel 5; the scan has 4 pixels');
  });
});

function syntheticAlert() {
  return {
    id: 1, scanId: 's', state: 'closed' as const, bbox: { rowMin: 0, rowMax: 0, colMin: 0, colMax: 0 }, area: 1,
    pixels: new Uint32Array(1), peakScore: 1, meanScore: 1, reason: 'error' as const, errorPixels: 1, latentPixels: 0,
    openedAt: 0, updatedAt: 0, merged: [], sequence: 1,
  };
}

describe('alerts-reference.json', () => {
  it('round-trips through the bundle folder; missing and malformed files give coded errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-ref-'));
    try {
      await expect(loadAlertsReference(dir)).rejects.toMatchObject({ name: 'AlertsError', code: 'LS_ALERTS_REFERENCE_MISSING' });
      const ref = syntheticReference(3);
      await saveAlertsReference(dir, ref);
      const back = await loadAlertsReference(dir);
      // stored to 7 significant digits (float32 precision)
      expect(back.error.logMedian).toBeCloseTo(ref.error.logMedian, 5);
      expect(back.error.logMedian).not.toBe(ref.error.logMedian);
      expect(back.latent.logD2Median).toBeCloseTo(ref.latent.logD2Median, 5);
      expect(back.latent.cov).toEqual(ref.latent.cov);
      expect({ ...back, error: undefined, latent: undefined }).toEqual({ ...ref, error: undefined, latent: undefined });
      writeFileSync(join(dir, ALERTS_REFERENCE_FILE), JSON.stringify({ ...ref, latent: { ...ref.latent, cov: [1, 2] } }));
      const err = await loadAlertsReference(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AlertsError);
      expect((err as AlertsError).code).toBe('LS_ALERTS_REFERENCE_INVALID');
      expect((err as AlertsError).message).toBe(
        `${join(dir, ALERTS_REFERENCE_FILE)}: latent: latent.mean must have dim values and latent.cov dim² values; expected the AlertsReference format 1 (docs/alerts.md)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a reference computed for another model is refused as stale', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-ref-'));
    try {
      writeFileSync(join(dir, 'encoder.onnx'), 'encoder v1');
      writeFileSync(join(dir, 'decoder.onnx'), 'decoder v1');
      const sha = (await modelSha256(dir))!;
      // sha256("encoder v1decoder v1"), as `printf 'encoder v1decoder v1' | sha256sum` gives it
      expect(sha).toBe('070ad8cd57cd07357852ddfa8046a051a52f8ef69780e88c9388bc66883df621');
      const ref = syntheticReference(3);
      ref.source.modelSha256 = sha;
      await saveAlertsReference(dir, ref);
      expect((await loadAlertsReference(dir)).source.modelSha256).toBe(sha);
      writeFileSync(join(dir, 'encoder.onnx'), 'encoder v2');
      await expect(loadAlertsReference(dir)).rejects.toMatchObject({ code: 'LS_ALERTS_REFERENCE_STALE' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
