/**
 * The CLI contract, as a user runs it (`node bin/loopstream.js`, so the worker thread starts outside vitest too):
 * `replay FILE --finetune --pace max --summary-json` adds modelVersions, errorBeforeFinetune and errorAfterFinetune;
 * `models DIR` lists the versions with parent, data range and metrics.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { writeSimulatedScan } from '../../src/sim/write-scan-file.ts';
import type { ModelVersionRow } from '../../src/cli/commands/models.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { BIN, ROOT } from '../helpers/cli.ts';
import { pretrainedTestBundle, SHIFTED_SCAN } from './support/small-bundle.ts';

const run = promisify(execFile);
let work: string;
let bundle: string;
let file: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'loopstream-ftcli-'));
  bundle = await pretrainedTestBundle();
  file = join(work, 'shifted.h5');
  await writeSimulatedScan(simulateScan({ ...SHIFTED_SCAN, rows: 12, cols: 12 }), file);
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[]) => run(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 1 << 24 });

test('replay --finetune --pace max --summary-json, then models', async () => {
  const sets = ['finetune.everyPixels=64', 'finetune.maxRounds=1', 'finetune.epochs=3', 'finetune.learningRate=0.002', 'finetune.referenceMix=2', 'finetune.gate.maxReferenceWorsening=0.35', 'finetune.cpuShare=1', 'finetune.batch=32', 'batch.maxSize=16', 'alerts.enabled=false', 'model.threads=1'];
  const { stdout } = await cli(['replay', file, '--finetune', '--pace', 'max', '--summary-json', '--bundle', bundle, '--data', join(work, 'data'), '--log-level', 'warn', ...sets.flatMap((s) => ['--set', s])]);
  const summary = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
  console.log(`loopstream replay --finetune: ${JSON.stringify({ modelVersions: summary.modelVersions, errorBeforeFinetune: summary.errorBeforeFinetune, errorAfterFinetune: summary.errorAfterFinetune, finetuneRounds: summary.finetuneRounds })}`);
  expect(summary.encoded).toBe(144);
  expect(summary.modelVersions).toBeGreaterThanOrEqual(2);
  expect(summary.errorAfterFinetune).toBeLessThan(summary.errorBeforeFinetune);
  const accepted = summary.acceptedVersions as unknown as number[];
  expect(accepted.length).toBe(summary.modelVersions - 1);
  expect(summary.modelVersion).toBe(accepted[accepted.length - 1]);

  const root = join(work, 'data', 'models', bundle.split('/').pop()!);
  const listed = JSON.parse((await cli(['models', root, '--json'])).stdout) as ModelVersionRow[];
  expect(listed.map((r) => r.version)).toEqual([1, ...accepted]);
  expect(listed.map((r) => r.parent)).toEqual([null, 1, ...accepted.slice(0, -1)]);
  expect(listed[1]!.data).toMatch(/^shifted seq 0–\d+ \(\d+ px\)$/);
  expect(listed[1]!.heldOutMse.model!).toBeLessThan(listed[1]!.heldOutMse.parent!);

  // the same through the bundle folder (versions looked up under the configured data dir), as a table
  const text = (await cli(['models', bundle, '--set', `data.dir=${join(work, 'data')}`])).stdout;
  console.log(text);
  expect(text.split('\n')[0]).toMatch(/^version\s+parent\s+created\s+held-out MSE\s+reference MSE\s+epochs\s+train s\s+data$/);
  expect(text).toMatch(/\nv2\s+v1\s+/);
});
