/**
 * Issue 16: with the DEFAULT bundle and no other flag, `loopstream replay` runs every pixel of scans unlike its
 * training data — the real PbTiO3 loop file, a simulated loop file with 64 steps at ±8 V, a pyNSID-layout file
 * written by h5py, and a sho scan on a 372 kHz cantilever at ±10 V — and writes each scan's frozen input state
 * (θ, normalisation, resampling grid) to its results file, read back here by h5py.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIM_ROTATION_RAD } from '../../src/sim/index.ts';
import { python, runCli } from '../helpers/cli.ts';
import { writeLoopScan, writePyNsidFile, writeShoScanAt } from '../helpers/real-scans.ts';

interface Results {
  state: {
    thetaRad: number | null;
    normalisation: string;
    grid: { sourceSteps: number; vmax: number; rollSteps: number; T: number; sourcePhase: number[] };
    channels: Array<{ name: string; present: boolean; centre: number; scale: number }>;
    fittedOnPixels: number;
  };
  encoded: number;
  finiteHeights: number;
  startHeader: { pixelSize?: { x: number; y: number; unit: string } };
  coerciveUp: number[][];
  coerciveDown: number[][];
}

async function replay(file: string, dir: string): Promise<{ summary: Record<string, unknown>; results: Results }> {
  const cli = runCli(['replay', file, '--pace', 'max', '--summary-json', '--data', join(dir, 'data')]);
  const code = await cli.exited;
  expect(code, cli.stderrText().slice(-2000)).toBe(0);
  const summary = JSON.parse(cli.stdout[cli.stdout.length - 1]!) as Record<string, unknown>;
  console.log(`${file}: ${summary.encoded}/${summary.pixels} encoded, meanError ${Number(summary.meanError).toFixed(4)}`);
  const results = await python<Results>(
    `import h5py, json, sys, numpy as np
f = h5py.File(sys.argv[1], 'r')
print(json.dumps({'state': json.loads(f.attrs['input_state_json']), 'encoded': int(f.attrs['pixels_encoded']),
  'finiteHeights': int(np.isfinite(f['loop_height'][()]).sum()), 'startHeader': json.loads(f.attrs['start_header_json']),
  'coerciveUp': np.nan_to_num(f['coercive_up'][()], nan=99).tolist(), 'coerciveDown': np.nan_to_num(f['coercive_down'][()], nan=99).tolist()}))`,
    [String(summary.results)],
  );
  return { summary, results };
}

describe('real scans through the default bundle', () => {
  it('replays the PbTiO3 loop file (64 steps, ±8.5 V, no resonance): every pixel encoded, state in the results', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-real-'));
    const { summary, results } = await replay('fixtures/external/BEPS_PTO_50x50.h5', dir);
    expect(summary).toMatchObject({ pixels: 2500, encoded: 2500, rejected: 0, layout: 'nsid' });
    expect(Number.isFinite(summary.meanError)).toBe(true);
    expect(results.state.thetaRad).toBeNull(); // loop data pass through, no projection
    expect(results.state.grid).toMatchObject({ sourceSteps: 64, vmax: 8.5, rollSteps: 16, T: 96 });
    // the default bundle reads resonance too; this file has none: the channel is filled, and said so
    expect(results.state.channels.map((c) => [c.name, c.present])).toEqual([['piezoresponse', true], ['resonance', false]]);
    expect(results.state.fittedOnPixels).toBe(64);
    expect(results.finiteHeights).toBe(2500);
  });

  it('replays a simulated loop file with 64 steps at ±8 V', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-real-'));
    const file = join(dir, 'loop64.h5');
    await writeLoopScan(file, { rows: 16, cols: 16, seed: 5, steps: 64, vmax: 8 });
    const { summary, results } = await replay(file, dir);
    expect(summary).toMatchObject({ pixels: 256, encoded: 256, rejected: 0 });
    expect(results.state.grid).toMatchObject({ sourceSteps: 64, vmax: 8, rollSteps: 16 });
    expect(results.state.channels.every((c) => c.present)).toBe(true);
    // resonance arrives in kHz: its per-scan centre is the simulator's ~1.32 MHz expressed in kHz
    expect(results.state.channels[1]!.centre).toBeGreaterThan(1300);
    expect(results.state.channels[1]!.centre).toBeLessThan(1330);
  });

  it('replays a pyNSID-layout file (/Measurement_000/Channel_000/<name>/<name>) and reads its pixel size', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-real-'));
    const file = join(dir, 'pynsid.h5');
    await writePyNsidFile(file, { nx: 8, ny: 6, steps: 48, vmax: 6, pitchUm: 0.05 });
    const { summary, results } = await replay(file, dir);
    // x is the first stored dimension: 8 columns, 6 rows
    expect(summary).toMatchObject({ pixels: 48, encoded: 48, rejected: 0, layout: 'nsid', rows: 6, cols: 8 });
    expect(results.state.grid).toMatchObject({ sourceSteps: 48, vmax: 6, rollSteps: 12 });
    expect(results.state.fittedOnPixels).toBe(48); // smaller than the warm-up: fitted on the whole scan at its stop
    expect(results.startHeader.pixelSize).toEqual({ x: expect.closeTo(0.05, 9), y: expect.closeTo(0.05, 9), unit: 'um' });
    // two domains written with coercive biases ±1.2 V (columns 0–3) and ±3 V (columns 4–7): the coercive maps show them
    for (const row of results.coerciveUp) row.forEach((v, col) => expect(v).toBeCloseTo(col < 4 ? 1.2 : 3, 0));
    for (const row of results.coerciveDown) row.forEach((v, col) => expect(v).toBeCloseTo(col < 4 ? -1.2 : -3, 0));
  });

  it('replays a sho scan at 372 kHz / ±10 V, estimating θ for this scan', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-real-'));
    const file = join(dir, 'sho372.h5');
    await writeShoScanAt(file, { rows: 20, cols: 20, seed: 8, f0Hz: 372e3, q: 180, vmax: 10 });
    const { summary, results } = await replay(file, dir);
    expect(summary).toMatchObject({ pixels: 400, encoded: 400, rejected: 0 });
    // the simulator rotates the response by SIM_ROTATION_RAD: θ is that angle up to the loop-orientation flip (π)
    expect(Math.abs(Math.sin(results.state.thetaRad! - SIM_ROTATION_RAD))).toBeLessThan(0.05);
    expect(results.state.grid).toMatchObject({ sourceSteps: 96, vmax: 10, rollSteps: 24 });
    // resonance normalised per scan: its centre is this cantilever's ~372 kHz, not the model's 1.3 MHz
    expect(results.state.channels[1]!.centre).toBeGreaterThan(360);
    expect(results.state.channels[1]!.centre).toBeLessThan(380);
    expect(Number(summary.meanError)).toBeLessThan(5);
  });
});

describe('a bundle trained on the canonical input', () => {
  it('trains from files of different layouts (`train --canonical`) and its bundle reads the PTO file', { timeout: 400_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-real-'));
    const loopFile = join(dir, 'loop64.h5');
    const shoFile = join(dir, 'sho372.h5');
    await writeLoopScan(loopFile, { rows: 6, cols: 6, seed: 2, steps: 64, vmax: 8 });
    await writeShoScanAt(shoFile, { rows: 6, cols: 6, seed: 4, f0Hz: 372e3, q: 180, vmax: 10 });
    const out = join(dir, 'bundle');
    const train = runCli(['train', loopFile, shoFile, '--canonical', '32,resonance:pixel', '--out', out, '--epochs', '1', '--batch', '16', '--no-progress']);
    expect(await train.exited, train.stderrText().slice(-2000)).toBe(0);
    const input = await python<{ normalisation: string; T: number; channels: string[]; voltage0: number }>(
      `import json, sys
d = json.load(open(sys.argv[1]))['input']
print(json.dumps({'normalisation': d['normalisation'], 'T': d['T'], 'channels': d['channels'], 'voltage0': d['voltage'][0]}))`,
      [join(out, 'preprocess.json')],
    );
    expect(input).toEqual({ normalisation: 'pixel', T: 32, channels: ['piezoresponse', 'resonance'], voltage0: 1 });
    const cli = runCli(['replay', 'fixtures/external/BEPS_PTO_50x50.h5', '--pace', 'max', '--summary-json', '--data', join(dir, 'data'), '--bundle', out]);
    expect(await cli.exited, cli.stderrText().slice(-2000)).toBe(0);
    expect(JSON.parse(cli.stdout[cli.stdout.length - 1]!)).toMatchObject({ pixels: 2500, encoded: 2500, rejected: 0 });
  });
});
