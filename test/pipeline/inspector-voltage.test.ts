/**
 * The pixel inspector (PipelineHub.pixel) shows a scan on its OWN voltage axis and in its own units, read back
 * through the scan's frozen input state: a ±10 V sho scan on a 372 kHz cantilever through the default bundle
 * (trained at ±16 V, 1.3 MHz) shows voltages from +10 V to −10 V and resonance values near 372 kHz.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { Config } from '../../src/config/index.ts';
import { Daemon } from '../../src/pipeline/daemon.ts';
import { PipelineHub } from '../../src/app/hub.ts';
import { replayFile } from '../../src/sources/hdf5/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { writeShoScanAt } from '../helpers/real-scans.ts';

test('inspector voltages and units are the scan\'s own (±10 V, ~372 kHz)', { timeout: 180_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'ls-inspect-'));
  const file = join(work, 'sho372.h5');
  const start = await writeShoScanAt(file, { rows: 6, cols: 6, seed: 3, f0Hz: 372e3, q: 180, vmax: 10 });
  const config = Config.parse({ model: { threads: 1 }, data: { dir: join(work, 'data') }, alerts: { enabled: false } });
  const daemon = await Daemon.create(config, silentLogger, { source: 'replay', record: false });
  try {
    await daemon.run(replayFile(file, { pace: { kind: 'max' } }));
    const hub = new PipelineHub(daemon);
    const px = (await hub.pixel(start.scanId, 2, 3))!;
    expect(px.voltage[0]).toBe(10);
    expect(Math.min(...px.voltage)).toBe(-10);
    expect(px.voltage.length).toBe(96);
    const res = px.channels.find((c) => c.name === 'resonance')!;
    for (const v of res.input) expect(Math.abs(v - 372)).toBeLessThan(10);
    // the reconstruction comes back in the same units
    const mean = res.reconstruction!.reduce((s, v) => s + v, 0) / res.reconstruction!.length;
    expect(Math.abs(mean - 372)).toBeLessThan(10);
  } finally {
    await daemon.close();
  }
});
