/**
 * `loopstream replay --finetune` on a scan smaller than finetune.everyPixels (issue 16 item 7): at least one round
 * runs once the scan gave ≥ finetune.minPixels pixels, rounds go on while the gate accepts them, and a scan below
 * minPixels says why none ran instead of running none silently. Through the real CLI (worker thread and all).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { writeSimulatedScan } from '../../src/sim/write-scan-file.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { BIN, ROOT } from '../helpers/cli.ts';
import { pretrainedTestBundle, SHIFTED_SCAN } from './support/small-bundle.ts';

const run = promisify(execFile);
let work: string;
let bundle: string;
let file: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'loopstream-ftsmall-'));
  bundle = await pretrainedTestBundle();
  file = join(work, 'small.h5');
  await writeSimulatedScan(simulateScan({ ...SHIFTED_SCAN, rows: 10, cols: 10, scanId: 'small' }), file);
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[]) => run(process.execPath, [BIN, ...args], { cwd: ROOT, maxBuffer: 1 << 24 });
const common = ['finetune.epochs=3', 'finetune.learningRate=0.002', 'finetune.gate.maxReferenceWorsening=0.35', 'finetune.cpuShare=1', 'finetune.batch=32', 'batch.maxSize=16', 'alerts.enabled=false', 'model.threads=1', 'finetune.maxRounds=3'];

test('a 100-pixel scan (everyPixels 2000, minPixels 64) gets rounds until the gate rejects one (or maxRounds)', { timeout: 900_000 }, async () => {
  const { stdout } = await cli(['replay', file, '--finetune', '--pace', 'max', '--summary-json', '--bundle', bundle, '--data', join(work, 'a'), '--log-level', 'warn', ...[...common, 'finetune.minPixels=64'].flatMap((s) => ['--set', s])]);
  const s = JSON.parse(stdout.trim().split('\n').pop()!) as { encoded: number; finetuneRounds: number; acceptedVersions: number[]; errorBeforeFinetune: number; errorAfterFinetune: number };
  console.log(`small scan --finetune: ${JSON.stringify({ rounds: s.finetuneRounds, accepted: s.acceptedVersions, before: s.errorBeforeFinetune, after: s.errorAfterFinetune })}`);
  expect(s.encoded).toBe(100);
  expect(s.finetuneRounds).toBeGreaterThanOrEqual(1);
  // the chain stops at the first rejected round, or at finetune.maxRounds
  if (s.finetuneRounds < 3) expect(s.acceptedVersions.length).toBe(s.finetuneRounds - 1);
  if (s.acceptedVersions.length > 0) expect(s.errorAfterFinetune).toBeLessThan(s.errorBeforeFinetune);
});

test('a scan below minPixels runs no round and says so', { timeout: 600_000 }, async () => {
  const { stdout, stderr } = await cli(['replay', file, '--finetune', '--pace', 'max', '--summary-json', '--bundle', bundle, '--data', join(work, 'b'), '--log-level', 'warn', ...[...common, 'finetune.minPixels=256'].flatMap((s) => ['--set', s])]);
  const s = JSON.parse(stdout.trim().split('\n').pop()!) as { finetuneRounds: number };
  expect(s.finetuneRounds).toBe(0);
  expect(stderr).toContain('no fine-tuning round: the scan gave 100 encoded pixels, fewer than finetune.minPixels = 256');
});

test('a scan flagged as not fitting starts its round at minPixels (trigger "ood"), long before everyPixels', { timeout: 600_000 }, async () => {
  const data = join(work, 'c');
  const { stdout, stderr } = await cli(['replay', file, '--finetune', '--pace', 'max', '--summary-json', '--bundle', bundle, '--data', data, '--log-level', 'info',
    ...[...common.filter((s) => !s.startsWith('finetune.maxRounds')), 'finetune.maxRounds=1', 'finetune.minPixels=48', 'ood.minPixels=32', 'ood.everyPixels=16'].flatMap((s) => ['--set', s])]);
  const s = JSON.parse(stdout.trim().split('\n').pop()!) as { finetuneRounds: number; ood: { flag: boolean } };
  expect(s.finetuneRounds).toBe(1);
  expect(stderr).toContain('"code":"LS_MODEL_NOT_FITTING"');
  const { readFileSync } = await import('node:fs');
  const rounds = readFileSync(join(data, 'models', bundle.split('/').pop()!, 'rounds.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { trigger: string; recentTrainPixels: number; heldOutPixels: number });
  expect(rounds[0]!.trigger).toBe('ood');
  expect(rounds[0]!.recentTrainPixels + rounds[0]!.heldOutPixels).toBeLessThan(100); // started mid-scan, not at the end
});
