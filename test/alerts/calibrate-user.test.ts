/**
 * Alerts on a user's data (issue 16 item 8): `alerts-eval --calibrate --from FILE…` calibrates a loop bundle on the
 * real PTO file and a sho bundle on a simulated file, and what it writes is what the daemon then accepts; a loop
 * bundle without --from gets a clear error instead of LS_PREPROCESS_LAYOUT; a collapsed encoder (constant μ) gives
 * floored, accepted scales instead of `latent.knn.scale.0: Too small`.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERTS_REFERENCE_FILE, loadAlertsReference, referenceFromEncodings, saveAlertsReference } from '../../src/alerts/index.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { writeSimulatedScan } from '../../src/sim/write-scan-file.ts';
import { runCli } from '../helpers/cli.ts';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ls-calib-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of a shipped bundle without its alerts reference. */
function bundleCopy(name: string): string {
  const dir = join(work, name);
  cpSync(join('fixtures/models', name), dir, { recursive: true });
  rmSync(join(dir, ALERTS_REFERENCE_FILE), { force: true });
  return dir;
}

describe('alerts-eval --calibrate on user scans', () => {
  it('loop bundle (pto) from the real PTO file: written, accepted, 2500 pixels', { timeout: 300_000 }, async () => {
    const dir = bundleCopy('pto');
    // without --from it calibrates on simulated sho scans: a loop bundle reads them too (canonical input), where it
    // used to fail with LS_PREPROCESS_LAYOUT
    const sim = runCli(['alerts-eval', '--calibrate', '--bundle', dir, '--log-level', 'warn']);
    expect(await sim.exited, sim.stderrText().slice(-1500)).toBe(0);
    expect(existsSync(join(dir, ALERTS_REFERENCE_FILE))).toBe(true);
    rmSync(join(dir, ALERTS_REFERENCE_FILE));

    const cli = runCli(['alerts-eval', '--calibrate', '--bundle', dir, '--from', 'fixtures/external/BEPS_PTO_50x50.h5', '--log-level', 'warn']);
    expect(await cli.exited).toBe(0);
    const out = cli.stdout.join('\n');
    expect(out).toContain(`wrote ${dir}/alerts-reference.json from 1 clean scan(s): BEPS_PTO_50x50: 2500 pixels`);
    expect(out).toContain('alerts: latentMethod'); // a loop bundle reads the simulated evaluation scans too (canonical input)
    const ref = await loadAlertsReference(dir);
    expect(ref.source.pixels).toBe(2500);
    expect(ref.source.modelSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sho bundle (edge-sim) from a simulated scan file: written, accepted, then evaluated', { timeout: 400_000 }, async () => {
    const dir = bundleCopy('edge-sim');
    const file = join(work, 'clean.h5');
    await writeSimulatedScan(simulateScan({ rows: 24, cols: 24, seed: 9101 }), file);
    const cli = runCli(['alerts-eval', '--calibrate', '--bundle', dir, '--from', file, '--seeds', '1', '--rows', '16', '--cols', '16', '--anomalies', '1', '--log-level', 'warn']);
    expect(await cli.exited).toBe(0);
    const out = cli.stdout.join('\n');
    expect(out).toContain('576 pixels');
    expect(out).toContain('alerts: latentMethod'); // the quality report ran on the reference it wrote
    expect((await loadAlertsReference(dir)).source.pixels).toBe(576);
  });
});

describe('degenerate latent scales', () => {
  it('a collapsed encoder (every μ equal) gives floored scales that the schema accepts', async () => {
    const n = 600;
    const dim = 4;
    const mu = new Float32Array(n * dim).fill(0.25); // constant: dead ReLUs before the heads
    const error = Float32Array.from({ length: n }, (_, i) => 0.01 + 0.001 * (i % 7));
    const ref = referenceFromEncodings({ error, mu, dim, description: 'collapsed' });
    expect(ref.latent.knn!.flooredScales).toEqual([0, 1, 2, 3]);
    expect(Math.min(...ref.latent.knn!.scale)).toBeGreaterThan(0);
    const dir = mkdtempSync(join(work, 'collapsed-'));
    await saveAlertsReference(dir, ref);
    const back = await loadAlertsReference(dir);
    expect(back.latent.knn!.scale.every((s) => s > 0)).toBe(true);

    // one constant channel among varying ones: floored relative to the others, only that one listed
    const mu2 = Float32Array.from({ length: n * dim }, (_, k) => (k % dim === 2 ? 1 : Math.sin(k)));
    const ref2 = referenceFromEncodings({ error, mu: mu2, dim, description: 'one constant' });
    expect(ref2.latent.knn!.flooredScales ?? []).toEqual([]); // shrinkage toward the mean variance keeps it > 0
    expect(ref2.latent.knn!.scale[2]).toBeGreaterThan(0.05);
  });
});
